//! The shared cache tier: entries go into a Redis stream (trimmed to a bound) with their
//! expiry; every process reads the stream and fills its own in-memory cache, so a hit is still
//! served from local memory and replayed as a stream as before.

use redis::{Value, from_redis_value};
use switchyard_wire::{Completion, Dialect};

use crate::control::fleet::sync::unix_ms;
use crate::runtime::fleet::SharedEntry;
use crate::runtime::live::Shared;

/// Appends `e` to the stream, trimmed to about `max_len` entries.
pub fn push_entry(pipe: &mut redis::Pipeline, stream: &str, replica: &str, e: &SharedEntry, max_len: usize) {
    let body = e.completion.to_openai().to_string();
    pipe.cmd("XADD")
        .arg(stream)
        .arg("MAXLEN")
        .arg("~")
        .arg(max_len)
        .arg("*")
        .arg("o")
        .arg(replica)
        .arg("k")
        .arg(&e.key)
        .arg("m")
        .arg(&e.model)
        .arg("p")
        .arg(&e.provider)
        .arg("x")
        .arg(e.expires_unix_ms)
        .arg("b")
        .arg(body)
        .ignore();
}

/// One stream entry: its id and its fields and values, alternating.
type StreamEntry = (String, Vec<Vec<u8>>);

/// What one read of the stream gave.
pub struct Received {
    /// Entries put into the local cache.
    pub received: u64,
    /// The id to read after next time.
    pub last_id: Option<String>,
}

/// Puts the other processes' unexpired entries from an `XREAD` reply into the local cache.
pub fn take_entries(reply: Value, replica: &str, shared: &Shared) -> Received {
    let mut out = Received { received: 0, last_id: None };
    // [[stream, [[id, [field, value, ...]], ...]]] or nil when nothing is new.
    let streams: Vec<(String, Vec<StreamEntry>)> = from_redis_value(reply).unwrap_or_default();
    let (now_unix, now) = (unix_ms(), shared.now_ms());
    for (_, entries) in streams {
        for (id, fields) in entries {
            out.last_id = Some(id);
            let get = |name: &[u8]| fields.chunks_exact(2).find(|f| f[0] == name).map(|f| f[1].as_slice());
            let text = |name: &[u8]| get(name).and_then(|v| std::str::from_utf8(v).ok());
            let expires = text(b"x").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            if text(b"o") == Some(replica) || expires <= now_unix {
                continue;
            }
            let (Some(key), Some(model), Some(provider), Some(body)) = (get(b"k"), text(b"m"), text(b"p"), get(b"b"))
            else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else { continue };
            let Ok(c) = Completion::parse(Dialect::OpenAi, &v, model) else { continue };
            let expires_local = now + (expires - now_unix);
            crate::pipeline::cache::insert(shared, key.to_vec(), c, model, provider, expires_local);
            out.received += 1;
        }
    }
    out
}
