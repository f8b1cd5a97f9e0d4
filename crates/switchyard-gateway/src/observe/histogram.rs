//! The gateway's own time per request, excluding the upstream wait: from the request being
//! read to the upstream write being issued, plus from the upstream head being parsed to the
//! client write being issued. Kernel send time is left out: every proxy pays it, and it is in
//! the end-to-end numbers.
//! One histogram per worker, written only by its worker (plain relaxed load + store, no locked
//! instruction), merged when scraped.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Sub-buckets per power of two: about 6 % relative resolution.
const SUB: usize = 16;
/// Powers of two covered (1 ns to ~1 s, in nanoseconds).
const POWERS: usize = 31;
const BUCKETS: usize = POWERS * SUB;

/// A log-linear histogram of nanoseconds. Aligned so that per-worker histograms side by side do
/// not share the cache line of `sum_ns`, which every record writes.
#[repr(align(128))]
pub struct Histogram {
    counts: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(), sum_ns: AtomicU64::new(0) }
    }
}

fn bucket(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let power = 63 - ns.leading_zeros() as usize; // >= 4
    let sub = ((ns >> (power - 4)) & (SUB as u64 - 1)) as usize;
    ((power - 3) * SUB + sub).min(BUCKETS - 1)
}

/// Upper bound (ns) of a bucket.
fn upper(b: usize) -> u64 {
    if b < SUB {
        return b as u64 + 1;
    }
    let power = b / SUB + 3;
    let sub = (b % SUB) as u64;
    ((SUB as u64 + sub + 1) << (power - 4)).saturating_sub(0)
}

impl Histogram {
    /// Records one value; call only from the owning worker.
    pub fn record(&self, ns: u64) {
        let c = &self.counts[bucket(ns)];
        c.store(c.load(Relaxed) + 1, Relaxed);
        self.sum_ns.store(self.sum_ns.load(Relaxed) + ns, Relaxed);
    }

    /// Adds this histogram's counts into `into`.
    pub fn merge_into(&self, into: &mut [u64; BUCKETS], sum: &mut u64) {
        for (i, c) in self.counts.iter().enumerate() {
            into[i] += c.load(Relaxed);
        }
        *sum += self.sum_ns.load(Relaxed);
    }
}

/// Merged counts of several histograms.
pub struct Merged {
    counts: [u64; BUCKETS],
    sum_ns: u64,
}

impl Merged {
    /// Merges the per-worker histograms.
    pub fn of<'a>(hs: impl Iterator<Item = &'a Histogram>) -> Merged {
        let mut m = Merged { counts: [0; BUCKETS], sum_ns: 0 };
        for h in hs {
            h.merge_into(&mut m.counts, &mut m.sum_ns);
        }
        m
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The q-quantile in seconds (upper bound of its bucket).
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let rank = ((n as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i) as f64 / 1e9;
            }
        }
        upper(BUCKETS - 1) as f64 / 1e9
    }

    /// Values at or below `le_ns`.
    pub fn count_le(&self, le_ns: u64) -> u64 {
        self.counts.iter().enumerate().filter(|(i, _)| upper(*i) <= le_ns).map(|(_, c)| c).sum()
    }

    /// Sum in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_ns as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for ns in [0u64, 1, 15, 16, 17, 31, 32, 100, 1_000, 5_000, 12_345, 1_000_000, 999_999_999] {
            let b = bucket(ns);
            assert!(b >= last, "{ns}");
            last = b;
            let up = upper(b);
            assert!(up > ns, "{ns} -> bucket {b} upper {up}");
            assert!(up as f64 <= ns as f64 * 1.07 + 1.0, "{ns} -> {up}");
        }
    }

    #[test]
    fn quantiles() {
        let h = Histogram::default();
        for ns in 1..=1000u64 {
            h.record(ns * 1000);
        }
        let m = Merged::of([&h].into_iter());
        assert_eq!(m.count(), 1000);
        let p50 = m.quantile(0.5);
        assert!((p50 - 500e-6).abs() < 40e-6, "{p50}");
        let p99 = m.quantile(0.99);
        assert!((p99 - 990e-6).abs() < 70e-6, "{p99}");
        assert_eq!(m.count_le(10_000_000), 1000);
    }
}
