//! Consensus: the part of each reply that is compared (an extractor) and the vote over them.

/// What a reply is reduced to before votes are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extractor {
    /// The whole text, trimmed, lower-cased, inner whitespace collapsed.
    Text,
    /// The last number in the text (commas dropped, `12.50` → `12.5`).
    LastNumber,
    /// A choice letter A–J: "answer: (b)", "B.", "the answer is C".
    Choice,
    /// A top-level field of a JSON object in the text.
    JsonField(String),
}

impl Extractor {
    /// Parses `text`, `last_number`, `choice` or `json:FIELD`.
    pub fn parse(s: &str) -> Result<Extractor, String> {
        match s {
            "text" => Ok(Extractor::Text),
            "last_number" => Ok(Extractor::LastNumber),
            "choice" => Ok(Extractor::Choice),
            _ => match s.strip_prefix("json:") {
                Some(f) if !f.is_empty() => Ok(Extractor::JsonField(f.to_string())),
                _ => Err(format!("`{s}`: expected text, last_number, choice or json:FIELD")),
            },
        }
    }

    /// The normalised answer in `text`, if there is one.
    pub fn extract(&self, text: &str) -> Option<String> {
        match self {
            Extractor::Text => {
                let t = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
                let t = t.trim_end_matches(['.', '!']).to_string();
                (!t.is_empty()).then_some(t)
            }
            Extractor::LastNumber => last_number(text),
            Extractor::Choice => choice(text),
            Extractor::JsonField(f) => {
                let start = text.find('{')?;
                let end = text.rfind('}')?;
                let mut bytes = text.get(start..=end)?.as_bytes().to_vec();
                let v = simd_json::to_owned_value(&mut bytes).ok()?;
                use simd_json::prelude::*;
                let field = v.get(f.as_str())?;
                Some(match field.as_str() {
                    Some(s) => s.trim().to_lowercase(),
                    None => simd_json::to_string(field).ok()?,
                })
            }
        }
    }
}

fn last_number(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut end = b.len();
    // Find the last digit, then walk back over the number.
    while end > 0 && !b[end - 1].is_ascii_digit() {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    let mut start = end;
    while start > 0 && (b[start - 1].is_ascii_digit() || b[start - 1] == b'.' || b[start - 1] == b',') {
        start -= 1;
    }
    let neg = start > 0 && b[start - 1] == b'-';
    let raw: String = text[start..end].chars().filter(|&c| c != ',').collect();
    let raw = raw.trim_start_matches('.');
    let n: f64 = raw.parse().ok()?;
    let n = if neg { -n } else { n };
    // 12.50 and 12.5 agree; integers print without a fraction.
    Some(if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") })
}

fn choice(text: &str) -> Option<String> {
    let upper = text.to_uppercase();
    // Prefer an explicit "answer is X" / "answer: X".
    for marker in ["ANSWER IS", "ANSWER:", "ANSWER"] {
        if let Some(i) = upper.rfind(marker) {
            let rest = &upper[i + marker.len()..];
            if let Some(c) = rest.chars().find(|c| !c.is_whitespace() && !"(:*[".contains(*c))
                && ('A'..='J').contains(&c)
            {
                return Some(c.to_string());
            }
        }
    }
    // Else the last standalone letter A–J: "(B)", "B." or "B" on its own.
    let chars: Vec<char> = upper.chars().collect();
    (0..chars.len()).rev().find_map(|i| {
        let c = chars[i];
        let before = i == 0 || !chars[i - 1].is_alphanumeric();
        let after = i + 1 == chars.len() || !chars[i + 1].is_alphanumeric();
        (('A'..='J').contains(&c) && before && after && (c != 'A' || i + 1 == chars.len() || chars[i + 1] != ' '))
            .then(|| c.to_string())
    })
}

/// The outcome of a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The winning normalised answer.
    pub answer: String,
    /// Indexes of the replies that gave it.
    pub agreeing: Vec<usize>,
    /// Whether the top count was shared and `tie_break` decided.
    pub tie: bool,
}

/// Majority over the extracted answers (`None`: failed or no answer). A tie goes to the answer
/// of reply `tie_break` when it is among the tied, else to the tied answer seen first.
pub fn vote(answers: &[Option<String>], tie_break: Option<usize>) -> Option<Verdict> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        let Some(a) = a else { continue };
        match groups.iter_mut().find(|(g, _)| g == a) {
            Some((_, v)) => v.push(i),
            None => groups.push((a.clone(), vec![i])),
        }
    }
    let top = groups.iter().map(|(_, v)| v.len()).max()?;
    let tied: Vec<&(String, Vec<usize>)> = groups.iter().filter(|(_, v)| v.len() == top).collect();
    let tie = tied.len() > 1;
    let chosen = tie_break
        .and_then(|t| tied.iter().find(|(_, v)| v.contains(&t)))
        .or_else(|| tied.first())
        .expect("at least one group");
    Some(Verdict { answer: chosen.0.clone(), agreeing: chosen.1.clone(), tie })
}

