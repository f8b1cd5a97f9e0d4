//! Client keys at run time: created, listed, rotated and revoked through the admin API, stored
//! in Redis as hashes only, and seen by every process within one sync round (each round reads a
//! version number; a change rereads the keys and recompiles).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use redis::Commands;
use serde_json::{Value, json};
use switchyard_config::{KeyConfig, validate_key};
use switchyard_guard::keys::{format_key_hash, hash_key, secret_from};

use crate::control::fleet::store::{self, Names};
use crate::control::reload::Control;
use crate::runtime::fleet::{Fleet, KeyOverlay};

/// Why a key operation failed, with the status the admin client gets.
#[derive(Debug)]
pub struct KeyError {
    /// HTTP status.
    pub status: u16,
    /// What went wrong (never a secret).
    pub message: String,
}

fn err(status: u16, message: impl Into<String>) -> KeyError {
    KeyError { status, message: message.into() }
}

fn unreachable(e: &redis::RedisError) -> KeyError {
    err(503, format!("the fleet store cannot be reached: {}", store::describe(e)))
}

fn fleet(control: &Control) -> Result<&Fleet, KeyError> {
    control.shared.fleet.as_ref().ok_or_else(|| {
        err(409, "keys can be managed at run time only in fleet mode (a [fleet] section); edit [keys.NAME] and reload instead")
    })
}

fn connection(f: &Fleet) -> Result<redis::Connection, KeyError> {
    let client = store::client(&f.config).map_err(|m| err(503, m))?;
    store::connect(&client, &f.config).map(|s| s.con).map_err(|e| unreachable(&e))
}

/// The run-time keys and revocations in the store.
pub fn read_overlay(con: &mut redis::Connection, names: &Names) -> redis::RedisResult<KeyOverlay> {
    let raw: BTreeMap<String, String> = con.hgetall(names.keys())?;
    let mut keys = BTreeMap::new();
    for (name, text) in raw {
        match serde_json::from_str::<KeyConfig>(&text) {
            Ok(k) => {
                keys.insert(name, k);
            }
            Err(e) => crate::warn!("fleet: run-time key `{name}` is unreadable, left out: {e}"),
        }
    }
    let mut revoked: Vec<String> = con.smembers(names.revoked())?;
    revoked.sort();
    Ok(KeyOverlay { keys, revoked })
}

/// Rereads the keys; recompiles when they changed. Returns whether they did.
pub fn refresh(control: &Control, con: &mut redis::Connection) -> Result<bool, String> {
    let f = control.shared.fleet.as_ref().ok_or("not in fleet mode")?;
    let overlay = read_overlay(con, &Names::new(&f.config.prefix)).map_err(|e| store::describe(&e))?;
    {
        let mut cur = f.overlay.lock().unwrap_or_else(|e| e.into_inner());
        if *cur == overlay {
            return Ok(false);
        }
        *cur = overlay;
    }
    control.rekey()?;
    f.stats.key_updates.fetch_add(1, Relaxed);
    crate::info!("fleet: key set changed, recompiled");
    Ok(true)
}

fn new_secret() -> Result<String, KeyError> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw).map_err(|e| err(500, format!("no randomness: {e}")))?;
    Ok(secret_from(&raw))
}

/// `POST /admin/keys`: a new key from `body` (`name` plus the fields of `[keys.NAME]` except
/// `key_hash`). Answers with the secret, shown this once.
pub fn create(control: &Control, body: &[u8]) -> Result<Value, KeyError> {
    let f = fleet(control)?;
    let mut v: serde_json::Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| err(400, format!("the body must be a JSON object: {e}")))?;
    let name = match v.remove("name") {
        Some(Value::String(n)) => n,
        _ => return Err(err(400, "`name` (a string) is required")),
    };
    if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(err(400, "`name`: 1 to 128 letters, digits, `-`, `_` or `.`"));
    }
    if v.contains_key("key_hash") {
        return Err(err(400, "`key_hash` is made by the gateway; leave it out"));
    }
    let secret = new_secret()?;
    let hash = format_key_hash(&hash_key(secret.as_bytes()));
    v.insert("key_hash".into(), Value::String(hash.clone()));
    let key: KeyConfig = serde_json::from_value(Value::Object(v)).map_err(|e| err(400, e.to_string()))?;
    let loaded = control.loaded();
    validate_key(&loaded, &name, &key).map_err(|e| err(400, e.to_string()))?;
    if control.shared.live.load().keys.as_ref().is_some_and(|s| s.keys.iter().any(|k| k.name == name)) {
        return Err(err(409, format!("a key named `{name}` exists; rotate or revoke it")));
    }
    let names = Names::new(&f.config.prefix);
    let mut con = connection(f)?;
    let text = serde_json::to_string(&key).map_err(|e| err(500, e.to_string()))?;
    let added: bool = con.hset_nx(names.keys(), &name, text).map_err(|e| unreachable(&e))?;
    if !added {
        return Err(err(409, format!("a key named `{name}` exists; rotate or revoke it")));
    }
    bump(&mut con, &names)?;
    let _ = refresh(control, &mut con);
    crate::info!("fleet: key `{name}` created");
    Ok(json!({"name": name, "key": secret, "key_hash": hash}))
}

