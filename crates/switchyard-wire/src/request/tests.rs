//! Golden tests from protocols.md §1.2, §2.2, §3.2 and the mappings of §4.

use super::*;

fn openai_tools_request() -> Value {
    json!({"model":"gpt-4o-mini","stream":false,"max_completion_tokens":64,"temperature":0.2,"stop":["END", "  "],
     "messages":[{"role":"system","content":"Be terse."},
                 {"role":"user","content":[{"type":"text","text":"What is 2+2?"}]},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function",
                    "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
                 {"role":"tool","tool_call_id":"call_abc","content":"18C, sunny"}],
     "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather",
        "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}],
     "tool_choice":"auto","user":"u-123"})
}

#[test]
fn openai_to_anthropic_maps_roles_tools_and_params() {
    let a = openai_to_anthropic(&openai_tools_request(), "claude-haiku-4-5").unwrap();
    assert_eq!(a["model"], "claude-haiku-4-5");
    assert_eq!(a["max_tokens"], 64);
    assert_eq!(a["system"], "Be terse.");
    assert_eq!(a["temperature"], 0.2);
    assert_eq!(a["stop_sequences"], json!(["END"]), "whitespace-only stops dropped");
    assert_eq!(a["metadata"], json!({"user_id":"u-123"}));
    assert_eq!(
        a["messages"],
        json!([
            {"role":"user","content":[{"type":"text","text":"What is 2+2?"}]},
            {"role":"assistant","content":[{"type":"tool_use","id":"call_abc","name":"get_weather","input":{"city":"Paris"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"call_abc","content":"18C, sunny"}]},
        ])
    );
    assert_eq!(a["tools"][0]["name"], "get_weather");
    assert_eq!(a["tools"][0]["input_schema"]["required"], json!(["city"]));
    assert_eq!(a["tool_choice"], json!({"type":"auto"}));
}

#[test]
fn openai_to_anthropic_defaults_and_limits() {
    let r = json!({"model":"x","messages":[{"role":"user","content":"hi"}],"temperature":1.7,"tool_choice":"required",
        "tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false});
    let a = openai_to_anthropic(&r, "m").unwrap();
    assert_eq!(a["max_tokens"], DEFAULT_ANTHROPIC_MAX_TOKENS);
    assert_eq!(a["temperature"], 1.0);
    assert_eq!(a["tool_choice"], json!({"type":"any","disable_parallel_tool_use":true}));
    assert_eq!(a["tools"][0]["input_schema"], json!({"type":"object"}));
    let r = json!({"model":"x","n":2,"messages":[]});
    assert!(matches!(openai_to_anthropic(&r, "m"), Err(TranslateError::Unsupported(..))));
    let img = json!({"model":"x","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]});
    assert_eq!(
        openai_to_anthropic(&img, "m").unwrap()["messages"][0]["content"][0],
        json!({"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}})
    );
}

#[test]
fn anthropic_to_openai_from_the_protocols_example() {
    let a = json!({"model":"claude-haiku-4-5","max_tokens":256,"system":"Be terse.",
     "messages":[{"role":"user","content":"What is the weather in Paris?"},
                 {"role":"assistant","content":[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris"}}]},
                 {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A","content":"18C, sunny"}]}],
     "tools":[{"name":"get_weather","description":"Current weather",
               "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],
     "tool_choice":{"type":"auto"},"stream":false,"stop_sequences":["END"],"metadata":{"user_id":"u1"}});
    let o = anthropic_to_openai(&a).unwrap();
    assert_eq!(o["model"], "claude-haiku-4-5");
    assert_eq!(o["max_tokens"], 256);
    assert_eq!(o["stop"], json!(["END"]));
    assert_eq!(o["user"], "u1");
    assert_eq!(
        o["messages"],
        json!([
            {"role":"system","content":"Be terse."},
            {"role":"user","content":"What is the weather in Paris?"},
            {"role":"assistant","content":"Let me check.","tool_calls":[{"id":"toolu_01A","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
            {"role":"tool","tool_call_id":"toolu_01A","content":"18C, sunny"},
        ])
    );
    assert_eq!(o["tools"][0]["function"]["parameters"]["required"], json!(["city"]));
    assert_eq!(o["tool_choice"], "auto");
    for (a_choice, o_choice) in [
        (json!({"type":"any"}), json!("required")),
        (json!({"type":"none"}), json!("none")),
        (json!({"type":"tool","name":"get_weather"}), json!({"type":"function","function":{"name":"get_weather"}})),
    ] {
        let mut r = a.clone();
        r["tool_choice"] = a_choice;
        assert_eq!(anthropic_to_openai(&r).unwrap()["tool_choice"], o_choice);
    }
}

#[test]
fn openai_to_gemini_maps_contents_tools_and_config() {
    let g = openai_to_gemini(&openai_tools_request()).unwrap();
    assert_eq!(g["systemInstruction"], json!({"parts":[{"text":"Be terse."}]}));
    assert_eq!(
        g["contents"],
        json!([
            {"role":"user","parts":[{"text":"What is 2+2?"}]},
            {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},
            {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"18C, sunny"}}}]},
        ])
    );
    assert_eq!(g["generationConfig"], json!({"maxOutputTokens":64,"temperature":0.2,"stopSequences":["END"]}));
    let decl = &g["tools"][0]["functionDeclarations"][0];
    assert_eq!(decl["name"], "get_weather");
    assert!(decl["parameters"].get("additionalProperties").is_none(), "Gemini rejects additionalProperties");
    assert_eq!(g["toolConfig"], json!({"functionCallingConfig":{"mode":"AUTO"}}));
}

#[test]
fn gemini_alternation_json_mode_and_orphan_tool_results() {
    let r = json!({"model":"x","response_format":{"type":"json_object"},
        "messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]});
    let g = openai_to_gemini(&r).unwrap();
    assert_eq!(g["contents"], json!([{"role":"user","parts":[{"text":"a"},{"text":"b"}]}]), "same-role turns merge");
    assert_eq!(g["generationConfig"]["responseMimeType"], "application/json");
    let orphan = json!({"model":"x","messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]});
    assert!(openai_to_gemini(&orphan).is_err());
}
