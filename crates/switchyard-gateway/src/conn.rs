//! One client connection: read requests (keep-alive, back to back), enforce limits and
//! timeouts, dispatch by path.

use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;
use switchyard_guard::keys::ClientKey;
use switchyard_http::head::{BodyFraming, HeaderRef, Limits, Method, RequestHead};
use switchyard_http::{ChunkedDecoder, parse_request, write};
use switchyard_wire::{ApiError, RequestView};

use switchyard_wire::{Dialect, ErrorKind, UpstreamError};

use crate::io::{read_append, send_all, until};
use crate::live::Live;
use crate::proxy;
use crate::worker::Worker;

/// Whether the connection may carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Keep the connection for the next request.
    KeepOpen,
    /// Close it.
    Close,
}

/// Buffers reused by every request of a connection.
#[derive(Default)]
pub struct Buffers {
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
    /// When the first byte of the current response was written to the client.
    pub first_write: std::cell::Cell<Option<Instant>>,
    /// Why a response that had started could not finish (for the decision log).
    pub broken: std::cell::Cell<Option<&'static str>>,
}

impl Buffers {
    /// Bytes of memory the buffers and the connection's request view hold.
    fn held(&self, v: &RequestView) -> usize {
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

enum HeadRead {
    Head(RequestHead),
    Closed,
    Fail(ApiError),
}

enum BodyRead {
    /// The body is `buf[range]`.
    InBuf(std::ops::Range<usize>),
    /// The body was decoded into `Buffers::body`.
    Decoded,
}

/// Serves one accepted connection until it closes.
pub async fn serve(mut client: TcpStream, w: Rc<Worker>) {
    let _ = client.set_nodelay(true);
    let _open = OpenConnection::new(&w);
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut headers: Vec<HeaderRef> = Vec::new();
    let mut b = Buffers::default();
    let mut view = RequestView::default();
    // Waiting for a head uses the limits of the table that served the previous request (the
    // current one for the first); the request itself is served by the table current when its
    // head arrived, so a keep-alive connection that sat idle through a reload does not run
    // its next request on the old table. One table load per request.
    let mut wait = HeadWait::of(&w.shared.live.load().server);
    loop {
        let head = match read_head(&mut client, &mut buf, &mut headers, wait).await {
            HeadRead::Head(h) => h,
            HeadRead::Closed => return,
            HeadRead::Fail(e) => {
                send_error(&mut client, &mut b.out, &e, None, Outcome::Close).await;
                return;
            }
        };
        let live = w.live();
        wait = HeadWait::of(&live.server);
        let _inflight = w.begin();
        let (body, consumed) = match read_body(&mut client, &mut buf, &head, &live, &mut b).await {
            Ok(v) => v,
            Err(Some(e)) => {
                send_error(&mut client, &mut b.out, &e, None, Outcome::Close).await;
                return;
            }
            Err(None) => return,
        };
        let keep = if head.keep_alive && !w.draining() { Outcome::KeepOpen } else { Outcome::Close };
        let path = &buf[head.path.clone()];
        let path = path.split(|&c| c == b'?').next().unwrap_or(path);
        // A decoded body is moved out of `b` so `b` can be lent mutably to the handler; when
        // there is none, `b.body` keeps the memory the last answer grew.
        let decoded = match body {
            BodyRead::Decoded => std::mem::take(&mut b.body),
            BodyRead::InBuf(_) => Vec::new(),
        };
        let body_bytes: &[u8] = match &body {
            BodyRead::InBuf(r) => &buf[r.clone()],
            BodyRead::Decoded => &decoded,
        };
        // HEAD is GET without the body (RFC 9110 asks every server for both; load balancers'
        // health checks use it): routed as GET, the body cut before sending.
        let bare = head.method == Method::Head;
        let method = if bare { Method::Get } else { head.method };
        let reply = Reply { bare, path, dialect: Dialect::OpenAi };
        let outcome = match (method, path) {
            (Method::Post, b"/v1/chat/completions" | b"/v1/messages") => {
                let dialect = if path == b"/v1/chat/completions" { Dialect::OpenAi } else { Dialect::Anthropic };
                let key = client_key(&w, &live, &buf, &headers, dialect);
                let hdrs = proxy::ReqHeaders { buf: &buf, fields: &headers };
                proxy::chat(&w, &live, &mut client, body_bytes, hdrs, dialect, key, keep, &mut b, &mut view).await
            }
            (Method::Get, p) if p == b"/v1/models" || p.starts_with(b"/v1/models/") => {
                // Anthropic's SDK sends `anthropic-version`: it gets its own list shape and errors.
                let anthropic = switchyard_http::header_value(&buf, &headers, "anthropic-version").is_some();
                let dialect = if anthropic { Dialect::Anthropic } else { Dialect::OpenAi };
                let reply = Reply { dialect, ..reply };
                let models = &live.table.models;
                let found =
                    client_key(&w, &live, &buf, &headers, dialect).and_then(|_| match p.get(b"/v1/models/".len()..) {
                        None => Ok(models.list(anthropic)),
                        Some(id) => {
                            // A malformed escape names no model; the 404 quotes what was sent.
                            let id = switchyard_http::percent_decode(id)
                                .unwrap_or_else(|| String::from_utf8_lossy(id).into_owned());
                            models.entry(&id, anthropic).ok_or_else(|| ApiError::model_not_found(&id))
                        }
                    });
                match found {
                    Ok(json) => reply.body(&mut client, &mut b.out, "application/json", json, keep).await,
                    Err(e) => reply.error(&mut client, &mut b.out, &e, keep).await,
                }
            }
            (Method::Get, b"/metrics") => {
                let body = crate::metrics::render(&w.shared, &live);
                reply.body(&mut client, &mut b.out, "text/plain; version=0.0.4", &body, keep).await
            }
            (Method::Get, b"/readyz") => {
                if w.draining() {
                    let e = ApiError::status(503, "draining: shutting down");
                    reply.error(&mut client, &mut b.out, &e, keep).await
                } else {
                    reply.body(&mut client, &mut b.out, "application/json", br#"{"status":"ready"}"#, keep).await
                }
            }
            (Method::Post, b"/v1/feedback") => {
                match client_key(&w, &live, &buf, &headers, Dialect::OpenAi).and_then(|_| feedback(&w, body_bytes)) {
                    Ok(()) => {
                        reply.body(&mut client, &mut b.out, "application/json", br#"{"status":"recorded"}"#, keep).await
                    }
                    Err(e) => reply.error(&mut client, &mut b.out, &e, keep).await,
                }
            }
            (Method::Get, b"/healthz") => {
                reply.body(&mut client, &mut b.out, "application/json", br#"{"status":"ok"}"#, keep).await
            }
            _ if allowed_methods(path).is_some() => {
                let e = ApiError::status(405, "method not allowed for this path");
                reply.error(&mut client, &mut b.out, &e, keep).await
            }
            _ => {
                let p = String::from_utf8_lossy(path);
                let e = ApiError::status(404, format!("no such endpoint: {p}"));
                reply.error(&mut client, &mut b.out, &e, keep).await
            }
        };
        // Keep the larger body buffer: the decoded request's, or the one a relay grew for the
        // answer (dropping that one cost an allocation per request).
        if decoded.capacity() > b.body.capacity() {
            b.body = decoded;
        }
        if outcome == Outcome::Close {
            return;
        }
        buf.drain(..consumed);
        // Give back what a large request or answer needed; idle connections stay small.
        if buf.is_empty() && buf.capacity() > MAX_IDLE_BUFFER {
            buf = Vec::with_capacity(8 * 1024);
        }
        if b.held(&view) > MAX_IDLE_BUFFER {
            b = Buffers::default();
            view = RequestView::default();
        }
    }
}

/// The client key a request presented, checked against the live key set (Ok(None) when no
/// keys are configured). Anthropic clients send `x-api-key`, OpenAI clients `authorization`;
/// either is accepted on every endpoint.
fn client_key<'l>(
    w: &Worker,
    live: &'l Live,
    buf: &[u8],
    headers: &[HeaderRef],
    dialect: Dialect,
) -> Result<Option<&'l ClientKey>, ApiError> {
    let Some(keys) = &live.keys else { return Ok(None) };
    let get = |n| switchyard_http::header_value(buf, headers, n);
    let presented = match dialect {
        Dialect::Anthropic => get("x-api-key").or_else(|| get("authorization")),
        _ => get("authorization").or_else(|| get("x-api-key")),
    };
    keys.authenticate(presented).map(Some).map_err(|e| {
        w.shared.auth_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        e.to_api()
    })
}

/// Counts a client connection as open while it lives.
struct OpenConnection(Rc<Worker>);

impl OpenConnection {
    fn new(w: &Rc<Worker>) -> Self {
        crate::stats::Gauges::bump(&w.shared.stats.gauges[w.index].open, 1);
        OpenConnection(w.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        crate::stats::Gauges::bump(&self.0.shared.stats.gauges[self.0.index].open, -1);
        self.0.shared.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Answers a connection over `server.max_connections` with a 503 and closes it.
pub async fn refuse(mut client: TcpStream) {
    let mut out = Vec::new();
    let mut e = ApiError::status(503, "too many open connections to this gateway; retry shortly");
    e.retry_after_s = Some(1);
    let _ = monoio::time::timeout(Duration::from_secs(1), send_error(&mut client, &mut out, &e, None, Outcome::Close))
        .await;
}

/// Read buffers larger than this are released between requests.
const MAX_IDLE_BUFFER: usize = 256 * 1024;

/// `POST /v1/feedback`: `{"request_id": "...", "rating": "up" | "down" | number, "comment"?}`
/// becomes a feedback record in the decision log, joined to its request by id.
fn feedback(w: &Worker, body: &[u8]) -> Result<(), ApiError> {
    let Some(log) = &w.shared.decisions else {
        return Err(ApiError::status(501, "feedback needs the decision log: configure [log]"));
    };
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}"), None))?;
    let id = v["request_id"].as_str().filter(|s| !s.is_empty() && s.len() <= 64);
    let Some(id) = id else { return Err(ApiError::bad_request("`request_id` is required", Some("request_id"))) };
    let rating = match &v["rating"] {
        serde_json::Value::String(s) if s == "up" || s == "down" => v["rating"].clone(),
        serde_json::Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => v["rating"].clone(),
        _ => return Err(ApiError::bad_request("`rating` must be \"up\", \"down\" or a number", Some("rating"))),
    };
    let comment: String = v["comment"].as_str().unwrap_or("").chars().take(2000).collect();
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    log.send(
        serde_json::json!({"type": "feedback", "ts_ms": ts, "request_id": id, "rating": rating, "comment": comment})
            .to_string(),
    );
    Ok(())
}

/// The limits that apply while a connection waits for (and reads) a request head: a copy, so
/// a connection idle through reloads does not keep an old table alive.
#[derive(Clone, Copy)]
struct HeadWait {
    max_head_bytes: usize,
    head_timeout_ms: u64,
    idle_timeout_ms: u64,
}

impl HeadWait {
    fn of(s: &switchyard_config::ServerConfig) -> HeadWait {
        HeadWait {
            max_head_bytes: s.max_head_bytes,
            head_timeout_ms: s.head_timeout_ms,
            idle_timeout_ms: s.idle_timeout_ms,
        }
    }
}

async fn read_head(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    headers: &mut Vec<HeaderRef>,
    wait: HeadWait,
) -> HeadRead {
    let limits = Limits { max_head_bytes: wait.max_head_bytes };
    let mut deadline: Option<Instant> = None;
    loop {
        if !buf.is_empty() {
            match parse_request(buf, limits, headers) {
                Ok(Some(h)) => return HeadRead::Head(h),
                Ok(None) => {}
                Err(e) => return HeadRead::Fail(ApiError::status(e.status(), e.to_string())),
            }
            deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(wait.head_timeout_ms));
        }
        let read = match deadline {
            None => monoio::time::timeout(Duration::from_millis(wait.idle_timeout_ms), read_append(client, buf)),
            Some(d) => until(d, read_append(client, buf)),
        };
        match read.await {
            Ok(Ok(0)) | Ok(Err(_)) if buf.is_empty() => return HeadRead::Closed,
            Ok(Ok(0)) => return HeadRead::Fail(ApiError::status(400, "incomplete request head")),
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return HeadRead::Closed,
            Err(_) if deadline.is_some() => {
                return HeadRead::Fail(ApiError::status(408, "timed out reading the request head"));
            }
            Err(_) => return HeadRead::Closed,
        }
    }
}

/// Reads the body; `Err(Some)` answers and closes, `Err(None)` just closes.
async fn read_body(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    head: &RequestHead,
    live: &Live,
    b: &mut Buffers,
) -> Result<(BodyRead, usize), Option<ApiError>> {
    let max = live.server.max_body_bytes;
    let too_large = || ApiError::status(413, format!("request body larger than {max} bytes"));
    // Taken only when a read is needed: a small body usually arrives with its head.
    let deadline = || Instant::now() + Duration::from_millis(live.server.body_timeout_ms);
    let start = head.head_len;
    match head.framing {
        BodyFraming::None => Ok((BodyRead::InBuf(start..start), start)),
        BodyFraming::Length(n) => {
            if n > max as u64 {
                return Err(Some(too_large()));
            }
            let end = start + n as usize;
            // Room for the whole body up front: one read per arrival, not one per 16 KB.
            buf.reserve(end.saturating_sub(buf.len()));
            if head.expect_continue && buf.len() < end {
                send_raw(client, &mut b.out, write::CONTINUE).await.map_err(|_| None)?;
            }
            if buf.len() < end {
                let deadline = deadline();
                while buf.len() < end {
                    read_more(client, buf, deadline).await?;
                }
            }
            Ok((BodyRead::InBuf(start..end), end))
        }
        BodyFraming::Chunked => {
            if head.expect_continue && buf.len() == start {
                send_raw(client, &mut b.out, write::CONTINUE).await.map_err(|_| None)?;
            }
            let deadline = deadline();
            let mut dec = ChunkedDecoder::new();
            b.body.clear();
            let mut pos = start;
            loop {
                let body = &mut b.body;
                let n = dec
                    .feed(&buf[pos..], |d| push_bounded(body, d, max))
                    .map_err(|e| Some(ApiError::status(400, e.to_string())))?;
                pos += n;
                if dec.decoded_len() > max as u64 {
                    return Err(Some(too_large()));
                }
                if dec.is_done() {
                    return Ok((BodyRead::Decoded, pos));
                }
                // Not done means every byte after the head was consumed: its payload is in
                // `b.body`, so the framing is dropped. A connection then holds at most
                // `max_body_bytes` decoded plus one read, however the body is chunked (raw
                // framing used to pile up: 1-byte chunks held 6x the body, and an endless
                // extension 2.3 GB in 5 s).
                buf.truncate(start);
                pos = start;
                read_more(client, buf, deadline).await?;
            }
        }
    }
}

/// Appends a decoded piece unless the body would pass `max` (the caller answers 413 from the
/// decoder's count), growing by doubling but never past `max`: plain doubling took a 4 MiB
/// body's buffer to 8 MiB for its last byte.
fn push_bounded(body: &mut Vec<u8>, piece: &[u8], max: usize) {
    let need = body.len() + piece.len();
    if need > max {
        return;
    }
    if need > body.capacity() {
        body.reserve_exact(need.max(body.capacity() * 2).min(max) - body.len());
    }
    body.extend_from_slice(piece);
}

async fn read_more(client: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant) -> Result<(), Option<ApiError>> {
    match until(deadline, read_append(client, buf)).await {
        Ok(Ok(0)) => Err(Some(ApiError::status(400, "incomplete request body"))),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err(None),
        Err(_) => Err(Some(ApiError::status(408, "timed out reading the request body"))),
    }
}

async fn send_raw(client: &mut TcpStream, out: &mut Vec<u8>, bytes: &[u8]) -> std::io::Result<()> {
    out.clear();
    out.extend_from_slice(bytes);
    let (r, back) = send_all(client, std::mem::take(out)).await;
    *out = back;
    r
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
        ] {
            if let Some(v) = v {
                write::header(out, name, v.as_bytes());
            }
        }
    }
}

/// Writes an OpenAI-shaped error response.
pub async fn send_error(
    client: &mut TcpStream,
    out: &mut Vec<u8>,
    e: &ApiError,
    tags: Option<&Tags<'_>>,
    keep: Outcome,
) -> Outcome {
    write_error(out, e, tags.map_or(Dialect::OpenAi, |t| t.dialect), tags, None, keep);
    send_out(client, out, keep).await
}

/// Sends `out` whole, keeping its buffer; `keep` unless the write failed.
async fn send_out(client: &mut TcpStream, out: &mut Vec<u8>, keep: Outcome) -> Outcome {
    let (r, back) = send_all(client, std::mem::take(out)).await;
    *out = back;
    if r.is_err() { Outcome::Close } else { keep }
}

/// How a request outside the chat path is answered: whether it was a HEAD (the body is left
/// out, its length kept), and its path (a 405 names the methods the path takes).
struct Reply<'p> {
    bare: bool,
    path: &'p [u8],
    /// The shape of error bodies.
    dialect: Dialect,
}

impl Reply<'_> {
    async fn body(
        &self,
        client: &mut TcpStream,
        out: &mut Vec<u8>,
        content_type: &str,
        body: &[u8],
        keep: Outcome,
    ) -> Outcome {
        out.clear();
        write::simple_response(out, 200, content_type, &[], body, keep == Outcome::Close);
        self.send(client, out, body.len(), keep).await
    }

    async fn error(&self, client: &mut TcpStream, out: &mut Vec<u8>, e: &ApiError, keep: Outcome) -> Outcome {
        let allow = allowed_methods(self.path).filter(|_| e.status == 405);
        let body_len = write_error(out, e, self.dialect, None, allow, keep);
        self.send(client, out, body_len, keep).await
    }

    async fn send(&self, client: &mut TcpStream, out: &mut Vec<u8>, body_len: usize, keep: Outcome) -> Outcome {
        if self.bare {
            out.truncate(out.len() - body_len);
        }
        send_out(client, out, keep).await
    }
}

/// The methods a known path takes (None for unknown paths).
fn allowed_methods(path: &[u8]) -> Option<&'static str> {
    match path {
        b"/v1/chat/completions" | b"/v1/messages" | b"/v1/feedback" => Some("POST"),
        b"/v1/models" | b"/metrics" | b"/readyz" | b"/healthz" => Some("GET, HEAD"),
        p if p.starts_with(b"/v1/models/") => Some("GET, HEAD"),
        _ => None,
    }
}

/// Writes an error response into `out` (cleared first); returns the body's length.
fn write_error(
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
