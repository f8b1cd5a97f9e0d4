//! Cascade, consensus and the response cache, against mock providers that give known answers.

mod common;

use std::time::Duration;

use common::*;

/// Providers `p0..` at the given mocks, one model `mK` per provider.
fn providers(mocks: &[&MockServer]) -> String {
    let mut s = String::from("[server]\nlisten = \"127.0.0.1:0\"\nworkers = 2\n");
    for (i, m) in mocks.iter().enumerate() {
        s += &format!(
            "[providers.p{i}]\nbase_url = \"{}/v1\"\n[models.m{i}]\nprovider = \"p{i}\"\nmodel = \"gpt-4o-mini\"\ninput_price = {}\noutput_price = {}\n",
            m.base_url(),
            0.1 * (i + 1) as f64,
            0.4 * (i + 1) as f64
        );
    }
    s
}

fn answer(m: &str) -> MockConfig {
    MockConfig { answer: Some(m.to_string()), ..Default::default() }
}

fn content(r: &Response) -> String {
    r.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string()
}

fn cascade_config(cheap: &MockServer, strong: &MockServer, check: &str) -> String {
    providers(&[cheap, strong])
        + &format!(
            "[routes.cascade]\ntiers = [{{ name = \"cheap\", models = [\"m0\"] }}, {{ name = \"strong\", models = [\"m1\"] }}]\ncascade = {{ {check} }}\n"
        )
}

