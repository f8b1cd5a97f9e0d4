//! Answers in the three dialects: whole bodies and stream events, tool calls included.
//!
//! Every answer is the tokens "t0 t1 t2 ..."; when the request offers tools and its last turn
//! is not a tool result, the answer is a call of the first tool with arguments that fit its
//! parameters (`{"query":"t0"}` when it declares none); when it asks for a JSON schema, the
//! answer is a value of that schema.

use serde_json::{Value, json};

/// Which wire format a request came in: the gateway's own enum, so the mock and the gateway
/// cannot disagree on the set of dialects.
pub use switchyard_wire::Dialect;

/// What the mock needs from any request.
pub struct ChatRequest {
    pub dialect: Dialect,
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub prompt_tokens: usize,
    /// The tool to call, when the answer is a tool call.
    pub tool: Option<String>,
    /// OpenAI `logprobs: true`.
    pub logprobs: bool,
    /// A fixed answer (words) instead of "t0 t1 ...", set by the server from `--answer`.
    pub answer: Option<Vec<String>>,
    /// Log-probability reported per token when asked, set from `--logprob`.
    pub logprob: f64,
    /// The request's own pace between streamed tokens (`"mock_token_interval_ms"` in the
    /// body), so one mock can serve load tests at several paces.
    pub token_interval_ms: Option<u64>,
    /// The request's own answer length (`"mock_tokens"` in the body), overriding `--tokens`:
    /// load tests mix one-token and long streams on one mock.
    pub tokens: Option<usize>,
    /// Arguments of the tool call (JSON text).
    pub tool_args: String,
}

impl ChatRequest {
    /// The i-th piece of the answer.
    pub fn tok(&self, i: usize) -> String {
        match &self.answer {
            Some(words) => words.get(i).cloned().unwrap_or_default(),
            None => token(i),
        }
    }

    /// Tokens in the answer.
    pub fn token_count(&self, configured: usize) -> usize {
        self.answer.as_ref().map_or(configured, Vec::len)
    }
}

/// The longest answer a request may ask for with `mock_tokens`: a stream's events are built
/// before it starts, so an unbounded count would be the mock's memory.
pub const MAX_MOCK_TOKENS: u64 = 100_000;

fn bad(msg: &str) -> Result<ChatRequest, String> {
    Err(msg.to_string())
}

