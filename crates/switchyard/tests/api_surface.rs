//! The endpoints beside chat that SDKs call: `/v1/embeddings` (OpenAI-compatible and Gemini
//! upstreams, batched, with fallbacks and usage) and `/v1/messages/count_tokens` (passed to
//! Anthropic, estimated elsewhere), each answering errors in its client's dialect.

mod common;

use common::*;
use serde_json::{Value, json};

fn config(base: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1
[providers.o]
dialect = "openai"
base_url = "{base}/v1"
[providers.a]
dialect = "anthropic"
base_url = "{base}/v1"
[providers.g]
dialect = "gemini"
base_url = "{base}/v1beta"
[models.embed-o]
provider = "o"
model = "text-embedding-3-small"
[models.embed-g]
provider = "g"
model = "text-embedding-004"
input_price = 0.1
output_price = 0
[models.embed-a]
provider = "a"
model = "claude-haiku-4-5"
fallbacks = ["embed-o"]
[models.chat-o]
provider = "o"
model = "gpt-4o-mini"
[models.chat-a]
provider = "a"
model = "claude-haiku-4-5"
[routes.auto]
tiers = [{{ name = "t", models = ["chat-o"] }}]
"#
    )
}

fn vectors(v: &Value) -> Vec<Vec<f64>> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d["index"], i, "in order");
            assert_eq!(d["object"], "embedding");
            d["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
        })
        .collect()
}

