//! Process lifecycle: listeners, worker threads, and the control plane (reload, shutdown).

pub mod accept;
pub mod threads;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use switchyard_config::Config;
use switchyard_guard::keys::KeyRegistry;
use switchyard_routing::health::HealthRegistry;

use crate::control::reload::Control;
use crate::control::source::{Overrides, Source, apply};
use crate::runtime::live::{Dns, Live, Shared};

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
    let shared = process_state(&cfg, &source, workers)?;
    let admin = cfg.admin.clone();
    let state_file = cfg.server.state_file.clone();
    let control = Arc::new(Control::new(source, overrides, shared.clone(), cfg.clone()));
    let fleet = crate::control::fleet::start(&control)?;
    let (listeners, bound) = bind_all(&cfg, workers)?;
    let _ = shared.console.client.set((bound, cfg.server.tls.is_some()));
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
    // Sampled once before the workers start, so the guard holds from the first request.
    spawn_memory_sampler(shared.clone());
    let started = threads::start(listeners, &shared, cfg.server.pin_cpus, cfg.server.io)?;
    if started.drivers.contains(&"failed") {
        stop("");
        return Err("a worker runtime could not start".into());
    }
    crate::info!(
        "switchyard listening on {}://{bound} workers={workers} driver={} pinned={}",
        if cfg.server.tls.is_some() { "https" } else { "http" },
        started.drivers.first().copied().unwrap_or("?"),
        cfg.server.pin_cpus
    );
    spawn_dns_refresher(shared.clone());
    if let Some(path) = &state_file {
        crate::control::state_file::spawn_saver(shared.clone(), path.clone());
    }
    if let Some(a) = admin
        && let Err(e) = start_admin(&a, &control)
    {
        stop("");
        return Err(e);
    }
    for sig in signals.forever() {
        if sig != SIGHUP {
            stop(&format!("signal {sig}: draining in-flight requests, then exiting"));
            break;
        }
        if let Some(d) = &shared.decisions {
            d.reopen();
        }
        let _ = control.reload();
    }
    for t in started.threads {
        let _ = t.join();
    }
    if let Some(f) = fleet {
        f.finish();
    }
    wind_down(&shared, state_file.as_deref());
    Ok(())
}

/// The admin listener, and with it the console and its sampler.
fn start_admin(a: &switchyard_config::AdminConfig, control: &Arc<Control>) -> Result<(), String> {
    let addr = crate::control::admin::spawn(&a.listen, control.clone(), a.console)
        .map_err(|e| format!("admin.listen: cannot listen on {}: {e}", a.listen))?;
    crate::info!("admin listening on http://{addr}");
    if a.console {
        crate::control::console::sampler::spawn(control.shared.clone());
        crate::info!("console on http://{addr}/ui");
    }
    Ok(())
}

/// After the workers stopped: the decision log drained, the key spend saved.
fn wind_down(shared: &Shared, state_file: Option<&str>) {
    if let Some(d) = &shared.decisions {
        d.drain(Duration::from_secs(5));
    }
    if let Some(path) = state_file
        && let Err(e) = crate::control::state_file::save(path, &shared.keys)
    {
        crate::warn!("server.state_file: cannot write {path}: {e}");
    }
    crate::info!("switchyard stopped");
}

/// The process-wide state: the compiled configuration, health, keys (with their saved spend),
/// caches, meters and the decision log.
fn process_state(cfg: &Config, source: &Source, workers: usize) -> Result<Arc<Shared>, String> {
    let health = Arc::new(HealthRegistry::default());
    let stats = Arc::new(crate::observe::meters::Stats::new(workers));
    let keys = Arc::new(KeyRegistry::default());
    if let Some(path) = &cfg.server.state_file {
        let n = crate::control::state_file::load(path, &keys)?;
        crate::info!("restored the spend of {n} client keys from {path}");
    }
    let live = Live::build(cfg, &|name| source.read_file(name), source.hash(), &health, &keys, &stats)?;
    let dns = Dns::default();
    dns.refresh(&live.hosts());
    let console = Arc::new(crate::observe::console::ConsoleState::default());
    let served = cfg.admin.as_ref().is_some_and(|a| a.console).then(|| console.clone());
    let decisions = crate::observe::decision_log::DecisionLog::start(cfg.log.as_ref(), served)?;
    let first = crate::observe::console::ReloadEvent {
        t_ms: crate::observe::console::unix_ms(),
        hash: Some(live.config_hash.clone()),
        error: None,
    };
    console.push_reload(first);
    Ok(Arc::new(Shared {
        cache: switchyard_cache::cache::ResponseCache::new(cfg.cache.max_bytes),
        responses: switchyard_cache::cache::ResponseCache::new(cfg.responses.store_max_bytes),
        responses_ttl_ms: cfg.responses.store_ttl_secs * 1000,
        semantic: switchyard_cache::semantic_cache::SemanticIndex::new(crate::pipeline::cache::SEMANTIC_ENTRIES),
        semantic_hits: AtomicU64::new(0),
        strategies: Default::default(),
        decisions,
        console,
        stats,
        fleet: cfg.fleet.clone().map(crate::runtime::fleet::Fleet::new),
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
        connections_refused_per_address: AtomicU64::new(0),
        tls_handshake_failures: AtomicU64::new(0),
        resident_bytes: AtomicU64::new(0),
        shed_for_memory: AtomicU64::new(0),
        epoch: std::time::Instant::now(),
        id_seal: std::collections::hash_map::RandomState::new(),
        id_prefix: std::process::id().rotate_left(16)
            ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()),
    }))
}

/// One SO_REUSEPORT listener per worker on `server.listen` (the first picks the port when it
/// is 0); returns them and the bound address.
fn bind_all(cfg: &Config, workers: usize) -> Result<(Vec<std::net::TcpListener>, SocketAddr), String> {
    let addr: SocketAddr = cfg.server.listen.parse().map_err(|_| "server.listen: invalid address")?;
    let first = bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = first.local_addr().map_err(|e| e.to_string())?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(bind(bound).map_err(|e| format!("cannot listen on {bound}: {e}"))?);
    }
    Ok((listeners, bound))
}

/// Samples the process's resident memory every 100 ms into `Shared::resident_bytes`, so the
/// memory guard costs a worker one atomic load per request, not a read of /proc.
fn spawn_memory_sampler(shared: Arc<Shared>) {
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let sample = move |shared: &Shared| {
        // statm: size resident shared ... in pages.
        if let Some(pages) = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        {
            shared.resident_bytes.store(pages * page, Ordering::Relaxed);
        }
    };
    sample(&shared);
    let _ = std::thread::Builder::new().name("switchyard-memory".into()).spawn(move || {
        while !shared.shutdown.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            sample(&shared);
        }
    });
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
