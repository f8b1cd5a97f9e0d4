//! What the web console reads besides the meters: the recent decision records, one-second
//! snapshots of the totals, and the reload history. The request path only ever reads
//! `watched` (one relaxed load, through the decision log): while no console polls, no record
//! is built for it and no snapshot is taken.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};

/// Decision records kept for the console.
pub const RECENT: usize = 1000;
/// Snapshots kept: ten minutes at one a second.
pub const HISTORY: usize = 600;
/// A console counts as open this long after its last poll.
pub const WATCH_MS: u64 = 60_000;

/// Totals at one instant, summed over workers (deltas of two give one interval).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Wall-clock time, Unix ms.
    pub t_ms: u64,
    /// Answered and refused chat requests.
    pub requests: u64,
    /// Of them, 429 and 5xx.
    pub errors: u64,
    /// Tokens of answered requests.
    pub prompt_tokens: u64,
    /// Tokens of answered requests.
    pub completion_tokens: u64,
    /// Cost at the configured prices, USD.
    pub cost_usd: f64,
    /// Against each route's baseline model, USD.
    pub savings_usd: f64,
    /// Own-time histogram: requests at or under each of `OWN_TIME_BOUNDS_NS`, then all.
    pub own_le: Vec<u64>,
    /// Requests by route name (`direct` for models asked by name).
    pub by_route: Vec<(String, u64)>,
    /// Requests by model name.
    pub by_model: Vec<(String, u64)>,
}

/// Bucket bounds of the own-time quantiles the console shows (the `/metrics` histogram's).
pub const OWN_TIME_BOUNDS_NS: [u64; 30] = [
    500, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000, 11_000, 12_000, 15_000, 20_000,
    25_000, 30_000, 40_000, 50_000, 75_000, 100_000, 150_000, 200_000, 300_000, 500_000, 1_000_000, 2_000_000,
    5_000_000, 10_000_000,
];

/// The `q` quantile (µs, a bucket's upper bound) of the requests counted in `le` (cumulative
/// counts at `OWN_TIME_BOUNDS_NS`, then the total); None without requests.
pub fn own_quantile_us(le: &[u64], q: f64) -> Option<f64> {
    let total = *le.last()?;
    if total == 0 {
        return None;
    }
    let want = (q * total as f64).ceil() as u64;
    let i = le.iter().position(|&c| c >= want)?;
    Some(OWN_TIME_BOUNDS_NS.get(i).map_or(f64::INFINITY, |&ns| ns as f64 / 1e3))
}

/// One configuration load.
#[derive(Debug, Clone)]
pub struct ReloadEvent {
    /// Unix ms.
    pub t_ms: u64,
    /// The hash of the loaded text, when it loaded.
    pub hash: Option<String>,
    /// Why it did not.
    pub error: Option<String>,
}

/// Reload events kept.
const RELOADS: usize = 50;

/// The console's state, process-wide.
#[derive(Debug, Default)]
pub struct ConsoleState {
    /// A console polled within `WATCH_MS` (the decision log then builds records for it).
    pub watched: AtomicBool,
    last_poll_ms: AtomicU64,
    recent: Mutex<Recent>,
    history: Mutex<VecDeque<Snapshot>>,
    reloads: Mutex<VecDeque<ReloadEvent>>,
    /// The client listener's address, and whether it speaks TLS (the console's "send").
    pub client: std::sync::OnceLock<(std::net::SocketAddr, bool)>,
}

#[derive(Debug, Default)]
struct Recent {
    next: u64,
    items: VecDeque<(u64, String)>,
}

