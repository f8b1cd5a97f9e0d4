//! Reloading: read, validate and compile the configuration off the workers, then swap it in
//! whole. A bad file changes nothing. In fleet mode the keys created at run time are merged in
//! on every compile, and a change to them recompiles the last configuration loaded.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use switchyard_config::{Config, parse_key_hash, validate_key};

use crate::control::source::{Overrides, Source, apply};
use crate::observe::console::{ReloadEvent, unix_ms};
use crate::runtime::fleet::KeyOverlay;
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
    /// The configuration last loaded (overrides applied, run-time keys not merged).
    loaded: Mutex<Config>,
}

impl Control {
    /// The control plane over `shared`, which was built from `cfg` (loaded from `source` with
    /// `overrides`).
    pub fn new(source: Source, overrides: Overrides, shared: Arc<Shared>, cfg: Config) -> Control {
        Control { source, overrides, shared, loaded: Mutex::new(cfg) }
    }

    /// The configuration last loaded.
    pub fn loaded(&self) -> Config {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Control {
    /// Re-reads the configuration and swaps it in; a bad file leaves the old table serving.
    /// Returns the number of models now served.
    pub fn reload(&self) -> Result<usize, String> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.source.load().and_then(|mut cfg| {
            apply(&mut cfg, &self.overrides)?;
            let live = self.compile(&cfg)?;
            Ok((cfg, live))
        });
        match result {
            Ok((cfg, live)) => {
                *loaded = cfg;
                self.shared.console.push_reload(ReloadEvent {
                    t_ms: unix_ms(),
                    hash: Some(live.config_hash.clone()),
                    error: None,
                });
                let (models, routes) = (live.table.targets.len(), live.table.routes.len());
                self.swap(live);
                self.shared.reloads_ok.fetch_add(1, Ordering::Relaxed);
                crate::info!("reload ok: {models} models, {routes} routes");
                Ok(models)
            }
            Err(e) => {
                self.shared.reloads_failed.fetch_add(1, Ordering::Relaxed);
                self.shared.console.push_reload(ReloadEvent { t_ms: unix_ms(), hash: None, error: Some(e.clone()) });
                crate::error!("reload failed, keeping the previous configuration: {e}");
                Err(e)
            }
        }
    }

    /// Recompiles the configuration last loaded with the fleet's current run-time keys (a key
    /// was created, rotated or revoked somewhere in the fleet).
    pub fn rekey(&self) -> Result<(), String> {
        let loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let live = self.compile(&loaded)?;
        self.swap(live);
        Ok(())
    }

    /// `cfg` with the run-time keys merged, compiled; new hosts resolved.
    fn compile(&self, cfg: &Config) -> Result<Live, String> {
        let shared = &self.shared;
        let merged;
        let cfg = match &shared.fleet {
            Some(f) => {
                merged = with_overlay(cfg, &f.overlay.lock().unwrap_or_else(|e| e.into_inner()));
                &merged
            }
            None => cfg,
        };
        let live = Live::build(
            cfg,
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
    }

    fn swap(&self, live: Live) {
        self.shared.live.store(Arc::new(live));
    }
}

/// `cfg` with the fleet's run-time keys added and every revoked hash removed. A run-time key
/// that no longer fits the configuration (its model was removed) is left out with a warning; a
/// run-time key takes a config key's name only when that key is revoked.
pub fn with_overlay(cfg: &Config, overlay: &KeyOverlay) -> Config {
    let mut out = cfg.clone();
    let revoked: std::collections::HashSet<[u8; 32]> =
        overlay.revoked.iter().filter_map(|h| parse_key_hash(h).ok()).collect();
    let is_revoked = |h: &str| parse_key_hash(h).is_ok_and(|h| revoked.contains(&h));
    out.keys.retain(|_, k| !is_revoked(&k.key_hash));
    let taken: std::collections::HashSet<[u8; 32]> =
        out.keys.values().filter_map(|k| parse_key_hash(&k.key_hash).ok()).collect();
    for (name, k) in &overlay.keys {
        if is_revoked(&k.key_hash) || out.keys.contains_key(name) {
            continue;
        }
        match validate_key(cfg, name, k) {
            Ok(h) if !taken.contains(&h) => {
                out.keys.insert(name.clone(), k.clone());
            }
            Ok(_) => crate::warn!("fleet: run-time key `{name}` has the hash of a config key; left out"),
            Err(e) => crate::warn!("fleet: run-time key left out: {e}"),
        }
    }
    out
}
