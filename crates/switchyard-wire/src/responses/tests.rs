use serde_json::json;

use super::*;
use crate::Dialect;
use crate::stream::{Delta, StreamDecoder, StreamEncoder};

#[test]
fn input_items_become_chat_turns() {
    let req = json!({"model": "m", "instructions": "be brief", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\":1}"},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "role": "developer", "content": "dev note"},
    ], "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}, {"type": "web_search"}],
       "tool_choice": {"type": "function", "name": "f"}, "max_output_tokens": 9, "stream": true});
    let prior = [json!({"role": "user", "content": "before"})];
    let h = to_hub(&req, &prior).unwrap();
    assert_eq!(h.conversation_from, 1);
    assert_eq!(h.builtin_tool.as_deref(), Some("web_search"));
    let m = &h.hub["messages"];
    assert_eq!(m[0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(m[1], prior[0]);
    assert_eq!(
        m[2]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}})
    );
    assert_eq!(m[3]["tool_calls"].as_array().unwrap().len(), 2, "calls in a row join one assistant turn");
    assert_eq!(m[4], json!({"role": "tool", "tool_call_id": "c1", "content": "one"}));
    assert_eq!(m[5], json!({"role": "developer", "content": "dev note"}), "reasoning items are dropped");
    assert_eq!(
        h.hub["tools"],
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    );
    assert_eq!(h.hub["tool_choice"], json!({"type": "function", "function": {"name": "f"}}));
    assert_eq!(h.hub["max_completion_tokens"], 9);
    assert_eq!(h.hub["stream"], true);
    assert!(to_hub(&json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}), &[]).is_err());
    assert!(to_hub(&json!({"model": "m", "input": 3}), &[]).is_err());
}

fn meta() -> ResponsesMeta {
    let mut m = ResponsesMeta::of(&json!({"instructions": "x", "temperature": 0.5}), "resp_abc".into());
    m.created_at = 1;
    m
}

#[test]
fn whole_answers_render_and_read_back() {
    let c = Completion {
        id: "up".into(),
        model: "m".into(),
        text: "hello".into(),
        tool_calls: vec![ToolCall { id: "c1".into(), name: "f".into(), arguments: "{}".into() }],
        finish: FinishReason::ToolCalls,
        usage: Usage::openai(10, 4, 2, 1),
    };
    let r = c.to_responses(&meta());
    assert_eq!(r["id"], "resp_abc");
    assert_eq!(r["instructions"], "x");
    assert_eq!(r["temperature"], 0.5);
    assert_eq!(r["tools"], json!([]));
    assert_eq!(r["output"][0]["content"][0]["text"], "hello");
    assert_eq!(r["output"][1]["call_id"], "c1");
    assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 2);
    let back = Completion::from_responses(&r).unwrap();
    assert_eq!((back.text.as_str(), back.tool_calls.len(), back.finish), ("hello", 1, FinishReason::ToolCalls));
    assert_eq!(back.usage, c.usage);
    let cut = Completion { finish: FinishReason::Length, tool_calls: vec![], ..c };
    let r = cut.to_responses(&meta());
    assert_eq!(
        (r["status"].as_str(), r["incomplete_details"]["reason"].as_str()),
        (Some("incomplete"), Some("max_output_tokens"))
    );
}

#[test]
fn encoded_events_decode_to_the_same_deltas() {
    let deltas = [
        Delta::Start { id: "x".into(), model: "m".into() },
        Delta::Text("he".into()),
        Delta::Text("llo".into()),
        Delta::ToolStart { index: 0, id: "c1".into(), name: "f".into() },
        Delta::ToolArgs { index: 0, fragment: "{\"a\":".into() },
        Delta::ToolStart { index: 1, id: "c2".into(), name: "g".into() },
        Delta::ToolArgs { index: 0, fragment: "1}".into() },
        Delta::Finish(FinishReason::ToolCalls),
        Delta::Usage(Usage::openai(3, 2, 0, 0)),
    ];
    let mut enc = StreamEncoder::for_responses(meta(), "m");
    let mut out = Vec::new();
    for d in &deltas {
        enc.push(d, &mut out);
    }
    enc.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    let mut dec = StreamDecoder::new(Dialect::Responses, "m");
    let mut got = Vec::new();
    let mut last = None;
    for ev in text.split("\n\n").filter(|e| !e.is_empty()) {
        let name = ev.lines().find_map(|l| l.strip_prefix("event: ")).unwrap();
        let data = ev.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        dec.event(Some(name.as_bytes()), data.as_bytes(), &mut got).unwrap();
        last = Some(serde_json::from_str::<serde_json::Value>(data).unwrap());
    }
    assert!(dec.complete());
    let text: String =
        got.iter().filter_map(|d| if let Delta::Text(t) = d { Some(t.as_str()) } else { None }).collect();
    assert_eq!(text, "hello");
    let args: String = got
        .iter()
        .filter_map(|d| if let Delta::ToolArgs { index: 0, fragment } = d { Some(fragment.as_str()) } else { None })
        .collect();
    assert_eq!(args, "{\"a\":1}", "arguments of an earlier call still reach it");
    assert!(got.contains(&Delta::Usage(Usage::openai(3, 2, 0, 0))));
    let done = last.unwrap();
    assert_eq!(done["type"], "response.completed");
    assert_eq!(done["response"]["output"].as_array().unwrap().len(), 3);
    assert_eq!(done["response"]["output"][2]["arguments"], "{}", "a call without arguments has an empty object");
}

#[test]
fn a_failed_stream_ends_with_response_failed() {
    let mut enc = StreamEncoder::for_responses(meta(), "m");
    let mut out = Vec::new();
    enc.push(&Delta::Text("a".into()), &mut out);
    enc.error("api_error", "boom", &mut out);
    enc.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("event: error\n"));
    assert!(text.trim_end().split("\n\n").last().unwrap().starts_with("event: response.failed"), "{text}");
    assert!(!text.contains("response.completed"));
}

#[test]
fn codex_tools_translate_custom_and_namespaced() {
    let req = json!({"model": "m", "tools": [
        {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
        {"type": "namespace", "name": "multi_agent_v1", "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}]},
        {"type": "custom", "name": "apply_patch", "description": "patch", "format": {"type": "grammar"}}],
        "input": [{"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
                  {"type": "custom_tool_call_output", "call_id": "c1", "output": "done"}]});
    let h = to_hub(&req, &[]).unwrap();
    assert_eq!(h.builtin_tool, None);
    let names: Vec<&str> =
        h.hub["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["exec_command", "spawn_agent", "apply_patch"]);
    let args = h.hub["messages"][0]["tool_calls"][0]["function"]["arguments"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(args).unwrap(), json!({"input": "*** Begin Patch"}));
    assert_eq!(h.hub["messages"][1]["content"], "done");
    let meta = ResponsesMeta::of(&req, "resp_x".into());
    let c = Completion {
        id: "u".into(),
        model: "m".into(),
        text: String::new(),
        tool_calls: vec![ToolCall {
            id: "c2".into(),
            name: "apply_patch".into(),
            arguments: "{\"input\":\"*** Patch\"}".into(),
        }],
        finish: FinishReason::ToolCalls,
        usage: Usage::default(),
    };
    let item = &c.to_responses(&meta)["output"][0];
    assert_eq!((item["type"].as_str(), item["input"].as_str()), (Some("custom_tool_call"), Some("*** Patch")));
}
