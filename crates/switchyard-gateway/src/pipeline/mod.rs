//! A chat request from either client dialect, as an ordered list of phases over one
//! `Exchange`:
//!
//! 1. **admit** (`admit`): the client key, the body, the key's limits, then the decision;
//! 2. **cache** (`cache`): a stored answer is served as it is;
//! 3. **forward** (`forward`) the plan's targets in order, or run a **cascade** or a
//!    **consensus** (`ensemble`);
//! 4. **respond**: the answer is relayed as it arrives (`forward::Live::respond`), or a held
//!    answer is delivered;
//! 5. **finish**: the only place that writes the error reply, the counters, the time samples
//!    and the decision-log record.
//!
//! The phases map onto pingora's hooks: `request_filter` (admit), `upstream_peer` (decide),
//! `cache_hit_filter`, `proxy_to_upstream` with `fail_to_connect`/`error_while_proxy`
//! (forward), `fail_to_proxy` and `logging` (finish).

pub mod admit;
pub mod cache;
pub mod ensemble;
pub mod exchange;
pub mod forward;
pub mod ledger;
pub mod record;
pub mod responses;

use std::cell::RefCell;
use std::sync::Arc;

use crate::downstream::ClientConn;
use switchyard_config::RetryConfig;
use switchyard_routing::{RouteTable, Target, TargetId};
use switchyard_wire::render::{Shape, render_for};
use switchyard_wire::{RequestView, Usage};

use crate::downstream::{Buffers, Outcome, send_error};
use crate::pipeline::admit::{ChatRequest, admit};
use crate::pipeline::ensemble::Ask;
use crate::pipeline::exchange::{Exchange, Reject, Served, ServedBy};
use crate::pipeline::record::{Common, Ending, log_hit, log_rejected, log_request};
use crate::relay::deliver::send_rendered;
use crate::runtime::core::Worker;
use crate::runtime::live::Live;
use crate::upstream::request::{ClientBody, ResponsesCall};

/// Handles `POST /v1/chat/completions` (OpenAI clients) and `POST /v1/messages` (Anthropic);
/// `view` is the connection's, refilled here (its strings keep their memory between requests).
pub async fn chat(
    w: &Worker,
    live: &Arc<Live>,
    client: &mut ClientConn,
    req: ChatRequest<'_>,
    keep: Outcome,
    b: &mut Buffers,
    view: &mut RequestView,
) -> Outcome {
    let mut x = Exchange::begin(w, live, req.dialect, keep, std::time::Instant::now());
    let result = match admit(&mut x, &req, &mut b.scratch, view) {
        Ok(mut body) => run(&mut x, &req, &mut body, view, client, b).await,
        Err(reject) => Err(reject),
    };
    finish(&x, view, client, b, result).await
}

/// The phases after admission: cache, then forward, cascade or consensus.
async fn run(
    x: &mut Exchange<'_>,
    req: &ChatRequest<'_>,
    body: &mut ClientBody<'_>,
    view: &RequestView,
    client: &mut ClientConn,
    b: &mut Buffers,
) -> Result<Served, Reject> {
    let (cache, hit) = cache::consult(x, req, body, &mut b.scratch);
    if let Some(hit) = hit {
        return Ok(serve_hit(x, (view, body.responses.as_ref()), client, b, hit).await);
    }
    if let Some(route) = x.route().filter(|r| r.cascade.is_some() || r.consensus.is_some()) {
        let hub = body.hub().map_err(Reject::refused_for_model)?;
        let ask = Ask { w: x.w, live: x.live, route, hub, question: &view.last_user, ready: x.ready };
        // Boxed: these futures are the largest in the gateway (5 KB), and every connection's
        // task is sized for its largest path; these routes allocate per request anyway.
        let answered = if route.cascade.is_some() {
            Box::pin(ensemble::cascade(ask)).await
        } else {
            Box::pin(ensemble::consensus(ask)).await
        };
        return ensemble::deliver(x, view, client, b, (cache, body.responses.as_ref()), answered).await;
    }
    // Requests that name a model have no route: the defaults, built once (not a Vec per request).
    static DEFAULT_RETRY: std::sync::LazyLock<RetryConfig> = std::sync::LazyLock::new(RetryConfig::default);
    let retry = x.route().map_or(&*DEFAULT_RETRY, |r| &r.retry);
    let plan = x.decision.as_ref().map(|d| d.plan.clone()).unwrap_or_default();
    let cache = RefCell::new(cache.filter(|u| u.store));
    let (ready, ledger) = (x.ready, std::mem::take(&mut x.ledger));
    let mut ledger = ledger;
    let mut live = forward::Live { x, client, b, body, view, cache };
    let served = forward::forward(&mut live, &plan, retry, ready, &mut ledger).await;
    x.ledger = ledger;
    served
}

