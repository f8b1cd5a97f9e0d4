//! Stream translation, event by event: a [`StreamDecoder`] turns each upstream SSE event into
//! dialect-neutral [`Delta`]s, a [`StreamEncoder`] turns those into the client's events. Nothing
//! is buffered beyond the event at hand (Anthropic's final `message_delta` waits for usage).

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::completion::{FinishReason, gemini_parts};
use crate::responses::ResponsesMeta;
use crate::responses::events::ResponsesEncoder;
use crate::usage::Usage;
use crate::{Dialect, TranslateError, invalid, now_secs};

/// One step of an answer being streamed.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// The answer begins.
    Start {
        /// Response id.
        id: String,
        /// Model that answers.
        model: String,
    },
    /// More text.
    Text(String),
    /// A tool call begins (`index` counts tool calls from 0).
    ToolStart {
        /// Tool call index.
        index: usize,
        /// Call id.
        id: String,
        /// Function name.
        name: String,
    },
    /// More of a tool call's arguments (JSON text fragment).
    ToolArgs {
        /// Tool call index.
        index: usize,
        /// Fragment.
        fragment: String,
    },
    /// Why it stopped.
    Finish(FinishReason),
    /// Token usage so far (the last one wins).
    Usage(Usage),
    /// The upstream reported an error mid-stream.
    Error {
        /// Error type in the upstream's terms.
        kind: String,
        /// Message.
        message: String,
    },
}

/// Decodes one upstream dialect's stream.
#[derive(Debug)]
pub struct StreamDecoder {
    dialect: Dialect,
    model: String,
    started: bool,
    id: String,
    /// Anthropic content-block index → tool index.
    blocks: Vec<Option<usize>>,
    tools: usize,
    finish: Option<FinishReason>,
    usage: Usage,
    done: bool,
}

impl StreamDecoder {
    /// The usage read so far, before the stream reports its final figures (Anthropic sends the
    /// prompt's count in `message_start`).
    pub fn usage_so_far(&self) -> Usage {
        self.usage
    }

    /// A decoder for `dialect`; `model` names the answer until the upstream says otherwise.
    pub fn new(dialect: Dialect, model: &str) -> Self {
        StreamDecoder {
            dialect,
            model: model.to_string(),
            started: false,
            id: String::new(),
            blocks: Vec::new(),
            tools: 0,
            finish: None,
            usage: Usage::default(),
            done: false,
        }
    }

    /// Whether the stream ended properly (`[DONE]`, `message_stop`, or for Gemini, any
    /// finish reason before the connection closed).
    pub fn complete(&self) -> bool {
        self.done || (self.dialect == Dialect::Gemini && self.finish.is_some())
    }

    fn start(&mut self, id: &str, model: Option<&str>, out: &mut Vec<Delta>) {
        if !self.started {
            self.started = true;
            self.id = id.to_string();
            if let Some(m) = model.filter(|m| !m.is_empty()) {
                self.model = m.to_string();
            }
            out.push(Delta::Start { id: self.id.clone(), model: self.model.clone() });
        }
    }

    /// Decodes one SSE event (`event:` name if any, joined `data:`).
    pub fn event(&mut self, name: Option<&[u8]>, data: &[u8], out: &mut Vec<Delta>) -> Result<(), TranslateError> {
        if data.is_empty() {
            return Ok(());
        }
        if self.dialect == Dialect::OpenAi && data == b"[DONE]" {
            self.done = true;
            return Ok(());
        }
        let v: Value = serde_json::from_slice(data).map_err(|e| invalid(format!("invalid stream event JSON: {e}")))?;
        match self.dialect {
            Dialect::OpenAi => self.openai(&v, out),
            Dialect::Anthropic => {
                let kind = name.and_then(|n| std::str::from_utf8(n).ok()).or_else(|| v["type"].as_str()).unwrap_or("");
                self.anthropic(kind, &v, out)
            }
            Dialect::Gemini => self.gemini(&v, out),
            Dialect::Responses => {
                let kind = name.and_then(|n| std::str::from_utf8(n).ok()).or_else(|| v["type"].as_str()).unwrap_or("");
                self.responses(kind, &v, out)
            }
        }
        Ok(())
    }

