//! `[fleet]`: several gateway processes share client keys, limits, spend, provider cooldowns
//! and (optionally) the response cache through one Redis. Without the section every process
//! keeps its own state, as a single host does.

use serde::Deserialize;

use super::{Config, ConfigError};

/// What a process does while it cannot reach Redis, per concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Keep serving on local state, counting every such decision.
    #[default]
    Open,
    /// Refuse the requests the concern covers with a 503 in the client's dialect.
    Closed,
}

/// `[fleet.on_failure]`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailurePolicies {
    /// Requests of keys with an rpm, tpm or budget (their limits are fleet-wide).
    pub limits: FailurePolicy,
    /// Every request with a client key (a key revoked elsewhere cannot be seen).
    pub keys: FailurePolicy,
}

/// `[fleet]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS).
    pub redis: String,
    /// Prefix of every Redis key, so several fleets can share one Redis. Keys are written
    /// `{prefix}:…`: the braces make one Redis Cluster hash slot hold a fleet's keys, which the
    /// sync scripts need.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// PEM file of the CA that signed a `rediss://` server's certificate (default: the
    /// bundled web roots).
    pub ca_file: Option<String>,
    /// How often local counts are flushed and the fleet's totals read back, ms.
    #[serde(default = "default_sync_ms")]
    pub sync_interval_ms: u64,
    /// Connecting to Redis, ms.
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// One round trip (a whole pipelined sync), ms; a slower Redis counts as down.
    #[serde(default = "default_io_ms")]
    pub io_timeout_ms: u64,
    /// Share exact-match cache entries between processes.
    #[serde(default)]
    pub share_cache: bool,
    /// What to do while Redis cannot be reached.
    #[serde(default)]
    pub on_failure: FailurePolicies,
}

fn default_prefix() -> String {
    "switchyard".into()
}
fn default_sync_ms() -> u64 {
    10
}
fn default_connect_ms() -> u64 {
    500
}
fn default_io_ms() -> u64 {
    250
}

/// The parts of a Redis URL the gateway checks and logs (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAddress {
    /// `rediss://`.
    pub tls: bool,
    /// Host name or IP.
    pub host: String,
    /// Port (6379 when absent).
    pub port: u16,
    /// Database index (0 when absent).
    pub db: u32,
    /// A password (or ACL user and password) is given.
    pub authenticated: bool,
}

impl std::fmt::Display for RedisAddress {
    /// Safe to log: scheme, host, port and db, without credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        write!(f, "{scheme}://{}:{}/{}", self.host, self.port, self.db)
    }
}

/// Reads a `redis://` or `rediss://` URL.
pub fn parse_redis_url(url: &str) -> Result<RedisAddress, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("rediss://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("redis://") {
        (false, r)
    } else {
        return Err("must start with `redis://` or `rediss://`".into());
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (creds, hostport) = match authority.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, p) = v6.split_once(']').ok_or("unclosed `[` in the host")?;
        (h, p.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    let port = match port {
        Some(p) => {
            p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("port `{p}` is not a number in 1..65535"))?
        }
        None => 6379,
    };
    let db_text = path.split(['?', '#']).next().unwrap_or("");
    let db = if db_text.is_empty() {
        0
    } else {
        db_text.parse::<u32>().map_err(|_| format!("database `{db_text}` is not a number"))?
    };
    Ok(RedisAddress { tls, host: host.to_string(), port, db, authenticated: creds.is_some_and(|c| !c.is_empty()) })
}

pub(super) fn validate_fleet(cfg: &Config) -> Result<(), ConfigError> {
    let Some(f) = &cfg.fleet else { return Ok(()) };
    parse_redis_url(&f.redis).map_err(|m| ConfigError::new("fleet.redis", m))?;
    if f.prefix.is_empty() || f.prefix.len() > 64 || f.prefix.contains(['{', '}', ' ', ':']) {
        return Err(ConfigError::new("fleet.prefix", "1 to 64 characters, without braces, colons or spaces"));
    }
    for (field, v, range) in [
        ("fleet.sync_interval_ms", f.sync_interval_ms, 1..=1000),
        ("fleet.connect_timeout_ms", f.connect_timeout_ms, 1..=60_000),
        ("fleet.io_timeout_ms", f.io_timeout_ms, 1..=60_000),
    ] {
        if !range.contains(&v) {
            return Err(ConfigError::new(field, format!("must be between {} and {}", range.start(), range.end())));
        }
    }
    if f.ca_file.is_some() && !f.redis.starts_with("rediss://") {
        return Err(ConfigError::new("fleet.ca_file", "only used with a `rediss://` URL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls() {
        let a = parse_redis_url("redis://127.0.0.1:6380/2").unwrap();
        assert_eq!((a.tls, a.host.as_str(), a.port, a.db, a.authenticated), (false, "127.0.0.1", 6380, 2, false));
        let a = parse_redis_url("rediss://app:s3cret@cache.internal").unwrap();
        assert_eq!((a.tls, a.port, a.db, a.authenticated), (true, 6379, 0, true));
        assert_eq!(a.to_string(), "rediss://cache.internal:6379/0", "no credentials when shown");
        assert_eq!(parse_redis_url("redis://[::1]:7000").unwrap().host, "::1");
        assert!(parse_redis_url("http://x").unwrap_err().contains("redis://"));
        assert!(parse_redis_url("redis://h:99999").unwrap_err().contains("port"));
        assert!(parse_redis_url("redis://h/x").unwrap_err().contains("database"));
        assert!(parse_redis_url("redis://:pw@").unwrap_err().contains("host"));
    }
}
