//! Stream golden tests from the literal examples in protocols.md §1.4, §2.4, §3.4.

use super::*;

const ANTHROPIC_STREAM: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_01RQ","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type":"ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":57}}

event: message_stop
data: {"type":"message_stop"}

"#;

const OPENAI_TOOL_STREAM: &str = r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Par"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"is\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: [DONE]

"#;

const OPENAI_TEXT_STREAM: &str = r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}

data: [DONE]

"#;

const GEMINI_STREAM: &str = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":5,\"totalTokenCount\":5},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"abc\"}\r\n\r\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo!\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":3,\"totalTokenCount\":8},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"abc\"}\r\n\r\n";

/// Splits SSE text into (event, data) pairs.
fn events(text: &str) -> Vec<(Option<String>, String)> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = None;
            let mut data = Vec::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push(d);
                }
            }
            (name, data.join("\n"))
        })
        .collect()
}

/// Runs `input` (upstream dialect) through decoder and encoder (client dialect).
fn translate(input: &str, from: Dialect, to: Dialect, include_usage: bool) -> Vec<(Option<String>, String)> {
    let mut dec = StreamDecoder::new(from, "requested-model");
    let mut enc = StreamEncoder::new(to, include_usage, "requested-model");
    let mut out = Vec::new();
    let mut deltas = Vec::new();
    for (name, data) in events(input) {
        deltas.clear();
        dec.event(name.as_deref().map(str::as_bytes), data.as_bytes(), &mut deltas).unwrap();
        for d in &deltas {
            enc.push(d, &mut out);
        }
    }
    deltas.clear();
    dec.end(&mut deltas);
    for d in &deltas {
        enc.push(d, &mut out);
    }
    assert!(dec.complete(), "upstream stream ended properly");
    enc.finish(&mut out);
    events(&String::from_utf8(out).unwrap())
}

fn json_of(e: &(Option<String>, String)) -> Value {
    serde_json::from_str(&e.1).unwrap()
}

#[test]
fn anthropic_to_openai_with_streamed_tool_call() {
    let out = translate(ANTHROPIC_STREAM, Dialect::Anthropic, Dialect::OpenAi, true);
    assert_eq!(out.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = out[..out.len() - 1].iter().map(json_of).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role":"assistant","content":""}));
    assert_eq!(chunks[0]["model"], "claude-haiku-4-5-20251001");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hello");
    let start = &chunks[2]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!((start["index"].as_u64(), start["id"].as_str()), (Some(0), Some("toolu_01A")));
    assert_eq!(start["function"]["name"], "get_weather");
    let args: String = chunks[3..5]
        .iter()
        .map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), json!({"city":"Paris"}));
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[6]["choices"], json!([]));
    assert_eq!(chunks[6]["usage"], json!({"prompt_tokens":25,"completion_tokens":57,"total_tokens":82}));
    // Without include_usage there is no usage-only chunk (clients crash on choices: []).
    let out = translate(ANTHROPIC_STREAM, Dialect::Anthropic, Dialect::OpenAi, false);
    assert!(out.iter().all(|e| e.1 == "[DONE]" || json_of(e)["choices"] != json!([])));
}

#[test]
fn openai_tool_stream_to_anthropic_events() {
    let out = translate(OPENAI_TOOL_STREAM, Dialect::OpenAi, Dialect::Anthropic, false);
    let names: Vec<&str> = out.iter().map(|e| e.0.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for e in &out {
        assert_eq!(json_of(e)["type"], e.0.as_deref().unwrap(), "data repeats the event name");
    }
    let start = json_of(&out[0]);
    assert_eq!(start["message"]["role"], "assistant");
    assert!(start["message"]["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        json_of(&out[1])["content_block"],
        json!({"type":"tool_use","id":"call_abc","name":"get_weather","input":{}})
    );
    let args: String =
        out[2..4].iter().map(|e| json_of(e)["delta"]["partial_json"].as_str().unwrap().to_string()).collect();
    assert_eq!(args, r#"{"city":"Paris"}"#);
    assert_eq!(json_of(&out[5])["delta"]["stop_reason"], "tool_use");
    assert!(json_of(&out[5])["usage"]["output_tokens"].is_u64(), "the SDK reads it unconditionally");
}

#[test]
fn openai_text_stream_to_anthropic_carries_usage_in_message_delta() {
    let out = translate(OPENAI_TEXT_STREAM, Dialect::OpenAi, Dialect::Anthropic, false);
    let names: Vec<&str> = out.iter().map(|e| e.0.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(json_of(&out[2])["delta"], json!({"type":"text_delta","text":"Hello"}));
    let md = json_of(&out[4]);
    assert_eq!(md["delta"]["stop_reason"], "end_turn");
    assert_eq!(md["usage"], json!({"output_tokens":2,"input_tokens":9}));
}

#[test]
fn gemini_stream_to_openai_and_anthropic() {
    let out = translate(GEMINI_STREAM, Dialect::Gemini, Dialect::OpenAi, true);
    let chunks: Vec<Value> = out[..out.len() - 1].iter().map(json_of).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Hello!");
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks.last().unwrap()["usage"], json!({"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}));
    assert_eq!(out.last().unwrap().1, "[DONE]", "added although Gemini sends none");
    let out = translate(GEMINI_STREAM, Dialect::Gemini, Dialect::Anthropic, false);
    let text: String = out.iter().filter_map(|e| json_of(e)["delta"]["text"].as_str().map(str::to_string)).collect();
    assert_eq!(text, "Hello!");
    assert_eq!(out.last().unwrap().0.as_deref(), Some("message_stop"));
}

#[test]
fn gemini_function_call_arrives_whole() {
    let s = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"responseId\":\"r1\"}\n\n";
    let out = translate(s, Dialect::Gemini, Dialect::OpenAi, false);
    let chunks: Vec<Value> = out[..out.len() - 1].iter().map(json_of).collect();
    let call = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "tool_calls", "a call overrides STOP");
}

#[test]
fn errors_mid_stream() {
    let mut dec = StreamDecoder::new(Dialect::Anthropic, "m");
    let mut d = Vec::new();
    dec.event(
        Some(b"error"),
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        &mut d,
    )
    .unwrap();
    assert_eq!(d, vec![Delta::Error { kind: "overloaded_error".into(), message: "Overloaded".into() }]);
    let mut out = Vec::new();
    let mut enc = StreamEncoder::new(Dialect::OpenAi, false, "m");
    enc.push(&d[0], &mut out);
    enc.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#""error":{"#) && !text.contains("[DONE]"), "{text}");
    let mut out = Vec::new();
    let mut enc = StreamEncoder::new(Dialect::Anthropic, false, "m");
    enc.error("overloaded_error", "Overloaded", &mut out);
    let e = events(&String::from_utf8(out).unwrap());
    assert_eq!(e.last().unwrap().0.as_deref(), Some("error"));
    assert!(dec.event(None, b"{not json", &mut d).is_err());
    assert!(!StreamDecoder::new(Dialect::OpenAi, "m").complete());
}