#[test]
fn cascade_keeps_a_passing_cheap_answer_and_escalates_a_failing_one() {
    let cheap = mock(answer("The answer is 42"));
    let strong = mock(answer("Strong answer: 42"));
    // Passes: long enough and matches.
    let gw = Gateway::start(&cascade_config(&cheap, &strong, r#"min_length = 10, regex = "\\d+""#));
    for stream in [false, true] {
        let r = gw.client().post("/v1/chat/completions", &chat_body("cascade", stream));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-switchyard-model"), Some("m0"));
        let text = if stream { r.streamed_content() } else { content(&r) };
        assert_eq!(text, "The answer is 42");
    }
    assert_eq!(strong.request_count(), 0, "no escalation when the check passes");
    // Fails: the cheap answer has no "Strong"; escalates, streaming and not.
    let gw = Gateway::start(&cascade_config(&cheap, &strong, r#"regex = "^Strong""#));
    for stream in [false, true] {
        let r = gw.client().post("/v1/chat/completions", &chat_body("cascade", stream));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-switchyard-model"), Some("m1"), "escalated");
        let text = if stream { r.streamed_content() } else { content(&r) };
        assert_eq!(text, "Strong answer: 42");
        if stream {
            assert_eq!(r.events().last().unwrap().1, "[DONE]");
        } else {
            // Usage (and so cost) covers both calls.
            let u = &r.json()["usage"];
            assert!(u["completion_tokens"].as_u64().unwrap() >= 7, "{u}");
        }
    }
    assert_eq!(strong.request_count(), 2);
    let metrics = gw.client().get("/metrics").text();
    assert!(
        metrics.contains("switchyard_cascade_escalations_total{route=\"cascade\",reason=\"regex\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("switchyard_cascade_answers_total{route=\"cascade\",tier=\"1\"} 2"), "{metrics}");
}

#[test]
fn cascade_checks_finish_reason_json_logprob_and_judge() {
    let strong = mock(answer("{\"answer\": 1}"));
    // JSON required: the cheap prose fails.
    let cheap = mock(answer("just prose"));
    let gw = Gateway::start(&cascade_config(&cheap, &strong, r#"json_fields = ["answer"]"#));
    let r = gw.client().post("/v1/chat/completions", &chat_body("cascade", false));
    assert_eq!(r.header("x-switchyard-model"), Some("m1"));
    // Low confidence: the cheap mock reports -2.0 per token.
    let unsure = mock(MockConfig { logprob: -2.0, ..answer("maybe 42") });
    let gw = Gateway::start(&cascade_config(&unsure, &strong, "min_avg_logprob = -0.5"));
    let r = gw.client().post("/v1/chat/completions", &chat_body("cascade", false));
    assert_eq!(r.header("x-switchyard-model"), Some("m1"), "low log-probability escalates");
    let sure = mock(MockConfig { logprob: -0.1, ..answer("surely 42") });
    let gw = Gateway::start(&cascade_config(&sure, &strong, "min_avg_logprob = -0.5"));
    let r = gw.client().post("/v1/chat/completions", &chat_body("cascade", false));
    assert_eq!(r.header("x-switchyard-model"), Some("m0"));
    assert!(sure.seen().last().unwrap().body.windows(15).any(|w| w == b"\"logprobs\":true"), "logprobs asked for");
    // A judge: "no" escalates, "yes" keeps the cheap answer.
    for (verdict, expect) in [("no", "m1"), ("yes", "m0")] {
        let judge = mock(answer(verdict));
        let cheap = mock(answer("cheap answer"));
        let cfg = providers(&[&cheap, &strong, &judge])
            + "[routes.cascade]\ntiers = [{ name = \"cheap\", models = [\"m0\"] }, { name = \"strong\", models = [\"m1\"] }]\ncascade = { judge = { model = \"m2\" } }\n";
        let gw = Gateway::start(&cfg);
        let r = gw.client().post("/v1/chat/completions", &chat_body("cascade", true));
        assert_eq!(r.header("x-switchyard-model"), Some(expect), "judge said {verdict}");
        let asked = String::from_utf8(judge.seen().last().unwrap().body.clone()).unwrap();
        assert!(
            asked.contains("cheap answer") && asked.contains("hello"),
            "the judge sees question and answer: {asked}"
        );
    }
    // A cheap tier that fails outright escalates too.
    let down = mock(MockConfig { fail_rate: 1.0, fail_status: 503, ..Default::default() });
    let gw = Gateway::start(&cascade_config(&down, &strong, "min_length = 1"));
    let r = gw.client().post("/v1/chat/completions", &chat_body("cascade", false));
    assert_eq!(r.header("x-switchyard-model"), Some("m1"));
}

fn consensus_config(mocks: &[&MockServer], extra: &str) -> String {
    let names: Vec<String> = (0..mocks.len()).map(|i| format!("\"m{i}\"")).collect();
    providers(mocks)
        + &format!(
            "[routes.vote]\ntiers = [{{ name = \"all\", models = [{}] }}]\nconsensus = {{ models = [{}], extractor = \"last_number\"{extra} }}\n",
            names.join(","),
            names.join(",")
        )
}

#[test]
fn consensus_returns_the_majority_and_survives_a_failing_or_slow_model() {
    let a = mock(answer("I get 41"));
    let b = mock(answer("It is 42."));
    let c = mock(answer("Clearly the total is 42"));
    let gw = Gateway::start(&consensus_config(&[&a, &b, &c], ""));
    for stream in [false, true] {
        let r = gw.client().post("/v1/chat/completions", &chat_body("vote", stream));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-switchyard-consensus"), Some("m1,m2"), "who agreed");
        let text = if stream { r.streamed_content() } else { content(&r) };
        assert!(text.ends_with("42") || text.ends_with("42."), "{text}");
        if !stream {
            // Cost is the sum: three answers' tokens.
            assert!(r.json()["usage"]["completion_tokens"].as_u64().unwrap() >= 10);
        }
    }
    // One model fails, one hangs past the timeout: the remaining two still decide.
    let failing = mock(MockConfig { fail_rate: 1.0, fail_status: 500, ..Default::default() });
    let hanging = mock(MockConfig { hang_rate: 1.0, ..Default::default() });
    let d = mock(answer("42"));
    let gw = Gateway::start(&consensus_config(&[&failing, &hanging, &b, &d], ", timeout_ms = 500"));
    let t = std::time::Instant::now();
    let r = gw.client().post("/v1/chat/completions", &chat_body("vote", false));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(t.elapsed() < Duration::from_secs(3), "the slow model is left out at the timeout");
    assert_eq!(r.header("x-switchyard-consensus"), Some("m2,m3"));
    let metrics = gw.client().get("/metrics").text();
    assert!(metrics.contains("switchyard_consensus_events_total{route=\"vote\",event=\"missing\"} 2"), "{metrics}");
    // A tie goes to the tie-break model.
    let gw = Gateway::start(&consensus_config(&[&a, &b], ", tie_break = \"m1\""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("vote", false));
    assert_eq!(r.header("x-switchyard-model"), Some("m1"));
    assert_eq!(content(&r), "It is 42.");
    // Everyone fails: an error, not a hang.
    let gw = Gateway::start(&consensus_config(&[&failing, &failing], ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("vote", false));
    assert!(r.status >= 500, "{}", r.status);
    assert_openai_error(&r, r.status);
}

fn cached_config(m: &MockServer, extra: &str) -> String {
    providers(&[m])
        + &format!(
            "[routes.auto]\ntiers = [{{ name = \"t\", models = [\"m0\"] }}]\ncache = {{ ttl_ms = 60000{extra} }}\n"
        )
}

fn body_with(params: &str, stream: bool) -> String {
    format!(r#"{{"model":"auto","stream":{stream},"messages":[{{"role":"user","content":"what is 6 x 7?"}}]{params}}}"#)
}

#[test]
fn cache_hits_identical_requests_and_misses_when_a_parameter_changes() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&cached_config(&m, ""));
    let r1 = gw.client().post("/v1/chat/completions", &body_with(r#","max_tokens":50"#, false));
    assert_eq!(r1.header("x-switchyard-cache"), Some("miss"));
    let r2 = gw.client().post("/v1/chat/completions", &body_with(r#","max_tokens":50"#, false));
    assert_eq!(r2.header("x-switchyard-cache"), Some("hit"));
    assert_eq!(content(&r1), content(&r2));
    assert_eq!(r2.header("x-switchyard-model"), Some("m0"));
    assert_eq!(m.request_count(), 1, "the hit never reached the provider");
    // Streaming client, same question: replayed as SSE from the stored answer.
    let r3 = gw.client().post("/v1/chat/completions", &body_with(r#","max_tokens":50"#, true));
    assert_eq!(r3.header("x-switchyard-cache"), Some("hit"));
    assert_eq!(r3.streamed_content(), content(&r1));
    assert_eq!(r3.events().last().unwrap().1, "[DONE]");
    // Anything that changes the answer misses.
    for changed in [r#","max_tokens":51"#, r#","max_tokens":50,"temperature":0.2"#, r#","max_tokens":50,"seed":7"#] {
        let r = gw.client().post("/v1/chat/completions", &body_with(changed, false));
        assert_eq!(r.header("x-switchyard-cache"), Some("miss"), "{changed}");
    }
    // High temperature is not stored; no-cache skips the lookup.
    for _ in 0..2 {
        let r = gw.client().post("/v1/chat/completions", &body_with(r#","temperature":1.2"#, false));
        assert_eq!(r.header("x-switchyard-cache"), Some("miss"));
    }
    let r = gw.client().post_with(
        "/v1/chat/completions",
        &body_with(r#","max_tokens":50"#, false),
        &[("cache-control", "no-cache")],
    );
    assert_eq!(r.header("x-switchyard-cache"), Some("miss"));
    // A streamed miss is stored too.
    let r = gw.client().post("/v1/chat/completions", &body_with(r#","max_tokens":9"#, true));
    assert_eq!(r.header("x-switchyard-cache"), Some("miss"));
    let r = gw.client().post("/v1/chat/completions", &body_with(r#","max_tokens":9"#, false));
    assert_eq!(r.header("x-switchyard-cache"), Some("hit"), "stored from the stream");
    let metrics = gw.client().get("/metrics").text();
    assert!(metrics.contains("switchyard_cache_requests_total{result=\"hit\"} 3"), "{metrics}");
    assert!(metrics.contains("switchyard_cache_hit_quantile_seconds{quantile=\"0.5\"}"));
}

#[test]
fn semantic_cache_answers_near_duplicates_only_when_turned_on() {
    let m = mock(MockConfig::default());
    let log = temp_path("semantic-decisions.jsonl");
    let gw = Gateway::start(&format!(
        "{}[log]\ndecisions = \"{}\"\n",
        cached_config(&m, ", similarity = 0.8"),
        log.display()
    ));
    let ask = |gw: &Gateway, q: &str, extra: &str, stream: bool| {
        gw.client().post(
            "/v1/chat/completions",
            &format!(
                r#"{{"model":"auto","stream":{stream},"messages":[{{"role":"system","content":"Be brief."}},{{"role":"user","content":"{q}"}}]{extra}}}"#
            ),
        )
    };
    let r1 = ask(&gw, "What is the capital of France?", "", false);
    assert_eq!(r1.header("x-switchyard-cache"), Some("miss"));
    let r2 = ask(&gw, "What's the capital of France?", "", false);
    assert_eq!(r2.header("x-switchyard-cache"), Some("hit"));
    let sim: f32 = r2.header("x-switchyard-cache-similarity").expect("similarity header").parse().unwrap();
    assert!((0.8..1.0).contains(&sim), "{sim}");
    assert_eq!(content(&r1), content(&r2));
    assert_eq!(m.request_count(), 1, "the near-duplicate never reached the provider");
    // A streaming client gets the near-duplicate's answer replayed as SSE.
    let r3 = ask(&gw, "What is the capital city of France?", "", true);
    assert_eq!(r3.header("x-switchyard-cache"), Some("hit"));
    assert_eq!(r3.streamed_content(), content(&r1));
    // A different question, or the same one with other parameters or another system prompt, misses.
    assert_eq!(ask(&gw, "What is the capital of Germany?", "", false).header("x-switchyard-cache"), Some("miss"));
    assert_eq!(
        ask(&gw, "what is the capital of france", r#","max_tokens":5"#, false).header("x-switchyard-cache"),
        Some("miss")
    );
    let other_system = gw.client().post(
        "/v1/chat/completions",
        r#"{"model":"auto","messages":[{"role":"system","content":"Answer in French."},{"role":"user","content":"what is the capital of france"}]}"#,
    );
    assert_eq!(other_system.header("x-switchyard-cache"), Some("miss"));
    let metrics = gw.client().get("/metrics").text();
    assert!(metrics.contains("switchyard_cache_semantic_hits_total 2"), "{metrics}");
    // The decision log says which hits were near-duplicates, and how similar (written by a
    // background thread: poll).
    let mut sims = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        sims = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|r| r["cache_similarity"].as_f64())
            .collect();
        if sims.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sims.len(), 2, "{sims:?}");
    assert!(sims.iter().all(|s| (0.8..1.0).contains(s)), "{sims:?}");
    // Off by default: the exact cache alone misses a near-duplicate.
    let exact = Gateway::start(&cached_config(&m, ""));
    assert_eq!(ask(&exact, "What is the capital of France?", "", false).header("x-switchyard-cache"), Some("miss"));
    let r = ask(&exact, "what is the capital of france", "", false);
    assert_eq!(r.header("x-switchyard-cache"), Some("miss"));
    assert_eq!(r.header("x-switchyard-cache-similarity"), None);
}

#[test]
fn cache_evicts_under_its_memory_bound() {
    let m = mock(MockConfig { tokens: 200, ..Default::default() });
    // ~0.9 KB answers count ~15 KB each with the room reserved for their renderings;
    // 2.5 MiB is 40 KiB per shard: about two answers per shard, far fewer than 300.
    let cfg = cached_config(&m, "").replace("workers = 2\n", "workers = 2\n[cache]\nmax_bytes = 2621440\n");
    let gw = Gateway::start(&cfg);
    for i in 0..300 {
        let r = gw.client().post("/v1/chat/completions", &body_with(&format!(r#","max_tokens":{}"#, 1000 + i), false));
        assert_eq!(r.status, 200);
    }
    let metrics = gw.client().get("/metrics").text();
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
            .trim()
            .parse()
            .unwrap()
    };
    let used = value("switchyard_cache_bytes{kind=\"used\"}");
    assert!(used <= 2_621_440, "{used} bytes held");
    assert!(used > 1_000_000, "entries are counted with their renderings: {used}");
    assert!(value("switchyard_cache_entries_total{event=\"evict\"}") > 100, "{metrics}");
    assert!(value("switchyard_cache_items") < 300);
}

#[test]
fn consensus_by_judge_sends_the_judged_answer() {
    let a = mock(answer("I get 41"));
    let b = mock(answer("It is 42."));
    let c = mock(answer("Clearly 42"));
    let judge = mock(answer("1"));
    let cfg = consensus_config(&[&a, &b, &c, &judge], "").replace(
        "models = [\"m0\",\"m1\",\"m2\",\"m3\"], extractor",
        "models = [\"m0\",\"m1\",\"m2\"], judge = \"m3\", extractor",
    );
    let gw = Gateway::start(&cfg);
    let r = gw.client().post("/v1/chat/completions", &chat_body("vote", false));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-switchyard-model"), Some("m0"), "the judge's pick, not the majority");
    assert_eq!(content(&r), "I get 41");
    assert_eq!(r.header("x-switchyard-consensus"), Some("m0"));
    let asked = String::from_utf8(judge.seen().last().unwrap().body.clone()).unwrap();
    assert!(asked.contains("Answer 1:") && asked.contains("Answer 3:") && asked.contains("It is 42."), "{asked}");
}

#[test]
fn a_reload_that_changes_the_route_does_not_serve_its_old_answers() {
    let a = mock(answer("from a"));
    let b = mock(answer("from b"));
    let cfg = providers(&[&a, &b])
        + "[routes.auto]\ntiers = [{ name = \"t\", models = [\"m0\"] }]\ncache = { ttl_ms = 60000 }\n";
    let gw = Gateway::start(&cfg);
    let body = body_with("", false);
    assert_eq!(gw.client().post("/v1/chat/completions", &body).header("x-switchyard-cache"), Some("miss"));
    assert_eq!(gw.client().post("/v1/chat/completions", &body).header("x-switchyard-cache"), Some("hit"));
    // Same route name, other model: a reload must not keep answering from m0's entries.
    std::fs::write(&gw.config, cfg.replace("models = [\"m0\"]", "models = [\"m1\"]")).unwrap();
    gw.signal("HUP");
    let t = std::time::Instant::now();
    loop {
        let r = gw.client().post("/v1/chat/completions", &body);
        if r.header("x-switchyard-model") == Some("m1") {
            assert_eq!(r.header("x-switchyard-cache"), Some("miss"));
            assert_eq!(content(&r), "from b");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "reload not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn consensus_votes_on_tool_calls_and_says_when_it_cannot_vote() {
    let (a, b, c) = (mock(MockConfig::default()), mock(MockConfig::default()), mock(MockConfig::default()));
    let gw = Gateway::start(&consensus_config(&[&a, &b, &c], ""));
    let body = r#"{"model":"vote","messages":[{"role":"user","content":"weather in Paris?"}],
        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#;
    let r = gw.client().post("/v1/chat/completions", body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(r.header("x-switchyard-consensus"), Some("m0,m1,m2"), "all three called the same tool");
    // Answers without a number for `last_number`: a 400 that says why, not a 502.
    let (x, y) = (mock(answer("no figures here")), mock(answer("nor here")));
    let gw = Gateway::start(&consensus_config(&[&x, &y], ""));
    let r = gw.client().post("/v1/chat/completions", &chat_body("vote", false));
    let e = assert_openai_error(&r, 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("could not vote"), "{e}");
}
