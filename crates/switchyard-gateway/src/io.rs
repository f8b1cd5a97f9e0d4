//! Owned-buffer read/write helpers over monoio's rent traits.

use std::future::Future;
use std::io;
use std::time::Instant;

use std::os::fd::AsRawFd;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

/// Reads once, appending to `buf` (monoio's `read` would overwrite from offset 0).
pub async fn read_append<S: AsyncReadRent>(s: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    make_room(buf);
    let len = buf.len();
    let (r, b) = s.read(std::mem::take(buf).slice_mut(len..)).await;
    *buf = b.into_inner();
    r
}

/// At least 4 KiB of spare room for the next read, growing by 16 KiB when there is less.
fn make_room(buf: &mut Vec<u8>) {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
}

/// Reads what `s` already holds without waiting: a non-blocking `recv` into `buf`'s spare room.
/// `Some(n)`: `n` bytes appended (0: the peer closed); `None`: nothing yet, or an error the
/// runtime's next read reports. A new connection's request has usually arrived by the time it
/// is accepted under load; reading it here starts the request in the accept's turn of the
/// event loop instead of one turn later (docs/benchmarks.md, stream starts under a burst).
pub fn recv_ready(s: &TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    make_room(buf);
    let room = buf.spare_capacity_mut();
    // SAFETY: the fd is the stream's open socket; `room` is writable for `room.len()` bytes.
    let n = unsafe { libc::recv(s.as_raw_fd(), room.as_mut_ptr().cast(), room.len(), libc::MSG_DONTWAIT) };
    let n = usize::try_from(n).ok()?;
    // SAFETY: the kernel wrote `n` bytes into the spare room.
    unsafe { buf.set_len(buf.len() + n) };
    Some(n)
}

/// Writes all of `data`, giving the buffer back for reuse.
pub async fn write_all<S: AsyncWriteRent>(s: &mut S, data: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    let (r, b) = s.write_all(data).await;
    (r.map(|_| ()), b)
}

/// Writes all of `data` to a TCP socket, sending at once when the socket takes it all.
///
/// With io_uring a write is only submitted when the worker next waits, after every other
/// ready task has run, so under load a stream's event waited for the rest of the batch; nginx
/// (like monoio's epoll driver) sends from the handler. A non-blocking `send` first does the
/// same; whatever it leaves (a full socket buffer, an error) goes through the runtime, which
/// waits for room or reports the error as before. Writes to one socket never overlap (each
/// is awaited), so the bytes cannot reorder.
pub async fn send_all(s: &mut TcpStream, data: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    // SAFETY: the fd is the stream's open socket and `data` is valid for `data.len()` bytes.
    let n =
        unsafe { libc::send(s.as_raw_fd(), data.as_ptr().cast(), data.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    match usize::try_from(n) {
        Ok(n) if n == data.len() => (Ok(()), data),
        Ok(n) if n > 0 => {
            let (r, rest) = s.write_all(data.slice(n..)).await;
            (r.map(|_| ()), rest.into_inner())
        }
        _ => write_all(s, data).await,
    }
}

/// `f` bounded by `deadline`. `timeout(deadline - now)` would read the clock twice (once here,
/// once inside monoio); a request passes through four or five of these.
pub fn until<F: Future>(deadline: Instant, f: F) -> monoio::time::Timeout<F> {
    monoio::time::timeout_at(monoio::time::Instant::from_std(deadline), f)
}

/// A TCP connection, plain or TLS (`T` is the rustls stream of the side: client or server).
/// Both the client's connection and the provider's are one of these.
pub enum MaybeTls<T> {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<T>),
}

impl<T: monoio::io::AsyncReadRent + AsyncWriteRent> MaybeTls<T> {
    /// Reads once, appending to `buf` (decrypted bytes on TLS).
    pub async fn read_append(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => read_append(s, buf).await,
            MaybeTls::Tls(s) => read_append(s.as_mut(), buf).await,
        }
    }

    /// Writes all of `data`, giving the buffer back; TLS records are flushed so each piece
    /// (a stream's event) leaves at once.
    pub async fn send_all(&mut self, data: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            MaybeTls::Plain(s) => send_all(s, data).await,
            MaybeTls::Tls(s) => {
                let (r, b) = write_all(s.as_mut(), data).await;
                match r {
                    Ok(()) => (s.flush().await, b),
                    e => (e, b),
                }
            }
        }
    }
}
