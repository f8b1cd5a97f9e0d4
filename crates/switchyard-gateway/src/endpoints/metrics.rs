//! `GET /metrics` in Prometheus text format, rendered when scraped from state the request
//! path already keeps (target health atomics, reload counters); nothing is added per request.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use switchyard_guard::keys::ClientKey;

use crate::runtime::live::{Live, Shared};

/// Renders the exposition text.
pub fn render(shared: &Shared, live: &Live) -> Vec<u8> {
    let mut s = String::with_capacity(2048);
    let ok = shared.reloads_ok.load(Relaxed);
    let failed = shared.reloads_failed.load(Relaxed);
    s.push_str("# HELP switchyard_config_reloads_total Configuration reloads by result.\n");
    s.push_str("# TYPE switchyard_config_reloads_total counter\n");
    let _ = writeln!(s, "switchyard_config_reloads_total{{result=\"ok\"}} {ok}");
    let _ = writeln!(s, "switchyard_config_reloads_total{{result=\"failed\"}} {failed}");
    if let Some(d) = shared.decisions.as_ref().filter(|d| d.to_file) {
        s.push_str("# HELP switchyard_decision_log_records_total Decision-log records by fate.\n");
        s.push_str("# TYPE switchyard_decision_log_records_total counter\n");
        let _ = writeln!(s, "switchyard_decision_log_records_total{{result=\"written\"}} {}", d.written.load(Relaxed));
        let _ = writeln!(s, "switchyard_decision_log_records_total{{result=\"dropped\"}} {}", d.drops.load(Relaxed));
    }
    let st = &shared.stats;
    s.push_str("# HELP switchyard_requests_total Chat requests by route, model, provider and status class.\n");
    s.push_str("# TYPE switchyard_requests_total counter\n");
    let n = live.table.targets.len();
    for (i, c) in live.counts.iter().enumerate() {
        let totals = c.totals();
        if totals.iter().all(|&v| v == 0) {
            continue;
        }
        let route = match i / n {
            0 => "direct",
            r => live.table.routes[r - 1].name.as_str(),
        };
        let t = &live.table.targets[i % n];
        for (k, v) in totals.iter().enumerate().filter(|(_, v)| **v > 0) {
            let _ = writeln!(
                s,
                "switchyard_requests_total{{route=\"{}\",model=\"{}\",provider=\"{}\",status=\"{}\"}} {v}",
                esc(route),
                esc(&t.name),
                esc(&live.table.providers[t.provider].name),
                crate::observe::meters::CLASSES[k]
            );
        }
    }
    for (k, v) in st.rejected.totals().iter().enumerate().filter(|(_, v)| **v > 0) {
        let _ = writeln!(
            s,
            "switchyard_requests_total{{route=\"-\",model=\"-\",provider=\"-\",status=\"{}\"}} {v}",
            crate::observe::meters::CLASSES[k]
        );
    }
    keys(&mut s, shared, live);
    cache_and_strategies(&mut s, shared);
    gauges_and_latency(&mut s, shared, live);
    targets(&mut s, shared, live);
    crate::endpoints::fleet_metrics::render(&mut s, shared.fleet.as_ref());
    s.into_bytes()
}

/// What the edge limits refused or shed, and the memory the guard watches.
fn edge(s: &mut String, shared: &Shared) {
    s.push_str("# HELP switchyard_connections_refused_total Connections answered 503 at a connection cap.\n");
    s.push_str("# TYPE switchyard_connections_refused_total counter\n");
    let _ = writeln!(
        s,
        "switchyard_connections_refused_total{{cap=\"gateway\"}} {}",
        shared.connections_refused.load(Relaxed)
    );
    let _ = writeln!(
        s,
        "switchyard_connections_refused_total{{cap=\"per_address\"}} {}",
        shared.connections_refused_per_address.load(Relaxed)
    );
    s.push_str("# HELP switchyard_process_resident_bytes Resident memory, sampled every 100 ms.\n");
    s.push_str("# TYPE switchyard_process_resident_bytes gauge\n");
    let _ = writeln!(s, "switchyard_process_resident_bytes {}", shared.resident_bytes.load(Relaxed));
    s.push_str("# HELP switchyard_requests_shed_total Requests answered 503 above server.max_memory_bytes.\n");
    s.push_str("# TYPE switchyard_requests_shed_total counter\n");
    let _ = writeln!(s, "switchyard_requests_shed_total{{reason=\"memory\"}} {}", shared.shed_for_memory.load(Relaxed));
    s.push_str("# HELP switchyard_tls_handshake_failures_total Client TLS handshakes that failed or missed the head deadline.\n");
    s.push_str("# TYPE switchyard_tls_handshake_failures_total counter\n");
    let _ = writeln!(s, "switchyard_tls_handshake_failures_total {}", shared.tls_handshake_failures.load(Relaxed));
}

