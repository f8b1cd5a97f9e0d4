//! Token usage as each dialect reports it, normalised the OpenAI way (prompt includes cached
//! tokens, completion includes reasoning tokens), and its cost.

use serde_json::{Value, json};

/// Tokens of one exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub prompt: u64,
    /// All completion tokens, reasoning ones included.
    pub completion: u64,
    /// Prompt tokens read from a cache.
    pub cache_read: u64,
    /// Prompt tokens written to a cache.
    pub cache_write: u64,
    /// Completion tokens spent reasoning.
    pub reasoning: u64,
}

fn n(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

impl Usage {
    /// From OpenAI's counts: `prompt_tokens`, `completion_tokens` and the details'
    /// `cached_tokens` and `reasoning_tokens`.
    pub fn openai(prompt: u64, completion: u64, cached: u64, reasoning: u64) -> Usage {
        Usage { prompt, completion, cache_read: cached, cache_write: 0, reasoning }
    }

    /// From Anthropic's counts (`input_tokens` excludes cache reads and writes). Saturating:
    /// the counts come from upstreams, and a wrapped sum would charge a key almost nothing.
    pub fn anthropic(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Usage {
        Usage {
            prompt: input.saturating_add(cache_read).saturating_add(cache_write),
            completion: output,
            cache_read,
            cache_write,
            reasoning: 0,
        }
    }

    /// From an OpenAI `usage` object.
    pub fn from_openai(u: &Value) -> Usage {
        Usage::openai(
            n(u, "prompt_tokens"),
            n(u, "completion_tokens"),
            u.get("prompt_tokens_details").map_or(0, |d| n(d, "cached_tokens")),
            u.get("completion_tokens_details").map_or(0, |d| n(d, "reasoning_tokens")),
        )
    }

    /// From an Anthropic `usage` object.
    pub fn from_anthropic(u: &Value) -> Usage {
        Usage::anthropic(
            n(u, "input_tokens"),
            n(u, "output_tokens"),
            n(u, "cache_read_input_tokens"),
            n(u, "cache_creation_input_tokens"),
        )
    }

    /// From Gemini `usageMetadata` (thoughts are not in `candidatesTokenCount` on 2.5 models).
    pub fn from_gemini(u: &Value) -> Usage {
        let thoughts = n(u, "thoughtsTokenCount");
        Usage {
            prompt: n(u, "promptTokenCount"),
            completion: n(u, "candidatesTokenCount").saturating_add(thoughts),
            cache_read: n(u, "cachedContentTokenCount"),
            cache_write: 0,
            reasoning: thoughts,
        }
    }

    /// Total tokens.
    pub fn total(&self) -> u64 {
        self.prompt.saturating_add(self.completion)
    }

    /// Prompt tokens neither read from nor written to a cache (Anthropic's `input_tokens`).
    pub fn uncached_prompt(&self) -> u64 {
        self.prompt.saturating_sub(self.cache_read.saturating_add(self.cache_write))
    }

    /// Adds another exchange's usage (saturating, as [`Usage::anthropic`]).
    pub fn add(&mut self, other: &Usage) {
        self.prompt = self.prompt.saturating_add(other.prompt);
        self.completion = self.completion.saturating_add(other.completion);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
    }

    /// As an OpenAI `usage` object.
    pub fn to_openai(&self) -> Value {
        let mut v = json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.total(),
        });
        if self.cache_read > 0 {
            v["prompt_tokens_details"] = json!({ "cached_tokens": self.cache_read });
        }
        if self.reasoning > 0 {
            v["completion_tokens_details"] = json!({ "reasoning_tokens": self.reasoning });
        }
        v
    }

    /// As an Anthropic `usage` object.
    pub fn to_anthropic(&self) -> Value {
        json!({
            "input_tokens": self.uncached_prompt(),
            "output_tokens": self.completion,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
        })
    }

    /// Cost in USD at the given prices (USD per million tokens).
    pub fn cost(&self, input_price: f64, output_price: f64) -> f64 {
        (self.prompt as f64 * input_price + self.completion as f64 * output_price) / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_upstreams_saturate_instead_of_wrapping() {
        // A wrapped total would charge a key almost nothing for an absurd answer.
        let u = Usage { prompt: u64::MAX, completion: 2, ..Usage::default() };
        assert_eq!(u.total(), u64::MAX);
        let a = Usage::from_anthropic(&serde_json::json!({"input_tokens": u64::MAX, "cache_read_input_tokens": 5}));
        assert_eq!(a.prompt, u64::MAX);
    }

    #[test]
    fn normalises_each_dialect() {
        // protocols.md §1.3, §2.3, §3.3
        let o = Usage::from_openai(&json!({"prompt_tokens":19,"completion_tokens":1,"total_tokens":20,
            "prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}));
        assert_eq!((o.prompt, o.completion, o.total()), (19, 1, 20));
        let a = Usage::from_anthropic(&json!({"input_tokens":412,"output_tokens":57,
            "cache_creation_input_tokens":10,"cache_read_input_tokens":100}));
        assert_eq!((a.prompt, a.completion, a.cache_read, a.cache_write), (522, 57, 100, 10));
        assert_eq!(a.to_anthropic()["input_tokens"], 412, "round trip");
        let g = Usage::from_gemini(&json!({"promptTokenCount":12,"candidatesTokenCount":1,"totalTokenCount":13,
            "thoughtsTokenCount":4,"cachedContentTokenCount":0}));
        assert_eq!((g.prompt, g.completion, g.reasoning), (12, 5, 4));
        assert_eq!(g.to_openai()["completion_tokens_details"]["reasoning_tokens"], 4);
    }

    #[test]
    fn cost_from_prices() {
        let u = Usage { prompt: 1_000_000, completion: 500_000, ..Default::default() };
        // gpt-4o-mini: 0.15 in, 0.60 out per 1M
        assert!((u.cost(0.15, 0.60) - 0.45).abs() < 1e-12);
        let u = Usage { prompt: 412, completion: 57, ..Default::default() };
        assert!((u.cost(1.0, 5.0) - (412.0 + 285.0) / 1e6).abs() < 1e-15);
    }
}
