//! The learned router: a ridge regression over hashed word n-grams (tagged by prompt shape),
//! a few numeric features and, when trained with `embeddings`, the prompt's sentence embedding,
//! predicting how much the strong model gains over the weak one.
//!
//! Chosen by offline comparison on `routing-data` (see README "Learned router"): against
//! logistic "weak fails" and two-model "P(strong)-P(weak)" variants it ranked best or equal on
//! MMLU and GSM8K, and it is one weight vector, so a decision is one pass over the words.

use std::sync::Arc;

use switchyard_embed::{EmbedScratch, StaticModel};
use switchyard_wire::text::{hash_lower, mix, words};

/// Numeric features appended after the hashed ones.
const NUMERIC: usize = 6;
/// Seeds that tag word features with the prompt's shape.
const SHAPE_SEED: [u64; 2] = [0x51f1_5e11, 0x0a11_ce55];
const BIGRAM_SEED: u64 = 0xb16a_4a11;
const MAGIC_V1: &[u8; 8] = b"SYLR0001";
/// Version 2 adds the dense (embedding) block.
const MAGIC: &[u8; 8] = b"SYLR0002";

/// Errors loading a weights file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not a weights file of this version.
    #[error("not a switchyard learned-router file (bad magic or size)")]
    Format,
    /// Weights trained on embeddings loaded without them, or with a table of other dims.
    #[error("these weights were trained on {want}-dim embeddings; {have}")]
    Embeddings {
        /// Dims the weights expect.
        want: usize,
        /// What the config provides.
        have: String,
    },
}

/// A trained model: `score = sigmoid(4 * (w·x + b))`, higher = needs the stronger model.
#[derive(Debug, Clone)]
pub struct LearnedModel {
    bits: u32,
    weights: Vec<f32>,
    numeric: [f32; NUMERIC],
    bias: f32,
    /// Weights of the sentence embedding (empty: trained without one).
    dense: Vec<f32>,
    /// What the unit embedding is multiplied by before `dense` (sets its share of the penalty).
    dense_scale: f32,
    embedder: Option<Arc<StaticModel>>,
}

/// Per-worker buffers for [`LearnedModel::score`].
#[derive(Debug, Default)]
pub struct LearnedScratch {
    idx: Vec<u32>,
    embed: EmbedScratch,
    vector: Vec<f32>,
}

/// Whether a prompt is multiple-choice shaped (options A–D then "Answer:").
fn shape(text: &str) -> usize {
    let t = text.trim_end();
    let mc = t.ends_with("Answer:") && t.contains("\nA.") && t.contains("\nB.") && t.contains("\nC.");
    usize::from(mc)
}

/// Sparse features of a prompt: hashed indices (each with value `1/sqrt(n)`) and numerics.
struct Features {
    idx: Vec<u32>,
    scale: f32,
    numeric: [f32; NUMERIC],
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `text`'s unit embedding times `scale` into `out` (zeros when it has no known token).
fn dense_features(m: &StaticModel, text: &str, scale: f32, s: &mut EmbedScratch, out: &mut Vec<f32>) {
    out.clear();
    out.resize(m.dims(), 0.0);
    if m.embed(text, s, out) {
        out.iter_mut().for_each(|x| *x *= scale);
    } else {
        out.fill(0.0);
    }
}

fn features(text: &str, bits: u32, idx: &mut Vec<u32>) -> Features {
    idx.clear();
    let mask = (1u64 << bits) - 1;
    let tag = SHAPE_SEED[shape(text)];
    let mut prev: Option<u64> = None;
    let (mut n_words, mut long_words, mut numbers, mut max_num) = (0u32, 0u32, 0u32, 0f64);
    for w in words(text) {
        let h = hash_lower(w);
        idx.push((h & mask) as u32);
        idx.push((mix(h, tag) & mask) as u32);
        if let Some(p) = prev {
            let b = mix(p, h ^ BIGRAM_SEED);
            idx.push((b & mask) as u32);
            idx.push((mix(b, tag) & mask) as u32);
        }
        prev = Some(h);
        n_words += 1;
        if w.len() > 8 {
            long_words += 1;
        }
        if w[0].is_ascii_digit() {
            numbers += 1;
            if let Some(v) = std::str::from_utf8(w).ok().and_then(|s| s.parse::<f64>().ok()) {
                max_num = max_num.max(v);
            }
        }
    }
    let scale = if idx.is_empty() { 0.0 } else { 1.0 / (idx.len() as f32).sqrt() };
    let numeric = [
        ((1.0 + text.len() as f64).ln() / 8.0) as f32,
        numbers.min(20) as f32 / 20.0,
        f32::from(u8::from(text.contains('%'))),
        text.bytes().filter(|&b| b == b'?').count().min(6) as f32 / 3.0,
        ((1.0 + max_num).ln() / 10.0) as f32,
        long_words as f32 / n_words.max(1) as f32,
    ];
    Features { idx: std::mem::take(idx), scale, numeric }
}

impl LearnedModel {
    /// Raw prediction of the strong model's gain (roughly in [-1, 1]).
    pub fn predict(&self, text: &str, scratch: &mut LearnedScratch) -> f32 {
        self.predict_with(text, scratch, None)
    }

