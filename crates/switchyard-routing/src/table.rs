//! The compiled, immutable table a request is decided against.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_config::endpoint::Endpoint;
use switchyard_config::{Config, ConfigError, Dialect, FileLoader, prices};
use switchyard_embed::StaticModel;
use switchyard_wire::api_error::ApiError;
use switchyard_wire::view::RequestView;

use crate::balancer::{self, Plan};
use crate::health::HealthRegistry;
use crate::ids::{MAX_IDS, RouteId, TargetId};
use crate::models::ModelList;
use crate::route::{DecideScratch, Decision, Route, Strategy};
use crate::strategy::Pick;
use crate::target::{Provider, Target};

/// Everything a worker needs to decide and forward a request; swapped whole on reload.
#[derive(Debug)]
pub struct RouteTable {
    /// Providers by index.
    pub providers: Vec<Provider>,
    /// Targets by index.
    pub targets: Vec<Target>,
    by_name: HashMap<String, TargetId>,
    /// Routes by index.
    pub routes: Vec<Route>,
    route_by_name: HashMap<String, RouteId>,
    /// The `GET /v1/models` answers, rendered once.
    pub models: ModelList,
    /// The sentence-embedding model (`embeddings`), shared by intents and the semantic cache.
    pub embedder: Option<Arc<StaticModel>>,
}

impl RouteTable {
    /// Compiles a validated config; health entries come from `health` so they carry over.
    pub fn compile(cfg: &Config, files: FileLoader<'_>, health: &HealthRegistry) -> Result<RouteTable, ConfigError> {
        let mut providers = Vec::with_capacity(cfg.providers.len());
        let mut index = HashMap::new();
        for (name, p) in &cfg.providers {
            let endpoint = Endpoint::parse(&p.base_url).expect("validated");
            let mut fixed = Vec::new();
            push_header(&mut fixed, "host", &endpoint.host_header());
            if p.dialect == Dialect::Anthropic && !p.headers.keys().any(|k| k.eq_ignore_ascii_case("anthropic-version"))
            {
                push_header(&mut fixed, "anthropic-version", "2023-06-01");
            }
            for (k, v) in &p.headers {
                push_header(&mut fixed, k, v);
            }
            let keys = p
                .api_key
                .iter()
                .filter(|k| !k.is_empty())
                .map(|k| (1, k))
                .chain(p.api_keys.iter().map(|k| (k.weight, &k.key)))
                .map(|(w, k)| {
                    let mut line = Vec::new();
                    match p.dialect {
                        Dialect::OpenAi | Dialect::Responses => {
                            push_header(&mut line, "authorization", &format!("Bearer {k}"))
                        }
                        Dialect::Anthropic => push_header(&mut line, "x-api-key", k),
                        // A header, not `?key=`, keeps the key out of URLs and logs.
                        Dialect::Gemini => push_header(&mut line, "x-goog-api-key", k),
                    }
                    (w, line)
                })
                .collect();
            index.insert(name.clone(), providers.len());
            providers.push(Provider {
                name: name.clone(),
                dialect: p.dialect,
                responses: p.responses,
                pool_key: endpoint.pool_key(),
                base_path: endpoint.path.clone(),
                endpoint,
                fixed_headers: fixed,
                keys,
                secrets: p
                    .api_key
                    .iter()
                    .chain(p.api_keys.iter().map(|k| &k.key))
                    .filter(|k| !k.is_empty())
                    .cloned()
                    .collect(),
                connect_timeout_ms: p.connect_timeout_ms.unwrap_or(cfg.upstream.connect_timeout_ms),
                request_timeout_ms: p.request_timeout_ms.unwrap_or(cfg.upstream.request_timeout_ms),
                stream_idle_timeout_ms: p.stream_idle_timeout_ms.unwrap_or(cfg.upstream.stream_idle_timeout_ms),
            });
        }
        if cfg.models.len() > MAX_IDS || cfg.routes.len() > MAX_IDS {
            return Err(ConfigError::new("models", format!("at most {MAX_IDS} models and {MAX_IDS} routes")));
        }
        let mut targets = Vec::with_capacity(cfg.models.len());
        let mut by_name = HashMap::new();
        for (name, m) in &cfg.models {
            let upstream_model = m.model.clone().unwrap_or_else(|| name.clone());
            let mut upstream_model_json = Vec::new();
            switchyard_wire::json::push_str(&mut upstream_model_json, &upstream_model);
            let known = prices::lookup(&upstream_model);
            let price = |given: Option<f64>, field: &str, pick: fn((f64, f64, u32)) -> f64| {
                given.or(known.map(pick)).ok_or_else(|| {
                    ConfigError::new(
                        format!("models.{name}.{field}"),
                        format!("`{upstream_model}` is not in the built-in price table; set {field}"),
                    )
                })
            };
            let input_price = price(m.input_price, "input_price", |p| p.0)?;
            let output_price = price(m.output_price, "output_price", |p| p.1)?;
            by_name.insert(name.clone(), TargetId::at(targets.len()));
            targets.push(Target {
                name: name.clone(),
                provider: index[&m.provider],
                health: health.get(&format!("{name}|{}|{upstream_model}", m.provider)),
                upstream_model,
                upstream_model_json,
                input_price,
                output_price,
                context_window: m.context_window.or(known.map(|p| p.2)),
                max_output_tokens: m.max_output_tokens,
                tags: m.tags.clone(),
                weight: m.weight,
                fallbacks: Vec::new(),
            });
        }
        for (name, m) in &cfg.models {
            let fb = m.fallbacks.iter().map(|f| by_name[f]).collect();
            targets[by_name[name].index()].fallbacks = fb;
        }
        let embedder = cfg.embeddings.as_deref().map(|path| load_embedder(path, files)).transpose()?;
        let mut routes = Vec::with_capacity(cfg.routes.len());
        let mut route_by_name = HashMap::new();
        for (name, r) in &cfg.routes {
            route_by_name.insert(name.clone(), RouteId::at(routes.len()));
            routes.push(Route::compile(name, r, &by_name, files, embedder.as_ref())?);
        }
        let models = ModelList::new(
            cfg.models
                .iter()
                .map(|(n, m)| (n.as_str(), m.provider.as_str()))
                .chain(cfg.routes.keys().map(|n| (n.as_str(), "switchyard"))),
        );
        Ok(RouteTable { providers, targets, by_name, routes, route_by_name, models, embedder })
    }

