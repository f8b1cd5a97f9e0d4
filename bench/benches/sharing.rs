//! What the gateway's per-request writes to shared memory cost when another core does the same:
//! per-worker counters packed side by side against on lines of their own (the stats and
//! histogram layout), and the live table taken with `ArcSwap::load_full` against the worker's
//! `Rc` handle (`Worker::live`), and one attempt's bookkeeping on a target's shared health. A
//! second thread plays the other worker for the whole run.

use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::thread;

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use switchyard_routing::health::Health;

#[derive(Default)]
struct Packed(AtomicU64);

#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// Runs `other` on a second thread until `f` returns.
fn with_neighbour<T: Sync>(shared: &T, other: fn(&T, &AtomicBool), f: impl FnOnce(&T)) {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| other(shared, &stop));
        f(shared);
        stop.store(true, Relaxed);
    });
}

/// The owner-only increment the stats use (plain load + store).
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

fn counters(c: &mut Criterion) {
    let mut g = c.benchmark_group("per_worker_counter_with_a_busy_neighbour");
    with_neighbour(
        &[Packed::default(), Packed::default()],
        |s, stop| {
            while !stop.load(Relaxed) {
                bump(&s[1].0);
            }
        },
        |s| {
            g.bench_function("packed", |b| b.iter(|| bump(black_box(&s[0].0))));
        },
    );
    with_neighbour(
        &[Padded::default(), Padded::default()],
        |s, stop| {
            while !stop.load(Relaxed) {
                bump(&s[1].0);
            }
        },
        |s| {
            g.bench_function("own_lines", |b| b.iter(|| bump(black_box(&s[0].0))));
        },
    );
    g.finish();
}

/// The worker's handle on the table (an `Rc` around the `Arc`, as in the gateway).
#[allow(clippy::redundant_allocation)]
type Handle = Rc<Arc<Vec<u8>>>;

/// The worker's handle: a load to compare pointers, then an `Rc` clone.
fn handle(s: &ArcSwap<Vec<u8>>, cached: &mut Handle) -> Handle {
    let current = s.load();
    if !Arc::ptr_eq(cached, &current) {
        *cached = Rc::new(arc_swap::Guard::into_inner(current));
    }
    Rc::clone(cached)
}

fn table(c: &mut Criterion) {
    let mut g = c.benchmark_group("live_table_per_request_with_a_busy_neighbour");
    // Each case's neighbour takes the table the same way, as the other worker would.
    let table = || ArcSwap::from_pointee(vec![0u8; 64]);
    with_neighbour(
        &table(),
        |s, stop| {
            while !stop.load(Relaxed) {
                black_box(s.load_full());
            }
        },
        |s| {
            g.bench_function("arc_swap_load_full", |b| b.iter(|| black_box(s.load_full())));
        },
    );
    with_neighbour(
        &table(),
        |s, stop| {
            let mut cached = Rc::new(s.load_full());
            while !stop.load(Relaxed) {
                black_box(handle(s, &mut cached));
            }
        },
        |s| {
            let mut cached = Rc::new(s.load_full());
            g.bench_function("worker_rc_handle", |b| b.iter(|| black_box(handle(s, &mut cached))));
        },
    );
    g.finish();
}

/// One attempt's bookkeeping on its target's health, as a worker does it per request.
fn attempt(h: &Health) {
    h.begin();
    h.success(black_box(800));
    h.record_usage(120, 40, 0.000_1, 0.000_9);
}

fn health(c: &mut Criterion) {
    let mut g = c.benchmark_group("target_health_per_request_with_a_busy_neighbour");
    with_neighbour(
        &Health::default(),
        |h, stop| {
            while !stop.load(Relaxed) {
                attempt(h);
            }
        },
        |h| {
            g.bench_function("begin_success_usage", |b| b.iter(|| attempt(black_box(h))));
        },
    );
    g.finish();
}

criterion_group!(benches, counters, table, health);
criterion_main!(benches);
