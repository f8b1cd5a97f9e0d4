//! Owned-buffer read/write helpers over monoio's rent traits.

use std::future::Future;
use std::io;
use std::time::Instant;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

/// Reads once, appending to `buf` (monoio's `read` would overwrite from offset 0).
pub async fn read_append<S: AsyncReadRent>(s: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    let len = buf.len();
    let (r, b) = s.read(std::mem::take(buf).slice_mut(len..)).await;
    *buf = b.into_inner();
    r
}

/// Writes all of `data`, giving the buffer back for reuse.
pub async fn write_all<S: AsyncWriteRent>(s: &mut S, data: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    let (r, b) = s.write_all(data).await;
    (r.map(|_| ()), b)
}

/// `f` bounded by `deadline`. `timeout(deadline - now)` would read the clock twice (once here,
/// once inside monoio); a request passes through four or five of these.
pub fn until<F: Future>(deadline: Instant, f: F) -> monoio::time::Timeout<F> {
    monoio::time::timeout_at(monoio::time::Instant::from_std(deadline), f)
}
