//! The forward phase: the plan's targets in order, each in its own dialect, until one answers.
//! A failure before anything reached the client falls back to the next target when the route's
//! retry policy allows it; after the first byte the answer is the client's.
//!
//! The loop (`forward`) is generic over an `Attempter` (static dispatch, no `dyn`), so the
//! retry and budget rules are unit-tested against a scripted fake; `Live` is the real one.

use std::cell::RefCell;
use std::time::{Duration, Instant};
use switchyard_routing::TargetId;

use crate::downstream::ClientConn;
use switchyard_config::{RetryConfig, RetryOn};
use switchyard_http::head::HeaderRef;
use switchyard_routing::balancer::next_random;
use switchyard_routing::health::Failure;
use switchyard_wire::{ApiError, Completion, Dialect, RequestView, Usage};

use crate::downstream::Buffers;
use crate::pipeline::cache::{CacheUse, store};
use crate::pipeline::exchange::{Exchange, Reject, Served, ServedBy};
use crate::pipeline::ledger::{AttemptOutcome, Ledger};
use crate::relay::Relay;
use crate::relay::translated::{RelaySpec, relay_events, relay_json, relay_whole};
use crate::runtime::pool::UpStream;
use crate::upstream::body::Timing;
use crate::upstream::request::{ClientBody, build_request};
use crate::upstream::send::{exchange, retry_after_ms};

/// Where one attempt stands in the loop.
#[derive(Debug, Clone, Copy)]
pub struct AttemptAt<'r> {
    /// 0 for the first attempt.
    pub n: usize,
    /// When it starts.
    pub start: Instant,
    /// End of the route's retry budget.
    pub budget_end: Instant,
    /// No attempt follows this one.
    pub last: bool,
    /// The failure classes the route retries on another target.
    pub retry_on: &'r [RetryOn],
}

impl AttemptAt<'_> {
    /// Whether a failure of `class` now would be retried on the next target.
    pub fn retries(&self, class: RetryOn) -> bool {
        !self.last && self.retry_on.contains(&class)
    }
}

/// What one attempt came to.
pub enum Tried {
    /// The answer went to the client (an error status too, when it is the final word).
    Served(Served, AttemptOutcome),
    /// The target failed before anything reached the client.
    Failed {
        /// What the client is told if nothing else answers.
        error: ApiError,
        /// For the ledger.
        outcome: AttemptOutcome,
        /// Whether the next target may be tried.
        next: Next,
    },
}

/// After a failed attempt: whether to go on to the next target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Always (the target could not take this request at all).
    Always,
    /// If the route retries this failure class.
    If(RetryOn),
}

