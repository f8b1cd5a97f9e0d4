//! One snapshot of the totals a second while a console is open, on a thread of its own; with
//! no console it wakes once a second to find that out and does nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::observe::console::{OWN_TIME_BOUNDS_NS, Snapshot, unix_ms};
use crate::runtime::live::Shared;

/// Starts the sampler thread.
pub fn spawn(shared: Arc<Shared>) {
    let started = std::thread::Builder::new().name("switchyard-console".into()).spawn(move || {
        while !shared.shutdown.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
            if shared.console.still_watched(unix_ms()) {
                shared.console.push_snapshot(snapshot(&shared));
            }
        }
    });
    if started.is_err() {
        crate::warn!("console: cannot start the sampler thread; the overview shows totals only");
    }
}

/// The totals now, summed over workers.
pub fn snapshot(shared: &Shared) -> Snapshot {
    let live = shared.live.load();
    let n = live.table.targets.len();
    let (mut by_route, mut by_model) = (BTreeMap::<String, u64>::new(), BTreeMap::<String, u64>::new());
    let mut s = Snapshot { t_ms: unix_ms(), ..Snapshot::default() };
    for (i, c) in live.counts.iter().enumerate() {
        let t = c.totals();
        let sum: u64 = t.iter().sum();
        if sum == 0 {
            continue;
        }
        s.requests += sum;
        s.errors += t[2] + t[3];
        let route = if i < n { "direct" } else { live.table.routes[i / n - 1].name.as_str() };
        *by_route.entry(route.to_string()).or_default() += sum;
        *by_model.entry(live.table.targets[i % n].name.clone()).or_default() += sum;
    }
    let rejected = shared.stats.rejected.totals();
    s.requests += rejected.iter().sum::<u64>();
    s.errors += rejected[2] + rejected[3];
    for t in &live.table.targets {
        let (prompt, completion, cost, savings) = t.health.usage_totals();
        s.prompt_tokens += prompt;
        s.completion_tokens += completion;
        s.cost_usd += cost;
        s.savings_usd += savings;
    }
    let own = crate::observe::histogram::Merged::of(shared.stats.each(|c| &c.overhead));
    s.own_le = OWN_TIME_BOUNDS_NS.iter().map(|&b| own.count_le(b)).chain([own.count()]).collect();
    s.by_route = by_route.into_iter().collect();
    s.by_model = by_model.into_iter().collect();
    s
}