/// Open connections, requests in flight, the config hash and the latency histograms.
fn gauges_and_latency(s: &mut String, shared: &Shared, live: &Live) {
    let st = &shared.stats;
    let sum = |f: &dyn Fn(&crate::observe::meters::Gauges) -> i64| st.cores.iter().map(|c| f(&c.gauges)).sum::<i64>();
    s.push_str(
        "# HELP switchyard_inflight_requests Requests being handled.\n# TYPE switchyard_inflight_requests gauge\n",
    );
    let _ = writeln!(s, "switchyard_inflight_requests {}", sum(&|g| g.inflight.load(Relaxed)));
    s.push_str(
        "# HELP switchyard_open_connections Open client connections.\n# TYPE switchyard_open_connections gauge\n",
    );
    let _ = writeln!(s, "switchyard_open_connections {}", sum(&|g| g.open.load(Relaxed)));
    edge(s, shared);
    s.push_str("# HELP switchyard_config_info The loaded configuration (hash of its text).\n# TYPE switchyard_config_info gauge\n");
    let _ = writeln!(s, "switchyard_config_info{{hash=\"{}\"}} 1", live.config_hash);
    histogram(
        s,
        "switchyard_upstream_latency_seconds",
        "Upstream time from request written to response head.",
        st.each(|c| &c.upstream_latency),
    );
    histogram(
        s,
        "switchyard_time_to_first_byte_seconds",
        "Time from request read to the first byte written to the client.",
        st.each(|c| &c.ttft),
    );
    let m = crate::observe::histogram::Merged::of(st.each(|c| &c.overhead));
    s.push_str(
        "# HELP switchyard_overhead_seconds Time spent inside the gateway per request, upstream wait excluded.\n",
    );
    s.push_str("# TYPE switchyard_overhead_seconds histogram\n");
    // Fine buckets so p50/p99 read from any two scrapes are within a few hundred ns.
    for le_ns in [
        500u64, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000, 11_000, 12_000, 15_000,
        20_000, 25_000, 30_000, 40_000, 50_000, 75_000, 100_000, 150_000, 200_000, 300_000, 500_000, 1_000_000,
        2_000_000, 5_000_000, 10_000_000,
    ] {
        let _ =
            writeln!(s, "switchyard_overhead_seconds_bucket{{le=\"{}\"}} {}", le_ns as f64 / 1e9, m.count_le(le_ns));
    }
    let _ = writeln!(s, "switchyard_overhead_seconds_bucket{{le=\"+Inf\"}} {}", m.count());
    let _ = writeln!(s, "switchyard_overhead_seconds_sum {:.9}", m.sum_seconds());
    let _ = writeln!(s, "switchyard_overhead_seconds_count {}", m.count());
    quantiles(
        s,
        "switchyard_overhead_quantile_seconds",
        "Quantiles of switchyard_overhead_seconds (bucket upper bounds).",
        &m,
        &[0.5, 0.9, 0.99, 0.999],
    );
    let m = crate::observe::histogram::Merged::of(st.each(|c| &c.stream_relay_time));
    quantiles(
        s,
        "switchyard_stream_relay_quantile_seconds",
        "Time from a stream's upstream bytes being read to their client write being issued, per piece \
         relayed (bucket upper bounds).",
        &m,
        &[0.5, 0.9, 0.99, 0.999],
    );
    s.push_str("# HELP switchyard_stream_relay_count Stream pieces relayed (the quantiles' sample count).\n");
    s.push_str("# TYPE switchyard_stream_relay_count counter\n");
    let _ = writeln!(s, "switchyard_stream_relay_count {}", m.count());
}

