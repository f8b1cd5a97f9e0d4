//! The optional semantic cache: near-duplicate prompts answered from the response cache.
//!
//! A request's *context* is everything but its last user turn's text (route, parameters,
//! system prompt, earlier turns; see [`crate::cache::semantic_parts`]). For each stored answer
//! the index keeps the context's hash, a vector of that text (its sentence embedding when
//! `embeddings` is configured, else character 3/4-grams) and the answer's exact cache key. A new request with the same context whose text's cosine similarity to a
//! stored one reaches the route's threshold gets that answer. Only short texts take part
//! (near-duplicate matching is for FAQ-like questions; long prompts differ in what matters).
//!
//! Shared by all cores through 16 independently locked shards chosen by context hash (no
//! global lock); a lookup scans one shard's entries of the same context.

use std::sync::Mutex;

use switchyard_embed::{EmbedScratch, StaticModel};
use switchyard_wire::text::{DIMS, ngrams};

const SHARDS: usize = 16;
// Buckets are stored as u16.
const _: () = assert!(DIMS <= 1 << 16);

/// Longest text (bytes) that is vectorised; longer prompts skip the semantic cache.
pub const MAX_TEXT_BYTES: usize = 1024;

/// A prompt's normalised vector: sparse character n-grams, or a dense sentence embedding when
/// `embeddings` is configured. Vectors of different kinds never match.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptVector(Repr);

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    /// (bucket, weight), buckets ascending.
    Grams(Box<[(u16, f32)]>),
    /// A unit sentence embedding.
    Dense(Box<[f32]>),
}

impl PromptVector {
    /// The term-frequency vector of `text`'s character 3- and 4-grams, or `None` when the text
    /// is empty or longer than [`MAX_TEXT_BYTES`].
    pub fn of(text: &str) -> Option<PromptVector> {
        if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES {
            return None;
        }
        let mut counts: Vec<(u16, f32)> = Vec::with_capacity(2 * text.len());
        ngrams(text, |i| counts.push((i as u16, 1.0)));
        counts.sort_unstable_by_key(|c| c.0);
        let mut v: Vec<(u16, f32)> = Vec::with_capacity(counts.len());
        for (b, w) in counts {
            match v.last_mut() {
                Some(last) if last.0 == b => last.1 += w,
                _ => v.push((b, w)),
            }
        }
        let norm = v.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt();
        if norm == 0.0 {
            return None;
        }
        v.iter_mut().for_each(|x| x.1 /= norm);
        Some(PromptVector(Repr::Grams(v.into_boxed_slice())))
    }

    /// `text`'s sentence embedding under `model`, or `None` when the text is empty, longer than
    /// [`MAX_TEXT_BYTES`] or has no known token.
    pub fn embedded(model: &StaticModel, text: &str, s: &mut EmbedScratch) -> Option<PromptVector> {
        if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES {
            return None;
        }
        let mut v = vec![0f32; model.dims()];
        model.embed(text, s, &mut v).then(|| PromptVector(Repr::Dense(v.into_boxed_slice())))
    }

    /// Cosine similarity with `other` (both normalised; 0 across kinds).
    pub fn similarity(&self, other: &PromptVector) -> f32 {
        match (&self.0, &other.0) {
            (Repr::Grams(a), Repr::Grams(b)) => sparse_dot(a, b).min(1.0),
            (Repr::Dense(a), Repr::Dense(b)) => switchyard_embed::cosine(a, b),
            _ => 0.0,
        }
    }

    /// Bytes held.
    fn bytes(&self) -> usize {
        match &self.0 {
            Repr::Grams(v) => v.len() * std::mem::size_of::<(u16, f32)>(),
            Repr::Dense(v) => v.len() * 4,
        }
    }
}

fn sparse_dot(a: &[(u16, f32)], b: &[(u16, f32)]) -> f32 {
    let (mut i, mut j, mut dot) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    dot
}

struct Entry {
    context: u64,
    vector: PromptVector,
    key: Vec<u8>,
    expires_ms: u64,
}

#[derive(Default)]
struct Shard {
    entries: Vec<Entry>,
    /// Where the next insert goes once the shard is full (oldest first).
    next: usize,
}

