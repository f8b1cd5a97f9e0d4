//! Client-key spend saved to `server.state_file` (every few seconds and at exit, written to a
//! temporary file then renamed) and restored at start, so daily and monthly budgets survive
//! restarts and deploys.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_guard::keys::KeyRegistry;

use crate::runtime::live::Shared;

/// How often spend is saved.
const EVERY: Duration = Duration::from_secs(5);

/// Loads saved spend into `keys`; a missing file is a first start, a bad one is an error.
pub fn load(path: &str, keys: &KeyRegistry) -> Result<usize, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("server.state_file: cannot read {path}: {e}")),
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("server.state_file: {path} is not valid: {e}"))?;
    let Some(entries) = v["keys"].as_object() else {
        return Err(format!("server.state_file: {path} has no `keys` object"));
    };
    for (name, s) in entries {
        let n = |f: &str| s[f].as_u64().unwrap_or(0);
        keys.restore_spend(name, n("day"), n("day_nusd"), n("month"), n("month_nusd"));
    }
    Ok(entries.len())
}

/// Writes the current spend of every key.
pub fn save(path: &str, keys: &KeyRegistry) -> std::io::Result<()> {
    let mut entries = serde_json::Map::new();
    for (name, day, day_nusd, month, month_nusd) in keys.spend_snapshot() {
        entries.insert(name, json!({"day": day, "day_nusd": day_nusd, "month": month, "month_nusd": month_nusd}));
    }
    let text = json!({"version": 1, "keys": entries}).to_string();
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Saves every few seconds until shutdown; the caller saves once more after the drain.
pub fn spawn_saver(shared: Arc<Shared>, path: String) {
    let _ = std::thread::Builder::new().name("switchyard-state".into()).spawn(move || {
        while !shared.shutdown.load(Ordering::Relaxed) {
            std::thread::sleep(EVERY);
            if let Err(e) = save(&path, &shared.keys) {
                crate::warn!("server.state_file: cannot write {path}: {e}");
            }
        }
    });
}
