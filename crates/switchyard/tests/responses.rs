//! `POST /v1/responses`: passed through to Responses-capable OpenAI providers, translated for
//! chat, Anthropic and Gemini ones (whole answers and streams), `previous_response_id` served
//! from the gateway's store, built-in tools refused where they cannot run.

mod common;

use common::*;
use serde_json::{Value, json};

fn config(base: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1
[providers.o]
dialect = "openai"
base_url = "{base}/v1"
[providers.r]
dialect = "openai"
base_url = "{base}/v1"
responses = true
[providers.a]
dialect = "anthropic"
base_url = "{base}/v1"
[providers.g]
dialect = "gemini"
base_url = "{base}/v1beta"
[models.o]
provider = "o"
model = "gpt-4o-mini"
[models.r]
provider = "r"
model = "gpt-4.1"
[models.a]
provider = "a"
model = "claude-haiku-4-5"
[models.g]
provider = "g"
model = "gemini-2.5-flash"
{extra}
"#
    )
}

const TOOL: &str = r#"{"type":"function","name":"get_weather","description":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}"#;

fn sse_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|ev| {
            let name = ev.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = ev.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name.to_string(), serde_json::from_str(data).expect("event data is JSON")))
        })
        .collect()
}

#[test]
fn every_upstream_dialect_answers_a_responses_request() {
    let m = mock(MockConfig { tokens: 3, ..Default::default() });
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    for (model, path) in [
        ("o", "/v1/chat/completions"),
        ("r", "/v1/responses"),
        ("a", "/v1/messages"),
        ("g", "/v1beta/models/gemini-2.5-flash:generateContent"),
    ] {
        let body = json!({"model": model, "input": "hello", "instructions": "be brief"}).to_string();
        let r = c.post("/v1/responses", &body);
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        let v = r.json();
        assert_eq!(v["object"], "response", "{model}: {v}");
        assert_eq!(v["status"], "completed", "{model}");
        assert_eq!(v["output"][0]["type"], "message");
        assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
        assert_eq!(v["output"][0]["content"][0]["text"], "t0 t1 t2", "{model}");
        assert_eq!(v["usage"]["output_tokens"], 3, "{model}");
        assert!(v["id"].as_str().unwrap().starts_with("resp_"), "{v}");
        if model != "r" {
            // Translated answers echo the request (a passed-through one is the upstream's own).
            assert_eq!(v["instructions"], "be brief", "{model}: the request is echoed");
        }
        let seen = m.seen();
        let last = seen.last().unwrap();
        assert!(last.path.starts_with(path), "{model} went to {}", last.path);
        let sent: Value = serde_json::from_slice(&last.body).unwrap();
        match model {
            // Passed through: the client's own body, model spliced in.
            "r" => assert_eq!(sent, json!({"model": "gpt-4.1", "input": "hello", "instructions": "be brief"})),
            "o" => assert_eq!(
                sent["messages"],
                json!([{"role":"system","content":"be brief"},{"role":"user","content":"hello"}])
            ),
            "a" => assert_eq!(sent["system"], "be brief"),
            _ => assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "be brief"),
        }
    }
}

#[test]
fn streams_are_responses_events_from_every_upstream() {
    let m = mock(MockConfig { tokens: 3, ..Default::default() });
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    for model in ["o", "r", "a", "g"] {
        let body = json!({"model": model, "input": "hello", "stream": true}).to_string();
        let r = c.post("/v1/responses", &body);
        assert_eq!(r.status, 200, "{model}");
        assert!(r.header("content-type").unwrap().starts_with("text/event-stream"));
        let events = sse_events(&r.text());
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"response.created"), "{model}: {names:?}");
        assert_eq!(names.last(), Some(&"response.completed"), "{model}: {names:?}");
        for want in [
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.done",
            "response.output_item.done",
        ] {
            assert!(names.contains(&want), "{model}: no {want} in {names:?}");
        }
        let text: String = events
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .map(|(_, v)| v["delta"].as_str().unwrap())
            .collect();
        assert_eq!(text, "t0 t1 t2", "{model}");
        let seqs: Vec<u64> = events.iter().map(|(_, v)| v["sequence_number"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{model}: sequence numbers {seqs:?}");
        for (n, v) in &events {
            assert_eq!(v["type"], n.as_str(), "{model}: event name and type agree");
        }
        let done = &events.last().unwrap().1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["usage"]["output_tokens"], 3, "{model}: {done}");
        assert_eq!(done["output"][0]["content"][0]["text"], "t0 t1 t2");
    }
    // Usage was charged for every one, the passed-through stream included.
    let metrics = gw.metrics();
    for model in ["o", "r", "a", "g"] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("switchyard_completion_tokens_total{{model=\"{model}\",")))
            .unwrap_or_else(|| panic!("no output tokens for {model} in {metrics}"));
        assert!(line.ends_with(" 3"), "{line}");
    }
}

