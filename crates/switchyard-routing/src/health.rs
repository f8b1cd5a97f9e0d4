//! Per-target health shared by all cores: in-flight count, EWMA latency, error rate and
//! cooldown, all atomics; the counters behind metrics are sharded per thread. Targets that failed cool down, then come back through one probe.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

/// Why an attempt failed, for the cooldown it earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Connect, TLS or DNS failure.
    Connect,
    /// No answer before the deadline.
    Timeout,
    /// A 5xx status.
    ServerError,
    /// A 429 status, with the provider's `retry-after` in ms when given.
    RateLimited(Option<u64>),
}

/// Longest cooldown after repeated failures.
const MAX_COOLDOWN_MS: u64 = 30_000;
/// First cooldown after a failure.
const BASE_COOLDOWN_MS: u64 = 1_000;

/// Shards of a target's counters; threads beyond this many share shards (still correct).
const SHARDS: usize = 32;

/// The calling thread's shard: each worker thread gets its own in turn.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// Counters only summed when read (metrics), so each thread adds to its own cache lines:
/// otherwise every request on every worker would add to one line of its target.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Tally {
    attempts: AtomicU64,
    failed: AtomicU64,
    cooldowns: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    cost_nusd: AtomicU64,
    savings_nusd: AtomicI64,
}

/// Health of one target. Times are caller-supplied milliseconds on a monotonic clock.
#[derive(Debug, Default)]
pub struct Health {
    /// Read by the balancer on every pick, so kept in one place.
    inflight: AtomicU32,
    /// EWMA of time to response head, µs, as f64 bits (0 = no sample yet).
    latency_us: AtomicU64,
    /// EWMA of the failure indicator, in millionths.
    error_rate: AtomicU32,
    cooldown_until_ms: AtomicU64,
    failures: AtomicU32,
    probing: AtomicBool,
    /// Attempts, failures, cooldowns, tokens, cost and savings (nano-USD) since start.
    tally: Box<[Tally; SHARDS]>,
}

impl Health {
    /// Requests in flight.
    pub fn inflight(&self) -> u32 {
        self.inflight.load(Relaxed)
    }

    /// EWMA latency in µs (0 before the first sample).
    pub fn latency_us(&self) -> f64 {
        f64::from_bits(self.latency_us.load(Relaxed))
    }

    /// EWMA error rate in [0, 1].
    pub fn error_rate(&self) -> f64 {
        f64::from(self.error_rate.load(Relaxed)) / 1e6
    }

    /// (attempts, failures, cooldowns entered) since start.
    pub fn counters(&self) -> (u64, u64, u64) {
        let sum = |f: fn(&Tally) -> &AtomicU64| self.tally.iter().map(|t| f(t).load(Relaxed)).sum();
        (sum(|t| &t.attempts), sum(|t| &t.failed), sum(|t| &t.cooldowns))
    }

    /// Not cooling down, and not already being probed after a failure.
    pub fn selectable(&self, now_ms: u64) -> bool {
        now_ms >= self.cooldown_until_ms.load(Relaxed)
            && (self.failures.load(Relaxed) == 0 || !self.probing.load(Relaxed))
    }

    /// True while cooling down.
    pub fn cooling(&self, now_ms: u64) -> bool {
        now_ms < self.cooldown_until_ms.load(Relaxed)
    }

    /// End of the current cooldown (ms on the caller's clock; 0 or past: none).
    pub fn cooldown_until_ms(&self) -> u64 {
        self.cooldown_until_ms.load(Relaxed)
    }

    /// Cools the target until `until_ms` unless it already cools longer: a cooldown another
    /// gateway process saw (fleet mode). Not counted as a cooldown of this process's.
    pub fn cool_until(&self, until_ms: u64) {
        if self.cooldown_until_ms.load(Relaxed) < until_ms {
            self.cooldown_until_ms.fetch_max(until_ms, Relaxed);
        }
    }

    /// Marks an attempt as started; a target recovering from failures admits one probe.
    pub fn begin(&self) {
        self.inflight.fetch_add(1, Relaxed);
        self.tally[shard()].attempts.fetch_add(1, Relaxed);
        if self.failures.load(Relaxed) > 0 {
            self.probing.store(true, Relaxed);
        }
    }

    /// Records a success with its time to response head.
    pub fn success(&self, latency_us: u64) {
        self.inflight.fetch_sub(1, Relaxed);
        // Stores only when something changes: every worker's successes land on this line, and a
        // store takes the line from the other cores even when it writes what was there.
        if self.failures.load(Relaxed) != 0 {
            self.failures.store(0, Relaxed);
        }
        if self.probing.load(Relaxed) {
            self.probing.store(false, Relaxed);
        }
        self.observe(latency_us as f64, false);
    }

