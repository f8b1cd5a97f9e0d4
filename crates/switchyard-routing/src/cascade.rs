//! Cascade checks: whether a cheap tier's answer is good enough to send, or the request must
//! climb to the next tier.

use crate::ids::TargetId;
use std::collections::HashMap;

use crate::consensus::Extractor;
use switchyard_config::CascadeConfig;

/// A compiled cascade: the checks every answer but the last tier's must pass.
#[derive(Debug, Clone)]
pub struct Cascade {
    min_length: Option<usize>,
    regex: Option<regex::Regex>,
    json_fields: Option<Vec<String>>,
    fail_finish: Vec<String>,
    refusals: Vec<String>,
    /// Lowest mean token log-probability; the gateway asks OpenAI upstreams for logprobs.
    pub min_avg_logprob: Option<f64>,
    /// Judge target and prompt template.
    pub judge: Option<(TargetId, String)>,
}

/// Why an answer escalates.
#[derive(Debug, Clone, PartialEq)]
pub enum Escalation {
    /// Shorter than `min_length`.
    TooShort,
    /// `regex` did not match.
    NoMatch,
    /// Not JSON, or a required field is missing.
    NotJson,
    /// A failing finish reason (e.g. `length`).
    Finish(String),
    /// A refusal phrase.
    Refusal,
    /// Mean log-probability under the floor.
    LowConfidence,
    /// The judge said no (or gave no verdict).
    Judge,
    /// The tier failed to answer at all.
    Failed,
}

impl Escalation {
    /// Label for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Escalation::TooShort => "min_length",
            Escalation::NoMatch => "regex",
            Escalation::NotJson => "json",
            Escalation::Finish(_) => "finish_reason",
            Escalation::Refusal => "refusal",
            Escalation::LowConfidence => "logprob",
            Escalation::Judge => "judge",
            Escalation::Failed => "failed",
        }
    }
}

impl Cascade {
    /// Compiles a validated config; `models` maps model names to target indexes.
    pub fn compile(c: &CascadeConfig, models: &HashMap<String, TargetId>) -> Cascade {
        Cascade {
            min_length: c.min_length,
            regex: c.regex.as_deref().and_then(|r| regex::Regex::new(r).ok()),
            json_fields: c.json_fields.clone(),
            fail_finish: c.fail_finish.clone().unwrap_or_else(|| vec!["length".into(), "content_filter".into()]),
            refusals: c.refusal_phrases.iter().map(|p| p.to_lowercase()).collect(),
            min_avg_logprob: c.min_avg_logprob,
            judge: c.judge.as_ref().map(|j| (models[&j.model], j.prompt.clone())),
        }
    }

    /// The checks that need no model: text, finish reason (OpenAI spelling), confidence.
    pub fn check(&self, text: &str, finish: &str, avg_logprob: Option<f64>) -> Result<(), Escalation> {
        if self.fail_finish.iter().any(|f| f == finish) {
            return Err(Escalation::Finish(finish.to_string()));
        }
        if self.min_length.is_some_and(|n| text.chars().count() < n) {
            return Err(Escalation::TooShort);
        }
        if let Some(r) = &self.regex
            && !r.is_match(text)
        {
            return Err(Escalation::NoMatch);
        }
        if let Some(fields) = &self.json_fields {
            let ok = match fields.as_slice() {
                [] => {
                    let mut b = text.trim().as_bytes().to_vec();
                    simd_json::to_owned_value(&mut b).is_ok()
                }
                fs => fs.iter().all(|f| Extractor::JsonField(f.clone()).extract(text).is_some()),
            };
            if !ok {
                return Err(Escalation::NotJson);
            }
        }
        if !self.refusals.is_empty() {
            let lower = text.to_lowercase();
            if self.refusals.iter().any(|p| lower.contains(p.as_str())) {
                return Err(Escalation::Refusal);
            }
        }
        if let (Some(floor), Some(lp)) = (self.min_avg_logprob, avg_logprob)
            && lp < floor
        {
            return Err(Escalation::LowConfidence);
        }
        Ok(())
    }
}

/// The judge's prompt for one answer.
pub fn judge_prompt(template: &str, question: &str, answer: &str) -> String {
    template.replace("{question}", question).replace("{answer}", answer)
}

/// Reads a yes/no verdict from the judge's reply (first word that is one of them).
pub fn judge_verdict(reply: &str) -> Option<bool> {
    reply.split(|c: char| !c.is_alphanumeric()).find_map(|w| match w.to_lowercase().as_str() {
        "yes" | "pass" | "true" => Some(true),
        "no" | "fail" | "false" => Some(false),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cascade(c: CascadeConfig) -> Cascade {
        Cascade::compile(&c, &HashMap::from([("judge".to_string(), TargetId(3))]))
    }

    #[test]
    fn each_check_passes_and_fails() {
        let c = cascade(CascadeConfig { min_length: Some(5), ..Default::default() });
        assert_eq!(c.check("tiny", "stop", None), Err(Escalation::TooShort));
        assert!(c.check("long enough", "stop", None).is_ok());
        assert_eq!(c.check("long enough", "length", None), Err(Escalation::Finish("length".into())));
        let c = cascade(CascadeConfig { regex: Some(r"^\d+$".into()), ..Default::default() });
        assert!(c.check("42", "stop", None).is_ok());
        assert_eq!(c.check("forty-two", "stop", None), Err(Escalation::NoMatch));
        let c = cascade(CascadeConfig { json_fields: Some(vec!["answer".into()]), ..Default::default() });
        assert!(c.check(r#"{"answer": 1}"#, "stop", None).is_ok());
        assert_eq!(c.check(r#"{"other": 1}"#, "stop", None), Err(Escalation::NotJson));
        let c = cascade(CascadeConfig { json_fields: Some(vec![]), ..Default::default() });
        assert!(c.check("[1, 2]", "stop", None).is_ok());
        assert_eq!(c.check("not json", "stop", None), Err(Escalation::NotJson));
        let c = cascade(CascadeConfig { refusal_phrases: vec!["I can't help".into()], ..Default::default() });
        assert_eq!(c.check("Sorry, i can't help with that", "stop", None), Err(Escalation::Refusal));
        let c = cascade(CascadeConfig { min_avg_logprob: Some(-0.5), ..Default::default() });
        assert_eq!(c.check("x", "stop", Some(-1.2)), Err(Escalation::LowConfidence));
        assert!(c.check("x", "stop", Some(-0.1)).is_ok());
        assert!(c.check("x", "stop", None).is_ok(), "no logprobs from the provider: the check cannot fail");
    }

    #[test]
    fn judge_prompts_and_verdicts() {
        assert_eq!(judge_prompt("Q: {question} A: {answer}", "2+2?", "4"), "Q: 2+2? A: 4");
        assert_eq!(judge_verdict("Yes."), Some(true));
        assert_eq!(judge_verdict("**No** - it is wrong"), Some(false));
        assert_eq!(judge_verdict("maybe"), None);
    }
}
