//! Providers and targets as compiled from the config: what a worker needs to reach a model
//! (endpoint, auth line, prices, limits) and the health it reports into.

use std::fmt;
use std::sync::Arc;

use switchyard_config::Dialect;
use switchyard_config::endpoint::Endpoint;

use crate::health::Health;
use crate::ids::TargetId;

/// A provider ready for use: endpoint, auth and timeouts.
#[derive(Clone)]
pub struct Provider {
    /// Name from the config.
    pub name: String,
    /// Wire format.
    pub dialect: Dialect,
    /// An OpenAI provider that also serves the Responses API: Responses clients are passed
    /// through to its `/responses`.
    pub responses: bool,
    /// Where it is reached.
    pub endpoint: Endpoint,
    /// Pool key (`scheme://host:port`).
    pub pool_key: String,
    /// Path prefix of the base URL (e.g. `/v1`, `/v1beta`).
    pub base_path: String,
    /// Header lines (`name: value\r\n`) written on every request: host, dialect headers, extras.
    pub fixed_headers: Vec<u8>,
    /// Auth header lines, one per key, with weights; chosen per request.
    pub keys: Vec<(u32, Vec<u8>)>,
    /// The raw keys, to strip from upstream error text before a client sees it.
    pub secrets: Vec<String>,
    /// Connect timeout in ms.
    pub connect_timeout_ms: u64,
    /// Whole-exchange deadline in ms.
    pub request_timeout_ms: u64,
    /// Longest silence between body pieces, ms.
    pub stream_idle_timeout_ms: u64,
}

impl Provider {
    /// The dialect this provider is spoken to in for a client of `client`: the Responses API
    /// when both sides speak it and the client's body can go as it is (`passthrough`), else
    /// the provider's own.
    pub fn dialect_for(&self, client: Dialect, passthrough: bool) -> Dialect {
        if self.responses && client == Dialect::Responses && passthrough { Dialect::Responses } else { self.dialect }
    }

    /// The auth header line for this request: keys are picked in proportion to their weights.
    pub fn pick_key(&self, random: u64) -> &[u8] {
        match self.keys.len() {
            0 => &[],
            1 => &self.keys[0].1,
            _ => {
                let total: u64 = self.keys.iter().map(|k| u64::from(k.0)).sum();
                let mut r = random % total;
                for (w, line) in &self.keys {
                    if r < u64::from(*w) {
                        return line;
                    }
                    r -= u64::from(*w);
                }
                &self.keys[0].1
            }
        }
    }
}

impl fmt::Debug for Provider {
    // Hand-written so the auth header inside `fixed_headers` never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("dialect", &self.dialect)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A model a client may ask for, resolved to its provider, with price and health.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name clients use.
    pub name: String,
    /// Index into `RouteTable::providers`.
    pub provider: usize,
    /// The provider's model name.
    pub upstream_model: String,
    /// `upstream_model` as a JSON string literal, spliced into forwarded bodies.
    pub upstream_model_json: Vec<u8>,
    /// USD per million input tokens.
    pub input_price: f64,
    /// USD per million output tokens.
    pub output_price: f64,
    /// Context window in tokens, when known.
    pub context_window: Option<u32>,
    /// Most output tokens per answer, when configured (`max_output_tokens`).
    pub max_output_tokens: Option<u64>,
    /// Capability tags.
    pub tags: Vec<String>,
    /// Share for the weighted balancer.
    pub weight: u32,
    /// Ordered alternates.
    pub fallbacks: Vec<TargetId>,
    /// Shared health; survives reloads.
    pub health: Arc<Health>,
}