/// One call to a target, answered to the client when it succeeds.
pub trait Attempter {
    /// Tries `target`.
    async fn attempt(&mut self, target: TargetId, at: AttemptAt<'_>) -> Tried;
}

/// Tries the plan's targets in order within the route's attempt count and time budget.
pub async fn forward<A: Attempter>(
    attempter: &mut A,
    plan: &[TargetId],
    retry: &RetryConfig,
    ready: Instant,
    ledger: &mut Ledger,
) -> Result<Served, Reject> {
    let budget_end = ready + Duration::from_millis(retry.budget_ms);
    let attempts = plan.len().min(retry.attempts as usize);
    let mut last_error = None;
    for (n, &target) in plan.iter().take(attempts).enumerate() {
        // The first attempt starts when the request was ready (one clock read fewer).
        let start = if n == 0 { ready } else { Instant::now() };
        if start >= budget_end {
            break;
        }
        let at = AttemptAt { n, start, budget_end, last: n + 1 == attempts, retry_on: &retry.on };
        match attempter.attempt(target, at).await {
            Tried::Served(served, outcome) => {
                ledger.record(target, outcome);
                return Ok(served);
            }
            Tried::Failed { error, outcome, next } => {
                ledger.record(target, outcome);
                last_error = Some(Reject::failed(error, target));
                if let Next::If(class) = next
                    && !retry.on.contains(&class)
                {
                    break;
                }
            }
        }
    }
    Err(last_error
        .unwrap_or_else(|| Reject::failed(ApiError::status(504, "retry budget exhausted before any attempt"), plan[0])))
}

/// The real attempter: the client's connection and buffers, the request, and the cache entry
/// the first complete answer fills.
pub struct Live<'x, 'a, 'c, 'r> {
    /// The request.
    pub x: &'x Exchange<'a>,
    /// The client.
    pub client: &'c mut ClientConn,
    /// The connection's buffers.
    pub b: &'c mut Buffers,
    /// The client's body.
    pub body: &'c mut ClientBody<'r>,
    /// The request view.
    pub view: &'c RequestView,
    /// Taken by the first complete answer (retries never store twice).
    pub cache: RefCell<Option<CacheUse>>,
}

impl Attempter for Live<'_, '_, '_, '_> {
    async fn attempt(&mut self, target: TargetId, at: AttemptAt<'_>) -> Tried {
        let (w, table) = (self.x.w, &self.x.live.table);
        let t = &table.targets[target];
        let p = &table.providers[t.provider];
        let key = p.pick_key(next_random(&mut w.decide_scratch.borrow_mut().rng));
        let mut req = std::mem::take(&mut self.b.up_req);
        let injected = match build_request(&mut req, p, key, t, self.view, self.body, &mut self.b.scratch) {
            Ok(i) => i,
            Err(error) => {
                self.b.up_req = req;
                return Tried::Failed { error, outcome: AttemptOutcome::Untranslatable, next: Next::Always };
            }
        };
        let deadline = (at.start + Duration::from_millis(p.request_timeout_ms)).min(at.budget_end);
        t.health.begin();
        let b = &mut *self.b;
        let (conn, head, req, sent) =
            match exchange(w, self.x.live, p, req, (at.start, deadline), &mut b.up_resp, &mut b.up_headers).await {
                Ok(v) => v,
                Err(e) => {
                    t.health.failure(e.failure(), w.shared.now_ms());
                    let (outcome, class) = AttemptOutcome::before_head(e.failure());
                    return Tried::Failed { error: e.to_api(&p.name), outcome, next: Next::If(class) };
                }
            };
        let head_at = Instant::now();
        b.up_req = req;
        let outcome = AttemptOutcome::of_status(head.status);
        let failure = match head.status {
            429 => Some((Failure::RateLimited(retry_after_ms(&b.up_resp, &b.up_headers)), RetryOn::RateLimited)),
            500..=599 => Some((Failure::ServerError, RetryOn::ServerError)),
            _ => None,
        };
        match failure {
            Some((f, class)) => {
                t.health.failure(f, w.shared.now_ms());
                if at.retries(class) {
                    // Nothing reached the client yet: drop this answer, try the next.
                    let error = ApiError::status(
                        head.status,
                        format!("upstream provider `{}` answered {}", p.name, head.status),
                    );
                    return Tried::Failed { error, outcome, next: Next::Always };
                }
            }
            None => t.health.success(head_at.duration_since(at.start).as_micros() as u64),
        }
        let timing = Timing { deadline, idle: Duration::from_millis(p.stream_idle_timeout_ms) };
        let answer = Answer { target, head: &head, timing, injected, sent, head_at };
        self.respond(conn, answer, at).await.map_or_else(
            |reason| {
                // A broken answer (stalled, cut, not JSON) before anything reached the client:
                // counts as a server error and falls back like a 5xx.
                t.health.failure(Failure::ServerError, w.shared.now_ms());
                let error = ApiError::status(502, format!("upstream provider `{}`: {reason}", p.name));
                Tried::Failed { error, outcome: AttemptOutcome::InvalidAnswer, next: Next::If(RetryOn::ServerError) }
            },
            |served| Tried::Served(served, outcome),
        )
    }
}

/// A response head from a target, ready to be relayed.
struct Answer<'h> {
    target: TargetId,
    head: &'h switchyard_http::head::ResponseHead,
    timing: Timing,
    /// The gateway asked for `include_usage` on the client's behalf.
    injected: bool,
    /// When the upstream request was written.
    sent: Instant,
    /// When the response head was parsed.
    head_at: Instant,
}