    /// Ends the stream (upstream closed): Gemini's finish and usage are emitted here.
    pub fn end(&mut self, out: &mut Vec<Delta>) {
        if self.dialect == Dialect::Gemini && self.started {
            let f = if self.tools > 0 { FinishReason::ToolCalls } else { self.finish.unwrap_or(FinishReason::Stop) };
            out.push(Delta::Finish(f));
            out.push(Delta::Usage(self.usage));
            self.done = true;
        }
    }

    fn openai(&mut self, v: &Value, out: &mut Vec<Delta>) {
        if let Some(e) = v.get("error") {
            out.push(Delta::Error {
                kind: e["type"].as_str().unwrap_or("api_error").to_string(),
                message: e["message"].as_str().unwrap_or("upstream error").to_string(),
            });
            return;
        }
        self.start(v["id"].as_str().unwrap_or(""), v["model"].as_str(), out);
        if let Some(choice) = v.pointer("/choices/0") {
            let d = &choice["delta"];
            if let Some(t) = d["content"].as_str().filter(|t| !t.is_empty()) {
                out.push(Delta::Text(t.to_string()));
            }
            for c in d["tool_calls"].as_array().into_iter().flatten() {
                let index = c["index"].as_u64().unwrap_or(0) as usize;
                if let Some(name) = c.pointer("/function/name").and_then(Value::as_str) {
                    self.tools = self.tools.max(index + 1);
                    out.push(Delta::ToolStart {
                        index,
                        id: c["id"].as_str().unwrap_or_default().to_string(),
                        name: name.to_string(),
                    });
                }
                if let Some(a) = c.pointer("/function/arguments").and_then(Value::as_str).filter(|a| !a.is_empty()) {
                    out.push(Delta::ToolArgs { index, fragment: a.to_string() });
                }
            }
            if let Some(f) = choice["finish_reason"].as_str() {
                let f = FinishReason::from_openai(f);
                self.finish = Some(f);
                out.push(Delta::Finish(f));
            }
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Usage::from_openai(u);
            out.push(Delta::Usage(self.usage));
        }
    }

