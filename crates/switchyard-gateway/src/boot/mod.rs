//! Process lifecycle: listeners, worker threads, and the control plane (reload, shutdown).

pub mod accept;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use switchyard_config::IoDriver;
use switchyard_guard::keys::KeyRegistry;
use switchyard_routing::health::HealthRegistry;

use crate::control::reload::Control;
use crate::control::source::{Overrides, Source, apply};
use crate::runtime::core::Worker;
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
    let health = Arc::new(HealthRegistry::default());
    let stats = Arc::new(crate::observe::meters::Stats::new(workers));
    let keys = Arc::new(KeyRegistry::default());
    if let Some(path) = &cfg.server.state_file {
        let n = crate::control::state_file::load(path, &keys)?;
        crate::info!("restored the spend of {n} client keys from {path}");
    }
    let live = Live::build(&cfg, &|name| source.read_file(name), source.hash(), &health, &keys, &stats)?;
    let dns = Dns::default();
    dns.refresh(&live.hosts());
    let decisions = cfg.log.as_ref().map(crate::observe::decision_log::DecisionLog::start).transpose()?;
    let shared = Arc::new(Shared {
        cache: switchyard_cache::cache::ResponseCache::new(cfg.cache.max_bytes),
        semantic: switchyard_cache::semantic_cache::SemanticIndex::new(crate::pipeline::cache::SEMANTIC_ENTRIES),
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
                            rt.block_on(crate::boot::accept::run(listener, w));
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
                        rt.block_on(crate::boot::accept::run(listener, w));
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
        crate::control::state_file::spawn_saver(shared.clone(), path.clone());
    }
    let admin = cfg.admin.clone();
    let control = Arc::new(Control::new(source, overrides, shared.clone()));
    if let Some(a) = admin {
        match crate::control::admin::spawn(&a.listen, control.clone()) {
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
        && let Err(e) = crate::control::state_file::save(path, &shared.keys)
    {
        crate::warn!("server.state_file: cannot write {path}: {e}");
    }
    crate::info!("switchyard stopped");
    Ok(())
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
