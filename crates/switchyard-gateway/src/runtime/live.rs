//! State shared by all workers: the live configuration (swapped whole on reload), DNS
//! answers resolved off the workers, and process-wide flags.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use switchyard_routing::{RouteId, TargetId};

use arc_swap::ArcSwap;
use switchyard_config::Config;
use switchyard_config::parse_key_hash;
use switchyard_config::{FileLoader, ServerConfig, UpstreamConfig};
use switchyard_guard::keys::{KeyRegistry, KeySet};
use switchyard_routing::RouteTable;
use switchyard_routing::health::HealthRegistry;

/// One compiled configuration; requests keep the `Arc` they started with.
pub struct Live {
    /// Models and providers.
    pub table: RouteTable,
    /// Client-side limits and timeouts.
    pub server: ServerConfig,
    /// Upstream pool settings.
    pub upstream: UpstreamConfig,
    /// TLS client for https providers.
    pub tls: monoio_rustls::TlsConnector,
    /// Request counters by (route, target): index `(route + 1) * targets + target`, route 0 = direct.
    pub counts: Vec<Arc<crate::observe::meters::Counts>>,
    /// Hash of the loaded configuration text.
    pub config_hash: String,
    /// Client keys (None: the API is open).
    pub keys: Option<KeySet>,
    /// Hash of the admin key.
    pub admin_key: Option<[u8; 32]>,
    /// `/metrics` on the client port needs no admin key (`[metrics] public`, or no client keys).
    pub metrics_public: bool,
    /// `[cache] share_across_keys`.
    pub cache_shared: bool,
    /// TLS on the client listener (`[server.tls]`), read again on each reload: connections
    /// already open keep the session they made.
    pub client_tls: Option<monoio_rustls::TlsAcceptor>,
}

impl Live {
    /// Whether `authorization` (a header value) carries the admin key.
    pub fn is_admin(&self, authorization: Option<&[u8]>) -> bool {
        let presented = authorization
            .map(|v| v.trim_ascii())
            .map(|v| if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") { v[7..].trim_ascii() } else { v });
        match (self.admin_key, presented) {
            (Some(expected), Some(p)) => switchyard_guard::keys::key_matches(p, &expected),
            _ => false,
        }
    }

    /// Counters for a request answered by `target` through `route` (None = direct).
    pub fn counts(&self, route: Option<RouteId>, target: TargetId) -> &crate::observe::meters::Counts {
        &self.counts[route.map_or(0, |r| r.index() + 1) * self.table.targets.len() + target.index()]
    }
}

impl Live {
    /// Compiles a validated config (reads the CA file and weight files, so call it off the
    /// workers); health comes from `health` so it carries over reloads.
    pub fn build(
        cfg: &Config,
        files: FileLoader<'_>,
        config_hash: String,
        health: &HealthRegistry,
        keys: &KeyRegistry,
        stats: &crate::observe::meters::Stats,
    ) -> Result<Live, String> {
        let tls = crate::runtime::tls::connector(cfg.upstream.ca_file.as_deref())
            .map_err(|e| format!("upstream.ca_file: {e}"))?;
        let client_tls = cfg.server.tls.as_ref().map(crate::runtime::tls::acceptor).transpose()?;
        let table = RouteTable::compile(cfg, files, health).map_err(|e| e.to_string())?;
        let mut counts = Vec::with_capacity((table.routes.len() + 1) * table.targets.len());
        for route in std::iter::once("direct").chain(table.routes.iter().map(|r| r.name.as_str())) {
            for t in &table.targets {
                counts.push(stats.counts(route, &t.name, &table.providers[t.provider].name));
            }
        }
        Ok(Live {
            table,
            server: cfg.server.clone(),
            upstream: cfg.upstream.clone(),
            tls,
            client_tls,
            counts,
            config_hash,
            keys: KeySet::compile(cfg, keys),
            admin_key: cfg.admin.as_ref().and_then(|a| a.key_hash.as_deref()).and_then(|h| parse_key_hash(h).ok()),
            metrics_public: cfg.metrics.public || cfg.keys.is_empty(),
            cache_shared: cfg.cache.share_across_keys,
        })
    }

    /// Host names the providers use.
    pub fn hosts(&self) -> Vec<String> {
        let mut h: Vec<String> = self.table.providers.iter().map(|p| p.endpoint.host.clone()).collect();
        h.sort();
        h.dedup();
        h
    }
}

/// Addresses per host name, refreshed by the control plane; workers only read.
#[derive(Default)]
pub struct Dns {
    map: ArcSwap<HashMap<String, Arc<[IpAddr]>>>,
}

impl Dns {
    /// Cached addresses of `host` (IP literals are entered by `refresh` too).
    pub fn lookup(&self, host: &str) -> Option<Arc<[IpAddr]>> {
        self.map.load().get(host).cloned()
    }

