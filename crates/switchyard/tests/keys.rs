//! Client keys: 401/403/429/402 in both dialects, limits shared by two workers, and no secret
//! in any log line, error body or metric.

mod common;

use std::time::{Duration, Instant};

use common::*;
use switchyard_guard::keys::{format_key_hash, hash_key};

const KEY_A: &str = "sk-sy-team-a-Xq7PzL0m2vR8";
const KEY_LIMITED: &str = "sk-sy-limited-Qw3Er5Ty7Ui9";
const KEY_TOKENS: &str = "sk-sy-tokens-Mn4Bv6Cx8Za0";
const KEY_BUDGET: &str = "sk-sy-budget-Lk2Jh4Gf6Ds8";
const PROVIDER_KEY: &str = "sk-test-provider-key";

fn h(k: &str) -> String {
    format_key_hash(&hash_key(k.as_bytes()))
}

fn keyed_config(base: &str, extra: &str) -> String {
    keyed_config_with(base, "", extra)
}

fn keyed_config_with(base: &str, server: &str, extra: &str) -> String {
    let keys = format!(
        r#"
[keys.team-a]
key_hash = "{}"
[keys.limited]
key_hash = "{}"
models = ["m"]
rpm = 3
[keys.tokens]
key_hash = "{}"
tpm = 100
[keys.budget]
key_hash = "{}"
budget_daily_usd = 0.00002
[models.other]
provider = "mock"
model = "gpt-4o"
{extra}
"#,
        h(KEY_A),
        h(KEY_LIMITED),
        h(KEY_TOKENS),
        h(KEY_BUDGET)
    );
    basic_config(base, server) + &keys + &admin_section()
}

fn bearer(k: &str) -> [(&'static str, String); 1] {
    [("authorization", format!("Bearer {k}"))]
}

fn post(gw: &Gateway, path: &str, body: &str, headers: &[(&str, &str)]) -> Response {
    gw.client().post_with(path, body, headers)
}

fn anthropic_body(model: &str) -> String {
    format!(r#"{{"model":"{model}","max_tokens":32,"messages":[{{"role":"user","content":"hello"}}]}}"#)
}

fn assert_anthropic_error(r: &Response, status: u16, kind: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
}

#[test]
fn every_key_status_in_both_dialects() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&keyed_config(&m.base_url(), ""));
    let chat = chat_body("m", false);
    let chat_path = "/v1/chat/completions";

    // 401: none, wrong, empty bearer; in the OpenAI and the Anthropic shape.
    let r = post(&gw, chat_path, &chat, &[]);
    let v = assert_openai_error(&r, 401);
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_openai_error(&post(&gw, chat_path, &chat, &[("authorization", "Bearer sk-wrong")]), 401);
    assert_openai_error(&post(&gw, chat_path, &chat, &[("authorization", "Bearer ")]), 401);
    assert_anthropic_error(
        &post(&gw, "/v1/messages", &anthropic_body("m"), &[("anthropic-version", "2023-06-01")]),
        401,
        "authentication_error",
    );
    assert_openai_error(&gw.client().get("/v1/models"), 401);
    assert_eq!(m.request_count(), 0, "nothing refused reached the provider");

    // Valid: Bearer for OpenAI clients, x-api-key for Anthropic ones; /v1/models too.
    let [(n, v)] = bearer(KEY_A);
    assert_eq!(post(&gw, chat_path, &chat, &[(n, &v)]).status, 200);
    let r =
        post(&gw, "/v1/messages", &anthropic_body("m"), &[("x-api-key", KEY_A), ("anthropic-version", "2023-06-01")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(gw.client().get_with("/v1/models", &[(n, &v)]).status, 200);

    // 403: a model outside the key's list.
    let [(n, v)] = bearer(KEY_LIMITED);
    let r = post(&gw, chat_path, &chat_body("other", false), &[(n, &v)]);
    let e = assert_openai_error(&r, 403);
    assert!(e["error"]["message"].as_str().unwrap().contains("`other`"), "{e}");
    let r = post(
        &gw,
        "/v1/messages",
        &anthropic_body("other"),
        &[("x-api-key", KEY_LIMITED), ("anthropic-version", "2023-06-01")],
    );
    assert_anthropic_error(&r, 403, "permission_error");

    // 429 with retry-after: rpm = 3 (the 403 above did not count).
    for i in 0..3 {
        assert_eq!(post(&gw, chat_path, &chat, &[(n, &v)]).status, 200, "request {i} within the limit");
    }
    let r = post(&gw, chat_path, &chat, &[(n, &v)]);
    assert_openai_error(&r, 429);
    let retry: u64 = r.header("retry-after").expect("retry-after").parse().unwrap();
    assert!((1..=20).contains(&retry), "one request frees up within 20 s: {retry}");
    let r = post(
        &gw,
        "/v1/messages",
        &anthropic_body("m"),
        &[("x-api-key", KEY_LIMITED), ("anthropic-version", "2023-06-01")],
    );
    assert_anthropic_error(&r, 429, "rate_limit_error");
    assert!(r.header("retry-after").is_some());

    // Tokens per minute: each request reserves its body's ~23 tokens plus `max_tokens` = 16,
    // and each answer uses ~40 at the mock: two fit in the 100 allowed, the third's
    // reservation does not.
    let [(n, v)] = bearer(KEY_TOKENS);
    let small = chat_body_max("m", false, 16);
    assert_eq!(post(&gw, chat_path, &small, &[(n, &v)]).status, 200);
    assert_eq!(post(&gw, chat_path, &small, &[(n, &v)]).status, 200);
    let r = post(&gw, chat_path, &small, &[(n, &v)]);
    let e = assert_openai_error(&r, 429);
    assert!(e["error"]["message"].as_str().unwrap().contains("tokens per minute"), "{e}");
    assert!(r.header("retry-after").is_some());

    // Budget ($0.00002 a day): a request that could cost more than is left is refused before
    // it reaches the provider, whatever it would really have used. Without `max_tokens` it
    // reserves 4,096 output tokens ($0.0025); with 16 it fits, once.
    let [(n, v)] = bearer(KEY_BUDGET);
    let before = m.request_count();
    let r = post(&gw, chat_path, &chat, &[(n, &v)]);
    let e = assert_openai_error(&r, 402);
    assert!(e["error"]["message"].as_str().unwrap().contains("could cost up to $0.00246"), "{e}");
    assert_eq!(m.request_count(), before, "the refused request never reached the provider");
    assert_eq!(post(&gw, chat_path, &small, &[(n, &v)]).status, 200);
    let r = post(&gw, chat_path, &small, &[(n, &v)]);
    let e = assert_openai_error(&r, 402);
    assert_eq!(e["error"]["type"], "insufficient_quota");
    assert!(e["error"]["message"].as_str().unwrap().contains("budget"), "{e}");
    let r = post(
        &gw,
        "/v1/messages",
        &anthropic_body("m"),
        &[("x-api-key", KEY_BUDGET), ("anthropic-version", "2023-06-01")],
    );
    assert_anthropic_error(&r, 402, "billing_error");

    let metrics = gw.metrics();
    for line in [
        "switchyard_key_requests_total{key=\"limited\",outcome=\"admitted\"} 3",
        "switchyard_key_requests_total{key=\"limited\",outcome=\"forbidden\"} 2",
        "switchyard_key_requests_total{key=\"limited\",outcome=\"rate_limited\"} 2",
        "switchyard_key_requests_total{key=\"budget\",outcome=\"over_budget\"} 3",
        "switchyard_key_reserved_usd{key=\"budget\"} 0.000000000",
        "switchyard_key_reserved_tokens{key=\"tokens\"} 0",
        "switchyard_auth_failures_total 5",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in\n{metrics}");
    }
}

#[test]
fn streamed_answers_are_charged_to_the_key() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&keyed_config(&m.base_url(), ""));
    let [(n, v)] = bearer(KEY_TOKENS);
    let r = post(&gw, "/v1/chat/completions", &chat_body_max("m", true, 16), &[(n, &v)]);
    assert_eq!(r.status, 200);
    assert!(r.streamed_content().contains("t0"));
    let metrics = gw.metrics();
    let tokens: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_key_tokens_total{key=\"tokens\"} "))
        .expect("token counter")
        .parse()
        .unwrap();
    assert!(tokens >= 16, "the stream's usage was charged: {tokens}\n{metrics}");
}