/// Per-target health, attempts, tokens and cost.
fn targets(s: &mut String, shared: &Shared, live: &Live) {
    let now = shared.now_ms();
    let mut series = |name: &str, help: &str, kind: &str, value: &dyn Fn(&switchyard_routing::Target) -> String| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for t in &live.table.targets {
            let provider = &live.table.providers[t.provider].name;
            let _ = writeln!(s, "{name}{{model=\"{}\",provider=\"{}\"}} {}", esc(&t.name), esc(provider), value(t));
        }
    };
    series("switchyard_upstream_attempts_total", "Upstream attempts by model.", "counter", &|t| {
        t.health.counters().0.to_string()
    });
    series("switchyard_upstream_failures_total", "Failed upstream attempts by model.", "counter", &|t| {
        t.health.counters().1.to_string()
    });
    series("switchyard_upstream_cooldowns_total", "Cooldowns entered by model.", "counter", &|t| {
        t.health.counters().2.to_string()
    });
    series("switchyard_upstream_inflight", "Upstream requests in flight by model.", "gauge", &|t| {
        t.health.inflight().to_string()
    });
    series("switchyard_upstream_cooling", "1 while the model is cooling down.", "gauge", &|t| {
        u8::from(t.health.cooling(now)).to_string()
    });
    series("switchyard_upstream_latency_ewma_seconds", "EWMA of time to response head.", "gauge", &|t| {
        format!("{:.6}", t.health.latency_us() / 1e6)
    });
    series("switchyard_prompt_tokens_total", "Prompt tokens of answered requests.", "counter", &|t| {
        t.health.usage_totals().0.to_string()
    });
    series("switchyard_completion_tokens_total", "Completion tokens of answered requests.", "counter", &|t| {
        t.health.usage_totals().1.to_string()
    });
    series("switchyard_cost_usd_total", "Cost of answered requests at the configured prices.", "counter", &|t| {
        format!("{:.9}", t.health.usage_totals().2)
    });
    series(
        "switchyard_savings_usd_total",
        "What the same tokens would have cost on the route's baseline model, minus the cost.",
        "counter",
        &|t| format!("{:.9}", t.health.usage_totals().3),
    );
}

/// A Prometheus histogram (seconds) from per-worker histograms.
fn histogram<'a>(
    s: &mut String,
    name: &str,
    help: &str,
    hs: impl Iterator<Item = &'a crate::observe::histogram::Histogram>,
) {
    let m = crate::observe::histogram::Merged::of(hs);
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
    for le_us in [
        100u64, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
        10_000_000,
    ] {
        let _ = writeln!(s, "{name}_bucket{{le=\"{}\"}} {}", le_us as f64 / 1e6, m.count_le(le_us * 1000));
    }
    let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {}", m.count());
    let _ = writeln!(s, "{name}_sum {:.9}", m.sum_seconds());
    let _ = writeln!(s, "{name}_count {}", m.count());
}

/// A gauge per quantile of merged histograms (bucket upper bounds, in seconds).
fn quantiles(s: &mut String, name: &str, help: &str, m: &crate::observe::histogram::Merged, qs: &[f64]) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge");
    for q in qs {
        let _ = writeln!(s, "{name}{{quantile=\"{q}\"}} {:.9}", m.quantile(*q));
    }
}

/// Escapes a label value.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Per client key: admissions and refusals, tokens and spend (by key name, never the secret).
fn keys(s: &mut String, shared: &Shared, live: &Live) {
    s.push_str("# HELP switchyard_auth_failures_total Requests refused for a missing or unknown API key.\n");
    s.push_str("# TYPE switchyard_auth_failures_total counter\n");
    let _ = writeln!(s, "switchyard_auth_failures_total {}", shared.auth_failures.load(Relaxed));
    let Some(set) = &live.keys else { return };
    s.push_str("# HELP switchyard_key_requests_total Requests per client key by outcome.\n");
    s.push_str("# TYPE switchyard_key_requests_total counter\n");
    for k in &set.keys {
        let u = &k.usage;
        for (outcome, v) in [
            ("admitted", &u.admitted),
            ("rate_limited", &u.rate_limited),
            ("over_budget", &u.over_budget),
            ("forbidden", &u.forbidden),
        ] {
            let _ = writeln!(
                s,
                "switchyard_key_requests_total{{key=\"{}\",outcome=\"{outcome}\"}} {}",
                esc(&k.name),
                v.load(Relaxed)
            );
        }
    }
    per_key(s, "switchyard_key_tokens_total", "Tokens charged per client key.", "counter", &set.keys, &|k| {
        k.usage.tokens_total.load(Relaxed).to_string()
    });
    s.push_str("# HELP switchyard_key_spend_usd Spend per client key in the current UTC day and month.\n");
    s.push_str("# TYPE switchyard_key_spend_usd gauge\n");
    let now = shared.key_now().unix_ms;
    for k in &set.keys {
        let (day, month) = k.spent_usd(now);
        let _ = writeln!(s, "switchyard_key_spend_usd{{key=\"{}\",period=\"day\"}} {day:.9}", esc(&k.name));
        let _ = writeln!(s, "switchyard_key_spend_usd{{key=\"{}\",period=\"month\"}} {month:.9}", esc(&k.name));
    }
    let help = "Spend held by requests in flight per client key (0 when idle).";
    per_key(s, "switchyard_key_reserved_usd", help, "gauge", &set.keys, &|k| {
        format!("{:.9}", k.usage.reserved_nusd.load(Relaxed) as f64 / 1e9)
    });
    let help = "Tokens held by requests in flight per client key.";
    per_key(s, "switchyard_key_reserved_tokens", help, "gauge", &set.keys, &|k| {
        k.usage.reserved_tokens.load(Relaxed).to_string()
    });
}