    /// Resolves `hosts` (blocking: control-plane threads only). Failures keep old answers.
    pub fn refresh(&self, hosts: &[String]) {
        let old = self.map.load_full();
        let mut next = HashMap::with_capacity(hosts.len());
        for host in hosts {
            let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => match (host.as_str(), 0).to_socket_addrs() {
                    Ok(addrs) => addrs.map(|a| a.ip()).collect(),
                    Err(e) => {
                        crate::warn!("dns: cannot resolve {host}: {e}");
                        Vec::new()
                    }
                },
            };
            if ips.is_empty() {
                if let Some(prev) = old.get(host) {
                    next.insert(host.clone(), prev.clone());
                }
            } else {
                next.insert(host.clone(), Arc::from(ips));
            }
        }
        self.map.store(Arc::new(next));
    }
}

/// One stored answer: whose it is, which upstream holds it too, and the conversation it ends.
pub struct StoredResponse {
    /// The client key's name ("" without keys): only it may continue the answer.
    pub owner: String,
    /// The Responses-capable provider that made the answer (None: translated by the gateway).
    pub provider: Option<String>,
    /// Every turn, hub-shaped, the answer's own last.
    pub conversation: Vec<serde_json::Value>,
}

/// Process-wide state handed to every worker.
pub struct Shared {
    /// The live configuration.
    pub live: ArcSwap<Live>,
    /// Resolved upstream addresses.
    pub dns: Dns,
    /// Set on SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit.
    pub shutdown: AtomicBool,
    /// Successful reloads.
    pub reloads_ok: AtomicU64,
    /// Rejected reloads (the previous table kept serving).
    pub reloads_failed: AtomicU64,
    /// Random per-process prefix of request ids.
    pub id_prefix: u32,
    /// The secret request ids are sealed with (drawn at start).
    pub id_seal: std::collections::hash_map::RandomState,
    /// Target health, kept across reloads.
    pub health: Arc<HealthRegistry>,
    /// Client key usage (rates, spend), kept across reloads.
    pub keys: Arc<KeyRegistry>,
    /// Requests refused for a missing or unknown key.
    pub auth_failures: AtomicU64,
    /// Client connections open across all workers (checked against `server.max_connections`).
    pub connections: std::sync::atomic::AtomicUsize,
    /// Connections refused at the cap.
    pub connections_refused: AtomicU64,
    /// Connections refused at `server.max_connections_per_address`.
    pub connections_refused_per_address: AtomicU64,
    /// TLS handshakes on the client listener that failed or missed the head deadline.
    pub tls_handshake_failures: AtomicU64,
    /// The process's resident memory, bytes, sampled off the workers every 100 ms.
    pub resident_bytes: AtomicU64,
    /// Requests answered 503 above `server.max_memory_bytes`.
    pub shed_for_memory: AtomicU64,
    /// Zero of the millisecond clock health cooldowns use.
    pub epoch: std::time::Instant,
    /// The response cache (sized at start; `[cache] max_bytes` changes need a restart).
    pub cache: switchyard_cache::cache::ResponseCache<switchyard_wire::render::RenderedAnswer>,
    /// Answers to `/v1/responses` kept for `previous_response_id` (sized at start).
    pub responses: switchyard_cache::cache::ResponseCache<StoredResponse>,
    /// How long a stored answer can be continued, ms (`responses.store_ttl_secs`).
    pub responses_ttl_ms: u64,
    /// Near-duplicate prompts of routes with `cache.similarity` (keys into `cache`).
    pub semantic: switchyard_cache::semantic_cache::SemanticIndex,
    /// Requests answered through `semantic`.
    pub semantic_hits: AtomicU64,
    /// Cascade and consensus counters by route name.
    pub strategies: crate::observe::meters::StrategyStats,
    /// The decision log, when configured.
    pub decisions: Option<crate::observe::decision_log::DecisionLog>,
    /// What the web console reads besides the meters.
    pub console: Arc<crate::observe::console::ConsoleState>,
    /// Request counters, gauges and latency histograms.
    pub stats: Arc<crate::observe::meters::Stats>,
    /// Fleet mode (`[fleet]`), when on.
    pub fleet: Option<crate::runtime::fleet::Fleet>,
}

impl Shared {
    /// The decision log, when records are wanted now: with `[log]`, or while a console is open.
    pub fn decision_log(&self) -> Option<&crate::observe::decision_log::DecisionLog> {
        self.decisions.as_ref().filter(|d| d.wants())
    }

    /// Milliseconds since start (monotonic), the clock of target cooldowns.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// [`Shared::now_ms`] at a time already read (no clock read).
    pub fn ms_at(&self, t: std::time::Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// The clocks client-key limits use: monotonic for rates, wall clock for budget periods.
    pub fn key_now(&self) -> switchyard_guard::keys::Now {
        switchyard_guard::keys::Now {
            // Offset by a minute so a fresh bucket is full at start.
            mono_ns: self.epoch.elapsed().as_nanos() as u64 + switchyard_guard::limits::MINUTE_NS,
            unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }
}