#[test]
fn embeddings_from_openai_and_gemini_upstreams_agree_and_are_batched() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&config(&m.base_url()));
    let mut c = gw.client();
    let inputs: Vec<String> = (0..150).map(|i| format!("text number {i}")).collect();
    let body = |model: &str| json!({"model": model, "input": inputs}).to_string();
    let r = c.post("/v1/embeddings", &body("embed-o"));
    assert_eq!(r.status, 200, "{}", r.text());
    let from_openai = vectors(&r.json());
    assert_eq!(m.seen().last().unwrap().path, "/v1/embeddings");
    let before = m.request_count();
    let r = c.post("/v1/embeddings", &body("embed-g"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "embed-g");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let calls: Vec<String> = m.seen()[before..].iter().map(|s| s.path.clone()).collect();
    assert_eq!(calls, ["/v1beta/models/text-embedding-004:batchEmbedContents"; 2], "150 inputs: two batches");
    let from_gemini = vectors(&v);
    assert_eq!(from_gemini.len(), 150);
    assert_eq!(from_openai, from_gemini, "the same text gets the same vector, in the same place");
    // A single string, base64 and dimensions.
    let r = c.post("/v1/embeddings", r#"{"model":"embed-g","input":"hi","encoding_format":"base64","dimensions":4}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"][0]["embedding"].as_str().unwrap().len(), 24, "4 f32s in base64");
    // Usage is counted per model, and priced.
    let metrics = gw.metrics();
    let prompt = metrics.lines().find(|l| l.starts_with("switchyard_prompt_tokens_total{model=\"embed-g\",")).unwrap();
    assert!(!prompt.ends_with(" 0"), "{prompt}");
    let cost = metrics.lines().find(|l| l.starts_with("switchyard_cost_usd_total{model=\"embed-g\",")).unwrap();
    assert!(!cost.ends_with(" 0.000000000"), "{cost}");
}

#[test]
fn embeddings_fall_back_and_refuse_what_cannot_embed() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&config(&m.base_url()));
    let mut c = gw.client();
    // Anthropic has no embeddings: the model's fallback answers.
    let r = c.post("/v1/embeddings", r#"{"model":"embed-a","input":"hi"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(m.seen().last().unwrap().path, "/v1/embeddings");
    let e = assert_openai_error(&c.post("/v1/embeddings", r#"{"model":"chat-a","input":"hi"}"#), 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("no embeddings"), "{e}");
    assert_openai_error(&c.post("/v1/embeddings", r#"{"model":"auto","input":"hi"}"#), 400);
    assert_openai_error(&c.post("/v1/embeddings", r#"{"model":"nope","input":"hi"}"#), 404);
    assert_openai_error(&c.post("/v1/embeddings", r#"{"model":"embed-o"}"#), 400);
    assert_openai_error(&c.post("/v1/embeddings", r#"{"model":"embed-g","input":[[1,2,3]]}"#), 400);
    // Token arrays go to an OpenAI-compatible upstream as they are.
    let r = c.post("/v1/embeddings", r#"{"model":"embed-o","input":[[1,2,3]]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_openai_error(&c.get("/v1/embeddings"), 405);
}

#[test]
fn count_tokens_is_passed_to_anthropic_and_estimated_elsewhere() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&config(&m.base_url()));
    let mut c = gw.client();
    let body = |model: &str| {
        json!({"model": model, "system": "be brief", "messages": [{"role": "user", "content": "hello there, how are you?"}]})
            .to_string()
    };
    let hdr = [("anthropic-version", "2023-06-01"), ("anthropic-beta", "token-counting-2024-11-01")];
    let r = c.post_with("/v1/messages/count_tokens", &body("chat-a"), &hdr);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(r.header("x-switchyard-token-count"), None, "the provider counted");
    let seen = m.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.path, "/v1/messages/count_tokens");
    assert_eq!(last.header("anthropic-beta"), Some("token-counting-2024-11-01"));
    assert_eq!(serde_json::from_slice::<Value>(&last.body).unwrap()["model"], "claude-haiku-4-5");
    for model in ["chat-o", "auto"] {
        let before = m.request_count();
        let r = c.post_with("/v1/messages/count_tokens", &body(model), &hdr);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-switchyard-token-count"), Some("estimate"), "{model}");
        let n = r.json()["input_tokens"].as_u64().unwrap();
        assert!((8..40).contains(&n), "{model}: {n}");
        assert_eq!(m.request_count(), before, "nothing sent upstream");
    }
    // Errors are Anthropic's, 404s included.
    let r = c.post_with("/v1/messages/count_tokens", r#"{"model":"chat-a"}"#, &hdr);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["type"], "error");
    let r = c.post_with("/v1/messages/count_tokens", &body("nope"), &hdr);
    assert_eq!((r.status, r.json()["error"]["type"].as_str()), (404, Some("not_found_error")), "{}", r.text());
}

#[test]
fn answers_can_report_the_requested_model_and_keep_the_upstream_id_in_a_header() {
    let m = mock(MockConfig { tokens: 2, ..Default::default() });
    let cfg = config(&m.base_url()).replace("workers = 1", "workers = 1\nreport_model = \"requested\"");
    let gw = Gateway::start(&cfg);
    let mut c = gw.client();
    for model in ["chat-o", "chat-a", "auto"] {
        for stream in [false, true] {
            let r = c.post("/v1/chat/completions", &chat_body(model, stream));
            assert_eq!(r.status, 200, "{}", r.text());
            let upstream = if model == "chat-a" { "claude-haiku-4-5" } else { "gpt-4o-mini" };
            assert_eq!(r.header("x-switchyard-upstream-model"), Some(upstream), "{model}");
            if stream {
                for (_, e) in r.events().iter().filter(|(_, e)| e != "[DONE]") {
                    let v: Value = serde_json::from_str(e).unwrap();
                    assert_eq!(v["model"], model, "{model}: {e}");
                }
            } else {
                assert_eq!(r.json()["model"], model);
            }
        }
        let anthropic =
            json!({"model": model, "max_tokens": 9, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let r = c.post_with("/v1/messages", &anthropic.to_string(), &[("anthropic-version", "2023-06-01")]);
        assert!(r.text().contains(&format!("\"model\":\"{model}\"")), "{model}: {}", r.text());
        let r = c.post("/v1/responses", &json!({"model": model, "input": "hi"}).to_string());
        assert_eq!(r.json()["model"], model);
    }
}
