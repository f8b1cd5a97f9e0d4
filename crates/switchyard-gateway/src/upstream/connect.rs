//! Upstream connections: plain or TLS streams, per-core keep-alive pools, connecting with
//! timeouts to addresses resolved off the worker.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;
use switchyard_routing::Provider;
use switchyard_wire::ApiError;

use crate::io::until;
use crate::runtime::live::{Dns, Live};
use crate::runtime::pool::UpStream;

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
