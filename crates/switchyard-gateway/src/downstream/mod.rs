//! The client side of a connection: buffers reused by its requests, whether it stays open,
//! the tags every proxied reply carries, and error replies in the client's dialect. Reading
//! heads and bodies under the server's limits is in `read`.

pub mod client;
pub mod read;

pub use client::ClientConn;

use switchyard_http::head::HeaderRef;
use switchyard_http::write;
use switchyard_wire::{ApiError, Dialect, ErrorKind, RequestView, UpstreamError};

use std::time::Instant;

/// Whether the connection may carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Keep the connection for the next request.
    KeepOpen,
    /// Close it.
    Close,
}

/// How a streamed body is framed for this request's client: chunked, or, for an HTTP/1.0
/// client (which has no chunked coding), delimited by closing the connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamFraming {
    /// `transfer-encoding: chunked` (HTTP/1.1).
    #[default]
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0).
    UntilClose,
}

impl StreamFraming {
    /// The framing for a request of HTTP/1.`minor`.
    pub fn for_version(minor: u8) -> StreamFraming {
        if minor == 0 { StreamFraming::UntilClose } else { StreamFraming::Chunked }
    }

    /// The head field that announces the framing (none for close-delimited bodies: the
    /// `connection: close` that `keep` asks for says it).
    pub fn header(self, out: &mut Vec<u8>) {
        if self == StreamFraming::Chunked {
            write::header(out, b"transfer-encoding", b"chunked");
        }
    }

    /// Appends one piece of the body.
    pub fn piece(self, out: &mut Vec<u8>, data: &[u8]) {
        match self {
            StreamFraming::Chunked => write::chunk(out, data),
            StreamFraming::UntilClose => out.extend_from_slice(data),
        }
    }

    /// Appends the end of the body.
    pub fn end(self, out: &mut Vec<u8>) {
        if self == StreamFraming::Chunked {
            out.extend_from_slice(write::LAST_CHUNK);
        }
    }

    /// What becomes of the connection after the body: a close-delimited one must close.
    pub fn keep(self, keep: Outcome) -> Outcome {
        if self == StreamFraming::UntilClose { Outcome::Close } else { keep }
    }
}

/// Buffers reused by every request of a connection.
#[derive(Default)]
pub struct Buffers {
    /// How this request's streamed answers are framed.
    pub framing: StreamFraming,
    /// Bytes to write to the client.
    pub out: Vec<u8>,
    /// A decoded chunked request body.
    pub body: Vec<u8>,
    /// Scratch copy that simd-json may mutate.
    pub scratch: Vec<u8>,
    /// The upstream request.
    pub up_req: Vec<u8>,
    /// Bytes read from the upstream.
    pub up_resp: Vec<u8>,
    /// Header offsets of the upstream response.
    pub up_headers: Vec<HeaderRef>,
    /// When the first byte of the current response was written to the client, and how long a
    /// write may wait for the client to take it.
    pub first_write: WriteClock,
    /// Why a response that had started could not finish (for the decision log).
    pub broken: std::cell::Cell<Option<&'static str>>,
}

/// The clock of a response's writes: when the first was issued, and the write deadline
/// (`server.write_timeout_ms`) after which a client that reads nothing is dropped.
#[derive(Debug)]
pub struct WriteClock {
    first: std::cell::Cell<Option<Instant>>,
    /// The longest one write may wait for the client to make room.
    pub timeout: std::cell::Cell<std::time::Duration>,
}

impl Default for WriteClock {
    fn default() -> Self {
        WriteClock { first: Default::default(), timeout: std::cell::Cell::new(std::time::Duration::from_secs(30)) }
    }
}

impl WriteClock {
    /// When the current response's first write was issued.
    pub fn get(&self) -> Option<Instant> {
        self.first.get()
    }

    /// Sets (or, with `None`, clears) the first write's time.
    pub fn set(&self, at: Option<Instant>) {
        self.first.set(at);
    }
}

