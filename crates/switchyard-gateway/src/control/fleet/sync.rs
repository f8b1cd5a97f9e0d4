//! One sync round: flush this process's use of every limited key and read the fleet's totals
//! back, publish new cooldowns and read the others', exchange cache entries, and notice key
//! changes, all in one pipelined round trip.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use redis::{Value, from_redis_value};
use switchyard_guard::fleet::{FleetView, UsageTotals};
use switchyard_guard::keys::Now;
use switchyard_guard::limits::{utc_day, utc_month};

use crate::control::fleet::store::{Names, Store};
use crate::runtime::fleet::Fleet;
use crate::runtime::live::{Live, Shared};

/// Cache entries exchanged per round, each way.
const CACHE_PER_ROUND: usize = 256;
/// The cache stream keeps about this many entries.
const CACHE_STREAM_LEN: usize = 10_000;
/// Rounds between heartbeats (the process's entry in the replica set).
const HEARTBEAT_ROUNDS: u64 = 50;
/// A process missing from the replica set this long is gone, ms.
const REPLICA_GONE_MS: u64 = 5_000;

/// One flush: what each key used since the one before. Kept until acknowledged, and sent
/// again unchanged (same sequence number) after a failure, so a flush whose reply was lost is
/// applied exactly once.
struct Batch {
    seq: u64,
    day: u64,
    month: u64,
    keys: Vec<(String, UsageTotals, u64, u64)>,
    failed: bool,
}

/// What the sync thread remembers between rounds.
pub struct Syncer {
    names: Names,
    flushed: HashMap<String, UsageTotals>,
    pending: Option<Batch>,
    seq: u64,
    /// Per model, the latest cooldown end (this process's ms clock) published or applied.
    cool_seen: HashMap<String, u64>,
    cache_cursor: String,
    keys_version: Option<i64>,
    rounds: u64,
}

/// What one round sends besides the flush.
struct Plan {
    cooldowns: Vec<(String, u64)>,
    entries: Vec<crate::runtime::fleet::SharedEntry>,
    flush: bool,
    heartbeat: bool,
}

/// What a round found that the control plane must act on.
pub struct RoundOutcome {
    /// The fleet's key set changed (version seen for the first time or bumped).
    pub keys_changed: bool,
}

impl Syncer {
    /// A syncer under `prefix` whose flushes start at a sequence number no earlier process of
    /// this id used.
    pub fn new(prefix: &str) -> Syncer {
        Syncer {
            names: Names::new(prefix),
            flushed: HashMap::new(),
            pending: None,
            seq: unix_ms(),
            cool_seen: HashMap::new(),
            cache_cursor: "0-0".into(),
            keys_version: None,
            rounds: 0,
        }
    }

    /// One round over `store`. On error nothing is lost: the flush is kept for the next round.
    pub fn round(&mut self, store: &mut Store, shared: &Shared, fleet: &Fleet) -> redis::RedisResult<RoundOutcome> {
        let live = shared.live.load_full();
        if self.pending.is_none() {
            self.pending = Some(self.take_batch(&live, shared.key_now()));
        }
        let plan = Plan {
            cooldowns: self.new_cooldowns(&live, shared),
            entries: fleet.share.as_ref().map_or(Vec::new(), |(_, rx)| rx.try_iter().take(CACHE_PER_ROUND).collect()),
            flush: self.pending.as_ref().is_some_and(|b| !b.keys.is_empty()),
            heartbeat: self.rounds.is_multiple_of(HEARTBEAT_ROUNDS),
        };
        let pipe = self.pipeline(&plan, &live, store, fleet);
        let started = std::time::Instant::now();
        let replies: Vec<Value> = match pipe.query(&mut store.con) {
            Ok(r) => r,
            Err(e) => {
                if let Some(b) = &mut self.pending {
                    b.failed = true;
                }
                fleet.stats.cache_dropped.fetch_add(plan.entries.len() as u64, Relaxed);
                return Err(e);
            }
        };
        fleet.stats.last_sync_us.store(started.elapsed().as_micros() as u64, Relaxed);
        self.rounds += 1;
        Ok(self.absorb(&plan, replies, &live, shared, fleet))
    }

