//! Routing through a live gateway: fallback across providers, rules and tier headers, hot
//! reload under load, the admin endpoint, and the offline `route`/`calibrate` commands.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// Three providers: `a` (cheapest) is down, `b` rate-limits every call, `c` works.
fn three_provider_config(a: &str, b: &str, c: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 2
{admin}
[providers.pa]
base_url = "{a}/v1"
[providers.pb]
base_url = "{b}/v1"
[providers.pc]
base_url = "{c}/v1"
[models.ma]
provider = "pa"
model = "model-a"
input_price = 0.1
output_price = 0.1
fallbacks = ["mb", "mc"]
[models.mb]
provider = "pb"
model = "model-b"
input_price = 0.2
output_price = 0.2
[models.mc]
provider = "pc"
model = "model-c"
input_price = 0.3
output_price = 0.3
[routes.auto]
tiers = [{{ name = "weak", models = ["ma", "mb", "mc"] }}]
{extra}
"#,
        admin = admin_section()
    )
}

#[test]
fn fallback_keeps_answering_with_one_provider_down_and_one_rate_limiting() {
    let down = format!("http://127.0.0.1:{}", closed_port());
    let limited = mock(MockConfig { fail_rate: 1.0, fail_status: 429, ..Default::default() });
    let ok = mock(MockConfig { tokens: 3, ..Default::default() });
    let gw = Gateway::start(&three_provider_config(&down, &limited.base_url(), &ok.base_url(), ""));
    let mut c = gw.client();
    for i in 0..40 {
        let stream = i % 4 == 0;
        let model = if i % 2 == 0 { "auto" } else { "ma" };
        let r = c.post("/v1/chat/completions", &chat_body(model, stream));
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        assert_eq!(r.header("x-switchyard-model"), Some("mc"), "request {i}");
        assert_eq!(r.header("x-switchyard-provider"), Some("pc"));
        if stream {
            assert_eq!(r.streamed_content(), "t0 t1 t2");
        } else {
            assert_eq!(r.json()["model"], "model-c", "the working provider got its own model name");
        }
    }
    assert_eq!(ok.request_count(), 40);
    // The rate-limited provider was tried, then cooled down instead of being hit every time.
    let hits = limited.request_count();
    assert!((1..=8).contains(&hits), "rate-limited provider hit {hits} times");
}

