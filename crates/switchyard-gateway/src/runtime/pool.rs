//! Upstream connections as a worker keeps them: plain or TLS streams, and the per-core
//! keep-alive pool keyed by `pool_key` (so it survives a reload).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

/// A connection to a provider.
pub type UpStream = crate::io::MaybeTls<monoio_rustls::ClientTlsStream<TcpStream>>;

/// Idle keep-alive connections of one worker, by pool key (`scheme://host:port`).
#[derive(Default)]
pub struct Pool {
    idle: RefCell<HashMap<String, Vec<(UpStream, Instant)>>>,
}

impl Pool {
    /// The most recently used idle connection younger than `max_idle` at `now` (a time the
    /// caller has already read: no clock read here).
    pub fn take(&self, key: &str, max_idle: Duration, now: Instant) -> Option<UpStream> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        while let Some((s, since)) = list.pop() {
            if now.saturating_duration_since(since) < max_idle {
                return Some(s);
            }
        }
        None
    }

    /// Returns a connection for reuse (dropped when the pool is full), idle since `since` (a
    /// time the caller has read at or after the answer ended).
    pub fn put(&self, key: &str, s: UpStream, max: usize, since: Instant) {
        let mut idle = self.idle.borrow_mut();
        let list = match idle.get_mut(key) {
            Some(l) => l,
            None => idle.entry(key.to_string()).or_default(),
        };
        if list.len() < max {
            list.push((s, since));
        }
    }
}
