//! The TOML configuration: types, `${VAR}` expansion, and validation whose errors name the field.

use std::collections::BTreeMap;

use serde::Deserialize;

pub use crate::endpoint::Endpoint;
pub use switchyard_wire::Dialect;

pub mod endpoint;
pub mod prices;

mod fleet;
mod keys;
mod routes;
pub use fleet::*;
pub use keys::*;
pub use routes::*;

/// A configuration problem, with the dotted path of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// Dotted path of the field, e.g. `providers.openai.base_url`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// An error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { field: field.into(), message: message.into() }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener and client-side limits.
    #[serde(default)]
    pub server: ServerConfig,
    /// Defaults for upstream connections.
    #[serde(default)]
    pub upstream: UpstreamConfig,
    /// Providers by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Models clients may ask for, by name.
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    /// Routes (virtual model names) by name.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteConfig>,
    /// The admin listener (off unless configured).
    pub admin: Option<AdminConfig>,
    /// The decision log (off unless configured).
    pub log: Option<LogConfig>,
    /// Client (virtual) keys by name; when any exist, every API request needs one.
    #[serde(default)]
    pub keys: BTreeMap<String, KeyConfig>,
    /// The response cache shared by routes that turn it on.
    #[serde(default)]
    pub cache: CacheConfig,
    /// Who may read `GET /metrics` on the client port.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The Responses API's store of recent answers (`previous_response_id`).
    #[serde(default)]
    pub responses: ResponsesConfig,
    /// Fleet mode: state shared with other processes through Redis (off without the section).
    pub fleet: Option<FleetConfig>,
    /// A static embedding table (`models/embeddings/….bin`, `vocab.txt` beside it): semantic
    /// intents and the semantic cache compare meaning with it instead of character n-grams.
    pub embeddings: Option<String>,
}

/// `[responses]`: answers to `/v1/responses` kept so a follow-up can name them in
/// `previous_response_id`, whichever model answers it. Sized at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponsesConfig {
    /// Memory bound of the store: conversations and bookkeeping, bytes.
    pub store_max_bytes: usize,
    /// How long a stored answer can be continued, seconds.
    pub store_ttl_secs: u64,
}

