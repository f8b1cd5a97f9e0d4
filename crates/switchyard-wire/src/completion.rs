//! Non-streaming answers: parsed from any dialect into a [`Completion`], rendered into any.

use serde_json::{Value, json};

use crate::usage::Usage;
use crate::{TranslateError, invalid, now_secs};

/// Why generation stopped, in OpenAI's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    Stop,
    /// The token limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Filtered or refused.
    ContentFilter,
}

impl FinishReason {
    /// OpenAI `finish_reason`.
    pub fn openai(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
        }
    }

    /// Anthropic `stop_reason`.
    pub fn anthropic(self) -> &'static str {
        match self {
            FinishReason::Stop => "end_turn",
            FinishReason::Length => "max_tokens",
            FinishReason::ToolCalls => "tool_use",
            FinishReason::ContentFilter => "refusal",
        }
    }

    /// From OpenAI `finish_reason` (unknown → stop).
    pub fn from_openai(s: &str) -> FinishReason {
        match s {
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            _ => FinishReason::Stop,
        }
    }

    /// From Anthropic `stop_reason` (protocols.md §4.3).
    pub fn from_anthropic(s: &str) -> FinishReason {
        match s {
            "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
            "tool_use" => FinishReason::ToolCalls,
            "refusal" => FinishReason::ContentFilter,
            _ => FinishReason::Stop,
        }
    }

    /// From Gemini `finishReason` (§4.3; `RECITATION`/`OTHER` as LiteLLM: content filter).
    pub fn from_gemini(s: &str) -> FinishReason {
        match s {
            "MAX_TOKENS" => FinishReason::Length,
            "SAFETY" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "LANGUAGE" | "IMAGE_SAFETY" | "RECITATION"
            | "OTHER" => FinishReason::ContentFilter,
            _ => FinishReason::Stop,
        }
    }
}

/// A tool call: `arguments` is the JSON text of the arguments object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// Call id (synthesised for Gemini, which has none).
    pub id: String,
    /// Function name.
    pub name: String,
    /// Arguments as JSON text.
    pub arguments: String,
}

/// What a consensus vote compares for an answer that calls tools: each call's name and its
/// arguments normalised (parsed and written back with sorted keys and no spaces), in order.
/// None for an answer without tool calls.
pub fn tool_signature(calls: &[ToolCall]) -> Option<String> {
    if calls.is_empty() {
        return None;
    }
    let one = |c: &ToolCall| {
        let args = serde_json::from_str::<Value>(&c.arguments)
            .map_or_else(|_| c.arguments.trim().to_string(), |v| v.to_string());
        format!("{}({args})", c.name)
    };
    Some(calls.iter().map(one).collect::<Vec<_>>().join(";"))
}

/// A whole answer in dialect-neutral form.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Response id.
    pub id: String,
    /// Model that answered.
    pub model: String,
    /// Text content.
    pub text: String,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Tokens.
    pub usage: Usage,
}

/// Parses arguments text into an object (`{}` when it is not valid JSON, as Helicone does).
pub fn args_object(arguments: &str) -> Value {
    serde_json::from_str::<Value>(arguments).ok().filter(Value::is_object).unwrap_or_else(|| json!({}))
}

/// A synthetic call id for dialects without one.
pub fn synth_call_id(response_id: &str, i: usize) -> String {
    let h = response_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("call_{h:016x}{i:02}")
}

impl Completion {
    /// An answer of `dialect` (`model` names it when a Gemini answer does not).
    pub fn parse(dialect: crate::Dialect, v: &Value, model: &str) -> Result<Completion, TranslateError> {
        match dialect {
            crate::Dialect::OpenAi => Completion::from_openai(v),
            crate::Dialect::Anthropic => Completion::from_anthropic(v),
            crate::Dialect::Gemini => Completion::from_gemini(v, model),
            crate::Dialect::Responses => Completion::from_responses(v),
        }
    }

    /// From an OpenAI `chat.completion`.
    pub fn from_openai(v: &Value) -> Result<Completion, TranslateError> {
        let choice = v.pointer("/choices/0").ok_or_else(|| invalid("response has no choices"))?;
        let msg = &choice["message"];
        let tool_calls = msg["tool_calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| ToolCall {
                        id: c["id"].as_str().unwrap_or_default().to_string(),
                        name: c["function"]["name"].as_str().unwrap_or_default().to_string(),
                        arguments: c["function"]["arguments"].as_str().unwrap_or("{}").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Completion {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            model: v["model"].as_str().unwrap_or_default().to_string(),
            text: msg["content"].as_str().unwrap_or_default().to_string(),
            tool_calls,
            finish: FinishReason::from_openai(choice["finish_reason"].as_str().unwrap_or("stop")),
            usage: Usage::from_openai(&v["usage"]),
        })
    }