/// One series per client key: `name{key="..."} value`.
fn per_key(
    s: &mut String,
    name: &str,
    help: &str,
    kind: &str,
    keys: &[ClientKey],
    value: &dyn Fn(&ClientKey) -> String,
) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for k in keys {
        let _ = writeln!(s, "{name}{{key=\"{}\"}} {}", esc(&k.name), value(k));
    }
}

/// The Responses API's store of answers for `previous_response_id`.
fn response_store(s: &mut String, shared: &Shared) {
    let c = &shared.responses.stats;
    s.push_str("# HELP switchyard_responses_store_lookups_total previous_response_id lookups by result.\n");
    s.push_str("# TYPE switchyard_responses_store_lookups_total counter\n");
    let _ = writeln!(s, "switchyard_responses_store_lookups_total{{result=\"hit\"}} {}", c.hits.load(Relaxed));
    let _ = writeln!(s, "switchyard_responses_store_lookups_total{{result=\"miss\"}} {}", c.misses.load(Relaxed));
    s.push_str("# HELP switchyard_responses_store_entries_total Answers stored, evicted for room, expired.\n");
    s.push_str("# TYPE switchyard_responses_store_entries_total counter\n");
    for (event, n) in [("insert", &c.inserts), ("evict", &c.evictions), ("expire", &c.expirations)] {
        let _ = writeln!(s, "switchyard_responses_store_entries_total{{event=\"{event}\"}} {}", n.load(Relaxed));
    }
    let (bytes, entries) = shared.responses.usage();
    s.push_str("# HELP switchyard_responses_store_bytes Bytes the store holds, and its bound.\n");
    s.push_str("# TYPE switchyard_responses_store_bytes gauge\n");
    let _ = writeln!(s, "switchyard_responses_store_bytes{{kind=\"used\"}} {bytes}");
    let _ = writeln!(s, "switchyard_responses_store_bytes{{kind=\"limit\"}} {}", shared.responses.capacity());
    s.push_str("# HELP switchyard_responses_store_items Answers in the store.\n# TYPE switchyard_responses_store_items gauge\n");
    let _ = writeln!(s, "switchyard_responses_store_items {entries}");
}

