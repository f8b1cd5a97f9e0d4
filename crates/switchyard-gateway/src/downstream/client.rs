//! The client's connection: plain TCP, or TLS when `[server.tls]` is set.

use monoio::net::TcpStream;

use crate::io::{MaybeTls, until};

/// How long a refused upload is read and dropped after its error reply (nginx's
/// `lingering_time` is 30 s; a client uploading at loopback or LAN speed needs far less).
pub const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// A client connection as the request path reads and writes it: plain HTTP, or HTTPS.
pub type ClientConn = MaybeTls<monoio_rustls::ServerTlsStream<TcpStream>>;

impl ClientConn {
    /// After an error reply sent before the request was read whole (413, 408, 400): stops
    /// writing (a FIN, so the client sees the end of the reply) and reads and drops what the
    /// client still sends, for at most `LINGER`, before the caller closes. Closing at once with
    /// unread bytes would send a reset, and a client still uploading would lose the reply
    /// (the Python SDKs then report "Server disconnected" and upload again). Memory stays one
    /// buffer: each read overwrites the last.
    pub async fn linger(&mut self, buf: &mut Vec<u8>) {
        if let ClientConn::Plain(s) = self {
            use std::os::fd::AsRawFd;
            // SAFETY: the fd is this stream's open socket; SHUT_WR only ends the sending side.
            unsafe { libc::shutdown(s.as_raw_fd(), libc::SHUT_WR) };
        }
        let deadline = std::time::Instant::now() + LINGER;
        loop {
            buf.clear();
            match until(deadline, self.read_append(buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        }
    }
}