    /// `predict` given `text`'s unit embedding under this model's table, when the caller
    /// already has it (the route's intents embed the same text: sharing it saves one embedding,
    /// 7 µs per 1 KB prompt).
    pub fn predict_with(&self, text: &str, scratch: &mut LearnedScratch, sentence: Option<&[f32]>) -> f32 {
        let f = features(text, self.bits, &mut scratch.idx);
        let mut sum = 0.0f32;
        for &i in &f.idx {
            sum += self.weights[i as usize];
        }
        let mut out = self.bias + sum * f.scale;
        for (w, x) in self.numeric.iter().zip(f.numeric) {
            out += w * x;
        }
        scratch.idx = f.idx;
        if let (Some(m), false) = (&self.embedder, self.dense.is_empty()) {
            let dense = match sentence {
                Some(v) if v.len() == self.dense.len() => self.dense_scale * dot(&self.dense, v),
                _ => {
                    dense_features(m, text, self.dense_scale, &mut scratch.embed, &mut scratch.vector);
                    dot(&self.dense, &scratch.vector)
                }
            };
            out += dense;
        }
        out
    }

    /// The embedding table the weights use, if they were trained on one.
    pub fn embedder(&self) -> Option<&Arc<StaticModel>> {
        self.embedder.as_ref().filter(|_| !self.dense.is_empty())
    }

    /// `score` with a precomputed sentence embedding (see [`LearnedModel::predict_with`]).
    pub fn score_with(&self, text: &str, scratch: &mut LearnedScratch, sentence: Option<&[f32]>) -> f32 {
        let p = self.predict_with(text, scratch, sentence);
        1.0 / (1.0 + (-4.0 * p).exp())
    }

    /// Dims of the embedding the weights were trained on (0: none).
    pub fn embedding_dims(&self) -> usize {
        self.dense.len()
    }

    /// Attaches the embedding table that weights trained on embeddings need; weights trained
    /// without one ignore it.
    pub fn with_embedder(mut self, embedder: Option<&Arc<StaticModel>>) -> Result<LearnedModel, ModelError> {
        if self.dense.is_empty() {
            return Ok(self);
        }
        match embedder {
            Some(m) if m.dims() == self.dense.len() => {
                self.embedder = Some(Arc::clone(m));
                Ok(self)
            }
            Some(m) => {
                Err(ModelError::Embeddings { want: self.dense.len(), have: format!("the table has {}", m.dims()) })
            }
            None => Err(ModelError::Embeddings { want: self.dense.len(), have: "set `embeddings = …`".into() }),
        }
    }

    /// Score in [0, 1]; higher means the prompt needs the stronger model.
    pub fn score(&self, text: &str, scratch: &mut LearnedScratch) -> f32 {
        let p = self.predict(text, scratch);
        1.0 / (1.0 + (-4.0 * p).exp())
    }

