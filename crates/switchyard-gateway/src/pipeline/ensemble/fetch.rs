//! One whole (non-streamed) answer from one target, in dialect-neutral form, without writing
//! anything to the client: the building block of cascades, votes and judges.

use std::time::{Duration, Instant};
use switchyard_routing::TargetId;

use serde_json::Value;
use switchyard_http::head::HeaderRef;
use switchyard_routing::health::Failure;
use switchyard_routing::{Provider, Target};
use switchyard_wire::ApiError;
use switchyard_wire::{Completion, Dialect, UpstreamError};

use crate::runtime::core::Worker;
use crate::runtime::live::Live;
use crate::upstream::body::BodyReader;
use crate::upstream::body::Timing;
use crate::upstream::request::{upstream_body, write_head};
use crate::upstream::send::exchange;

/// Largest answer read by a fetch.
const MAX_ANSWER: usize = 32 * 1024 * 1024;

/// An answer and what it is worth for checks.
pub struct Fetched {
    /// The answer.
    pub completion: Completion,
    /// Mean token log-probability, when the provider returned them.
    pub avg_logprob: Option<f64>,
}

/// Asks target `ti` for a whole answer to `hub` (an OpenAI-shaped request); `logprobs` asks
/// OpenAI upstreams for token log-probabilities. The target's health is updated; the caller
/// accounts the usage.
pub async fn fetch_completion(
    w: &Worker,
    live: &Live,
    ti: TargetId,
    hub: &Value,
    logprobs: bool,
    deadline: Instant,
) -> Result<Fetched, ApiError> {
    let table = &live.table;
    let target = &table.targets[ti];
    let p = &table.providers[target.provider];
    let up = p.dialect;
    let mut v = hub.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("stream".into(), Value::Bool(false));
        o.remove("stream_options");
        if logprobs && up == Dialect::OpenAi {
            o.insert("logprobs".into(), Value::Bool(true));
        }
    }
    let body = upstream_body(up, &v, &target.upstream_model)?;
    let body = serde_json::to_vec(&body).map_err(|e| ApiError::status(500, e.to_string()))?;
    let key = p.pick_key(switchyard_routing::balancer::next_random(&mut w.decide_scratch.borrow_mut().rng));
    let mut req = Vec::with_capacity(body.len() + 512);
    // Built from the OpenAI-shaped request: only fields the translation knows, so no betas.
    let lines = crate::upstream::request::HeadLines { auth: key, beta: Default::default() };
    write_head(&mut req, p, up, lines, target, false, body.len());
    req.extend_from_slice(&body);
    let deadline = deadline.min(Instant::now() + Duration::from_millis(p.request_timeout_ms));
    let started = Instant::now();
    target.health.begin();
    let mut rbuf = Vec::with_capacity(16 * 1024);
    let mut headers: Vec<HeaderRef> = Vec::new();
    let (mut conn, head, _, _) = match exchange(w, live, p, req, (started, deadline), &mut rbuf, &mut headers).await {
        Ok(x) => x,
        Err(e) => {
            target.health.failure(e.failure(), w.shared.now_ms());
            return Err(e.to_api(&p.name));
        }
    };
    let mut answer = Vec::new();
    let t = Timing { deadline, idle: Duration::from_millis(p.stream_idle_timeout_ms) };
    let read = BodyReader::new(&head).read_all(&mut conn, &mut rbuf, &mut answer, t, MAX_ANSWER).await;
    let reusable = match read {
        Ok(r) => r,
        Err(reason) => {
            target.health.failure(Failure::ServerError, w.shared.now_ms());
            return Err(ApiError::status(502, format!("upstream provider `{}`: {reason}", p.name)));
        }
    };
    if reusable {
        w.pool.put(&p.pool_key, conn, live.upstream.pool_max_idle, Instant::now());
    }
    read_answer(target, p, head.status, &answer, started, w.shared.now_ms())
}

/// What a target's whole answer comes to: a completion, or the error it stands for. Health is
/// recorded here: a refused request (4xx other than 429) is not the target's fault.
fn read_answer(
    target: &Target,
    p: &Provider,
    status: u16,
    answer: &[u8],
    started: Instant,
    now_ms: u64,
) -> Result<Fetched, ApiError> {
    let up = p.dialect;
    if !(200..300).contains(&status) {
        let err = UpstreamError::parse(up, status, answer).for_client(&p.secrets);
        let f = match status {
            429 => Failure::RateLimited(None),
            500..=599 => Failure::ServerError,
            _ => {
                // The request itself was refused: not the target's fault.
                target.health.success(started.elapsed().as_micros() as u64);
                return Err(ApiError::status(err.kind.status(Dialect::OpenAi), err.message));
            }
        };
        target.health.failure(f, now_ms);
        return Err(ApiError::status(
            err.kind.status(Dialect::OpenAi),
            format!("upstream provider `{}`: {}", p.name, err.message),
        ));
    }
    let parsed: Result<(Completion, Option<f64>), String> =
        serde_json::from_slice::<Value>(answer).map_err(|e| e.to_string()).and_then(|v| {
            let c = Completion::parse(up, &v, &target.upstream_model).map_err(|e| e.to_string())?;
            Ok((c, avg_logprob(&v)))
        });
    match parsed {
        Ok((mut completion, avg_logprob)) => {
            target.health.success(started.elapsed().as_micros() as u64);
            if completion.model.is_empty() {
                completion.model.clone_from(&target.upstream_model);
            }
            Ok(Fetched { completion, avg_logprob })
        }
        Err(e) => {
            target.health.failure(Failure::ServerError, now_ms);
            Err(ApiError::status(502, format!("upstream provider `{}`: invalid answer ({e})", p.name)))
        }
    }
}

/// Mean of OpenAI's `choices[0].logprobs.content[].logprob`.
fn avg_logprob(v: &Value) -> Option<f64> {
    let tokens = v.pointer("/choices/0/logprobs/content")?.as_array()?;
    let lps: Vec<f64> = tokens.iter().filter_map(|t| t["logprob"].as_f64()).collect();
    (!lps.is_empty()).then(|| lps.iter().sum::<f64>() / lps.len() as f64)
}

/// Runs futures on this core at once and returns their outputs in order (the workers'
/// runtime is single-threaded, so the futures need not be `Send` or `'static`).
pub async fn join_all<'a, T>(futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>>) -> Vec<T> {
    let mut futures: Vec<Option<std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>>> =
        futures.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if let Some(fut) = f {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *o = Some(v);
                        *f = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.expect("every future finished")).collect()
}