    /// The round's commands, in the order `absorb` reads their replies.
    fn pipeline(&self, plan: &Plan, live: &Live, store: &Store, fleet: &Fleet) -> redis::Pipeline {
        let (mut pipe, n) = (redis::pipe(), &self.names);
        if let Some(b) = self.pending.as_ref().filter(|_| plan.flush) {
            self.push_flush(&mut pipe, store, &fleet.replica, b);
        }
        pipe.cmd("GET").arg(n.keys_version());
        for (model, until_unix) in &plan.cooldowns {
            pipe.cmd("EVALSHA").arg(&store.cool_sha).arg(1).arg(n.cooldown(model)).arg(until_unix).ignore();
        }
        if !live.table.targets.is_empty() {
            pipe.cmd("MGET").arg(live.table.targets.iter().map(|t| n.cooldown(&t.name)).collect::<Vec<_>>());
        }
        for e in &plan.entries {
            crate::control::fleet::cache::push_entry(&mut pipe, &n.cache(), &fleet.replica, e, CACHE_STREAM_LEN);
        }
        if fleet.share.is_some() {
            pipe.cmd("XREAD").arg("COUNT").arg(CACHE_PER_ROUND).arg("STREAMS").arg(n.cache()).arg(&self.cache_cursor);
        }
        if plan.heartbeat {
            let now_unix = unix_ms();
            pipe.cmd("ZADD").arg(n.replicas()).arg(now_unix).arg(&fleet.replica).ignore();
            pipe.cmd("ZREMRANGEBYSCORE").arg(n.replicas()).arg("-inf").arg(now_unix - REPLICA_GONE_MS).ignore();
            pipe.cmd("ZCARD").arg(n.replicas());
        }
        pipe
    }

    /// Applies a round's replies.
    fn absorb(
        &mut self,
        plan: &Plan,
        replies: Vec<Value>,
        live: &Live,
        shared: &Shared,
        fleet: &Fleet,
    ) -> RoundOutcome {
        let mut replies = replies.into_iter();
        let mut next = || replies.next().unwrap_or(Value::Nil);
        if plan.flush {
            let totals: Vec<i64> = from_redis_value(next()).unwrap_or_default();
            self.apply_flush(live, &totals, shared, fleet);
        }
        self.pending = None;
        let version = from_redis_value::<Option<i64>>(next()).ok().flatten().unwrap_or(0);
        let keys_changed = self.keys_version != Some(version);
        self.keys_version = Some(version);
        for (model, _) in &plan.cooldowns {
            fleet.stats.cooldowns_published.fetch_add(1, Relaxed);
            let until =
                live.table.targets.iter().find(|t| &t.name == model).map_or(0, |t| t.health.cooldown_until_ms());
            self.cool_seen.insert(model.clone(), until);
        }
        if !live.table.targets.is_empty() {
            let ends: Vec<Option<u64>> = from_redis_value(next()).unwrap_or_default();
            self.apply_cooldowns(live, shared, fleet, &ends);
        }
        fleet.stats.cache_published.fetch_add(plan.entries.len() as u64, Relaxed);
        if fleet.share.is_some() {
            let got = crate::control::fleet::cache::take_entries(next(), &fleet.replica, shared);
            fleet.stats.cache_received.fetch_add(got.received, Relaxed);
            if let Some(last) = got.last_id {
                self.cache_cursor = last;
            }
        }
        if plan.heartbeat {
            fleet.stats.replicas.store(from_redis_value(next()).unwrap_or(0), Relaxed);
        }
        RoundOutcome { keys_changed }
    }

