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
    /// Answer repeated requests from the response cache.
    pub cache: Option<RouteCacheConfig>,
    /// Try the tiers cheapest first; escalate when an answer fails a check.
    pub cascade: Option<CascadeConfig>,
    /// Ask several models at once and answer with the majority.
    pub consensus: Option<ConsensusConfig>,
}

/// `cascade = { ... }`: every check given must pass for a tier's answer to be used.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CascadeConfig {
    /// Fewest characters of answer text.
    pub min_length: Option<usize>,
    /// A regular expression the answer text must match.
    pub regex: Option<String>,
    /// The answer text must be a JSON object holding these top-level fields (empty list: any
    /// JSON value).
    pub json_fields: Option<Vec<String>>,
    /// Finish reasons that fail (default: `length` and `content_filter`).
    pub fail_finish: Option<Vec<String>>,
    /// Phrases that mark a refusal (case-insensitive, anywhere in the text).
    pub refusal_phrases: Vec<String>,
    /// Lowest mean token log-probability (asks OpenAI upstreams for `logprobs`).
    pub min_avg_logprob: Option<f64>,
    /// A model asked whether the answer is good enough (yes/no).
    pub judge: Option<JudgeConfig>,
}

/// An LLM judge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// The judging model (a key of `[models]`).
    pub model: String,
    /// The question; `{question}` and `{answer}` are replaced. It must ask for yes or no.
    #[serde(default = "default_judge_prompt")]
    pub prompt: String,
}

fn default_judge_prompt() -> String {
    "You grade answers. Question:\n{question}\n\nAnswer:\n{answer}\n\nIs the answer correct, complete and \
     responsive? Reply with one word: yes or no."
        .into()
}

/// `consensus = { ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusConfig {
    /// Models asked in parallel (at least two).
    pub models: Vec<String>,
    /// What is compared: `text`, `last_number`, `choice` (a letter A–J) or `json:FIELD`.
    #[serde(default = "default_extractor")]
    pub extractor: String,
    /// Whose answer wins a tie (one of `models`; default: the first that answered).
    pub tie_break: Option<String>,
    /// Instead of a vote, this model reads the numbered answers and picks the best.
    pub judge: Option<String>,
    /// Replies still missing after this long are left out of the vote, ms.
    #[serde(default = "default_consensus_timeout")]
    pub timeout_ms: u64,
}

fn default_extractor() -> String {
    "text".into()
}

fn default_consensus_timeout() -> u64 {
    60_000
}

/// `cache = { ... }` on a route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteCacheConfig {
    /// How long an answer is served from the cache, ms.
    pub ttl_ms: u64,
    /// Requests with a `temperature` above this are not cached (absent counts as cacheable).
    pub max_temperature: f64,
    /// Semantic cache (off when absent): a request whose last user turn is this similar
    /// (cosine of character n-gram vectors, 0–1] to a cached one's, all else equal, gets its answer.
    pub similarity: Option<f64>,
}

impl Default for RouteCacheConfig {
    fn default() -> Self {
        RouteCacheConfig { ttl_ms: 300_000, max_temperature: 0.5, similarity: None }
    }
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

impl BalancePolicy {
    /// The name config files use.
    pub fn as_str(self) -> &'static str {
        match self {
            BalancePolicy::Cheapest => "cheapest",
            BalancePolicy::Weighted => "weighted",
            BalancePolicy::LeastInflight => "least_inflight",
            BalancePolicy::Latency => "latency",
        }
    }
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
    /// Cosine similarity below which no intent matches; unset, [`SemanticConfig::floor`]'s
    /// default for the space compared in.
    #[serde(default, rename = "floor")]
    pub floor_set: Option<f32>,
    /// The intents.
    pub intents: Vec<IntentConfig>,
    /// With `embeddings`: compare with each intent's `nearest` example, or with the `centroid`
    /// of its examples.
    #[serde(default, rename = "match")]
    pub matching: IntentMatch,
}

/// How a request is compared with an intent's examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentMatch {
    /// The most similar single example.
    #[default]
    Nearest,
    /// The normalised mean of the examples.
    Centroid,
}

impl SemanticConfig {
    /// The floor: as set, or 0.4 for embeddings and 0.35 for n-grams, where each strategy
    /// keeps false matches under 10 % on `switchyard-routing/tests/data/intents.jsonl`.
    pub fn floor(&self, embedded: bool) -> f32 {
        self.floor_set.unwrap_or(if embedded { 0.4 } else { 0.35 })
    }
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
    /// Cache, cascade and consensus settings.
    fn validate_strategies(&self, name: &str, models: &BTreeMap<String, ModelConfig>) -> Result<(), ConfigError> {
        let f = |x: &str| format!("routes.{name}.{x}");
        if self.cascade.is_some() && self.consensus.is_some() {
            return Err(ConfigError::new(f("consensus"), "a route is either a cascade or a consensus, not both"));
        }
        if let Some(c) = &self.cache
            && c.ttl_ms == 0
        {
            return Err(ConfigError::new(f("cache.ttl_ms"), "must be positive"));
        }
        if let Some(c) = &self.cache
            && let Some(sim) = c.similarity
            && !(sim > 0.0 && sim <= 1.0)
        {
            return Err(ConfigError::new(f("cache.similarity"), "must be in (0, 1]"));
        }
        if let Some(c) = &self.cascade {
            if self.tiers.len() < 2 {
                return Err(ConfigError::new(f("cascade"), "needs at least two tiers to escalate between"));
            }
            if let Some(r) = &c.regex {
                regex::Regex::new(r).map_err(|e| ConfigError::new(f("cascade.regex"), e.to_string()))?;
            }
            for (i, r) in c.fail_finish.iter().flatten().enumerate() {
                if !["stop", "length", "tool_calls", "content_filter"].contains(&r.as_str()) {
                    return Err(ConfigError::new(
                        f(&format!("cascade.fail_finish[{i}]")),
                        "one of stop, length, tool_calls, content_filter",
                    ));
                }
            }
            if let Some(j) = &c.judge {
                if !models.contains_key(&j.model) {
                    return Err(ConfigError::new(f("cascade.judge.model"), format!("unknown model `{}`", j.model)));
                }
                if !j.prompt.contains("{answer}") {
                    return Err(ConfigError::new(f("cascade.judge.prompt"), "must contain {answer}"));
                }
            }
        }
        if let Some(c) = &self.consensus {
            if c.models.len() < 2 {
                return Err(ConfigError::new(f("consensus.models"), "needs at least two models"));
            }
            for (i, m) in c.models.iter().enumerate() {
                if !models.contains_key(m) {
                    return Err(ConfigError::new(f(&format!("consensus.models[{i}]")), format!("unknown model `{m}`")));
                }
            }
            if let Some(t) = &c.tie_break
                && !c.models.contains(t)
            {
                return Err(ConfigError::new(
                    f("consensus.tie_break"),
                    format!("`{t}` is not one of consensus.models"),
                ));
            }
            // `consensus.extractor` is parsed (and refused with this field's name) when the
            // route table is compiled: the extractor belongs to the routing crate.
            if c.timeout_ms == 0 {
                return Err(ConfigError::new(f("consensus.timeout_ms"), "must be positive"));
            }
        }
        Ok(())
    }

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
        self.validate_strategies(name, models)?;
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
            if s.floor_set.is_some_and(|f| !(0.0..=1.0).contains(&f)) {
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
