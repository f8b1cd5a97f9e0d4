//! Request translation. OpenAI is the hub: Anthropic requests become OpenAI requests, and
//! OpenAI requests become Anthropic or Gemini ones. Fields with no counterpart are dropped;
//! the rest keep their values.

use serde_json::{Map, Value, json};

use crate::completion::args_object;
use crate::{TranslateError, invalid};

/// `max_tokens` sent to Anthropic when the OpenAI request has none (LiteLLM's choice).
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u64 = 4096;

/// Text of an OpenAI `content` (string or parts).
fn openai_text(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

/// (media type, base64 data) of a `data:` URL.
fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    Some((meta.strip_suffix(";base64")?, data))
}

fn stop_list(v: &Value) -> Option<Value> {
    let list: Vec<Value> = match v {
        Value::String(s) => vec![Value::String(s.clone())],
        Value::Array(a) => a.clone(),
        _ => return None,
    };
    // Anthropic rejects whitespace-only stop sequences (LiteLLM drops them too).
    let list: Vec<Value> = list.into_iter().filter(|s| s.as_str().is_some_and(|s| !s.trim().is_empty())).collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

fn max_tokens(req: &Value) -> Option<u64> {
    req.get("max_completion_tokens").and_then(Value::as_u64).or_else(|| req.get("max_tokens").and_then(Value::as_u64))
}

fn check_n(req: &Value, dialect: &'static str) -> Result<(), TranslateError> {
    if req.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err(TranslateError::Unsupported("`n` greater than 1", dialect));
    }
    Ok(())
}

/// A JSON-mode instruction for dialects without a native flag.
fn json_instruction(req: &Value) -> Option<String> {
    match req.pointer("/response_format/type").and_then(Value::as_str) {
        Some("json_object") => Some("Respond with a single JSON object and nothing else.".into()),
        Some("json_schema") => Some(format!(
            "Respond with a single JSON object and nothing else, matching this JSON schema: {}",
            req.pointer("/response_format/json_schema/schema").cloned().unwrap_or(json!({}))
        )),
        _ => None,
    }
}

/// OpenAI chat request → Anthropic Messages request for `model`.
pub fn openai_to_anthropic(req: &Value, model: &str) -> Result<Value, TranslateError> {
    check_n(req, "anthropic")?;
    let msgs = req["messages"].as_array().ok_or_else(|| invalid("`messages` must be an array"))?;
    let mut system: Vec<String> = Vec::new();
    let mut out: Vec<Value> = Vec::new();
    let mut push = |role: &str, blocks: Vec<Value>| {
        if blocks.is_empty() {
            return;
        }
        // Consecutive same-role turns merge (tool results after each other, for one).
        if let Some(last) = out.last_mut()
            && last["role"] == role
        {
            last["content"].as_array_mut().expect("built as array").extend(blocks);
            return;
        }
        out.push(json!({"role": role, "content": blocks}));
    };
    for m in msgs {
        let role = m["role"].as_str().unwrap_or("");
        match role {
            "system" | "developer" => system.push(openai_text(&m["content"])),
            "user" => {
                let blocks = match &m["content"] {
                    Value::String(s) => vec![json!({"type": "text", "text": s})],
                    Value::Array(parts) => parts.iter().filter_map(openai_part_to_anthropic).collect(),
                    _ => Vec::new(),
                };
                push("user", blocks);
            }
            "assistant" => {
                let mut blocks = Vec::new();
                let text = openai_text(&m["content"]);
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for c in m["tool_calls"].as_array().into_iter().flatten() {
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": c["id"],
                        "name": c["function"]["name"],
                        "input": args_object(c["function"]["arguments"].as_str().unwrap_or("{}")),
                    }));
                }
                push("assistant", blocks);
            }
            "tool" | "function" => push(
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m["tool_call_id"],
                    "content": openai_text(&m["content"]),
                })],
            ),
            other => return Err(invalid(format!("unknown message role `{other}`"))),
        }
    }
    if let Some(j) = json_instruction(req) {
        system.push(j);
    }
    let mut a = Map::new();
    a.insert("model".into(), json!(model));
    a.insert("max_tokens".into(), json!(max_tokens(req).unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS)));
    if !system.is_empty() {
        a.insert("system".into(), json!(system.join("\n\n")));
    }
    a.insert("messages".into(), Value::Array(out));
    if let Some(t) = req.get("temperature").and_then(Value::as_f64) {
        // Anthropic accepts 0–1; OpenAI 0–2.
        a.insert("temperature".into(), json!(t.min(1.0)));
    }
    if let Some(p) = req.get("top_p").filter(|v| v.is_number()) {
        a.insert("top_p".into(), p.clone());
    }
    if let Some(s) = req.get("stop").and_then(stop_list) {
        a.insert("stop_sequences".into(), s);
    }
    if let Some(s) = req.get("stream").filter(|v| v.is_boolean()) {
        a.insert("stream".into(), s.clone());
    }
    if let Some(tools) = req["tools"].as_array().filter(|t| !t.is_empty()) {
        let t: Vec<Value> = tools
            .iter()
            .map(|t| {
                let f = &t["function"];
                let mut tool = json!({"name": f["name"], "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type":"object"}))});
                if let Some(d) = f.get("description") {
                    tool["description"] = d.clone();
                }
                tool
            })
            .collect();
        a.insert("tools".into(), Value::Array(t));
        let mut choice = match &req["tool_choice"] {
            Value::String(s) if s == "none" => json!({"type": "none"}),
            Value::String(s) if s == "required" => json!({"type": "any"}),
            Value::Object(o) => {
                json!({"type": "tool", "name": o.get("function").map_or(Value::Null, |f| f["name"].clone())})
            }
            _ => json!({"type": "auto"}),
        };
        if req["parallel_tool_calls"] == json!(false) && choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        a.insert("tool_choice".into(), choice);
    }
    if let Some(u) = req.get("user").and_then(Value::as_str) {
        a.insert("metadata".into(), json!({"user_id": u}));
    }
    Ok(Value::Object(a))
}

