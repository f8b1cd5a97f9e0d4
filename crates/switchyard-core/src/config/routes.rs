//! `[routes.NAME]`: virtual model names and the strategies that pick a tier for each request.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ConfigError, ModelConfig};

/// One route: tiers of models from cheap to strong, and how to choose among them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Tiers ordered from cheapest to most capable.
    pub tiers: Vec<TierConfig>,
    /// Tier used when no strategy decides (default: the first).
    pub default_tier: Option<String>,
    /// How a target is picked within a tier.
    #[serde(default)]
    pub balance: BalancePolicy,
    /// Model whose price is the savings reference (default: first model of the last tier).
    pub baseline: Option<String>,
    /// Models tried after the tier's own targets and their fallbacks.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// Which failures are retried, how often, within what time.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Rules, checked in order; the first match decides.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Intent matching by example utterances.
    pub semantic: Option<SemanticConfig>,
    /// Feature-based complexity score.
    pub complexity: Option<ComplexityConfig>,
    /// Trained router score.
    pub learned: Option<LearnedConfig>,
    /// Score cut points between tiers (ascending, one fewer than tiers).
    pub thresholds: Option<Vec<f32>>,
    /// Send about this share of prompts to the last tier (needs `calibration_file`).
    pub strong_fraction: Option<f64>,
    /// JSON lines of sample prompts used to turn `strong_fraction` into a threshold.
    pub calibration_file: Option<String>,
}

/// One tier.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Name used by rules, intents and the `x-switchyard-tier` header.
    pub name: String,
    /// Models (keys of `[models]`) in this tier.
    pub models: Vec<String>,
}

/// Balancing policy within a tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancePolicy {
    /// Lowest price among healthy targets.
    #[default]
    Cheapest,
    /// Random, proportional to `weight`.
    Weighted,
    /// Fewest requests in flight.
    LeastInflight,
    /// Lower EWMA latency of two random healthy targets.
    Latency,
}

/// A failure class that may be retried on another target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// Connect, TLS or DNS failure.
    Connect,
    /// No response before the deadline.
    Timeout,
    /// A 5xx status.
    #[serde(rename = "5xx")]
    ServerError,
    /// A 429 status.
    #[serde(rename = "429")]
    RateLimited,
}

/// `retry = { ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Most attempts per request, the first included.
    pub attempts: u32,
    /// Failure classes that move on to the next target.
    pub on: Vec<RetryOn>,
    /// Total time for all attempts, ms.
    pub budget_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 3,
            on: vec![RetryOn::Connect, RetryOn::Timeout, RetryOn::ServerError, RetryOn::RateLimited],
            budget_ms: 120_000,
        }
    }
}

/// A rule: every condition given must hold; then the request goes to `tier` or `model`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Name reported in decisions.
    pub name: Option<String>,
    /// Estimated prompt tokens at least this.
    pub min_tokens: Option<usize>,
    /// Estimated prompt tokens at most this.
    pub max_tokens: Option<usize>,
    /// At least this many messages.
    pub min_messages: Option<usize>,
    /// At most this many messages.
    pub max_messages: Option<usize>,
    /// Code present (or absent) in the last user turn.
    pub has_code: Option<bool>,
    /// Tools offered (or not).
    pub has_tools: Option<bool>,
    /// Any of these words or phrases in the last user turn (case-insensitive).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Regex on the last user turn.
    pub regex: Option<String>,
    /// Regex on the system prompt.
    pub system_regex: Option<String>,
    /// Request header that must be present ...
    pub header: Option<String>,
    /// ... with this value (if given).
    pub header_value: Option<String>,
    /// `metadata` entries that must match.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Target tier.
    pub tier: Option<String>,
    /// Or a target model.
    pub model: Option<String>,
}

/// `[routes.X.semantic]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemanticConfig {
    /// Cosine similarity below which no intent matches.
    #[serde(default = "default_floor")]
    pub floor: f32,
    /// The intents.
    pub intents: Vec<IntentConfig>,
}

fn default_floor() -> f32 {
    0.35
}

/// One intent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentConfig {
    /// Name reported in decisions.
    pub name: String,
    /// Target tier.
    pub tier: Option<String>,
    /// Or a target model.
    pub model: Option<String>,
    /// Example utterances.
    pub examples: Vec<String>,
}

/// `[routes.X.complexity]`: weights of the logistic complexity score (defaults tuned by hand).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplexityConfig {
    /// Intercept.
    pub bias: f32,
    /// Weight of log length.
    pub length: f32,
    /// Weight of code presence.
    pub code: f32,
    /// Weight of reasoning markers ("step by step", "explain why", "compare", ...).
    pub reasoning: f32,
    /// Weight of the number of questions.
    pub questions: f32,
    /// Weight of clause density.
    pub clauses: f32,
    /// Weight of rare (long) vocabulary.
    pub rarity: f32,
    /// Weight of numbers and maths symbols.
    pub math: f32,
    /// Weight of conversation depth.
    pub turns: f32,
    /// Share of this score when blended with `learned`.
    pub blend: f32,
}

impl Default for ComplexityConfig {
    fn default() -> Self {
        ComplexityConfig {
            bias: -3.0,
            length: 2.0,
            code: 1.5,
            reasoning: 2.5,
            questions: 0.8,
            clauses: 1.0,
            rarity: 1.5,
            math: 1.2,
            turns: 0.6,
            blend: 1.0,
        }
    }
}