    fn anthropic(&mut self, kind: &str, v: &Value, out: &mut Vec<Delta>) {
        match kind {
            "message_start" => {
                let m = &v["message"];
                self.usage = Usage::from_anthropic(&m["usage"]);
                self.start(m["id"].as_str().unwrap_or(""), m["model"].as_str(), out);
            }
            "content_block_start" => {
                let idx = v["index"].as_u64().unwrap_or(0) as usize;
                if self.blocks.len() <= idx {
                    self.blocks.resize(idx + 1, None);
                }
                let b = &v["content_block"];
                match b["type"].as_str() {
                    Some("tool_use") => {
                        let t = self.tools;
                        self.tools += 1;
                        self.blocks[idx] = Some(t);
                        out.push(Delta::ToolStart {
                            index: t,
                            id: b["id"].as_str().unwrap_or_default().to_string(),
                            name: b["name"].as_str().unwrap_or_default().to_string(),
                        });
                    }
                    Some("text") => {
                        if let Some(t) = b["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(Delta::Text(t.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let d = &v["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => out.push(Delta::Text(d["text"].as_str().unwrap_or_default().to_string())),
                    Some("input_json_delta") => {
                        let idx = v["index"].as_u64().unwrap_or(0) as usize;
                        if let Some(Some(t)) = self.blocks.get(idx) {
                            out.push(Delta::ToolArgs {
                                index: *t,
                                fragment: d["partial_json"].as_str().unwrap_or_default().to_string(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    let f = FinishReason::from_anthropic(r);
                    self.finish = Some(f);
                    out.push(Delta::Finish(f));
                }
                if let Some(u) = v.get("usage") {
                    // Output tokens are cumulative; input tokens came with message_start.
                    if let Some(o) = u["output_tokens"].as_u64() {
                        self.usage.completion = o;
                    }
                    if u.get("input_tokens").and_then(Value::as_u64).is_some() {
                        let more = Usage::from_anthropic(u);
                        self.usage.prompt = more.prompt;
                    }
                    out.push(Delta::Usage(self.usage));
                }
            }
            "message_stop" => self.done = true,
            "error" => out.push(Delta::Error {
                kind: v.pointer("/error/type").and_then(Value::as_str).unwrap_or("api_error").to_string(),
                message: v.pointer("/error/message").and_then(Value::as_str).unwrap_or("upstream error").to_string(),
            }),
            _ => {}
        }
    }

    /// A Responses API upstream's event (a pass-through reads usage and, when collecting, the
    /// answer from these).
    fn responses(&mut self, kind: &str, v: &Value, out: &mut Vec<Delta>) {
        match kind {
            "response.created" | "response.in_progress" => {
                let r = &v["response"];
                self.start(r["id"].as_str().unwrap_or(""), r["model"].as_str(), out);
            }
            "response.output_item.added"
                if v.pointer("/item/type").and_then(Value::as_str) == Some("function_call") =>
            {
                let at = v["output_index"].as_u64().unwrap_or(0) as usize;
                if self.blocks.len() <= at {
                    self.blocks.resize(at + 1, None);
                }
                let t = self.tools;
                self.tools += 1;
                self.blocks[at] = Some(t);
                let item = &v["item"];
                out.push(Delta::ToolStart {
                    index: t,
                    id: item["call_id"].as_str().unwrap_or_default().to_string(),
                    name: item["name"].as_str().unwrap_or_default().to_string(),
                });
            }
            "response.output_text.delta" => {
                out.push(Delta::Text(v["delta"].as_str().unwrap_or_default().to_string()));
            }
            "response.function_call_arguments.delta" => {
                let at = v["output_index"].as_u64().unwrap_or(0) as usize;
                if let Some(Some(t)) = self.blocks.get(at) {
                    out.push(Delta::ToolArgs {
                        index: *t,
                        fragment: v["delta"].as_str().unwrap_or_default().to_string(),
                    });
                }
            }
            "response.completed" | "response.incomplete" => {
                let r = &v["response"];
                self.start(r["id"].as_str().unwrap_or(""), r["model"].as_str(), out);
                let f = match r.pointer("/incomplete_details/reason").and_then(Value::as_str) {
                    Some("max_output_tokens") => FinishReason::Length,
                    Some("content_filter") => FinishReason::ContentFilter,
                    _ if self.tools > 0 => FinishReason::ToolCalls,
                    _ => FinishReason::Stop,
                };
                self.finish = Some(f);
                out.push(Delta::Finish(f));
                if r["usage"].is_object() {
                    self.usage = crate::responses::usage_from(&r["usage"]);
                    out.push(Delta::Usage(self.usage));
                }
                self.done = true;
            }
            "response.failed" | "error" => {
                let e = if kind == "error" { v } else { &v["response"]["error"] };
                out.push(Delta::Error {
                    kind: e["code"].as_str().unwrap_or("server_error").to_string(),
                    message: e["message"].as_str().unwrap_or("upstream error").to_string(),
                });
                self.done = true;
            }
            _ => {}
        }
    }

    fn gemini(&mut self, v: &Value, out: &mut Vec<Delta>) {
        if let Some(e) = v.get("error") {
            out.push(Delta::Error {
                kind: e["status"].as_str().unwrap_or("INTERNAL").to_string(),
                message: e["message"].as_str().unwrap_or("upstream error").to_string(),
            });
            return;
        }
        self.start(v["responseId"].as_str().unwrap_or("gemini"), v["modelVersion"].as_str(), out);
        if let Some(cand) = v.pointer("/candidates/0") {
            let (text, calls) = gemini_parts(cand, &self.id, self.tools);
            if !text.is_empty() {
                out.push(Delta::Text(text));
            }
            for c in calls {
                let index = self.tools;
                self.tools += 1;
                out.push(Delta::ToolStart { index, id: c.id, name: c.name });
                out.push(Delta::ToolArgs { index, fragment: c.arguments });
            }
            if let Some(f) = cand["finishReason"].as_str() {
                self.finish = Some(FinishReason::from_gemini(f));
            }
        } else if v.pointer("/promptFeedback/blockReason").is_some() {
            self.finish = Some(FinishReason::ContentFilter);
        }
        if let Some(u) = v.get("usageMetadata") {
            self.usage = Usage::from_gemini(u);
        }
    }
}

/// Encodes deltas as one client dialect's SSE events.
#[derive(Debug)]
pub struct StreamEncoder {
    dialect: Dialect,
    include_usage: bool,
    id: String,
    model: String,
    created: u64,
    started: bool,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    /// Anthropic: index of the open content block and whether it is text.
    open: Option<(usize, bool)>,
    next_block: usize,
    /// Anthropic: tool index → content block index.
    tool_blocks: Vec<usize>,
    ended: bool,
    /// A Responses API client's events are written by their own encoder.
    responses: Option<Box<ResponsesEncoder>>,
    /// The model name events report, whatever the upstream says (`report_model = "requested"`).
    reported_model: Option<String>,
}

impl StreamEncoder {
    /// An encoder for a client speaking `dialect`; `include_usage` is OpenAI's stream option.
    pub fn new(dialect: Dialect, include_usage: bool, model: &str) -> Self {
        StreamEncoder {
            dialect,
            include_usage,
            id: String::new(),
            model: model.to_string(),
            created: now_secs(),
            started: false,
            usage: None,
            finish: None,
            open: None,
            next_block: 0,
            tool_blocks: Vec::new(),
            ended: false,
            responses: None,
            reported_model: None,
        }
    }

    /// The same encoder with every event naming `model` (the model or route asked for).
    pub fn reporting_model(mut self, model: &str) -> Self {
        self.reported_model = Some(model.to_string());
        self.model = model.to_string();
        if let Some(r) = &mut self.responses {
            r.set_model(model);
        }
        self
    }

    /// An encoder for a Responses API client: the answer `meta` describes (its id and echo).
    pub fn for_responses(meta: ResponsesMeta, model: &str) -> Self {
        let mut e = StreamEncoder::new(Dialect::Responses, false, model);
        e.responses = Some(Box::new(ResponsesEncoder::new(meta, model)));
        e
    }

    /// The same encoder with its `created` time fixed, so two runs over the same events give
    /// the same bytes (the fuzz targets compare runs that may straddle a second).
    pub fn created_at(mut self, secs: u64) -> Self {
        self.created = secs;
        self
    }

    fn openai_chunk(&self, out: &mut Vec<u8>, choices: Value, usage: Option<Value>) {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        });
        if let Some(u) = usage {
            c["usage"] = u;
        }
        sse(out, None, &c);
    }

    fn openai_delta(&self, out: &mut Vec<u8>, delta: Value, finish: Option<&str>) {
        self.openai_chunk(out, json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]), None);
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.push(&Delta::Start { id: format!("gen-{}", self.created), model: self.model.clone() }, out);
        }
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((i, _)) = self.open.take() {
            sse(out, Some("content_block_stop"), &json!({"type": "content_block_stop", "index": i}));
        }
    }

    /// Appends the events for one delta.
    pub fn push(&mut self, d: &Delta, out: &mut Vec<u8>) {
        match (d, &self.reported_model) {
            (Delta::Start { id, .. }, Some(model)) => {
                let start = Delta::Start { id: id.clone(), model: model.clone() };
                self.push_delta(&start, out);
            }
            _ => self.push_delta(d, out),
        }
    }

    fn push_delta(&mut self, d: &Delta, out: &mut Vec<u8>) {
        if let Some(r) = &mut self.responses {
            return r.push(d, out);
        }
        if self.ended {
            return;
        }
        if let Delta::Start { id, model } = d {
            if self.started {
                return;
            }
            self.started = true;
            self.model = model.clone();
            match self.dialect {
                Dialect::Anthropic => {
                    self.id = if id.starts_with("msg_") { id.clone() } else { format!("msg_{id}") };
                    let m = json!({"type": "message_start", "message": {"id": self.id, "type": "message", "role": "assistant",
                        "model": self.model, "content": [], "stop_reason": null, "stop_sequence": null,
                        "usage": {"input_tokens": 0, "output_tokens": 0}}});
                    sse(out, Some("message_start"), &m);
                }
                _ => {
                    self.id = if id.starts_with("chatcmpl-") { id.clone() } else { format!("chatcmpl-{id}") };
                    self.openai_delta(out, json!({"role": "assistant", "content": ""}), None);
                }
            }
            return;
        }
        self.ensure_started(out);
        match (self.dialect, d) {
            (_, Delta::Start { .. }) => {}
            (_, Delta::Usage(u)) => self.usage = Some(*u),
            (_, Delta::Error { kind, message }) => self.error(kind, message, out),
            (Dialect::Anthropic, Delta::Text(t)) => {
                if !matches!(self.open, Some((_, true))) {
                    self.close_block(out);
                    let i = self.next_block;
                    self.next_block += 1;
                    self.open = Some((i, true));
                    sse(out, Some("content_block_start"),
                        &json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}));
                }
                let i = self.open.map_or(0, |o| o.0);
                sse(out, Some("content_block_delta"),
                    &json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": t}}));
            }
            (Dialect::Anthropic, Delta::ToolStart { index, id, name }) => {
                self.close_block(out);
                let i = self.next_block;
                self.next_block += 1;
                self.open = Some((i, false));
                if self.tool_blocks.len() <= *index {
                    self.tool_blocks.resize(index + 1, i);
                }
                self.tool_blocks[*index] = i;
                sse(out, Some("content_block_start"), &json!({"type": "content_block_start", "index": i,
                    "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}));
            }
            (Dialect::Anthropic, Delta::ToolArgs { index, fragment }) => {
                if let Some(&i) = self.tool_blocks.get(*index) {
                    sse(out, Some("content_block_delta"), &json!({"type": "content_block_delta", "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": fragment}}));
                }
            }
            // Held until the end so usage can travel in the same message_delta.
            (Dialect::Anthropic, Delta::Finish(f)) => self.finish = Some(*f),
            (_, Delta::Text(t)) => self.openai_delta(out, json!({"content": t}), None),
            (_, Delta::ToolStart { index, id, name }) => self.openai_delta(
                out,
                json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                None,
            ),
            (_, Delta::ToolArgs { index, fragment }) => {
                self.openai_delta(out, json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}), None)
            }
            (_, Delta::Finish(f)) => {
                self.finish = Some(*f);
                self.openai_delta(out, json!({}), Some(f.openai()));
            }
        }
    }

    /// Ends the client's stream properly.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(r) = &mut self.responses {
            return r.finish(out);
        }
        if self.ended {
            return;
        }
        self.ensure_started(out);
        match self.dialect {
            Dialect::Anthropic => {
                self.close_block(out);
                let u = self.usage.unwrap_or_default();
                let mut usage = json!({"output_tokens": u.completion});
                if u.prompt > 0 {
                    usage["input_tokens"] = json!(u.uncached_prompt());
                }
                let reason = self.finish.unwrap_or(FinishReason::Stop).anthropic();
                sse(
                    out,
                    Some("message_delta"),
                    &json!({"type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": null}, "usage": usage}),
                );
                sse(out, Some("message_stop"), &json!({"type": "message_stop"}));
            }
            _ => {
                if self.finish.is_none() {
                    self.openai_delta(out, json!({}), Some("stop"));
                }
                if self.include_usage
                    && let Some(u) = self.usage
                {
                    self.openai_chunk(out, json!([]), Some(u.to_openai()));
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
        }
        self.ended = true;
    }

    /// Ends the client's stream with an error event.
    pub fn error(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        if let Some(r) = &mut self.responses {
            return r.error(kind, message, out);
        }
        if self.ended {
            return;
        }
        match self.dialect {
            Dialect::Anthropic => {
                let kind = if kind.contains("overloaded") { "overloaded_error" } else { "api_error" };
                sse(out, Some("error"), &json!({"type": "error", "error": {"type": kind, "message": message}}));
            }
            _ => sse(out, None, &json!({"error": {"message": message, "type": kind, "param": null, "code": null}})),
        }
        self.ended = true;
    }
}

/// Appends one SSE event.
pub(crate) fn sse(out: &mut Vec<u8>, event: Option<&str>, data: &Value) {
    if let Some(e) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e.as_bytes());
        out.push(b'\n');
    }
    let mut s = String::with_capacity(256);
    let _ = write!(s, "data: {data}\n\n");
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests;