    /// Serialises: magic, bits, bias, numeric weights, scale, dense length, dense scale,
    /// dense weights (f32), then i16-quantised hashed weights.
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.weights.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-12);
        let scale = max / 32767.0;
        let mut out = Vec::with_capacity(40 + self.dense.len() * 4 + self.weights.len() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        for n in self.numeric {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend_from_slice(&(self.dense.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.dense_scale.to_le_bytes());
        for d in &self.dense {
            out.extend_from_slice(&d.to_le_bytes());
        }
        for w in &self.weights {
            out.extend_from_slice(&((w / scale).round() as i16).to_le_bytes());
        }
        out
    }

    /// Reads what `to_bytes` wrote (and version-1 files, which have no dense block).
    pub fn from_bytes(b: &[u8]) -> Result<LearnedModel, ModelError> {
        let f32_at = |o: usize| b.get(o..o + 4).map(|s| f32::from_le_bytes(s.try_into().expect("4 bytes")));
        let v2 = match b.get(..8) {
            Some(m) if m == MAGIC => true,
            Some(m) if m == MAGIC_V1 => false,
            _ => return Err(ModelError::Format),
        };
        let bits = u32::from_le_bytes(b.get(8..12).ok_or(ModelError::Format)?.try_into().expect("4 bytes"));
        if !(8..=24).contains(&bits) {
            return Err(ModelError::Format);
        }
        let bias = f32_at(12).ok_or(ModelError::Format)?;
        let mut numeric = [0f32; NUMERIC];
        for (i, n) in numeric.iter_mut().enumerate() {
            *n = f32_at(16 + 4 * i).ok_or(ModelError::Format)?;
        }
        let so = 16 + 4 * NUMERIC;
        let scale = f32_at(so).ok_or(ModelError::Format)?;
        let mut at = so + 4;
        let (mut dense, mut dense_scale) = (Vec::new(), 0.0);
        if v2 {
            let n = f32_at(at).ok_or(ModelError::Format)?.to_bits() as usize;
            dense_scale = f32_at(at + 4).ok_or(ModelError::Format)?;
            if n > 4096 {
                return Err(ModelError::Format);
            }
            dense = (0..n).map(|i| f32_at(at + 8 + 4 * i).ok_or(ModelError::Format)).collect::<Result<_, _>>()?;
            at += 8 + 4 * n;
        }
        let body = b.get(at..).ok_or(ModelError::Format)?;
        if body.len() != 2 << bits {
            return Err(ModelError::Format);
        }
        let weights = body.chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) * scale).collect();
        Ok(LearnedModel { bits, weights, numeric, bias, dense, dense_scale, embedder: None })
    }
}

/// One labelled prompt for training: `gain` = strong quality minus weak quality, in [-1, 1].
pub struct Example<'a> {
    /// The prompt text.
    pub text: &'a str,
    /// Strong minus weak quality.
    pub gain: f32,
}

/// The embedding the learned router is trained on, and its scale against the word block
/// (both blocks have unit norm before it; the shared ridge penalty then weighs them alike).
#[derive(Debug, Clone, Copy)]
pub struct DenseInput<'a> {
    /// The embedding table.
    pub model: &'a Arc<StaticModel>,
    /// Multiplier of the unit embedding.
    pub scale: f32,
}

