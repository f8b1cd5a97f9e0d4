//! End-to-end: a real gateway process in front of in-process mock providers.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn non_streaming_chat_is_forwarded_with_model_rewritten_and_key_injected() {
    let m = mock(MockConfig { tokens: 5, require_key: Some("sk-test-provider-key".into()), ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    // Odd spacing, unknown fields and a nested "model" key must all survive byte for byte.
    let body = r#"{ "model" : "m", "temperature":0.5,"messages":[{"role":"user","content":"say \"model\": hi"}],"x_extra":{"model":"keep"} }"#;
    let r = gw.client().post("/v1/chat/completions", body);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["choices"][0]["message"]["content"], "t0 t1 t2 t3 t4");
    assert_eq!(v["model"], "gpt-4o-mini", "the mock echoes the model it was asked for");
    assert_eq!(r.header("x-switchyard-model"), Some("m"));
    assert_eq!(r.header("x-switchyard-provider"), Some("mock"));
    assert_eq!(r.header("x-switchyard-route"), Some("direct"));
    assert!(r.header("x-switchyard-request-id").is_some_and(|id| id.len() >= 16));
    assert_eq!(r.header("content-type"), Some("application/json"));

    let seen = m.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-test-provider-key"));
    let expected = body.replacen(r#""m""#, r#""gpt-4o-mini""#, 1);
    assert_eq!(String::from_utf8(seen[0].body.clone()).unwrap(), expected);
}

#[test]
fn request_ids_are_unique() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    let mut ids: Vec<String> = (0..20)
        .map(|_| {
            let r = c.post("/v1/chat/completions", &chat_body("m", false));
            r.header("x-switchyard-request-id").unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}

#[test]
fn streaming_is_incremental() {
    let m = mock(MockConfig { tokens: 10, token_interval_ms: 100, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", true));
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/event-stream"));
    assert_eq!(r.header("x-switchyard-model"), Some("m"));
    let events = r.events();
    // role chunk + 10 tokens + finish chunk + [DONE]
    assert_eq!(events.len(), 13, "{events:?}");
    assert_eq!(events.last().unwrap().1, "[DONE]");
    assert_eq!(r.streamed_content(), "t0 t1 t2 t3 t4 t5 t6 t7 t8 t9");
    let first = events[0].0;
    let last = events.last().unwrap().0;
    // The mock needs ~1.1 s for the whole stream; the first event must not wait for it.
    assert!(last >= Duration::from_millis(1000), "stream too fast: {last:?}");
    assert!(first < Duration::from_millis(400), "first event after {first:?}");
    // Events arrive spread out, not in one burst at the end.
    let distinct: std::collections::BTreeSet<u128> = events.iter().map(|(t, _)| t.as_millis() / 50).collect();
    assert!(distinct.len() >= 8, "events bunched together: {events:?}");
}

#[test]
fn include_usage_chunk_is_passed_through_when_asked() {
    let m = mock(MockConfig { tokens: 3, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let body = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#;
    let r = gw.client().post("/v1/chat/completions", body);
    let usage: Vec<_> = r.events().into_iter().filter(|(_, d)| d.contains("\"usage\":{")).collect();
    assert_eq!(usage.len(), 1, "{:?}", r.events());
}

#[test]
fn many_requests_on_one_keep_alive_connection() {
    let m = mock(MockConfig { tokens: 4, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    for i in 0..60 {
        let stream = i % 3 == 0;
        let r = c.post("/v1/chat/completions", &chat_body("m", stream));
        assert_eq!(r.status, 200, "request {i}");
        if stream {
            assert_eq!(r.streamed_content(), "t0 t1 t2 t3");
        } else {
            assert_eq!(r.json()["choices"][0]["message"]["content"], "t0 t1 t2 t3");
        }
    }
    assert_eq!(m.request_count(), 60);
    // Every proxied request is in the gateway's own-time histogram, with readable quantiles.
    let metrics = c.get("/metrics").text();
    assert!(metrics.contains("switchyard_overhead_seconds_count 60"), "{metrics}");
    let p99: f64 = metrics
        .lines()
        .find(|l| l.starts_with("switchyard_overhead_quantile_seconds{quantile=\"0.99\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(p99 > 0.0 && p99 < 0.05, "p99 {p99}");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let m = mock(MockConfig { tokens: 2, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    let mut all = post_bytes("/v1/chat/completions", &chat_body("m", false));
    all.extend(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    all.extend(post_bytes("/v1/chat/completions", &chat_body("nope", false)));
    all.extend(post_bytes("/v1/chat/completions", &chat_body("m", true)));
    c.send_raw(&all);
    assert_eq!(c.read_response().unwrap().status, 200);
    assert_eq!(c.read_response().unwrap().json()["status"], "ok");
    assert_eq!(c.read_response().unwrap().status, 404);
    let r = c.read_response().unwrap();
    assert_eq!(r.streamed_content(), "t0 t1");
}

#[test]
fn chunked_request_body_and_expect_continue() {
    let m = mock(MockConfig { tokens: 1, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    let body = chat_body("m", false);
    let (a, b) = body.split_at(10);
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    // Sent in small pieces to exercise reassembly.
    for piece in req.as_bytes().chunks(7) {
        c.send_raw(piece);
        std::thread::sleep(Duration::from_millis(1));
    }
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = m.seen();
    assert_eq!(String::from_utf8(seen[0].body.clone()).unwrap(), body.replace("\"m\"", "\"gpt-4o-mini\""));

    // Expect: 100-continue: the gateway answers 100 before the body is sent.
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    );
    c.send_raw(head.as_bytes());
    let mut got = [0u8; 25];
    use std::io::Read;
    c.stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send_raw(body.as_bytes());
    assert_eq!(c.read_response().unwrap().status, 200);
}

#[test]
fn models_and_health_endpoints() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    let r = c.get("/v1/models");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "m");
    assert_eq!(v["data"][0]["object"], "model");
    let r = c.get("/v1/models/m");
    assert_eq!(r.json(), serde_json::json!({"id":"m","object":"model","created":0,"owned_by":"mock"}));
    let r = c.get("/v1/models/m%2Fx");
    assert_eq!(assert_openai_error(&r, 404)["error"]["code"], "model_not_found");
    assert!(r.text().contains("m/x"), "the id is decoded: {}", r.text());
    let r = c.get("/v1/models/50%zz");
    assert_eq!(assert_openai_error(&r, 404)["error"]["code"], "model_not_found");
    assert!(r.text().contains("`50%zz`"), "a malformed escape is quoted as sent: {}", r.text());
    // Anthropic's SDK (it sends anthropic-version) gets Anthropic's shapes.
    let ant = [("anthropic-version", "2023-06-01")];
    let v = c.get_with("/v1/models", &ant).json();
    assert_eq!(v["data"][0]["type"], "model");
    assert_eq!((&v["has_more"], &v["first_id"]), (&serde_json::json!(false), &serde_json::json!("m")));
    assert_eq!(c.get_with("/v1/models/m", &ant).json()["display_name"], "m");
    let r = c.get_with("/v1/models/nope", &ant);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "not_found_error");
    let r = c.get("/healthz");
    assert_eq!(r.status, 200);
    let r = c.get("/nope");
    assert_openai_error(&r, 404);
    let r = c.get("/v1/chat/completions");
    assert_openai_error(&r, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = c.post("/healthz", "{}");
    assert_openai_error(&r, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    // The connection still works after errors.
    assert_eq!(c.get("/healthz").status, 200);
}

#[test]
fn head_is_get_without_the_body() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    let full = c.get("/v1/models");
    // The client reads a HEAD answer as head only, so a body sent anyway would sit in front of
    // the next answer on this keep-alive connection and break it: each HEAD is followed by a GET.
    let in_step = |c: &mut common::Client, after: &str| {
        assert_eq!(c.get("/healthz").text(), r#"{"status":"ok"}"#, "bytes after the head of {after}");
    };
    for path in ["/healthz", "/readyz", "/v1/models", "/metrics"] {
        let r = c.head(path);
        assert_eq!(r.status, 200, "{path}");
        let len: usize = r.header("content-length").unwrap().parse().unwrap();
        assert!(len > 0, "{path}: the length of the GET's body");
        if path == "/v1/models" {
            assert_eq!(len, full.body.len());
        }
        in_step(&mut c, path);
    }
    // Errors too: the head only.
    let r = c.head("/v1/chat/completions");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    in_step(&mut c, "a 405");
    assert_eq!(c.head("/nope").status, 404);
    in_step(&mut c, "a 404");
}

#[test]
fn close_delimited_upstream_bodies_are_rechunked() {
    let m = mock(MockConfig { tokens: 6, close_delimited: true, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut c = gw.client();
    let r = c.post("/v1/chat/completions", &chat_body("m", false));
    assert_eq!(r.status, 200);
    assert!(!r.chunked, "a whole answer is read to its end, checked, and sent with a length");
    assert_eq!(r.json()["choices"][0]["message"]["content"], "t0 t1 t2 t3 t4 t5");
    let r = c.post("/v1/chat/completions", &chat_body("m", true));
    assert_eq!(r.streamed_content(), "t0 t1 t2 t3 t4 t5");
    assert_eq!(r.events().last().unwrap().1, "[DONE]");
}

#[test]
fn tls_upstream_with_self_signed_mock() {
    let m = mock(MockConfig { tls: true, tokens: 3, ..Default::default() });
    let ca = temp_path("ca.pem");
    std::fs::write(&ca, m.cert_pem.as_ref().unwrap()).unwrap();
    assert!(m.base_url().starts_with("https://localhost:"));
    let extra = format!("[upstream]\nca_file = \"{}\"\n", ca.display());
    let gw = Gateway::start(&basic_config(&m.base_url(), &extra));
    let mut c = gw.client();
    for _ in 0..3 {
        let r = c.post("/v1/chat/completions", &chat_body("m", false));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["choices"][0]["message"]["content"], "t0 t1 t2");
        let r = c.post("/v1/chat/completions", &chat_body("m", true));
        assert_eq!(r.streamed_content(), "t0 t1 t2");
    }
    // Without the CA the certificate is untrusted: a clean 502, never a hang.
    let gw2 = Gateway::start(&basic_config(&m.base_url(), ""));
    let r = gw2.client().post("/v1/chat/completions", &chat_body("m", false));
    let v = assert_openai_error(&r, 502);
    assert!(v["error"]["message"].as_str().unwrap().contains("TLS"), "{v}");
    let _ = std::fs::remove_file(ca);
}

#[test]
fn graceful_shutdown_finishes_in_flight_stream() {
    let m = mock(MockConfig { tokens: 8, token_interval_ms: 100, ..Default::default() });
    let mut gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let addr = gw.addr;
    let h = std::thread::spawn(move || Client::connect(addr).post("/v1/chat/completions", &chat_body("m", true)));
    std::thread::sleep(Duration::from_millis(300));
    gw.signal("TERM");
    let r = h.join().unwrap();
    assert_eq!(r.streamed_content(), "t0 t1 t2 t3 t4 t5 t6 t7");
    let t = Instant::now();
    let status = loop {
        if let Some(s) = gw.child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "gateway did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    // New connections are refused once it stopped.
    assert!(std::net::TcpStream::connect(addr).is_err());
}
