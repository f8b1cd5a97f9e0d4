//! BERT's uncased WordPiece tokenizer, as Hugging Face `tokenizers` runs it for
//! all-MiniLM-L6-v2: clean the text (drop control characters, whitespace to spaces), put spaces
//! around CJK ideographs, strip accents (NFD, drop combining marks), lowercase, split on
//! whitespace and punctuation, then greedy longest-match pieces (`##` marks a continuation);
//! a word longer than 100 characters, or one with no match, is `[UNK]`. Checked against the
//! reference tokenizer's ids on the strings in `models/embeddings/reference.jsonl`.

use std::collections::HashMap;

/// foldhash instead of std's SipHash: vocabulary lookups are most of tokenising, and
/// `parts/embed_tokenize_1kb` took 9.9 µs with SipHash (docs/benchmarks.md has the after).
type Vocab = HashMap<Box<str>, u32, foldhash::fast::FixedState>;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// Longest word (in characters) that is split into pieces; longer ones are `[UNK]`.
const MAX_WORD_CHARS: usize = 100;

/// A vocabulary and its special ids.
#[derive(Debug)]
pub struct WordPiece {
    vocab: Vocab,
    /// `[UNK]`'s id.
    pub unk: u32,
    /// Tokens matched literally in the raw text before normalising (`[PAD]`, `[UNK]`: the
    /// vocabulary's bracketed tokens, as the reference tokenizer's added tokens).
    specials: Vec<(Box<str>, u32)>,
    /// Longest vocabulary entry in bytes (`##` included): longer candidates are not looked up.
    longest: usize,
}

/// Reused buffers, so tokenising allocates nothing once warm.
#[derive(Debug, Default)]
pub struct TokenScratch {
    normalised: String,
    piece: String,
}

/// Why a vocabulary cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabError {
    /// No `[UNK]` line.
    #[error("the vocabulary has no [UNK] token")]
    NoUnk,
    /// Too many lines for u32 ids, or none.
    #[error("the vocabulary has {0} tokens")]
    Size(usize),
}

impl WordPiece {
    /// A vocabulary from `vocab.txt` (one token per line, the line number is its id).
    pub fn from_vocab(text: &str) -> Result<WordPiece, VocabError> {
        let vocab: Vocab =
            text.lines().enumerate().map(|(i, t)| (Box::from(t.trim_end_matches('\r')), i as u32)).collect();
        if vocab.is_empty() || vocab.len() > u32::MAX as usize {
            return Err(VocabError::Size(vocab.len()));
        }
        let unk = *vocab.get("[UNK]").ok_or(VocabError::NoUnk)?;
        let mut specials: Vec<(Box<str>, u32)> = vocab
            .iter()
            .filter(|(t, _)| {
                t.len() > 2
                    && t.starts_with('[')
                    && t.ends_with(']')
                    && t[1..t.len() - 1].bytes().all(|b| b.is_ascii_uppercase())
            })
            .map(|(t, &id)| (t.clone(), id))
            .collect();
        specials.sort();
        let longest = vocab.keys().map(|t| t.len()).max().unwrap_or(0);
        Ok(WordPiece { vocab, unk, specials, longest })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// Whether the vocabulary is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// Appends `text`'s token ids (no special tokens added) to `out`, stopping at `max` ids.
    pub fn tokenize(&self, text: &str, s: &mut TokenScratch, out: &mut Vec<u32>, max: usize) {
        let mut rest = text;
        while !rest.is_empty() && out.len() < max {
            let (before, special) = self.next_special(rest);
            self.segment(before, s, out, max);
            match special {
                Some((len, id)) => {
                    out.push(id);
                    rest = &rest[before.len() + len..];
                }
                None => break,
            }
        }
        out.truncate(max);
    }

    /// The text before the first special token in `text`, and that token's length and id.
    fn next_special<'t>(&self, text: &'t str) -> (&'t str, Option<(usize, u32)>) {
        let mut from = 0;
        while let Some(i) = text[from..].find('[') {
            let at = from + i;
            if let Some((t, id)) = self.specials.iter().find(|(t, _)| text[at..].starts_with(&**t)) {
                return (&text[..at], Some((t.len(), *id)));
            }
            from = at + 1;
        }
        (text, None)
    }

    /// One stretch of text without special tokens.
    fn segment(&self, text: &str, s: &mut TokenScratch, out: &mut Vec<u32>, max: usize) {
        if text.bytes().all(|b| b.is_ascii() && (b >= 32 || matches!(b, b'\t' | b'\n' | b'\r')) && b != 127) {
            return self.segment_plain_ascii(text, s, out, max);
        }
        normalise(text, &mut s.normalised);
        let norm = std::mem::take(&mut s.normalised);
        for word in norm.split(' ').filter(|w| !w.is_empty()) {
            if out.len() >= max {
                break;
            }
            self.word(word, &mut s.piece, out);
        }
        s.normalised = norm;
    }

