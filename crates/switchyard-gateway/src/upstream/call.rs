//! One whole JSON request to a provider endpoint other than chat (embeddings, token counts):
//! the head with the provider's fixed headers and key, the body, and the whole answer read,
//! with the target's health recorded as for chat.

use std::time::{Duration, Instant};

use switchyard_http::head::HeaderRef;
use switchyard_http::write;
use switchyard_routing::health::Failure;
use switchyard_routing::{Provider, Target};
use switchyard_wire::ApiError;

use crate::runtime::core::Worker;
use crate::runtime::live::Live;
use crate::upstream::body::{BodyReader, Timing};
use crate::upstream::send::exchange;

/// Largest answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// A request to `path` (after the provider's base path) with `body`.
pub struct Call<'a> {
    /// E.g. `/embeddings`.
    pub path: &'a str,
    /// Header lines besides the fixed ones and the key.
    pub headers: &'a [(&'a [u8], &'a [u8])],
    /// The JSON body.
    pub body: &'a [u8],
}

/// Sends `call` to `target`'s provider; the status and body of its answer. A 429 or 5xx cools
/// the target down like a chat answer would.
pub async fn call(
    w: &Worker,
    live: &Live,
    target: &Target,
    p: &Provider,
    call: Call<'_>,
) -> Result<(u16, Vec<u8>), ApiError> {
    let key = p.pick_key(switchyard_routing::balancer::next_random(&mut w.decide_scratch.borrow_mut().rng));
    let mut req = Vec::with_capacity(call.body.len() + 512);
    req.extend_from_slice(b"POST ");
    req.extend_from_slice(p.base_path.as_bytes());
    req.extend_from_slice(call.path.as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\n");
    req.extend_from_slice(&p.fixed_headers);
    req.extend_from_slice(key);
    for (k, v) in call.headers {
        write::header(&mut req, k, v);
    }
    req.extend_from_slice(b"content-type: application/json\r\naccept: application/json\r\n");
    write::content_length(&mut req, call.body.len() as u64);
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(call.body);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(p.request_timeout_ms);
    target.health.begin();
    let mut rbuf = Vec::with_capacity(16 * 1024);
    let mut fields: Vec<HeaderRef> = Vec::new();
    let (mut conn, head, _, _) = match exchange(w, live, p, req, (started, deadline), &mut rbuf, &mut fields).await {
        Ok(x) => x,
        Err(e) => {
            target.health.failure(e.failure(), w.shared.now_ms());
            return Err(e.to_api(&p.name));
        }
    };
    let mut answer = Vec::new();
    let t = Timing { deadline, idle: Duration::from_millis(p.stream_idle_timeout_ms) };
    let reusable = match BodyReader::new(&head).read_all(&mut conn, &mut rbuf, &mut answer, t, MAX_ANSWER).await {
        Ok(r) => r,
        Err(reason) => {
            target.health.failure(Failure::ServerError, w.shared.now_ms());
            return Err(ApiError::status(502, format!("upstream provider `{}`: {reason}", p.name)));
        }
    };
    if reusable {
        w.pool.put(&p.pool_key, conn, live.upstream.pool_max_idle, Instant::now());
    }
    match head.status {
        429 => target.health.failure(Failure::RateLimited(None), w.shared.now_ms()),
        500..=599 => target.health.failure(Failure::ServerError, w.shared.now_ms()),
        _ => target.health.success(started.elapsed().as_micros() as u64),
    }
    Ok((head.status, answer))
}