/// `GET /admin/keys`: every key the fleet accepts, from config and run time (hashes only).
pub fn list(control: &Control) -> Result<Value, KeyError> {
    let live = control.shared.live.load();
    let runtime = control.shared.fleet.as_ref().map(|f| f.overlay.lock().unwrap_or_else(|e| e.into_inner()).clone());
    let now = control.shared.key_now();
    let keys: Vec<Value> = live
        .keys
        .iter()
        .flat_map(|s| s.keys.iter())
        .map(|k| {
            let from_fleet = runtime.as_ref().is_some_and(|o| o.keys.contains_key(&k.name));
            let (day, month) = k.spent_usd(now.unix_ms);
            json!({
                "name": k.name,
                "source": if from_fleet { "fleet" } else { "config" },
                "key_hash": format_key_hash(k.hash()),
                "rpm": k.rpm(),
                "tpm": k.tpm(),
                "spent_today_usd": day,
                "spent_this_month_usd": month,
            })
        })
        .collect();
    let revoked = runtime.map(|o| o.revoked).unwrap_or_default();
    Ok(json!({"keys": keys, "revoked": revoked}))
}

/// The config of key `name` as the fleet has it now (run-time first, then config).
fn current(control: &Control, f: &Fleet, name: &str) -> Result<KeyConfig, KeyError> {
    let from_fleet = f.overlay.lock().unwrap_or_else(|e| e.into_inner()).keys.get(name).cloned();
    let live = control.shared.live.load();
    let accepted = live.keys.as_ref().and_then(|s| s.keys.iter().find(|k| k.name == name));
    let Some(k) = accepted else { return Err(err(404, format!("no key named `{name}`"))) };
    let hash = format_key_hash(k.hash());
    Ok(match from_fleet.filter(|c| c.key_hash == hash) {
        Some(c) => c,
        None => {
            let loaded = control.loaded();
            let mut c = loaded.keys.get(name).cloned().ok_or_else(|| err(404, format!("no key named `{name}`")))?;
            c.key_hash = hash;
            c
        }
    })
}

/// `POST /admin/keys/NAME/rotate`: a new secret for the key (same limits and spend); the old
/// one is refused fleet-wide.
pub fn rotate(control: &Control, name: &str) -> Result<Value, KeyError> {
    let f = fleet(control)?;
    let mut key = current(control, f, name)?;
    let old = key.key_hash.clone();
    let secret = new_secret()?;
    key.key_hash = format_key_hash(&hash_key(secret.as_bytes()));
    let names = Names::new(&f.config.prefix);
    let mut con = connection(f)?;
    let text = serde_json::to_string(&key).map_err(|e| err(500, e.to_string()))?;
    redis::pipe()
        .atomic()
        .hset(names.keys(), name, text)
        .ignore()
        .sadd(names.revoked(), &old)
        .ignore()
        .incr(names.keys_version(), 1)
        .ignore()
        .exec(&mut con)
        .map_err(|e| unreachable(&e))?;
    let _ = refresh(control, &mut con);
    crate::info!("fleet: key `{name}` rotated");
    Ok(json!({"name": name, "key": secret, "key_hash": key.key_hash, "revoked": old}))
}

/// `DELETE /admin/keys/NAME`: the key is refused fleet-wide from the next sync round on.
pub fn revoke(control: &Control, name: &str) -> Result<Value, KeyError> {
    let f = fleet(control)?;
    let key = current(control, f, name)?;
    let names = Names::new(&f.config.prefix);
    let mut con = connection(f)?;
    redis::pipe()
        .atomic()
        .hdel(names.keys(), name)
        .ignore()
        .sadd(names.revoked(), &key.key_hash)
        .ignore()
        .incr(names.keys_version(), 1)
        .ignore()
        .exec(&mut con)
        .map_err(|e| unreachable(&e))?;
    let _ = refresh(control, &mut con);
    crate::info!("fleet: key `{name}` revoked");
    Ok(json!({"name": name, "revoked": key.key_hash}))
}

fn bump(con: &mut redis::Connection, names: &Names) -> Result<(), KeyError> {
    con.incr::<_, _, i64>(names.keys_version(), 1).map(|_| ()).map_err(|e| unreachable(&e))
}