impl Default for ResponsesConfig {
    fn default() -> Self {
        ResponsesConfig { store_max_bytes: 64 * 1024 * 1024, store_ttl_secs: 3600 }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` on the client port to anyone. Off by default when client keys are
    /// configured (the metrics name every key and its spend): the admin key is then needed, or
    /// the admin listener serves them.
    #[serde(default)]
    pub public: bool,
}

/// `[cache]`: the one response cache all routes with `cache = {...}` share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Memory bound: keys, answers and bookkeeping, bytes.
    pub max_bytes: usize,
    /// Let one client key's stored answers serve another's requests. Off by default: each key
    /// has its own entries, so a hit tells no tenant what another asked.
    pub share_across_keys: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { max_bytes: 64 * 1024 * 1024, share_across_keys: false }
    }
}

/// `[log]`: one JSON line per request, written by a background thread.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `stdout` or a file path (appended; reopened on SIGHUP for logrotate).
    pub decisions: String,
    /// Also write the prompt text (off: only a hash of it).
    #[serde(default)]
    pub include_prompt: bool,
    /// Records waiting for the writer; when full, records are dropped and counted.
    #[serde(default = "default_log_capacity")]
    pub capacity: usize,
}

fn default_log_capacity() -> usize {
    65_536
}

/// `[admin]`: control endpoints on their own listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin listener; loopback unless `allow_remote`.
    #[serde(default = "default_admin_listen")]
    pub listen: String,
    /// Allow a non-loopback admin address.
    #[serde(default)]
    pub allow_remote: bool,
    /// `sha256:<hex>` of the admin key (`switchyard keys new` prints one); admin requests send
    /// it as `Authorization: Bearer <key>`. Without one, `/admin/*` is refused and the console
    /// answers loopback clients only; required with `allow_remote`.
    #[serde(default)]
    pub key_hash: Option<String>,
    /// Serve the web console at `/ui` (docs/console.md).
    #[serde(default = "yes")]
    pub console: bool,
}

fn yes() -> bool {
    true
}

fn default_admin_listen() -> String {
    "127.0.0.1:9901".into()
}

/// `[server]`: the client-facing side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Worker threads; 0 means one per available core.
    pub workers: usize,
    /// Pin worker N to CPU N.
    pub pin_cpus: bool,
    /// I/O driver: io_uring with epoll fallback, or one of them.
    pub io: IoDriver,
    /// Largest request head, bytes (431 above).
    pub max_head_bytes: usize,
    /// Largest request body, bytes (413 above). 32 MiB by default: Anthropic takes requests
    /// up to 32 MB and OpenAI and Gemini images of 20 MB, base64 (4/3 larger) inside the JSON,
    /// so an image-heavy request fits; text-only deployments can set it far lower.
    pub max_body_bytes: usize,
    /// Output tokens a request of a key with limits reserves when it sets no `max_tokens`
    /// (its budget and tokens-per-minute hold this much until the answer's real usage is known).
    pub reserve_output_tokens: u64,
    /// Time allowed to receive a whole request head once its first byte arrived.
    pub head_timeout_ms: u64,
    /// Time allowed to receive a request body.
    pub body_timeout_ms: u64,
    /// Idle keep-alive connections are closed after this long.
    pub idle_timeout_ms: u64,
    /// Open client connections across all workers; more are answered 503 and closed.
    pub max_connections: usize,
    /// Open client connections from one IP address; more are answered 503 and closed.
    /// Counted per worker (each allows its share, rounded up), so no lock is taken at accept.
    pub max_connections_per_address: usize,
    /// Longest a write to a client may wait for it to read: a client that reads nothing for
    /// this long is dropped and its upstream connection released.
    pub write_timeout_ms: u64,
    /// Where client-key spend is saved (every few seconds and at exit) and restored from at
    /// start, so budgets survive restarts. Off when unset.
    pub state_file: Option<String>,
    /// TLS on the client listener (plain HTTP without it).
    pub tls: Option<ServerTls>,
    /// Process memory ceiling, bytes of resident memory: above it new chat requests are
    /// answered 503 with `retry-after` until it falls again (Envoy's overload manager). Off
    /// when unset.
    pub max_memory_bytes: Option<u64>,
    /// What an answer's `model` field says: the upstream's model id (`upstream`, as the
    /// provider wrote it), or the model or route the client asked for (`requested`, the
    /// upstream id then in `x-switchyard-upstream-model`).
    pub report_model: ReportModel,
}

/// See [`ServerConfig::report_model`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportModel {
    /// The upstream's own model id.
    #[default]
    Upstream,
    /// The model or route name the client sent.
    Requested,
}

/// `[server.tls]`: the client listener's certificate, key and optional client CA, as PEM
/// files (read again on SIGHUP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// Certificate chain, leaf first.
    pub cert: String,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// CA certificates a client certificate must chain to; clients without one are refused.
    pub client_ca: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            workers: 0,
            pin_cpus: false,
            io: IoDriver::Auto,
            max_head_bytes: 16 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
            reserve_output_tokens: 4096,
            head_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            max_connections: 16_384,
            max_connections_per_address: 256,
            write_timeout_ms: 30_000,
            state_file: None,
            tls: None,
            max_memory_bytes: None,
            report_model: ReportModel::Upstream,
        }
    }
}

/// Which monoio driver the workers use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoDriver {
    /// io_uring where the kernel allows it, else epoll (`MONOIO_FORCE_LEGACY_DRIVER=1` forces epoll).
    #[default]
    Auto,
    /// epoll always.
    Epoll,
}

/// `[upstream]`: defaults for every provider connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// TCP (and TLS handshake) connect timeout.
    pub connect_timeout_ms: u64,
    /// Deadline for a whole upstream exchange (head and body, streams included).
    pub request_timeout_ms: u64,
    /// Longest silence between two pieces of an upstream body (a stalled stream fails).
    pub stream_idle_timeout_ms: u64,
    /// Idle pooled connections kept per core and upstream address.
    pub pool_max_idle: usize,
    /// Pooled connections idle longer than this are not reused.
    pub pool_idle_timeout_ms: u64,
    /// Extra PEM CA bundle trusted besides the webpki roots (private endpoints, tests).
    pub ca_file: Option<String>,
    /// How often host names are resolved again, off the workers.
    pub dns_refresh_ms: u64,
    /// Upstream response fields passed to clients beyond the built-in list (content type,
    /// request id, rate-limit and retry headers); a trailing `*` matches a prefix.
    pub pass_headers: Vec<String>,
    /// Largest whole (non-streamed) answer held, bytes: a larger one is a 502
    /// `upstream_answer_too_large`, charged for what was received.
    pub max_answer_bytes: usize,
    /// Try the next model after an answer over `max_answer_bytes` (a second paid attempt);
    /// off by default.
    pub retry_too_large: bool,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            connect_timeout_ms: 3_000,
            request_timeout_ms: 600_000,
            stream_idle_timeout_ms: 60_000,
            pool_max_idle: 128,
            pool_idle_timeout_ms: 30_000,
            ca_file: None,
            dns_refresh_ms: 30_000,
            pass_headers: Vec::new(),
            max_answer_bytes: 32 * 1024 * 1024,
            retry_too_large: false,
        }
    }
}

/// `[providers.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Wire format.
    #[serde(default = "default_dialect")]
    pub dialect: Dialect,
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// An `openai` provider that also serves the Responses API at `/responses` (OpenAI itself
    /// does): `/v1/responses` requests are passed to it byte for byte instead of translated to
    /// chat completions.
    #[serde(default)]
    pub responses: bool,
    /// Key sent upstream; may be empty for servers without auth.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Several keys, chosen per request in proportion to their weights (with or instead of `api_key`).
    #[serde(default)]
    pub api_keys: Vec<WeightedKey>,
    /// Extra headers sent on every upstream request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Overrides `upstream.connect_timeout_ms`.
    pub connect_timeout_ms: Option<u64>,
    /// Overrides `upstream.request_timeout_ms`.
    pub request_timeout_ms: Option<u64>,
    /// Overrides `upstream.stream_idle_timeout_ms`.
    pub stream_idle_timeout_ms: Option<u64>,
}

/// One of several provider keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedKey {
    /// The key.
    pub key: String,
    /// Relative share of requests.
    #[serde(default = "one")]
    pub weight: u32,
}

fn default_dialect() -> Dialect {
    Dialect::OpenAi
}

/// `[models.NAME]`: a model clients can ask for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Provider name (a key of `[providers]`).
    pub provider: String,
    /// The provider's own model name; defaults to the table key.
    pub model: Option<String>,
    /// USD per million input tokens (default: the built-in price table).
    pub input_price: Option<f64>,
    /// USD per million output tokens (default: the built-in price table).
    pub output_price: Option<f64>,
    /// Context window in tokens (default: the built-in table, else unlimited).
    pub context_window: Option<u32>,
    /// Most output tokens the model writes per answer; a request of a key with limits that
    /// sets no `max_tokens` reserves this many (default: `server.reserve_output_tokens`).
    pub max_output_tokens: Option<u64>,
    /// Free-form capability tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Share for the `weighted` balancer.
    #[serde(default = "one")]
    pub weight: u32,
    /// Ordered alternates tried when this model fails.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

fn one() -> u32 {
    1
}

/// Whether a field's name says it holds a secret (key, secret, token, password).
fn names_a_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["key", "secret", "token", "password"].iter().any(|s| n.contains(s))
}

/// A TOML syntax error as line, column and message, with the offending line shown unless it
/// sets a field named like a secret (an unquoted `api_key = sk-...` is a syntax error whose
/// line is the secret); then only its key is shown.
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let at = e.span().map_or(0, |s| s.start).min(text.len());
    let line_no = text[..at].matches('\n').count() + 1;
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let column = text[start..at].chars().count() + 1;
    let shown = match line.split_once('=') {
        Some((k, _)) if names_a_secret(k) => format!("{}= <value not shown>", k),
        _ => line.to_string(),
    };
    format!("invalid TOML at line {line_no}, column {column}: {}\n  | {shown}", e.message().trim())
}

/// `message` with its quoted parts (`...`, "...") left out: serde quotes the value it refused.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push_str("<value not shown>");
                quote = None;
            }
            Some(_) => {}
            None if c == '`' || c == '"' => quote = Some(c),
            None => out.push(c),
        }
    }
    out
}

impl Config {
    /// Parses TOML text, replacing `${VAR}` / `${VAR:-default}` in string values from `env`,
    /// then validates. `env` is a parameter so tests and callers control the environment.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut value: toml::Table =
            text.parse().map_err(|e: toml::de::Error| ConfigError::new("<file>", syntax_error(text, &e)))?;
        expand_table(&mut value, "", env)?;
        let cfg: Config = serde_path_to_error::deserialize(toml::Value::Table(value)).map_err(|e| {
            let path = e.path().to_string();
            // An empty path (or one of empty table names) still has to point somewhere.
            let field = if path.trim_matches('.').is_empty() { "<root>".into() } else { path };
            let message = e.into_inner().to_string();
            // serde quotes the value it could not take: not for a secret.
            let last = field.rsplit('.').next().unwrap_or("");
            let message = if names_a_secret(last) { without_quoted_values(&message) } else { message };
            ConfigError::new(field, message)
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses with the process environment.
    pub fn parse_with_process_env(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, &|k| std::env::var(k).ok())
    }

    /// Checks relations and ranges serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if s.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::new("server.listen", format!("`{}` is not an IP:port address", s.listen)));
        }
        if s.workers > 1024 {
            return Err(ConfigError::new("server.workers", "at most 1024"));
        }
        if s.max_head_bytes < 1024 {
            return Err(ConfigError::new("server.max_head_bytes", "must be at least 1024"));
        }
        if s.max_connections == 0 {
            return Err(ConfigError::new("server.max_connections", "must be at least 1"));
        }
        if s.max_connections_per_address == 0 {
            return Err(ConfigError::new("server.max_connections_per_address", "must be at least 1"));
        }
        if self.upstream.max_answer_bytes == 0 {
            return Err(ConfigError::new("upstream.max_answer_bytes", "must be positive"));
        }
        if s.max_body_bytes == 0 {
            return Err(ConfigError::new("server.max_body_bytes", "must be positive"));
        }
        for (field, v) in [
            ("server.head_timeout_ms", s.head_timeout_ms),
            ("server.body_timeout_ms", s.body_timeout_ms),
            ("server.idle_timeout_ms", s.idle_timeout_ms),
            ("server.write_timeout_ms", s.write_timeout_ms),
            ("upstream.connect_timeout_ms", self.upstream.connect_timeout_ms),
            ("upstream.request_timeout_ms", self.upstream.request_timeout_ms),
            ("upstream.stream_idle_timeout_ms", self.upstream.stream_idle_timeout_ms),
            ("upstream.dns_refresh_ms", self.upstream.dns_refresh_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::new(field, "must be positive"));
            }
        }
        for (name, p) in &self.providers {
            let field = |f: &str| format!("providers.{name}.{f}");
            Endpoint::parse(&p.base_url).map_err(|m| ConfigError::new(field("base_url"), m))?;
            if p.responses && p.dialect != Dialect::OpenAi {
                return Err(ConfigError::new(field("responses"), "only an `openai` provider serves the Responses API"));
            }
            for (k, v) in &p.headers {
                if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
                    return Err(ConfigError::new(field("headers"), format!("invalid header name `{k}`")));
                }
                if v.bytes().any(|b| b == b'\r' || b == b'\n') {
                    return Err(ConfigError::new(format!("{}.{k}", field("headers")), "value contains a line break"));
                }
            }
            if let Some(k) = &p.api_key
                && k.bytes().any(|b| b.is_ascii_control())
            {
                return Err(ConfigError::new(field("api_key"), "contains control characters"));
            }
            for (i, k) in p.api_keys.iter().enumerate() {
                if k.key.is_empty() || k.key.bytes().any(|b| b.is_ascii_control()) {
                    return Err(ConfigError::new(
                        field(&format!("api_keys[{i}].key")),
                        "empty or contains control characters",
                    ));
                }
                if k.weight == 0 {
                    return Err(ConfigError::new(field(&format!("api_keys[{i}].weight")), "must be at least 1"));
                }
            }
            for (f, v) in [
                ("connect_timeout_ms", p.connect_timeout_ms),
                ("request_timeout_ms", p.request_timeout_ms),
                ("stream_idle_timeout_ms", p.stream_idle_timeout_ms),
            ] {
                if v == Some(0) {
                    return Err(ConfigError::new(field(f), "must be positive"));
                }
            }
        }
        if self.models.is_empty() {
            return Err(ConfigError::new("models", "at least one model must be configured"));
        }
        for (name, m) in &self.models {
            if !self.providers.contains_key(&m.provider) {
                return Err(ConfigError::new(
                    format!("models.{name}.provider"),
                    format!("unknown provider `{}`", m.provider),
                ));
            }
            if m.model.as_deref() == Some("") {
                return Err(ConfigError::new(format!("models.{name}.model"), "must not be empty"));
            }
            for (f, v) in [("input_price", m.input_price), ("output_price", m.output_price)] {
                if v.is_some_and(|p| !(0.0..1e6).contains(&p)) {
                    return Err(ConfigError::new(
                        format!("models.{name}.{f}"),
                        "must be between 0 and 1e6 USD per 1M tokens",
                    ));
                }
            }
            for (i, f) in m.fallbacks.iter().enumerate() {
                if !self.models.contains_key(f) {
                    return Err(ConfigError::new(
                        format!("models.{name}.fallbacks[{i}]"),
                        format!("unknown model `{f}`"),
                    ));
                }
            }
        }
        for (name, r) in &self.routes {
            if self.models.contains_key(name) {
                return Err(ConfigError::new(format!("routes.{name}"), "a route cannot share its name with a model"));
            }
            r.validate(name, &self.models)?;
        }
        if let Some(l) = &self.log {
            if l.decisions.is_empty() {
                return Err(ConfigError::new("log.decisions", "must be `stdout` or a file path"));
            }
            if l.capacity == 0 {
                return Err(ConfigError::new("log.capacity", "must be at least 1"));
            }
        }
        if let Some(a) = &self.admin {
            let addr: std::net::SocketAddr = a
                .listen
                .parse()
                .map_err(|_| ConfigError::new("admin.listen", format!("`{}` is not an IP:port address", a.listen)))?;
            if !addr.ip().is_loopback() && !a.allow_remote {
                return Err(ConfigError::new(
                    "admin.listen",
                    "must be a loopback address unless admin.allow_remote = true",
                ));
            }
            match &a.key_hash {
                Some(h) => parse_key_hash(h).map(|_| ()).map_err(|m| ConfigError::new("admin.key_hash", m))?,
                None if a.allow_remote => {
                    return Err(ConfigError::new("admin.key_hash", "is required with admin.allow_remote = true"));
                }
                None => {}
            }
        }
        validate_keys(self)?;
        validate_fleet(self)?;
        Ok(())
    }
}

fn expand_table(t: &mut toml::Table, path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    for (k, v) in t.iter_mut() {
        let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        expand_value(v, &p, env)?;
    }
    Ok(())
}

fn expand_value(v: &mut toml::Value, path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    match v {
        toml::Value::String(s) if s.contains('$') => {
            *s = expand_str(s, env).map_err(|m| ConfigError::new(path, m))?;
        }
        toml::Value::Array(a) => {
            for (i, item) in a.iter_mut().enumerate() {
                expand_value(item, &format!("{path}[{i}]"), env)?;
            }
        }
        toml::Value::Table(t) => expand_table(t, path, env)?,
        _ => {}
    }
    Ok(())
}

/// Replaces `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.
pub fn expand_str(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = r.find('}').ok_or("unclosed `${`")?;
            let inner = &r[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("invalid variable name `{name}`"));
            }
            match (env(name), default) {
                (Some(v), _) if !v.is_empty() || default.is_none() => out.push_str(&v),
                (_, Some(d)) => out.push_str(d),
                (_, None) => return Err(format!("environment variable `{name}` is not set")),
            }
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;

/// Reads a file named in the config (weights, calibration samples, CA bundles), relative to the
/// config file: injected so the crates that compile a config never do I/O themselves.
pub type FileLoader<'a> = &'a dyn Fn(&str) -> Result<Vec<u8>, String>;
