//! A compiled route: tiers, layered strategies (header pin, rules, semantic intents, then the
//! complexity and/or learned score), and the decision they produce.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cascade::Cascade;
use crate::consensus::Extractor;
use crate::eval::calibrate;
use crate::learned::{LearnedModel, LearnedScratch};
use crate::strategy::rules::Rule;
use crate::strategy::semantic::{self, Semantic};
use crate::strategy::{Pick, Signals, complexity};
use switchyard_config::FileLoader;
use switchyard_config::{BalancePolicy, ComplexityConfig, ConfigError, RetryConfig, RouteCacheConfig, RouteConfig};
use switchyard_wire::api_error::ApiError;

use crate::balancer::Plan;
use crate::ids::{RouteId, TargetId};
use switchyard_wire::view::RequestView;

/// Header that pins a tier by name.
pub const TIER_HEADER: &str = "x-switchyard-tier";
/// Header that sets the lowest tier a request may use.
pub const MIN_TIER_HEADER: &str = "x-switchyard-min-tier";

/// Which strategy made the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The client named a model.
    Direct,
    /// `x-switchyard-tier` pinned the tier.
    Header,
    /// A rule matched.
    Rule,
    /// An intent matched.
    Semantic,
    /// The complexity score.
    Complexity,
    /// The learned router.
    Learned,
    /// Complexity and learned scores blended.
    Blend,
    /// Nothing decided: the default tier.
    Default,
}

impl Strategy {
    /// Lower-case name for headers, logs and the dry run.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Direct => "direct",
            Strategy::Header => "header",
            Strategy::Rule => "rules",
            Strategy::Semantic => "semantic",
            Strategy::Complexity => "complexity",
            Strategy::Learned => "learned",
            Strategy::Blend => "blend",
            Strategy::Default => "default",
        }
    }
}

/// The outcome of routing one request.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Route index (None for a direct model request).
    pub route: Option<RouteId>,
    /// Chosen tier index, when a tier was chosen.
    pub tier: Option<usize>,
    /// The deciding strategy.
    pub strategy: Strategy,
    /// The scorer's output (higher = stronger model), when a scorer ran.
    pub score: Option<f32>,
    /// The rule or intent that matched.
    pub matched: Option<String>,
    /// The matched intent's similarity.
    pub similarity: Option<f32>,
    /// Targets to try, in order (the first is the balancer's pick).
    pub plan: Plan,
}

/// A route's own choice before balancing.
pub(crate) struct Choice {
    pub pick: Pick,
    pub strategy: Strategy,
    pub score: Option<f32>,
    pub matched: Option<String>,
    pub similarity: Option<f32>,
}

/// Per-worker buffers reused across decisions.
#[derive(Debug)]
pub struct DecideScratch {
    signals: Signals,
    semantic: semantic::Scratch,
    learned: LearnedScratch,
    /// Balancer randomness.
    pub rng: u64,
}

impl DecideScratch {
    /// Fresh buffers; `seed` varies the balancer's random choices per worker.
    pub fn new(seed: u64) -> Self {
        DecideScratch {
            signals: Signals::default(),
            semantic: semantic::Scratch::default(),
            learned: LearnedScratch::default(),
            rng: seed | 1,
        }
    }
}

/// One tier.
#[derive(Debug)]
pub struct Tier {
    /// Name.
    pub name: String,
    /// Target indices.
    pub targets: Vec<TargetId>,
}

/// A compiled route.
#[derive(Debug)]
pub struct Route {
    /// Name clients ask for.
    pub name: String,
    /// Tiers from cheap to strong.
    pub tiers: Vec<Tier>,
    /// Tier when nothing decides.
    pub default_tier: usize,
    /// Balancing policy.
    pub balance: BalancePolicy,
    /// Savings reference target.
    pub baseline: TargetId,
    /// Route-level fallbacks.
    pub fallbacks: Vec<TargetId>,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Score cut points between tiers.
    pub thresholds: Vec<f32>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) semantic: Option<Semantic>,
    pub(crate) complexity: Option<ComplexityConfig>,
    pub(crate) learned: Option<(Arc<LearnedModel>, f32)>,
    /// Response-cache settings, when the route caches.
    pub cache: Option<RouteCacheConfig>,
    /// What cached answers of this route are keyed under: the name plus a fingerprint of the
    /// models and strategies, so a reload that changes them does not serve the old answers.
    pub cache_scope: String,
    /// Cascade checks, when the route climbs its tiers.
    pub cascade: Option<Cascade>,
    /// Consensus settings, when the route votes.
    pub consensus: Option<Consensus>,
}

/// A compiled consensus: targets asked in parallel and how their replies are compared.
#[derive(Debug, Clone)]
pub struct Consensus {
    /// Targets, in config order.
    pub targets: Vec<TargetId>,
    /// What is compared.
    pub extractor: Extractor,
    /// Index into `targets` whose answer wins ties.
    pub tie_break: Option<usize>,
    /// Target that picks the best answer instead of a vote.
    pub judge: Option<TargetId>,
    /// Time allowed for the replies, ms.
    pub timeout_ms: u64,
}