    /// `segment` for ASCII without control characters, where normalising is only lowercasing:
    /// words are scanned in place instead of rebuilt char by char (7.1 → 4 µs per 1 KB).
    fn segment_plain_ascii(&self, text: &str, s: &mut TokenScratch, out: &mut Vec<u32>, max: usize) {
        let mut norm = std::mem::take(&mut s.normalised);
        norm.clear();
        norm.push_str(text);
        norm.make_ascii_lowercase();
        let b = norm.as_bytes();
        let mut i = 0;
        while i < b.len() && out.len() < max {
            if matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            if !b[i].is_ascii_punctuation() {
                while j < b.len() && !matches!(b[j], b' ' | b'\t' | b'\n' | b'\r') && !b[j].is_ascii_punctuation() {
                    j += 1;
                }
            }
            self.word(&norm[i..j], &mut s.piece, out);
            i = j;
        }
        s.normalised = norm;
    }

    /// One pre-tokenised word's pieces.
    fn word(&self, word: &str, piece: &mut String, out: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            out.push(self.unk);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        while start < word.len() {
            let prefix = if start > 0 { 2 } else { 0 };
            let mut end = word.len();
            // Candidates longer than every vocabulary entry cannot match: start below them.
            let cap = start + self.longest.saturating_sub(prefix);
            if end > cap {
                let mut e = cap;
                while e > start && !word.is_char_boundary(e) {
                    e -= 1;
                }
                if e > start {
                    end = e;
                }
            }
            let mut found = None;
            while end > start {
                let candidate = if start == 0 {
                    &word[..end]
                } else {
                    piece.clear();
                    piece.push_str("##");
                    piece.push_str(&word[start..end]);
                    piece.as_str()
                };
                if let Some(&id) = self.vocab.get(candidate) {
                    found = Some(id);
                    break;
                }
                end = prev_boundary(word, end, start);
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// The char boundary before `end` (never below `floor`).
fn prev_boundary(s: &str, end: usize, floor: usize) -> usize {
    let mut e = end - 1;
    while e > floor && !s.is_char_boundary(e) {
        e -= 1;
    }
    e
}

/// BERT normalisation and pre-tokenisation into `out`: words separated by single spaces, each
/// punctuation character and CJK ideograph its own word.
fn normalise(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        for b in text.bytes() {
            match b {
                b'\t' | b'\n' | b'\r' | b' ' => out.push(' '),
                0..=31 | 127 => {}
                b if b.is_ascii_punctuation() => {
                    out.push(' ');
                    out.push(b as char);
                    out.push(' ');
                }
                b => out.push(b.to_ascii_lowercase() as char),
            }
        }
        return;
    }
    for c in text.chars() {
        if c == '\0' || c == '\u{FFFD}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            out.push(' ');
        } else if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            for d in std::iter::once(c).nfd() {
                if d.general_category() == GeneralCategory::NonspacingMark {
                    continue;
                }
                for l in d.to_lowercase() {
                    if is_punctuation(l) {
                        out.push(' ');
                        out.push(l);
                        out.push(' ');
                    } else {
                        out.push(l);
                    }
                }
            }
        }
    }
}

fn is_whitespace(c: char) -> bool {
    c.is_whitespace()
}

fn is_control(c: char) -> bool {
    if matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Unassigned
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
    )
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.general_category_group() == GeneralCategoryGroup::Punctuation
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> WordPiece {
        let words = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\nworld\n!\nun\n##aff\n##able\ncafe\n我\n";
        WordPiece::from_vocab(words).unwrap()
    }

    fn ids(w: &WordPiece, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        w.tokenize(text, &mut TokenScratch::default(), &mut out, 512);
        out
    }

    #[test]
    fn splits_words_punctuation_and_pieces() {
        let w = vocab();
        assert_eq!(ids(&w, "Hello,  WORLD!"), vec![4, 5, 6, 7]);
        assert_eq!(ids(&w, "unaffable"), vec![8, 9, 10]);
        assert_eq!(ids(&w, "unaffablex"), vec![1], "no piece for the rest: the whole word is [UNK]");
        assert_eq!(ids(&w, "Café\t我"), vec![11, 12], "accents stripped, CJK split");
        assert_eq!(ids(&w, &"a".repeat(101)), vec![1]);
        assert_eq!(ids(&w, "hello hello hello"), vec![4, 4, 4]);
    }

    #[test]
    fn stops_at_the_cap() {
        let w = vocab();
        let mut out = Vec::new();
        w.tokenize("hello world hello world", &mut TokenScratch::default(), &mut out, 3);
        assert_eq!(out, vec![4, 6, 4]);
    }
}
