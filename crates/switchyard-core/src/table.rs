//! The compiled, immutable table a request is decided against.

use std::collections::HashMap;
use std::fmt;

use crate::config::{Config, Dialect};
use crate::endpoint::Endpoint;

/// A secret string whose `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for writing it into an upstream request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A provider ready for use: endpoint, auth and timeouts.
#[derive(Clone)]
pub struct Provider {
    /// Name from the config.
    pub name: String,
    /// Wire format.
    pub dialect: Dialect,
    /// Where it is reached.
    pub endpoint: Endpoint,
    /// Pool key (`scheme://host:port`).
    pub pool_key: String,
    /// Precomputed upstream request-line path for chat completions.
    pub chat_path: String,
    /// Header lines (`name: value\r\n`) written on every request: host, auth, extras.
    pub fixed_headers: Vec<u8>,
    /// Connect timeout in ms.
    pub connect_timeout_ms: u64,
    /// Whole-exchange deadline in ms.
    pub request_timeout_ms: u64,
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

/// A model a client may ask for, resolved to its provider.
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
}

/// Everything a worker needs to decide and forward a request; swapped whole on reload.
#[derive(Debug)]
pub struct RouteTable {
    /// Providers by index.
    pub providers: Vec<Provider>,
    /// Targets by index.
    pub targets: Vec<Target>,
    by_name: HashMap<String, usize>,
    /// Precomputed `GET /v1/models` body.
    pub models_json: Vec<u8>,
}

impl RouteTable {
    /// Compiles a validated config.
    pub fn compile(cfg: &Config) -> RouteTable {
        let mut providers = Vec::with_capacity(cfg.providers.len());
        let mut index = HashMap::new();
        for (name, p) in &cfg.providers {
            let endpoint = Endpoint::parse(&p.base_url).expect("validated");
            let mut fixed = Vec::new();
            push_header(&mut fixed, "host", &endpoint.host_header());
            if let Some(k) = p.api_key.as_deref().filter(|k| !k.is_empty()) {
                push_header(&mut fixed, "authorization", &format!("Bearer {k}"));
            }
            for (k, v) in &p.headers {
                push_header(&mut fixed, k, v);
            }
            index.insert(name.clone(), providers.len());
            providers.push(Provider {
                name: name.clone(),
                dialect: p.dialect,
                pool_key: endpoint.pool_key(),
                chat_path: format!("{}/chat/completions", endpoint.path),
                endpoint,
                fixed_headers: fixed,
                connect_timeout_ms: p
                    .connect_timeout_ms
                    .unwrap_or(cfg.upstream.connect_timeout_ms),
                request_timeout_ms: p
                    .request_timeout_ms
                    .unwrap_or(cfg.upstream.request_timeout_ms),
            });
        }
        let mut targets = Vec::with_capacity(cfg.models.len());
        let mut by_name = HashMap::new();
        let mut models_json = b"{\"object\":\"list\",\"data\":[".to_vec();
        for (i, (name, m)) in cfg.models.iter().enumerate() {
            let upstream_model = m.model.clone().unwrap_or_else(|| name.clone());
            let mut upstream_model_json = Vec::new();
            crate::json::push_str(&mut upstream_model_json, &upstream_model);
            by_name.insert(name.clone(), targets.len());
            if i > 0 {
                models_json.push(b',');
            }
            models_json.extend_from_slice(b"{\"id\":");
            crate::json::push_str(&mut models_json, name);
            models_json.extend_from_slice(b",\"object\":\"model\",\"created\":0,\"owned_by\":");
            crate::json::push_str(&mut models_json, &m.provider);
            models_json.push(b'}');
            targets.push(Target {
                name: name.clone(),
                provider: index[&m.provider],
                upstream_model,
                upstream_model_json,
            });
        }
        models_json.extend_from_slice(b"]}");
        RouteTable {
            providers,
            targets,
            by_name,
            models_json,
        }
    }

    /// The target for a requested model name, if configured.
    pub fn resolve(&self, model: &str) -> Option<&Target> {
        self.by_name.get(model).map(|&i| &self.targets[i])
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_and_resolves() {
        let cfg = Config::parse(
            r#"
[providers.a]
base_url = "https://api.example.com/v1/"
api_key = "sk-1"
headers = { "OpenAI-Organization" = "org-1" }
[models.fast]
provider = "a"
model = "gpt-4o-mini"
[models."gpt-4o"]
provider = "a"
"#,
            &|_| None,
        )
        .unwrap();
        let t = RouteTable::compile(&cfg);
        let fast = t.resolve("fast").unwrap();
        assert_eq!(fast.upstream_model, "gpt-4o-mini");
        assert_eq!(fast.upstream_model_json, b"\"gpt-4o-mini\"");
        assert_eq!(t.resolve("gpt-4o").unwrap().upstream_model, "gpt-4o");
        assert!(t.resolve("nope").is_none());
        let p = &t.providers[fast.provider];
        assert_eq!(p.chat_path, "/v1/chat/completions");
        assert_eq!(p.pool_key, "https://api.example.com:443");
        let h = String::from_utf8(p.fixed_headers.clone()).unwrap();
        assert_eq!(
            h,
            "host: api.example.com\r\nauthorization: Bearer sk-1\r\nOpenAI-Organization: org-1\r\n"
        );
        assert!(!format!("{:?}", Secret("sk-1".into())).contains("sk-1"));
        assert!(
            !format!("{t:?}").contains("sk-1"),
            "Debug of the table must not leak keys"
        );
        let models = String::from_utf8(t.models_json.clone()).unwrap();
        assert!(models.contains("\"id\":\"fast\""), "{models}");
    }
}