impl ChatRequest {
    /// Parses a body of `dialect`; for Gemini `model` and `stream` come from the URL.
    pub fn parse(dialect: Dialect, body: &[u8], url_model: Option<(&str, bool)>) -> Result<ChatRequest, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let prompt_tokens = body.len().div_ceil(4);
        let token_interval_ms = v["mock_token_interval_ms"].as_u64();
        let mut r = ChatRequest::parse_dialect(dialect, &v, url_model)?;
        r.prompt_tokens = prompt_tokens;
        r.token_interval_ms = token_interval_ms;
        r.tokens = match v.get("mock_tokens").map(Value::as_u64) {
            None => None,
            Some(Some(n)) if n <= MAX_MOCK_TOKENS => Some(n as usize),
            Some(_) => return bad(&format!("mock_tokens: a whole number up to {MAX_MOCK_TOKENS}")),
        };
        let (params, schema) = match dialect {
            Dialect::OpenAi => ("/tools/0/function/parameters", "/response_format/json_schema/schema"),
            Dialect::Anthropic => ("/tools/0/input_schema", "/output_format/schema"),
            Dialect::Gemini => ("/tools/0/functionDeclarations/0/parameters", "/generationConfig/responseSchema"),
            Dialect::Responses => ("/tools/0/parameters", "/text/format/schema"),
        };
        if let Some(p) = v.pointer(params).filter(|p| p.get("properties").is_some()) {
            r.tool_args = crate::schema::example(p).to_string();
        }
        if let Some(s) = v.pointer(schema).filter(|_| r.tool.is_none()) {
            r.answer = Some(vec![crate::schema::example(s).to_string()]);
        }
        Ok(r)
    }

    fn parse_dialect(dialect: Dialect, v: &Value, url_model: Option<(&str, bool)>) -> Result<ChatRequest, String> {
        let (prompt_tokens, token_interval_ms, tool_args) = (0, None, TOOL_ARGS.to_string());
        match dialect {
            Dialect::OpenAi => {
                let Some(model) = v["model"].as_str() else { return bad("you must provide a model parameter") };
                let Some(msgs) = v["messages"].as_array() else { return bad("`messages` must be an array") };
                let last_is_result = msgs.last().is_some_and(|m| m["role"] == "tool");
                Ok(ChatRequest {
                    dialect,
                    model: model.to_string(),
                    stream: v["stream"].as_bool().unwrap_or(false),
                    include_usage: v.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false),
                    prompt_tokens,
                    tool: (!last_is_result)
                        .then(|| v.pointer("/tools/0/function/name").and_then(Value::as_str).map(str::to_string))
                        .flatten(),
                    logprobs: v["logprobs"].as_bool().unwrap_or(false),
                    answer: None,
                    logprob: 0.0,
                    token_interval_ms,
                    tokens: None,
                    tool_args,
                })
            }
            Dialect::Anthropic => {
                let Some(model) = v["model"].as_str() else { return bad("model: Field required") };
                if !v["max_tokens"].is_u64() {
                    return bad("max_tokens: Field required");
                }
                let Some(msgs) = v["messages"].as_array() else { return bad("messages: Field required") };
                // System turns inside `messages` are a beta (server.rs checks the header).
                if msgs.iter().any(|m| m["role"] != "user" && m["role"] != "assistant" && m["role"] != "system") {
                    return bad("messages: roles must be user or assistant");
                }
                let last_is_result = msgs
                    .last()
                    .and_then(|m| m["content"].as_array())
                    .is_some_and(|b| b.iter().any(|b| b["type"] == "tool_result"));
                Ok(ChatRequest {
                    dialect,
                    model: model.to_string(),
                    stream: v["stream"].as_bool().unwrap_or(false),
                    include_usage: true,
                    prompt_tokens,
                    tool: (!last_is_result)
                        .then(|| v.pointer("/tools/0/name").and_then(Value::as_str).map(str::to_string))
                        .flatten(),
                    logprobs: false,
                    answer: None,
                    logprob: 0.0,
                    token_interval_ms,
                    tokens: None,
                    tool_args,
                })
            }
            Dialect::Responses => {
                let Some(model) = v["model"].as_str() else { return bad("Missing required parameter: 'model'.") };
                let items = match &v["input"] {
                    Value::String(_) => &[][..],
                    Value::Array(items) => items.as_slice(),
                    _ => return bad("Missing required parameter: 'input'."),
                };
                let last_is_result = items.last().is_some_and(|i| i["type"] == "function_call_output");
                let tool = v["tools"]
                    .as_array()
                    .and_then(|t| t.iter().find(|t| t["type"] == "function"))
                    .and_then(|t| t["name"].as_str());
                Ok(ChatRequest {
                    dialect,
                    model: model.to_string(),
                    stream: v["stream"].as_bool().unwrap_or(false),
                    include_usage: true,
                    prompt_tokens,
                    tool: tool.filter(|_| !last_is_result).map(str::to_string),
                    logprobs: false,
                    answer: None,
                    logprob: 0.0,
                    token_interval_ms,
                    tokens: None,
                    tool_args,
                })
            }
            Dialect::Gemini => {
                let (model, stream) = url_model.unwrap_or(("gemini", false));
                let Some(contents) = v["contents"].as_array() else { return bad("contents: required") };
                if contents.iter().any(|c| c["role"] != "user" && c["role"] != "model") {
                    return bad("Please use a valid role: user, model.");
                }
                let last_is_result = contents
                    .last()
                    .and_then(|c| c["parts"].as_array())
                    .is_some_and(|p| p.iter().any(|p| p.get("functionResponse").is_some()));
                Ok(ChatRequest {
                    dialect,
                    model: model.to_string(),
                    stream,
                    include_usage: true,
                    prompt_tokens,
                    tool: (!last_is_result)
                        .then(|| {
                            v.pointer("/tools/0/functionDeclarations/0/name")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        })
                        .flatten(),
                    logprobs: false,
                    answer: None,
                    logprob: 0.0,
                    token_interval_ms,
                    tokens: None,
                    tool_args,
                })
            }
        }
    }
}

/// The i-th token of every answer.
pub fn token(i: usize) -> String {
    if i == 0 { "t0".into() } else { format!(" t{i}") }
}

const TOOL_ARGS: &str = r#"{"query":"t0"}"#;