fn openai_part_to_anthropic(p: &Value) -> Option<Value> {
    match p["type"].as_str()? {
        "text" => Some(json!({"type": "text", "text": p["text"]})),
        "image_url" => {
            let url = p.pointer("/image_url/url")?.as_str()?;
            Some(match data_url(url) {
                Some((media, data)) => {
                    json!({"type":"image","source":{"type":"base64","media_type":media,"data":data}})
                }
                None => json!({"type":"image","source":{"type":"url","url":url}}),
            })
        }
        _ => None,
    }
}

/// Anthropic Messages request → OpenAI chat request (the model field is kept as given).
pub fn anthropic_to_openai(req: &Value) -> Result<Value, TranslateError> {
    let msgs = req["messages"].as_array().ok_or_else(|| invalid("`messages` must be an array"))?;
    let mut out: Vec<Value> = Vec::new();
    match &req["system"] {
        Value::String(s) if !s.is_empty() => out.push(json!({"role": "system", "content": s})),
        Value::Array(blocks) => {
            let text = blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n");
            out.push(json!({"role": "system", "content": text}));
        }
        _ => {}
    }
    for m in msgs {
        let role = m["role"].as_str().unwrap_or("");
        let blocks: Vec<Value> = match &m["content"] {
            Value::String(s) => vec![json!({"type": "text", "text": s})],
            Value::Array(b) => b.clone(),
            _ => return Err(invalid("message `content` must be a string or an array of blocks")),
        };
        match role {
            "user" => {
                let mut parts = Vec::new();
                for b in &blocks {
                    match b["type"].as_str() {
                        Some("tool_result") => {
                            let content = match &b["content"] {
                                Value::String(s) => s.clone(),
                                Value::Array(items) => {
                                    items.iter().filter_map(|i| i["text"].as_str()).collect::<Vec<_>>().join("\n")
                                }
                                _ => String::new(),
                            };
                            out.push(json!({"role": "tool", "tool_call_id": b["tool_use_id"], "content": content}));
                        }
                        Some("text") => parts.push(json!({"type": "text", "text": b["text"]})),
                        Some("image") => {
                            let s = &b["source"];
                            let url = match s["type"].as_str() {
                                Some("base64") => format!(
                                    "data:{};base64,{}",
                                    s["media_type"].as_str().unwrap_or("image/png"),
                                    s["data"].as_str().unwrap_or("")
                                ),
                                _ => s["url"].as_str().unwrap_or("").to_string(),
                            };
                            parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
                        }
                        _ => {}
                    }
                }
                if !parts.is_empty() {
                    let content = if parts.len() == 1 && parts[0]["type"] == "text" {
                        parts[0]["text"].clone()
                    } else {
                        Value::Array(parts)
                    };
                    out.push(json!({"role": "user", "content": content}));
                }
            }
            "assistant" => {
                let text: String =
                    blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
                let calls: Vec<Value> = blocks
                    .iter()
                    .filter(|b| b["type"] == "tool_use")
                    .map(|b| json!({"id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": b["input"].to_string()}}))
                    .collect();
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = Value::Array(calls);
                }
                out.push(msg);
            }
            // A system turn mid-conversation (Claude Code sends them, with an `anthropic-beta`
            // flag): a system message where it stands.
            "system" => {
                let text = blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n");
                out.push(json!({"role": "system", "content": text}));
            }
            other => return Err(invalid(format!("unknown message role `{other}`"))),
        }
    }
    let mut o = Map::new();
    o.insert("model".into(), req["model"].clone());
    o.insert("messages".into(), Value::Array(out));
    if let Some(m) = req.get("max_tokens") {
        o.insert("max_tokens".into(), m.clone());
    }
    for k in ["temperature", "top_p", "stream"] {
        if let Some(v) = req.get(k) {
            o.insert(k.into(), v.clone());
        }
    }
    if let Some(s) = req.get("stop_sequences").filter(|s| s.is_array()) {
        o.insert("stop".into(), s.clone());
    }
    if let Some(tools) = req["tools"].as_array().filter(|t| !t.is_empty()) {
        let t: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": t["name"], "parameters": t.get("input_schema").cloned().unwrap_or(json!({"type":"object"}))});
                if let Some(d) = t.get("description") {
                    f["description"] = d.clone();
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        o.insert("tools".into(), Value::Array(t));
        let choice = &req["tool_choice"];
        let mapped = match choice["type"].as_str() {
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {"name": choice["name"]}}),
            _ => json!("auto"),
        };
        o.insert("tool_choice".into(), mapped);
        if choice["disable_parallel_tool_use"] == json!(true) {
            o.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    if let Some(u) = req.pointer("/metadata/user_id") {
        o.insert("user".into(), u.clone());
    }
    Ok(Value::Object(o))
}

