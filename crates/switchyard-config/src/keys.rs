//! `[keys.NAME]`: client (virtual) keys, stored as hashes, with what each may use and spend.

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// One client key.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// `sha256:<64 hex digits>` of the key (`switchyard keys new` or `switchyard keys hash`).
    pub key_hash: String,
    /// Routes and models this key may ask for (`*` or empty: all).
    #[serde(default)]
    pub models: Vec<String>,
    /// Requests per minute (a minute's worth may come as a burst).
    pub rpm: Option<u32>,
    /// Tokens (prompt + completion) per minute; checked before, charged after each answer.
    pub tpm: Option<u64>,
    /// USD per UTC day.
    pub budget_daily_usd: Option<f64>,
    /// USD per UTC calendar month.
    pub budget_monthly_usd: Option<f64>,
    /// Honour this key's routing headers (`x-switchyard-tier`, `x-switchyard-min-tier` and the
    /// headers rules read). Off by default: any other key's routing headers are ignored.
    #[serde(default)]
    pub routing_headers: bool,
}

/// Parses `sha256:<64 hex>` into the digest bytes.
pub fn parse_key_hash(s: &str) -> Result<[u8; 32], String> {
    let hex = s
        .strip_prefix("sha256:")
        .ok_or("must look like `sha256:<64 hex digits>` (run `switchyard keys hash` to make one)")?;
    if hex.len() != 64 {
        return Err(format!("expected 64 hex digits after `sha256:`, found {}", hex.len()));
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let d = |c: u8| (c as char).to_digit(16).ok_or("not a hexadecimal digit");
        out[i] = (d(pair[0])? * 16 + d(pair[1])?) as u8;
    }
    Ok(out)
}

pub(super) fn validate_keys(cfg: &Config) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashMap::new();
    for (name, k) in &cfg.keys {
        let h = validate_key(cfg, name, k)?;
        if let Some(other) = seen.insert(h, name) {
            return Err(ConfigError::new(format!("keys.{name}.key_hash"), format!("same key as `keys.{other}`")));
        }
    }
    if let Some(a) = &cfg.admin
        && let Some(ah) = a.key_hash.as_deref()
        && let Ok(h) = parse_key_hash(ah)
        && let Some(name) = seen.get(&h)
    {
        return Err(ConfigError::new("admin.key_hash", format!("the admin key must differ from `keys.{name}`")));
    }
    Ok(())
}

/// Checks one key against `cfg` (its models must exist) and returns its hash; keys created at
/// run time in fleet mode are checked with this too.
pub fn validate_key(cfg: &Config, name: &str, k: &KeyConfig) -> Result<[u8; 32], ConfigError> {
    let field = |f: &str| format!("keys.{name}.{f}");
    let h = parse_key_hash(&k.key_hash).map_err(|m| ConfigError::new(field("key_hash"), m))?;
    for (i, m) in k.models.iter().enumerate() {
        if m != "*" && !cfg.models.contains_key(m) && !cfg.routes.contains_key(m) {
            return Err(ConfigError::new(format!("{}[{i}]", field("models")), format!("unknown route or model `{m}`")));
        }
    }
    if k.rpm == Some(0) {
        return Err(ConfigError::new(field("rpm"), "must be at least 1"));
    }
    if k.tpm == Some(0) {
        return Err(ConfigError::new(field("tpm"), "must be at least 1"));
    }
    for (f, v) in [("budget_daily_usd", k.budget_daily_usd), ("budget_monthly_usd", k.budget_monthly_usd)] {
        if v.is_some_and(|b| !(0.0..1e9).contains(&b)) {
            return Err(ConfigError::new(field(f), "must be between 0 and 1e9 USD"));
        }
    }
    Ok(h)
}
