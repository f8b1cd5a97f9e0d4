//! Fleet mode's sync thread: one Redis connection, one pipelined round every
//! `sync_interval_ms`, reconnecting with backoff. Requests never wait on it: they admit from
//! local atomics that each round brings up to date (`switchyard_guard::fleet`).

pub mod cache;
pub mod keys;
pub mod store;
pub mod sync;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::control::reload::Control;
use store::Store;
use sync::Syncer;

/// The running sync thread.
pub struct FleetThread {
    stop: Arc<AtomicBool>,
    join: std::thread::JoinHandle<()>,
}

impl FleetThread {
    /// Stops the thread after one last flush (call once the workers have finished, so every
    /// request's charge is in it).
    pub fn finish(self) {
        self.stop.store(true, Relaxed);
        let _ = self.join.join();
    }
}

/// The sync loop's connection and what it logs on a change of state.
struct Link {
    client: redis::Client,
    store: Option<Store>,
    up: bool,
    backoff: Duration,
    shown: String,
}

/// Starts fleet mode: one round now (so budgets, cooldowns and run-time keys are the fleet's
/// before the first request; a store that is down only delays that), then the thread.
pub fn start(control: &Arc<Control>) -> Result<Option<FleetThread>, String> {
    let Some(f) = &control.shared.fleet else { return Ok(None) };
    let shown = switchyard_config::parse_redis_url(&f.config.redis).map(|a| a.to_string()).unwrap_or_default();
    let mut link = Link { client: store::client(&f.config)?, store: None, up: false, backoff: Duration::ZERO, shown };
    let mut syncer = Syncer::new(&f.config.prefix);
    let _ = one_round(control, &mut link, &mut syncer);
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (control.clone(), stop.clone());
    let join = std::thread::Builder::new()
        .name("switchyard-fleet".into())
        .spawn(move || run(&c, &mut link, &mut syncer, &s))
        .map_err(|e| format!("cannot start the fleet thread: {e}"))?;
    Ok(Some(FleetThread { stop, join }))
}

fn run(control: &Control, link: &mut Link, syncer: &mut Syncer, stop: &AtomicBool) {
    let Some(f) = &control.shared.fleet else { return };
    let every = Duration::from_millis(f.config.sync_interval_ms);
    loop {
        let stopping = stop.load(Relaxed);
        let started = Instant::now();
        let ok = one_round(control, link, syncer);
        if stopping {
            if !ok {
                crate::warn!(
                    "fleet: the last flush before exit failed; this process's use since the last sync is not in the store"
                );
            }
            return;
        }
        let wait = if ok { every } else { link.backoff.max(every) };
        std::thread::sleep(wait.saturating_sub(started.elapsed()));
    }
}

/// Connects when needed and runs one round; returns whether it succeeded.
fn one_round(control: &Control, link: &mut Link, syncer: &mut Syncer) -> bool {
    let Some(f) = &control.shared.fleet else { return false };
    if link.store.is_none() {
        match store::connect(&link.client, &f.config) {
            Ok(s) => {
                link.store = Some(s);
                f.stats.connects.fetch_add(1, Relaxed);
            }
            Err(e) => {
                down(control, link, &store::describe(&e));
                return false;
            }
        }
    }
    let Some(s) = link.store.as_mut() else { return false };
    match syncer.round(s, &control.shared, f) {
        Ok(outcome) => {
            f.stats.syncs.fetch_add(1, Relaxed);
            f.stats.last_ok_unix_ms.store(sync::unix_ms(), Relaxed);
            if outcome.keys_changed
                && let Err(e) = keys::refresh(control, &mut s.con)
            {
                crate::warn!("fleet: cannot apply the fleet's keys: {e}");
            }
            if !link.up {
                link.up = true;
                link.backoff = Duration::ZERO;
                f.connected.store(true, Relaxed);
                crate::info!(
                    "fleet: connected to {} as replica {}, syncing every {} ms",
                    link.shown,
                    f.replica,
                    f.config.sync_interval_ms
                );
            }
            true
        }
        Err(e) => {
            f.stats.sync_errors.fetch_add(1, Relaxed);
            link.store = None;
            down(control, link, &store::describe(&e));
            false
        }
    }
}

/// Marks the store unreachable (logged once per outage) and lengthens the backoff.
fn down(control: &Control, link: &mut Link, why: &str) {
    let Some(f) = &control.shared.fleet else { return };
    f.connected.store(false, Relaxed);
    link.backoff = (link.backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
    if link.up || f.stats.connects.load(Relaxed) == 0 && link.backoff == Duration::from_millis(50) {
        let p = f.policies();
        crate::warn!(
            "fleet: cannot reach {}: {why}; serving on local state (limits: {:?}, keys: {:?} on failure)",
            link.shown,
            p.limits,
            p.keys
        );
    }
    link.up = false;
}