/// The response cache, cascades and consensus votes.
fn cache_and_strategies(s: &mut String, shared: &Shared) {
    response_store(s, shared);
    let c = &shared.cache.stats;
    s.push_str("# HELP switchyard_cache_requests_total Cache lookups by result.\n");
    s.push_str("# TYPE switchyard_cache_requests_total counter\n");
    let _ = writeln!(s, "switchyard_cache_requests_total{{result=\"hit\"}} {}", c.hits.load(Relaxed));
    let _ = writeln!(s, "switchyard_cache_requests_total{{result=\"miss\"}} {}", c.misses.load(Relaxed));
    s.push_str("# HELP switchyard_cache_entries_total Cache entries stored, evicted for room, expired.\n");
    s.push_str("# TYPE switchyard_cache_entries_total counter\n");
    let _ = writeln!(s, "switchyard_cache_entries_total{{event=\"insert\"}} {}", c.inserts.load(Relaxed));
    let _ = writeln!(s, "switchyard_cache_entries_total{{event=\"evict\"}} {}", c.evictions.load(Relaxed));
    let _ = writeln!(s, "switchyard_cache_entries_total{{event=\"expire\"}} {}", c.expirations.load(Relaxed));
    let (bytes, entries) = shared.cache.usage();
    s.push_str(
        "# HELP switchyard_cache_bytes Bytes held by the cache, and its bound.\n# TYPE switchyard_cache_bytes gauge\n",
    );
    let _ = writeln!(s, "switchyard_cache_bytes{{kind=\"used\"}} {bytes}");
    let _ = writeln!(s, "switchyard_cache_bytes{{kind=\"limit\"}} {}", shared.cache.capacity());
    s.push_str("# HELP switchyard_cache_items Answers in the cache.\n# TYPE switchyard_cache_items gauge\n");
    let _ = writeln!(s, "switchyard_cache_items {entries}");
    // A semantic hit is an exact miss followed by a hit on the near-duplicate's key.
    s.push_str("# HELP switchyard_cache_semantic_hits_total Requests answered from a near-duplicate prompt's entry.\n");
    s.push_str("# TYPE switchyard_cache_semantic_hits_total counter\n");
    let _ = writeln!(s, "switchyard_cache_semantic_hits_total {}", shared.semantic_hits.load(Relaxed));
    let (prompts, prompt_bytes) = shared.semantic.usage();
    s.push_str("# HELP switchyard_cache_semantic_prompts Prompts in the semantic index, and the bytes they hold.\n");
    s.push_str("# TYPE switchyard_cache_semantic_prompts gauge\n");
    let _ = writeln!(s, "switchyard_cache_semantic_prompts{{kind=\"count\"}} {prompts}");
    let _ = writeln!(s, "switchyard_cache_semantic_prompts{{kind=\"bytes\"}} {prompt_bytes}");
    let m = crate::observe::histogram::Merged::of(shared.stats.each(|c| &c.cache_hit_time));
    quantiles(
        s,
        "switchyard_cache_hit_quantile_seconds",
        "Time to serve a cache hit (request read to answer written).",
        &m,
        &[0.5, 0.9, 0.99],
    );
    strategies(s, shared);
}

/// Cascade and consensus counters, by route.
fn strategies(s: &mut String, shared: &Shared) {
    let all = shared.strategies.all();
    if all.is_empty() {
        return;
    }
    s.push_str("# HELP switchyard_strategy_requests_total Requests served by a cascade or consensus route.\n");
    s.push_str("# TYPE switchyard_strategy_requests_total counter\n");
    for (r, c) in &all {
        let _ = writeln!(s, "switchyard_strategy_requests_total{{route=\"{}\"}} {}", esc(r), c.requests.load(Relaxed));
    }
    s.push_str("# HELP switchyard_cascade_escalations_total Cascade escalations by reason.\n");
    s.push_str("# TYPE switchyard_cascade_escalations_total counter\n");
    for (r, c) in &all {
        for (i, reason) in crate::observe::meters::REASONS.iter().enumerate() {
            let v = c.escalations[i].load(Relaxed);
            if v > 0 {
                let _ =
                    writeln!(s, "switchyard_cascade_escalations_total{{route=\"{}\",reason=\"{reason}\"}} {v}", esc(r));
            }
        }
    }
    s.push_str("# HELP switchyard_cascade_answers_total Cascade answers by the tier (0 = cheapest) that gave them.\n");
    s.push_str("# TYPE switchyard_cascade_answers_total counter\n");
    for (r, c) in &all {
        for (i, v) in c.answered_by_tier.iter().enumerate() {
            let v = v.load(Relaxed);
            if v > 0 {
                let _ = writeln!(s, "switchyard_cascade_answers_total{{route=\"{}\",tier=\"{i}\"}} {v}", esc(r));
            }
        }
    }
    s.push_str(
        "# HELP switchyard_cascade_held_seconds_total Time cascade clients waited for checks and escalations.\n",
    );
    s.push_str("# TYPE switchyard_cascade_held_seconds_total counter\n");
    for (r, c) in &all {
        let _ = writeln!(
            s,
            "switchyard_cascade_held_seconds_total{{route=\"{}\"}} {:.6}",
            esc(r),
            c.held_us.load(Relaxed) as f64 / 1e6
        );
    }
    s.push_str("# HELP switchyard_consensus_events_total Consensus ties broken and replies missing from a vote.\n");
    s.push_str("# TYPE switchyard_consensus_events_total counter\n");
    for (r, c) in &all {
        let _ = writeln!(
            s,
            "switchyard_consensus_events_total{{route=\"{}\",event=\"tie\"}} {}",
            esc(r),
            c.ties.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "switchyard_consensus_events_total{{route=\"{}\",event=\"missing\"}} {}",
            esc(r),
            c.missing.load(Relaxed)
        );
    }
}
