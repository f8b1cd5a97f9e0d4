//! What the workers see of fleet mode: whether the store is reachable, the failure policy, the
//! counters of what was decided while it was not, and the queue of cache entries to share.
//! The sync itself (`control::fleet`) runs on its own thread; a worker only loads an atomic.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};

use switchyard_config::{FailurePolicies, FailurePolicy, FleetConfig, KeyConfig};
use switchyard_guard::keys::ClientKey;
use switchyard_wire::ApiError;
use switchyard_wire::Completion;

/// A cache entry for the other processes.
pub struct SharedEntry {
    /// The canonical key.
    pub key: Vec<u8>,
    /// The answer.
    pub completion: Completion,
    /// Model (config name) and provider that answered.
    pub model: String,
    /// Its provider.
    pub provider: String,
    /// Unix ms when it expires.
    pub expires_unix_ms: u64,
}

/// Cache entries queued for the sync thread; more are dropped (and counted).
pub const SHARE_QUEUE: usize = 4096;

/// Keys created at run time and revoked hashes, as last read from the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyOverlay {
    /// Keys created through the admin API, by name.
    pub keys: BTreeMap<String, KeyConfig>,
    /// Hashes (`sha256:…`) refused fleet-wide, config keys' included.
    pub revoked: Vec<String>,
}

/// Which concern a fail-open or fail-closed decision was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    /// A key's rpm, tpm or budgets.
    Limits = 0,
    /// Whether a key is still valid.
    Keys = 1,
}

/// Counters of the fleet sync, read by `/metrics`.
#[derive(Debug, Default)]
pub struct FleetStats {
    /// Successful syncs.
    pub syncs: AtomicU64,
    /// Syncs that failed (connection lost, timeout, error reply).
    pub sync_errors: AtomicU64,
    /// Connections made (the first one and every reconnect).
    pub connects: AtomicU64,
    /// Flushes sent again after a failure and acknowledged (counted once each, never twice).
    pub reconciliations: AtomicU64,
    /// The last sync's round trip, µs.
    pub last_sync_us: AtomicU64,
    /// Unix ms of the last successful sync.
    pub last_ok_unix_ms: AtomicU64,
    /// Requests admitted on local state while the store was unreachable, by concern.
    pub fail_open: [AtomicU64; 2],
    /// Requests refused (503) while the store was unreachable, by concern.
    pub fail_closed: [AtomicU64; 2],
    /// Cooldowns published to, and taken from, the other processes.
    pub cooldowns_published: AtomicU64,
    /// Cooldowns taken from the other processes.
    pub cooldowns_received: AtomicU64,
    /// Cache entries sent to, and received from, the other processes.
    pub cache_published: AtomicU64,
    /// Cache entries received.
    pub cache_received: AtomicU64,
    /// Cache entries dropped because the queue was full.
    pub cache_dropped: AtomicU64,
    /// Processes in the fleet (heartbeats within the last 5 s).
    pub replicas: AtomicU64,
    /// Key set changes applied (created, rotated, revoked anywhere in the fleet).
    pub key_updates: AtomicU64,
}

/// Fleet mode's process-wide state.
pub struct Fleet {
    /// The `[fleet]` section the process started with (a reload does not move it to another
    /// store).
    pub config: FleetConfig,
    /// This process's id in the store (random per start).
    pub replica: String,
    /// The last sync succeeded and the connection is up.
    pub connected: AtomicBool,
    /// Counters.
    pub stats: FleetStats,
    /// Run-time keys and revocations (control plane only).
    pub overlay: Mutex<KeyOverlay>,
    /// Cache entries to share (`[fleet] share_cache`).
    pub share: Option<(crossbeam_channel::Sender<SharedEntry>, crossbeam_channel::Receiver<SharedEntry>)>,
}

impl Fleet {
    /// Fleet state for `config`, not yet connected.
    pub fn new(config: FleetConfig) -> Fleet {
        let replica = format!("{:016x}", std::collections::hash_map::RandomState::new().hash_one(std::process::id()));
        let share = config.share_cache.then(|| crossbeam_channel::bounded(SHARE_QUEUE));
        Fleet {
            config,
            replica,
            connected: AtomicBool::new(false),
            stats: FleetStats::default(),
            overlay: Mutex::default(),
            share,
        }
    }

    /// Whether a request with `key` may go on while the store is unreachable: always while it
    /// is reachable; otherwise as `[fleet.on_failure]` says, counting the decision.
    pub fn admit(&self, key: &ClientKey) -> Result<(), ApiError> {
        if self.connected.load(Relaxed) {
            return Ok(());
        }
        let p = self.config.on_failure;
        let concern = if key.is_limited() && p.limits == FailurePolicy::Closed {
            Concern::Limits
        } else if p.keys == FailurePolicy::Closed {
            Concern::Keys
        } else {
            self.stats.fail_open[if key.is_limited() { 0 } else { 1 }].fetch_add(1, Relaxed);
            return Ok(());
        };
        self.stats.fail_closed[concern as usize].fetch_add(1, Relaxed);
        let what = match concern {
            Concern::Limits => "this API key's fleet-wide limits cannot be checked",
            Concern::Keys => "API keys cannot be checked against the fleet's revocations",
        };
        let mut e =
            ApiError::status(503, format!("The gateway cannot reach its fleet store, so {what}; retry shortly."));
        e.retry_after_s = Some(1);
        Err(e)
    }

    /// Queues a cache entry for the other processes (never blocks).
    pub fn share_entry(&self, entry: SharedEntry) {
        if let Some((tx, _)) = &self.share
            && tx.try_send(entry).is_err()
        {
            self.stats.cache_dropped.fetch_add(1, Relaxed);
        }
    }

    /// The failure policies.
    pub fn policies(&self) -> FailurePolicies {
        self.config.on_failure
    }
}
