//! Dialect translation through the gateway as seen on the wire, cost accounting, provider keys.

mod common;

use common::*;

fn config(base: &str, extra_provider: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1
[providers.o]
dialect = "openai"
base_url = "{base}/v1"
api_key = "sk-o"
{extra_provider}
[providers.a]
dialect = "anthropic"
base_url = "{base}/v1"
api_key = "sk-a"
[providers.g]
dialect = "gemini"
base_url = "{base}/v1beta"
api_key = "sk-g"
[models.o]
provider = "o"
model = "gpt-4o-mini"
[models.a]
provider = "a"
model = "claude-haiku-4-5"
[models.g]
provider = "g"
model = "gemini-2.5-flash"
[routes.r]
tiers = [{{ name = "t", models = ["o"] }}]
baseline = "a"
"#
    )
}

fn metric(text: &str, name: &str, model: &str) -> f64 {
    let prefix = format!("{name}{{model=\"{model}\",");
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{prefix} not in {text}"))
}

#[test]
fn each_upstream_gets_its_own_dialect_and_auth() {
    let m = mock(MockConfig { tokens: 2, ..Default::default() });
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    for model in ["o", "a", "g"] {
        assert_eq!(c.post("/v1/chat/completions", &chat_body(model, false)).status, 200, "{model}");
    }
    let seen = m.seen();
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-o"));
    assert_eq!(seen[1].path, "/v1/messages");
    assert_eq!(seen[1].header("x-api-key"), Some("sk-a"));
    assert_eq!(seen[1].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen[1].header("authorization"), None);
    let body: serde_json::Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!((body["model"].as_str(), body["max_tokens"].as_u64()), (Some("claude-haiku-4-5"), Some(4096)));
    assert_eq!(seen[2].path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(seen[2].header("x-goog-api-key"), Some("sk-g"));
    let body: serde_json::Value = serde_json::from_slice(&seen[2].body).unwrap();
    assert_eq!(body["contents"][0]["parts"][0]["text"], "hello");
    // Streams: Gemini is asked for SSE.
    let r = c.post("/v1/chat/completions", &chat_body("g", true));
    assert_eq!(r.streamed_content(), "t0 t1");
    assert_eq!(m.seen()[3].path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
}

#[test]
fn anthropic_endpoint_speaks_anthropic_on_the_wire() {
    let m = mock(MockConfig { tokens: 3, ..Default::default() });
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    let body = r#"{"model":"g","max_tokens":32,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let r = c.post("/v1/messages", body);
    assert_eq!(r.status, 200);
    let names: Vec<String> = String::from_utf8_lossy(&r.body)
        .lines()
        .filter_map(|l| l.strip_prefix("event: ").map(str::to_string))
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert!(names.iter().filter(|n| *n == "content_block_delta").count() == 3, "{names:?}");
    // Same dialect (Anthropic → Anthropic) is forwarded untouched except the model.
    let body = r#"{"model":"a","max_tokens":32,"messages":[{"role":"user","content":"hi"}],"x_unknown":[1, 2]}"#;
    let r = c.post("/v1/messages", body);
    assert_eq!(r.json()["type"], "message");
    let fwd = String::from_utf8(m.seen().last().unwrap().body.clone()).unwrap();
    assert_eq!(fwd, body.replace(r#""a""#, r#""claude-haiku-4-5""#));
    // Errors come back in the Anthropic shape.
    let r = c.post("/v1/messages", r#"{"model":"nope","max_tokens":3,"messages":[]}"#);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["error"]["type"], "not_found_error");
    let r = c.post("/v1/messages", r#"{"model":"a","messages":[]}"#);
    assert_eq!((r.status, r.json()["error"]["type"].as_str()), (400, Some("invalid_request_error")));
}

#[test]
fn gemini_bad_key_is_a_502_upstream_auth_failed() {
    let m = mock(MockConfig { require_key: Some("the-right-key".into()), ..Default::default() });
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("g", false));
    // Gemini's 400 API_KEY_INVALID is the provider refusing the gateway's key: a 502.
    let v = assert_openai_error(&r, 502);
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    assert!(v["error"]["message"].as_str().unwrap().contains("API key not valid"));
    let r =
        gw.client().post("/v1/messages", r#"{"model":"g","max_tokens":3,"messages":[{"role":"user","content":"x"}]}"#);
    assert_eq!((r.status, r.json()["error"]["type"].as_str()), (502, Some("api_error")));
}

#[test]
fn cost_and_savings_follow_the_price_table() {
    let m = mock(MockConfig { tokens: 7, ..Default::default() });
    let gw = Gateway::start(&config(&m.base_url(), ""));
    let mut c = gw.client();
    // Non-streaming through route `r` (model o = gpt-4o-mini: 0.15 / 0.60 per 1M;
    // baseline a = claude-haiku-4-5: 1.00 / 5.00 per 1M).
    let u1 = c.post("/v1/chat/completions", &chat_body("r", false)).json()["usage"].clone();
    // Streaming: the gateway asks for usage upstream and the client did not, so the client
    // sees no usage chunk, but the cost is still counted.
    let r = c.post("/v1/chat/completions", &chat_body("r", true));
    assert!(r.events().iter().all(|(_, d)| !d.contains("\"choices\":[]")), "no usage chunk the client did not ask for");
    assert_eq!(r.events().last().unwrap().1, "[DONE]");
    let stream_prompt = serde_json::from_slice::<serde_json::Value>(&m.seen()[1].body).unwrap();
    assert_eq!(stream_prompt["stream_options"]["include_usage"], true);
    let prompt2 = (m.seen()[1].body.len() as f64 / 4.0).ceil();
    let (p, cpl) = (u1["prompt_tokens"].as_f64().unwrap() + prompt2, 14.0);
    let metrics = c.get("/metrics").text();
    let cost = metric(&metrics, "switchyard_cost_usd_total", "o");
    let expected = (p * 0.15 + cpl * 0.60) / 1e6;
    assert!((cost - expected).abs() < 1e-9, "cost {cost} expected {expected}");
    let savings = metric(&metrics, "switchyard_savings_usd_total", "o");
    let expected_savings = (p * 1.00 + cpl * 5.00) / 1e6 - expected;
    assert!((savings - expected_savings).abs() < 1e-9, "savings {savings} expected {expected_savings}");
    assert_eq!(metric(&metrics, "switchyard_completion_tokens_total", "o"), 14.0);
    // A translated stream (Anthropic upstream) is counted from its message_delta usage.
    let r = c.post("/v1/chat/completions", &chat_body("a", true));
    assert_eq!(r.streamed_content(), "t0 t1 t2 t3 t4 t5 t6");
    let metrics = c.get("/metrics").text();
    assert_eq!(metric(&metrics, "switchyard_completion_tokens_total", "a"), 7.0);
    let p = (m.seen()[2].body.len() as f64 / 4.0).ceil();
    let cost = metric(&metrics, "switchyard_cost_usd_total", "a");
    assert!((cost - (p * 1.0 + 7.0 * 5.0) / 1e6).abs() < 1e-9, "{cost}");
}

#[test]
fn weighted_provider_keys() {
    let m = mock(MockConfig::default());
    let extra = "[providers.k]\nbase_url = \"BASE/v1\"\napi_keys = [{ key = \"k1\", weight = 1 }, { key = \"k3\", weight = 3 }]\n[models.k]\nprovider = \"k\"\nmodel = \"gpt-4o\"\n";
    let gw = Gateway::start(&config(&m.base_url(), &extra.replace("BASE", &m.base_url())));
    let mut c = gw.client();
    for _ in 0..400 {
        assert_eq!(c.post("/v1/chat/completions", &chat_body("k", false)).status, 200);
    }
    let k3 = m.seen().iter().filter(|s| s.header("authorization") == Some("Bearer k3")).count();
    let k1 = m.seen().iter().filter(|s| s.header("authorization") == Some("Bearer k1")).count();
    assert_eq!(k1 + k3, 400);
    assert!((250..350).contains(&k3), "k3 chosen {k3} of 400 times");
    // Keys never show up in what the client sees.
    let metrics = c.get("/metrics").text();
    assert!(!metrics.contains("k3") && !metrics.contains("sk-o"));
}

#[test]
fn gemini_through_its_openai_compatible_endpoint() {
    let m = mock(MockConfig { tokens: 2, ..Default::default() });
    let extra = format!(
        "[providers.gc]\ndialect = \"openai\"\nbase_url = \"{}/v1beta/openai\"\napi_key = \"sk-gc\"\n[models.gc]\nprovider = \"gc\"\nmodel = \"gemini-2.0-flash\"\n",
        m.base_url()
    );
    let gw = Gateway::start(&config(&m.base_url(), &extra));
    let r = gw.client().post("/v1/chat/completions", &chat_body("gc", true));
    assert_eq!(r.streamed_content(), "t0 t1");
    let seen = m.seen();
    assert_eq!(seen[0].path, "/v1beta/openai/chat/completions");
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-gc"));
}

#[test]
fn a_system_turn_mid_conversation_and_anthropic_betas_reach_every_dialect() {
    let m = mock(MockConfig { tokens: 2, ..Default::default() });
    let gw = Gateway::start(&config(&m.base_url(), ""));
    // What Claude Code sends for a model id it does not know: a system turn inside `messages`,
    // with a beta flag, to the beta endpoint.
    let body = |model: &str| {
        format!(
            r#"{{"model":"{model}","max_tokens":50,"messages":[{{"role":"user","content":"hi"}},{{"role":"assistant","content":"hello"}},{{"role":"system","content":"Answer in French."}},{{"role":"user","content":"again"}}]}}"#
        )
    };
    let headers = [("anthropic-version", "2023-06-01"), ("anthropic-beta", "mid-conversation-system-2025-01-01")];
    for (i, model) in ["a", "o", "g"].into_iter().enumerate() {
        let r = gw.client().post_with("/v1/messages?beta=true", &body(model), &headers);
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        assert_eq!(r.json()["type"], "message", "{model}");
        let seen = &m.seen()[i];
        let sent: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
        match model {
            // Anthropic: the client's own body, its beta flag and the beta endpoint.
            "a" => {
                assert_eq!(seen.path, "/v1/messages?beta=true");
                assert_eq!(seen.header("anthropic-beta"), Some("mid-conversation-system-2025-01-01"));
                assert_eq!(sent["messages"][2]["role"], "system");
            }
            // OpenAI: a system message where the turn stood; no Anthropic header.
            "o" => {
                assert_eq!(seen.header("anthropic-beta"), None);
                assert_eq!(sent["messages"][2], serde_json::json!({"role": "system", "content": "Answer in French."}));
            }
            // Gemini: the system instruction.
            _ => assert!(sent["systemInstruction"].to_string().contains("Answer in French."), "{sent}"),
        }
    }
}