#[test]
fn rate_limit_holds_within_5_percent_across_two_workers() {
    let m = mock(MockConfig { threads: 2, ..Default::default() });
    let rpm = 600u64;
    let cfg = basic_config(&m.base_url(), "")
        + &format!("[keys.busy]\nkey_hash = \"{}\"\nrpm = {rpm}\n", h(KEY_A))
        + &admin_section();
    let gw = Gateway::start(&cfg);
    let run_for = Duration::from_secs(3);
    let start = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let addr = gw.addr;
            std::thread::spawn(move || {
                let mut ok = 0u64;
                let mut limited = 0u64;
                // A new connection per batch so SO_REUSEPORT spreads them over both workers.
                while start.elapsed() < run_for {
                    let mut c = Client::connect(addr);
                    for _ in 0..20 {
                        let r = c.post_with(
                            "/v1/chat/completions",
                            &chat_body("m", false),
                            &[("authorization", &format!("Bearer {KEY_A}"))],
                        );
                        match r.status {
                            200 => ok += 1,
                            429 => limited += 1,
                            s => panic!("unexpected status {s}: {}", r.text()),
                        }
                    }
                }
                (ok, limited)
            })
        })
        .collect();
    let (ok, limited) = threads.into_iter().map(|t| t.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let elapsed = start.elapsed().as_secs_f64();
    // GCRA: a minute's worth as a burst, then rpm/60 per second.
    let expected = rpm as f64 + elapsed * rpm as f64 / 60.0;
    let err = (ok as f64 - expected).abs() / expected;
    assert!(limited > 0, "the limit was reached ({ok} admitted)");
    assert!(err < 0.05, "admitted {ok}, expected {expected:.0} over {elapsed:.2} s ({:.1} % off)", err * 100.0);
    let metrics = gw.metrics();
    assert!(metrics.contains(&format!("switchyard_key_requests_total{{key=\"busy\",outcome=\"admitted\"}} {ok}")));
}