/// A whole (non-streamed) answer body.
pub fn completion(req: &ChatRequest, id: &str, tokens: usize) -> String {
    let tokens = req.token_count(tokens);
    let text: String = (0..tokens).map(|i| req.tok(i)).collect();
    let (p, c) = (req.prompt_tokens, tokens);
    match req.dialect {
        Dialect::OpenAi => {
            let (message, finish) = match &req.tool {
                Some(name) => (
                    json!({"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":format!("call_{id}"),"type":"function","function":{"name":name,"arguments":req.tool_args}}]}),
                    "tool_calls",
                ),
                None => (json!({"role":"assistant","content":text,"refusal":null}), "stop"),
            };
            let logprobs = if req.logprobs {
                json!({"content": (0..tokens).map(|i| json!({"token": req.tok(i), "logprob": req.logprob, "bytes": null, "top_logprobs": []})).collect::<Vec<_>>()})
            } else {
                Value::Null
            };
            json!({"id":id,"object":"chat.completion","created":1700000000,"model":req.model,
                "choices":[{"index":0,"message":message,"logprobs":logprobs,"finish_reason":finish}],
                "usage":{"prompt_tokens":p,"completion_tokens":c,"total_tokens":p+c},"system_fingerprint":"fp_mock"})
            .to_string()
        }
        Dialect::Anthropic => {
            let (content, stop) = match &req.tool {
                Some(name) => {
                    (json!([{"type":"tool_use","id":format!("toolu_{id}"),"name":name,"input":args(req)}]), "tool_use")
                }
                None => (json!([{"type":"text","text":text}]), "end_turn"),
            };
            json!({"id":format!("msg_{id}"),"type":"message","role":"assistant","model":req.model,"content":content,
                "stop_reason":stop,"stop_sequence":null,
                "usage":{"input_tokens":p,"output_tokens":c,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}})
            .to_string()
        }
        Dialect::Responses => {
            let item = match &req.tool {
                Some(name) => json!({"type":"function_call","id":format!("fc_{id}"),"call_id":format!("call_{id}"),
                    "name":name,"arguments":req.tool_args,"status":"completed"}),
                None => json!({"type":"message","id":format!("msg_{id}"),"status":"completed","role":"assistant",
                    "content":[{"type":"output_text","text":text,"annotations":[]}]}),
            };
            responses_object(
                req,
                id,
                "completed",
                json!([item]),
                json!({"input_tokens":p,"output_tokens":c,"total_tokens":p+c,
                "input_tokens_details":{"cached_tokens":0},"output_tokens_details":{"reasoning_tokens":0}}),
            )
            .to_string()
        }
        Dialect::Gemini => {
            let parts = match &req.tool {
                Some(name) => json!([{"functionCall":{"name":name,"args":args(req)}}]),
                None => json!([{"text":text}]),
            };
            json!({"candidates":[{"content":{"role":"model","parts":parts},"finishReason":"STOP","index":0}],
                "usageMetadata":{"promptTokenCount":p,"candidatesTokenCount":c,"totalTokenCount":p+c},
                "modelVersion":req.model,"responseId":id})
            .to_string()
        }
    }
}

