//! The client's connection: plain TCP, or TLS when `[server.tls]` is set.

use std::io;

use monoio::io::AsyncWriteRent;
use monoio::net::TcpStream;

use crate::io::{read_append, send_all, write_all};

/// A client connection as the request path reads and writes it.
pub enum ClientConn {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS: rustls over TCP.
    Tls(Box<monoio_rustls::ServerTlsStream<TcpStream>>),
}

impl ClientConn {
    /// Reads once, appending to `buf` (decrypted bytes on TLS).
    pub async fn read_append(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            ClientConn::Plain(s) => read_append(s, buf).await,
            ClientConn::Tls(s) => read_append(s.as_mut(), buf).await,
        }
    }

    /// Writes all of `data`, giving the buffer back; TLS records are flushed so each event of
    /// a stream leaves at once.
    pub async fn send_all(&mut self, data: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            ClientConn::Plain(s) => send_all(s, data).await,
            ClientConn::Tls(s) => {
                let (r, b) = write_all(s.as_mut(), data).await;
                match r {
                    Ok(()) => (s.flush().await, b),
                    e => (e, b),
                }
            }
        }
    }
}