/// Fits ridge regression `min ||Xw - y||² + alpha ||w||²` by conjugate gradient on the
/// normal equations: exact, deterministic, and fast on sparse hashed features.
pub fn train(
    examples: &[Example<'_>],
    bits: u32,
    alpha: f32,
    iterations: usize,
    dense: Option<DenseInput<'_>>,
) -> LearnedModel {
    let dims = 1usize << bits;
    let d = dense.map_or(0, |x| x.model.dims());
    // Columns: hashed [0, dims), numeric [dims, +NUMERIC), dense [.., +d), bias last.
    let (num0, dense0) = (dims, dims + NUMERIC);
    let bias_col = dense0 + d;
    let cols = bias_col + 1;
    let mut scratch = Vec::new();
    let rows: Vec<Features> = examples.iter().map(|e| features(e.text, bits, &mut scratch)).collect();
    let embedded: Vec<Vec<f32>> = match dense {
        Some(x) => {
            let mut es = EmbedScratch::default();
            examples
                .iter()
                .map(|e| {
                    let mut v = Vec::new();
                    dense_features(x.model, e.text, x.scale, &mut es, &mut v);
                    v
                })
                .collect()
        }
        None => vec![Vec::new(); examples.len()],
    };
    let y: Vec<f32> = examples.iter().map(|e| e.gain).collect();
    let xv = |v: &[f32], out: &mut Vec<f32>| {
        out.clear();
        out.extend(rows.iter().zip(&embedded).map(|(r, e)| {
            let mut s = r.idx.iter().map(|&i| v[i as usize]).sum::<f32>() * r.scale;
            for (k, x) in r.numeric.iter().enumerate() {
                s += v[num0 + k] * x;
            }
            s += e.iter().zip(&v[dense0..bias_col]).map(|(x, w)| x * w).sum::<f32>();
            s + v[bias_col]
        }));
    };
    let xtv = |u: &[f32], out: &mut Vec<f32>| {
        out.clear();
        out.resize(cols, 0.0);
        for ((r, e), &ui) in rows.iter().zip(&embedded).zip(u) {
            let a = ui * r.scale;
            for &i in &r.idx {
                out[i as usize] += a;
            }
            for (k, x) in r.numeric.iter().enumerate() {
                out[num0 + k] += ui * x;
            }
            for (o, x) in out[dense0..bias_col].iter_mut().zip(e) {
                *o += ui * x;
            }
            out[bias_col] += ui;
        }
    };
    // A w = b with A = XᵀX + αI (bias not regularised), b = Xᵀy.
    let mut tmp = Vec::new();
    let mut apply = |v: &[f32], out: &mut Vec<f32>| {
        xv(v, &mut tmp);
        xtv(&tmp, out);
        for (i, o) in out.iter_mut().enumerate().take(bias_col) {
            *o += alpha * v[i];
        }
    };
    let mut b = Vec::new();
    xtv(&y, &mut b);
    let w = conjugate_gradient(&mut apply, &b, iterations);
    let mut numeric = [0f32; NUMERIC];
    numeric.copy_from_slice(&w[num0..dense0]);
    LearnedModel {
        bits,
        weights: w[..dims].to_vec(),
        numeric,
        bias: w[bias_col],
        dense: w[dense0..bias_col].to_vec(),
        dense_scale: dense.map_or(0.0, |x| x.scale),
        embedder: dense.map(|x| Arc::clone(x.model)),
    }
}

/// Solves `A w = b` for symmetric positive-definite `A` given as `apply`.
fn conjugate_gradient(apply: &mut dyn FnMut(&[f32], &mut Vec<f32>), b: &[f32], iterations: usize) -> Vec<f32> {
    let cols = b.len();
    let mut w = vec![0f32; cols];
    let mut r = b.to_vec();
    let mut p = r.clone();
    let mut rs: f64 = r.iter().map(|x| f64::from(*x) * f64::from(*x)).sum();
    let mut ap = Vec::new();
    for _ in 0..iterations {
        apply(&p, &mut ap);
        let pap: f64 = p.iter().zip(&ap).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
        if pap <= 0.0 {
            break;
        }
        let step = rs / pap;
        for i in 0..cols {
            w[i] += (step * f64::from(p[i])) as f32;
            r[i] -= (step * f64::from(ap[i])) as f32;
        }
        let rs_new: f64 = r.iter().map(|x| f64::from(*x) * f64::from(*x)).sum();
        if rs_new < 1e-10 {
            break;
        }
        let beta = rs_new / rs;
        for i in 0..cols {
            p[i] = r[i] + (beta * f64::from(p[i])) as f32;
        }
        rs = rs_new;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Vec<Example<'static>> {
        // "integral" prompts need the strong model; "capital" ones do not.
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(Example { text: "compute the integral of x squared", gain: 1.0 });
            v.push(Example { text: "what is the capital of france", gain: 0.0 });
            v.push(Example { text: "evaluate this integral by parts", gain: 1.0 });
            v.push(Example { text: "name the capital city of spain", gain: 0.0 });
        }
        v
    }

    #[test]
    fn learns_a_separable_toy_problem() {
        let m = train(&toy(), 12, 0.1, 50, None);
        let mut s = LearnedScratch::default();
        let seen_hard = m.score("compute the integral of x squared", &mut s);
        let seen_easy = m.score("what is the capital of france", &mut s);
        // A predicted gain of 0 scores 0.5, a gain of 1 about 0.98.
        assert!(seen_hard > 0.9 && (seen_easy - 0.5).abs() < 0.05, "hard {seen_hard} easy {seen_easy}");
        // Unseen prompts sharing the telling word land on the right side of each other.
        let hard = m.score("solve the integral of sin x", &mut s);
        let easy = m.score("the capital of italy", &mut s);
        assert!(hard > easy + 0.2, "hard {hard} easy {easy}");
    }

    #[test]
    fn round_trips_through_bytes() {
        let m = train(&toy(), 10, 0.1, 30, None);
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), 8 + 4 + 4 + 4 * NUMERIC + 4 + 8 + (2 << 10));
        let back = LearnedModel::from_bytes(&bytes).unwrap();
        let mut s = LearnedScratch::default();
        let (a, b) = (m.score("integral of x", &mut s), back.score("integral of x", &mut s));
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        assert!(LearnedModel::from_bytes(b"nonsense").is_err());
        assert!(LearnedModel::from_bytes(&bytes[..bytes.len() - 2]).is_err());
    }

    fn two_word_embedder() -> Arc<StaticModel> {
        let mut t = b"SYEMB1\0\0".to_vec();
        t.extend(4u32.to_le_bytes());
        t.extend(2u32.to_le_bytes());
        // f16 rows: [PAD] and [UNK] zero, `integral` = (1, 0), `capital` = (0, 1); 0x3c00 is 1.0.
        for x in [0u16, 0, 0, 0, 0x3c00, 0, 0, 0x3c00] {
            t.extend(x.to_le_bytes());
        }
        Arc::new(StaticModel::load(&t, "[PAD]\n[UNK]\nintegral\ncapital\n").unwrap())
    }

    #[test]
    fn embedding_weights_round_trip_and_need_their_table() {
        let e = two_word_embedder();
        let m = train(&toy(), 10, 0.1, 30, Some(DenseInput { model: &e, scale: 0.5 }));
        assert_eq!(m.embedding_dims(), 2);
        assert!(m.dense[0] > m.dense[1], "the `integral` direction predicts gain: {:?}", m.dense);
        let back = LearnedModel::from_bytes(&m.to_bytes()).unwrap();
        assert!(matches!(back.clone().with_embedder(None), Err(ModelError::Embeddings { want: 2, .. })));
        let back = back.with_embedder(Some(&e)).unwrap();
        let mut s = LearnedScratch::default();
        for text in ["integral of x", "capital city", "neither word"] {
            let (a, b) = (m.score(text, &mut s), back.score(text, &mut s));
            assert!((a - b).abs() < 1e-3, "{text}: {a} vs {b}");
        }
        // Weights without a dense block ignore an embedder.
        let plain = LearnedModel::from_bytes(&train(&toy(), 10, 0.1, 30, None).to_bytes()).unwrap();
        assert_eq!(plain.with_embedder(Some(&e)).unwrap().embedding_dims(), 0);
    }

    #[test]
    fn multiple_choice_shape_is_detected() {
        assert_eq!(shape("Q?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:"), 1);
        assert_eq!(shape("Janet has 3 apples. How many?"), 0);
    }
}