impl Live<'_, '_, '_, '_> {
    /// The respond phase: relays the answer in the way its head calls for, stores and charges
    /// it on the way, and puts the upstream connection back when it can be reused.
    async fn respond(&mut self, mut conn: UpStream, a: Answer<'_>, at: AttemptAt<'_>) -> Result<Served, &'static str> {
        let (x, w, table) = (self.x, self.x.w, &self.x.live.table);
        let t = &table.targets[a.target];
        let p = &table.providers[t.provider];
        let (dialect, up, view) = (x.dialect, self.body.upstream_dialect(p), self.view);
        let (cache, call) = (&self.cache, self.body.responses.as_ref());
        let store_answer = |answer: Completion| {
            if let Some(call) = call {
                let passed = (up == Dialect::Responses).then_some(p.name.as_str());
                super::responses::remember(&w.shared, call, x.key_name().unwrap_or(""), &answer, passed);
            }
            if let Some(u) = cache.borrow_mut().take() {
                store(w, u, answer, &t.name, &p.name);
            }
        };
        let keeps = cache.borrow().is_some() || call.is_some_and(|c| c.store);
        let charge = |u: Usage| {
            let cost = super::account(table, x.route().map(|r| r.baseline), t, &u);
            if let Some(k) = x.client_key {
                k.charge(u.total(), cost, w.shared.key_now());
            }
        };
        let spec = RelaySpec {
            client: dialect,
            upstream: up,
            include_usage: view.include_usage,
            drop_usage_chunk: a.injected,
            model: &t.upstream_model,
            store: if keeps { Some(&store_answer) } else { None },
            account: Some(&charge),
            secrets: &p.secrets,
            pass_headers: &x.live.upstream.pass_headers,
            relay_time: &w.meters.stream_relay_time,
            prompt_estimate: switchyard_wire::text::estimate_tokens(self.body.raw.len()) as u64,
            max_answer_bytes: x.live.upstream.max_answer_bytes,
            retry_too_large: x.live.upstream.retry_too_large,
            responses: call.map(|c| &c.meta),
            report_model: x.reported_model(view),
        };
        let b = &mut *self.b;
        let ok = (200..300).contains(&a.head.status);
        let sse = ok && is_event_stream(&b.up_resp, &b.up_headers);
        b.first_write.set(None);
        let tags = x.tags(Some(a.target));
        let r = Relay {
            client: &mut *self.client,
            up: &mut conn,
            head: a.head,
            tags: &tags,
            keep: x.keep,
            timing: a.timing,
        };
        let (outcome, reusable, usage) = if sse {
            relay_events(r, b, &spec).await.map_err(|f| f.as_str())?
        } else if up == dialect && ok {
            relay_json(r, b, &spec, &w.json_scratch).await?
        } else {
            // Errors of every dialect are re-rendered (secrets stripped, a provider's refusal
            // of the gateway's key made a 502); answers of another dialect are translated.
            relay_whole(r, b, &spec).await?
        };
        let first = b.first_write.get();
        if reusable {
            // A whole answer is written once it is read, so its first write is about when the
            // connection went idle (never later: an early stamp only retires it sooner); a
            // stream may have run long after its first write.
            let since = match first {
                Some(t) if !view.stream => t,
                _ => Instant::now(),
            };
            w.pool.put(&p.pool_key, conn, x.live.upstream.pool_max_idle, since);
        }
        // Own time: request ready → upstream write issued, upstream head parsed → client write
        // issued. Retried requests are left out: their first leg holds upstream waits.
        let own_time =
            first.filter(|_| at.n == 0).map(|f| a.sent.duration_since(x.ready) + f.duration_since(a.head_at));
        let by = ServedBy::Upstream { own_time, upstream_latency: a.head_at.duration_since(a.sent) };
        Ok(Served { outcome, target: a.target, status: a.head.status, usage, cost: None, by })
    }
}

fn is_event_stream(buf: &[u8], headers: &[HeaderRef]) -> bool {
    switchyard_http::header_value(buf, headers, "content-type").is_some_and(|v| v.starts_with(b"text/event-stream"))
}

#[cfg(test)]
mod tests;