#[test]
fn function_tools_round_trip_with_previous_response_id() {
    let m = mock(MockConfig { tokens: 2, ..Default::default() });
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    for model in ["o", "a", "g", "r"] {
        for stream in [false, true] {
            let first = json!({"model": model, "input": "weather in Paris?", "tools": [serde_json::from_str::<Value>(TOOL).unwrap()], "stream": stream});
            let r = c.post("/v1/responses", &first.to_string());
            assert_eq!(r.status, 200, "{model}: {}", r.text());
            let response = if stream { sse_events(&r.text()).last().unwrap().1["response"].clone() } else { r.json() };
            let call = response["output"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["type"] == "function_call")
                .cloned()
                .unwrap_or_else(|| panic!("{model}: no function call in {response}"));
            assert_eq!(call["name"], "get_weather");
            assert_eq!(
                serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
                json!({"city": "t0"}),
                "{model}"
            );
            // The follow-up sends only the tool's output and names the answer before.
            let follow = json!({"model": model, "previous_response_id": response["id"],
                "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}],
                "tools": [serde_json::from_str::<Value>(TOOL).unwrap()]});
            let r = c.post("/v1/responses", &follow.to_string());
            assert_eq!(r.status, 200, "{model} follow-up: {}", r.text());
            assert_eq!(r.json()["output"][0]["content"][0]["text"], "t0 t1", "{model}");
            if model != "r" {
                // The upstream got the whole conversation: question, call, result.
                let sent: Value = serde_json::from_slice(&m.seen().last().unwrap().body).unwrap();
                let text = sent.to_string();
                assert!(
                    text.contains("weather in Paris?") && text.contains("sunny") && text.contains("get_weather"),
                    "{model}: {text}"
                );
            }
        }
    }
}

#[test]
fn previous_answers_continue_on_another_provider_and_stay_with_their_key() {
    let m = mock(MockConfig { tokens: 2, ..Default::default() });
    let h = |k: &str| switchyard_guard::keys::format_key_hash(&switchyard_guard::keys::hash_key(k.as_bytes()));
    let keys = format!("[keys.a]\nkey_hash = \"{}\"\n[keys.b]\nkey_hash = \"{}\"\n", h("sk-team-a"), h("sk-team-b"));
    let gw = Gateway::start(&config(&m.base_url(), &keys));
    let mut c = gw.client();
    let auth_a = [("authorization", "Bearer sk-team-a")];
    let r = c.post_with("/v1/responses", &json!({"model": "a", "input": "my name is Ada"}).to_string(), &auth_a);
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    // The answer came from Anthropic; the follow-up goes to OpenAI chat with the turns before it.
    let follow = json!({"model": "o", "previous_response_id": id, "input": "what is my name?"}).to_string();
    let r = c.post_with("/v1/responses", &follow, &auth_a);
    assert_eq!(r.status, 200, "{}", r.text());
    let sent: Value = serde_json::from_slice(&m.seen().last().unwrap().body).unwrap();
    let roles: Vec<&str> = sent["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"], "{sent}");
    assert_eq!(sent["messages"][0]["content"], "my name is Ada");
    // A gateway-made id goes nowhere as it is: a Responses upstream gets the turns translated.
    let r = c.post_with(
        "/v1/responses",
        &json!({"model": "r", "previous_response_id": id, "input": "again?"}).to_string(),
        &auth_a,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(m.seen().last().unwrap().path, "/v1/chat/completions", "translated, not passed through");
    // Another key cannot continue it.
    let r = c.post_with("/v1/responses", &follow, &[("authorization", "Bearer sk-team-b")]);
    let e = assert_openai_error(&r, 400);
    assert_eq!(e["error"]["code"], "previous_response_not_found", "{e}");
    // An id nobody made: a chat upstream cannot know it.
    let r = c.post_with(
        "/v1/responses",
        &json!({"model": "o", "previous_response_id": "resp_nope", "input": "x"}).to_string(),
        &auth_a,
    );
    assert_eq!(assert_openai_error(&r, 400)["error"]["param"], "previous_response_id");
    // `store: false` keeps nothing.
    let r = c.post_with("/v1/responses", &json!({"model": "a", "input": "x", "store": false}).to_string(), &auth_a);
    let gone = r.json()["id"].as_str().unwrap().to_string();
    let r = c.post_with(
        "/v1/responses",
        &json!({"model": "o", "previous_response_id": gone, "input": "x"}).to_string(),
        &auth_a,
    );
    assert_openai_error(&r, 400);
}

