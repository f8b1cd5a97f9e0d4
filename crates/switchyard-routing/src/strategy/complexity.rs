//! Complexity score in [0, 1]: a logistic model over cheap text features, with weights from
//! the config. One pass over the words of the last user turn.

use super::Signals;
use switchyard_config::ComplexityConfig;
use switchyard_wire::view::RequestView;

/// The last (up to) eight bytes of a word packed into an integer: a word is then matched
/// against the marker lists by one integer `match` instead of string comparisons.
const fn key(w: &[u8]) -> u64 {
    let mut k = 0u64;
    let mut i = if w.len() > 8 { w.len() - 8 } else { 0 };
    while i < w.len() {
        k = (k << 8) | w[i] as u64;
        i += 1;
    }
    k
}

/// What a word is for the complexity features.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    Plain,
    Reasoning,
    Joiner,
    Step,
    By,
}

/// Marker words and what they are.
const WORDS: [(&[u8], Word); 28] = [
    (b"why", Word::Reasoning),
    (b"explain", Word::Reasoning),
    (b"compare", Word::Reasoning),
    (b"contrast", Word::Reasoning),
    (b"prove", Word::Reasoning),
    (b"derive", Word::Reasoning),
    (b"analyze", Word::Reasoning),
    (b"analyse", Word::Reasoning),
    (b"evaluate", Word::Reasoning),
    (b"design", Word::Reasoning),
    (b"optimize", Word::Reasoning),
    (b"tradeoffs", Word::Reasoning),
    (b"implications", Word::Reasoning),
    (b"justify", Word::Reasoning),
    (b"critique", Word::Reasoning),
    (b"architecture", Word::Reasoning),
    (b"algorithm", Word::Reasoning),
    (b"debug", Word::Reasoning),
    (b"and", Word::Joiner),
    (b"but", Word::Joiner),
    (b"because", Word::Joiner),
    (b"although", Word::Joiner),
    (b"which", Word::Joiner),
    (b"whereas", Word::Joiner),
    (b"unless", Word::Joiner),
    (b"if", Word::Joiner),
    (b"step", Word::Step),
    (b"by", Word::By),
];

/// Slot of a (key, length) pair in the 64-slot table: one multiply per word.
const fn slot(k: u64, len: usize) -> usize {
    ((k ^ ((len as u64) << 59)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
}

/// Open-addressing table of `WORDS`, built at compile time: (key, length, kind).
const TABLE: [(u64, u8, Word); 64] = {
    let mut t = [(0u64, 0u8, Word::Plain); 64];
    let mut i = 0;
    while i < WORDS.len() {
        let (w, kind) = WORDS[i];
        let k = key(w);
        let mut j = slot(k, w.len());
        while t[j].1 != 0 {
            j = (j + 1) % 64;
        }
        t[j] = (k, w.len() as u8, kind);
        i += 1;
    }
    t
};

fn classify(len: usize, k: u64) -> Word {
    let mut j = slot(k, len);
    loop {
        let (tk, tl, kind) = TABLE[j];
        if tl == 0 {
            return Word::Plain;
        }
        if tl as usize == len && tk == k {
            return kind;
        }
        j = (j + 1) % 64;
    }
}

/// Word-level features look at the head and tail of long prompts only: intent is phrased
/// there, and pasted material in the middle is already counted by the length feature.
const HEAD: usize = 512;
const TAIL: usize = 256;

/// 1 for ASCII letters and digits, 2 more for digits and maths symbols (0 otherwise).
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphabetic() {
            1
        } else if b.is_ascii_digit() {
            3
        } else if matches!(b, b'=' | b'+' | b'*' | b'/' | b'^') {
            2
        } else {
            0
        };
        i += 1;
    }
    t
};

/// Feature values, each roughly in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// log length in tokens, 1.0 at ~2,000 tokens.
    pub length: f32,
    /// 1 when code is present.
    pub code: f32,
    /// Reasoning markers, saturating at 3.
    pub reasoning: f32,
    /// Question marks, saturating at 3.
    pub questions: f32,
    /// Clause joiners per sentence-ish unit.
    pub clauses: f32,
    /// Share of long (9+ letters) words, scaled.
    pub rarity: f32,
    /// Digit and maths-symbol density, scaled.
    pub math: f32,
    /// Conversation depth, saturating at 10 turns.
    pub turns: f32,
}

/// Word-level counts over one slice of text.
#[derive(Default)]
struct Counts {
    words: u32,
    long: u32,
    markers: u32,
    joins: u32,
    symbols: u32,
    bytes: u32,
}

fn count_words(text: &[u8], c: &mut Counts) {
    let (mut k, mut len, mut prev_step) = (0u64, 0usize, false);
    let end_word = |k: u64, len: usize, c: &mut Counts, prev_step: &mut bool| {
        c.words += 1;
        c.long += u32::from(len >= 9);
        let w = if len <= 12 { classify(len, k) } else { Word::Plain };
        c.markers += u32::from(w == Word::Reasoning || (w == Word::By && *prev_step));
        c.joins += u32::from(w == Word::Joiner);
        *prev_step = w == Word::Step;
    };
    for &b in text {
        let class = CLASS[b as usize];
        c.symbols += u32::from(class >> 1);
        if class & 1 != 0 {
            k = (k << 8) | u64::from(b);
            len += 1;
        } else if len > 0 {
            end_word(k, len, c, &mut prev_step);
            (k, len) = (0, 0);
        }
    }
    if len > 0 {
        end_word(k, len, c, &mut prev_step);
    }
    c.bytes += text.len() as u32;
}

