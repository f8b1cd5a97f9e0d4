//! Request counters and gauges, kept per worker (each worker writes only its own slots with a
//! plain load + store, no locked instruction) and summed when `/metrics` is scraped.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

use crate::observe::histogram::Histogram;

/// Status classes used as the `status` label.
pub const CLASSES: [&str; 5] = ["2xx", "4xx", "429", "5xx", "other"];

fn class(status: u16) -> usize {
    match status {
        429 => 2,
        200..=299 => 0,
        400..=499 => 1,
        500..=599 => 3,
        _ => 4,
    }
}

/// A worker's number: the shard of every sharded counter it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreId(pub usize);

/// Requests by status class, one row per worker.
pub struct Counts {
    rows: Box<[Row]>,
}

/// One worker's row, on cache lines of its own: rows packed side by side would share a line
/// that every request on any worker writes (128 bytes: x86 prefetches lines in pairs).
#[derive(Default)]
#[repr(align(128))]
struct Row([AtomicU64; 5]);

impl Counts {
    fn new(workers: usize) -> Counts {
        Counts { rows: (0..workers).map(|_| Default::default()).collect() }
    }

    /// Counts one answered request on `core`'s row (only that worker writes it, so a plain
    /// load and store suffice: no locked instruction on the request path).
    pub fn add(&self, core: CoreId, status: u16) {
        let c = &self.rows[core.0].0[class(status)];
        c.store(c.load(Relaxed) + 1, Relaxed);
    }

    /// Totals per class over all workers.
    pub fn totals(&self) -> [u64; 5] {
        let mut t = [0; 5];
        for row in self.rows.iter() {
            for (i, c) in row.0.iter().enumerate() {
                t[i] += c.load(Relaxed);
            }
        }
        t
    }
}

/// Gauges of one worker, on cache lines of its own (see `Row`).
#[derive(Default)]
#[repr(align(128))]
pub struct Gauges {
    /// Open client connections.
    pub open: AtomicI64,
    /// Requests being handled.
    pub inflight: AtomicI64,
}

impl Gauges {
    /// Adds `d` (owner only).
    pub fn bump(g: &AtomicI64, d: i64) {
        g.store(g.load(Relaxed) + d, Relaxed);
    }
}

/// One worker's meters. Only its worker writes them (relaxed atomics, no shared cache line
/// with another worker: each histogram and the gauges are 128-byte aligned); `/metrics` merges
/// every worker's at scrape time.
#[derive(Default)]
pub struct CoreMeters {
    /// Open connections and requests in flight on this worker.
    pub gauges: Gauges,
    /// The gateway's own time per request (upstream wait excluded).
    pub overhead: Histogram,
    /// Time to serve a cache hit (request read → answer written).
    pub cache_hit_time: Histogram,
    /// The gateway's own time per relayed piece of a stream (upstream bytes read → client write
    /// issued): its share of the gap between tokens.
    pub stream_relay_time: Histogram,
    /// Upstream time to response head.
    pub upstream_latency: Histogram,
    /// Time to first byte to the client.
    pub ttft: Histogram,
}

impl Stats {
    /// Every worker's `pick` histogram, for merging.
    pub fn each<'a>(
        &'a self,
        pick: impl Fn(&'a CoreMeters) -> &'a Histogram + 'a,
    ) -> impl Iterator<Item = &'a Histogram> {
        self.cores.iter().map(move |c| pick(c))
    }
}

/// Process-wide statistics; survives reloads.
pub struct Stats {
    workers: usize,
    /// Each worker's own meters, in worker order (read at scrape time).
    pub cores: Box<[Arc<CoreMeters>]>,
    /// Requests rejected before routing (bad body, unknown model).
    pub rejected: Counts,
    registry: Mutex<HashMap<(String, String, String), Arc<Counts>>>,
}

impl Stats {
    /// Statistics for `workers` workers.
    pub fn new(workers: usize) -> Stats {
        Stats {
            workers,
            cores: (0..workers).map(|_| Arc::new(CoreMeters::default())).collect(),
            rejected: Counts::new(workers),
            registry: Mutex::default(),
        }
    }

    /// The counters of (route, model, provider), created on first use. Control plane only.
    pub fn counts(&self, route: &str, model: &str, provider: &str) -> Arc<Counts> {
        let mut r = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        r.entry((route.to_string(), model.to_string(), provider.to_string()))
            .or_insert_with(|| Arc::new(Counts::new(self.workers)))
            .clone()
    }
}

/// Escalation reasons, in the order of `Escalation::as_str` labels.
pub const REASONS: [&str; 8] =
    ["min_length", "regex", "json", "finish_reason", "refusal", "logprob", "judge", "failed"];

/// Counters of one cascade or consensus route (kept by route name across reloads).
#[derive(Debug, Default)]
pub struct RouteCounters {
    /// Requests served by the strategy.
    pub requests: AtomicU64,
    /// Escalations by reason (index into `REASONS`).
    pub escalations: [AtomicU64; 8],
    /// Answers delivered by tier (cascade; first 8 tiers).
    pub answered_by_tier: [AtomicU64; 8],
    /// Time the client waited for checks and escalations before the first byte, µs.
    pub held_us: AtomicU64,
    /// Consensus votes decided by the tie-break.
    pub ties: AtomicU64,
    /// Consensus replies missing from a vote (failed or late).
    pub missing: AtomicU64,
}

/// Counters by route name.
#[derive(Debug, Default)]
pub struct StrategyStats {
    map: Mutex<HashMap<String, Arc<RouteCounters>>>,
}

impl StrategyStats {
    /// The counters of `route` (a short lock per cascade or consensus request, which makes
    /// several upstream calls anyway; plain proxying never comes here).
    pub fn of(&self, route: &str) -> Arc<RouteCounters> {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(route.to_string()).or_default().clone()
    }

    /// Every route's counters, for metrics.
    pub fn all(&self) -> Vec<(String, Arc<RouteCounters>)> {
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = m.iter().map(|(k, c)| (k.clone(), c.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}