impl Buffers {
    /// Bytes of memory the buffers and the connection's request view hold.
    pub fn held(&self, v: &RequestView) -> usize {
        self.out.capacity()
            + self.body.capacity()
            + self.scratch.capacity()
            + self.up_req.capacity()
            + self.up_resp.capacity()
            + v.model.capacity()
            + v.last_user.capacity()
            + v.system.capacity()
    }
}

/// Response tags added to every proxied reply.
pub struct Tags<'a> {
    /// `x-switchyard-request-id`.
    pub request_id: &'a str,
    /// `x-switchyard-model`.
    pub model: Option<&'a str>,
    /// `x-switchyard-provider`.
    pub provider: Option<&'a str>,
    /// `x-switchyard-route`.
    pub route: Option<&'a str>,
    /// The client's dialect, for the shape of error bodies.
    pub dialect: Dialect,
    /// `x-switchyard-cache` (`hit` or `miss`) when the route caches.
    pub cache: Option<&'static str>,
    /// `x-switchyard-upstream-model`, when answers report the requested model instead.
    pub upstream_model: Option<&'a str>,
}

impl Tags<'_> {
    /// Appends the `x-switchyard-*` header lines.
    pub fn write(&self, out: &mut Vec<u8>) {
        write::header(out, b"x-switchyard-request-id", self.request_id.as_bytes());
        for (name, v) in [
            (&b"x-switchyard-model"[..], self.model),
            (b"x-switchyard-provider", self.provider),
            (b"x-switchyard-route", self.route),
            (b"x-switchyard-cache", self.cache),
            (b"x-switchyard-upstream-model", self.upstream_model),
        ] {
            if let Some(v) = v {
                write::header(out, name, v.as_bytes());
            }
        }
    }
}

/// Writes an OpenAI-shaped error response.
pub async fn send_error(
    client: &mut ClientConn,
    out: &mut Vec<u8>,
    e: &ApiError,
    tags: Option<&Tags<'_>>,
    keep: Outcome,
) -> Outcome {
    write_error(out, e, tags.map_or(Dialect::OpenAi, |t| t.dialect), tags, None, keep);
    send_out(client, out, keep).await
}

/// Sends `out` whole, keeping its buffer; `keep` unless the write failed.
pub async fn send_out(client: &mut ClientConn, out: &mut Vec<u8>, keep: Outcome) -> Outcome {
    let (r, back) = client.send_all(std::mem::take(out)).await;
    *out = back;
    if r.is_err() { Outcome::Close } else { keep }
}

/// Writes an error response into `out` (cleared first); returns the body's length.
pub fn write_error(
    out: &mut Vec<u8>,
    e: &ApiError,
    dialect: Dialect,
    tags: Option<&Tags<'_>>,
    allow: Option<&str>,
    keep: Outcome,
) -> usize {
    let body = match dialect {
        Dialect::Anthropic => serde_json::to_vec(
            &UpstreamError { kind: ErrorKind::from_status(e.status), message: e.message.clone() }
                .render(Dialect::Anthropic),
        )
        .unwrap_or_default(),
        _ => e.to_openai_json(),
    };
    out.clear();
    write::status_line(out, e.status);
    write::header(out, b"content-type", b"application/json");
    if let Some(t) = tags {
        t.write(out);
    }
    if let Some(a) = allow {
        write::header(out, b"allow", a.as_bytes());
    }
    if let Some(s) = e.retry_after_s {
        write::header(out, b"retry-after", s.to_string().as_bytes());
    }
    write::content_length(out, body.len() as u64);
    if keep == Outcome::Close {
        write::header(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    body.len()
}
pub async fn send_raw(client: &mut ClientConn, out: &mut Vec<u8>, bytes: &[u8]) -> std::io::Result<()> {
    out.clear();
    out.extend_from_slice(bytes);
    let (r, back) = client.send_all(std::mem::take(out)).await;
    *out = back;
    r
}
