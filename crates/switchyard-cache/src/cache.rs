//! The response cache: exact match on a canonical form of the request, bounded in bytes, with
//! a TTL, shared by every core through 64 independently locked shards (no global lock; a
//! lookup holds one shard's lock for a hash probe and an `Arc` clone).
//!
//! Eviction is CLOCK (second chance): a hit sets the entry's bit; the hand clears set bits and
//! evicts the first clear one, so entries read since the hand last passed survive a sweep and
//! one-time requests leave first. `tests::clock_beats_fifo_on_a_skewed_trace` measures it
//! against FIFO on a Zipf-like trace.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use simd_json::prelude::*;

const SHARDS: usize = 64;
/// Bookkeeping per entry besides key and value bytes (slot, map entry, `Arc`).
const ENTRY_OVERHEAD: usize = 96;

/// Why a request cannot be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncacheable {
    /// Not a JSON object.
    NotJson,
    /// `temperature` above the route's limit.
    Temperature,
    /// Asks for what a stored answer does not keep: several choices (`n > 1`) or logprobs.
    Shape,
}

/// Request fields that do not change the answer and are left out of the key.
const IGNORED: [&str; 7] = ["model", "stream", "stream_options", "user", "metadata", "store", "service_tier"];

/// The canonical key of a chat request body (OpenAI shape) sent to `route`: the route name and
/// every answer-changing field, objects with sorted keys. `max_temperature` refuses bodies
/// whose `temperature` is above it (absent counts as cacheable).
pub fn canonical_key(
    route: &str,
    body: &[u8],
    max_temperature: f64,
    scratch: &mut Vec<u8>,
) -> Result<Vec<u8>, Uncacheable> {
    scratch.clear();
    scratch.extend_from_slice(body);
    let v = simd_json::to_borrowed_value(scratch).map_err(|_| Uncacheable::NotJson)?;
    let obj = cacheable(&v, max_temperature)?;
    Ok(canonical(route, obj, body.len()))
}

/// For the semantic cache: the hash of the request's canonical form without its last user
/// turn's text (route, parameters, system prompt, earlier turns: what a near-duplicate must
/// share), and that text (what it may differ in). `Ok(None)` when the last user turn has no
/// plain text.
pub fn semantic_parts(
    route: &str,
    body: &[u8],
    max_temperature: f64,
    scratch: &mut Vec<u8>,
) -> Result<Option<(u64, String)>, Uncacheable> {
    scratch.clear();
    scratch.extend_from_slice(body);
    let mut v = simd_json::to_borrowed_value(scratch).map_err(|_| Uncacheable::NotJson)?;
    cacheable(&v, max_temperature)?;
    let Some(messages) = v.get_mut("messages").and_then(|m| m.as_array_mut()) else {
        return Ok(None);
    };
    let Some(last) = messages.iter_mut().rev().find(|m| m.get("role").and_then(|r| r.as_str()) == Some("user")) else {
        return Ok(None);
    };
    let Some(text) = last.get("content").and_then(plain_text) else {
        return Ok(None);
    };
    if let Some(o) = last.as_object_mut() {
        o.remove("content");
    }
    let obj = v.as_object().ok_or(Uncacheable::NotJson)?;
    let context = canonical(route, obj, body.len());
    let mut h = std::hash::DefaultHasher::new();
    h.write(&context);
    Ok(Some((h.finish(), text)))
}

/// A message content's text: a string, or text parts joined by newlines. Any other part (an
/// image, a file) makes it not a plain-text question: `None`.
fn plain_text(content: &simd_json::BorrowedValue<'_>) -> Option<String> {
    if let Some(s) = content.as_str() {
        return Some(s.to_string());
    }
    let parts = content.as_array()?;
    let texts: Option<Vec<&str>> = parts
        .iter()
        .map(|p| (p.get("type").and_then(|t| t.as_str()) == Some("text")).then(|| p.get("text")?.as_str()).flatten())
        .collect();
    Some(texts?.join("\n"))
}

/// The object of a cacheable request body.
fn cacheable<'v, 'a>(
    v: &'v simd_json::BorrowedValue<'a>,
    max_temperature: f64,
) -> Result<&'v simd_json::borrowed::Object<'a>, Uncacheable> {
    let obj = v.as_object().ok_or(Uncacheable::NotJson)?;
    if obj.get("temperature").and_then(|t| t.as_f64()).is_some_and(|t| t > max_temperature) {
        return Err(Uncacheable::Temperature);
    }
    if obj.get("n").and_then(|n| n.as_u64()).is_some_and(|n| n > 1)
        || obj.get("logprobs").and_then(|l| l.as_bool()) == Some(true)
    {
        return Err(Uncacheable::Shape);
    }
    Ok(obj)
}

