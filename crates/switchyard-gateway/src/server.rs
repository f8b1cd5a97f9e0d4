//! Process lifecycle: listeners, worker threads, and the control plane (reload, shutdown).

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use switchyard_config::Config;
use switchyard_config::IoDriver;
use switchyard_guard::keys::KeyRegistry;
use switchyard_routing::health::HealthRegistry;

use crate::live::{Dns, Live, Shared};
use crate::overhead::Histogram;
use crate::worker::{self, Worker};

/// Where the configuration comes from, so SIGHUP can read it again.
pub enum Source {
    /// A file path.
    File(std::path::PathBuf),
    /// Text with its own variables and files (the demo).
    Inline {
        /// TOML text.
        text: String,
        /// Variables that override the environment.
        vars: Vec<(String, String)>,
        /// Files the text names, built into the binary.
        files: Vec<(&'static str, &'static [u8])>,
    },
}

impl Source {
    /// Reads and validates the configuration.
    pub fn load(&self) -> Result<Config, String> {
        match self {
            Source::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Config::parse_with_process_env(&text).map_err(|e| e.to_string())
            }
            Source::Inline { text, vars, .. } => Config::parse(text, &|k| {
                vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).or_else(|| std::env::var(k).ok())
            })
            .map_err(|e| e.to_string()),
        }
    }
}

impl Source {
    /// FNV-1a of the configuration text, hex (the `switchyard_config_info` label).
    pub fn hash(&self) -> String {
        let text = match self {
            Source::File(path) => std::fs::read(path).unwrap_or_default(),
            Source::Inline { text, .. } => text.clone().into_bytes(),
        };
        let h = text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        format!("{h:016x}")
    }

    /// Reads a file the config names; relative names are relative to the config file.
    pub fn read_file(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = match self {
            Source::File(cfg) => {
                let p = std::path::Path::new(name);
                if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    cfg.parent().unwrap_or(std::path::Path::new(".")).join(p)
                }
            }
            Source::Inline { files, .. } => {
                if let Some((_, bytes)) = files.iter().find(|(n, _)| *n == name) {
                    return Ok(bytes.to_vec());
                }
                name.into()
            }
        };
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// Command-line overrides of `[server]`.
#[derive(Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--workers`.
    pub workers: Option<usize>,
}

fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nodelay(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(4096)?;
    Ok(s.into())
}

fn apply(cfg: &mut Config, o: &Overrides) -> Result<(), String> {
    if let Some(l) = &o.listen {
        cfg.server.listen = l.clone();
    }
    if let Some(w) = o.workers {
        cfg.server.workers = w;
    }
    cfg.validate().map_err(|e| e.to_string())
}