#[test]
fn no_secret_in_logs_errors_or_metrics() {
    let m = mock(MockConfig { require_key: Some(PROVIDER_KEY.into()), ..Default::default() });
    let log = temp_path("decisions.jsonl");
    let extra = format!("[log]\ndecisions = \"{}\"\n", log.display());
    let gw = Gateway::start(&keyed_config(&m.base_url(), &extra));
    let mut bodies = Vec::new();
    let chat = chat_body("m", false);
    for k in [KEY_A, KEY_LIMITED, KEY_TOKENS, KEY_BUDGET] {
        for stream in [false, true] {
            let r = post(
                &gw,
                "/v1/chat/completions",
                &chat_body("m", stream),
                &[("authorization", &format!("Bearer {k}"))],
            );
            bodies.push(r.text());
        }
        let r = post(
            &gw,
            "/v1/messages",
            &anthropic_body("other"),
            &[("x-api-key", k), ("anthropic-version", "2023-06-01")],
        );
        bodies.push(r.text());
    }
    // Near misses: a wrong key that shares a prefix, keys in the wrong header, the admin key
    // on the API and an API key on the admin port.
    let near = format!("{KEY_A}x");
    for (name, v) in [
        ("authorization", format!("Bearer {near}")),
        ("x-api-key", near.clone()),
        ("authorization", format!("Bearer {ADMIN_KEY}")),
        ("authorization", format!("Bearer {PROVIDER_KEY}")),
    ] {
        bodies.push(post(&gw, "/v1/chat/completions", &chat, &[(name, &v)]).text());
    }
    let admin = gw.admin_addr();
    bodies.push(Client::connect(admin).get_with("/admin/health", &admin_auth()).text());
    bodies.push(
        Client::connect(admin).post_with("/admin/reload", "", &[("authorization", &format!("Bearer {KEY_A}"))]).text(),
    );
    bodies.push(Client::connect(admin).post_with("/admin/reload", "", &admin_auth()).text());
    let metrics = gw.metrics();
    assert!(metrics.contains("switchyard_key_requests_total{key=\"team-a\""), "{metrics}");
    gw.signal("TERM");
    let t = Instant::now();
    let mut decisions = String::new();
    while t.elapsed() < Duration::from_secs(5) {
        decisions = std::fs::read_to_string(&log).unwrap_or_default();
        if decisions.lines().count() >= 16 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(decisions.contains("\"key\":\"team-a\""), "requests are attributed by key name: {decisions}");
    std::thread::sleep(Duration::from_millis(200));
    let all = [gw.log_text(), decisions, metrics, bodies.join("\n")];
    for secret in [KEY_A, KEY_LIMITED, KEY_TOKENS, KEY_BUDGET, ADMIN_KEY, PROVIDER_KEY, &near] {
        for (what, text) in ["gateway log", "decision log", "metrics", "response bodies"].iter().zip(&all) {
            assert!(!text.contains(secret), "{what} contains the secret {secret}:\n{text}");
        }
    }
    assert!(m.request_count() > 0, "the provider key was used");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn keys_command_prints_a_key_and_its_hash() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard")).args(["keys", "new"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text.lines().find_map(|l| l.strip_prefix("key:")).unwrap().trim().to_string();
    let hash = text.lines().find_map(|l| l.strip_prefix("key_hash:")).unwrap().trim().to_string();
    assert!(key.starts_with("sk-sy-") && key.len() >= 49, "{key}");
    assert_eq!(hash, h(&key));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["keys", "hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{key}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), hash);
}

#[test]
fn spend_survives_a_restart_through_the_state_file() {
    let m = mock(MockConfig::default());
    let state = temp_path("state.json");
    let cfg = keyed_config_with(&m.base_url(), &format!("state_file = \"{}\"", state.display()), "");
    let [(n, v)] = bearer(KEY_BUDGET);
    {
        let mut gw = Gateway::start(&cfg);
        assert_eq!(post(&gw, "/v1/chat/completions", &chat_body_max("m", false, 16), &[(n, &v)]).status, 200);
        assert_eq!(post(&gw, "/v1/chat/completions", &chat_body_max("m", false, 16), &[(n, &v)]).status, 402);
        gw.signal("TERM");
        let _ = gw.child.wait();
    }
    let saved = std::fs::read_to_string(&state).expect("state written at exit");
    assert!(saved.contains("\"budget\"") && !saved.contains(KEY_BUDGET), "{saved}");
    let gw = Gateway::start(&cfg);
    assert!(gw.log_text().contains("restored the spend of"), "{}", gw.log_text());
    let r = post(&gw, "/v1/chat/completions", &chat_body_max("m", false, 16), &[(n, &v)]);
    assert_eq!(r.status, 402, "today's spend came back: {}", r.text());
    let [(n, v)] = bearer(KEY_A);
    assert_eq!(post(&gw, "/v1/chat/completions", &chat_body("m", false), &[(n, &v)]).status, 200);
    let _ = std::fs::remove_file(&state);
}