/// The prompt that asks a judge model to pick the best of `answers` (numbered from 1).
pub fn judge_prompt(question: &str, answers: &[&str]) -> String {
    let mut p = format!("Question:\n{question}\n\n");
    for (i, a) in answers.iter().enumerate() {
        p.push_str(&format!("Answer {}:\n{a}\n\n", i + 1));
    }
    p.push_str(&format!(
        "Which answer is the most correct and complete? Reply with its number only (1 to {}).",
        answers.len()
    ));
    p
}

/// The judge's pick: the first number in its reply within 1..=n, as a 0-based index.
pub fn judge_pick(reply: &str, n: usize) -> Option<usize> {
    reply
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .find_map(|w| w.parse::<usize>().ok().filter(|&k| (1..=n).contains(&k)))
        .map(|k| k - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extractors() {
        let n = Extractor::LastNumber;
        assert_eq!(n.extract("so 3 + 4 = 7, total 1,250.50 dollars").as_deref(), Some("1250.5"));
        assert_eq!(n.extract("the answer is -12.").as_deref(), Some("-12"));
        assert_eq!(n.extract("no digits"), None);
        let c = Extractor::Choice;
        assert_eq!(c.extract("I think the answer is (b) because...").as_deref(), Some("B"));
        assert_eq!(c.extract("Answer: C").as_deref(), Some("C"));
        assert_eq!(c.extract("Between A and D, D.").as_deref(), Some("D"));
        let t = Extractor::Text;
        assert_eq!(t.extract("  Paris.\n").as_deref(), Some("paris"));
        let j = Extractor::parse("json:answer").unwrap();
        assert_eq!(j.extract(r#"Here: {"answer": " Yes ", "why": 1}"#).as_deref(), Some("yes"));
        assert_eq!(j.extract(r#"{"answer": 42}"#).as_deref(), Some("42"));
        assert!(Extractor::parse("json:").is_err() && Extractor::parse("vibes").is_err());
    }

    #[test]
    fn judge_prompt_and_pick() {
        let p = judge_prompt("2+2?", &["4", "5"]);
        assert!(p.contains("Answer 1:\n4") && p.contains("Answer 2:\n5") && p.contains("1 to 2"));
        assert_eq!(judge_pick("Answer 2 is best", 2), Some(1));
        assert_eq!(judge_pick("7, then 1", 2), Some(0), "out-of-range numbers are skipped");
        assert_eq!(judge_pick("none", 2), None);
    }

    #[test]
    fn majority_tie_break_and_failures() {
        let s = |x: &str| Some(x.to_string());
        let v = vote(&[s("7"), None, s("7"), s("8")], None).unwrap();
        assert_eq!((v.answer.as_str(), v.agreeing.clone(), v.tie), ("7", vec![0, 2], false));
        let v = vote(&[s("7"), s("8")], Some(1)).unwrap();
        assert_eq!((v.answer.as_str(), v.tie), ("8", true));
        let v = vote(&[s("7"), s("8")], None).unwrap();
        assert_eq!(v.answer, "7", "first seen wins an undecided tie");
        assert!(vote(&[None, None], Some(0)).is_none());
    }
}
