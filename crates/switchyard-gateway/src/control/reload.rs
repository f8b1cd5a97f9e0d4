//! Reloading: read, validate and compile the configuration off the workers, then swap it in
//! whole. A bad file changes nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::control::source::{Overrides, Source, apply};
use crate::runtime::live::{Live, Shared};

/// The control plane: what reloads need, serialised so SIGHUP and the admin endpoint never
/// compile at the same time.
pub struct Control {
    /// Where the configuration comes from.
    pub source: Source,
    /// Command-line overrides applied on every load.
    pub overrides: Overrides,
    /// State shared with the workers.
    pub shared: Arc<Shared>,
    lock: std::sync::Mutex<()>,
}

impl Control {
    /// The control plane over `shared`, loading from `source` with `overrides`.
    pub fn new(source: Source, overrides: Overrides, shared: Arc<Shared>) -> Control {
        Control { source, overrides, shared, lock: Default::default() }
    }
}

impl Control {
    /// Re-reads the configuration and swaps it in; a bad file leaves the old table serving.
    /// Returns the number of models now served.
    pub fn reload(&self) -> Result<usize, String> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let shared = &self.shared;
        let result = self.source.load().and_then(|mut cfg| {
            apply(&mut cfg, &self.overrides)?;
            let live = Live::build(
                &cfg,
                &|name| self.source.read_file(name),
                self.source.hash(),
                &shared.health,
                &shared.keys,
                &shared.stats,
            )?;
            // Resolve new hosts before the swap so no request meets an unknown host.
            let mut hosts = live.hosts();
            hosts.extend(shared.live.load().hosts());
            hosts.sort();
            hosts.dedup();
            shared.dns.refresh(&hosts);
            Ok(live)
        });
        match result {
            Ok(live) => {
                let models = live.table.targets.len();
                let routes = live.table.routes.len();
                shared.live.store(Arc::new(live));
                shared.reloads_ok.fetch_add(1, Ordering::Relaxed);
                crate::info!("reload ok: {models} models, {routes} routes");
                Ok(models)
            }
            Err(e) => {
                shared.reloads_failed.fetch_add(1, Ordering::Relaxed);
                crate::error!("reload failed, keeping the previous configuration: {e}");
                Err(e)
            }
        }
    }
}