impl Route {
    /// Whether `t` is one of this route's own targets: a tier's, a route-level fallback, or a
    /// cascade's or a vote's member or judge (a model-level fallback of one of them is not).
    pub fn reaches(&self, t: TargetId) -> bool {
        self.tiers.iter().any(|tier| tier.targets.contains(&t))
            || self.fallbacks.contains(&t)
            || self.cascade.as_ref().and_then(|c| c.judge.as_ref()).is_some_and(|(j, _)| *j == t)
            || self.consensus.as_ref().is_some_and(|c| c.targets.contains(&t) || c.judge == Some(t))
    }

    /// Compiles a validated route (loads learned weights and calibration samples).
    pub fn compile(
        name: &str,
        r: &RouteConfig,
        models: &HashMap<String, TargetId>,
        files: FileLoader<'_>,
        embedder: Option<&std::sync::Arc<switchyard_embed::StaticModel>>,
    ) -> Result<Route, ConfigError> {
        let f = |x: &str| format!("routes.{name}.{x}");
        let tier_index = |t: &str| r.tiers.iter().position(|x| x.name == t).expect("validated");
        let pick = |tier: &Option<String>, model: &Option<String>| match (tier, model) {
            (Some(t), _) => Pick::Tier(tier_index(t)),
            (None, Some(m)) => Pick::Model(models[m]),
            (None, None) => unreachable!("validated"),
        };
        let tiers: Vec<Tier> = r
            .tiers
            .iter()
            .map(|t| Tier { name: t.name.clone(), targets: t.models.iter().map(|m| models[m]).collect() })
            .collect();
        let rules = r.rules.iter().enumerate().map(|(i, c)| Rule::compile(i, c, pick(&c.tier, &c.model))).collect();
        let semantic = r
            .semantic
            .as_ref()
            .map(|s| Semantic::compile(s, s.intents.iter().map(|i| pick(&i.tier, &i.model)).collect(), embedder));
        let learned = match &r.learned {
            Some(l) => {
                let bytes = files(&l.weights).map_err(|e| ConfigError::new(f("learned.weights"), e))?;
                let m = LearnedModel::from_bytes(&bytes)
                    .and_then(|m| m.with_embedder(embedder))
                    .map_err(|e| ConfigError::new(f("learned.weights"), e.to_string()))?;
                Some((Arc::new(m), l.blend))
            }
            None => None,
        };
        let n = tiers.len();
        let mut route = Route {
            name: name.to_string(),
            default_tier: r.default_tier.as_deref().map_or(0, tier_index),
            balance: r.balance,
            baseline: r.baseline.as_ref().map_or_else(|| tiers[n - 1].targets[0], |b| models[b]),
            fallbacks: r.fallbacks.iter().map(|m| models[m]).collect(),
            retry: r.retry.clone(),
            thresholds: r.thresholds.clone().unwrap_or_else(|| (1..n).map(|k| k as f32 / n as f32).collect()),
            tiers,
            rules,
            semantic,
            complexity: r.complexity.clone(),
            learned,
            cache: r.cache.clone(),
            cache_scope: {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for t in &r.tiers {
                    t.name.hash(&mut h);
                    t.models.hash(&mut h);
                }
                format!("{:?}{:?}", r.cascade, r.consensus).hash(&mut h);
                format!("{name}#{:016x}", h.finish())
            },
            cascade: r.cascade.as_ref().map(|c| Cascade::compile(c, models)),
            consensus: r.consensus.as_ref().map(|c| consensus_of(name, c, models)).transpose()?,
        };
        if let (Some(frac), Some(file)) = (r.strong_fraction, &r.calibration_file) {
            let bytes = files(file).map_err(|e| ConfigError::new(f("calibration_file"), e))?;
            let text = String::from_utf8_lossy(&bytes);
            let mut scratch = DecideScratch::new(1);
            let mut scores = Vec::new();
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let v = sample_view(line, name)
                    .map_err(|e| ConfigError::new(f("calibration_file"), format!("line {}: {e}", i + 1)))?;
                if let Some((s, _)) = route.score(&v, &mut scratch) {
                    scores.push(s);
                }
            }
            if scores.is_empty() {
                return Err(ConfigError::new(f("calibration_file"), "no prompts in the file"));
            }
            let t = calibrate(&mut scores, frac);
            // The calibrated cut goes between the last two tiers; lower cuts stay below it.
            let last = route.thresholds.len() - 1;
            route.thresholds[last] = t;
            for k in 0..last {
                route.thresholds[k] = route.thresholds[k].min(t);
            }
        }
        Ok(route)
    }

    /// The scorer output and which scorer produced it, if the route has one.
    pub fn score(&self, v: &RequestView, s: &mut DecideScratch) -> Option<(f32, Strategy)> {
        s.signals.fill(&v.last_user);
        self.score_filled(v, s, false)
    }

    /// `score` for a request whose signals are already in `s` (`choose` fills them once);
    /// `classified`: the route's intents have just embedded this request's text.
    fn score_filled(&self, v: &RequestView, s: &mut DecideScratch, classified: bool) -> Option<(f32, Strategy)> {
        let mut total = 0.0;
        let mut weight = 0.0;
        let mut which = None;
        if let Some(c) = &self.complexity {
            total += c.blend * complexity::score(c, &complexity::features(v, &s.signals));
            weight += c.blend;
            which = Some(Strategy::Complexity);
        }
        if let Some((m, blend)) = &self.learned {
            let same_table = match (m.embedder(), self.semantic.as_ref().and_then(|sem| sem.embedder())) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            };
            let sentence = if classified && same_table { s.semantic.sentence() } else { None };
            total += blend * m.score_with(&v.last_user, &mut s.learned, sentence);
            weight += blend;
            which = Some(if which.is_some() { Strategy::Blend } else { Strategy::Learned });
        }
        let which = which?;
        Some((if weight > 0.0 { total / weight } else { 0.0 }, which))
    }

    /// Tier for a score: the number of cut points at or below it.
    pub fn tier_for(&self, score: f32) -> usize {
        self.thresholds.iter().filter(|&&t| score >= t).count()
    }

    fn tier_named(&self, name: &str, header: &str) -> Result<usize, ApiError> {
        self.tiers.iter().position(|t| t.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            ApiError::bad_request(format!("`{header}: {name}`: route `{}` has no such tier", self.name), None)
        })
    }

    /// Runs the strategies in layers: header pin, rules, intents, score, default.
    pub(crate) fn choose(
        &self,
        v: &RequestView,
        header: &dyn Fn(&str) -> Option<String>,
        s: &mut DecideScratch,
    ) -> Result<Choice, ApiError> {
        s.signals.fill(&v.last_user);
        let mut c = if let Some(t) = header(TIER_HEADER) {
            Choice {
                pick: Pick::Tier(self.tier_named(&t, TIER_HEADER)?),
                strategy: Strategy::Header,
                score: None,
                matched: None,
                similarity: None,
            }
        } else if let Some(r) = self.rules.iter().find(|r| r.matches(v, &s.signals, header)) {
            Choice {
                pick: r.pick,
                strategy: Strategy::Rule,
                score: None,
                matched: Some(r.name.clone()),
                similarity: None,
            }
        } else if let Some(m) = self.semantic.as_ref().and_then(|sem| sem.classify(&v.last_user, &mut s.semantic)) {
            Choice {
                pick: m.pick,
                strategy: Strategy::Semantic,
                score: None,
                matched: Some(m.intent.to_string()),
                similarity: Some(m.similarity),
            }
        } else if let Some((score, strategy)) = self.score_filled(v, s, self.semantic.is_some()) {
            Choice {
                pick: Pick::Tier(self.tier_for(score)),
                strategy,
                score: Some(score),
                matched: None,
                similarity: None,
            }
        } else {
            Choice {
                pick: Pick::Tier(self.default_tier),
                strategy: Strategy::Default,
                score: None,
                matched: None,
                similarity: None,
            }
        };
        if let (Some(min), Pick::Tier(t)) = (header(MIN_TIER_HEADER), c.pick) {
            let floor = self.tier_named(&min, MIN_TIER_HEADER)?;
            c.pick = Pick::Tier(t.max(floor));
        }
        Ok(c)
    }
}

