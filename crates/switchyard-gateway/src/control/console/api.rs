//! The console's JSON answers, computed when asked from state the gateway keeps anyway.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use serde_json::{Value, json};
use switchyard_wire::ApiError;

use crate::control::reload::Control;
use crate::observe::console::{Snapshot, own_quantile_us, unix_ms};
use crate::runtime::live::Shared;

/// `GET /ui/api/overview`: one-second samples (deltas of the kept snapshots) and the totals.
pub fn overview(shared: &Shared) -> Value {
    let now = super::sampler::snapshot(shared);
    let history = shared.console.history();
    let samples: Vec<Value> = history.windows(2).map(|w| interval(&w[0], &w[1])).collect();
    let live = shared.live.load();
    let n = live.table.targets.len();
    let mut by_route: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut by_model: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (i, c) in live.counts.iter().enumerate() {
        let t = c.totals();
        let route = if i < n { "direct" } else { live.table.routes[i / n - 1].name.as_str() };
        for entry in [by_route.entry(route).or_default(), by_model.entry(&live.table.targets[i % n].name).or_default()]
        {
            entry.0 += t.iter().sum::<u64>();
            entry.1 += t[2] + t[3];
        }
    }
    let models: Vec<Value> = live
        .table
        .targets
        .iter()
        .map(|t| {
            let (prompt, completion, cost, savings) = t.health.usage_totals();
            let (requests, errors) = by_model.get(t.name.as_str()).copied().unwrap_or_default();
            json!({"model": t.name, "provider": live.table.providers[t.provider].name, "requests": requests,
                   "errors": errors, "prompt_tokens": prompt, "completion_tokens": completion,
                   "cost_usd": cost, "savings_usd": savings})
        })
        .collect();
    let gauge = |f: &dyn Fn(&crate::observe::meters::Gauges) -> i64| {
        shared.stats.cores.iter().map(|c| f(&c.gauges)).sum::<i64>()
    };
    json!({
        "now_ms": now.t_ms,
        "interval_ms": 1000,
        "started_ms": now.t_ms.saturating_sub(shared.epoch.elapsed().as_millis() as u64),
        "samples": samples,
        "totals": {
            "requests": now.requests, "errors": now.errors, "prompt_tokens": now.prompt_tokens,
            "completion_tokens": now.completion_tokens, "cost_usd": now.cost_usd, "savings_usd": now.savings_usd,
            "own_p50_us": own_quantile_us(&now.own_le, 0.5), "own_p99_us": own_quantile_us(&now.own_le, 0.99),
            "inflight": gauge(&|g| g.inflight.load(Relaxed)), "open_connections": gauge(&|g| g.open.load(Relaxed)),
        },
        "by_route": by_route.iter().map(|(r, (q, e))| json!({"route": r, "requests": q, "errors": e})).collect::<Vec<_>>(),
        "by_model": models,
    })
}

/// What happened between two snapshots.
fn interval(a: &Snapshot, b: &Snapshot) -> Value {
    let own: Vec<u64> =
        b.own_le.iter().zip(a.own_le.iter().chain(std::iter::repeat(&0))).map(|(x, y)| x.saturating_sub(*y)).collect();
    let delta = |now: &[(String, u64)], before: &[(String, u64)]| -> BTreeMap<String, u64> {
        now.iter()
            .map(|(k, v)| (k.clone(), v.saturating_sub(before.iter().find(|(bk, _)| bk == k).map_or(0, |(_, bv)| *bv))))
            .filter(|(_, v)| *v > 0)
            .collect()
    };
    json!({
        "t_ms": b.t_ms,
        "requests": b.requests.saturating_sub(a.requests),
        "errors": b.errors.saturating_sub(a.errors),
        "own_p50_us": own_quantile_us(&own, 0.5),
        "own_p99_us": own_quantile_us(&own, 0.99),
        "prompt_tokens": b.prompt_tokens.saturating_sub(a.prompt_tokens),
        "completion_tokens": b.completion_tokens.saturating_sub(a.completion_tokens),
        "cost_usd": (b.cost_usd - a.cost_usd).max(0.0),
        "savings_usd": b.savings_usd - a.savings_usd,
        "by_route": delta(&b.by_route, &a.by_route),
        "by_model": delta(&b.by_model, &a.by_model),
    })
}

/// `GET /ui/api/decisions?after=SEQ`: the kept decision records from `after` on.
pub fn decisions(shared: &Shared, query: &str) -> Value {
    let after = query.split('&').find_map(|kv| kv.strip_prefix("after=")).and_then(|v| v.parse().ok()).unwrap_or(0);
    let (records, next) = shared.console.records_after(after);
    let records: Vec<Value> = records
        .into_iter()
        .filter_map(|(seq, line)| {
            let mut v: Value = serde_json::from_str(&line).ok()?;
            v["seq"] = seq.into();
            Some(v)
        })
        .collect();
    let prompts = shared.decisions.as_ref().is_some_and(|d| d.include_prompt);
    json!({"next": next, "prompts": prompts, "records": records})
}

