//! Decision-log records of chat requests: one JSON line each (never the prompt unless
//! configured, never a key), handed to the background writer.

use std::time::{Duration, Instant};
use switchyard_routing::TargetId;

use switchyard_wire::{ApiError, RequestView};
use switchyard_wire::{Dialect, Usage};

use crate::pipeline::ledger::Attempt;
use crate::runtime::core::Worker;

/// What every decision-log record of a request shares.
pub struct Common<'a> {
    /// `x-switchyard-request-id`.
    pub request_id: &'a str,
    /// Client key name.
    pub key: Option<&'a str>,
    /// Client dialect.
    pub dialect: Dialect,
    /// The request view.
    pub view: &'a RequestView,
    /// The routing decision.
    pub decision: &'a switchyard_routing::Decision,
    /// Route name (or `direct`).
    pub route: &'a str,
    /// When the request was read.
    pub ready: Instant,
    /// Routing headers were sent by a key not allowed them, and ignored.
    pub routing_headers_ignored: bool,
}

/// Logs a request refused before routing (no key, limits, bad body, unknown model or tier).
pub fn log_rejected(
    w: &Worker,
    request_id: &str,
    dialect: Dialect,
    key: Option<&str>,
    requested: Option<&str>,
    e: &ApiError,
) {
    let Some(log) = w.shared.decision_log() else { return };
    let v = serde_json::json!({
        "type": "request",
        "ts_ms": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
        "request_id": request_id,
        "key": key,
        "client": if dialect == Dialect::Anthropic { "anthropic" } else { "openai" },
        "requested": requested,
        "route": null,
        "model": null,
        "attempts": [],
        "status": e.status,
        "error": e.message,
    });
    log.send(v.to_string());
}

/// How a routed request ended, as its record tells it.
#[derive(Clone, Copy)]
pub struct Ending<'a> {
    /// The target that answered (or gave the last error).
    pub target: TargetId,
    /// The status the client got.
    pub status: u16,
    /// Every call made, in order.
    pub attempts: &'a [Attempt],
    /// Time to the first byte written to the client.
    pub ttft: Option<Duration>,
    /// Tokens, when the answer reported them.
    pub usage: Option<Usage>,
    /// Cost, when several calls were summed (cascade, vote); else computed from `usage`.
    pub cost: Option<f64>,
    /// What went wrong, if anything.
    pub error: Option<&'a str>,
}

/// Hands the request's record (one JSON line; never the prompt unless configured, never a key)
/// to the decision log, if there is one.
pub fn log_request(w: &Worker, table: &switchyard_routing::RouteTable, c: &Common<'_>, end: &Ending<'_>) {
    let Some(log) = w.shared.decision_log() else { return };
    let Ending { target, status, attempts, ttft, usage, cost, error } = *end;
    let name = |i: TargetId| table.targets[i].name.as_str();
    let provider = |i: TargetId| table.providers[table.targets[i].provider].name.as_str();
    let t = &table.targets[target];
    let (cost, savings) = match usage {
        Some(u) => {
            // Cascades and votes pass their summed cost; one answer costs its own tokens.
            let cost = cost.unwrap_or_else(|| u.cost(t.input_price, t.output_price));
            let base = c.decision.route.map_or(t, |r| &table.targets[table.routes[r].baseline]);
            (Some(cost), Some(u.cost(base.input_price, base.output_price) - cost))
        }
        None => (None, None),
    };
    let d = c.decision;
    let mut v = common_fields(c);
    let more = serde_json::json!({
        "strategy": d.strategy.as_str(),
        "tier": d.route.zip(d.tier).map(|(r, t)| table.routes[r].tiers[t].name.as_str()),
        "tier_index": d.tier,
        "tiers": d.route.map(|r| table.routes[r].tiers.len()),
        "score": d.score,
        // The cut points the score was compared with (a scorer decided).
        "thresholds": d.score.and(d.route).map(|r| thresholds(&table.routes[r].thresholds)),
        "matched": d.matched,
        "similarity": d.similarity,
        "model": name(target),
        "provider": provider(target),
        "attempts": attempts
            .iter()
            .map(|a| serde_json::json!({"model": name(a.target), "outcome": a.outcome.as_str()}))
            .collect::<Vec<_>>(),
        "status": status,
        "latency_ms": c.ready.elapsed().as_secs_f64() * 1e3,
        "ttft_ms": ttft.map(|t| t.as_secs_f64() * 1e3),
        "prompt_tokens": usage.map(|u| u.prompt),
        "completion_tokens": usage.map(|u| u.completion),
        "cost_usd": cost,
        "savings_usd": savings,
        "error": error,
    });
    merge(&mut v, more);
    if log.include_prompt {
        v["prompt"] = serde_json::Value::String(c.view.last_user.clone());
    }
    log.send(v.to_string());
}

/// Cut points as the config spells them (0.6, not the f32's 0.6000000238418579).
fn thresholds(cuts: &[f32]) -> Vec<f64> {
    cuts.iter().map(|x| x.to_string().parse().unwrap_or(f64::from(*x))).collect()
}

/// Logs a request answered from the cache (no upstream call, no cost).
pub fn log_hit(w: &Worker, c: &Common<'_>, hit: &switchyard_wire::render::RenderedAnswer, similarity: Option<f32>) {
    let Some(log) = w.shared.decision_log() else { return };
    let mut v = common_fields(c);
    let more = serde_json::json!({
        "cache": "hit",
        // Set when a near-duplicate's answer was served (semantic cache).
        "cache_similarity": similarity,
        "model": hit.model,
        "provider": hit.provider,
        "attempts": [],
        "status": 200,
        "latency_ms": c.ready.elapsed().as_secs_f64() * 1e3,
        "cost_usd": 0.0,
    });
    merge(&mut v, more);
    log.send(v.to_string());
}

/// The fields every record of an answered or cached request starts with.
fn common_fields(c: &Common<'_>) -> serde_json::Value {
    serde_json::json!({
        "type": "request",
        "ts_ms": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
        "request_id": c.request_id,
        "key": c.key,
        "client": if c.dialect == Dialect::Anthropic { "anthropic" } else { "openai" },
        "requested": c.view.model,
        "prompt_hash": crate::observe::decision_log::prompt_hash(&c.view.system, &c.view.last_user),
        "stream": c.view.stream,
        "route": c.route,
        "routing_headers_ignored": c.routing_headers_ignored,
    })
}

/// Adds `more`'s fields to the object `v`.
fn merge(v: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(o), serde_json::Value::Object(m)) = (v.as_object_mut(), more) {
        o.extend(m);
    }
}