/// Runs the gateway until SIGTERM/SIGINT; returns after in-flight requests finished.
pub fn run(source: Source, overrides: Overrides) -> Result<(), String> {
    // Handlers first: a SIGHUP that arrives while starting must reload, not kill the process.
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT]).map_err(|e| e.to_string())?;
    let mut cfg = source.load()?;
    apply(&mut cfg, &overrides)?;
    let workers = match cfg.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    raise_fd_limit(cfg.server.max_connections);
    let health = Arc::new(HealthRegistry::default());
    let stats = Arc::new(crate::stats::Stats::new(workers));
    let keys = Arc::new(KeyRegistry::default());
    if let Some(path) = &cfg.server.state_file {
        let n = crate::state::load(path, &keys)?;
        crate::info!("restored the spend of {n} client keys from {path}");
    }
    let live = Live::build(&cfg, &source, &health, &keys, &stats)?;
    let dns = Dns::default();
    dns.refresh(&live.hosts());
    let decisions = cfg.log.as_ref().map(crate::decisions::DecisionLog::start).transpose()?;
    let shared = Arc::new(Shared {
        overhead: (0..workers).map(|_| Histogram::default()).collect(),
        cache_hit_time: (0..workers).map(|_| Histogram::default()).collect(),
        stream_relay_time: (0..workers).map(|_| Histogram::default()).collect(),
        cache: switchyard_cache::cache::ResponseCache::new(cfg.cache.max_bytes),
        semantic: switchyard_cache::semantic_cache::SemanticIndex::new(crate::answers::SEMANTIC_ENTRIES),
        semantic_hits: AtomicU64::new(0),
        strategies: Default::default(),
        decisions,
        stats,
        live: ArcSwap::from_pointee(live),
        dns,
        shutdown: AtomicBool::new(false),
        reloads_ok: AtomicU64::new(0),
        reloads_failed: AtomicU64::new(0),
        health,
        keys,
        auth_failures: AtomicU64::new(0),
        connections: Default::default(),
        connections_refused: AtomicU64::new(0),
        epoch: std::time::Instant::now(),
        id_prefix: std::process::id().rotate_left(16)
            ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()),
    });

    let addr: SocketAddr = cfg.server.listen.parse().map_err(|_| "server.listen: invalid address")?;
    let first = bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = first.local_addr().map_err(|e| e.to_string())?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(bind(bound).map_err(|e| format!("cannot listen on {bound}: {e}"))?);
    }

    // Second descriptors of the listening sockets, for shutdown(2) from this thread: it wakes
    // each worker's pending accept, so idle workers need no polling for the shutdown flag, and
    // these descriptors stay open (a worker's own may be closed and its number reused).
    let wakers = listeners.iter().map(|l| l.try_clone()).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let stop = |why: &str| {
        if !why.is_empty() {
            crate::info!("{why}");
        }
        shared.shutdown.store(true, Ordering::SeqCst);
        for l in &wakers {
            // SAFETY: `l` is an open listening socket owned here; shutdown does not close it.
            unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RDWR) };
        }
    };
    let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
    let mut threads = Vec::with_capacity(workers);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (i, listener) in listeners.into_iter().enumerate() {
        let shared = shared.clone();
        let tx = tx.clone();
        let pin = cfg.server.pin_cpus;
        let io = cfg.server.io;
        let t = std::thread::Builder::new()
            .name(format!("switchyard-w{i}"))
            .spawn(move || {
                if pin && monoio::utils::bind_to_cpu_set([i % cores]).is_err() {
                    crate::warn!("worker {i}: cannot pin to CPU {}", i % cores);
                }
                let w = Rc::new(Worker::new(shared, i));
                let fail = |e: std::io::Error| {
                    crate::error!("worker {i}: cannot build runtime: {e}");
                    let _ = tx.send("failed");
                };
                if io == IoDriver::Epoll {
                    match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().enable_timer().build() {
                        Ok(mut rt) => {
                            let _ = tx.send("epoll");
                            drop(tx);
                            rt.block_on(worker::run(listener, w));
                        }
                        Err(e) => fail(e),
                    }
                    return;
                }
                // DEFER_TASKRUN: completions are processed when the worker waits on its ring
                // instead of by interrupting it (the worker is the ring's only submitter).
                // Measured in the load test: added p50 at 5,000/s from ~145 µs to 105–125 µs,
                // saturation from 25,000 to 30,000 req/s. Kernels before 6.1 lack the flag: the
                // plain builder (and its epoll fallback) is used there.
                let tuned = || {
                    let mut urb = io_uring::IoUring::builder();
                    urb.setup_single_issuer().setup_defer_taskrun();
                    monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                        .enable_timer()
                        .with_entries(4096)
                        .uring_builder(urb)
                        .build()
                };
                let plain =
                    || monoio::RuntimeBuilder::<monoio::FusionDriver>::new().enable_timer().with_entries(4096).build();
                match tuned().or_else(|_| plain()) {
                    Ok(mut rt) => {
                        let driver = match &rt {
                            monoio::FusionRuntime::Uring(_) => "io_uring",
                            monoio::FusionRuntime::Legacy(_) => "epoll",
                        };
                        let _ = tx.send(driver);
                        drop(tx);
                        rt.block_on(worker::run(listener, w));
                    }
                    Err(e) => fail(e),
                }
            })
            .map_err(|e| format!("cannot spawn worker: {e}"))?;
        threads.push(t);
    }
    drop(tx);
    let drivers: Vec<&str> = rx.iter().take(workers).collect();
    if drivers.contains(&"failed") {
        stop("");
        return Err("a worker runtime could not start".into());
    }
    crate::info!(
        "switchyard listening on http://{bound} workers={workers} driver={} pinned={}",
        drivers.first().copied().unwrap_or("?"),
        cfg.server.pin_cpus
    );

    spawn_dns_refresher(shared.clone());
    let state_file = cfg.server.state_file.clone();
    if let Some(path) = &state_file {
        crate::state::spawn_saver(shared.clone(), path.clone());
    }
    let admin = cfg.admin.clone();
    let control = Arc::new(Control { source, overrides, shared: shared.clone(), lock: Default::default() });
    if let Some(a) = admin {
        match crate::admin::spawn(&a.listen, control.clone()) {
            Ok(addr) => crate::info!("admin listening on http://{addr}"),
            Err(e) => {
                stop("");
                return Err(format!("admin.listen: cannot listen on {}: {e}", a.listen));
            }
        }
    }
    for sig in signals.forever() {
        if sig == SIGHUP {
            if let Some(d) = &shared.decisions {
                d.reopen();
            }
            let _ = control.reload();
        } else {
            stop(&format!("signal {sig}: draining in-flight requests, then exiting"));
            break;
        }
    }
    for t in threads {
        let _ = t.join();
    }
    if let Some(d) = &shared.decisions {
        d.drain(Duration::from_secs(5));
    }
    if let Some(path) = &state_file
        && let Err(e) = crate::state::save(path, &shared.keys)
    {
        crate::warn!("server.state_file: cannot write {path}: {e}");
    }
    crate::info!("switchyard stopped");
    Ok(())
}

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
    /// Re-reads the configuration and swaps it in; a bad file leaves the old table serving.
    /// Returns the number of models now served.
    pub fn reload(&self) -> Result<usize, String> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let shared = &self.shared;
        let result = self.source.load().and_then(|mut cfg| {
            apply(&mut cfg, &self.overrides)?;
            let live = Live::build(&cfg, &self.source, &shared.health, &shared.keys, &shared.stats)?;
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

fn spawn_dns_refresher(shared: Arc<Shared>) {
    let _ = std::thread::Builder::new().name("switchyard-dns".into()).spawn(move || {
        loop {
            let every = Duration::from_millis(shared.live.load().upstream.dns_refresh_ms);
            std::thread::sleep(every);
            if shared.shutdown.load(Ordering::Relaxed) {
                return;
            }
            let hosts = shared.live.load().hosts();
            shared.dns.refresh(&hosts);
        }
    });
}

/// Raises the soft open-file limit to the hard one (each client connection is a descriptor,
/// each upstream connection another) and warns when the cap cannot be reached.
fn raise_fd_limit(max_connections: usize) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if lim.rlim_cur < lim.rlim_max {
            let wanted = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    if (lim.rlim_cur as usize) < max_connections + 64 {
        crate::warn!(
            "open-file limit is {}, below server.max_connections ({max_connections}): raise LimitNOFILE",
            lim.rlim_cur
        );
    }
}