fn sse(event: Option<&str>, data: &Value) -> String {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// The events of a streamed answer, in order, each a complete SSE event. Tokens are the
/// paced part: the server sleeps between events.
pub fn stream_events(req: &ChatRequest, id: &str, tokens: usize) -> Vec<String> {
    let tokens = req.token_count(tokens);
    let (p, c) = (req.prompt_tokens, tokens);
    let mut ev = Vec::with_capacity(tokens + 6);
    match req.dialect {
        Dialect::OpenAi => {
            let chunk = |delta: Value, finish: Option<&str>| {
                let mut v = json!({"id":id,"object":"chat.completion.chunk","created":1700000000,"model":req.model,
                    "choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}]});
                if req.include_usage {
                    v["usage"] = Value::Null;
                }
                sse(None, &v)
            };
            match &req.tool {
                Some(name) => {
                    ev.push(chunk(json!({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":format!("call_{id}"),"type":"function","function":{"name":name,"arguments":""}}]}), None));
                    for frag in halves(&req.tool_args) {
                        ev.push(chunk(json!({"tool_calls":[{"index":0,"function":{"arguments":frag}}]}), None));
                    }
                    ev.push(chunk(json!({}), Some("tool_calls")));
                }
                None => {
                    ev.push(chunk(json!({"role":"assistant","content":""}), None));
                    ev.extend((0..tokens).map(|i| chunk(json!({"content":req.tok(i)}), None)));
                    ev.push(chunk(json!({}), Some("stop")));
                }
            }
            if req.include_usage {
                ev.push(sse(
                    None,
                    &json!({"id":id,"object":"chat.completion.chunk","created":1700000000,"model":req.model,
                    "choices":[],"usage":{"prompt_tokens":p,"completion_tokens":c,"total_tokens":p+c}}),
                ));
            }
            ev.push("data: [DONE]\n\n".to_string());
        }
        Dialect::Anthropic => {
            ev.push(sse(Some("message_start"), &json!({"type":"message_start","message":{"id":format!("msg_{id}"),"type":"message","role":"assistant",
                "model":req.model,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":p,"output_tokens":1}}})));
            let stop = match &req.tool {
                Some(name) => {
                    ev.push(sse(
                        Some("content_block_start"),
                        &json!({"type":"content_block_start","index":0,
                        "content_block":{"type":"tool_use","id":format!("toolu_{id}"),"name":name,"input":{}}}),
                    ));
                    for frag in halves(&req.tool_args) {
                        ev.push(sse(
                            Some("content_block_delta"),
                            &json!({"type":"content_block_delta","index":0,
                            "delta":{"type":"input_json_delta","partial_json":frag}}),
                        ));
                    }
                    "tool_use"
                }
                None => {
                    ev.push(sse(
                        Some("content_block_start"),
                        &json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
                    ));
                    ev.push(sse(Some("ping"), &json!({"type":"ping"})));
                    ev.extend((0..tokens).map(|i| {
                        sse(
                            Some("content_block_delta"),
                            &json!({"type":"content_block_delta","index":0,
                        "delta":{"type":"text_delta","text":req.tok(i)}}),
                        )
                    }));
                    "end_turn"
                }
            };
            ev.push(sse(Some("content_block_stop"), &json!({"type":"content_block_stop","index":0})));
            ev.push(sse(Some("message_delta"), &json!({"type":"message_delta","delta":{"stop_reason":stop,"stop_sequence":null},"usage":{"output_tokens":c}})));
            ev.push(sse(Some("message_stop"), &json!({"type":"message_stop"})));
        }
        Dialect::Responses => responses_events(req, id, tokens, &mut ev),
        Dialect::Gemini => {
            let chunk = |parts: Value, last: bool| {
                let mut v = json!({"candidates":[{"content":{"role":"model","parts":parts},"index":0}],
                    "usageMetadata":{"promptTokenCount":p,"totalTokenCount":p},"modelVersion":req.model,"responseId":id});
                if last {
                    v["candidates"][0]["finishReason"] = json!("STOP");
                    v["usageMetadata"] = json!({"promptTokenCount":p,"candidatesTokenCount":c,"totalTokenCount":p+c});
                }
                // Gemini's SSE uses CRLF line ends (protocols.md §3.4).
                format!("data: {v}\r\n\r\n")
            };
            match &req.tool {
                Some(name) => ev.push(chunk(json!([{"functionCall":{"name":name,"args":args(req)}}]), true)),
                None => {
                    for i in 0..tokens {
                        ev.push(chunk(json!([{"text":req.tok(i)}]), i + 1 == tokens));
                    }
                    if tokens == 0 {
                        ev.push(chunk(json!([{"text":""}]), true));
                    }
                }
            }
        }
    }
    ev
}

/// An error body in `dialect` for `status`.
pub fn error_json(dialect: Dialect, status: u16, message: &str) -> String {
    match dialect {
        Dialect::OpenAi | Dialect::Responses => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", "invalid_api_key"),
                404 => ("invalid_request_error", "not_found"),
                429 => ("rate_limit_exceeded", "rate_limit_exceeded"),
                400 => ("invalid_request_error", "bad_request"),
                _ => ("server_error", "server_error"),
            };
            json!({"error":{"message":message,"type":kind,"param":null,"code":code}}).to_string()
        }
        Dialect::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type":"error","error":{"type":kind,"message":message},"request_id":"req_mock"}).to_string()
        }
        Dialect::Gemini => {
            let st = match status {
                400 => "INVALID_ARGUMENT",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                504 => "DEADLINE_EXCEEDED",
                _ => "INTERNAL",
            };
            json!({"error":{"code":status,"message":message,"status":st}}).to_string()
        }
    }
}

/// The tool call's arguments as an object.
fn args(req: &ChatRequest) -> Value {
    serde_json::from_str(&req.tool_args).unwrap_or_else(|_| json!({}))
}

/// Arguments text in two fragments, as providers stream them.
fn halves(s: &str) -> [&str; 2] {
    let mid = (0..=s.len() / 2).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    [&s[..mid], &s[mid..]]
}

/// A Responses API `response` object.
fn responses_object(req: &ChatRequest, id: &str, status: &str, output: Value, usage: Value) -> Value {
    json!({"id":format!("resp_{id}"),"object":"response","created_at":1700000000,"status":status,"error":null,
        "incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":req.model,"output":output,
        "parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},
        "store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],
        "top_p":1.0,"truncation":"disabled","usage":usage,"user":null,"metadata":{}})
}

/// The events of a streamed Responses API answer.
fn responses_events(req: &ChatRequest, id: &str, tokens: usize, ev: &mut Vec<String>) {
    let mut seq = 0;
    let mut push = |kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        ev.push(sse(Some(kind), &data));
    };
    let empty = responses_object(req, id, "in_progress", json!([]), Value::Null);
    push("response.created", json!({"response": empty}));
    push("response.in_progress", json!({"response": empty}));
    let item = match &req.tool {
        Some(name) => {
            let fc = format!("fc_{id}");
            let mut item = json!({"type":"function_call","id":fc,"call_id":format!("call_{id}"),"name":name,
                "arguments":"","status":"in_progress"});
            push("response.output_item.added", json!({"output_index":0,"item":item}));
            for frag in halves(&req.tool_args) {
                push("response.function_call_arguments.delta", json!({"item_id":fc,"output_index":0,"delta":frag}));
            }
            push(
                "response.function_call_arguments.done",
                json!({"item_id":fc,"output_index":0,"arguments":req.tool_args}),
            );
            item["arguments"] = json!(req.tool_args);
            item["status"] = json!("completed");
            item
        }
        None => {
            let msg = format!("msg_{id}");
            let text: String = (0..tokens).map(|i| req.tok(i)).collect();
            push(
                "response.output_item.added",
                json!({"output_index":0,"item":{"type":"message","id":msg,
                "status":"in_progress","role":"assistant","content":[]}}),
            );
            let part = json!({"type":"output_text","text":"","annotations":[]});
            push("response.content_part.added", json!({"item_id":msg,"output_index":0,"content_index":0,"part":part}));
            for i in 0..tokens {
                push(
                    "response.output_text.delta",
                    json!({"item_id":msg,"output_index":0,"content_index":0,"delta":req.tok(i)}),
                );
            }
            push("response.output_text.done", json!({"item_id":msg,"output_index":0,"content_index":0,"text":text}));
            let part = json!({"type":"output_text","text":text,"annotations":[]});
            push("response.content_part.done", json!({"item_id":msg,"output_index":0,"content_index":0,"part":part}));
            json!({"type":"message","id":msg,"status":"completed","role":"assistant","content":[part]})
        }
    };
    push("response.output_item.done", json!({"output_index":0,"item":item}));
    let (p, c) = (req.prompt_tokens, tokens);
    let usage = json!({"input_tokens":p,"output_tokens":c,"total_tokens":p+c,
        "input_tokens_details":{"cached_tokens":0},"output_tokens_details":{"reasoning_tokens":0}});
    push("response.completed", json!({"response": responses_object(req, id, "completed", json!([item]), usage)}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_tokens_is_bounded() {
        let body =
            |n: &str| format!(r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}],"mock_tokens":{n}}}"#);
        let parse = |n: &str| ChatRequest::parse(Dialect::OpenAi, body(n).as_bytes(), None);
        assert_eq!(parse("3").unwrap().tokens, Some(3));
        assert_eq!(parse("100000").unwrap().tokens, Some(100_000));
        for bad in ["100001", "-1", "1.5", "\"9\"", "1e12"] {
            assert!(parse(bad).err().is_some_and(|e| e.contains("mock_tokens")), "{bad}");
        }
        let plain = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        assert_eq!(ChatRequest::parse(Dialect::OpenAi, plain, None).unwrap().tokens, None);
    }
}