/// `[routes.X.learned]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedConfig {
    /// Weights file written by `switchyard train-router` (relative to the config file).
    pub weights: String,
    /// Share of this score when blended with `complexity`.
    #[serde(default = "one_f32")]
    pub blend: f32,
}

fn one_f32() -> f32 {
    1.0
}

fn check_target(
    field: String,
    tier: &Option<String>,
    model: &Option<String>,
    tiers: &[TierConfig],
    models: &BTreeMap<String, ModelConfig>,
) -> Result<(), ConfigError> {
    match (tier, model) {
        (Some(t), None) if tiers.iter().any(|x| &x.name == t) => Ok(()),
        (Some(t), None) => Err(ConfigError::new(format!("{field}.tier"), format!("unknown tier `{t}`"))),
        (None, Some(m)) if models.contains_key(m) => Ok(()),
        (None, Some(m)) => Err(ConfigError::new(format!("{field}.model"), format!("unknown model `{m}`"))),
        _ => Err(ConfigError::new(field, "needs exactly one of `tier` or `model`")),
    }
}

impl RouteConfig {
    /// Checks references and ranges; `name` is the route's key.
    pub fn validate(&self, name: &str, models: &BTreeMap<String, ModelConfig>) -> Result<(), ConfigError> {
        let f = |x: &str| format!("routes.{name}.{x}");
        if self.tiers.is_empty() {
            return Err(ConfigError::new(f("tiers"), "at least one tier is required"));
        }
        for (i, t) in self.tiers.iter().enumerate() {
            if t.models.is_empty() {
                return Err(ConfigError::new(f(&format!("tiers[{i}].models")), "must not be empty"));
            }
            for (j, m) in t.models.iter().enumerate() {
                if !models.contains_key(m) {
                    return Err(ConfigError::new(
                        f(&format!("tiers[{i}].models[{j}]")),
                        format!("unknown model `{m}`"),
                    ));
                }
            }
            if self.tiers[..i].iter().any(|o| o.name == t.name) {
                return Err(ConfigError::new(f(&format!("tiers[{i}].name")), format!("duplicate tier `{}`", t.name)));
            }
        }
        if let Some(d) = &self.default_tier
            && !self.tiers.iter().any(|t| &t.name == d)
        {
            return Err(ConfigError::new(f("default_tier"), format!("unknown tier `{d}`")));
        }
        for (field, m) in self
            .baseline
            .iter()
            .map(|b| (f("baseline"), b))
            .chain(self.fallbacks.iter().enumerate().map(|(i, m)| (f(&format!("fallbacks[{i}]")), m)))
        {
            if !models.contains_key(m) {
                return Err(ConfigError::new(field, format!("unknown model `{m}`")));
            }
        }
        if self.retry.attempts == 0 {
            return Err(ConfigError::new(f("retry.attempts"), "must be at least 1"));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let rf = f(&format!("rules[{i}]"));
            check_target(rf.clone(), &r.tier, &r.model, &self.tiers, models)?;
            for (k, re) in [("regex", &r.regex), ("system_regex", &r.system_regex)] {
                if let Some(re) = re {
                    regex::Regex::new(re).map_err(|e| ConfigError::new(format!("{rf}.{k}"), e.to_string()))?;
                }
            }
            if r.header_value.is_some() && r.header.is_none() {
                return Err(ConfigError::new(format!("{rf}.header_value"), "needs `header`"));
            }
        }
        if let Some(s) = &self.semantic {
            if !(0.0..=1.0).contains(&s.floor) {
                return Err(ConfigError::new(f("semantic.floor"), "must be within 0..=1"));
            }
            if s.intents.is_empty() {
                return Err(ConfigError::new(f("semantic.intents"), "at least one intent is required"));
            }
            for (i, it) in s.intents.iter().enumerate() {
                let fi = f(&format!("semantic.intents[{i}]"));
                check_target(fi.clone(), &it.tier, &it.model, &self.tiers, models)?;
                if it.examples.is_empty() {
                    return Err(ConfigError::new(format!("{fi}.examples"), "at least one example is required"));
                }
            }
        }
        let scorers = usize::from(self.complexity.is_some()) + usize::from(self.learned.is_some());
        if let Some(t) = &self.thresholds {
            if t.len() + 1 != self.tiers.len() {
                return Err(ConfigError::new(f("thresholds"), "needs one value fewer than there are tiers"));
            }
            if t.windows(2).any(|w| w[0] > w[1]) {
                return Err(ConfigError::new(f("thresholds"), "must be ascending"));
            }
        }
        if let Some(x) = self.strong_fraction {
            if !(0.0..=1.0).contains(&x) {
                return Err(ConfigError::new(f("strong_fraction"), "must be within 0..=1"));
            }
            if self.calibration_file.is_none() {
                return Err(ConfigError::new(
                    f("strong_fraction"),
                    "needs `calibration_file` (or run `switchyard calibrate` and set `thresholds`)",
                ));
            }
            if self.thresholds.is_some() {
                return Err(ConfigError::new(f("strong_fraction"), "set either `strong_fraction` or `thresholds`"));
            }
        }
        if (self.thresholds.is_some() || self.strong_fraction.is_some()) && scorers == 0 {
            return Err(ConfigError::new(f("thresholds"), "needs a scorer (`complexity` or `learned`)"));
        }
        if let Some(c) = &self.complexity
            && c.blend < 0.0
        {
            return Err(ConfigError::new(f("complexity.blend"), "must not be negative"));
        }
        Ok(())
    }
}