/// Near-duplicate index from (context, prompt vector) to exact cache keys.
pub struct SemanticIndex {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

impl SemanticIndex {
    /// An index of at most `max_entries` prompts.
    pub fn new(max_entries: usize) -> SemanticIndex {
        SemanticIndex {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_entries.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, context: u64) -> std::sync::MutexGuard<'_, Shard> {
        // A poisoned shard only means a panic elsewhere mid-update of plain data: keep using it.
        self.shards[(context % SHARDS as u64) as usize].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers that the answer stored under `key` answered `vector` in `context`.
    pub fn insert(&self, context: u64, vector: PromptVector, key: Vec<u8>, expires_ms: u64, now_ms: u64) {
        let per_shard = self.per_shard;
        let mut s = self.shard(context);
        let entry = Entry { context, vector, key, expires_ms };
        // The same key again (a re-stored answer) replaces its entry.
        if let Some(e) = s.entries.iter_mut().find(|e| e.key == entry.key) {
            *e = entry;
            return;
        }
        if s.entries.len() < per_shard {
            s.entries.push(entry);
            return;
        }
        let slot = match s.entries.iter().position(|e| e.expires_ms <= now_ms) {
            Some(expired) => expired,
            None => {
                let n = s.next;
                s.next = (n + 1) % per_shard;
                n
            }
        };
        s.entries[slot] = entry;
    }

    /// The key of the most similar live prompt in `context`, if its similarity is at least
    /// `threshold`, with that similarity.
    pub fn nearest(&self, context: u64, vector: &PromptVector, threshold: f32, now_ms: u64) -> Option<(Vec<u8>, f32)> {
        let s = self.shard(context);
        s.entries
            .iter()
            .filter(|e| e.context == context && e.expires_ms > now_ms)
            .map(|e| (e, e.vector.similarity(vector)))
            .filter(|(_, sim)| *sim >= threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(e, sim)| (e.key.clone(), sim))
    }

    /// Entries and the bytes their vectors and keys hold.
    pub fn usage(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(n, bytes), s| {
            let s = s.lock().unwrap_or_else(|e| e.into_inner());
            (n + s.entries.len(), bytes + s.entries.iter().map(|e| e.vector.bytes() + e.key.len()).sum::<usize>())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> PromptVector {
        PromptVector::of(s).unwrap()
    }

    #[test]
    fn near_duplicates_are_close_and_other_questions_are_not() {
        let q = v("What is the capital of France?");
        assert!((q.similarity(&q) - 1.0).abs() < 1e-5);
        // Case and punctuation are not compared.
        assert!(q.similarity(&v("what is the capital of france")) > 0.999);
        let near =
            ["what is the capital of france", "What's the capital of France?", "What is the capital city of France?"];
        for n in near {
            assert!(q.similarity(&v(n)) >= 0.8, "{n}: {}", q.similarity(&v(n)));
        }
        let far = ["What is the capital of Germany?", "How do I sort a list in Python?", "capital gains tax in France"];
        for f in far {
            assert!(q.similarity(&v(f)) < 0.8, "{f}: {}", q.similarity(&v(f)));
        }
    }

    /// The figures the README quotes for choosing a threshold (`cargo test -p switchyard-core
    /// semantic_cache`).
    #[test]
    fn readme_similarities() {
        let q = v("What is the capital of France?");
        for (text, want) in [
            ("what is the capital of france", 1.0),
            ("What's the capital of France?", 0.90),
            ("What is the capital city of France?", 0.88),
            ("What is the capital of Germany?", 0.75),
            ("capital gains tax in France", 0.46),
        ] {
            let got = q.similarity(&v(text));
            assert!((got - want).abs() < 0.005, "{text}: {got:.3}, README says {want}");
        }
    }

    #[test]
    fn empty_and_long_texts_are_not_vectorised() {
        assert!(PromptVector::of("   ").is_none());
        assert!(PromptVector::of(&"x".repeat(MAX_TEXT_BYTES + 1)).is_none());
        assert!(PromptVector::of(&"x ".repeat(MAX_TEXT_BYTES / 2)).is_some());
    }

    #[test]
    fn lookup_needs_the_same_context_a_live_entry_and_the_threshold() {
        let idx = SemanticIndex::new(64);
        idx.insert(7, v("What is the capital of France?"), b"k1".to_vec(), 1_000, 0);
        let probe = v("What's the capital of France?");
        let (key, sim) = idx.nearest(7, &probe, 0.8, 10).unwrap();
        assert_eq!(key, b"k1");
        assert!(sim > 0.8);
        assert!(idx.nearest(8, &probe, 0.8, 10).is_none(), "other context");
        assert!(idx.nearest(7, &probe, 0.999, 10).is_none(), "under the threshold");
        assert!(idx.nearest(7, &probe, 0.8, 1_000).is_none(), "expired");
    }

    #[test]
    fn picks_the_most_similar_and_stays_within_its_bound() {
        let idx = SemanticIndex::new(SHARDS * 4);
        idx.insert(1, v("How do I reset my password?"), b"pw".to_vec(), 100, 0);
        idx.insert(1, v("How do I reset my router?"), b"router".to_vec(), 100, 0);
        let (key, _) = idx.nearest(1, &v("how do I reset my password"), 0.5, 1).unwrap();
        assert_eq!(key, b"pw");
        // One context lands in one shard: it keeps at most per_shard entries, oldest replaced.
        for i in 0..20 {
            idx.insert(3, v(&format!("question number {i} about billing")), format!("k{i}").into_bytes(), 100, 0);
        }
        let (n, _) = idx.usage();
        assert!(n <= 2 + 4, "{n}");
        assert!(idx.nearest(3, &v("question number 0 about billing"), 0.99, 1).is_none(), "evicted");
        assert!(idx.nearest(3, &v("question number 19 about billing"), 0.99, 1).is_some());
    }
}