/// Unix milliseconds now.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl ConsoleState {
    /// A console asked for data at `now_ms` (Unix ms); false when none was open before.
    pub fn polled(&self, now_ms: u64) -> bool {
        self.last_poll_ms.store(now_ms, Relaxed);
        self.watched.swap(true, Relaxed)
    }

    /// Whether a console polled recently; clears `watched` once none has for `WATCH_MS`.
    pub fn still_watched(&self, now_ms: u64) -> bool {
        let on = now_ms.saturating_sub(self.last_poll_ms.load(Relaxed)) < WATCH_MS;
        if !on {
            self.watched.store(false, Relaxed);
        }
        on
    }

    /// Keeps a decision record (the writer thread, never a worker).
    pub fn push_record(&self, line: String) {
        let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let seq = r.next;
        r.next += 1;
        if r.items.len() == RECENT {
            r.items.pop_front();
        }
        r.items.push_back((seq, line));
    }

    /// Records with a sequence number of at least `after`, and the next number.
    pub fn records_after(&self, after: u64) -> (Vec<(u64, String)>, u64) {
        let r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        (r.items.iter().filter(|(s, _)| *s >= after).cloned().collect(), r.next)
    }

    /// Adds a snapshot, dropping those older than `HISTORY` seconds.
    pub fn push_snapshot(&self, s: Snapshot) {
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = s.t_ms.saturating_sub(HISTORY as u64 * 1000);
        while h.front().is_some_and(|f| f.t_ms < oldest) || h.len() > HISTORY {
            h.pop_front();
        }
        h.push_back(s);
    }

    /// The kept snapshots, oldest first.
    pub fn history(&self) -> Vec<Snapshot> {
        self.history.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }

    /// Notes a configuration load.
    pub fn push_reload(&self, e: ReloadEvent) {
        let mut r = self.reloads.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() == RELOADS {
            r.pop_front();
        }
        r.push_back(e);
    }

    /// Loads, oldest first.
    pub fn reloads(&self) -> Vec<ReloadEvent> {
        self.reloads.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_read_the_bucket_bound_of_the_rank() {
        let mut le = vec![0u64; OWN_TIME_BOUNDS_NS.len() + 1];
        // 90 requests at ≤ 5 µs, 10 more at ≤ 20 µs.
        for (i, b) in OWN_TIME_BOUNDS_NS.iter().enumerate() {
            le[i] = if *b >= 20_000 {
                100
            } else if *b >= 5_000 {
                90
            } else {
                0
            };
        }
        le[OWN_TIME_BOUNDS_NS.len()] = 100;
        assert_eq!(own_quantile_us(&le, 0.5), Some(5.0));
        assert_eq!(own_quantile_us(&le, 0.99), Some(20.0));
        assert_eq!(own_quantile_us(&vec![0; 31], 0.5), None);
    }

    #[test]
    fn records_are_numbered_and_the_oldest_dropped() {
        let c = ConsoleState::default();
        for i in 0..RECENT + 5 {
            c.push_record(format!("{{\"n\":{i}}}"));
        }
        let (all, next) = c.records_after(0);
        assert_eq!(all.len(), RECENT);
        assert_eq!(all[0].0, 5);
        assert_eq!(next, RECENT as u64 + 5);
        let (tail, _) = c.records_after(next - 2);
        assert_eq!(tail.iter().map(|r| r.0).collect::<Vec<_>>(), vec![next - 2, next - 1]);
    }

    #[test]
    fn watching_lapses_a_minute_after_the_last_poll() {
        let c = ConsoleState::default();
        assert!(!c.watched.load(Relaxed));
        c.polled(1_000_000);
        assert!(c.still_watched(1_000_000 + WATCH_MS - 1));
        assert!(c.watched.load(Relaxed));
        assert!(!c.still_watched(1_000_000 + WATCH_MS));
        assert!(!c.watched.load(Relaxed));
    }

    #[test]
    fn history_keeps_ten_minutes() {
        let c = ConsoleState::default();
        for s in 0..700u64 {
            c.push_snapshot(Snapshot { t_ms: s * 1000, ..Snapshot::default() });
        }
        let h = c.history();
        assert!(h.len() <= HISTORY + 1);
        assert_eq!(h.last().map(|s| s.t_ms), Some(699_000));
        assert!(h[0].t_ms >= 99_000);
    }
}