    /// Records a failure and starts (or lengthens) the cooldown.
    pub fn failure(&self, kind: Failure, now_ms: u64) {
        self.inflight.fetch_sub(1, Relaxed);
        let tally = &self.tally[shard()];
        tally.failed.fetch_add(1, Relaxed);
        let n = self.failures.fetch_add(1, Relaxed) + 1;
        let backoff = (BASE_COOLDOWN_MS << (n - 1).min(5)).min(MAX_COOLDOWN_MS);
        let ms = match kind {
            Failure::RateLimited(Some(after)) => after.min(10 * MAX_COOLDOWN_MS),
            _ => backoff,
        };
        self.cooldown_until_ms.fetch_max(now_ms + ms, Relaxed);
        tally.cooldowns.fetch_add(1, Relaxed);
        self.probing.store(false, Relaxed);
        self.observe(f64::NAN, true);
    }

    /// Adds one answered request's tokens, cost and savings (USD; savings may be negative).
    pub fn record_usage(&self, prompt: u64, completion: u64, cost_usd: f64, savings_usd: f64) {
        let t = &self.tally[shard()];
        t.prompt_tokens.fetch_add(prompt, Relaxed);
        t.completion_tokens.fetch_add(completion, Relaxed);
        t.cost_nusd.fetch_add((cost_usd * 1e9).round() as u64, Relaxed);
        t.savings_nusd.fetch_add((savings_usd * 1e9).round() as i64, Relaxed);
    }

    /// (prompt tokens, completion tokens, cost USD, savings USD) since start.
    pub fn usage_totals(&self) -> (u64, u64, f64, f64) {
        let sum = |f: fn(&Tally) -> &AtomicU64| self.tally.iter().map(|t| f(t).load(Relaxed)).sum::<u64>();
        let savings: i64 = self.tally.iter().map(|t| t.savings_nusd.load(Relaxed)).sum();
        (
            sum(|t| &t.prompt_tokens),
            sum(|t| &t.completion_tokens),
            sum(|t| &t.cost_nusd) as f64 / 1e9,
            savings as f64 / 1e9,
        )
    }

    fn observe(&self, latency_us: f64, failed: bool) {
        const A: f64 = 0.2;
        if latency_us.is_finite() {
            // Lost updates under contention only blur an average; no CAS loop needed.
            let old = self.latency_us();
            let new = if old == 0.0 { latency_us } else { old + A * (latency_us - old) };
            self.latency_us.store(new.to_bits(), Relaxed);
        }
        let old = f64::from(self.error_rate.load(Relaxed));
        let new = (old + A * (if failed { 1e6 } else { 0.0 } - old)) as u32;
        if new != old as u32 {
            self.error_rate.store(new, Relaxed);
        }
    }
}

/// Health entries by target key; lives across reloads so state carries over.
#[derive(Debug, Default)]
pub struct HealthRegistry {
    map: Mutex<HashMap<String, Arc<Health>>>,
}

impl HealthRegistry {
    /// The entry for `key` (created on first use). Called when compiling, never per request.
    pub fn get(&self, key: &str) -> Arc<Health> {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(key.to_string()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_then_single_probe_then_recovery() {
        let h = Health::default();
        assert!(h.selectable(0));
        h.begin();
        h.failure(Failure::ServerError, 1_000);
        assert!(!h.selectable(1_500), "cooling down");
        assert!(h.selectable(2_000), "cooldown over: probe allowed");
        h.begin();
        assert!(!h.selectable(2_000), "only one probe at a time");
        h.failure(Failure::Timeout, 2_100);
        assert!(!h.selectable(3_000), "second failure doubles the cooldown");
        assert!(h.selectable(4_100));
        h.begin();
        h.success(500);
        assert!(h.selectable(4_100), "recovered");
        h.begin();
        assert!(h.selectable(4_100), "healthy targets take concurrent requests");
        h.success(1_500);
        assert_eq!(h.inflight(), 0);
        assert_eq!(h.counters(), (4, 2, 2));
    }

    #[test]
    fn retry_after_sets_the_cooldown() {
        let h = Health::default();
        h.begin();
        h.failure(Failure::RateLimited(Some(5_000)), 0);
        assert!(h.cooling(4_999) && !h.cooling(5_000));
    }

    #[test]
    fn ewma_tracks_latency_and_errors() {
        let h = Health::default();
        h.begin();
        h.success(1_000);
        assert_eq!(h.latency_us(), 1_000.0);
        h.begin();
        h.success(2_000);
        assert!((h.latency_us() - 1_200.0).abs() < 1e-6);
        h.begin();
        h.failure(Failure::Connect, 0);
        assert!((h.error_rate() - 0.2).abs() < 1e-3);
    }

    #[test]
    fn registry_returns_the_same_entry() {
        let r = HealthRegistry::default();
        let a = r.get("x");
        a.begin();
        assert_eq!(r.get("x").inflight(), 1);
        assert_eq!(r.get("y").inflight(), 0);
    }

    #[test]
    fn counters_from_several_threads_add_up() {
        let h = Arc::new(Health::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        h.begin();
                        h.success(100);
                        h.record_usage(3, 2, 0.5, -0.25);
                    }
                    h.begin();
                    h.failure(Failure::ServerError, 0);
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(h.counters(), (4004, 4, 4));
        assert_eq!(h.usage_totals(), (12_000, 8_000, 2_000.0, -1_000.0));
        assert_eq!(h.inflight(), 0);
    }
}
