//! Failing providers, injected with mock-llm: refused connections, resets and stalls mid-stream,
//! 5xx and 429 bursts, malformed JSON and SSE. Before the first byte reaches the client the
//! gateway falls back; after it, the client's stream ends with an error event. No descriptor
//! is left behind.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// `m` on the faulty provider falls back to `g` on the healthy one (unless `fallback` is off).
fn config(bad: &str, good: &str, fallback: bool, extra: &str) -> String {
    let fallbacks = if fallback { r#"fallbacks = ["g"]"# } else { "" };
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 2
[upstream]
stream_idle_timeout_ms = 300
{extra}
[providers.bad]
base_url = "{bad}/v1"
[providers.good]
base_url = "{good}/v1"
[models.m]
provider = "bad"
model = "gpt-4o-mini"
{fallbacks}
[models.g]
provider = "good"
model = "gpt-4o"
"#
    )
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// A faulty mock behind `m`, a healthy one behind `g`.
fn pair(fault: MockConfig, fallback: bool) -> (MockServer, MockServer, Gateway) {
    let bad = mock(fault);
    let good = mock(MockConfig::default());
    let gw = Gateway::start(&config(&bad.base_url(), &good.base_url(), fallback, ""));
    (bad, good, gw)
}

fn assert_fell_back(gw: &Gateway, stream: bool) {
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", stream));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-switchyard-model"), Some("g"), "answered by the fallback");
    if stream {
        assert_eq!(r.streamed_content(), (0..16).map(|i| format!("t{i}")).collect::<Vec<_>>().join(" "));
        assert_eq!(r.events().last().unwrap().1, "[DONE]");
    } else {
        assert!(r.json()["choices"][0]["message"]["content"].as_str().unwrap().starts_with("t0"));
    }
}

/// The client's stream: `n` relayed events, then one error event; the connection stays usable.
fn assert_error_event_after(gw: &Gateway, n: usize, reason: &str) {
    let mut c = gw.client();
    let t = Instant::now();
    let r = c.post("/v1/chat/completions", &chat_body("m", true));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-switchyard-model"), Some("m"), "no switch after the first byte");
    let events = r.events();
    assert_eq!(events.len(), n + 1, "{n} events and an error event: {events:?}");
    let last: serde_json::Value = serde_json::from_str(&events[n].1).unwrap();
    let msg = last["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains(reason), "error event names the cause ({reason}): {last}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(c.get("/healthz").status, 200, "the body ended cleanly; keep-alive still works");
}

#[test]
fn connection_refused_falls_back() {
    let good = mock(MockConfig::default());
    let down = format!("http://127.0.0.1:{}", closed_port());
    let gw = Gateway::start(&config(&down, &good.base_url(), true, ""));
    assert_fell_back(&gw, false);
    assert_fell_back(&gw, true);
}

#[test]
fn reset_before_the_first_event_falls_back_and_after_it_ends_the_stream() {
    let (_bad, _good, gw) = pair(MockConfig { reset_after: Some(0), ..Default::default() }, true);
    assert_fell_back(&gw, true);
    let (_bad, _good, gw) = pair(MockConfig { reset_after: Some(3), ..Default::default() }, true);
    assert_error_event_after(&gw, 3, "mid-stream");
}

#[test]
fn a_stalled_stream_times_out_per_event() {
    // Stalled before the first event: fall back after the idle timeout, not the request deadline.
    let (_bad, _good, gw) = pair(MockConfig { stall_after: Some(0), ..Default::default() }, true);
    let t = Instant::now();
    assert_fell_back(&gw, true);
    assert!(t.elapsed() < Duration::from_secs(3), "idle timeout (300 ms) applied: {:?}", t.elapsed());
    let (_bad, _good, gw) = pair(MockConfig { stall_after: Some(5), ..Default::default() }, true);
    assert_error_event_after(&gw, 5, "stalled");
    // Slow but steady streams are not stalls.
    let (_bad, _good, gw) = pair(MockConfig { tokens: 6, token_interval_ms: 150, ..Default::default() }, false);
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", true));
    assert_eq!(r.streamed_content(), "t0 t1 t2 t3 t4 t5");
}

#[test]
fn server_error_and_rate_limit_bursts_fall_back() {
    for status in [500, 502, 503, 429] {
        let (bad, _good, gw) = pair(MockConfig { fail_rate: 1.0, fail_status: status, ..Default::default() }, true);
        for _ in 0..5 {
            assert_fell_back(&gw, false);
            assert_fell_back(&gw, true);
        }
        // The failing target cools down: later requests skip it instead of hammering it.
        assert!(bad.request_count() < 10, "{status}: the bad provider saw {} requests", bad.request_count());
    }
    // Without a fallback the client gets the provider's status in its own shape.
    let (_bad, _good, gw) = pair(MockConfig { fail_rate: 1.0, fail_status: 429, ..Default::default() }, false);
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    assert_openai_error(&r, 429);
}

#[test]
fn malformed_json_answer_falls_back_or_is_a_502() {
    let (_bad, _good, gw) = pair(MockConfig { malformed_json: true, ..Default::default() }, true);
    assert_fell_back(&gw, false);
    let (_bad, _good, gw) = pair(MockConfig { malformed_json: true, ..Default::default() }, false);
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    let v = assert_openai_error(&r, 502);
    assert!(v["error"]["message"].as_str().unwrap().contains("not valid JSON"), "{v}");
}

#[test]
fn malformed_sse_falls_back_before_the_first_event_and_ends_the_stream_after() {
    let (_bad, _good, gw) = pair(MockConfig { malformed_after: Some(0), ..Default::default() }, true);
    assert_fell_back(&gw, true);
    let (_bad, _good, gw) = pair(MockConfig { malformed_after: Some(4), ..Default::default() }, true);
    assert_error_event_after(&gw, 4, "invalid stream event");
    // An Anthropic client of the same broken stream gets Anthropic's `error` event.
    let r = gw.client().post_with(
        "/v1/messages",
        r#"{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        &[("anthropic-version", "2023-06-01")],
    );
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(text.contains("event: error"), "{text}");
    assert!(text.contains("invalid stream event"), "{text}");
}

#[test]
fn no_descriptor_leaks_after_every_fault() {
    let good = mock(MockConfig::default());
    let faults = [
        MockConfig { reset_after: Some(2), ..Default::default() },
        MockConfig { drop_after: Some(2), ..Default::default() },
        MockConfig { stall_after: Some(2), ..Default::default() },
        MockConfig { malformed_after: Some(2), ..Default::default() },
        MockConfig { malformed_json: true, ..Default::default() },
        MockConfig { fail_rate: 1.0, fail_status: 503, ..Default::default() },
        MockConfig { hang_rate: 1.0, ..Default::default() },
    ];
    for fault in faults {
        let bad = mock(fault.clone());
        let extra = "request_timeout_ms = 400";
        let gw = Gateway::start(&config(&bad.base_url(), &good.base_url(), false, extra));
        let pid = gw.child.id();
        let _ = gw.client().get("/healthz");
        let before = open_fds(pid);
        for i in 0..30 {
            let mut c = gw.client();
            let r = c.post("/v1/chat/completions", &chat_body("m", i % 2 == 0));
            assert!(r.status >= 200, "an answer for every request");
        }
        let t = Instant::now();
        while open_fds(pid) > before + 2 && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            open_fds(pid) <= before + 2,
            "{fault:?}: descriptors went from {before} to {} (at most a pooled connection or two may stay)",
            open_fds(pid)
        );
    }
}
