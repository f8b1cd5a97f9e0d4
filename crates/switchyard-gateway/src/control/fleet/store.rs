//! The Redis side of fleet mode: the connection (plain or TLS, with timeouts), the key names,
//! and the two Lua scripts that make a flush atomic and exactly-once.

use std::time::Duration;

use redis::{Client, Connection, Script};
use switchyard_config::FleetConfig;

/// Flushes what one process used and returns the fleet's totals, atomically. A flush carries a
/// sequence number per process; one already applied (its reply was lost to a broken connection
/// and it is sent again) is not applied twice, only read. Rate buckets are GCRA times on the
/// store's clock (`TIME`), so hosts' clocks need not agree.
const SYNC_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local fresh = tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0')
if fresh then redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400) end
local function bucket(key, limit, used)
  if limit <= 0 then return 0 end
  local tat = math.max(tonumber(redis.call('GET', key) or '0'), now)
  if fresh and used > 0 then
    tat = tat + used * 60000000 / limit
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 60000)
  end
  return math.floor(tat - now)
end
local function spend(key, used, ttl)
  if fresh and used ~= '0' then
    local v = redis.call('INCRBY', key, used)
    redis.call('EXPIRE', key, ttl)
    return v
  end
  return tonumber(redis.call('GET', key) or '0')
end
local out = {}
for i = 0, (#KEYS - 1) / 4 - 1 do
  local k, a = 2 + i * 4, 2 + i * 5
  out[#out + 1] = bucket(KEYS[k], tonumber(ARGV[a + 3]), tonumber(ARGV[a]))
  out[#out + 1] = bucket(KEYS[k + 1], tonumber(ARGV[a + 4]), tonumber(ARGV[a + 1]))
  out[#out + 1] = spend(KEYS[k + 2], ARGV[a + 2], 3 * 86400)
  out[#out + 1] = spend(KEYS[k + 3], ARGV[a + 2], 35 * 86400)
end
return out
"#;

/// Publishes a cooldown unless a longer one is already published.
const COOL_SCRIPT: &str = r#"
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1])
end
return 0
"#;

/// The store's names for one fleet (every key in one Redis Cluster hash slot).
#[derive(Debug, Clone)]
pub struct Names {
    p: String,
}

impl Names {
    /// Names under `prefix`.
    pub fn new(prefix: &str) -> Names {
        Names { p: format!("{{{prefix}}}") }
    }
    /// A process's last applied flush.
    pub fn seq(&self, replica: &str) -> String {
        format!("{}:seq:{replica}", self.p)
    }
    /// A key's requests-per-minute bucket.
    pub fn requests(&self, key: &str) -> String {
        format!("{}:rl:{key}:req", self.p)
    }
    /// A key's tokens-per-minute bucket.
    pub fn tokens(&self, key: &str) -> String {
        format!("{}:rl:{key}:tok", self.p)
    }
    /// A key's spend on UTC day `day`.
    pub fn day(&self, key: &str, day: u64) -> String {
        format!("{}:spend:{key}:d:{day}", self.p)
    }
    /// A key's spend in UTC month `month`.
    pub fn month(&self, key: &str, month: u64) -> String {
        format!("{}:spend:{key}:m:{month}", self.p)
    }
    /// Run-time keys: name → JSON of the key's config (hash, never the secret).
    pub fn keys(&self) -> String {
        format!("{}:keys", self.p)
    }
    /// Revoked key hashes.
    pub fn revoked(&self) -> String {
        format!("{}:revoked", self.p)
    }
    /// Bumped on every key change, so processes reread the keys only then.
    pub fn keys_version(&self) -> String {
        format!("{}:keys:version", self.p)
    }
    /// A model's cooldown end, unix ms.
    pub fn cooldown(&self, model: &str) -> String {
        format!("{}:cool:{model}", self.p)
    }
    /// The shared cache's stream of entries.
    pub fn cache(&self) -> String {
        format!("{}:cache", self.p)
    }
    /// Processes seen recently, scored by unix ms.
    pub fn replicas(&self) -> String {
        format!("{}:replicas", self.p)
    }
}

/// An open connection with the scripts loaded.
pub struct Store {
    /// The connection.
    pub con: Connection,
    /// `SYNC_SCRIPT`'s hash.
    pub sync_sha: String,
    /// `COOL_SCRIPT`'s hash.
    pub cool_sha: String,
}

/// The client for `cfg` (reads `ca_file`).
pub fn client(cfg: &FleetConfig) -> Result<Client, String> {
    let shown = switchyard_config::parse_redis_url(&cfg.redis).map(|a| a.to_string()).unwrap_or_default();
    let bad = |e: redis::RedisError| format!("fleet.redis ({shown}): {:?}", e.kind());
    match &cfg.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("fleet.ca_file: cannot read {path}: {e}"))?;
            Client::build_with_tls(
                cfg.redis.as_str(),
                redis::TlsCertificates { client_tls: None, root_cert: Some(pem) },
            )
            .map_err(bad)
        }
        None => Client::open(cfg.redis.as_str()).map_err(bad),
    }
}

/// Connects with the configured timeouts and loads the scripts.
pub fn connect(client: &Client, cfg: &FleetConfig) -> redis::RedisResult<Store> {
    let mut con = client.get_connection_with_timeout(Duration::from_millis(cfg.connect_timeout_ms))?;
    let io = Some(Duration::from_millis(cfg.io_timeout_ms));
    con.set_read_timeout(io)?;
    con.set_write_timeout(io)?;
    let sync_sha = Script::new(SYNC_SCRIPT).load(&mut con)?;
    let cool_sha = Script::new(COOL_SCRIPT).load(&mut con)?;
    Ok(Store { con, sync_sha, cool_sha })
}

/// A Redis error as a log line shows it: its kind and message, never the URL (which may hold
/// a password).
pub fn describe(e: &redis::RedisError) -> String {
    let detail = e.detail().unwrap_or("");
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connection_refusal() {
        "connection refused".into()
    } else if e.is_connection_dropped() || e.is_io_error() {
        format!("connection lost ({:?})", e.kind())
    } else {
        format!("{:?}{}{detail}", e.kind(), if detail.is_empty() { "" } else { ": " })
    }
}