/// The route name and every answer-changing field, objects with sorted keys.
fn canonical(route: &str, obj: &simd_json::borrowed::Object<'_>, size_hint: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size_hint + route.len() + 8);
    out.extend_from_slice(route.as_bytes());
    out.push(0);
    let mut keys: Vec<&str> = obj.keys().map(|k| k.as_ref()).filter(|k| !IGNORED.contains(k)).collect();
    keys.sort_unstable();
    out.push(b'{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        switchyard_wire::json::push_str(&mut out, k);
        out.push(b':');
        write_canonical(&obj[*k], &mut out);
    }
    out.push(b'}');
    out
}

fn write_canonical(v: &simd_json::BorrowedValue<'_>, out: &mut Vec<u8>) {
    use simd_json::BorrowedValue as V;
    match v {
        V::Object(o) => {
            let mut keys: Vec<&str> = o.keys().map(|k| k.as_ref()).collect();
            keys.sort_unstable();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                switchyard_wire::json::push_str(out, k);
                out.push(b':');
                write_canonical(&o[*k], out);
            }
            out.push(b'}');
        }
        V::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        V::String(s) => switchyard_wire::json::push_str(out, s),
        V::Static(s) => out.extend_from_slice(s.to_string().as_bytes()),
    }
}

/// Hit, miss and size counters.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Lookups that found a fresh entry.
    pub hits: AtomicU64,
    /// Lookups that did not.
    pub misses: AtomicU64,
    /// Entries stored.
    pub inserts: AtomicU64,
    /// Entries evicted for room.
    pub evictions: AtomicU64,
    /// Entries dropped because their TTL passed.
    pub expirations: AtomicU64,
}

struct Slot<V> {
    key: Box<[u8]>,
    value: Arc<V>,
    size: usize,
    expires_ms: u64,
    referenced: bool,
}

struct Shard<V> {
    map: HashMap<u64, usize>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
}

impl<V> Shard<V> {
    fn remove(&mut self, i: usize, hash: u64) -> usize {
        let size = self.slots[i].take().map_or(0, |s| s.size);
        self.map.remove(&hash);
        self.free.push(i);
        self.bytes -= size;
        size
    }
}

/// Answers by canonical request, bounded in bytes; `V` is the stored answer.
pub struct ResponseCache<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    hasher: RandomState,
    shard_budget: usize,
    /// Counters for metrics.
    pub stats: CacheStats,
}

