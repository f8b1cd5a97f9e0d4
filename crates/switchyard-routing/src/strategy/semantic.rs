//! Semantic (intent) routing: hashed character 3- and 4-gram TF-IDF vectors, one centroid per
//! intent built from its example utterances; the nearest intent above a similarity floor wins.

use super::Pick;
use switchyard_config::SemanticConfig;
use switchyard_wire::text::{DIMS, ngrams};

/// A compiled intent set.
#[derive(Debug)]
pub struct Semantic {
    floor: f32,
    idf: Vec<f32>,
    intents: Vec<Intent>,
}

#[derive(Debug)]
struct Intent {
    name: String,
    pick: Pick,
    centroid: Vec<f32>,
}

/// Reusable per-worker buffers for vectorising.
#[derive(Debug)]
pub struct Scratch {
    dense: Vec<f32>,
    touched: Vec<u32>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch { dense: vec![0.0; DIMS], touched: Vec::new() }
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

impl Semantic {
    /// Builds IDF over all examples and one normalised centroid per intent.
    pub fn compile(cfg: &SemanticConfig, picks: Vec<Pick>) -> Semantic {
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
                let norm = centroid.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                centroid.iter_mut().for_each(|x| *x /= norm);
                Intent { name: it.name.clone(), pick, centroid }
            })
            .collect();
        Semantic { floor: cfg.floor, idf, intents }
    }

    /// The nearest intent, if its similarity reaches the floor.
    pub fn classify<'a>(&'a self, text: &str, s: &mut Scratch) -> Option<Match<'a>> {
        vectorise(text, &self.idf, s);
        let mut best: Option<Match<'a>> = None;
        for it in &self.intents {
            let sim: f32 = s.touched.iter().map(|&i| s.dense[i as usize] * it.centroid[i as usize]).sum();
            if best.as_ref().is_none_or(|b| sim > b.similarity) {
                best = Some(Match { intent: &it.name, pick: it.pick, similarity: sim });
            }
        }
        best.filter(|b| b.similarity >= self.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_config::IntentConfig;

    fn set() -> Semantic {
        let cfg = SemanticConfig {
            floor: 0.2,
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
        };
        Semantic::compile(&cfg, vec![Pick::Tier(0), Pick::Tier(1)])
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
