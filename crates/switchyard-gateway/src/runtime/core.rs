//! Per-core worker state and the accept loop.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use switchyard_routing::DecideScratch;
use switchyard_wire::JsonScratch;

use crate::observe::meters::{CoreId, CoreMeters};
use crate::runtime::live::{Live, Shared};
use crate::runtime::pool::Pool;

/// How long in-flight requests may take to finish after SIGTERM.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A request's hold on the live table: an `Rc` (a count only this worker touches) around the
/// `Arc` that `ArcSwap` hands out, so the extra box is the point.
#[allow(clippy::redundant_allocation)]
pub type LiveHandle = Rc<Arc<Live>>;

/// State owned by one worker thread; shared by its connections without locks.
pub struct Worker {
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// Keep-alive upstream connections of this core.
    pub pool: Pool,
    /// This worker's number.
    pub core: CoreId,
    /// This worker's meters (its own: no other worker writes them).
    pub meters: Arc<CoreMeters>,
    next_request: Cell<u64>,
    /// Buffers and randomness for routing decisions.
    pub decide_scratch: RefCell<DecideScratch>,
    /// Buffers the request view is parsed in (borrowed only while parsing, never across an await).
    pub json_scratch: RefCell<JsonScratch>,
    /// Buffers of sentence embeddings (the semantic cache), borrowed only while embedding.
    pub embed_scratch: RefCell<switchyard_embed::EmbedScratch>,
    /// This worker's handle on the live table (see `live`).
    live: RefCell<LiveHandle>,
    /// Open connections per client address on this worker (entries leave at zero). Kept per
    /// worker so accept takes no lock; SO_REUSEPORT spreads one address's connections over
    /// the workers, each allowing its share of `server.max_connections_per_address`.
    per_address: RefCell<std::collections::HashMap<std::net::IpAddr, u32>>,
}

/// Marks a request in flight for as long as it lives.
pub struct InFlight(Rc<Worker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        crate::observe::meters::Gauges::bump(&self.0.meters.gauges.inflight, -1);
    }
}

impl Worker {
    /// A worker with an empty pool.
    pub fn new(shared: Arc<Shared>, index: usize) -> Worker {
        Worker {
            pool: Pool::default(),
            core: CoreId(index),
            meters: shared.stats.cores[index].clone(),
            next_request: Cell::new(0),
            decide_scratch: RefCell::new(DecideScratch::new(0x9e37_79b9 ^ ((index as u64 + 1) << 20))),
            json_scratch: RefCell::new(JsonScratch::default()),
            embed_scratch: RefCell::new(switchyard_embed::EmbedScratch::default()),
            live: RefCell::new(Rc::new(shared.live.load_full())),
            per_address: RefCell::new(std::collections::HashMap::new()),
            shared,
        }
    }

    /// Counts one more connection from `ip` unless the address already holds this worker's
    /// share of `per_address` (the process-wide cap over the worker count, rounded up).
    pub fn open_from(&self, ip: std::net::IpAddr, per_address: usize) -> bool {
        let share = per_address.div_ceil(self.shared.stats.cores.len().max(1)) as u32;
        let mut open = self.per_address.borrow_mut();
        let n = open.entry(ip).or_insert(0);
        if *n >= share {
            if *n == 0 {
                open.remove(&ip);
            }
            return false;
        }
        *n += 1;
        true
    }

    /// A connection from `ip` closed.
    pub fn closed_from(&self, ip: std::net::IpAddr) {
        let mut open = self.per_address.borrow_mut();
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }

    /// The live table for a request that starts now; it keeps that table until it ends.
    ///
    /// `ArcSwap::load_full` per request would add to the one shared `Arc` count from every
    /// worker (a cache line bounced between cores); here the worker holds one `Arc` and hands
    /// out `Rc` clones, taking a new `Arc` only when a reload has swapped the table. The
    /// previous table lives on in requests that hold it, and in this cache until the worker's
    /// next request.
    pub fn live(&self) -> LiveHandle {
        let current = self.shared.live.load();
        let mut cached = self.live.borrow_mut();
        if !Arc::ptr_eq(&cached, &current) {
            *cached = Rc::new(arc_swap::Guard::into_inner(current));
        }
        Rc::clone(&cached)
    }

