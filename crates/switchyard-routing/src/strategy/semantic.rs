//! Semantic (intent) routing: the nearest intent above a similarity floor wins. With a
//! configured `embeddings` table, requests and examples are sentence embeddings compared by
//! meaning (each intent's nearest example, or its centroid); without one, hashed character 3-
//! and 4-gram TF-IDF vectors with one centroid per intent (spelling, not meaning).

use std::sync::Arc;

use super::Pick;
use switchyard_config::{IntentMatch, SemanticConfig};
use switchyard_embed::{EmbedScratch, StaticModel, cosine};
use switchyard_wire::text::{DIMS, ngrams};

/// A compiled intent set.
#[derive(Debug)]
pub struct Semantic {
    floor: f32,
    space: Space,
    intents: Vec<Intent>,
}

/// What texts are compared in.
#[derive(Debug)]
enum Space {
    /// Character n-gram TF-IDF with these IDF weights.
    Grams(Vec<f32>),
    /// Sentence embeddings of this model, less `center`: half the mean of every example's
    /// vector. Static sentence vectors share a large common component (any two English
    /// questions score about 0.3), which drowns the topic; removing half of it raised accuracy
    /// on `tests/data/intents.jsonl` from 41 % to 49 % at the same ≤ 10 % false matches
    /// (`cargo test --release -p switchyard-routing --test intents -- --nocapture`).
    Embedded { model: Arc<StaticModel>, center: Vec<f32> },
}

#[derive(Debug)]
struct Intent {
    name: String,
    pick: Pick,
    /// N-grams: one dense centroid. Embeddings: the centroid, or every example's vector.
    vectors: Vec<Vec<f32>>,
}

/// Reusable per-worker buffers for vectorising.
#[derive(Debug)]
pub struct Scratch {
    dense: Vec<f32>,
    touched: Vec<u32>,
    embed: EmbedScratch,
    vector: Vec<f32>,
    /// The last classified text's unit embedding, before centring, for the learned router.
    sentence: Vec<f32>,
    sentence_valid: bool,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            dense: vec![0.0; DIMS],
            touched: Vec::new(),
            embed: EmbedScratch::default(),
            vector: Vec::new(),
            sentence: Vec::new(),
            sentence_valid: false,
        }
    }
}

impl Scratch {
    /// The unit embedding of the text the last `classify` call saw (embedded intents only).
    pub fn sentence(&self) -> Option<&[f32]> {
        self.sentence_valid.then_some(self.sentence.as_slice())
    }
}

/// The best intent and its similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'a> {
    /// Intent name.
    pub intent: &'a str,
    /// Where it sends the request.
    pub pick: Pick,
    /// Cosine similarity.
    pub similarity: f32,
}

/// TF-IDF vector of `text` into `s.dense` (normalised), its buckets in `s.touched`.
fn vectorise(text: &str, idf: &[f32], s: &mut Scratch) {
    for &i in &s.touched {
        s.dense[i as usize] = 0.0;
    }
    s.touched.clear();
    let (dense, touched) = (&mut s.dense, &mut s.touched);
    ngrams(text, |i| {
        if dense[i] == 0.0 {
            touched.push(i as u32);
        }
        dense[i] += idf[i];
    });
    let norm = touched.iter().map(|&i| dense[i as usize].powi(2)).sum::<f32>().sqrt();
    if norm > 0.0 {
        for &i in touched.iter() {
            dense[i as usize] /= norm;
        }
    }
}

/// Half the mean of `vectors`.
fn half_mean<'v>(vectors: impl Iterator<Item = &'v Vec<f32>>, dims: usize) -> Vec<f32> {
    let (mut sum, mut n) = (vec![0f32; dims], 0usize);
    for v in vectors {
        sum.iter_mut().zip(v).for_each(|(a, b)| *a += b);
        n += 1;
    }
    let k = 0.5 / n.max(1) as f32;
    sum.iter_mut().for_each(|x| *x *= k);
    sum
}

