//! Rate and spend limits shared by all cores, as single atomics (no lock): a GCRA bucket for
//! requests and tokens per minute, and a spend counter that resets each UTC day or month.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// One minute in nanoseconds: the window of every per-minute limit.
pub const MINUTE_NS: u64 = 60_000_000_000;

/// A generic-cell-rate-algorithm bucket: `limit` units per minute, the whole minute's worth
/// available as a burst. The state is one "theoretical arrival time" in ns, so a check and its
/// charge are one compare-and-swap.
#[derive(Debug, Default)]
pub struct Gcra {
    tat_ns: AtomicU64,
}

impl Gcra {
    /// Takes `cost` units if they fit in the last minute's allowance; otherwise returns the
    /// nanoseconds until they would.
    pub fn acquire(&self, now_ns: u64, limit: u64, cost: u64) -> Result<(), u64> {
        let interval = MINUTE_NS / limit.max(1);
        let mut cur = self.tat_ns.load(Relaxed);
        loop {
            let new = cur.max(now_ns) + interval * cost;
            let allow_at = new.saturating_sub(MINUTE_NS);
            if now_ns < allow_at {
                return Err(allow_at - now_ns);
            }
            match self.tat_ns.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                Ok(_) => return Ok(()),
                Err(v) => cur = v,
            }
        }
    }

    /// Whether the allowance is already spent (a unit would not fit): the nanoseconds until it is not.
    pub fn check(&self, now_ns: u64, limit: u64) -> Result<(), u64> {
        let interval = MINUTE_NS / limit.max(1);
        let allow_at = (self.tat_ns.load(Relaxed).max(now_ns) + interval).saturating_sub(MINUTE_NS);
        if now_ns < allow_at { Err(allow_at - now_ns) } else { Ok(()) }
    }

    /// Units of the last minute's allowance in use at `now_ns` (0 when the bucket is full).
    pub fn used(&self, now_ns: u64, limit: u64) -> u64 {
        let interval = MINUTE_NS / limit.max(1);
        (self.tat_ns.load(Relaxed).saturating_sub(now_ns)).div_ceil(interval).min(limit)
    }

    /// Gives back `cost` units taken earlier (a reservation larger than what was used).
    pub fn refund(&self, limit: u64, cost: u64) {
        let interval = MINUTE_NS / limit.max(1);
        let _ = self.tat_ns.fetch_update(Relaxed, Relaxed, |cur| Some(cur.saturating_sub(interval * cost)));
    }

    /// Replaces the state with the fleet's (the sync task, between requests' compare-and-swaps:
    /// a unit taken in that instant is lost locally, never in the fleet's count).
    pub fn set_tat(&self, tat_ns: u64) {
        self.tat_ns.store(tat_ns, Relaxed);
    }

    /// Charges `cost` units unconditionally (tokens known only after the answer).
    pub fn charge(&self, now_ns: u64, limit: u64, cost: u64) {
        let interval = MINUTE_NS / limit.max(1);
        let _ = self.tat_ns.fetch_update(Relaxed, Relaxed, |cur| Some(cur.max(now_ns) + interval * cost));
    }
}

/// Spend in nano-USD within one period (a UTC day or month), reset when the period changes.
#[derive(Debug, Default)]
pub struct Spend {
    period: AtomicU64,
    nusd: AtomicU64,
}

impl Spend {
    /// Spent so far in `period`.
    pub fn spent(&self, period: u64) -> u64 {
        // Read the amount first: a concurrent roll-over then at worst shows the old period's
        // total, which errs on the side of refusing.
        let nusd = self.nusd.load(Relaxed);
        if self.period.load(Relaxed) == period { nusd } else { 0 }
    }

    /// Adds `nusd` to `period`'s total, starting a new total when the period changed.
    pub fn add(&self, period: u64, nusd: u64) {
        let seen = self.period.load(Relaxed);
        if seen != period && self.period.compare_exchange(seen, period, Relaxed, Relaxed).is_ok() {
            // The winner of the roll-over resets; adds racing with it may be lost (cents at most).
            self.nusd.store(nusd, Relaxed);
            return;
        }
        self.nusd.fetch_add(nusd, Relaxed);
    }
}

impl Spend {
    /// The period and total, for saving.
    pub fn snapshot(&self) -> (u64, u64) {
        (self.period.load(Relaxed), self.nusd.load(Relaxed))
    }

