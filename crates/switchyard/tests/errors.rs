//! Every failure answers with an OpenAI-shaped error and the right status.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn client_errors() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    let r = c.post("/v1/chat/completions", "{not json");
    let v = assert_openai_error(&r, 400);
    // Where and what, in words (not the parser's variant names).
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("not valid JSON near byte 1 (found 'n')"), "{msg}");
    let r = c.post("/v1/chat/completions", r#"{"model" "m"}"#);
    let msg = assert_openai_error(&r, 400)["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("expected ':' after an object key near byte 9"), "{msg}");
    let r = c.post("/v1/chat/completions", r#"{"messages":[]}"#);
    let v = assert_openai_error(&r, 400);
    assert_eq!(v["error"]["param"], "model");
    let r = c.post("/v1/chat/completions", r#"{"model":"gpt-9","messages":[]}"#);
    let v = assert_openai_error(&r, 404);
    assert_eq!(v["error"]["code"], "model_not_found");
    assert!(r.header("x-switchyard-request-id").is_some());
    let r = c.post("/v1/chat/completions", r#"{"model":"m","messages":[],"stream":"yes"}"#);
    assert_openai_error(&r, 400);
    // The connection survives all of the above.
    assert_eq!(c.post("/v1/chat/completions", &chat_body("m", false)).status, 200);
    assert_eq!(m.request_count(), 1, "invalid requests never reach the provider");
}

#[test]
fn upstream_unreachable_is_502() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let gw = Gateway::start(&basic_config(&base, ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    let v = assert_openai_error(&r, 502);
    assert!(v["error"]["message"].as_str().unwrap().contains("mock"), "names the provider: {v}");
    assert_eq!(r.header("x-switchyard-provider"), Some("mock"));
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", true));
    assert_openai_error(&r, 502);
}

#[test]
fn unresolvable_host_is_502() {
    let gw = Gateway::start(&basic_config("http://no-such-host.invalid", ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    assert_openai_error(&r, 502);
}

#[test]
fn upstream_timeout_is_504() {
    let m = mock(MockConfig { hang_rate: 1.0, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), "[upstream]\nrequest_timeout_ms = 400\n"));
    let t = Instant::now();
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    assert_openai_error(&r, 504);
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn upstream_error_status_and_body_pass_through() {
    let m = mock(MockConfig { fail_rate: 1.0, fail_status: 429, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    let v = assert_openai_error(&r, 429);
    assert_eq!(v["error"]["message"], "mock failure 429", "the provider's body is passed on");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("x-switchyard-provider"), Some("mock"));

    let m = mock(MockConfig { fail_rate: 1.0, fail_status: 503, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", true));
    assert_openai_error(&r, 503);
}

#[test]
fn provider_auth_failure_is_a_502_without_the_provider_key() {
    let m = mock(MockConfig { require_key: Some("another-key".into()), ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    // The client's own key was fine: the provider refusing the gateway's is a 502, and the key
    // the provider echoed, its cookie and its organisation stay with the gateway.
    let v = assert_openai_error(&r, 502);
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    let text = r.text();
    assert!(text.contains("Incorrect API key provided: [redacted]"), "{text}");
    assert!(!text.contains("sk-test-provider-key"), "{text}");
    for h in ["set-cookie", "openai-organization"] {
        assert!(r.header(h).is_none(), "{h} passed to the client");
    }
    let a =
        gw.client().post("/v1/messages", r#"{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"x"}]}"#);
    assert_eq!((a.status, a.json()["error"]["type"].as_str()), (502, Some("api_error")));
    assert!(!a.text().contains("sk-test-provider-key"));
}

#[test]
fn stream_cut_mid_way_ends_with_error_event() {
    let m = mock(MockConfig { tokens: 10, drop_after: Some(4), ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    let r = c.post("/v1/chat/completions", &chat_body("m", true));
    assert_eq!(r.status, 200);
    let events = r.events();
    assert_eq!(events.len(), 5, "4 relayed events and one error event: {events:?}");
    let last: serde_json::Value = serde_json::from_str(&events[4].1).unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
    // The client's stream ended cleanly, so the connection is still usable.
    let m_ok = c.get("/healthz");
    assert_eq!(m_ok.status, 200);
}

#[test]
fn oversized_body_is_413_and_oversized_head_is_431() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "max_body_bytes = 1000\nmax_head_bytes = 2048\n"));
    let big = format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#, "x".repeat(2000));
    let mut c = gw.client();
    let r = c.post("/v1/chat/completions", &big);
    assert_openai_error(&r, 413);
    assert_eq!(r.header("connection"), Some("close"));

    // Chunked bodies are limited by their decoded size.
    let mut c = gw.client();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    c.send_raw(req.as_bytes());
    assert_openai_error(&c.read_response().unwrap(), 413);

    let mut c = gw.client();
    let req = format!("GET /healthz HTTP/1.1\r\nx-big: {}\r\n\r\n", "a".repeat(4000));
    c.send_raw(req.as_bytes());
    let r = c.read_response().unwrap();
    assert_openai_error(&r, 431);
    assert!(c.is_closed());
    assert_eq!(m.request_count(), 0);
}

#[test]
fn malformed_request_gets_400_and_a_clean_close() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    for bad in [
        &b"BLAH\x01 / HTTP/1.1\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
    ] {
        let mut c = gw.client();
        c.send_raw(bad);
        let r = c.read_response().expect("an answer, not a silent close");
        assert_openai_error(&r, 400);
        assert!(c.is_closed(), "connection closed after a malformed request");
    }
    // The gateway still serves others.
    assert_eq!(gw.client().get("/healthz").status, 200);
}

#[test]
fn truncated_body_gets_400() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    c.send_raw(b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 100\r\n\r\n{\"model\"");
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_openai_error(&c.read_response().unwrap(), 400);
}

#[test]
fn slow_head_times_out_with_408_and_idle_connections_close() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "head_timeout_ms = 300\nidle_timeout_ms = 500\n"));
    let mut c = gw.client();
    c.send_raw(b"GET /healthz HTTP/1.1\r\nhost:");
    let t = Instant::now();
    let r = c.read_response().unwrap();
    assert_openai_error(&r, 408);
    assert!(t.elapsed() < Duration::from_secs(2));

    let mut c = gw.client();
    assert_eq!(c.get("/healthz").status, 200);
    let t = Instant::now();
    let mut b = [0u8; 1];
    assert_eq!(c.stream.read(&mut b).unwrap(), 0, "idle keep-alive connection closed");
    let idle = t.elapsed();
    assert!(idle >= Duration::from_millis(400) && idle < Duration::from_secs(3), "{idle:?}");
}

#[test]
fn check_flag_validates_and_names_the_field() {
    let good = temp_path("good.toml");
    std::fs::write(&good, basic_config("http://127.0.0.1:1", "")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let bad = temp_path("bad.toml");
    std::fs::write(&bad, basic_config("http://127.0.0.1:1", "").replace("provider = \"mock\"", "provider = \"nah\""))
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("models.m.provider"), "{err}");

    let env_missing = temp_path("env.toml");
    std::fs::write(&env_missing, basic_config("${SWITCHYARD_TEST_UNSET_VAR}", "")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--check", "--config"])
        .arg(&env_missing)
        .env_remove("SWITCHYARD_TEST_UNSET_VAR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("providers.mock.base_url") && err.contains("SWITCHYARD_TEST_UNSET_VAR"), "{err}");
    for p in [good, bad, env_missing] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn unknown_endpoints_answer_in_the_clients_dialect() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    // An Anthropic client: its path or its version header.
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let r = gw.client().post_with("/v1/messages/batches", body, &[("anthropic-version", "2023-06-01")]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(
        (r.json()["type"].as_str(), r.json()["error"]["type"].as_str()),
        (Some("error"), Some("not_found_error"))
    );
    let r = gw.client().get_with("/v1/nowhere", &[("anthropic-version", "2023-06-01")]);
    assert_eq!(r.json()["type"], "error", "{}", r.text());
    let r = gw.client().get("/v1/messages");
    assert_eq!((r.status, r.json()["type"].as_str()), (405, Some("error")), "{}", r.text());
    // An OpenAI client.
    assert_openai_error(&gw.client().get("/v1/nowhere"), 404);
}
