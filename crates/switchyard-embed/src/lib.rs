//! Sentence embeddings in microseconds, in process: a static token table distilled from a
//! sentence model (the model2vec method: each vocabulary token passed through the model once,
//! reduced with PCA and weighted), a WordPiece tokenizer with the model's own vocabulary, and
//! a sentence vector that is the normalised mean of its tokens' rows. No I/O: the caller hands
//! over the file's bytes. `models/embeddings/README.md` says where the table comes from.

pub mod wordpiece;

use wordpiece::{TokenScratch, WordPiece};

/// Magic of the table file (`models/embeddings/*.bin`).
const MAGIC: &[u8; 8] = b"SYEMB1\0\0";
/// Most tokens of a text that are embedded (the source model's window).
pub const MAX_TOKENS: usize = 512;

/// Why a table cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// Not a table file.
    #[error("not an embedding table (bad magic)")]
    Magic,
    /// Sizes that do not add up.
    #[error("the table says {vocab} tokens × {dims} dims but holds {bytes} bytes")]
    Size {
        /// Tokens the header names.
        vocab: usize,
        /// Dimensions the header names.
        dims: usize,
        /// Bytes after the header.
        bytes: usize,
    },
    /// The vocabulary file does not fit the table.
    #[error("vocab.txt has {vocab} tokens, the table {table}")]
    VocabMismatch {
        /// Lines of vocab.txt.
        vocab: usize,
        /// Rows of the table.
        table: usize,
    },
    /// The vocabulary is unusable.
    #[error(transparent)]
    Vocab(#[from] wordpiece::VocabError),
}

/// A loaded model: tokenizer and int8 rows with one scale each (a quarter of f32's memory; the
/// quantisation moves cosines by about 1e-3).
pub struct StaticModel {
    tokenizer: WordPiece,
    dims: usize,
    rows: Vec<i8>,
    scales: Vec<f32>,
}

impl std::fmt::Debug for StaticModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the rows: a route table's Debug would print megabytes.
        f.debug_struct("StaticModel").field("tokens", &self.tokenizer.len()).field("dims", &self.dims).finish()
    }
}

/// Per-worker buffers for [`StaticModel::embed`].
#[derive(Debug, Default)]
pub struct EmbedScratch {
    tokens: TokenScratch,
    ids: Vec<u32>,
    sum: Vec<f32>,
}