/// A route's consensus settings, compiled; the extractor is refused here with its field's name.
fn consensus_of(
    name: &str,
    c: &switchyard_config::ConsensusConfig,
    models: &HashMap<String, TargetId>,
) -> Result<Consensus, ConfigError> {
    Ok(Consensus {
        targets: c.models.iter().map(|m| models[m]).collect(),
        extractor: Extractor::parse(&c.extractor)
            .map_err(|m| ConfigError::new(format!("routes.{name}.consensus.extractor"), m))?,
        tie_break: c.tie_break.as_ref().and_then(|t| c.models.iter().position(|m| m == t)),
        judge: c.judge.as_ref().map(|j| models[j]),
        timeout_ms: c.timeout_ms,
    })
}

/// A request view from a sample line: an OpenAI chat body or `{"prompt": "..."}`.
pub fn sample_view(line: &str, route: &str) -> Result<RequestView, String> {
    let mut bytes = line.as_bytes().to_vec();
    let v = simd_json::to_owned_value(&mut bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    use simd_json::prelude::*;
    if let Some(p) = v.get("prompt").and_then(|p| p.as_str()) {
        let model = v.get("model").and_then(|m| m.as_str()).unwrap_or(route);
        return Ok(RequestView::from_prompt(model, p));
    }
    RequestView::parse(line.as_bytes(), &mut switchyard_wire::tape::JsonScratch::default()).map_err(|e| e.to_string())
}
