//! Spend that cannot be bypassed and tenants kept apart: usage always asked for, budgets
//! reserved at admission under concurrency, allow-lists on every attempt, `/metrics` behind
//! the admin key, the cache and routing headers per key, and an admin API that a trickling
//! client cannot block.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use switchyard_guard::keys::{format_key_hash, hash_key};

const KEY_A: &str = "sk-sy-tenant-a-Xq7PzL0m2vR8";
const KEY_B: &str = "sk-sy-tenant-b-Qw3Er5Ty7Ui9";

fn h(k: &str) -> String {
    format_key_hash(&hash_key(k.as_bytes()))
}

fn auth(k: &str) -> String {
    format!("Bearer {k}")
}

/// Two tenant keys (`a`, `b`) and the admin section over `basic_config`; `a_extra`/`b_extra`
/// are more lines of each key.
fn tenants(base: &str, a_extra: &str, b_extra: &str, extra: &str) -> String {
    basic_config(base, "")
        + &format!(
            "[keys.a]\nkey_hash = \"{}\"\n{a_extra}\n[keys.b]\nkey_hash = \"{}\"\n{b_extra}\n{extra}\n",
            h(KEY_A),
            h(KEY_B)
        )
        + &admin_section()
}

fn metric_value(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{prefix}` in\n{metrics}"))
}

#[test]
fn streams_are_charged_whatever_stream_options_say() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&tenants(&m.base_url(), "", "", ""));
    let tokens = || metric_value(&gw.metrics(), "switchyard_key_tokens_total{key=\"a\"}");
    let msgs = r#""messages":[{"role":"user","content":"hello"}]"#;
    let bodies = [
        format!(r#"{{"model":"m","stream":true,"stream_options":{{"include_usage":false}},{msgs}}}"#),
        format!(r#"{{"model":"m","stream":true,"stream_options":{{}},{msgs}}}"#),
        // An escaped key takes the re-serialising path.
        format!(r#"{{"mod\u0065l":"m","stream":true,{msgs}}}"#),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let before = tokens();
        let r = gw.client().post_with("/v1/chat/completions", body, &[("authorization", &auth(KEY_A))]);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(!has_usage(&r), "usage the client did not ask for: {body}");
        let sent: serde_json::Value = serde_json::from_slice(&m.seen()[i].body).unwrap();
        assert_eq!(sent["stream_options"]["include_usage"], true, "usage asked upstream for {body}");
        assert!(tokens() >= before + 16.0, "the stream's 16 answer tokens were charged: {body}");
    }
    // A client that asked for usage still gets it.
    let body = format!(r#"{{"model":"m","stream":true,"stream_options":{{"include_usage":true}},{msgs}}}"#);
    let r = gw.client().post_with("/v1/chat/completions", &body, &[("authorization", &auth(KEY_A))]);
    assert!(has_usage(&r));
}

/// Whether a stream carried a usage object (a same-dialect stream may carry `"usage": null`
/// on each chunk, as OpenAI's does once usage is asked for).
fn has_usage(r: &Response) -> bool {
    r.events()
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<serde_json::Value>(d).ok())
        .any(|v| v["usage"].is_object())
}

/// The cost one `chat_body_max("m", false, 16)` request is charged, from a gateway of its own.
fn one_request_cost(base: &str) -> f64 {
    let gw = Gateway::start(&tenants(base, "", "", ""));
    let r = gw.client().post_with(
        "/v1/chat/completions",
        &chat_body_max("m", false, 16),
        &[("authorization", &auth(KEY_A))],
    );
    assert_eq!(r.status, 200);
    metric_value(&gw.metrics(), "switchyard_key_spend_usd{key=\"a\",period=\"day\"}")
}

#[test]
fn fifty_concurrent_requests_cannot_spend_past_a_budget() {
    // The mock holds each answer 300 ms, so all 50 are in flight at once.
    let m = mock(MockConfig { latency_ms: 300, threads: 4, ..Default::default() });
    let cost = one_request_cost(&m.base_url());
    let budget = cost * 8.5;
    let gw = Gateway::start(&tenants(&m.base_url(), "", &format!("budget_daily_usd = {budget:.12}"), ""));
    let start = Arc::new(Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (addr, start) = (gw.addr, start.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                start.wait();
                let r = c.post_with(
                    "/v1/chat/completions",
                    &chat_body_max("m", false, 16),
                    &[("authorization", &auth(KEY_B))],
                );
                assert!(r.status == 200 || r.status == 402, "{} {}", r.status, r.text());
                r.status
            })
        })
        .collect();
    let answered = threads.into_iter().map(|t| t.join().unwrap()).filter(|&s| s == 200).count();
    let metrics = gw.metrics();
    let spent = metric_value(&metrics, "switchyard_key_spend_usd{key=\"b\",period=\"day\"}");
    // Printed for docs/security.md (`cargo nextest run --test tenancy fifty --no-capture`).
    println!("answered {answered} of 50; spent ${spent:.9} of a ${budget:.9} budget; one request ${cost:.9}");
    assert!((8..=9).contains(&answered), "{answered} of 50 answered on a budget that fits 8");
    assert!(spent <= budget + cost, "spent {spent} on a budget of {budget} (one request costs {cost})");
    assert_eq!(metric_value(&metrics, "switchyard_key_reserved_usd{key=\"b\"}"), 0.0, "{metrics}");
}

#[test]
fn a_key_limited_to_one_model_never_gets_another_models_answer() {
    let m = mock(MockConfig::default());
    // `g` speaks Gemini and falls back to `m`; the key may use `g` only.
    let extra = format!(
        "[providers.gem]\nbase_url = \"{}/v1beta\"\ndialect = \"gemini\"\napi_key = \"k\"\n\
         [models.g]\nprovider = \"gem\"\nmodel = \"gemini-2.0-flash\"\nfallbacks = [\"m\"]\n\
         [routes.auto]\ntiers = [{{ name = \"t\", models = [\"g\", \"m\"] }}]\n",
        m.base_url()
    );
    let gw = Gateway::start(&tenants(&m.base_url(), "models = [\"g\"]", "models = [\"auto\"]", &extra));
    let a = [("authorization", auth(KEY_A))];
    let a = [(a[0].0, a[0].1.as_str())];
    assert_eq!(gw.client().post_with("/v1/chat/completions", &chat_body("g", false), &a).status, 200);
    // A role Gemini cannot take: `g` fails to translate it, and the fallback is not the key's.
    let odd = r#"{"model":"g","messages":[{"role":"narrator","content":"hello"}]}"#;
    let r = gw.client().post_with("/v1/chat/completions", odd, &a);
    let e = assert_openai_error(&r, 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("narrator"), "{e}");
    assert!(m.seen().iter().all(|s| !s.path.starts_with("/v1/chat")), "nothing reached model m");
    // A key that names the route may use the route's own models, fallbacks included.
    let b = auth(KEY_B);
    let r = gw.client().post_with("/v1/chat/completions", &chat_body("auto", false), &[("authorization", &b)]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        gw.client().post_with("/v1/chat/completions", &chat_body("m", false), &[("authorization", &b)]).status,
        403
    );
}

#[test]
fn metrics_need_the_admin_key_when_keys_exist() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&tenants(&m.base_url(), "", "", ""));
    for headers in
        [vec![], vec![("authorization", auth(KEY_A))], vec![("authorization", "Bearer sk-wrong".to_string())]]
    {
        let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = gw.client().get_with("/metrics", &h);
        assert_openai_error(&r, 401);
        assert!(!r.text().contains("switchyard_key"), "{}", r.text());
    }
    assert!(gw.metrics().contains("switchyard_key_requests_total"));
    let admin = Client::connect(gw.admin_addr()).get_with("/metrics", &admin_auth());
    assert_eq!(admin.status, 200);
    assert!(admin.text().contains("switchyard_requests_total"));
    assert_eq!(Client::connect(gw.admin_addr()).get("/metrics").status, 401);
    // An operator may publish them.
    let open = Gateway::start(&tenants(&m.base_url(), "", "", "[metrics]\npublic = true\n"));
    assert_eq!(open.client().get("/metrics").status, 200);
    // With no client keys there is nothing to hide: as before.
    let keyless = Gateway::start(&basic_config(&m.base_url(), ""));
    assert_eq!(keyless.client().get("/metrics").status, 200);
}

fn cached_tenants(base: &str, extra: &str) -> String {
    let routes = format!(
        "[models.big]\nprovider = \"mock\"\nmodel = \"gpt-4o\"\n\
         [routes.auto]\ntiers = [{{ name = \"weak\", models = [\"m\"] }}, {{ name = \"strong\", models = [\"big\"] }}]\n\
         cache = {{ ttl_ms = 60000 }}\n{extra}"
    );
    tenants(base, "routing_headers = true", "", &routes)
}

fn cache_tag(gw: &Gateway, key: &str, extra: &[(&str, &str)]) -> (String, String) {
    let body = r#"{"model":"auto","max_tokens":20,"messages":[{"role":"user","content":"what is 6 x 7?"}]}"#;
    let a = auth(key);
    let mut headers = vec![("authorization", a.as_str())];
    headers.extend_from_slice(extra);
    let r = gw.client().post_with("/v1/chat/completions", body, &headers);
    assert_eq!(r.status, 200, "{}", r.text());
    (r.header("x-switchyard-cache").unwrap_or("none").to_string(), r.header("x-switchyard-model").unwrap().to_string())
}

#[test]
fn the_cache_is_kept_per_key_and_per_tier() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&cached_tenants(&m.base_url(), ""));
    assert_eq!(cache_tag(&gw, KEY_A, &[]).0, "miss");
    assert_eq!(cache_tag(&gw, KEY_A, &[]).0, "hit");
    assert_eq!(cache_tag(&gw, KEY_B, &[]).0, "miss", "b must not learn what a asked");
    assert_eq!(cache_tag(&gw, KEY_B, &[]).0, "hit");
    // A tier header picks another model, so another entry.
    assert_eq!(cache_tag(&gw, KEY_A, &[("x-switchyard-tier", "strong")]), ("miss".into(), "big".into()));
    assert_eq!(cache_tag(&gw, KEY_A, &[]), ("hit".into(), "m".into()));
    assert_eq!(m.request_count(), 3);
    // Shared on purpose.
    let shared = Gateway::start(&cached_tenants(&m.base_url(), "[cache]\nshare_across_keys = true\n"));
    assert_eq!(cache_tag(&shared, KEY_A, &[]).0, "miss");
    assert_eq!(cache_tag(&shared, KEY_B, &[]).0, "hit");
}

#[test]
fn routing_headers_are_heard_only_from_keys_allowed_them() {
    let m = mock(MockConfig::default());
    let log = temp_path("routing-headers.jsonl");
    let extra = format!(
        "[models.big]\nprovider = \"mock\"\nmodel = \"gpt-4o\"\n\
         [routes.auto]\ntiers = [{{ name = \"weak\", models = [\"m\"] }}, {{ name = \"strong\", models = [\"big\"] }}]\n\
         [[routes.auto.rules]]\nname = \"team\"\nheader = \"x-team\"\nheader_value = \"research\"\ntier = \"strong\"\n\
         [log]\ndecisions = \"{}\"\n",
        log.display()
    );
    let gw = Gateway::start(&tenants(&m.base_url(), "routing_headers = true", "", &extra));
    let model = |key: &str, header: (&str, &str)| {
        let a = auth(key);
        let r =
            gw.client().post_with("/v1/chat/completions", &chat_body("auto", false), &[("authorization", &a), header]);
        assert_eq!(r.status, 200, "{}", r.text());
        r.header("x-switchyard-model").unwrap().to_string()
    };
    for header in [("x-switchyard-tier", "strong"), ("x-switchyard-min-tier", "strong"), ("x-team", "research")] {
        assert_eq!(model(KEY_A, header), "big", "{header:?} from a key allowed them");
        assert_eq!(model(KEY_B, header), "m", "{header:?} from a key not allowed them");
    }
    gw.signal("TERM");
    let t = Instant::now();
    let mut text = String::new();
    while t.elapsed() < Duration::from_secs(5) && text.lines().count() < 6 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        std::thread::sleep(Duration::from_millis(50));
    }
    // Two workers write records in their own order: judge them by key.
    let mut ignored: Vec<(String, bool)> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["key"].as_str().unwrap().to_string(), v["routing_headers_ignored"].as_bool().unwrap()))
        .collect();
    ignored.sort();
    let want: Vec<(String, bool)> = [("a", false), ("a", false), ("a", false), ("b", true), ("b", true), ("b", true)]
        .map(|(k, i)| (k.into(), i))
        .into();
    assert_eq!(ignored, want, "{text}");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn the_admin_api_answers_while_a_client_trickles() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&tenants(&m.base_url(), "", "", ""));
    let admin = gw.admin_addr();
    let mut trickler = std::net::TcpStream::connect(admin).unwrap();
    trickler.write_all(b"G").unwrap();
    let t = Instant::now();
    let r = Client::connect(admin).get_with("/admin/health", &admin_auth());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(t.elapsed() < Duration::from_secs(2), "answered in {:?} beside a trickling client", t.elapsed());
    // The trickler has a whole-request deadline (5 s from its first byte), however it paces
    // its bytes: trickling for 3.5 s and then waiting is answered 408 at 5 s.
    for b in b"ET /admin/health" {
        trickler.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(220));
    }
    trickler.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reply = Vec::new();
    let _ = trickler.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(t.elapsed() < Duration::from_millis(6500), "closed after {:?}", t.elapsed());
}

#[test]
fn a_client_that_leaves_before_the_usage_is_charged_in_every_dialect() {
    // 40 tokens 50 ms apart: the client leaves after its third event, long before the usage
    // (the last event in all three upstream dialects) is sent.
    let m = mock(MockConfig { tokens: 40, token_interval_ms: 50, ..Default::default() });
    let providers = format!(
        "[providers.anth]\ndialect = \"anthropic\"\nbase_url = \"{b}/v1\"\napi_key = \"k\"\n\
         [providers.gem]\ndialect = \"gemini\"\nbase_url = \"{b}/v1beta\"\napi_key = \"k\"\n\
         [models.a]\nprovider = \"anth\"\nmodel = \"claude-haiku-4-5\"\n\
         [models.g]\nprovider = \"gem\"\nmodel = \"gemini-2.5-flash\"\n",
        b = m.base_url()
    );
    let gw = Gateway::start(&tenants(&m.base_url(), "", "", &providers));
    for (model, k, name) in [("m", KEY_A, "a"), ("a", KEY_B, "b"), ("g", KEY_A, "a")] {
        let tokens = || metric_value(&gw.metrics(), &format!("switchyard_key_tokens_total{{key=\"{name}\"}}"));
        let spend =
            || metric_value(&gw.metrics(), &format!("switchyard_key_spend_usd{{key=\"{name}\",period=\"day\"}}"));
        let (t0, s0) = (tokens(), spend());
        let body = chat_body(model, true);
        let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
        let req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {k}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while seen.windows(6).filter(|w| w == b"data: ").count() < 3 {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "{model}: stream ended early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        drop(s);
        let t = Instant::now();
        while tokens() == t0 && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let charged = tokens() - t0;
        // The prompt (~20 tokens) and a few relayed tokens: charged, and short of the whole
        // answer's 40 output tokens.
        assert!(charged >= 10.0, "{model}: {charged} tokens charged for a stream left early");
        assert!(charged < 60.0, "{model}: {charged} tokens: charged as if read to the end");
        assert!(spend() > s0, "{model}: no spend charged");
    }
}

#[test]
fn only_the_key_that_made_a_request_may_rate_it_and_feedback_is_rate_limited() {
    let m = mock(MockConfig::default());
    let log = temp_path("feedback-owner.jsonl");
    let gw =
        Gateway::start(&tenants(&m.base_url(), "", "rpm = 3", &format!("[log]\ndecisions = \"{}\"\n", log.display())));
    let (a, b) = (auth(KEY_A), auth(KEY_B));
    let r = gw.client().post_with("/v1/chat/completions", &chat_body("m", false), &[("authorization", &a)]);
    let id = r.header("x-switchyard-request-id").unwrap().to_string();
    let rate = |key: &str, id: &str| {
        let body = format!(r#"{{"request_id":"{id}","rating":"up"}}"#);
        gw.client().post_with("/v1/feedback", &body, &[("authorization", key)])
    };
    // Another key, a neighbouring id and an id this gateway never made: 404, like an unknown id.
    assert_openai_error(&rate(&b, &id), 404);
    let mut neighbour = id.clone();
    neighbour.replace_range(19..20, if &id[19..20] == "0" { "1" } else { "0" });
    assert_openai_error(&rate(&a, &neighbour), 404);
    assert_openai_error(&rate(&a, "00000000000000000000000000000000beef"), 404);
    assert_eq!(rate(&a, &id).status, 200);
    // Feedback spends the key's requests per minute, like chat: b has 3 and used 1 above.
    let rb = gw.client().post_with("/v1/chat/completions", &chat_body("m", false), &[("authorization", &b)]);
    let id_b = rb.header("x-switchyard-request-id").unwrap().to_string();
    assert_eq!(rate(&b, &id_b).status, 200);
    let r = rate(&b, &id_b);
    assert_openai_error(&r, 429);
    assert!(r.header("retry-after").is_some());
    gw.signal("TERM");
    let t = Instant::now();
    let mut feedback = Vec::new();
    while t.elapsed() < Duration::from_secs(5) && feedback.len() < 2 {
        feedback = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["type"] == "feedback")
            .collect();
        std::thread::sleep(Duration::from_millis(50));
    }
    let keys: Vec<_> = feedback.iter().map(|f| f["key"].as_str().unwrap().to_string()).collect();
    assert_eq!(keys, ["a", "b"], "each record names its key: {feedback:?}");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn an_oversized_answer_is_a_502_charged_and_not_retried() {
    let big = mock(MockConfig { tokens: 3000, ..Default::default() });
    let small = mock(MockConfig { tokens: 2, ..Default::default() });
    let config = |extra: &str| {
        let models = format!(
            "[providers.small]\nbase_url = \"{}/v1\"\napi_key = \"k\"\n[models.s]\nprovider = \"small\"\nmodel = \"gpt-4o-mini\"\n\
             [models.b]\nprovider = \"mock\"\nmodel = \"gpt-4o-mini\"\nfallbacks = [\"s\"]\n[upstream]\nmax_answer_bytes = 4096\n{extra}",
            small.base_url()
        );
        tenants(&big.base_url(), "", "", &models)
    };
    let gw = Gateway::start(&config(""));
    let a = auth(KEY_A);
    let spend = || metric_value(&gw.metrics(), "switchyard_key_spend_usd{key=\"a\",period=\"day\"}");
    let r = gw.client().post_with("/v1/chat/completions", &chat_body("b", false), &[("authorization", &a)]);
    let e = assert_openai_error(&r, 502);
    assert_eq!(e["error"]["code"], "upstream_answer_too_large", "{e}");
    // The translated path (an Anthropic client) says the same in its own dialect.
    let body = r#"{"model":"b","max_tokens":5000,"messages":[{"role":"user","content":"hello"}]}"#;
    let r = gw.client().post_with("/v1/messages", body, &[("x-api-key", KEY_A), ("anthropic-version", "2023-06-01")]);
    assert_eq!((r.status, r.json()["error"]["type"].as_str()), (502, Some("api_error")), "{}", r.text());
    assert!(r.text().contains("max_answer_bytes"));
    assert_eq!(small.request_count(), 0, "a second paid attempt was made");
    assert!(spend() > 0.0, "what the provider sent was charged");
    // Retried on the next model only when configured.
    let gw = Gateway::start(&config("retry_too_large = true\n"));
    let r = gw.client().post_with("/v1/chat/completions", &chat_body("b", false), &[("authorization", &a)]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(small.request_count(), 1);
}

#[test]
fn after_ten_thousand_mixed_requests_nothing_stays_reserved() {
    let ok = mock(MockConfig { tokens: 8, threads: 2, ..Default::default() });
    let flaky = mock(MockConfig { tokens: 8, fail_rate: 0.3, fail_status: 500, ..Default::default() });
    let slow = mock(MockConfig { tokens: 20, token_interval_ms: 3, ..Default::default() });
    let extra = format!(
        "[providers.flaky]\nbase_url = \"{}/v1\"\napi_key = \"k\"\n[providers.slow]\nbase_url = \"{}/v1\"\napi_key = \"k\"\n\
         [models.f]\nprovider = \"flaky\"\nmodel = \"gpt-4o-mini\"\nfallbacks = [\"m\"]\n\
         [models.s]\nprovider = \"slow\"\nmodel = \"gpt-4o-mini\"\n\
         [models.big]\nprovider = \"mock\"\nmodel = \"gpt-4o\"\n\
         [routes.cached]\ntiers = [{{ name = \"t\", models = [\"m\"] }}]\ncache = {{ ttl_ms = 60000 }}\n\
         [routes.careful]\ntiers = [{{ name = \"cheap\", models = [\"f\"] }}, {{ name = \"strong\", models = [\"big\"] }}]\n\
         cascade = {{ min_length = 30 }}\n",
        flaky.base_url(),
        slow.base_url()
    );
    // Limits generous enough that most requests pass, tight enough that some are refused.
    let gw =
        Gateway::start(&tenants(&ok.base_url(), "budget_daily_usd = 1000.0\ntpm = 100000000", "tpm = 20000", &extra));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let addr = gw.addr;
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                for i in 0..1250 {
                    let key = if (t + i) % 3 == 0 { KEY_B } else { KEY_A };
                    let (model, stream) = match i % 6 {
                        0 => ("m", false),
                        1 => ("f", i % 12 == 1),
                        2 => ("cached", false),
                        3 => ("careful", false),
                        4 => ("no-such-model", false),
                        _ => ("s", true),
                    };
                    let body = chat_body_max(model, stream, 64);
                    if model == "s" && i % 4 == 1 {
                        // Leave mid-stream.
                        let mut s = std::net::TcpStream::connect(addr).unwrap();
                        let req = format!(
                            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        s.write_all(req.as_bytes()).unwrap();
                        let _ = s.read(&mut [0u8; 256]);
                        continue;
                    }
                    let r = c.post_with("/v1/chat/completions", &body, &[("authorization", &auth(key))]);
                    assert!(matches!(r.status, 200 | 404 | 429 | 502), "{}: {}", r.status, r.text());
                    if r.status != 200 {
                        c = Client::connect(addr);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Streams left mid-way end at their next write: give them a moment.
    let t = Instant::now();
    loop {
        let metrics = gw.metrics();
        let held: Vec<f64> = ["a", "b"]
            .iter()
            .flat_map(|k| {
                [
                    metric_value(&metrics, &format!("switchyard_key_reserved_usd{{key=\"{k}\"}}")),
                    metric_value(&metrics, &format!("switchyard_key_reserved_tokens{{key=\"{k}\"}}")),
                ]
            })
            .collect();
        if held.iter().all(|&v| v == 0.0) {
            let limited = metric_value(&metrics, "switchyard_key_requests_total{key=\"b\",outcome=\"rate_limited\"}");
            assert!(limited > 0.0, "some reservations were refused: {metrics}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "still reserved after the load: {held:?}\n{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