#[test]
fn built_in_tools_and_bad_requests_get_clear_errors() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    let body = |model: &str| json!({"model": model, "input": "news?", "tools": [{"type": "web_search"}]}).to_string();
    let e = assert_openai_error(&c.post("/v1/responses", &body("a")), 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("web_search"), "{e}");
    assert_eq!(e["error"]["param"], "tools");
    // A Responses-capable provider takes it as it is.
    assert_eq!(c.post("/v1/responses", &body("r")).status, 200);
    assert_eq!(m.seen().last().unwrap().path, "/v1/responses");
    let e = assert_openai_error(&c.post("/v1/responses", r#"{"input":"x"}"#), 400);
    assert_eq!(e["error"]["param"], "model");
    assert_openai_error(&c.post("/v1/responses", r#"{"model":"o"}"#), 400);
    assert_openai_error(&c.post("/v1/responses", r#"{"model":"o","input":[{"type":"mystery"}]}"#), 400);
    assert_openai_error(&c.post("/v1/responses", r#"{"model":"nope","input":"x"}"#), 404);
    assert_openai_error(&c.get("/v1/responses"), 405);
}

#[test]
fn structured_output_and_limits_translate() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}, "score": {"type": "integer"}}});
    let body = json!({"model": "o", "input": "rate it", "max_output_tokens": 50, "temperature": 0.2,
        "reasoning": {"effort": "low"}, "tool_choice": "auto",
        "text": {"format": {"type": "json_schema", "name": "rating", "schema": schema, "strict": true}}});
    let r = c.post("/v1/responses", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.json()["output"][0]["content"][0]["text"].as_str().unwrap().to_string();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({"answer": "t0", "score": 0}), "fits the schema");
    let sent: Value = serde_json::from_slice(&m.seen().last().unwrap().body).unwrap();
    assert_eq!(sent["max_completion_tokens"], 50);
    assert_eq!(sent["reasoning_effort"], "low");
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(sent["response_format"]["json_schema"]["name"], "rating");
    assert_eq!(sent["response_format"]["json_schema"]["strict"], true);
}

#[test]
fn the_store_is_counted_in_metrics() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    let r = c.post("/v1/responses", &json!({"model": "o", "input": "hi"}).to_string());
    let id = r.json()["id"].as_str().unwrap().to_string();
    c.post("/v1/responses", &json!({"model": "o", "input": "again", "previous_response_id": id}).to_string());
    let metrics = gw.metrics();
    for line in [
        "switchyard_responses_store_entries_total{event=\"insert\"} 2",
        "switchyard_responses_store_lookups_total{result=\"hit\"} 1",
        "switchyard_responses_store_items 2",
        "switchyard_responses_store_bytes{kind=\"limit\"} 67108864",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in {metrics}");
    }
}