    /// A process-unique request id: process prefix, worker, counter.
    pub fn request_id(&self) -> RequestId {
        let n = self.next_request.get();
        self.next_request.set(n + 1);
        RequestId::new(self.shared.id_prefix, self.core.0 as u8, n, &self.shared.id_seal)
    }

    /// Counts a request as in flight until the guard drops.
    pub fn begin(self: &Rc<Self>) -> InFlight {
        crate::observe::meters::Gauges::bump(&self.meters.gauges.inflight, 1);
        InFlight(self.clone())
    }

    /// True once shutdown has been asked for.
    pub fn draining(&self) -> bool {
        self.shared.shutdown.load(Ordering::Relaxed)
    }
}

/// A request id: 36 lowercase hex digits. The first 20 say where it was made (8 of process
/// prefix, 2 of worker, 10 of counter); the last 16 seal it to the client key that made it (a
/// keyed SipHash of the first 20 and the key's name under a secret drawn at start), so
/// feedback can check who may rate a request without a table of past requests, and an id
/// cannot be guessed from another. Built on the stack.
#[derive(Clone, Copy)]
pub struct RequestId([u8; 36]);

/// Hex digits, most significant first.
fn hex(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b"0123456789abcdef"[(v & 15) as usize];
        v >>= 4;
    }
}

impl RequestId {
    /// The id of request `n` of `worker` in the process with `prefix`, sealed to no key.
    pub fn new(prefix: u32, worker: u8, n: u64, seal: &RandomState) -> RequestId {
        let mut id = [0u8; 36];
        hex(&mut id[..8], prefix as u64);
        hex(&mut id[8..10], worker as u64);
        hex(&mut id[10..20], n);
        RequestId(id).sealed(seal, "")
    }

    /// The same id sealed to the key named `key` ("" for none).
    pub fn sealed(mut self, seal: &RandomState, key: &str) -> RequestId {
        let t = tag(seal, &self.0[..20], key);
        hex(&mut self.0[20..], t);
        self
    }

    /// Whether `id` is one this process made for the key named `key`.
    pub fn verify(id: &str, seal: &RandomState, key: &str) -> bool {
        let id = id.as_bytes();
        if id.len() != 36 || !id.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
            return false;
        }
        let mut want = [0u8; 16];
        hex(&mut want, tag(seal, &id[..20], key));
        // Not secret-dependent timing worth guarding: a wrong tag only learns "no".
        want[..] == id[20..]
    }
}

fn tag(seal: &RandomState, place: &[u8], key: &str) -> u64 {
    seal.hash_one((place, key))
}

impl std::ops::Deref for RequestId {
    type Target = str;
    fn deref(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::RandomState;

    use super::RequestId;

    #[test]
    fn request_ids_say_where_they_were_made_and_are_sealed_to_their_key() {
        let seal = RandomState::new();
        for (p, w, n) in [(0u32, 0u8, 0u64), (0xdeadbeef, 3, 0x12_3456_789a), (u32::MAX, 255, (1 << 40) - 1)] {
            let id = RequestId::new(p, w, n, &seal);
            assert_eq!(&id[..20], format!("{p:08x}{w:02x}{n:010x}"));
            assert!(RequestId::verify(&id, &seal, ""));
            let a = id.sealed(&seal, "team-a");
            assert!(RequestId::verify(&a, &seal, "team-a"));
            assert!(!RequestId::verify(&a, &seal, "team-b"), "another key's id");
            assert!(!RequestId::verify(&a, &RandomState::new(), "team-a"), "another process's id");
            let mut forged = a.to_string();
            forged.replace_range(19..20, if &forged[19..20] == "0" { "1" } else { "0" });
            assert!(!RequestId::verify(&forged, &seal, "team-a"), "a neighbour's id guessed from this one");
        }
        assert!(!RequestId::verify("short", &seal, ""));
    }
}
