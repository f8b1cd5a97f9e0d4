//! One client connection: read requests (keep-alive, back to back), enforce limits and
//! timeouts, dispatch by path.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use monoio::net::TcpStream;

use crate::downstream::ClientConn;
use switchyard_guard::keys::ClientKey;
use switchyard_http::head::{HeaderRef, Method};
use switchyard_http::write;
use switchyard_wire::{ApiError, RequestView};

use switchyard_wire::Dialect;

use crate::downstream::Buffers;
use crate::downstream::Outcome;
use crate::downstream::StreamFraming;
use crate::downstream::read::BodyRead;
use crate::downstream::read::HeadRead;
use crate::downstream::read::HeadWait;
use crate::downstream::read::read_body;
use crate::downstream::read::read_head;
use crate::downstream::send_error;
use crate::downstream::send_out;
use crate::downstream::write_error;
use crate::pipeline;
use crate::runtime::core::Worker;
use crate::runtime::live::Live;

/// Serves one accepted connection until it closes.
pub async fn serve(stream: TcpStream, peer: std::net::IpAddr, w: Rc<Worker>) {
    let _open = OpenConnection::new(&w, peer);
    let accepted = std::time::Instant::now();
    let Some(mut client) = open(stream, &w, accepted).await else { return };
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    if let ClientConn::Plain(s) = &client
        && crate::io::recv_ready(s, &mut buf) == Some(0)
    {
        return;
    }
    let mut headers: Vec<HeaderRef> = Vec::new();
    let mut b = Buffers::default();
    let mut view = RequestView::default();
    // Waiting for a head uses the limits of the table that served the previous request (the
    // current one for the first); the request itself is served by the table current when its
    // head arrived, so a keep-alive connection that sat idle through a reload does not run
    // its next request on the old table. One table load per request.
    let mut wait = HeadWait::of(&w.shared.live.load().server);
    let mut accepted = Some(accepted);
    loop {
        let head = match read_head(&mut client, &mut buf, &mut headers, wait, accepted.take()).await {
            HeadRead::Head(h) => h,
            HeadRead::Closed => return,
            HeadRead::Fail(e) => {
                send_error(&mut client, &mut b.out, &e, None, Outcome::Close).await;
                return;
            }
        };
        let live = w.live();
        wait = HeadWait::of(&live.server);
        b.first_write.timeout.set(Duration::from_millis(live.server.write_timeout_ms));
        b.framing = StreamFraming::for_version(head.minor_version);
        let _inflight = w.begin();
        let (body, consumed) = match read_body(&mut client, &mut buf, &head, &live, &mut b).await {
            Ok(v) => v,
            Err(Some(e)) => {
                send_error(&mut client, &mut b.out, &e, None, Outcome::Close).await;
                client.linger(&mut buf).await;
                return;
            }
            Err(None) => return,
        };
        let keep = if head.keep_alive && !w.draining() { Outcome::KeepOpen } else { Outcome::Close };
        let path = &buf[head.path.clone()];
        let (path, query) = match path.iter().position(|&c| c == b'?') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (path, &path[path.len()..]),
        };
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
        let request =
            Incoming { buf: &buf, fields: &headers, method: head.method, path, query, body: body_bytes, keep };
        let outcome = dispatch(&w, &live, &mut client, &mut b, &mut view, request).await;
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

/// One request as the connection loop read it.
struct Incoming<'a> {
    /// The connection's read buffer (the head's offsets point into it).
    buf: &'a [u8],
    /// The head's fields.
    fields: &'a [HeaderRef],
    method: Method,
    /// The path, query cut off.
    path: &'a [u8],
    /// The query (after `?`), empty when none.
    query: &'a [u8],
    body: &'a [u8],
    keep: Outcome,
}