#[test]
fn failures_are_final_when_every_target_fails() {
    let down = format!("http://127.0.0.1:{}", closed_port());
    let limited = mock(MockConfig { fail_rate: 1.0, fail_status: 429, ..Default::default() });
    let also_down = format!("http://127.0.0.1:{}", closed_port());
    let gw = Gateway::start(&three_provider_config(&down, &limited.base_url(), &also_down, ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("auto", false));
    assert_openai_error(&r, 502);
    assert_eq!(r.header("x-switchyard-route"), Some("auto"));
}

#[test]
fn retry_policy_limits_attempts() {
    let down = format!("http://127.0.0.1:{}", closed_port());
    let limited = mock(MockConfig { fail_rate: 1.0, fail_status: 429, ..Default::default() });
    let ok = mock(MockConfig::default());
    let gw = Gateway::start(&three_provider_config(
        &down,
        &limited.base_url(),
        &ok.base_url(),
        "retry = { attempts = 2, on = [\"connect\", \"429\"] }",
    ));
    // a (down) then b (429): two attempts used up, the 429 is the answer.
    let r = gw.client().post("/v1/chat/completions", &chat_body("auto", false));
    assert_openai_error(&r, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(ok.request_count(), 0);
}

fn tiered_config(base: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 2
[providers.p]
base_url = "{base}/v1"
[models.small]
provider = "p"
model = "gpt-4o-mini"
[models.big]
provider = "p"
model = "gpt-4o"
[routes.auto]
tiers = [{{ name = "weak", models = ["small"] }}, {{ name = "strong", models = ["big"] }}]
[[routes.auto.rules]]
name = "proofs"
keywords = ["prove"]
tier = "strong"
[[routes.auto.rules]]
header = "x-team"
header_value = "research"
tier = "strong"
"#
    )
}

#[test]
fn rules_and_tier_headers_choose_the_model() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&tiered_config(&m.base_url()));
    let mut c = gw.client();
    let ask = |c: &mut Client, text: &str, extra: &str| {
        let body = format!(r#"{{"model":"auto","messages":[{{"role":"user","content":"{text}"}}]}}"#);
        c.send_raw(
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n{extra}content-length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        let r = c.read_response().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-switchyard-route"), Some("auto"));
        (r.header("x-switchyard-model").unwrap().to_string(), r.json()["model"].as_str().unwrap().to_string())
    };
    assert_eq!(ask(&mut c, "hello", ""), ("small".into(), "gpt-4o-mini".into()));
    assert_eq!(ask(&mut c, "Prove it", ""), ("big".into(), "gpt-4o".into()));
    assert_eq!(ask(&mut c, "hello", "x-team: research\r\n"), ("big".into(), "gpt-4o".into()));
    assert_eq!(ask(&mut c, "hello", "x-switchyard-tier: strong\r\n"), ("big".into(), "gpt-4o".into()));
    assert_eq!(ask(&mut c, "Prove it", "x-switchyard-tier: weak\r\n"), ("small".into(), "gpt-4o-mini".into()));
    // An unknown tier is the client's mistake.
    let body = chat_body("auto", false);
    c.send_raw(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nx-switchyard-tier: gold\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_openai_error(&c.read_response().unwrap(), 400);
    // Routes are listed with the models.
    let ids: Vec<String> = c.get("/v1/models").json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().into())
        .collect();
    assert_eq!(ids, vec!["big", "small", "auto"]);
}

/// Runs `threads` clients sending requests until `stop`; counts successes and failures.
fn load(
    addr: std::net::SocketAddr,
    threads: usize,
    model: &'static str,
    stop: Arc<AtomicBool>,
) -> (Arc<AtomicUsize>, Arc<AtomicUsize>, Vec<std::thread::JoinHandle<()>>) {
    let ok = Arc::new(AtomicUsize::new(0));
    let bad = Arc::new(AtomicUsize::new(0));
    let handles = (0..threads)
        .map(|i| {
            let (ok, bad, stop) = (ok.clone(), bad.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let stream = (i + n) % 3 == 0;
                    n += 1;
                    let r = c.post("/v1/chat/completions", &chat_body(model, stream));
                    let good = r.status == 200 && (!stream || r.events().last().is_some_and(|e| e.1 == "[DONE]"));
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        eprintln!("failed: {} {}", r.status, r.text());
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    (ok, bad, handles)
}

#[test]
fn sighup_under_load_swaps_the_table_with_zero_failures() {
    let m = mock(MockConfig { tokens: 5, token_interval_ms: 20, ..Default::default() });
    let v1 = tiered_config(&m.base_url());
    let gw = Gateway::start(&v1);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, bad, handles) = load(gw.addr, 6, "auto", stop.clone());
    let v2 = format!("{v1}\n[models.added]\nprovider = \"p\"\nmodel = \"gpt-4.1\"\n");
    for i in 0..6 {
        std::thread::sleep(Duration::from_millis(150));
        std::fs::write(&gw.config, if i % 2 == 0 { &v2 } else { &v1 }).unwrap();
        gw.signal("HUP");
    }
    std::thread::sleep(Duration::from_millis(150));
    std::fs::write(&gw.config, &v2).unwrap();
    gw.signal("HUP");
    // Signals sent close together may coalesce; wait for each reload to be logged.
    let t = Instant::now();
    while gw.log_text().matches("reload ok").count() < 7 {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", gw.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(bad.load(Ordering::Relaxed), 0, "failed requests during reloads");
    assert!(ok.load(Ordering::Relaxed) > 50, "load ran: {}", ok.load(Ordering::Relaxed));
    let r = gw.client().post("/v1/chat/completions", &chat_body("added", false));
    assert_eq!(r.status, 200, "the new table is visible: {}", r.text());
    assert_eq!(r.json()["model"], "gpt-4.1");
}

#[test]
fn a_keep_alive_connection_idle_across_a_reload_gets_the_new_table() {
    let m = mock(MockConfig::default());
    let v1 = tiered_config(&m.base_url());
    let gw = Gateway::start(&v1);
    let mut c = gw.client();
    assert_eq!(c.post("/v1/chat/completions", &chat_body("auto", false)).status, 200);
    let r = c.post("/v1/chat/completions", &chat_body("added", false));
    assert_eq!(r.status, 404, "not in the first table: {}", r.text());
    std::fs::write(&gw.config, format!("{v1}\n[models.added]\nprovider = \"p\"\nmodel = \"gpt-4.1\"\n")).unwrap();
    gw.signal("HUP");
    let t = Instant::now();
    while !gw.log_text().contains("reload ok") {
        assert!(t.elapsed() < Duration::from_secs(5), "{}", gw.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The same connection sat idle through the reload: its next request starts after it and
    // must be routed by the new table.
    let r = c.post("/v1/chat/completions", &chat_body("added", false));
    assert_eq!(r.status, 200, "the new table serves the idle connection's next request: {}", r.text());
    assert_eq!(r.json()["model"], "gpt-4.1");
}

#[test]
fn bad_config_on_sighup_or_admin_keeps_the_old_table() {
    let m = mock(MockConfig::default());
    let good = format!("{}\n{}", tiered_config(&m.base_url()), admin_section());
    let gw = Gateway::start(&good);
    std::fs::write(
        &gw.config,
        good.replace("provider = \"p\"\nmodel = \"gpt-4o\"", "provider = \"nope\"\nmodel = \"gpt-4o\""),
    )
    .unwrap();
    gw.signal("HUP");
    let t = Instant::now();
    while !gw.log_text().contains("reload failed") {
        assert!(t.elapsed() < Duration::from_secs(5), "no reload log: {}", gw.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gw.log_text().contains("models.big.provider"), "the error names the field: {}", gw.log_text());
    let r = gw.client().post("/v1/chat/completions", &chat_body("auto", false));
    assert_eq!(r.status, 200, "old table still serving");
    let metrics = gw.client().get("/metrics").text();
    assert!(metrics.contains("switchyard_config_reloads_total{result=\"failed\"} 1"), "{metrics}");
    assert!(metrics.contains("switchyard_config_reloads_total{result=\"ok\"} 0"), "{metrics}");

    // The admin endpoint reports the same error, and applies a good file.
    let admin = gw.admin_addr();
    let r = Client::connect(admin).post("/admin/reload", "");
    assert_openai_error(&r, 401);
    let r = Client::connect(admin).post_with("/admin/reload", "", &[("authorization", "Bearer wrong")]);
    assert_openai_error(&r, 401);
    let r = Client::connect(admin).post_with("/admin/reload", "", &admin_auth());
    let v = assert_openai_error(&r, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("models.big.provider"), "{v}");
    std::fs::write(&gw.config, format!("{good}\n[models.extra]\nprovider = \"p\"\nmodel = \"o3-mini\"\n")).unwrap();
    let r = Client::connect(admin).post_with("/admin/reload", "", &admin_auth());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["models"], 3);
    assert_eq!(gw.client().post("/v1/chat/completions", &chat_body("extra", false)).status, 200);
}

#[test]
fn health_survives_reload_and_is_visible_on_admin() {
    let down = format!("http://127.0.0.1:{}", closed_port());
    let limited = mock(MockConfig { fail_rate: 1.0, fail_status: 429, ..Default::default() });
    let ok = mock(MockConfig::default());
    let gw = Gateway::start(&three_provider_config(&down, &limited.base_url(), &ok.base_url(), ""));
    assert_eq!(gw.client().post("/v1/chat/completions", &chat_body("auto", false)).status, 200);
    gw.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    let h = Client::connect(gw.admin_addr()).get_with("/admin/health", &admin_auth()).json();
    let by = |name: &str| h.as_array().unwrap().iter().find(|t| t["model"] == name).unwrap().clone();
    assert_eq!(by("ma")["cooling"], true, "{h}");
    assert_eq!(by("mb")["cooling"], true, "{h}");
    assert_eq!(by("mc")["cooling"], false, "{h}");
    assert_eq!(by("mc")["attempts"], 1);
    let metrics = gw.client().get("/metrics").text();
    assert!(metrics.contains("switchyard_upstream_cooling{model=\"ma\",provider=\"pa\"} 1"), "{metrics}");
    assert!(metrics.contains("switchyard_upstream_attempts_total{model=\"mc\",provider=\"pc\"} 1"), "{metrics}");
    assert!(metrics.contains("switchyard_upstream_failures_total{model=\"mb\",provider=\"pb\"} 1"), "{metrics}");
}

#[test]
fn reload_of_a_thousand_model_table_under_load() {
    let m = mock(MockConfig::default());
    let mut cfg = tiered_config(&m.base_url());
    let mut many = String::new();
    for i in 0..1000 {
        many.push_str(&format!(
            "[models.bulk-{i}]\nprovider = \"p\"\nmodel = \"gpt-4o-mini\"\nfallbacks = [\"small\"]\n"
        ));
    }
    cfg.push_str(&many);
    let list: Vec<String> = (0..1000).map(|i| format!("\"bulk-{i}\"")).collect();
    cfg.push_str(&format!(
        "[routes.bulk]\ntiers = [{{ name = \"all\", models = [{}] }}]\nbalance = \"weighted\"\n",
        list.join(",")
    ));
    let gw = Gateway::start(&cfg);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, bad, handles) = load(gw.addr, 6, "bulk", stop.clone());
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(200));
        gw.signal("HUP");
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(bad.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 50);
    let t = Instant::now();
    while gw.log_text().matches("reload ok: 1002 models").count() < 5 {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", gw.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn route_dry_run_uses_the_server_decisions() {
    use std::io::Write;
    let run = |args: &[&str], input: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let input = [
        r#"{"prompt":"hello there"}"#,
        r#"{"model":"auto","messages":[{"role":"user","content":"fix this\n```\nfn main() { }\n```"}]}"#,
        r#"{"model":"mock-openai","messages":[{"role":"user","content":"hi"}]}"#,
        r#"{"prompt":"review this contract clause for liability"}"#,
        // Matched by meaning: no example shares these words (the intents use embeddings).
        r#"{"prompt":"Can my landlord keep my deposit if I break the lease early?"}"#,
        r#"{"prompt":"hey whats up"}"#,
        r#"{"prompt":"What is the capital of France?"}"#,
    ]
    .join("\n");
    let out = run(&["route", "--config", "examples/mock.toml"], &input);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 7);
    for l in &lines {
        for k in ["route", "model", "provider", "strategy", "score"] {
            assert!(l.get(k).is_some(), "{k} missing in {l}");
        }
    }
    assert_eq!((lines[1]["strategy"].as_str(), lines[1]["model"].as_str()), (Some("rules"), Some("mock-anthropic")));
    assert_eq!(lines[1]["score"], serde_json::Value::Null);
    assert_eq!((lines[2]["route"].as_str(), lines[2]["strategy"].as_str()), (Some("direct"), Some("direct")));
    assert_eq!(lines[3]["matched"], "legal");
    for (line, intent, tier) in [(4, "legal", "strong"), (5, "smalltalk", "weak")] {
        let l = &lines[line];
        assert_eq!(
            (l["strategy"].as_str(), l["matched"].as_str(), l["tier"].as_str()),
            (Some("semantic"), Some(intent), Some(tier)),
            "{l}"
        );
        let sim = l["similarity"].as_f64().unwrap();
        assert!((0.4..1.0).contains(&sim), "similarity {sim} shown, at or above the floor");
    }
    assert_eq!(lines[6]["matched"], serde_json::Value::Null, "{}: no intent for a plain question", lines[6]);

    let out = run(&["route", "--config", "examples/mock.toml", "--route", "learned"], &input);
    for l in out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()) {
        assert_eq!(l["route"], "learned");
        assert_eq!(l["strategy"], "learned");
        let s = l["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s));
    }

    // calibrate: a threshold that sends the asked share of the sample to the strong tier.
    let sample: String = (0..40).map(|i| format!("{{\"prompt\":\"question {i}: {}\"}}\n", "why ".repeat(i))).collect();
    let out =
        run(&["calibrate", "--config", "examples/mock.toml", "--route", "learned", "--fraction", "0.25"], &sample);
    assert!(out.contains("10 (25.0 %)"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("thresholds = [")), "{out}");
}