impl<V> ResponseCache<V> {
    /// A cache holding at most `max_bytes` (keys, values and bookkeeping).
    pub fn new(max_bytes: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Shard { map: HashMap::new(), slots: Vec::new(), free: Vec::new(), hand: 0, bytes: 0 }))
            .collect();
        ResponseCache {
            shards,
            hasher: RandomState::new(),
            shard_budget: max_bytes / SHARDS,
            stats: CacheStats::default(),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(key);
        h.finish()
    }

    fn shard(&self, hash: u64) -> std::sync::MutexGuard<'_, Shard<V>> {
        // A panic while holding a shard cannot leave it inconsistent in a way that matters
        // more than losing the cache: take the data anyway.
        self.shards[(hash >> 58) as usize % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stored answer for `key`, if fresh.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<Arc<V>> {
        let hash = self.hash(key);
        let mut s = self.shard(hash);
        let found = s.map.get(&hash).copied();
        let Some(i) = found else {
            self.stats.misses.fetch_add(1, Relaxed);
            return None;
        };
        let slot = s.slots[i].as_mut().expect("mapped slots are filled");
        if &*slot.key != key {
            // A 64-bit hash collision: the other request keeps its entry.
            self.stats.misses.fetch_add(1, Relaxed);
            return None;
        }
        if slot.expires_ms <= now_ms {
            s.remove(i, hash);
            self.stats.expirations.fetch_add(1, Relaxed);
            self.stats.misses.fetch_add(1, Relaxed);
            return None;
        }
        slot.referenced = true;
        self.stats.hits.fetch_add(1, Relaxed);
        Some(slot.value.clone())
    }

    /// Stores `value` (about `value_bytes` large) under `key` until `expires_ms`, evicting as
    /// needed. Entries larger than a shard's share are not stored.
    pub fn insert(&self, key: Vec<u8>, value: V, value_bytes: usize, expires_ms: u64) -> bool {
        let size = key.len() + value_bytes + ENTRY_OVERHEAD;
        if size > self.shard_budget {
            return false;
        }
        let hash = self.hash(&key);
        let mut s = self.shard(hash);
        if let Some(&i) = s.map.get(&hash) {
            s.remove(i, hash);
        }
        while s.bytes + size > self.shard_budget {
            if !self.evict_one(&mut s) {
                return false;
            }
        }
        let slot = Slot { key: key.into_boxed_slice(), value: Arc::new(value), size, expires_ms, referenced: false };
        let i = match s.free.pop() {
            Some(i) => {
                s.slots[i] = Some(slot);
                i
            }
            None => {
                s.slots.push(Some(slot));
                s.slots.len() - 1
            }
        };
        s.map.insert(hash, i);
        s.bytes += size;
        self.stats.inserts.fetch_add(1, Relaxed);
        true
    }

    /// Advances the hand: clears reference bits until an unreferenced entry is found, evicts it.
    fn evict_one(&self, s: &mut Shard<V>) -> bool {
        let n = s.slots.len();
        if n == 0 {
            return false;
        }
        // Two turns always find one: the first clears every bit.
        for _ in 0..2 * n + 1 {
            let i = s.hand % n;
            s.hand = (i + 1) % n;
            let Some(slot) = s.slots[i].as_mut() else { continue };
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            let hash = self.hash(&slot.key);
            s.remove(i, hash);
            self.stats.evictions.fetch_add(1, Relaxed);
            return true;
        }
        false
    }

    /// Bytes and entries held now.
    pub fn usage(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(b, n), s| {
            let s = s.lock().unwrap_or_else(|e| e.into_inner());
            (b + s.bytes, n + s.map.len())
        })
    }

    /// The configured bound, bytes.
    pub fn capacity(&self) -> usize {
        self.shard_budget * SHARDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_key_ignores_order_stream_and_model_but_not_parameters() {
        let k = |b: &str| canonical_key("auto", b.as_bytes(), 0.5, &mut Vec::new());
        let a = k(r#"{"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true}"#).unwrap();
        let b =
            k(r#"{"max_tokens":5,"stream":false,"user":"u1","messages":[{"content":"hi","role":"user"}],"model":"y"}"#)
                .unwrap();
        assert_eq!(a, b);
        let c = k(r#"{"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":6}"#).unwrap();
        assert_ne!(a, c, "max_tokens changes the answer");
        let d = canonical_key(
            "other",
            br#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":5}"#,
            0.5,
            &mut Vec::new(),
        )
        .unwrap();
        assert_ne!(a, d, "the route is part of the key");
        assert_eq!(k(r#"{"messages":[],"temperature":0.9}"#), Err(Uncacheable::Temperature));
        assert!(k(r#"{"messages":[],"temperature":0.2}"#).is_ok());
        assert_eq!(k("[1]"), Err(Uncacheable::NotJson));
        assert_eq!(k(r#"{"messages":[],"n":2}"#), Err(Uncacheable::Shape), "a stored answer has one choice");
        assert_eq!(k(r#"{"messages":[],"logprobs":true}"#), Err(Uncacheable::Shape));
        assert!(k(r#"{"messages":[],"n":1,"logprobs":false}"#).is_ok());
    }

    #[test]
    fn hits_expires_and_stays_within_its_bound() {
        let c: ResponseCache<String> = ResponseCache::new(64 * 4096);
        assert!(c.insert(b"k1".to_vec(), "v1".into(), 2, 1000));
        assert_eq!(c.get(b"k1", 10).as_deref().map(String::as_str), Some("v1"));
        assert!(c.get(b"k2", 10).is_none());
        assert!(c.get(b"k1", 1000).is_none(), "expired at its TTL");
        for i in 0..20_000u32 {
            c.insert(format!("key-{i}").into_bytes(), "x".repeat(100), 100, 1000);
        }
        let (bytes, entries) = c.usage();
        assert!(bytes <= c.capacity(), "{bytes} > {}", c.capacity());
        assert!(entries > 500 && entries < 20_000, "{entries}");
        assert!(c.stats.evictions.load(Relaxed) > 0);
        assert!(!c.insert(b"huge".to_vec(), String::new(), 1 << 20, 0), "larger than a shard's share");
    }

    /// A skewed trace (a few hot keys, a long tail of one-time keys) through CLOCK and through
    /// FIFO (CLOCK without reference bits) of the same size.
    fn hit_ratio(clock: bool) -> f64 {
        let c: ResponseCache<()> = ResponseCache::new(64 * 1500);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let (mut hits, mut total) = (0u32, 0u32);
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // 70 % of requests go to 200 hot keys, the rest to a tail of 1M keys.
            let key = if x % 10 < 7 { (x >> 8) % 200 } else { 1_000 + (x >> 8) % 1_000_000 };
            let k = key.to_le_bytes().to_vec();
            total += 1;
            if c.get(&k, 0).is_some() {
                hits += 1;
            } else {
                c.insert(k, (), 0, u64::MAX);
            }
            if !clock {
                for s in c.shards.iter() {
                    let mut s = s.lock().unwrap();
                    s.slots.iter_mut().flatten().for_each(|slot| slot.referenced = false);
                }
            }
        }
        hits as f64 / total as f64
    }

    #[test]
    fn clock_beats_fifo_on_a_skewed_trace() {
        let (clock, fifo) = (hit_ratio(true), hit_ratio(false));
        println!("hit ratio: CLOCK {clock:.3}, FIFO {fifo:.3}");
        assert!(clock > fifo + 0.05, "CLOCK {clock:.3} vs FIFO {fifo:.3}");
    }
}
