//! Fleet-wide limits without waiting on the store: each process admits from its own atomics
//! (the code every request runs is unchanged), while a sync task flushes what this process
//! used since the last flush and writes the fleet's totals back into those atomics. This module
//! is the arithmetic of that exchange; the gateway does the I/O.
//!
//! Overshoot: in the time `L` between two syncs (the interval plus one round trip) a process
//! cannot see what the others admitted, so across `N` processes a limit can be exceeded by at
//! most what the other `N − 1` admit for the key within `L` each (docs/operations.md).

use std::sync::atomic::Ordering::Relaxed;

use crate::keys::{ClientKey, Now};
use crate::limits::{MINUTE_NS, utc_day, utc_month};

/// Monotonic totals of one key since this process started: the sync flushes differences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    /// Requests admitted.
    pub requests: u64,
    /// Tokens charged.
    pub tokens: u64,
    /// Spend charged, nano-USD.
    pub nusd: u64,
}

impl UsageTotals {
    /// What was used between `earlier` and `self`.
    pub fn since(self, earlier: UsageTotals) -> UsageTotals {
        UsageTotals {
            requests: self.requests.saturating_sub(earlier.requests),
            tokens: self.tokens.saturating_sub(earlier.tokens),
            nusd: self.nusd.saturating_sub(earlier.nusd),
        }
    }

    /// Nothing used.
    pub fn is_zero(&self) -> bool {
        *self == UsageTotals::default()
    }
}

/// One key's fleet-wide state as the store returns it after a flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetView {
    /// How far the fleet's requests-per-minute bucket runs ahead of the store's clock, ns (0:
    /// a full minute's burst is available).
    pub requests_ahead_ns: u64,
    /// The same for tokens per minute.
    pub tokens_ahead_ns: u64,
    /// Fleet spend today (UTC), nano-USD.
    pub day_nusd: u64,
    /// Fleet spend this month (UTC), nano-USD.
    pub month_nusd: u64,
}

impl ClientKey {
    /// The key's totals for the sync to flush.
    pub fn totals(&self) -> UsageTotals {
        let u = &*self.usage;
        UsageTotals {
            requests: u.admitted.load(Relaxed),
            tokens: u.tokens_total.load(Relaxed),
            nusd: u.spend_nusd.load(Relaxed),
        }
    }

    /// Whether the fleet needs this key synced even when idle here: others may be using its
    /// limits.
    pub fn is_limited(&self) -> bool {
        self.rpm().is_some() || self.has_limits()
    }

    /// Writes the fleet's state into the local limiters: the fleet's totals (which include
    /// every flush so far, this process's too) plus what this process used since its last
    /// flush (`unflushed`) and holds for requests in flight.
    pub fn apply_fleet(&self, view: &FleetView, unflushed: UsageTotals, now: Now) {
        let u = &*self.usage;
        if let Some(rpm) = self.rpm() {
            let interval = MINUTE_NS / rpm.max(1);
            u.requests_bucket().set_tat(now.mono_ns + view.requests_ahead_ns + unflushed.requests * interval);
        }
        if let Some(tpm) = self.tpm() {
            let interval = MINUTE_NS / tpm.max(1);
            let held = u.reserved_tokens.load(Relaxed).min(tpm);
            u.tokens_bucket().set_tat(now.mono_ns + view.tokens_ahead_ns + (unflushed.tokens + held) * interval);
        }
        u.daily_spend().restore(utc_day(now.unix_ms), view.day_nusd + unflushed.nusd);
        u.monthly_spend().restore(utc_month(now.unix_ms), view.month_nusd + unflushed.nusd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyRegistry, KeySet, format_key_hash, hash_key};
    use switchyard_config::Config;

    fn key(extra: &str) -> KeySet {
        let h = format_key_hash(&hash_key(b"k"));
        let text = format!(
            "[providers.p]\nbase_url = \"http://127.0.0.1:9/v1\"\n[models.m]\nprovider = \"p\"\n[keys.k]\nkey_hash = \"{h}\"\n{extra}"
        );
        KeySet::compile(&Config::parse(&text, &|_| None).unwrap(), &KeyRegistry::default()).unwrap()
    }

    fn now(s: u64) -> Now {
        Now { mono_ns: MINUTE_NS + s * 1_000_000_000, unix_ms: 1_795_867_200_000 + s * 1000 }
    }

    #[test]
    fn the_fleets_use_is_seen_locally() {
        let set = key("rpm = 10\nbudget_daily_usd = 1.0\n");
        let k = &set.keys[0];
        // Another process used 8 of the 10 requests and $0.99 of the budget.
        let view = FleetView {
            requests_ahead_ns: 8 * MINUTE_NS / 10,
            tokens_ahead_ns: 0,
            day_nusd: 990_000_000,
            month_nusd: 990_000_000,
        };
        k.apply_fleet(&view, UsageTotals::default(), now(0));
        assert!(k.admit("m", now(0)).is_ok());
        assert!(k.admit("m", now(0)).is_ok());
        assert_eq!(k.admit("m", now(0)).unwrap_err().status, 429, "two were left fleet-wide");
        let e = k.reserve(0, 20_000_000, now(0)).unwrap_err();
        assert_eq!(e.status, 402, "$0.02 more does not fit in the $0.01 left");
    }

    #[test]
    fn unflushed_use_is_not_forgotten_when_the_fleet_view_arrives() {
        let set = key("rpm = 10\n");
        let k = &set.keys[0];
        let flushed = k.totals();
        for _ in 0..4 {
            k.admit("m", now(0)).unwrap();
        }
        let unflushed = k.totals().since(flushed);
        assert_eq!(unflushed.requests, 4);
        // The fleet has seen none of them yet: the local four still count.
        k.apply_fleet(&FleetView::default(), unflushed, now(0));
        let ok = (0..10).filter(|_| k.admit("m", now(0)).is_ok()).count();
        assert_eq!(ok, 6);
    }
}
