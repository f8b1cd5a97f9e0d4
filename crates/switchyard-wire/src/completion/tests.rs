//! Golden tests from the literal examples in protocols.md §1.3, §2.3, §3.3.

use super::*;

fn openai_example() -> Value {
    json!({"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,
     "model":"gpt-4o-mini-2024-07-18",
     "choices":[{"index":0,"message":{"role":"assistant","content":"4","refusal":null},
                 "logprobs":null,"finish_reason":"stop"}],
     "usage":{"prompt_tokens":19,"completion_tokens":1,"total_tokens":20,
              "prompt_tokens_details":{"cached_tokens":0},
              "completion_tokens_details":{"reasoning_tokens":0}},
     "service_tier":"default","system_fingerprint":"fp_44709d6fcb"})
}

fn anthropic_example() -> Value {
    json!({"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001",
     "content":[{"type":"text","text":"Let me check."},
                {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris"}}],
     "stop_reason":"tool_use","stop_sequence":null,
     "usage":{"input_tokens":412,"output_tokens":57,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}})
}

fn gemini_example() -> Value {
    json!({"candidates":[{"content":{"role":"model","parts":[{"text":"4"}]},"finishReason":"STOP","index":0}],
     "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":1,"totalTokenCount":13,
                      "thoughtsTokenCount":0,"cachedContentTokenCount":0},
     "modelVersion":"gemini-2.5-flash","responseId":"b0MraIMFoqnf-Q-D66G4BQ"})
}

#[test]
fn anthropic_to_openai_with_tool_call() {
    let c = Completion::from_anthropic(&anthropic_example()).unwrap();
    let o = c.to_openai();
    assert_eq!(o["object"], "chat.completion");
    assert_eq!(o["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(o["choices"][0]["message"]["content"], "Let me check.");
    let call = &o["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_01A");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city":"Paris"})
    );
    assert_eq!(o["usage"], json!({"prompt_tokens":412,"completion_tokens":57,"total_tokens":469}));
}

#[test]
fn openai_to_anthropic() {
    let a = Completion::from_openai(&openai_example()).unwrap().to_anthropic();
    assert_eq!(a["type"], "message");
    assert_eq!(a["content"], json!([{"type":"text","text":"4"}]));
    assert_eq!(a["stop_reason"], "end_turn");
    assert_eq!(a["usage"]["input_tokens"], 19);
    assert_eq!(a["usage"]["output_tokens"], 1);
    assert!(a["id"].as_str().unwrap().starts_with("msg_"));
    // An OpenAI tool call becomes a tool_use block with an object input.
    let mut t = openai_example();
    t["choices"][0]["message"] = json!({"role":"assistant","content":null,"refusal":null,
        "tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]});
    t["choices"][0]["finish_reason"] = json!("tool_calls");
    let a = Completion::from_openai(&t).unwrap().to_anthropic();
    assert_eq!(
        a["content"],
        json!([{"type":"tool_use","id":"call_abc","name":"get_weather","input":{"city":"Paris"}}])
    );
    assert_eq!(a["stop_reason"], "tool_use");
}

#[test]
fn gemini_to_openai_and_anthropic() {
    let c = Completion::from_gemini(&gemini_example(), "gemini-2.5-flash").unwrap();
    let o = c.to_openai();
    assert_eq!(o["choices"][0]["message"]["content"], "4");
    assert_eq!(o["choices"][0]["finish_reason"], "stop");
    assert_eq!(o["usage"]["total_tokens"], 13);
    assert_eq!(o["model"], "gemini-2.5-flash");
    let a = c.to_anthropic();
    assert_eq!(a["stop_reason"], "end_turn");
    // A function call (args object, no id) gets a synthesised id and finish tool_calls.
    let mut g = gemini_example();
    g["candidates"][0]["content"]["parts"] = json!([{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]);
    let c = Completion::from_gemini(&g, "m").unwrap();
    assert_eq!(c.finish, FinishReason::ToolCalls);
    assert_eq!(c.tool_calls[0].name, "get_weather");
    assert!(c.tool_calls[0].id.starts_with("call_"));
    assert_eq!(args_object(&c.tool_calls[0].arguments), json!({"city":"Paris"}));
    // Thought parts are not content; blocked prompts are content_filter.
    g["candidates"][0]["content"]["parts"] = json!([{"text":"hmm","thought":true},{"text":"ok"}]);
    assert_eq!(Completion::from_gemini(&g, "m").unwrap().text, "ok");
    let blocked = json!({"promptFeedback":{"blockReason":"SAFETY"}});
    assert_eq!(Completion::from_gemini(&blocked, "m").unwrap().finish, FinishReason::ContentFilter);
}

#[test]
fn finish_reason_tables() {
    for (a, o) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ] {
        assert_eq!(FinishReason::from_anthropic(a).openai(), o, "{a}");
    }
    for (g, o) in [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
    ] {
        assert_eq!(FinishReason::from_gemini(g).openai(), o, "{g}");
    }
    for (o, a) in
        [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")]
    {
        assert_eq!(FinishReason::from_openai(o).anthropic(), a);
    }
}

#[test]
fn tool_signatures_ignore_key_order_spacing_and_call_ids() {
    let call = |id: &str, args: &str| ToolCall { id: id.into(), name: "get_weather".into(), arguments: args.into() };
    let a = tool_signature(&[call("call_1", r#"{"city": "Paris", "unit": "c"}"#)]);
    let b = tool_signature(&[call("toolu_9", r#"{"unit":"c","city":"Paris"}"#)]);
    assert_eq!(a, b);
    assert_eq!(a.as_deref(), Some(r#"get_weather({"city":"Paris","unit":"c"})"#));
    assert_ne!(a, tool_signature(&[call("call_1", r#"{"city":"Lyon","unit":"c"}"#)]));
    assert_eq!(tool_signature(&[]), None);
}