    /// Restores a saved period and total (at start, before requests).
    pub fn restore(&self, period: u64, nusd: u64) {
        self.period.store(period, Relaxed);
        self.nusd.store(nusd, Relaxed);
    }
}

/// Days since 1970-01-01 (UTC) for a Unix time in ms.
pub fn utc_day(unix_ms: u64) -> u64 {
    unix_ms / 86_400_000
}

/// Months since 1970-01 (UTC) for a Unix time in ms.
pub fn utc_month(unix_ms: u64) -> u64 {
    let (y, m, _) = civil_from_days(utc_day(unix_ms) as i64);
    ((y - 1970) * 12 + (m as i64 - 1)) as u64
}

/// Seconds until the next UTC midnight, and until the first of next month.
pub fn until_period_end(unix_ms: u64) -> (u64, u64) {
    let day = utc_day(unix_ms);
    let secs = unix_ms / 1000;
    let to_day = (day + 1) * 86_400 - secs;
    let (y, m, d) = civil_from_days(day as i64);
    let days_in_month =
        days_from_civil(if m == 12 { y + 1 } else { y }, if m == 12 { 1 } else { m + 1 }, 1) - days_from_civil(y, m, 1);
    let to_month = to_day + (days_in_month - d as i64) as u64 * 86_400;
    (to_day, to_month)
}

pub use switchyard_wire::time::civil_from_days;
use switchyard_wire::time::days_from_civil;

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn gcra_used_counts_the_allowance_taken_and_drains_at_the_rate() {
        let g = Gcra::default();
        let t0 = 1_000 * S;
        assert_eq!(g.used(t0, 60), 0);
        for _ in 0..20 {
            g.acquire(t0, 60, 1).unwrap();
        }
        assert_eq!(g.used(t0, 60), 20);
        assert_eq!(g.used(t0 + 5 * S, 60), 15, "one unit per second frees up");
        assert_eq!(g.used(t0 + 100 * S, 60), 0);
    }

    #[test]
    fn gcra_allows_a_minute_of_burst_then_the_steady_rate() {
        let g = Gcra::default();
        let t0 = 1_000 * S;
        for i in 0..60 {
            assert!(g.acquire(t0, 60, 1).is_ok(), "burst request {i}");
        }
        let wait = g.acquire(t0, 60, 1).unwrap_err();
        assert_eq!(wait, S, "the next unit frees up one interval later");
        assert!(g.acquire(t0 + S, 60, 1).is_ok());
        assert!(g.acquire(t0 + S, 60, 1).is_err());
        // After a quiet minute the whole burst is back, not more.
        let later = t0 + 200 * S;
        let ok = (0..100).filter(|_| g.acquire(later, 60, 1).is_ok()).count();
        assert_eq!(ok, 60);
    }

    #[test]
    fn token_budget_is_checked_then_charged() {
        let g = Gcra::default();
        let t0 = 5 * S;
        assert!(g.check(t0, 1000).is_ok());
        g.charge(t0, 1000, 999);
        assert!(g.check(t0, 1000).is_ok(), "one token of allowance left");
        g.charge(t0, 1000, 500);
        let wait = g.check(t0, 1000).unwrap_err();
        assert!((29 * S..=31 * S).contains(&wait), "about 500 tokens' worth of a minute: {wait}");
        assert!(g.check(t0 + wait, 1000).is_ok());
    }

    #[test]
    fn spend_resets_with_the_period() {
        let s = Spend::default();
        s.add(10, 5);
        s.add(10, 7);
        assert_eq!(s.spent(10), 12);
        assert_eq!(s.spent(11), 0);
        s.add(11, 1);
        assert_eq!(s.spent(11), 1);
        assert_eq!(s.spent(10), 0);
    }

    #[test]
    fn calendar_periods() {
        // 2026-11-28T12:00:00Z
        let ms = 1_795_867_200_000;
        assert_eq!(civil_from_days(utc_day(ms) as i64), (2026, 11, 28));
        assert_eq!(utc_month(ms), (2026 - 1970) * 12 + 10);
        let (to_day, to_month) = until_period_end(ms);
        assert_eq!(to_day, 12 * 3600);
        assert_eq!(to_month, 12 * 3600 + 2 * 86_400, "Nov 29 and 30 remain after today");
        // The last day of a month: one day to its end, then the next month's length.
        let (_, to_month) = until_period_end(1_796_083_200_000); // 2026-12-01T00:00:00Z
        assert_eq!(to_month, 31 * 86_400);
    }
}
