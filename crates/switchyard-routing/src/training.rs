//! Training and evaluating the learned router on RouteLLM-style labelled prompts
//! (`routing-data/*.jsonl`: MMLU and GSM8K with correctness, MT-Bench with judge scores).

use simd_json::prelude::*;

use crate::eval::{Scored, apgr_cpt};
use std::sync::Arc;

use switchyard_embed::StaticModel;

use crate::learned::{DenseInput, Example, LearnedModel, LearnedScratch, train};
use switchyard_wire::text::hash_lower;

/// One labelled prompt.
#[derive(Debug, Clone)]
pub struct Item {
    /// Stable id (used for the split).
    pub id: String,
    /// `mmlu`, `gsm8k` or `mt_bench`.
    pub benchmark: String,
    /// The prompt (for MT-Bench, the last turn, as the gateway sees it).
    pub prompt: String,
    /// Weak model quality in [0, 1].
    pub weak: f32,
    /// Strong model quality in [0, 1].
    pub strong: f32,
}

/// Parses one JSON line; judge scores (1–10) are scaled to [0, 1].
pub fn parse_item(line: &str) -> Result<Item, String> {
    let mut bytes = line.as_bytes().to_vec();
    let v = simd_json::to_owned_value(&mut bytes).map_err(|e| e.to_string())?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string).ok_or(format!("missing `{k}`"));
    let q = |k: &str| -> Result<f32, String> {
        let x = v.get(k).ok_or(format!("missing `{k}`"))?;
        if let Some(b) = x.as_bool() {
            Ok(f32::from(u8::from(b)))
        } else {
            x.cast_f64().map(|f| (f / 10.0) as f32).ok_or(format!("`{k}` is not a bool or number"))
        }
    };
    let (weak, strong) = if v.get("weak_correct").is_some() {
        (q("weak_correct")?, q("strong_correct")?)
    } else {
        (q("weak_score")?, q("strong_score")?)
    };
    Ok(Item { id: s("id")?, benchmark: s("benchmark")?, prompt: s("prompt")?, weak, strong })
}

/// Deterministic held-out split: one item in five by a hash of its id.
pub fn is_held_out(item: &Item) -> bool {
    hash_lower(item.id.as_bytes()).is_multiple_of(5)
}

/// Training settings (the defaults are what the shipped weights use).
#[derive(Debug, Clone, Copy)]
pub struct TrainSettings {
    /// log2 of the hashed feature space.
    pub bits: u32,
    /// Ridge penalty.
    pub alpha: f32,
    /// Conjugate-gradient iterations.
    pub iterations: usize,
    /// Multiplier of the sentence embedding when training with one (`--embeddings`).
    pub dense_scale: f32,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings { bits: 16, alpha: 10.0, iterations: 200, dense_scale: 0.5 }
    }
}

/// Fits a model on `items`, on the sentence embedding too when `embedder` is given.
pub fn fit(items: &[Item], s: TrainSettings, embedder: Option<&Arc<StaticModel>>) -> LearnedModel {
    let ex: Vec<Example<'_>> = items.iter().map(|i| Example { text: &i.prompt, gain: i.strong - i.weak }).collect();
    train(&ex, s.bits, s.alpha, s.iterations, embedder.map(|model| DenseInput { model, scale: s.dense_scale }))
}

/// APGR and CPT(50 %) per benchmark: (benchmark, items, apgr, cpt50).
pub fn evaluate(model: &LearnedModel, items: &[Item]) -> Vec<(String, usize, f64, f64)> {
    let mut benches: Vec<&str> = items.iter().map(|i| i.benchmark.as_str()).collect();
    benches.sort_unstable();
    benches.dedup();
    let mut scratch = LearnedScratch::default();
    benches
        .into_iter()
        .filter_map(|b| {
            let scored: Vec<Scored> = items
                .iter()
                .filter(|i| i.benchmark == b)
                .map(|i| Scored { score: model.score(&i.prompt, &mut scratch), weak: i.weak, strong: i.strong })
                .collect();
            apgr_cpt(&scored, 0.5).map(|(a, c)| (b.to_string(), scored.len(), a, c))
        })
        .collect()
}

/// One benchmark's APGR over repeated k-fold cross-validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CvResult {
    /// `mmlu`, `gsm8k` or `mt_bench`.
    pub benchmark: String,
    /// Mean APGR over every fold of every repeat.
    pub mean: f64,
    /// Its standard deviation across folds.
    pub sd: f64,
    /// Lowest and highest fold.
    pub range: (f64, f64),
    /// Folds evaluated.
    pub folds: usize,
}

/// Repeated `k`-fold cross-validation over all of `items`: each repeat shuffles by a hash of
/// (repeat, id), each fold is fitted on the rest and scored per benchmark.
pub fn cross_validate(
    items: &[Item],
    s: TrainSettings,
    embedder: Option<&Arc<StaticModel>>,
    k: usize,
    repeats: usize,
) -> Vec<CvResult> {
    let mut per: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for r in 0..repeats {
        let fold_of = |i: &Item| {
            let mut key = (r as u64).to_le_bytes().to_vec();
            key.extend_from_slice(i.id.as_bytes());
            (hash_lower(&key) % k as u64) as usize
        };
        for f in 0..k {
            let (test, train): (Vec<Item>, Vec<Item>) = items.iter().cloned().partition(|i| fold_of(i) == f);
            let model = fit(&train, s, embedder);
            for (b, _, apgr, _) in evaluate(&model, &test) {
                per.entry(b).or_default().push(apgr);
            }
        }
    }
    per.into_iter()
        .map(|(benchmark, v)| {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
            let range = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
            CvResult { benchmark, mean, sd, range, folds: v.len() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_label_kinds() {
        let i = parse_item(r#"{"id":"mmlu/x/1","benchmark":"mmlu","subject":"x","prompt":"Q","weak_correct":false,"strong_correct":true}"#).unwrap();
        assert_eq!((i.weak, i.strong), (0.0, 1.0));
        let i = parse_item(
            r#"{"id":"mt/1","benchmark":"mt_bench","turns":["a"],"prompt":"a","weak_score":8.0,"strong_score":10}"#,
        )
        .unwrap();
        assert_eq!((i.weak, i.strong), (0.8, 1.0));
        assert!(parse_item(r#"{"id":"x"}"#).is_err());
    }
}