impl StaticModel {
    /// A model from the table file's bytes and its `vocab.txt`.
    pub fn load(table: &[u8], vocab: &str) -> Result<StaticModel, EmbedError> {
        if table.len() < 16 || &table[..8] != MAGIC {
            return Err(EmbedError::Magic);
        }
        let word = |i: usize| u32::from_le_bytes(table[i..i + 4].try_into().expect("4 bytes")) as usize;
        let (n, dims) = (word(8), word(12));
        let body = &table[16..];
        if n == 0 || dims == 0 || body.len() != n * dims * 2 {
            return Err(EmbedError::Size { vocab: n, dims, bytes: body.len() });
        }
        let tokenizer = WordPiece::from_vocab(vocab)?;
        if tokenizer.len() != n {
            return Err(EmbedError::VocabMismatch { vocab: tokenizer.len(), table: n });
        }
        let mut rows = Vec::with_capacity(n * dims);
        let mut scales = Vec::with_capacity(n);
        let mut row = vec![0f32; dims];
        for r in body.chunks_exact(dims * 2) {
            for (x, b) in row.iter_mut().zip(r.chunks_exact(2)) {
                *x = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
            }
            let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            scales.push(scale);
            rows.extend(row.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8));
        }
        Ok(StaticModel { tokenizer, dims, rows, scales })
    }

    /// Dimensions of a vector.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Bytes the model holds (rows, scales; the vocabulary's map is extra).
    pub fn table_bytes(&self) -> usize {
        self.rows.len() + self.scales.len() * 4
    }

    /// The token ids of `text` that are embedded: no special tokens, no `[UNK]` (as model2vec
    /// drops it), at most [`MAX_TOKENS`] before the drop.
    pub fn token_ids<'s>(&self, text: &str, s: &'s mut EmbedScratch) -> &'s [u32] {
        s.ids.clear();
        self.tokenizer.tokenize(text, &mut s.tokens, &mut s.ids, MAX_TOKENS);
        let unk = self.tokenizer.unk;
        s.ids.retain(|&id| id != unk);
        &s.ids
    }

    /// `text`'s unit vector into `out` (`dims` long); false when the text has no token but
    /// `[UNK]`s (no meaning to compare).
    pub fn embed(&self, text: &str, s: &mut EmbedScratch, out: &mut [f32]) -> bool {
        s.ids.clear();
        self.tokenizer.tokenize(text, &mut s.tokens, &mut s.ids, MAX_TOKENS);
        s.sum.clear();
        s.sum.resize(self.dims, 0.0);
        let n = self.accumulate(&s.ids, &mut s.sum);
        let norm = s.sum.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n == 0 || norm == 0.0 {
            return false;
        }
        for (o, x) in out.iter_mut().zip(&s.sum) {
            *o = x / norm;
        }
        true
    }

    /// Adds the rows of `ids` (but `[UNK]`) into `sum`; returns how many were added. With AVX2
    /// and FMA the same loop compiles to 8-wide conversions and multiply-adds: 1 KB of text
    /// went from 9 µs to under half that in `parts/embed_1kb` (docs/benchmarks.md).
    fn accumulate(&self, ids: &[u32], sum: &mut [f32]) -> usize {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function is compiled for (checked above).
            return unsafe { self.accumulate_avx2(ids, sum) };
        }
        self.accumulate_portable(ids, sum)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn accumulate_avx2(&self, ids: &[u32], sum: &mut [f32]) -> usize {
        self.accumulate_portable(ids, sum)
    }

    #[inline(always)]
    fn accumulate_portable(&self, ids: &[u32], sum: &mut [f32]) -> usize {
        let mut n = 0usize;
        for &id in ids.iter().filter(|&&id| id != self.tokenizer.unk) {
            let i = id as usize;
            let (scale, row) = (self.scales[i], &self.rows[i * self.dims..(i + 1) * self.dims]);
            for (acc, &q) in sum.iter_mut().zip(row) {
                *acc += scale * f32::from(q);
            }
            n += 1;
        }
        n
    }

    /// `text`'s unit vector, allocated (for config-time work: intent examples).
    pub fn embed_owned(&self, text: &str) -> Option<Vec<f32>> {
        let mut out = vec![0f32; self.dims];
        self.embed(text, &mut EmbedScratch::default(), &mut out).then_some(out)
    }
}

/// Cosine of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>().clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[[f32; 2]]) -> Vec<u8> {
        let mut t = MAGIC.to_vec();
        t.extend((rows.len() as u32).to_le_bytes());
        t.extend(2u32.to_le_bytes());
        for r in rows {
            for x in r {
                t.extend(half::f16::from_f32(*x).to_le_bytes());
            }
        }
        t
    }

    #[test]
    fn a_sentence_is_the_normalised_mean_of_its_known_tokens() {
        let vocab = "[PAD]\n[UNK]\ncat\ndog\n";
        let m = StaticModel::load(&table(&[[0.0, 0.0], [9.0, 9.0], [1.0, 0.0], [0.0, 1.0]]), vocab).unwrap();
        let v = m.embed_owned("cat dog zebra").unwrap();
        assert!(
            (v[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-2
                && (v[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-2,
            "{v:?}: [UNK] left out"
        );
        assert!(m.embed_owned("zebra").is_none(), "only unknown words");
        assert!((cosine(&m.embed_owned("cat").unwrap(), &[1.0, 0.0]) - 1.0).abs() < 1e-3);
    }

    #[test]
    fn bad_files_are_named() {
        assert_eq!(StaticModel::load(b"nope", "[UNK]\n").unwrap_err(), EmbedError::Magic);
        let t = table(&[[1.0, 0.0]]);
        assert!(matches!(StaticModel::load(&t[..t.len() - 1], "[UNK]\n"), Err(EmbedError::Size { .. })));
        assert!(matches!(StaticModel::load(&t, "[UNK]\nx\n"), Err(EmbedError::VocabMismatch { .. })));
    }
}
