//! Operations: the decision log, feedback, readiness while draining.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn log_config(base: &str, path: &str, extra: &str) -> String {
    format!(
        "{}\n[log]\ndecisions = \"{path}\"\n{extra}\n[routes.auto]\ntiers = [{{ name = \"only\", models = [\"m\"] }}]\n",
        basic_config(base, "")
    )
}

fn wait_lines(path: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    let t = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("valid JSON line")).collect();
        if lines.len() >= n || t.elapsed() > Duration::from_secs(5) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_record_per_request_without_prompt_or_key_and_feedback_joins() {
    let m = mock(MockConfig { tokens: 3, ..Default::default() });
    let path = temp_path("decisions.jsonl");
    let gw = Gateway::start(&log_config(&m.base_url(), path.to_str().unwrap(), ""));
    let mut c = gw.client();
    let secret = "SECRET-PROMPT-TEXT-4711";
    let mut ids = Vec::new();
    for (model, stream) in [("m", false), ("auto", true), ("auto", false), ("m", true)] {
        let body =
            format!(r#"{{"model":"{model}","stream":{stream},"messages":[{{"role":"user","content":"{secret}"}}]}}"#);
        let r = c.post("/v1/chat/completions", &body);
        assert_eq!(r.status, 200);
        ids.push(r.header("x-switchyard-request-id").unwrap().to_string());
    }
    let records = wait_lines(&path, 4);
    assert_eq!(records.len(), 4, "{records:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(secret), "the prompt is never logged unless configured");
    assert!(!text.contains("sk-test-provider-key"), "keys are never logged");
    for (rec, id) in records.iter().zip(&ids) {
        assert_eq!(rec["type"], "request");
        assert_eq!(rec["request_id"], id.as_str());
        assert_eq!(rec["model"], "m");
        assert_eq!(rec["provider"], "mock");
        assert_eq!(rec["status"], 200);
        assert_eq!(rec["attempts"][0]["outcome"], "answered");
        assert_eq!(rec["completion_tokens"], 3);
        assert!(rec["cost_usd"].as_f64().unwrap() > 0.0);
        assert_eq!(rec["prompt_hash"].as_str().unwrap().len(), 16);
        assert!(rec["latency_ms"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(records[0]["route"], "direct");
    assert_eq!((records[1]["route"].as_str(), records[1]["strategy"].as_str()), (Some("auto"), Some("default")));
    assert_eq!(records[0]["prompt_hash"], records[1]["prompt_hash"], "same prompt, same hash");

    // Feedback joins its request by id.
    let r = c.post("/v1/feedback", &format!(r#"{{"request_id":"{}","rating":"down","comment":"wrong"}}"#, ids[2]));
    assert_eq!(r.status, 200, "{}", r.text());
    let records = wait_lines(&path, 5);
    let fb = records.iter().find(|r| r["type"] == "feedback").expect("feedback record");
    assert_eq!(fb["request_id"], ids[2].as_str());
    assert_eq!(fb["rating"], "down");
    assert!(records.iter().any(|r| r["type"] == "request" && r["request_id"] == fb["request_id"]));
    assert_openai_error(&c.post("/v1/feedback", r#"{"rating":"up"}"#), 400);
    assert_openai_error(&c.post("/v1/feedback", r#"{"request_id":"x","rating":"meh"}"#), 400);
    // Requests refused before routing get a record too.
    let r = c.post("/v1/chat/completions", &chat_body("no-such-model", false));
    assert_eq!(r.status, 404);
    let id = r.header("x-switchyard-request-id").unwrap().to_string();
    let records = wait_lines(&path, 6);
    let rejected = records.iter().find(|r| r["request_id"] == id.as_str()).expect("a record for the 404");
    assert_eq!((rejected["status"].as_u64(), rejected["requested"].as_str()), (Some(404), Some("no-such-model")));
    let metrics = c.get("/metrics").text();
    assert!(metrics.contains("switchyard_decision_log_records_total{result=\"written\"} 6"), "{metrics}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn prompt_is_logged_only_when_asked() {
    let m = mock(MockConfig::default());
    let path = temp_path("decisions-prompt.jsonl");
    let gw = Gateway::start(&log_config(&m.base_url(), path.to_str().unwrap(), "include_prompt = true"));
    let body = r#"{"model":"m","messages":[{"role":"user","content":"opted-in prompt"}]}"#;
    assert_eq!(gw.client().post("/v1/chat/completions", body).status, 200);
    let records = wait_lines(&path, 1);
    assert_eq!(records[0]["prompt"], "opted-in prompt");
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_full_log_channel_drops_and_counts_instead_of_blocking() {
    let m = mock(MockConfig::default());
    // A FIFO nobody reads: the writer thread blocks opening it, so the channel fills.
    let fifo = temp_path("decisions.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let gw = Gateway::start(&log_config(&m.base_url(), fifo.to_str().unwrap(), "capacity = 2"));
    let mut c = gw.client();
    let t = Instant::now();
    for _ in 0..10 {
        assert_eq!(c.post("/v1/chat/completions", &chat_body("m", false)).status, 200);
    }
    assert!(t.elapsed() < Duration::from_secs(5), "requests never wait for the log");
    let metrics = c.get("/metrics").text();
    let dropped: u64 = metrics
        .lines()
        .find(|l| l.starts_with("switchyard_decision_log_records_total{result=\"dropped\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((7..=8).contains(&dropped), "dropped {dropped}");
    drop(gw);
    let _ = std::fs::remove_file(fifo);
}

#[test]
fn readyz_turns_503_while_draining() {
    let m = mock(MockConfig { tokens: 6, token_interval_ms: 100, ..Default::default() });
    // One worker: with two, the probe's connection may sit on a worker with nothing in flight,
    // which (correctly) closes its idle connections and exits at once.
    let mut gw = Gateway::start(&basic_config(&m.base_url(), "").replace("workers = 2", "workers = 1"));
    let mut probe = gw.client();
    assert_eq!(probe.get("/readyz").status, 200);
    let addr = gw.addr;
    let stream = std::thread::spawn(move || Client::connect(addr).post("/v1/chat/completions", &chat_body("m", true)));
    std::thread::sleep(Duration::from_millis(200));
    gw.signal("TERM");
    std::thread::sleep(Duration::from_millis(150));
    let r = probe.get("/readyz");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(stream.join().unwrap().streamed_content(), "t0 t1 t2 t3 t4 t5", "the stream in flight finished");
    let t = Instant::now();
    while gw.child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn metrics_count_a_known_mix_exactly() {
    let m = mock(MockConfig { tokens: 4, ..Default::default() });
    let down = format!("http://127.0.0.1:{}", closed_port());
    let cfg = format!(
        "{}\n[providers.down]\nbase_url = \"{down}/v1\"\n[models.f]\nprovider = \"down\"\nmodel = \"gpt-4o\"\n[routes.auto]\ntiers = [{{ name = \"only\", models = [\"m\"] }}]\n",
        basic_config(&m.base_url(), "")
    );
    let gw = Gateway::start(&cfg.replace("workers = 2", "workers = 1"));
    let mut c = gw.client();
    for _ in 0..3 {
        assert_eq!(c.post("/v1/chat/completions", &chat_body("m", false)).status, 200);
    }
    assert_eq!(c.post("/v1/chat/completions", &chat_body("auto", false)).status, 200);
    assert_eq!(c.post("/v1/chat/completions", &chat_body("auto", true)).status, 200);
    assert_eq!(c.post("/v1/chat/completions", &chat_body("nope", false)).status, 404);
    assert_eq!(c.post("/v1/chat/completions", "{not json").status, 400);
    assert_eq!(c.post("/v1/chat/completions", &chat_body("f", false)).status, 502);
    let text = c.get("/metrics").text();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{series} missing:\n{text}"))
    };
    assert_eq!(value(r#"switchyard_requests_total{route="direct",model="m",provider="mock",status="2xx"}"#), 3.0);
    assert_eq!(value(r#"switchyard_requests_total{route="auto",model="m",provider="mock",status="2xx"}"#), 2.0);
    assert_eq!(value(r#"switchyard_requests_total{route="direct",model="f",provider="down",status="5xx"}"#), 1.0);
    assert_eq!(value(r#"switchyard_requests_total{route="-",model="-",provider="-",status="4xx"}"#), 2.0);
    assert_eq!(text.lines().filter(|l| l.starts_with("switchyard_requests_total{")).count(), 4, "{text}");
    assert_eq!(value(r#"switchyard_upstream_attempts_total{model="m",provider="mock"}"#), 5.0);
    assert_eq!(value(r#"switchyard_upstream_failures_total{model="f",provider="down"}"#), 1.0);
    assert_eq!(value(r#"switchyard_completion_tokens_total{model="m",provider="mock"}"#), 20.0);
    assert_eq!(value("switchyard_upstream_latency_seconds_count"), 5.0);
    assert_eq!(value("switchyard_time_to_first_byte_seconds_count"), 5.0);
    assert_eq!(value("switchyard_overhead_seconds_count"), 5.0);
    // One stream (role, four tokens, finish, usage, [DONE]): at least one piece relayed, at
    // most one per event, each timed.
    let pieces = value("switchyard_stream_relay_count");
    assert!((1.0..=8.0).contains(&pieces), "{pieces} stream pieces");
    assert!(value(r#"switchyard_stream_relay_quantile_seconds{quantile="0.5"}"#) > 0.0);
    assert_eq!(value("switchyard_open_connections"), 1.0);
    assert_eq!(value("switchyard_inflight_requests"), 1.0, "the scrape itself");
    assert_eq!(value(r#"switchyard_config_reloads_total{result="ok"}"#), 0.0);
    assert!(text.contains("switchyard_config_info{hash=\""), "{text}");
}

#[test]
fn calibrate_log_suggests_a_lower_threshold_when_cheap_answers_draw_complaints() {
    // A real log: route `auto` scores by complexity with a cut at 0.9, so everything goes weak.
    let m = mock(MockConfig::default());
    let path = temp_path("calibrate.jsonl");
    let cfg = format!(
        "{}\n[models.big]\nprovider = \"mock\"\nmodel = \"gpt-4o\"\n[log]\ndecisions = \"{}\"\n\
         [routes.auto]\ntiers = [{{ name = \"weak\", models = [\"m\"] }}, {{ name = \"strong\", models = [\"big\"] }}]\n\
         thresholds = [0.9]\n[routes.auto.complexity]\n",
        basic_config(&m.base_url(), ""),
        path.display()
    );
    let gw = Gateway::start(&cfg);
    let mut c = gw.client();
    let prompts = [
        "hi",
        "thanks",
        "what time is it",
        "Explain why the algorithm is O(n log n), compare it with quicksort and derive the recurrence step by step.",
        "Analyze the trade-offs, justify the design and evaluate the implications of each architecture choice.",
        "Prove that the invariant holds, then explain why the optimization preserves it, step by step.",
    ];
    for (i, p) in prompts.iter().enumerate() {
        let body = format!(r#"{{"model":"auto","messages":[{{"role":"user","content":"{p}"}}]}}"#);
        let r = c.post("/v1/chat/completions", &body);
        assert_eq!(r.header("x-switchyard-model"), Some("m"), "all weak at threshold 0.9");
        let id = r.header("x-switchyard-request-id").unwrap().to_string();
        // Users are unhappy with the cheap answers to the three hard prompts.
        let rating = if i >= 3 { "down" } else { "up" };
        let fb = c.post("/v1/feedback", &format!(r#"{{"request_id":"{id}","rating":"{rating}"}}"#));
        assert_eq!(fb.status, 200);
    }
    wait_lines(&path, 12);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["calibrate", "--log"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("route auto: 6 rated, 3 negative"), "{report}");
    let line = report.lines().find(|l| l.contains("suggest: lower the threshold to")).expect(&report);
    let t: f64 = line.split("to ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(t < 0.9 && t > 0.0, "{report}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn gateway_runs_without_transparent_huge_pages() {
    // mimalloc marks its arena for huge pages; the gateway turns them off for itself (a huge
    // page fault stalls a worker while 2 MiB are zeroed, and RSS rounds up to 2 MiB pages).
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let status = std::fs::read_to_string(format!("/proc/{}/status", gw.child.id())).unwrap();
    let thp = status.lines().find(|l| l.starts_with("THP_enabled:")).expect("kernel reports THP_enabled");
    assert_eq!(thp.split_whitespace().nth(1), Some("0"), "{thp}");
}

/// Context switches so far of the gateway's worker threads (`switchyard-w*`), summed.
fn worker_switches(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("switchyard-w") {
            continue;
        }
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        total += status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}

/// Workers used to poll the shutdown flag every 50 ms (~20 wake-ups a second each, a timer
/// always armed); the control thread now wakes them by shutting the listeners down.
fn idle_workers_sleep_and_still_stop(env: &[(&str, &str)]) {
    let m = mock(MockConfig::default());
    let mut gw = Gateway::start_with_env(&basic_config(&m.base_url(), ""), env);
    {
        let mut c = gw.client();
        assert_eq!(c.post("/v1/chat/completions", &chat_body("m", false)).status, 200);
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = worker_switches(gw.child.id());
    std::thread::sleep(Duration::from_secs(1));
    let woke = worker_switches(gw.child.id()) - before;
    assert!(woke <= 4, "idle workers woke {woke} times in a second");
    // And shutdown still reaches them: the process exits promptly.
    let t = Instant::now();
    gw.signal("TERM");
    let status = gw.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(t.elapsed() < Duration::from_secs(3), "exit took {:?}", t.elapsed());
}

#[test]
fn idle_workers_sleep_until_there_is_work_io_uring() {
    idle_workers_sleep_and_still_stop(&[]);
}

#[test]
fn idle_workers_sleep_until_there_is_work_epoll() {
    idle_workers_sleep_and_still_stop(&[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
}