/// Routes a request by method and path to its handler.
async fn dispatch(
    w: &Worker,
    live: &Arc<Live>,
    client: &mut ClientConn,
    b: &mut Buffers,
    view: &mut RequestView,
    req: Incoming<'_>,
) -> Outcome {
    let Incoming { buf, fields: headers, method, path, query, body: body_bytes, keep } = req;
    // HEAD is GET without the body (RFC 9110 asks every server for both; load balancers'
    // health checks use it): routed as GET, the body cut before sending.
    let bare = method == Method::Head;
    let method = if bare { Method::Get } else { method };
    let reply = Reply { bare, path, dialect: client_dialect(path, buf, headers) };
    match (method, path) {
        (Method::Post, b"/v1/chat/completions" | b"/v1/messages" | b"/v1/responses") => {
            let dialect = match path {
                b"/v1/chat/completions" => Dialect::OpenAi,
                b"/v1/responses" => Dialect::Responses,
                _ => Dialect::Anthropic,
            };
            let key = client_key(w, live, buf, headers, dialect);
            let headers = pipeline::admit::ReqHeaders { buf, fields: headers };
            let beta_query = dialect == Dialect::Anthropic && query.split(|&c| c == b'&').any(|kv| kv == b"beta=true");
            let req = pipeline::admit::ChatRequest { body: body_bytes, headers, dialect, key, beta_query };
            pipeline::chat(w, live, client, req, keep, b, view).await
        }
        (Method::Post, b"/v1/embeddings" | b"/v1/messages/count_tokens") => {
            let req = OtherRequest { buf, headers, body: body_bytes, keep };
            other_api(w, live, client, &mut b.out, &reply, req).await
        }
        (Method::Get, p) if p == b"/v1/models" || p.starts_with(b"/v1/models/") => {
            let (dialect, found) =
                crate::endpoints::models::lookup(live, p, buf, headers, |d| client_key(w, live, buf, headers, d));
            let reply = Reply { dialect, ..reply };
            match found {
                Ok(json) => reply.body(client, &mut b.out, "application/json", json, keep).await,
                Err(e) => reply.error(client, &mut b.out, &e, keep).await,
            }
        }
        (Method::Get, b"/metrics") => {
            match metrics(w, live, switchyard_http::header_value(buf, headers, "authorization")) {
                Ok(body) => reply.body(client, &mut b.out, "text/plain; version=0.0.4", &body, keep).await,
                Err(e) => reply.error(client, &mut b.out, &e, keep).await,
            }
        }
        (Method::Get, b"/readyz") => {
            if w.draining() {
                let e = ApiError::status(503, "draining: shutting down");
                reply.error(client, &mut b.out, &e, keep).await
            } else {
                reply.body(client, &mut b.out, "application/json", br#"{"status":"ready"}"#, keep).await
            }
        }
        (Method::Post, b"/v1/feedback") => {
            match client_key(w, live, buf, headers, Dialect::OpenAi)
                .and_then(|key| crate::endpoints::feedback::feedback(w, key, body_bytes))
            {
                Ok(()) => reply.body(client, &mut b.out, "application/json", br#"{"status":"recorded"}"#, keep).await,
                Err(e) => reply.error(client, &mut b.out, &e, keep).await,
            }
        }
        (Method::Get, b"/healthz") => {
            reply.body(client, &mut b.out, "application/json", br#"{"status":"ok"}"#, keep).await
        }
        _ if allowed_methods(path).is_some() => {
            let e = ApiError::status(405, "method not allowed for this path");
            reply.error(client, &mut b.out, &e, keep).await
        }
        _ => {
            let p = String::from_utf8_lossy(path);
            let e = ApiError::status(404, format!("no such endpoint: {p}"));
            reply.error(client, &mut b.out, &e, keep).await
        }
    }
}

/// `GET /metrics`, for the admin key (or anyone with `[metrics] public`).
fn metrics(w: &Worker, live: &Live, authorization: Option<&[u8]>) -> Result<Vec<u8>, ApiError> {
    if !live.metrics_public && !live.is_admin(authorization) {
        let why = "/metrics needs the admin key (`Authorization: Bearer <admin key>`), or `[metrics] public = true`";
        return Err(ApiError::status(401, why));
    }
    Ok(crate::endpoints::metrics::render(&w.shared, live))
}

/// A request to one of the JSON endpoints beside chat.
struct OtherRequest<'a> {
    buf: &'a [u8],
    headers: &'a [HeaderRef],
    body: &'a [u8],
    keep: Outcome,
}

/// `POST /v1/embeddings` and `POST /v1/messages/count_tokens`.
async fn other_api(
    w: &Worker,
    live: &Arc<Live>,
    client: &mut ClientConn,
    out: &mut Vec<u8>,
    reply: &Reply<'_>,
    req: OtherRequest<'_>,
) -> Outcome {
    let key = match client_key(w, live, req.buf, req.headers, reply.dialect) {
        Ok(k) => k,
        Err(e) => return reply.error(client, out, &e, req.keep).await,
    };
    let answered = if reply.path == b"/v1/embeddings" {
        crate::endpoints::embeddings::embeddings(w, live, key, req.body).await.map(|body| (200, body, false))
    } else {
        let beta = switchyard_http::header_value(req.buf, req.headers, "anthropic-beta");
        crate::endpoints::count_tokens::count_tokens(w, live, key, req.body, beta)
            .await
            .map(|c| (c.status, c.body, c.estimate))
    };
    match answered {
        Ok((status, body, estimate)) => {
            out.clear();
            let extra: &[(&str, &str)] = if estimate { &[("x-switchyard-token-count", "estimate")] } else { &[] };
            write::simple_response(out, status, "application/json", extra, &body, req.keep == Outcome::Close);
            reply.send(client, out, body.len(), req.keep).await
        }
        Err(e) => reply.error(client, out, &e, req.keep).await,
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
    let key = keys.authenticate(presented).map_err(|e| {
        w.shared.auth_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        e.to_api()
    })?;
    if let Some(fleet) = &w.shared.fleet {
        fleet.admit(key)?;
    }
    Ok(Some(key))
}

/// Counts a client connection as open while it lives.
struct OpenConnection(Rc<Worker>, std::net::IpAddr);

impl OpenConnection {
    fn new(w: &Rc<Worker>, peer: std::net::IpAddr) -> Self {
        crate::observe::meters::Gauges::bump(&w.meters.gauges.open, 1);
        OpenConnection(w.clone(), peer)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        crate::observe::meters::Gauges::bump(&self.0.meters.gauges.open, -1);
        self.0.shared.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.0.closed_from(self.1);
    }
}

/// The client connection over `stream`: plain, or TLS after a handshake that must finish
/// within the head deadline from accept (a handshake is a head, for slowloris purposes).
async fn open(stream: TcpStream, w: &Worker, accepted: std::time::Instant) -> Option<ClientConn> {
    let _ = stream.set_nodelay(true);
    let live = w.shared.live.load();
    let Some(acceptor) = live.client_tls.clone() else { return Some(ClientConn::Plain(stream)) };
    let deadline = accepted + Duration::from_millis(live.server.head_timeout_ms);
    drop(live);
    match crate::io::until(deadline, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(ClientConn::Tls(Box::new(s))),
        // A failed or slow handshake: rustls has sent its alert where there was one.
        _ => {
            w.shared.tls_handshake_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            None
        }
    }
}

/// Answers a connection over a connection cap with a 503 that says which, and closes it (a
/// TLS listener just closes: the handshake is the cost being shed).
pub async fn refuse(stream: TcpStream, why: &'static str, tls: bool) {
    if tls {
        return;
    }
    let mut client = ClientConn::Plain(stream);
    let mut out = Vec::new();
    let mut e = ApiError::status(503, why);
    e.retry_after_s = Some(1);
    let _ = monoio::time::timeout(Duration::from_secs(1), send_error(&mut client, &mut out, &e, None, Outcome::Close))
        .await;
}

/// Read buffers larger than this are released between requests.
const MAX_IDLE_BUFFER: usize = 256 * 1024;

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
        client: &mut ClientConn,
        out: &mut Vec<u8>,
        content_type: &str,
        body: &[u8],
        keep: Outcome,
    ) -> Outcome {
        out.clear();
        write::simple_response(out, 200, content_type, &[], body, keep == Outcome::Close);
        self.send(client, out, body.len(), keep).await
    }

    async fn error(&self, client: &mut ClientConn, out: &mut Vec<u8>, e: &ApiError, keep: Outcome) -> Outcome {
        let allow = allowed_methods(self.path).filter(|_| e.status == 405);
        let body_len = write_error(out, e, self.dialect, None, allow, keep);
        self.send(client, out, body_len, keep).await
    }

    async fn send(&self, client: &mut ClientConn, out: &mut Vec<u8>, body_len: usize, keep: Outcome) -> Outcome {
        if self.bare {
            out.truncate(out.len() - body_len);
        }
        send_out(client, out, keep).await
    }
}

/// The dialect a client speaks, for errors outside the chat endpoints (404s and 405s
/// included): Anthropic for its paths or when it sends `anthropic-version`, else OpenAI.
fn client_dialect(path: &[u8], buf: &[u8], headers: &[HeaderRef]) -> Dialect {
    if path.starts_with(b"/v1/messages") || switchyard_http::header_value(buf, headers, "anthropic-version").is_some() {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    }
}

/// The methods a known path takes (None for unknown paths).
fn allowed_methods(path: &[u8]) -> Option<&'static str> {
    match path {
        b"/v1/chat/completions"
        | b"/v1/messages"
        | b"/v1/responses"
        | b"/v1/feedback"
        | b"/v1/embeddings"
        | b"/v1/messages/count_tokens" => Some("POST"),
        b"/v1/models" | b"/metrics" | b"/readyz" | b"/healthz" => Some("GET, HEAD"),
        p if p.starts_with(b"/v1/models/") => Some("GET, HEAD"),
        _ => None,
    }
}
