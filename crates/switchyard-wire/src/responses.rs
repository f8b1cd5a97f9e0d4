//! The OpenAI Responses API (`POST /v1/responses`) as a client dialect.
//!
//! A Responses request is translated into the chat hub (`to_hub`), so every upstream dialect
//! can answer it; answers and streams are rendered back as a Responses object
//! (`Completion::to_responses`) and its events (`ResponsesEncoder`). A Responses upstream's
//! own answers and events are read back too (`Completion::from_responses`, the stream
//! decoder's `responses` arm): a passed-through answer still has its usage charged, and can be
//! cached and stored for `previous_response_id`.
//!
//! Translated answers carry the gateway's own id (`resp_` and the request id), so a follow-up
//! names an answer the gateway can find whichever upstream gave it.

use serde_json::{Map, Value, json};

use crate::completion::{Completion, FinishReason, ToolCall};
use crate::usage::Usage;
use crate::{TranslateError, invalid, now_secs};

pub mod events;

/// A Responses request in the hub's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct HubRequest {
    /// The chat request: `instructions` as its first (system) message, then the earlier turns
    /// given, then this request's input.
    pub hub: Value,
    /// Messages of `hub` that are the conversation (what a follow-up continues): all but the
    /// instructions.
    pub conversation_from: usize,
    /// The first built-in (non-function) tool the request names: only an upstream that speaks
    /// the Responses API can run it.
    pub builtin_tool: Option<String>,
}

/// What a Responses answer echoes of its request, and its id.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesMeta {
    /// The answer's id (`resp_…`).
    pub id: String,
    /// Its `created_at`, seconds (fixed once, so every event and rendering agrees).
    pub created_at: u64,
    /// Request fields the Response object repeats (`instructions`, `tools`, `tool_choice`,
    /// `temperature`, …), with the API's defaults where the request set none.
    pub echo: Map<String, Value>,
    /// Names of the request's `custom` (free-text) tools: a call of one is a
    /// `custom_tool_call` item with its `input`, not a `function_call`.
    pub custom_tools: Vec<String>,
}

/// A field's default, made when the request leaves the field out.
type FieldDefault = fn() -> Value;

/// Request fields the Response object repeats, with the defaults OpenAI reports.
const ECHOED: [(&str, FieldDefault); 14] = [
    ("instructions", || Value::Null),
    ("max_output_tokens", || Value::Null),
    ("metadata", || json!({})),
    ("parallel_tool_calls", || json!(true)),
    ("previous_response_id", || Value::Null),
    ("reasoning", || json!({"effort": null, "summary": null})),
    ("service_tier", || json!("default")),
    ("store", || json!(true)),
    ("temperature", || json!(1.0)),
    ("text", || json!({"format": {"type": "text"}})),
    ("tool_choice", || json!("auto")),
    ("tools", || json!([])),
    ("top_p", || json!(1.0)),
    ("truncation", || json!("disabled")),
];