/// `GET /ui/api/providers`: every model's health as the balancer sees it.
pub fn providers(shared: &Shared) -> Value {
    let now = shared.now_ms();
    let live = shared.live.load();
    let models: Vec<Value> = live
        .table
        .targets
        .iter()
        .map(|t| {
            let h = &t.health;
            let (attempts, failures, cooldowns) = h.counters();
            let left = h.cooling(now).then(|| h.cooldown_until_ms() - now);
            json!({"model": t.name, "provider": live.table.providers[t.provider].name, "inflight": h.inflight(),
                   "latency_ms": h.latency_us() / 1e3, "error_rate": h.error_rate(), "cooling": left.is_some(),
                   "cooldown_left_ms": left, "attempts": attempts, "failures": failures, "cooldowns": cooldowns,
                   "input_price": t.input_price, "output_price": t.output_price})
        })
        .collect();
    json!({"now_ms": unix_ms(), "models": models})
}

/// `GET /ui/api/keys`: each client key's spend, budgets, minute headroom and refusals.
pub fn keys(shared: &Shared) -> Value {
    let live = shared.live.load();
    let fleet = shared.fleet.is_some();
    let Some(set) = &live.keys else { return json!({"open": true, "fleet": fleet, "keys": []}) };
    let now = shared.key_now();
    let keys: Vec<Value> = set
        .keys
        .iter()
        .map(|k| {
            let (day, month) = k.spent_usd(now.unix_ms);
            let (budget_day, budget_month) = k.budgets_usd();
            let (rpm_used, tpm_used) = k.minute_used(now);
            let u = &k.usage;
            json!({"name": k.name, "spend_day_usd": day, "spend_month_usd": month, "budget_day_usd": budget_day,
                   "budget_month_usd": budget_month, "rpm": k.rpm(), "rpm_used": rpm_used, "tpm": k.tpm(),
                   "tpm_used": tpm_used, "admitted": u.admitted.load(Relaxed), "rate_limited": u.rate_limited.load(Relaxed),
                   "over_budget": u.over_budget.load(Relaxed), "forbidden": u.forbidden.load(Relaxed)})
        })
        .collect();
    json!({"open": false, "fleet": fleet, "keys": keys})
}

/// `GET /ui/api/config`: the loaded configuration's hash, the reload history and the route
/// table as compiled.
pub fn config(shared: &Shared) -> Value {
    let live = shared.live.load();
    let t = &live.table;
    let name = |i: switchyard_routing::TargetId| t.targets[i].name.as_str();
    let routes: Vec<Value> = t
        .routes
        .iter()
        .map(|r| {
            let layers: Vec<Value> =
                r.layers(t).into_iter().map(|l| json!({"kind": l.kind, "name": l.name, "detail": l.detail})).collect();
            let tiers: Vec<Value> = r
                .tiers
                .iter()
                .map(|tier| json!({"name": tier.name, "models": tier.targets.iter().map(|&m| name(m)).collect::<Vec<_>>()}))
                .collect();
            json!({"name": r.name, "balance": r.balance.as_str(),
                   "default_tier": r.tiers.get(r.default_tier).map(|x| x.name.as_str()), "baseline": name(r.baseline),
                   "thresholds": r.thresholds.iter().map(|x| short(*x)).collect::<Vec<_>>(), "tiers": tiers, "layers": layers,
                   "fallbacks": r.fallbacks.iter().map(|&m| name(m)).collect::<Vec<_>>(),
                   "cache": r.cache.is_some(), "cascade": r.cascade.is_some(), "consensus": r.consensus.is_some()})
        })
        .collect();
    let models: Vec<Value> = t
        .targets
        .iter()
        .map(|m| {
            json!({"name": m.name, "provider": t.providers[m.provider].name, "input_price": m.input_price,
                   "output_price": m.output_price, "fallbacks": m.fallbacks.iter().map(|&f| name(f)).collect::<Vec<_>>()})
        })
        .collect();
    let reloads: Vec<Value> = shared
        .console
        .reloads()
        .into_iter()
        .map(|e| {
            let field = e.error.as_deref().and_then(field_of);
            json!({"t_ms": e.t_ms, "ok": e.error.is_none(), "hash": e.hash, "error": e.error, "field": field})
        })
        .collect();
    json!({"hash": live.config_hash, "reloads": reloads, "routes": routes, "models": models})
}

/// An f32 as the f64 its shortest decimal spells (0.6, not 0.6000000238418579).
fn short(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// `POST /ui/api/reload`: the same as SIGHUP.
pub fn reload(control: &Control) -> Result<Value, ApiError> {
    let models = control.reload().map_err(|e| ApiError::bad_request(format!("reload failed: {e}"), None))?;
    Ok(json!({"status": "ok", "models": models, "hash": control.shared.live.load().config_hash}))
}

/// The config field a load error names: its leading `a.b.c:` path (`reload failed: ` aside).
pub fn field_of(message: &str) -> Option<String> {
    let m = message.strip_prefix("reload failed: ").unwrap_or(message);
    let (head, _) = m.split_once(": ")?;
    let path = head.trim();
    let ok = !path.is_empty()
        && !path.contains(' ')
        && path.chars().all(|c| c.is_ascii_alphanumeric() || "._-[]\"".contains(c));
    ok.then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn the_field_at_fault_is_the_errors_leading_path() {
        assert_eq!(
            field_of("reload failed: models.x.provider: unknown provider `y`").as_deref(),
            Some("models.x.provider")
        );
        assert_eq!(field_of("routes.auto.tiers[0].models: empty").as_deref(), Some("routes.auto.tiers[0].models"));
        assert_eq!(field_of("reload failed: cannot read /etc/x.toml: no such file"), None);
        assert_eq!(field_of("no colon here"), None);
    }
}