    /// From an Anthropic `message`.
    pub fn from_anthropic(v: &Value) -> Result<Completion, TranslateError> {
        let blocks = v["content"].as_array().ok_or_else(|| invalid("response has no content"))?;
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for b in blocks {
            match b["type"].as_str() {
                Some("text") => text.push_str(b["text"].as_str().unwrap_or_default()),
                Some("tool_use") => tool_calls.push(ToolCall {
                    id: b["id"].as_str().unwrap_or_default().to_string(),
                    name: b["name"].as_str().unwrap_or_default().to_string(),
                    arguments: b["input"].to_string(),
                }),
                _ => {}
            }
        }
        Ok(Completion {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            model: v["model"].as_str().unwrap_or_default().to_string(),
            text,
            tool_calls,
            finish: FinishReason::from_anthropic(v["stop_reason"].as_str().unwrap_or("end_turn")),
            usage: Usage::from_anthropic(&v["usage"]),
        })
    }

    /// From a Gemini `GenerateContentResponse`; `model` is the one asked for.
    pub fn from_gemini(v: &Value, model: &str) -> Result<Completion, TranslateError> {
        let id = v["responseId"].as_str().unwrap_or("gemini").to_string();
        let Some(cand) = v.pointer("/candidates/0") else {
            // A blocked prompt has no candidates, only promptFeedback.blockReason.
            if v.pointer("/promptFeedback/blockReason").is_some() {
                return Ok(Completion {
                    id,
                    model: model.to_string(),
                    text: String::new(),
                    tool_calls: Vec::new(),
                    finish: FinishReason::ContentFilter,
                    usage: Usage::from_gemini(&v["usageMetadata"]),
                });
            }
            return Err(invalid("response has no candidates"));
        };
        let (text, tool_calls) = gemini_parts(cand, &id, 0);
        let mut finish = FinishReason::from_gemini(cand["finishReason"].as_str().unwrap_or("STOP"));
        if !tool_calls.is_empty() {
            finish = FinishReason::ToolCalls;
        }
        Ok(Completion {
            model: v["modelVersion"].as_str().unwrap_or(model).to_string(),
            id,
            text,
            tool_calls,
            finish,
            usage: Usage::from_gemini(&v["usageMetadata"]),
        })
    }

    /// As an OpenAI `chat.completion`.
    pub fn to_openai(&self) -> Value {
        let mut msg = json!({"role": "assistant", "content": self.text, "refusal": null});
        if !self.tool_calls.is_empty() {
            if self.text.is_empty() {
                msg["content"] = Value::Null;
            }
            msg["tool_calls"] = self
                .tool_calls
                .iter()
                .map(
                    |c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}),
                )
                .collect();
        }
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": now_secs(),
            "model": self.model,
            "choices": [{"index": 0, "message": msg, "logprobs": null, "finish_reason": self.finish.openai()}],
            "usage": self.usage.to_openai(),
        })
    }

    /// As an Anthropic `message`.
    pub fn to_anthropic(&self) -> Value {
        let mut content = Vec::new();
        if !self.text.is_empty() || self.tool_calls.is_empty() {
            content.push(json!({"type": "text", "text": self.text}));
        }
        for c in &self.tool_calls {
            content.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": args_object(&c.arguments)}));
        }
        let id = if self.id.starts_with("msg_") { self.id.clone() } else { format!("msg_{}", self.id) };
        json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.finish.anthropic(),
            "stop_sequence": null,
            "usage": self.usage.to_anthropic(),
        })
    }
}

/// Text (non-thought parts joined) and function calls of a Gemini candidate.
pub fn gemini_parts(cand: &Value, response_id: &str, first_index: usize) -> (String, Vec<ToolCall>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for p in cand.pointer("/content/parts").and_then(Value::as_array).into_iter().flatten() {
        if p["thought"].as_bool() == Some(true) {
            continue;
        }
        if let Some(t) = p["text"].as_str() {
            text.push_str(t);
        }
        if let Some(f) = p.get("functionCall") {
            calls.push(ToolCall {
                id: synth_call_id(response_id, first_index + calls.len()),
                name: f["name"].as_str().unwrap_or_default().to_string(),
                arguments: f.get("args").map_or_else(|| "{}".to_string(), Value::to_string),
            });
        }
    }
    (text, calls)
}

#[cfg(test)]
mod tests;
