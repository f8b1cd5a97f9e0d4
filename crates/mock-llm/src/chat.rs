//! OpenAI chat-completion bodies and stream events produced by the mock.

use std::fmt::Write as _;

/// The fields of a request the mock looks at.
pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub prompt_tokens: usize,
}

impl ChatRequest {
    pub fn parse(body: &[u8]) -> Result<ChatRequest, String> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let model = v.get("model").and_then(|m| m.as_str()).ok_or("you must provide a model parameter")?.to_string();
        if !v.get("messages").is_some_and(|m| m.is_array()) {
            return Err("`messages` must be an array".into());
        }
        Ok(ChatRequest {
            model,
            stream: v.get("stream").and_then(|s| s.as_bool()).unwrap_or(false),
            include_usage: v.pointer("/stream_options/include_usage").and_then(|b| b.as_bool()).unwrap_or(false),
            // Roughly four bytes per token, like the usual estimate.
            prompt_tokens: body.len().div_ceil(4),
        })
    }
}

/// The i-th token of every answer; answers are "t0 t1 t2 ...".
pub fn token(i: usize) -> String {
    if i == 0 { "t0".into() } else { format!(" t{i}") }
}

fn usage_json(req: &ChatRequest, completion: usize) -> String {
    format!(
        r#"{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}}"#,
        req.prompt_tokens,
        completion,
        req.prompt_tokens + completion
    )
}

pub fn completion(req: &ChatRequest, id: &str, tokens: usize) -> String {
    let content: String = (0..tokens).map(token).collect();
    format!(
        r#"{{"id":"{id}","object":"chat.completion","created":1700000000,"model":{model},"choices":[{{"index":0,"message":{{"role":"assistant","content":{content},"refusal":null}},"logprobs":null,"finish_reason":"stop"}}],"usage":{usage},"system_fingerprint":"fp_mock"}}"#,
        model = serde_json::Value::from(req.model.as_str()),
        content = serde_json::Value::from(content),
        usage = usage_json(req, tokens),
    )
}

/// One `data:` event of a stream; `delta` is raw JSON.
fn chunk(req: &ChatRequest, id: &str, delta: &str, finish: Option<&str>) -> String {
    let mut s = String::with_capacity(200);
    let _ = write!(
        s,
        r#"data: {{"id":"{id}","object":"chat.completion.chunk","created":1700000000,"model":{},"choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{}}}]"#,
        serde_json::Value::from(req.model.as_str()),
        finish.map_or("null".to_string(), |f| format!("\"{f}\"")),
    );
    if req.include_usage {
        s.push_str(r#","usage":null"#);
    }
    s.push_str("}\n\n");
    s
}

/// The events of a streamed answer, in order, each a complete SSE event.
pub fn stream_events<'a>(req: &'a ChatRequest, id: &str, tokens: usize) -> impl Iterator<Item = String> + 'a {
    let id = id.to_string();
    let first = std::iter::once(chunk(req, &id, r#"{"role":"assistant","content":""}"#, None));
    let id2 = id.clone();
    let body = (0..tokens).map(move |i| {
        let delta = format!(r#"{{"content":{}}}"#, serde_json::Value::from(token(i)));
        chunk(req, &id2, &delta, None)
    });
    let id3 = id.clone();
    let finish = std::iter::once(chunk(req, &id3, "{}", Some("stop")));
    let usage = req.include_usage.then(|| {
        format!(
            r#"data: {{"id":"{id}","object":"chat.completion.chunk","created":1700000000,"model":{},"choices":[],"usage":{}}}"#,
            serde_json::Value::from(req.model.as_str()),
            usage_json(req, tokens)
        ) + "\n\n"
    });
    first.chain(body).chain(finish).chain(usage).chain(std::iter::once("data: [DONE]\n\n".to_string()))
}

pub fn error_json(status: u16, message: &str) -> String {
    let (kind, code) = match status {
        401 => ("invalid_request_error", "invalid_api_key"),
        404 => ("invalid_request_error", "not_found"),
        429 => ("rate_limit_exceeded", "rate_limit_exceeded"),
        400 => ("invalid_request_error", "bad_request"),
        _ => ("server_error", "server_error"),
    };
    format!(
        r#"{{"error":{{"message":{},"type":"{kind}","param":null,"code":"{code}"}}}}"#,
        serde_json::Value::from(message)
    )
}