/// Removes JSON-schema keys Gemini rejects.
fn gemini_schema(mut v: Value) -> Value {
    if let Value::Object(o) = &mut v {
        o.remove("additionalProperties");
        o.remove("$schema");
        o.remove("strict");
        for (_, child) in o.iter_mut() {
            *child = gemini_schema(child.take());
        }
    } else if let Value::Array(a) = &mut v {
        for child in a.iter_mut() {
            *child = gemini_schema(child.take());
        }
    }
    v
}

/// OpenAI chat request → Gemini `generateContent` body (the model goes in the URL).
pub fn openai_to_gemini(req: &Value) -> Result<Value, TranslateError> {
    let msgs = req["messages"].as_array().ok_or_else(|| invalid("`messages` must be an array"))?;
    let mut system: Vec<String> = Vec::new();
    let mut contents: Vec<Value> = Vec::new();
    // Gemini's functionResponse needs the function name; OpenAI tool messages carry only the id.
    let mut names: Vec<(String, String)> = Vec::new();
    let mut push = |role: &str, parts: Vec<Value>| {
        if parts.is_empty() {
            return;
        }
        if let Some(last) = contents.last_mut()
            && last["role"] == role
        {
            last["parts"].as_array_mut().expect("built as array").extend(parts);
            return;
        }
        contents.push(json!({"role": role, "parts": parts}));
    };
    for m in msgs {
        match m["role"].as_str().unwrap_or("") {
            "system" | "developer" => system.push(openai_text(&m["content"])),
            "user" => {
                let parts = match &m["content"] {
                    Value::String(s) => vec![json!({"text": s})],
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|p| match p["type"].as_str()? {
                            "text" => Some(json!({"text": p["text"]})),
                            "image_url" => {
                                let url = p.pointer("/image_url/url")?.as_str()?;
                                Some(match data_url(url) {
                                    Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
                                    None => json!({"fileData": {"fileUri": url}}),
                                })
                            }
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                push("user", parts);
            }
            "assistant" => {
                let mut parts = Vec::new();
                let text = openai_text(&m["content"]);
                if !text.is_empty() {
                    parts.push(json!({"text": text}));
                }
                for c in m["tool_calls"].as_array().into_iter().flatten() {
                    let name = c["function"]["name"].as_str().unwrap_or_default().to_string();
                    names.push((c["id"].as_str().unwrap_or_default().to_string(), name.clone()));
                    parts.push(json!({"functionCall": {"name": name, "args": args_object(c["function"]["arguments"].as_str().unwrap_or("{}"))}}));
                }
                push("model", parts);
            }
            "tool" | "function" => {
                let id = m["tool_call_id"].as_str().unwrap_or_default();
                let name = names
                    .iter()
                    .find(|(i, _)| i == id)
                    .map(|(_, n)| n.clone())
                    .or_else(|| m["name"].as_str().map(str::to_string))
                    .ok_or_else(|| invalid(format!("tool message `{id}` answers no earlier tool call")))?;
                push(
                    "user",
                    vec![
                        json!({"functionResponse": {"name": name, "response": {"output": openai_text(&m["content"])}}}),
                    ],
                );
            }
            other => return Err(invalid(format!("unknown message role `{other}`"))),
        }
    }
    let mut g = Map::new();
    if !system.is_empty() {
        g.insert("systemInstruction".into(), json!({"parts": [{"text": system.join("\n\n")}]}));
    }
    g.insert("contents".into(), Value::Array(contents));
    let mut cfg = Map::new();
    if let Some(m) = max_tokens(req) {
        cfg.insert("maxOutputTokens".into(), json!(m));
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "topP"), ("seed", "seed")] {
        if let Some(v) = req.get(from).filter(|v| v.is_number()) {
            cfg.insert(to.into(), v.clone());
        }
    }
    if let Some(s) = req.get("stop").and_then(stop_list) {
        cfg.insert("stopSequences".into(), s);
    }
    if let Some(n) = req.get("n").and_then(Value::as_u64) {
        cfg.insert("candidateCount".into(), json!(n));
    }
    match req.pointer("/response_format/type").and_then(Value::as_str) {
        Some("json_object") => {
            cfg.insert("responseMimeType".into(), json!("application/json"));
        }
        Some("json_schema") => {
            cfg.insert("responseMimeType".into(), json!("application/json"));
            if let Some(s) = req.pointer("/response_format/json_schema/schema") {
                cfg.insert("responseSchema".into(), gemini_schema(s.clone()));
            }
        }
        _ => {}
    }
    if !cfg.is_empty() {
        g.insert("generationConfig".into(), Value::Object(cfg));
    }
    if let Some(tools) = req["tools"].as_array().filter(|t| !t.is_empty()) {
        let decls: Vec<Value> = tools
            .iter()
            .map(|t| {
                let f = &t["function"];
                let mut d = json!({"name": f["name"]});
                if let Some(desc) = f.get("description") {
                    d["description"] = desc.clone();
                }
                if let Some(p) = f.get("parameters") {
                    d["parameters"] = gemini_schema(p.clone());
                }
                d
            })
            .collect();
        g.insert("tools".into(), json!([{"functionDeclarations": decls}]));
        let cfg = match &req["tool_choice"] {
            Value::String(s) if s == "none" => json!({"mode": "NONE"}),
            Value::String(s) if s == "required" => json!({"mode": "ANY"}),
            Value::Object(o) => {
                json!({"mode": "ANY", "allowedFunctionNames": [o.get("function").map_or(Value::Null, |f| f["name"].clone())]})
            }
            _ => json!({"mode": "AUTO"}),
        };
        g.insert("toolConfig".into(), json!({"functionCallingConfig": cfg}));
    }
    Ok(Value::Object(g))
}

#[cfg(test)]
mod tests;