impl ResponsesMeta {
    /// The echo of `req` under answer id `id`.
    pub fn of(req: &Value, id: String) -> ResponsesMeta {
        let mut echo = Map::new();
        for (field, default) in ECHOED {
            let v = req.get(field).filter(|v| !v.is_null()).cloned().unwrap_or_else(default);
            echo.insert(field.into(), v);
        }
        echo.insert("user".into(), req.get("user").cloned().unwrap_or(Value::Null));
        let custom_tools = req["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["type"] == "custom")
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect();
        ResponsesMeta { id, created_at: now_secs(), echo, custom_tools }
    }

    /// The output item of tool call `c`: a `custom_tool_call` (its `input` the call's `input`
    /// argument) for a custom tool, else a `function_call`.
    pub fn call_item(&self, id: String, c: &ToolCall, status: &str) -> Value {
        if !self.custom_tools.contains(&c.name) {
            return function_item(id, c, status);
        }
        let input = match serde_json::from_str::<Value>(&c.arguments) {
            Ok(Value::Object(o)) => o.get("input").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        let id = id.replacen("fc_", "ctc_", 1);
        json!({"type": "custom_tool_call", "id": id, "call_id": c.id, "name": c.name,
            "input": input.unwrap_or_else(|| c.arguments.clone()), "status": status})
    }

    /// A Response object: the echo, then `status`, `model`, `output` and `usage`.
    pub fn response(&self, status: &str, model: &str, output: Vec<Value>, usage: Option<&Usage>) -> Value {
        let mut r = Map::new();
        r.insert("id".into(), json!(self.id));
        r.insert("object".into(), json!("response"));
        r.insert("created_at".into(), json!(self.created_at));
        r.insert("status".into(), json!(status));
        r.insert("background".into(), json!(false));
        r.insert("error".into(), Value::Null);
        r.insert("incomplete_details".into(), Value::Null);
        r.insert("model".into(), json!(model));
        r.insert("output".into(), Value::Array(output));
        for (k, v) in &self.echo {
            r.insert(k.clone(), v.clone());
        }
        r.insert("usage".into(), usage.map_or(Value::Null, usage_value));
        Value::Object(r)
    }
}

/// `usage` of a Response object.
pub fn usage_value(u: &Usage) -> Value {
    json!({
        "input_tokens": u.prompt,
        "input_tokens_details": {"cached_tokens": u.cache_read, "cache_write_tokens": u.cache_write},
        "output_tokens": u.completion,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.total(),
    })
}

/// Usage from a Response object's `usage` (`input_tokens` counts cached tokens, as OpenAI's
/// `prompt_tokens` does).
pub fn usage_from(u: &Value) -> Usage {
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    Usage::openai(
        n("/input_tokens"),
        n("/output_tokens"),
        n("/input_tokens_details/cached_tokens"),
        n("/output_tokens_details/reasoning_tokens"),
    )
}

/// The Responses request `req` as a chat request, continuing the conversation `prior` (the
/// hub messages of the response `previous_response_id` names).
pub fn to_hub(req: &Value, prior: &[Value]) -> Result<HubRequest, TranslateError> {
    if !req.is_object() {
        return Err(invalid("The request body must be a JSON object."));
    }
    let mut messages: Vec<Value> = Vec::new();
    match &req["instructions"] {
        Value::String(s) if !s.is_empty() => messages.push(json!({"role": "system", "content": s})),
        Value::Null | Value::String(_) => {}
        _ => return Err(invalid("`instructions` must be a string")),
    }
    let conversation_from = messages.len();
    messages.extend(prior.iter().cloned());
    match &req["input"] {
        Value::String(s) => messages.push(json!({"role": "user", "content": s})),
        Value::Array(items) => {
            for item in items {
                input_item(item, &mut messages)?;
            }
        }
        Value::Null => return Err(invalid("input: Field required")),
        _ => return Err(invalid("`input` must be a string or an array of input items")),
    }
    let mut hub = Map::new();
    hub.insert("model".into(), req["model"].clone());
    hub.insert("messages".into(), Value::Array(messages));
    for (from, to) in
        [("temperature", "temperature"), ("top_p", "top_p"), ("max_output_tokens", "max_completion_tokens")]
    {
        if let Some(v) = req.get(from).filter(|v| v.is_number()) {
            hub.insert(to.into(), v.clone());
        }
    }
    for field in ["stream", "parallel_tool_calls"] {
        if let Some(v) = req.get(field).filter(|v| v.is_boolean()) {
            hub.insert(field.into(), v.clone());
        }
    }
    if let Some(u) = req.get("user").filter(|v| v.is_string()) {
        hub.insert("user".into(), u.clone());
    }
    if let Some(e) = req.pointer("/reasoning/effort").filter(|v| v.is_string()) {
        hub.insert("reasoning_effort".into(), e.clone());
    }
    if let Some(f) = req.pointer("/text/format")
        && let Some(rf) = response_format(f)?
    {
        hub.insert("response_format".into(), rf);
    }
    let builtin_tool = tools(req, &mut hub)?;
    Ok(HubRequest { hub: Value::Object(hub), conversation_from, builtin_tool })
}

/// `text.format` as a chat `response_format` (None for plain text).
fn response_format(f: &Value) -> Result<Option<Value>, TranslateError> {
    Ok(match f["type"].as_str() {
        Some("text") | None => None,
        Some("json_object") => Some(json!({"type": "json_object"})),
        Some("json_schema") => {
            let mut schema = json!({"name": f.get("name").cloned().unwrap_or(json!("response")),
                "schema": f.get("schema").cloned().unwrap_or(json!({}))});
            for k in ["strict", "description"] {
                if let Some(v) = f.get(k) {
                    schema[k] = v.clone();
                }
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        Some(other) => return Err(invalid(format!("unknown text.format type `{other}`"))),
    })
}

/// Function tools and `tool_choice` in chat's nested shape; returns the first built-in tool's
/// type (left out of the chat request).
fn tools(req: &Value, hub: &mut Map<String, Value>) -> Result<Option<String>, TranslateError> {
    let mut builtin = None;
    let mut out = Vec::new();
    let listed = req["tools"].as_array().map_or(&[][..], Vec::as_slice);
    add_tools(listed, &mut out, &mut builtin)?;
    if !out.is_empty() {
        hub.insert("tools".into(), Value::Array(out));
        let choice = match &req["tool_choice"] {
            Value::String(s) => Some(json!(s)),
            Value::Object(o) if matches!(o.get("type").and_then(Value::as_str), Some("function" | "custom")) => {
                Some(json!({"type": "function", "function": {"name": o.get("name").cloned().unwrap_or(Value::Null)}}))
            }
            _ => None,
        };
        if let Some(c) = choice {
            hub.insert("tool_choice".into(), c);
        }
    }
    Ok(builtin)
}

/// Chat function tools for `tools`: function tools as they are, a `custom` (free-text) tool as
/// a function of one string `input`, a `namespace`'s tools flattened.
fn add_tools(tools: &[Value], out: &mut Vec<Value>, builtin: &mut Option<String>) -> Result<(), TranslateError> {
    for t in tools {
        match t["type"].as_str() {
            Some("namespace") => add_tools(t["tools"].as_array().map_or(&[][..], Vec::as_slice), out, builtin)?,
            Some("custom") => {
                let input = json!({"type": "string", "description": "The tool's input, as free text."});
                let mut f = json!({"name": t["name"], "parameters": {"type": "object", "properties": {"input": input}, "required": ["input"]}});
                if let Some(d) = t.get("description").filter(|d| d.is_string()) {
                    f["description"] = d.clone();
                }
                out.push(json!({"type": "function", "function": f}));
            }
            Some("function") => {
                let mut f = json!({"name": t["name"], "parameters": t.get("parameters").cloned()
                    .filter(|p| !p.is_null()).unwrap_or(json!({"type": "object", "properties": {}}))});
                for k in ["description", "strict"] {
                    if let Some(v) = t.get(k).filter(|v| !v.is_null()) {
                        f[k] = v.clone();
                    }
                }
                if !t["name"].is_string() {
                    return Err(invalid("tools: a function tool needs a `name`"));
                }
                out.push(json!({"type": "function", "function": f}));
            }
            Some(other) => {
                builtin.get_or_insert_with(|| other.to_string());
            }
            None => return Err(invalid("tools: every tool needs a `type`")),
        }
    }
    Ok(())
}

/// Text of a Responses content (string or parts of any text type).
fn content_text(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str().or_else(|| p["refusal"].as_str()))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// User content parts in chat's shape: text, and images as `image_url` parts.
fn user_content(c: &Value) -> Result<Value, TranslateError> {
    let Value::Array(parts) = c else { return Ok(json!(content_text(c))) };
    let mut out = Vec::new();
    for p in parts {
        match p["type"].as_str() {
            Some("input_text" | "output_text" | "text") => out.push(json!({"type": "text", "text": p["text"]})),
            Some("input_image") => {
                let Some(url) = p["image_url"].as_str() else {
                    return Err(invalid("input_image: only `image_url` images are supported (not `file_id`)"));
                };
                let mut image = json!({"url": url});
                if let Some(d) = p.get("detail").filter(|d| d.is_string()) {
                    image["detail"] = d.clone();
                }
                out.push(json!({"type": "image_url", "image_url": image}));
            }
            Some(other) => return Err(invalid(format!("input content of type `{other}` is not supported"))),
            None => return Err(invalid("input content parts need a `type`")),
        }
    }
    Ok(Value::Array(out))
}

/// Appends one input item as chat messages (function calls join the assistant turn before).
fn input_item(item: &Value, messages: &mut Vec<Value>) -> Result<(), TranslateError> {
    let kind = item["type"].as_str().unwrap_or(if item.get("role").is_some() { "message" } else { "" });
    match kind {
        "message" => {
            let role = item["role"].as_str().unwrap_or("");
            let content = match role {
                "user" => user_content(&item["content"])?,
                "assistant" | "system" | "developer" => json!(content_text(&item["content"])),
                other => return Err(invalid(format!("unknown input message role `{other}`"))),
            };
            messages.push(json!({"role": role, "content": content}));
        }
        "function_call" | "custom_tool_call" => {
            let arguments = match kind {
                "custom_tool_call" => json!({"input": item["input"]}).to_string(),
                _ => item["arguments"].as_str().unwrap_or("{}").to_string(),
            };
            let call = json!({"id": item["call_id"], "type": "function",
                "function": {"name": item["name"], "arguments": arguments}});
            match messages.last_mut() {
                Some(last) if last["role"] == "assistant" => {
                    if !last["tool_calls"].is_array() {
                        last["tool_calls"] = json!([]);
                    }
                    last["tool_calls"].as_array_mut().expect("just made an array").push(call);
                }
                _ => messages.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
            }
        }
        "function_call_output" | "custom_tool_call_output" => {
            let output = match &item["output"] {
                Value::String(s) => s.clone(),
                other => content_text(other),
            };
            messages.push(json!({"role": "tool", "tool_call_id": item["call_id"], "content": output}));
        }
        // Reasoning is the upstream's own state: a chat upstream cannot take it back.
        "reasoning" => {}
        "item_reference" => {
            return Err(invalid("`item_reference` input items are not supported; send the items themselves"));
        }
        "" => return Err(invalid("every input item needs a `type`")),
        other => return Err(invalid(format!("input items of type `{other}` are not supported"))),
    }
    Ok(())
}

/// The id the gateway gives a translated answer to request `request_id`.
pub fn response_id(request_id: &str) -> String {
    format!("resp_{request_id}")
}

/// Output item ids, derived from the response id so a rendered answer is the same each time.
fn item_id(prefix: &str, response_id: &str, n: usize) -> String {
    format!("{prefix}_{}_{n}", response_id.trim_start_matches("resp_"))
}

fn message_item(id: String, text: &str, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
}

fn function_item(id: String, c: &ToolCall, status: &str) -> Value {
    json!({"type": "function_call", "id": id, "call_id": c.id, "name": c.name, "arguments": c.arguments, "status": status})
}

/// Status and `incomplete_details` of an answer that stopped for `f`.
fn status_of(f: FinishReason) -> (&'static str, Value) {
    match f {
        FinishReason::Length => ("incomplete", json!({"reason": "max_output_tokens"})),
        FinishReason::ContentFilter => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

impl Completion {
    /// As a Response object with `meta`'s id and echo.
    pub fn to_responses(&self, meta: &ResponsesMeta) -> Value {
        let mut output = Vec::new();
        if !self.text.is_empty() || self.tool_calls.is_empty() {
            output.push(message_item(item_id("msg", &meta.id, 0), &self.text, "completed"));
        }
        for (i, c) in self.tool_calls.iter().enumerate() {
            output.push(meta.call_item(item_id("fc", &meta.id, i + 1), c, "completed"));
        }
        let (status, incomplete) = status_of(self.finish);
        let mut r = meta.response(status, &self.model, output, Some(&self.usage));
        r["incomplete_details"] = incomplete;
        r
    }

    /// From a Response object (text of its message items, its function calls).
    pub fn from_responses(v: &Value) -> Result<Completion, TranslateError> {
        let output = v["output"].as_array().ok_or_else(|| invalid("response has no output"))?;
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for item in output {
            match item["type"].as_str() {
                Some("message") => text.push_str(&content_text(&item["content"])),
                Some("function_call") => tool_calls.push(ToolCall {
                    id: item["call_id"].as_str().unwrap_or_default().to_string(),
                    name: item["name"].as_str().unwrap_or_default().to_string(),
                    arguments: item["arguments"].as_str().unwrap_or("{}").to_string(),
                }),
                Some("custom_tool_call") => tool_calls.push(ToolCall {
                    id: item["call_id"].as_str().unwrap_or_default().to_string(),
                    name: item["name"].as_str().unwrap_or_default().to_string(),
                    arguments: json!({"input": item["input"]}).to_string(),
                }),
                _ => {}
            }
        }
        let finish = match v.pointer("/incomplete_details/reason").and_then(Value::as_str) {
            Some("max_output_tokens") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            _ if !tool_calls.is_empty() => FinishReason::ToolCalls,
            _ => FinishReason::Stop,
        };
        Ok(Completion {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            model: v["model"].as_str().unwrap_or_default().to_string(),
            text,
            tool_calls,
            finish,
            usage: usage_from(&v["usage"]),
        })
    }

    /// The answer as the hub's assistant message (what a follow-up's conversation holds).
    pub fn to_hub_message(&self) -> Value {
        let mut m = json!({"role": "assistant", "content": self.text});
        if !self.tool_calls.is_empty() {
            if self.text.is_empty() {
                m["content"] = Value::Null;
            }
            m["tool_calls"] = self
                .tool_calls
                .iter()
                .map(
                    |c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}),
                )
                .collect();
        }
        m
    }
}

#[cfg(test)]
mod tests;