/// Computes the features of a request from the lowercased last user turn.
pub fn features(v: &RequestView, s: &Signals) -> Features {
    let text = s.lower.as_bytes();
    let mut c = Counts::default();
    if text.len() <= HEAD + TAIL {
        count_words(text, &mut c);
    } else {
        count_words(&text[..HEAD], &mut c);
        count_words(&text[text.len() - TAIL..], &mut c);
    }
    // Punctuation over the whole text: memchr is SIMD and nearly free.
    let questions = memchr::memchr_iter(b'?', text).count() as u32;
    let stops = memchr::memchr_iter(b'.', text).count() as u32;
    let commas = memchr::memchr2_iter(b',', b';', text).count() as u32;
    let tokens = v.estimated_tokens() as f32;
    let sentences = (questions + stops).max(1) as f32;
    let sampled = c.bytes.max(1) as f32 / text.len().max(1) as f32;
    Features {
        length: (1.0 + tokens).ln() / (2001f32).ln(),
        code: f32::from(u8::from(s.has_code)),
        reasoning: (c.markers as f32 / 3.0).min(1.0),
        questions: (questions as f32 / 3.0).min(1.0),
        clauses: ((c.joins as f32 / sampled + commas as f32) / sentences / 4.0).min(1.0),
        rarity: (c.long as f32 / c.words.max(1) as f32 * 4.0).min(1.0),
        math: (c.symbols as f32 / c.bytes.max(1) as f32 * 10.0).min(1.0),
        turns: ((v.messages.saturating_sub(1)) as f32 / 10.0).min(1.0),
    }
}

/// The score: `sigmoid(bias + Σ weight·feature)`.
pub fn score(c: &ComplexityConfig, f: &Features) -> f32 {
    let z = c.bias
        + c.length * f.length
        + c.code * f.code
        + c.reasoning * f.reasoning
        + c.questions * f.questions
        + c.clauses * f.clauses
        + c.rarity * f.rarity
        + c.math * f.math
        + c.turns * f.turns;
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(prompt: &str) -> (Features, f32) {
        let v = RequestView::from_prompt("r", prompt);
        let mut s = Signals::default();
        s.fill(prompt);
        let f = features(&v, &s);
        (f, score(&ComplexityConfig::default(), &f))
    }

    #[test]
    fn features_see_what_they_claim() {
        let (f, _) = sc("Explain why, step by step, and compare both?");
        assert!(f.reasoning >= 1.0, "{f:?}");
        assert!((f.questions - 1.0 / 3.0).abs() < 1e-6);
        let (f, _) = sc("```\nfn x() {}\n```");
        assert_eq!(f.code, 1.0);
        let (f, _) = sc("hi");
        assert_eq!((f.code, f.reasoning, f.questions), (0.0, 0.0, 0.0));
        let (f, _) = sc("Solve 3x^2 + 2x = 17/4");
        assert!(f.math > 0.5, "{f:?}");
    }

    #[test]
    fn harder_prompts_score_higher() {
        let (_, easy) = sc("hi, how are you?");
        let (_, mid) = sc("Summarize the main causes of the French Revolution in three paragraphs.");
        let (_, hard) = sc(&format!(
            "Explain why the following algorithm is O(n log n), compare it with quicksort, and derive its \
             recurrence step by step, considering the implications for cache behaviour:\n```\nfn merge_sort(v: &mut [i32]) {{ }}\n```\n{}",
            "Also analyze the worst case and justify each assumption. ".repeat(8)
        ));
        assert!(easy < mid && mid < hard, "{easy} {mid} {hard}");
        assert!(easy < 0.2 && hard > 0.8, "{easy} {hard}");
    }

    #[test]
    fn long_prompts_sample_head_and_tail() {
        let middle = "lorem ipsum dolor sit amet ".repeat(100);
        let (f, _) = sc(&format!("Explain why this fails.\n{middle}\nCompare both and justify."));
        assert_eq!(f.reasoning, 1.0, "markers at both ends are seen");
        let (f, _) = sc(&format!("{middle} why explain compare {middle}"));
        assert_eq!(f.reasoning, 0.0, "the middle of a long paste is not scanned");
    }

    #[test]
    fn markers_are_whole_words() {
        let (f, _) = sc("a different understanding");
        assert_eq!(f.reasoning, 0.0);
        assert_eq!(f.clauses, 0.0);
        let (f, _) = sc("why? explain, and compare.");
        assert_eq!(f.reasoning, 1.0);
    }

    #[test]
    fn weights_change_the_score() {
        let v = RequestView::from_prompt("r", "compare these");
        let mut s = Signals::default();
        s.fill(&v.last_user);
        let f = features(&v, &s);
        let base = score(&ComplexityConfig::default(), &f);
        let heavier = score(&ComplexityConfig { reasoning: 10.0, ..Default::default() }, &f);
        assert!(heavier > base);
    }
}
