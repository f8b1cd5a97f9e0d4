//! Orders a tier's targets for one request: healthy ones first, by the route's policy;
//! targets cooling down go last (tried only when nothing else is left).

use crate::ids::TargetId;
use crate::target::Target;
use switchyard_config::BalancePolicy;

/// Target indexes in the order to try them. Plans are short (a pick and its fallbacks), so up
/// to 8 live inline: deciding allocates nothing.
pub type Plan = smallvec::SmallVec<[TargetId; 8]>;

/// xorshift64: per-worker randomness for weighted and two-choice picks.
pub fn next_random(state: &mut u64) -> u64 {
    let mut x = *state | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Appends `candidates` to `out` in attempt order.
pub fn order(
    policy: BalancePolicy,
    candidates: &[TargetId],
    targets: &[Target],
    now_ms: u64,
    rng: &mut u64,
    out: &mut Plan,
) {
    let start = out.len();
    out.extend(candidates.iter().copied().filter(|&t| targets[t].health.selectable(now_ms)));
    let healthy = out.len();
    let price = |t: TargetId| targets[t].input_price + targets[t].output_price;
    let inflight = |t: TargetId| targets[t].health.inflight();
    let ready = &mut out[start..healthy];
    match policy {
        BalancePolicy::Cheapest => {
            ready.sort_by(|&a, &b| price(a).total_cmp(&price(b)).then(inflight(a).cmp(&inflight(b))));
        }
        BalancePolicy::LeastInflight => {
            ready.sort_by(|&a, &b| inflight(a).cmp(&inflight(b)).then(price(a).total_cmp(&price(b))));
        }
        BalancePolicy::Weighted => {
            // Weighted sampling without replacement: repeatedly draw one of the remaining.
            for i in 0..ready.len() {
                let total: u64 = ready[i..].iter().map(|&t| u64::from(targets[t].weight.max(1))).sum();
                let mut r = next_random(rng) % total;
                let mut pick = i;
                for (j, &t) in ready.iter().enumerate().skip(i) {
                    let w = u64::from(targets[t].weight.max(1));
                    if r < w {
                        pick = j;
                        break;
                    }
                    r -= w;
                }
                ready.swap(i, pick);
            }
        }
        BalancePolicy::Latency => {
            let lat = |t: TargetId| targets[t].health.latency_us();
            ready.sort_by(|&a, &b| lat(a).total_cmp(&lat(b)));
            if ready.len() >= 2 {
                // Power of two choices: two random candidates, the faster goes first, so a
                // slightly faster target does not take all the load.
                let n = ready.len() as u64;
                let a = (next_random(rng) % n) as usize;
                let mut b = (next_random(rng) % (n - 1)) as usize;
                if b >= a {
                    b += 1;
                }
                let first = if lat(ready[a]) <= lat(ready[b]) { a } else { b };
                let t = ready[first];
                ready.copy_within(0..first, 1);
                ready[0] = t;
            }
        }
    }
    out.extend(candidates.iter().copied().filter(|&t| !targets[t].health.selectable(now_ms)));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::health::{Failure, Health};

    fn target(name: &str, price: f64, weight: u32) -> Target {
        Target {
            name: name.into(),
            provider: 0,
            upstream_model: name.into(),
            upstream_model_json: Vec::new(),
            input_price: price,
            output_price: price,
            context_window: None,
            max_output_tokens: None,
            tags: Vec::new(),
            weight,
            fallbacks: Vec::new(),
            health: Arc::new(Health::default()),
        }
    }

    fn run(policy: BalancePolicy, ts: &[Target], rng: &mut u64) -> Vec<usize> {
        let mut out = Plan::new();
        order(policy, &(0..ts.len()).map(TargetId::at).collect::<Vec<_>>(), ts, 10_000, rng, &mut out);
        out.iter().map(|t| t.index()).collect()
    }

    #[test]
    fn cheapest_first_and_cooling_last() {
        let ts = vec![target("a", 3.0, 1), target("b", 1.0, 1), target("c", 2.0, 1)];
        assert_eq!(run(BalancePolicy::Cheapest, &ts, &mut 7), vec![1, 2, 0]);
        ts[1].health.begin();
        ts[1].health.failure(Failure::ServerError, 9_900);
        assert_eq!(run(BalancePolicy::Cheapest, &ts, &mut 7), vec![2, 0, 1]);
    }

    #[test]
    fn least_inflight() {
        let ts = vec![target("a", 1.0, 1), target("b", 2.0, 1)];
        ts[0].health.begin();
        ts[0].health.begin();
        ts[1].health.begin();
        assert_eq!(run(BalancePolicy::LeastInflight, &ts, &mut 7)[0], 1);
    }

    #[test]
    fn weighted_follows_weights() {
        let ts = vec![target("a", 1.0, 1), target("b", 1.0, 3)];
        let mut rng = 12345;
        let firsts_b = (0..4000).filter(|_| run(BalancePolicy::Weighted, &ts, &mut rng)[0] == 1).count();
        assert!((2800..3200).contains(&firsts_b), "{firsts_b}");
    }

    #[test]
    fn latency_prefers_faster_but_spreads() {
        let ts = vec![target("slow", 1.0, 1), target("fast", 1.0, 1), target("mid", 1.0, 1)];
        for (t, us) in [(0, 9_000), (1, 1_000), (2, 3_000)] {
            ts[t].health.begin();
            ts[t].health.success(us);
        }
        let mut rng = 99;
        let mut firsts = [0; 3];
        for _ in 0..3000 {
            firsts[run(BalancePolicy::Latency, &ts, &mut rng)[0]] += 1;
        }
        // The fastest wins every pair it is in (2/3 of draws); the slowest never goes first.
        assert!(firsts[1] > 1800 && firsts[0] == 0, "{firsts:?}");
        assert!(firsts[2] > 700, "{firsts:?}");
    }
}
