//! The learned router: a ridge regression over hashed word n-grams (tagged by prompt shape)
//! plus a few numeric features, predicting how much the strong model gains over the weak one.
//!
//! Chosen by offline comparison on `routing-data` (see README "Learned router"): against
//! logistic "weak fails" and two-model "P(strong)-P(weak)" variants it ranked best or equal on
//! MMLU and GSM8K, and it is one weight vector, so a decision is one pass over the words.

use switchyard_wire::text::{hash_lower, mix, words};

/// Numeric features appended after the hashed ones.
const NUMERIC: usize = 6;
/// Seeds that tag word features with the prompt's shape.
const SHAPE_SEED: [u64; 2] = [0x51f1_5e11, 0x0a11_ce55];
const BIGRAM_SEED: u64 = 0xb16a_4a11;
const MAGIC: &[u8; 8] = b"SYLR0001";

/// Errors loading a weights file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not a weights file of this version.
    #[error("not a switchyard learned-router file (bad magic or size)")]
    Format,
}

/// A trained model: `score = sigmoid(4 * (w·x + b))`, higher = needs the stronger model.
#[derive(Debug, Clone)]
pub struct LearnedModel {
    bits: u32,
    weights: Vec<f32>,
    numeric: [f32; NUMERIC],
    bias: f32,
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
    pub fn predict(&self, text: &str, scratch: &mut Vec<u32>) -> f32 {
        let f = features(text, self.bits, scratch);
        let mut sum = 0.0f32;
        for &i in &f.idx {
            sum += self.weights[i as usize];
        }
        let mut out = self.bias + sum * f.scale;
        for (w, x) in self.numeric.iter().zip(f.numeric) {
            out += w * x;
        }
        *scratch = f.idx;
        out
    }

    /// Score in [0, 1]; higher means the prompt needs the stronger model.
    pub fn score(&self, text: &str, scratch: &mut Vec<u32>) -> f32 {
        let p = self.predict(text, scratch);
        1.0 / (1.0 + (-4.0 * p).exp())
    }

    /// Serialises: magic, bits, bias, numeric weights, scale, then i16-quantised weights.
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.weights.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-12);
        let scale = max / 32767.0;
        let mut out = Vec::with_capacity(32 + self.weights.len() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        for n in self.numeric {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&scale.to_le_bytes());
        for w in &self.weights {
            out.extend_from_slice(&((w / scale).round() as i16).to_le_bytes());
        }
        out
    }

    /// Reads what `to_bytes` wrote.
    pub fn from_bytes(b: &[u8]) -> Result<LearnedModel, ModelError> {
        let f32_at = |o: usize| b.get(o..o + 4).map(|s| f32::from_le_bytes(s.try_into().expect("4 bytes")));
        if b.get(..8) != Some(MAGIC) {
            return Err(ModelError::Format);
        }
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
        let body = &b[so + 4..];
        if body.len() != 2 << bits {
            return Err(ModelError::Format);
        }
        let weights = body.chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) * scale).collect();
        Ok(LearnedModel { bits, weights, numeric, bias })
    }
}

/// One labelled prompt for training: `gain` = strong quality minus weak quality, in [-1, 1].
pub struct Example<'a> {
    /// The prompt text.
    pub text: &'a str,
    /// Strong minus weak quality.
    pub gain: f32,
}

/// Fits ridge regression `min ||Xw - y||² + alpha ||w||²` by conjugate gradient on the
/// normal equations: exact, deterministic, and fast on sparse hashed features.
pub fn train(examples: &[Example<'_>], bits: u32, alpha: f32, iterations: usize) -> LearnedModel {
    let dims = 1usize << bits;
    // Columns: hashed [0, dims), numeric [dims, dims+NUMERIC), bias at dims+NUMERIC.
    let cols = dims + NUMERIC + 1;
    let mut scratch = Vec::new();
    let rows: Vec<Features> = examples.iter().map(|e| features(e.text, bits, &mut scratch)).collect();
    let y: Vec<f32> = examples.iter().map(|e| e.gain).collect();
    let xv = |v: &[f32], out: &mut Vec<f32>| {
        out.clear();
        out.extend(rows.iter().map(|r| {
            let mut s = r.idx.iter().map(|&i| v[i as usize]).sum::<f32>() * r.scale;
            for (k, x) in r.numeric.iter().enumerate() {
                s += v[dims + k] * x;
            }
            s + v[dims + NUMERIC]
        }));
    };
    let xtv = |u: &[f32], out: &mut Vec<f32>| {
        out.clear();
        out.resize(cols, 0.0);
        for (r, &ui) in rows.iter().zip(u) {
            let a = ui * r.scale;
            for &i in &r.idx {
                out[i as usize] += a;
            }
            for (k, x) in r.numeric.iter().enumerate() {
                out[dims + k] += ui * x;
            }
            out[dims + NUMERIC] += ui;
        }
    };
    // A w = b with A = XᵀX + αI (bias not regularised), b = Xᵀy.
    let mut tmp = Vec::new();
    let mut apply = |v: &[f32], out: &mut Vec<f32>| {
        xv(v, &mut tmp);
        xtv(&tmp, out);
        for (i, o) in out.iter_mut().enumerate().take(dims + NUMERIC) {
            *o += alpha * v[i];
        }
    };
    let mut b = Vec::new();
    xtv(&y, &mut b);
    let mut w = vec![0f32; cols];
    let mut r = b.clone();
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
    let mut numeric = [0f32; NUMERIC];
    numeric.copy_from_slice(&w[dims..dims + NUMERIC]);
    let bias = w[dims + NUMERIC];
    w.truncate(dims);
    LearnedModel { bits, weights: w, numeric, bias }
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
        let m = train(&toy(), 12, 0.1, 50);
        let mut s = Vec::new();
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
        let m = train(&toy(), 10, 0.1, 30);
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), 8 + 4 + 4 + 4 * NUMERIC + 4 + (2 << 10));
        let back = LearnedModel::from_bytes(&bytes).unwrap();
        let mut s = Vec::new();
        let (a, b) = (m.score("integral of x", &mut s), back.score("integral of x", &mut s));
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        assert!(LearnedModel::from_bytes(b"nonsense").is_err());
        assert!(LearnedModel::from_bytes(&bytes[..bytes.len() - 2]).is_err());
    }

    #[test]
    fn multiple_choice_shape_is_detected() {
        assert_eq!(shape("Q?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:"), 1);
        assert_eq!(shape("Janet has 3 apples. How many?"), 0);
    }
}
