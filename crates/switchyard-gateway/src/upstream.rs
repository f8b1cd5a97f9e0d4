//! Upstream connections: plain or TLS streams, per-core keep-alive pools, connecting with
//! timeouts to addresses resolved off the worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::io::AsyncWriteRent;
use monoio::net::TcpStream;
use switchyard_routing::Provider;
use switchyard_wire::ApiError;

use crate::io::{read_append, send_all, until, write_all};
use crate::live::{Dns, Live};

/// A connection to a provider.
pub enum UpStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<monoio_rustls::ClientTlsStream<TcpStream>>),
}

impl UpStream {
    /// Reads once, appending to `buf`.
    pub async fn read_append(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            UpStream::Plain(s) => read_append(s, buf).await,
            UpStream::Tls(s) => read_append(s.as_mut(), buf).await,
        }
    }

    /// Writes all of `data` (and flushes TLS records).
    pub async fn write_all(&mut self, data: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            UpStream::Plain(s) => send_all(s, data).await,
            UpStream::Tls(s) => {
                let (r, b) = write_all(s.as_mut(), data).await;
                match r {
                    Ok(()) => (s.flush().await, b),
                    e => (e, b),
                }
            }
        }
    }
}

/// Why an upstream exchange failed before the response head arrived.
#[derive(Debug)]
pub enum UpError {
    /// No address known for the host.
    Resolve,
    /// TCP connect failed on every address.
    Connect(io::Error),
    /// Connect or TLS handshake took too long.
    ConnectTimeout,
    /// TLS handshake failed.
    Tls(String),
    /// Writing the request failed.
    Send(io::Error),
    /// Reading the response failed.
    Recv(io::Error),
    /// The request deadline passed.
    Timeout,
    /// The upstream closed the connection without answering.
    Closed,
    /// The upstream's response head is not valid HTTP.
    BadResponse(String),
}

impl UpError {
    /// The failure class that sets the target's cooldown.
    pub fn failure(&self) -> switchyard_routing::health::Failure {
        use switchyard_routing::health::Failure;
        match self {
            UpError::Timeout | UpError::ConnectTimeout => Failure::Timeout,
            UpError::Resolve | UpError::Connect(_) | UpError::Tls(_) => Failure::Connect,
            _ => Failure::ServerError,
        }
    }

    /// The client-facing error (502 or 504), naming the provider but no secret.
    pub fn to_api(&self, provider: &str) -> ApiError {
        let (status, what) = match self {
            UpError::Resolve => (502, "host name could not be resolved".to_string()),
            UpError::Connect(e) => (502, format!("connection failed ({})", e.kind())),
            UpError::ConnectTimeout => (504, "connect timed out".to_string()),
            UpError::Tls(e) => (502, format!("TLS handshake failed ({e})")),
            UpError::Send(e) => (502, format!("sending the request failed ({})", e.kind())),
            UpError::Recv(e) => (502, format!("reading the response failed ({})", e.kind())),
            UpError::Timeout => (504, "no response before the deadline".to_string()),
            UpError::Closed => (502, "connection closed before a response".to_string()),
            UpError::BadResponse(e) => (502, format!("invalid response ({e})")),
        };
        ApiError::status(status, format!("upstream provider `{provider}`: {what}"))
    }
}

/// Idle keep-alive connections of one worker, by pool key (`scheme://host:port`).
#[derive(Default)]
pub struct Pool {
    idle: RefCell<HashMap<String, Vec<(UpStream, Instant)>>>,
}

impl Pool {
    /// The most recently used idle connection younger than `max_idle` at `now` (a time the
    /// caller has already read: no clock read here).
    pub fn take(&self, key: &str, max_idle: Duration, now: Instant) -> Option<UpStream> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        while let Some((s, since)) = list.pop() {
            if now.saturating_duration_since(since) < max_idle {
                return Some(s);
            }
        }
        None
    }

    /// Returns a connection for reuse (dropped when the pool is full), idle since `since` (a
    /// time the caller has read at or after the answer ended).
    pub fn put(&self, key: &str, s: UpStream, max: usize, since: Instant) {
        let mut idle = self.idle.borrow_mut();
        let list = match idle.get_mut(key) {
            Some(l) => l,
            None => idle.entry(key.to_string()).or_default(),
        };
        if list.len() < max {
            list.push((s, since));
        }
    }
}

/// Opens a new connection to `p`, trying each resolved address in turn.
pub async fn connect(dns: &Dns, live: &Live, p: &Provider) -> Result<UpStream, UpError> {
    let ips = dns.lookup(&p.endpoint.host).ok_or(UpError::Resolve)?;
    let timeout = Duration::from_millis(p.connect_timeout_ms);
    let deadline = Instant::now() + timeout;
    let mut last = UpError::Resolve;
    let mut tcp = None;
    for ip in ips.iter() {
        match until(deadline, TcpStream::connect_addr(SocketAddr::new(*ip, p.endpoint.port))).await {
            Ok(Ok(s)) => {
                tcp = Some(s);
                break;
            }
            Ok(Err(e)) => last = UpError::Connect(e),
            Err(_) => {
                last = UpError::ConnectTimeout;
                break;
            }
        }
    }
    let tcp = tcp.ok_or(last)?;
    let _ = tcp.set_nodelay(true);
    if !p.endpoint.tls {
        return Ok(UpStream::Plain(tcp));
    }
    let name =
        rustls_pki_types::ServerName::try_from(p.endpoint.host.clone()).map_err(|e| UpError::Tls(e.to_string()))?;
    match until(deadline, live.tls.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(UpStream::Tls(Box::new(s))),
        Ok(Err(e)) => Err(UpError::Tls(e.to_string())),
        Err(_) => Err(UpError::ConnectTimeout),
    }
}
