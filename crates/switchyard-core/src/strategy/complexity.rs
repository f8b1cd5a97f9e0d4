//! Complexity score in [0, 1]: a logistic model over cheap text features, with weights from
//! the config. One pass over the words of the last user turn.

use super::Signals;
use crate::config::ComplexityConfig;
use crate::view::RequestView;

/// Words that signal reasoning work.
const REASONING: [&[u8]; 18] = [
    b"why",
    b"explain",
    b"compare",
    b"contrast",
    b"prove",
    b"derive",
    b"analyze",
    b"analyse",
    b"evaluate",
    b"design",
    b"optimize",
    b"tradeoffs",
    b"implications",
    b"justify",
    b"critique",
    b"architecture",
    b"algorithm",
    b"debug",
];
/// Words that join clauses.
const CLAUSE: [&[u8]; 8] = [b"and", b"but", b"because", b"although", b"which", b"whereas", b"unless", b"if"];

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

/// Computes the features of a request.
pub fn features(v: &RequestView, s: &Signals) -> Features {
    let text = s.lower.as_bytes();
    let (mut words, mut long, mut markers, mut joins, mut prev_step) = (0u32, 0u32, 0u32, 0u32, false);
    for w in text.split(|b| !b.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        words += 1;
        if w.len() >= 9 {
            long += 1;
        }
        if REASONING.contains(&w) || (prev_step && w == b"by") {
            markers += 1;
        }
        if CLAUSE.contains(&w) {
            joins += 1;
        }
        prev_step = w == b"step";
    }
    let (mut questions, mut symbols, mut commas) = (0u32, 0u32, 0u32);
    for &b in text {
        match b {
            b'?' => questions += 1,
            b'0'..=b'9' | b'=' | b'+' | b'*' | b'/' | b'^' => symbols += 1,
            b',' | b';' => commas += 1,
            _ => {}
        }
    }
    let tokens = v.estimated_tokens() as f32;
    let sentences = (questions + text.iter().filter(|&&b| b == b'.').count() as u32).max(1);
    Features {
        length: (1.0 + tokens).ln() / (2001f32).ln(),
        code: f32::from(u8::from(s.has_code)),
        reasoning: (markers as f32 / 3.0).min(1.0),
        questions: (questions as f32 / 3.0).min(1.0),
        clauses: ((joins + commas) as f32 / sentences as f32 / 4.0).min(1.0),
        rarity: (long as f32 / words.max(1) as f32 * 4.0).min(1.0),
        math: (symbols as f32 / text.len().max(1) as f32 * 10.0).min(1.0),
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