/// Sends a stored answer in the client's shape.
async fn serve_hit(
    x: &Exchange<'_>,
    (view, call): (&RequestView, Option<&ResponsesCall>),
    client: &mut ClientConn,
    b: &mut Buffers,
    (hit, similarity): cache::Hit,
) -> Served {
    let shape = Shape { dialect: x.dialect, stream: view.stream, include_usage: view.include_usage };
    let mut tags = x.tags(None);
    (tags.model, tags.provider, tags.route, tags.cache) =
        (Some(hit.model.as_str()), Some(hit.provider.as_str()), Some(x.route_name()), Some("hit"));
    b.first_write.set(None);
    let sim = similarity.map(|s| format!("{s:.3}"));
    let extra: &[(&str, &str)] = match &sim {
        Some(s) => &[("x-switchyard-cache-similarity", s.as_str())],
        None => &[],
    };
    if let Some(call) = call {
        responses::remember(&x.w.shared, call, x.key_name().unwrap_or(""), &hit.completion, None);
    }
    let reported = x.reported_model(view);
    let outcome = if call.is_some() || reported.is_some() {
        // A Responses answer has this request's own id, and a reported model this request's
        // name: rendered afresh instead of from the memo.
        let mut c = std::borrow::Cow::Borrowed(&hit.completion);
        if let Some(m) = reported {
            tags.upstream_model = Some(hit.completion.model.as_str());
            c.to_mut().model = m.to_string();
        }
        let body = render_for(shape, &c, call.map(|c| &c.meta));
        send_rendered(client, b, &tags, extra, x.keep, shape.stream, &body).await
    } else {
        send_rendered(client, b, &tags, extra, x.keep, shape.stream, hit.body(shape)).await
    };
    let target = x.decision.as_ref().map_or(TargetId::default(), |d| d.plan[0]);
    Served { outcome, target, status: 200, usage: None, cost: None, by: ServedBy::Cache { hit, similarity } }
}

/// The finish phase: counts, time samples and the decision-log record of every request, and
/// the error reply of every failed one. Nothing else writes them.
async fn finish(
    x: &Exchange<'_>,
    view: &RequestView,
    client: &mut ClientConn,
    b: &mut Buffers,
    result: Result<Served, Reject>,
) -> Outcome {
    let w = x.w;
    let Some(decision) = &x.decision else {
        // Refused at admission: no route, no target.
        let reject = result.err().expect("an admitted request has a decision");
        w.shared.stats.rejected.add(w.core, reject.error.status);
        let model = reject.model_known.then_some(view.model.as_str());
        log_rejected(w, &x.request_id, x.dialect, x.key_name(), model, &reject.error);
        return send_error(client, &mut b.out, &reject.error, Some(&x.tags(None)), x.keep).await;
    };
    let table = &x.live.table;
    let common = Common {
        request_id: &x.request_id,
        key: x.key_name(),
        dialect: x.dialect,
        view,
        decision,
        route: x.route_name(),
        ready: x.ready,
        routing_headers_ignored: x.routing_headers_ignored,
    };
    let ttft = b.first_write.get().map(|f| f.duration_since(x.ready));
    match result {
        Ok(served) => {
            if let ServedBy::Cache { hit, similarity } = &served.by {
                if let Some(t) = ttft {
                    w.meters.cache_hit_time.record(t.as_nanos() as u64);
                }
                log_hit(w, &common, hit, *similarity);
                return served.outcome;
            }
            if let ServedBy::Upstream { own_time, upstream_latency } = served.by {
                if let Some(own) = own_time {
                    w.meters.overhead.record(own.as_nanos() as u64);
                }
                w.meters.upstream_latency.record(upstream_latency.as_nanos() as u64);
            }
            x.live.counts(decision.route, served.target).add(w.core, served.status);
            if let Some(t) = ttft {
                w.meters.ttft.record(t.as_nanos() as u64);
            }
            let broken = b.broken.take();
            let end = Ending {
                target: served.target,
                status: served.status,
                attempts: x.ledger.attempts(),
                ttft,
                usage: served.usage,
                cost: served.cost,
                error: broken,
            };
            log_request(w, table, &common, &end);
            served.outcome
        }
        Err(reject) => {
            let target = reject.target.unwrap_or(decision.plan[0]);
            x.live.counts(decision.route, target).add(w.core, reject.error.status);
            let end = Ending {
                target,
                status: reject.error.status,
                attempts: x.ledger.attempts(),
                ttft: None,
                usage: None,
                cost: None,
                error: Some(&reject.error.message),
            };
            log_request(w, table, &common, &end);
            let tags = x.tags(reject.target);
            send_error(client, &mut b.out, &reject.error, Some(&tags), x.keep).await
        }
    }
}

/// Records tokens, cost and savings against the route's baseline model; returns the cost.
pub fn account(table: &RouteTable, baseline: Option<TargetId>, target: &Target, u: &Usage) -> f64 {
    let cost = u.cost(target.input_price, target.output_price);
    let base = baseline.map_or(target, |b| &table.targets[b]);
    let savings = u.cost(base.input_price, base.output_price) - cost;
    target.health.record_usage(u.prompt, u.completion, cost, savings);
    cost
}