    /// The target for a model name, if configured.
    pub fn resolve(&self, model: &str) -> Option<&Target> {
        self.by_name.get(model).map(|&i| &self.targets[i])
    }

    /// Index of a target by name.
    pub fn target_index(&self, model: &str) -> Option<TargetId> {
        self.by_name.get(model).copied()
    }

    /// A route by name.
    pub fn route(&self, name: &str) -> Option<&Route> {
        self.route_by_name.get(name).map(|&i| &self.routes[i])
    }

    /// Whether `name` is a route (its requests are decided from the prompt's text).
    pub fn is_route(&self, name: &str) -> bool {
        self.route_by_name.contains_key(name)
    }

    /// Decides where a request goes: a named model goes there directly (with its fallbacks);
    /// a route runs its strategies, then the balancer orders the chosen tier.
    pub fn decide(
        &self,
        view: &RequestView,
        header: &dyn Fn(&str) -> Option<String>,
        scratch: &mut DecideScratch,
        now_ms: u64,
    ) -> Result<Decision, ApiError> {
        if let Some(&t) = self.by_name.get(&view.model) {
            let mut plan = Plan::new();
            plan.push(t);
            self.push_fallbacks(t, now_ms, &mut plan);
            // A cooling model goes behind its healthy fallbacks (still tried, last).
            if plan.len() > 1
                && !self.targets[t].health.selectable(now_ms)
                && self.targets[plan[1]].health.selectable(now_ms)
            {
                plan.remove(0);
                plan.push(t);
            }
            return Ok(Decision {
                route: None,
                tier: None,
                strategy: Strategy::Direct,
                score: None,
                matched: None,
                similarity: None,
                plan,
            });
        }
        let Some(&ri) = self.route_by_name.get(&view.model) else {
            return Err(ApiError::model_not_found(&view.model));
        };
        let route = &self.routes[ri];
        let d = route.choose(view, header, scratch)?;
        let mut plan = Plan::new();
        match d.pick {
            Pick::Model(t) => {
                plan.push(t);
                self.push_fallbacks(t, now_ms, &mut plan);
            }
            Pick::Tier(tier) => {
                balancer::order(
                    route.balance,
                    &route.tiers[tier].targets,
                    &self.targets,
                    now_ms,
                    &mut scratch.rng,
                    &mut plan,
                );
                if let Some(&first) = plan.first() {
                    let mut fb = Plan::new();
                    self.push_fallbacks(first, now_ms, &mut fb);
                    for t in fb {
                        if !plan.contains(&t) {
                            plan.insert(1, t);
                        }
                    }
                }
            }
        }
        for &t in &route.fallbacks {
            if !plan.contains(&t) {
                plan.push(t);
            }
        }
        Ok(Decision {
            route: Some(ri),
            tier: match d.pick {
                Pick::Tier(t) => Some(t),
                Pick::Model(_) => None,
            },
            strategy: d.strategy,
            score: d.score,
            matched: d.matched,
            similarity: d.similarity,
            plan,
        })
    }