    /// What each limited or used key used since the last flush (limited keys are always
    /// included: their fleet totals are read back even when this process did not use them).
    fn take_batch(&mut self, live: &Live, now: Now) -> Batch {
        self.seq += 1;
        let mut keys = Vec::new();
        for k in live.keys.iter().flat_map(|s| s.keys.iter()) {
            let total = k.totals();
            let flushed = self.flushed.entry(k.name.clone()).or_default();
            let used = total.since(*flushed);
            *flushed = total;
            if k.is_limited() || !used.is_zero() {
                keys.push((k.name.clone(), used, k.rpm().unwrap_or(0), k.tpm().unwrap_or(0)));
            }
        }
        Batch { seq: self.seq, day: utc_day(now.unix_ms), month: utc_month(now.unix_ms), keys, failed: false }
    }

    fn push_flush(&self, pipe: &mut redis::Pipeline, store: &Store, replica: &str, b: &Batch) {
        let n = &self.names;
        pipe.cmd("EVALSHA").arg(&store.sync_sha).arg(1 + 4 * b.keys.len()).arg(n.seq(replica));
        for (name, _, _, _) in &b.keys {
            pipe.arg(n.requests(name)).arg(n.tokens(name)).arg(n.day(name, b.day)).arg(n.month(name, b.month));
        }
        pipe.arg(b.seq);
        for (_, used, rpm, tpm) in &b.keys {
            pipe.arg(used.requests).arg(used.tokens).arg(used.nusd).arg(rpm).arg(tpm);
        }
    }

    /// Writes the fleet's totals into the local limiters of the keys just flushed.
    fn apply_flush(&self, live: &Live, totals: &[i64], shared: &Shared, fleet: &Fleet) {
        let Some(b) = &self.pending else { return };
        if b.failed {
            fleet.stats.reconciliations.fetch_add(1, Relaxed);
            crate::info!("fleet: reconciled a flush of {} keys sent again after a failure", b.keys.len());
        }
        let Some(set) = &live.keys else { return };
        let now = shared.key_now();
        for ((name, _, _, _), t) in b.keys.iter().zip(totals.chunks_exact(4)) {
            let Some(k) = set.keys.iter().find(|k| &k.name == name) else { continue };
            let view = FleetView {
                requests_ahead_ns: t[0].max(0) as u64 * 1000,
                tokens_ahead_ns: t[1].max(0) as u64 * 1000,
                day_nusd: t[2].max(0) as u64,
                month_nusd: t[3].max(0) as u64,
            };
            let unflushed = k.totals().since(self.flushed.get(name).copied().unwrap_or_default());
            k.apply_fleet(&view, unflushed, now);
        }
    }

    /// Cooldowns this process started since it last published, as (model, unix ms end).
    fn new_cooldowns(&self, live: &Live, shared: &Shared) -> Vec<(String, u64)> {
        let (now, now_unix) = (shared.now_ms(), unix_ms());
        live.table
            .targets
            .iter()
            .filter_map(|t| {
                let until = t.health.cooldown_until_ms();
                let seen = self.cool_seen.get(&t.name).copied().unwrap_or(0);
                (until > now && until > seen).then(|| (t.name.clone(), now_unix + (until - now)))
            })
            .collect()
    }

    /// Honours the cooldowns other processes published, for their remaining time.
    fn apply_cooldowns(&mut self, live: &Live, shared: &Shared, fleet: &Fleet, ends: &[Option<u64>]) {
        let (now, now_unix) = (shared.now_ms(), unix_ms());
        for (t, end) in live.table.targets.iter().zip(ends) {
            let Some(end) = end.filter(|e| *e > now_unix) else { continue };
            let until = now + (end - now_unix);
            // A few ms of slack: our own published cooldown comes back rounded.
            if until > t.health.cooldown_until_ms() + 5 {
                t.health.cool_until(until);
                fleet.stats.cooldowns_received.fetch_add(1, Relaxed);
                crate::info!("fleet: model {} cooling for {} ms, as another process saw", t.name, end - now_unix);
            }
            let seen = self.cool_seen.entry(t.name.clone()).or_default();
            *seen = (*seen).max(t.health.cooldown_until_ms());
        }
    }
}

/// Unix time, ms.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
