//! Forwarding a chat completion to its provider and relaying the answer as it arrives.

use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;
use switchyard_core::config::{RetryConfig, RetryOn};
use switchyard_core::health::Failure;
use switchyard_core::view::rewrite_model;
use switchyard_core::{ApiError, Provider, RequestView};
use switchyard_http::head::{HeaderRef, Limits, ResponseFraming, ResponseHead};
use switchyard_http::{ChunkedDecoder, parse_response, write};

use crate::conn::{Buffers, Outcome, Tags, send_error};
use crate::io::write_all;
use crate::live::Live;
use crate::upstream::{UpError, UpStream, connect};
use crate::worker::Worker;

/// Largest upstream response head accepted.
const MAX_UPSTREAM_HEAD: usize = 64 * 1024;

/// Route name reported when the client named a model.
const DIRECT_ROUTE: &str = "direct";

/// The request's own header fields, for rules and tier headers.
pub struct ReqHeaders<'a> {
    /// The buffer the head was parsed from.
    pub buf: &'a [u8],
    /// Offsets of its fields.
    pub fields: &'a [HeaderRef],
}

impl ReqHeaders<'_> {
    fn get(&self, name: &str) -> Option<String> {
        switchyard_http::header_value(self.buf, self.fields, name).map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// Handles `POST /v1/chat/completions`: decide, then try the plan's targets in order until
/// one answers; only the final answer (or the last failure) reaches the client.
pub async fn chat(
    w: &Worker,
    live: &Arc<Live>,
    client: &mut TcpStream,
    body: &[u8],
    headers: ReqHeaders<'_>,
    keep: Outcome,
    b: &mut Buffers,
) -> Outcome {
    let request_id = w.request_id();
    let bare = Tags { request_id: &request_id, model: None, provider: None, route: None };
    let view = match RequestView::parse(body, &mut b.scratch) {
        Ok(v) => v,
        Err(e) => return send_error(client, &mut b.out, &e.into(), Some(&bare), keep).await,
    };
    let table = &live.table;
    let decided = {
        let mut scratch = w.decide_scratch.borrow_mut();
        table.decide(&view, &|n| headers.get(n), &mut scratch, w.shared.now_ms())
    };
    let decision = match decided {
        Ok(d) => d,
        Err(e) => return send_error(client, &mut b.out, &e, Some(&bare), keep).await,
    };
    let route = decision.route.map(|r| &table.routes[r]);
    let route_name = route.map_or(DIRECT_ROUTE, |r| r.name.as_str());
    let default_retry = RetryConfig::default();
    let retry = route.map_or(&default_retry, |r| &r.retry);
    let budget_end = Instant::now() + Duration::from_millis(retry.budget_ms);
    let attempts = decision.plan.len().min(retry.attempts as usize);
    let mut last_error: Option<(ApiError, usize)> = None;
    for (n, &ti) in decision.plan.iter().take(attempts).enumerate() {
        let now = Instant::now();
        if now >= budget_end {
            break;
        }
        let target = &table.targets[ti];
        let p = &table.providers[target.provider];
        let final_attempt = n + 1 == attempts;
        let mut req = std::mem::take(&mut b.up_req);
        build_request(&mut req, p, body, &view, &target.upstream_model_json, view.stream, &mut b.scratch);
        let deadline = (now + Duration::from_millis(p.request_timeout_ms)).min(budget_end);
        target.health.begin();
        match exchange(w, live, p, req, deadline, &mut b.up_resp, &mut b.up_headers).await {
            Err(e) => {
                let failure = match e {
                    UpError::Timeout | UpError::ConnectTimeout => Failure::Timeout,
                    UpError::Resolve | UpError::Connect(_) | UpError::Tls(_) => Failure::Connect,
                    _ => Failure::ServerError,
                };
                target.health.failure(failure, w.shared.now_ms());
                let class = match failure {
                    Failure::Timeout => RetryOn::Timeout,
                    Failure::Connect => RetryOn::Connect,
                    _ => RetryOn::ServerError,
                };
                last_error = Some((e.to_api(&p.name), ti));
                if !retry.on.contains(&class) {
                    break;
                }
            }
            Ok((mut up, head, req)) => {
                b.up_req = req;
                let failure = match head.status {
                    429 => {
                        Some((Failure::RateLimited(retry_after_ms(&b.up_resp, &b.up_headers)), RetryOn::RateLimited))
                    }
                    500..=599 => Some((Failure::ServerError, RetryOn::ServerError)),
                    _ => None,
                };
                match failure {
                    Some((f, class)) => {
                        target.health.failure(f, w.shared.now_ms());
                        if !final_attempt && retry.on.contains(&class) {
                            // Nothing reached the client yet: drop this answer, try the next.
                            continue;
                        }
                    }
                    None => target.health.success(now.elapsed().as_micros() as u64),
                }
                let tags = Tags {
                    request_id: &request_id,
                    model: Some(&target.name),
                    provider: Some(&p.name),
                    route: Some(route_name),
                };
                let (outcome, reusable) = relay(client, &mut up, &head, b, &tags, keep, deadline).await;
                if reusable {
                    w.pool.put(&p.pool_key, up, live.upstream.pool_max_idle);
                }
                return outcome;
            }
        }
    }
    let (e, ti) = last_error
        .unwrap_or_else(|| (ApiError::status(504, "retry budget exhausted before any attempt"), decision.plan[0]));
    let target = &table.targets[ti];
    let tags = Tags {
        request_id: &request_id,
        model: Some(&target.name),
        provider: Some(&table.providers[target.provider].name),
        route: Some(route_name),
    };
    send_error(client, &mut b.out, &e, Some(&tags), keep).await
}

/// `retry-after-ms` or `retry-after` (seconds) of an upstream response, in ms.
fn retry_after_ms(buf: &[u8], headers: &[HeaderRef]) -> Option<u64> {
    let num = |name: &str| {
        switchyard_http::header_value(buf, headers, name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    num("retry-after-ms").map(|ms| ms as u64).or_else(|| num("retry-after").map(|s| (s * 1000.0) as u64))
}

/// Writes the upstream request: head with provider auth, then the body with `model` rewritten.
fn build_request(
    req: &mut Vec<u8>,
    p: &Provider,
    body: &[u8],
    view: &RequestView,
    model_json: &[u8],
    stream: bool,
    scratch: &mut Vec<u8>,
) {
    req.clear();
    req.extend_from_slice(b"POST ");
    req.extend_from_slice(p.chat_path.as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\n");
    req.extend_from_slice(&p.fixed_headers);
    req.extend_from_slice(b"content-type: application/json\r\n");
    req.extend_from_slice(if stream { b"accept: text/event-stream\r\n" } else { b"accept: application/json\r\n" });
    match &view.model_span {
        Some(span) => {
            write::content_length(req, (body.len() - span.len() + model_json.len()) as u64);
            req.extend_from_slice(b"\r\n");
            rewrite_model(body, view, model_json, req);
        }
        None => {
            scratch.clear();
            rewrite_model(body, view, model_json, scratch);
            write::content_length(req, scratch.len() as u64);
            req.extend_from_slice(b"\r\n");
            req.extend_from_slice(scratch);
        }
    }
}

/// Sends the request and reads the response head, retrying once on a fresh connection when a
/// pooled one turns out to be closed before any response byte.
async fn exchange(
    w: &Worker,
    live: &Live,
    p: &Provider,
    mut req: Vec<u8>,
    deadline: Instant,
    rbuf: &mut Vec<u8>,
    headers: &mut Vec<HeaderRef>,
) -> Result<(UpStream, ResponseHead, Vec<u8>), UpError> {
    let max_idle = Duration::from_millis(live.upstream.pool_idle_timeout_ms);
    let mut pooled = w.pool.take(&p.pool_key, max_idle);
    loop {
        let reused = pooled.is_some();
        let mut s = match pooled.take() {
            Some(s) => s,
            None => connect(&w.shared.dns, live, p).await?,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let (r, back) = monoio::time::timeout(left, s.write_all(req)).await.map_err(|_| UpError::Timeout)?;
        req = back;
        if let Err(e) = r {
            if reused {
                continue;
            }
            return Err(UpError::Send(e));
        }
        rbuf.clear();
        let limits = Limits { max_head_bytes: MAX_UPSTREAM_HEAD };
        let head = loop {
            match parse_response(rbuf, limits, headers, false) {
                // Interim 1xx heads (other than 101) are skipped.
                Ok(Some(h)) if (100..200).contains(&h.status) && h.status != 101 => {
                    rbuf.drain(..h.head_len);
                    continue;
                }
                Ok(Some(h)) => break Some(h),
                Ok(None) => {}
                Err(e) => return Err(UpError::BadResponse(e.to_string())),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match monoio::time::timeout(left, s.read_append(rbuf)).await {
                Ok(Ok(0)) if reused && rbuf.is_empty() => break None,
                Ok(Ok(0)) => return Err(UpError::Closed),
                Ok(Ok(_)) => {}
                Ok(Err(_)) if reused && rbuf.is_empty() => break None,
                Ok(Err(e)) => return Err(UpError::Recv(e)),
                Err(_) => return Err(UpError::Timeout),
            }
        };
        match head {
            Some(h) => return Ok((s, h, req)),
            None => continue, // stale pooled connection: retry on a new one
        }
    }
}

/// Hop-by-hop and framing headers that are not copied from the upstream response.
fn skip_header(name: &[u8]) -> bool {
    const SKIP: [&[u8]; 8] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"content-length",
        b"te",
        b"trailer",
        b"upgrade",
    ];
    SKIP.iter().any(|s| name.eq_ignore_ascii_case(s))
        || (name.len() > 13 && name[..13].eq_ignore_ascii_case(b"x-switchyard-"))
}

/// Relays the response to the client; returns the outcome and whether the upstream
/// connection can go back to the pool.
async fn relay(
    client: &mut TcpStream,
    up: &mut UpStream,
    head: &ResponseHead,
    b: &mut Buffers,
    tags: &Tags<'_>,
    keep: Outcome,
    deadline: Instant,
) -> (Outcome, bool) {
    let rbuf = &mut b.up_resp;
    let out = &mut b.out;
    out.clear();
    write::status_line(out, head.status);
    let mut sse = false;
    for h in &b.up_headers {
        let name = &rbuf[h.name.clone()];
        if skip_header(name) {
            continue;
        }
        let value = &rbuf[h.value.clone()];
        if name.eq_ignore_ascii_case(b"content-type") && value.starts_with(b"text/event-stream") {
            sse = true;
        }
        write::header(out, name, value);
    }
    tags.write(out);
    match head.framing {
        ResponseFraming::Empty if head.status == 204 || head.status == 304 => {}
        ResponseFraming::Empty => write::content_length(out, 0),
        ResponseFraming::Length(n) => write::content_length(out, n),
        ResponseFraming::Chunked | ResponseFraming::UntilClose => write::header(out, b"transfer-encoding", b"chunked"),
    }
    if keep == Outcome::Close {
        write::header(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    let body_start = head.head_len;
    match head.framing {
        ResponseFraming::Empty => {
            let reusable = head.keep_alive && rbuf.len() == body_start;
            (flush(client, out).await.map_or(Outcome::Close, |_| keep), reusable)
        }
        ResponseFraming::Length(n) => {
            relay_length(client, up, rbuf, out, body_start, n, keep, head.keep_alive, deadline).await
        }
        ResponseFraming::Chunked | ResponseFraming::UntilClose => {
            relay_chunked(client, up, rbuf, out, head, sse, keep, deadline).await
        }
    }
}

async fn flush(client: &mut TcpStream, out: &mut Vec<u8>) -> std::io::Result<()> {
    let (r, back) = write_all(client, std::mem::take(out)).await;
    *out = back;
    out.clear();
    r
}

/// Content-Length bodies pass through byte for byte.
#[allow(clippy::too_many_arguments)]
async fn relay_length(
    client: &mut TcpStream,
    up: &mut UpStream,
    rbuf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    body_start: usize,
    n: u64,
    keep: Outcome,
    up_keep_alive: bool,
    deadline: Instant,
) -> (Outcome, bool) {
    let have = (rbuf.len() - body_start) as u64;
    let first = have.min(n) as usize;
    let mut extra = have > n;
    out.extend_from_slice(&rbuf[body_start..body_start + first]);
    if flush(client, out).await.is_err() {
        return (Outcome::Close, false);
    }
    let mut remaining = n - first as u64;
    while remaining > 0 {
        rbuf.clear();
        let left = deadline.saturating_duration_since(Instant::now());
        match monoio::time::timeout(left, up.read_append(rbuf)).await {
            Ok(Ok(k)) if k > 0 => {
                if k as u64 > remaining {
                    rbuf.truncate(remaining as usize);
                    extra = true;
                }
                remaining -= rbuf.len() as u64;
                let (r, back) = write_all(client, std::mem::take(rbuf)).await;
                *rbuf = back;
                if r.is_err() {
                    return (Outcome::Close, false);
                }
            }
            // The body was cut short: the client cannot be told except by closing.
            _ => return (Outcome::Close, false),
        }
    }
    (keep, up_keep_alive && !extra)
}

/// Chunked and close-delimited bodies are decoded and re-chunked per read, so each upstream
/// read (an SSE event, usually) reaches the client at once, and a failure mid-stream can
/// still end the client's stream cleanly with an error event.
#[allow(clippy::too_many_arguments)]
async fn relay_chunked(
    client: &mut TcpStream,
    up: &mut UpStream,
    rbuf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    head: &ResponseHead,
    sse: bool,
    keep: Outcome,
    deadline: Instant,
) -> (Outcome, bool) {
    let chunked = head.framing == ResponseFraming::Chunked;
    let mut dec = ChunkedDecoder::new();
    let mut pos = head.head_len;
    let failure: &str = loop {
        if chunked {
            let mut ok = true;
            let fed = dec.feed(&rbuf[pos..], |d| write::chunk(out, d));
            match fed {
                Ok(n) => pos += n,
                Err(_) => ok = false,
            }
            if !ok {
                break "the upstream sent an invalid chunked body";
            }
            if dec.is_done() {
                out.extend_from_slice(write::LAST_CHUNK);
                let reusable = head.keep_alive && pos == rbuf.len();
                let outcome = flush(client, out).await.map_or(Outcome::Close, |_| keep);
                return (outcome, reusable);
            }
        } else {
            write::chunk(out, &rbuf[pos..]);
        }
        if !out.is_empty() && flush(client, out).await.is_err() {
            return (Outcome::Close, false);
        }
        rbuf.clear();
        pos = 0;
        let left = deadline.saturating_duration_since(Instant::now());
        match monoio::time::timeout(left, up.read_append(rbuf)).await {
            Ok(Ok(0)) if !chunked => {
                out.extend_from_slice(write::LAST_CHUNK);
                return (flush(client, out).await.map_or(Outcome::Close, |_| keep), false);
            }
            Ok(Ok(0)) => break "the upstream closed the stream early",
            Ok(Ok(_)) => {}
            Ok(Err(_)) => break "the upstream connection failed mid-stream",
            Err(_) => break "the upstream did not finish before the deadline",
        }
    };
    if !sse {
        // Not an event stream: truncation can only be signalled by closing.
        return (Outcome::Close, false);
    }
    let e = ApiError::status(502, failure);
    let mut event = b"data: ".to_vec();
    event.extend_from_slice(&e.to_openai_json());
    event.extend_from_slice(b"\n\n");
    out.clear();
    write::chunk(out, &event);
    out.extend_from_slice(write::LAST_CHUNK);
    (flush(client, out).await.map_or(Outcome::Close, |_| keep), false)
}