    /// Appends `t`'s fallbacks, healthy ones first, skipping any already present.
    fn push_fallbacks(&self, t: TargetId, now_ms: u64, plan: &mut Plan) {
        let fb = &self.targets[t].fallbacks;
        for pass in [true, false] {
            for &f in fb {
                if self.targets[f].health.selectable(now_ms) == pass && !plan.contains(&f) && f != t {
                    plan.push(f);
                }
            }
        }
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The embedding table at `path` and the `vocab.txt` beside it.
fn load_embedder(path: &str, files: FileLoader<'_>) -> Result<Arc<StaticModel>, ConfigError> {
    let err = |m: String| ConfigError::new("embeddings", m);
    let table = files(path).map_err(err)?;
    let vocab_path = match path.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/vocab.txt"),
        None => "vocab.txt".to_string(),
    };
    let vocab = files(&vocab_path).map_err(|e| err(format!("{vocab_path}: {e}")))?;
    let vocab = String::from_utf8(vocab).map_err(|_| err(format!("{vocab_path} is not UTF-8")))?;
    StaticModel::load(&table, &vocab).map(Arc::new).map_err(|e| err(format!("{path}: {e}")))
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
        let t = RouteTable::compile(&cfg, &|_| Err("no files".into()), &HealthRegistry::default()).unwrap();
        let fast = t.resolve("fast").unwrap();
        assert_eq!(fast.upstream_model, "gpt-4o-mini");
        assert_eq!((fast.input_price, fast.output_price), (0.15, 0.60), "prices from the built-in table");
        assert_eq!(fast.upstream_model_json, b"\"gpt-4o-mini\"");
        assert_eq!(t.resolve("gpt-4o").unwrap().upstream_model, "gpt-4o");
        assert!(t.resolve("nope").is_none());
        let p = &t.providers[fast.provider];
        assert_eq!(p.base_path, "/v1");
        assert_eq!(p.pool_key, "https://api.example.com:443");
        let h = String::from_utf8(p.fixed_headers.clone()).unwrap();
        assert_eq!(h, "host: api.example.com\r\nOpenAI-Organization: org-1\r\n");
        assert_eq!(p.keys, vec![(1, b"authorization: Bearer sk-1\r\n".to_vec())]);
        assert!(!format!("{t:?}").contains("sk-1"), "Debug of the table must not leak keys");
        let models = String::from_utf8(t.models.list(false).to_vec()).unwrap();
        assert!(models.contains("\"id\":\"fast\""), "{models}");
    }
}