/// `v - center`, normalised.
fn centered(v: &[f32], center: &[f32]) -> Vec<f32> {
    normalised(v.iter().zip(center).map(|(a, b)| a - b).collect())
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

impl Semantic {
    /// Each intent as (name, what it compares and its floor, where it sends a request).
    pub fn describe(&self) -> Vec<(String, String, Pick)> {
        let space = match &self.space {
            Space::Grams(_) => "character n-grams",
            Space::Embedded { .. } => "sentence embedding",
        };
        self.intents
            .iter()
            .map(|i| {
                let vectors =
                    if i.vectors.len() == 1 { "1 vector".to_string() } else { format!("{} examples", i.vectors.len()) };
                (i.name.clone(), format!("{space}, {vectors}, floor {:.2}", self.floor), i.pick)
            })
            .collect()
    }

    /// Compiles the intents: embedded with `model` when one is configured, else as n-grams.
    pub fn compile(cfg: &SemanticConfig, picks: Vec<Pick>, model: Option<&Arc<StaticModel>>) -> Semantic {
        match model {
            Some(m) => Self::embedded(cfg, picks, m),
            None => Self::grams(cfg, picks),
        }
    }

    fn embedded(cfg: &SemanticConfig, picks: Vec<Pick>, model: &Arc<StaticModel>) -> Semantic {
        let raw: Vec<Vec<Vec<f32>>> =
            cfg.intents.iter().map(|it| it.examples.iter().filter_map(|e| model.embed_owned(e)).collect()).collect();
        let center = half_mean(raw.iter().flatten(), model.dims());
        let intents = cfg
            .intents
            .iter()
            .zip(picks)
            .zip(raw)
            .map(|((it, pick), raw)| {
                let examples: Vec<Vec<f32>> = raw.iter().map(|v| centered(v, &center)).collect();
                let vectors = match cfg.matching {
                    IntentMatch::Nearest => examples,
                    IntentMatch::Centroid => {
                        let mut c = vec![0f32; model.dims()];
                        for e in &examples {
                            c.iter_mut().zip(e).for_each(|(a, b)| *a += b);
                        }
                        vec![normalised(c)]
                    }
                };
                Intent { name: it.name.clone(), pick, vectors }
            })
            .collect();
        Semantic { floor: cfg.floor(true), space: Space::Embedded { model: model.clone(), center }, intents }
    }

    /// Builds IDF over all examples and one normalised centroid per intent.
    fn grams(cfg: &SemanticConfig, picks: Vec<Pick>) -> Semantic {
        let docs: Vec<&str> = cfg.intents.iter().flat_map(|i| i.examples.iter().map(String::as_str)).collect();
        let mut df = vec![0u32; DIMS];
        for d in &docs {
            let mut seen = vec![false; DIMS];
            ngrams(d, |i| {
                if !seen[i] {
                    seen[i] = true;
                    df[i] += 1;
                }
            });
        }
        let n = docs.len() as f32;
        let idf: Vec<f32> = df.iter().map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0).collect();
        let mut scratch = Scratch::default();
        let intents = cfg
            .intents
            .iter()
            .zip(picks)
            .map(|(it, pick)| {
                let mut centroid = vec![0f32; DIMS];
                for ex in &it.examples {
                    vectorise(ex, &idf, &mut scratch);
                    for &i in &scratch.touched {
                        centroid[i as usize] += scratch.dense[i as usize];
                    }
                }
                Intent { name: it.name.clone(), pick, vectors: vec![normalised(centroid)] }
            })
            .collect();
        Semantic { floor: cfg.floor(false), space: Space::Grams(idf), intents }
    }

    /// The embedding table intents are compared with, if any.
    pub fn embedder(&self) -> Option<&Arc<StaticModel>> {
        match &self.space {
            Space::Embedded { model, .. } => Some(model),
            Space::Grams(_) => None,
        }
    }

    /// Whether intents are compared by embedding.
    pub fn is_embedded(&self) -> bool {
        matches!(self.space, Space::Embedded { .. })
    }

    /// The nearest intent, if its similarity reaches the floor.
    pub fn classify<'a>(&'a self, text: &str, s: &mut Scratch) -> Option<Match<'a>> {
        s.sentence_valid = false;
        let best = match &self.space {
            Space::Grams(idf) => {
                vectorise(text, idf, s);
                self.best(|v| s.touched.iter().map(|&i| s.dense[i as usize] * v[i as usize]).sum())
            }
            Space::Embedded { model, center } => {
                s.sentence.resize(model.dims(), 0.0);
                if !model.embed(text, &mut s.embed, &mut s.sentence) {
                    return None;
                }
                s.sentence_valid = true;
                s.vector.clear();
                s.vector.extend_from_slice(&s.sentence);
                s.vector.iter_mut().zip(center).for_each(|(x, c)| *x -= c);
                let norm = s.vector.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm == 0.0 {
                    return None;
                }
                s.vector.iter_mut().for_each(|x| *x /= norm);
                let q = &s.vector;
                self.best(|v| cosine(q, v))
            }
        };
        best.filter(|b| b.similarity >= self.floor)
    }

    fn best<'a>(&'a self, sim: impl Fn(&[f32]) -> f32) -> Option<Match<'a>> {
        let mut best: Option<Match<'a>> = None;
        for it in &self.intents {
            let s = it.vectors.iter().map(|v| sim(v)).fold(f32::NEG_INFINITY, f32::max);
            if best.as_ref().is_none_or(|b| s > b.similarity) {
                best = Some(Match { intent: &it.name, pick: it.pick, similarity: s });
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_config::IntentConfig;

    fn set() -> Semantic {
        let cfg = SemanticConfig {
            floor_set: Some(0.2),
            intents: vec![
                IntentConfig {
                    name: "greeting".into(),
                    tier: Some("weak".into()),
                    model: None,
                    examples: vec!["hello there".into(), "hi, how are you".into(), "good morning!".into()],
                },
                IntentConfig {
                    name: "legal".into(),
                    tier: Some("strong".into()),
                    model: None,
                    examples: vec![
                        "review this contract clause for liability".into(),
                        "is this agreement enforceable under law".into(),
                        "draft an indemnification clause".into(),
                    ],
                },
            ],
            matching: IntentMatch::Nearest,
        };
        Semantic::compile(&cfg, vec![Pick::Tier(0), Pick::Tier(1)], None)
    }

    #[test]
    fn nearest_intent_wins() {
        let s = set();
        let mut sc = Scratch::default();
        let m = s.classify("Hello, good morning to you", &mut sc).unwrap();
        assert_eq!((m.intent, m.pick), ("greeting", Pick::Tier(0)));
        let m = s.classify("Can you check the liability clause in my contract?", &mut sc).unwrap();
        assert_eq!((m.intent, m.pick), ("legal", Pick::Tier(1)));
    }

    #[test]
    fn below_floor_falls_through() {
        let s = set();
        let mut sc = Scratch::default();
        assert!(s.classify("xyzzy qwv 12345", &mut sc).is_none());
        assert!(s.classify("", &mut sc).is_none());
    }

    #[test]
    fn scratch_is_reset_between_calls() {
        let s = set();
        let mut sc = Scratch::default();
        let a = s.classify("draft an indemnification clause", &mut sc).unwrap().similarity;
        s.classify("hello there", &mut sc);
        let b = s.classify("draft an indemnification clause", &mut sc).unwrap().similarity;
        assert!((a - b).abs() < 1e-6);
    }
}
