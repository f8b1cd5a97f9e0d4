//! The web console's pages and JSON API on the admin listener, over real sockets (the browser
//! tests in tests/console/ drive the pages themselves).

mod common;

use std::time::{Duration, Instant};

use common::*;

const CONSOLE: (&str, &str) = ("x-switchyard-console", "1");

/// One model `m`, a route `r` (a rule sends "contract" prompts to the strong tier), and an
/// admin listener with no key: loopback only.
fn console_config(base: &str, extra: &str) -> String {
    format!(
        "{}\n[models.big]\nprovider = \"mock\"\nmodel = \"gpt-4o\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n{extra}\n\
         [routes.r]\ntiers = [{{ name = \"small\", models = [\"m\"] }}, {{ name = \"strong\", models = [\"big\"] }}]\n\
         [[routes.r.rules]]\nname = \"legal\"\nkeywords = [\"contract\"]\ntier = \"strong\"\n",
        basic_config(base, "")
    )
}

fn api(gw: &Gateway, path: &str) -> serde_json::Value {
    let r = Client::connect(gw.admin_addr()).get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

#[test]
fn pages_and_api_answer_loopback_without_a_key_while_admin_endpoints_do_not() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&console_config(&m.base_url(), ""));
    gw.wait_log("console on http://");
    let admin = gw.admin_addr();
    let page = Client::connect(admin).get("/ui");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")));
    assert!(page.header("content-security-policy").is_some_and(|c| c.contains("default-src 'self'")));
    for asset in ["/ui/app.js", "/ui/app.css", "/ui/vendor/uPlot.iife.min.js", "/ui/vendor/uPlot.min.css"] {
        let r = Client::connect(admin).get(asset);
        assert_eq!(r.status, 200, "{asset}");
        assert!(!r.body.is_empty(), "{asset} is empty");
    }
    assert_eq!(Client::connect(admin).get("/ui/nothing").status, 404);
    let overview = api(&gw, "/ui/api/overview");
    assert!(overview["totals"]["requests"].is_u64(), "{overview}");
    // No admin key configured: the admin endpoints refuse everyone.
    assert_eq!(Client::connect(admin).get("/admin/health").status, 401);
    // A POST without the console's header is refused, with it the reload runs.
    assert_eq!(Client::connect(admin).post("/ui/api/reload", "").status, 403);
    let r = Client::connect(admin).post_with("/ui/api/reload", "", &[CONSOLE]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "ok");
    assert_eq!(Client::connect(admin).get("/ui/api/nothing").status, 404);
    // A page elsewhere whose name was rebound to 127.0.0.1 sends its own Host: refused.
    let mut rebound = Client::connect(admin);
    rebound.send_raw(b"GET /ui/api/keys HTTP/1.1\r\nhost: evil.example:9901\r\n\r\n");
    assert_eq!(rebound.read_response().map(|r| r.status), Some(401));
    assert_eq!(Client::connect(admin).get("/ui/api/reload").status, 405);
}

#[test]
fn decisions_are_kept_only_while_a_console_polls_and_carry_the_routing() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&console_config(&m.base_url(), ""));
    let before = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    assert_eq!(before.status, 200);
    std::thread::sleep(Duration::from_millis(100));
    let first = api(&gw, "/ui/api/decisions");
    assert_eq!(first["records"].as_array().map(Vec::len), Some(0), "nothing is recorded with no console: {first}");
    let body = r#"{"model":"r","messages":[{"role":"user","content":"review this contract"}]}"#;
    let r = gw.client().post("/v1/chat/completions", body);
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.header("x-switchyard-request-id").unwrap().to_string();
    let t = Instant::now();
    let record = loop {
        let d = api(&gw, &format!("/ui/api/decisions?after={}", first["next"]));
        if let Some(rec) = d["records"].as_array().and_then(|v| v.iter().find(|x| x["request_id"] == id.as_str())) {
            break rec.clone();
        }
        assert!(t.elapsed() < Duration::from_secs(1), "the request's record did not arrive within a second: {d}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(record["route"], "r");
    assert_eq!(record["model"], "big");
    assert_eq!(record["strategy"], "rules");
    assert_eq!(record["matched"], "legal");
    assert_eq!(record["tier"], "strong");
    assert!(record["seq"].is_u64());
    assert!(record.get("prompt").is_none(), "prompts are not kept unless the log keeps them");
}

#[test]
fn a_broken_reload_names_the_field_and_the_history_keeps_it() {
    let m = mock(MockConfig::default());
    let cfg = console_config(&m.base_url(), "");
    let gw = Gateway::start(&cfg);
    std::fs::write(
        &gw.config,
        cfg.replace("[models.big]\nprovider = \"mock\"", "[models.big]\nprovider = \"nowhere\""),
    )
    .unwrap();
    let r = Client::connect(gw.admin_addr()).post_with("/ui/api/reload", "", &[CONSOLE]);
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.json();
    assert_eq!(e["error"]["field"], "models.big.provider", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("nowhere"), "{e}");
    let c = api(&gw, "/ui/api/config");
    let reloads = c["reloads"].as_array().unwrap();
    assert_eq!(reloads.len(), 2, "{c}");
    assert_eq!(reloads[0]["ok"], true);
    assert_eq!(reloads[1]["ok"], false);
    assert_eq!(reloads[1]["field"], "models.big.provider");
    // The old table keeps serving, and the route table shows what was compiled.
    let route = &c["routes"][0];
    assert_eq!(route["name"], "r");
    assert_eq!(route["tiers"][1]["models"][0], "big");
    assert_eq!(route["layers"][0]["kind"], "rule");
    assert!(route["layers"][0]["detail"].as_str().unwrap().contains("keywords contract → tier strong"), "{route}");
    assert_eq!(gw.client().post("/v1/chat/completions", &chat_body("big", false)).status, 200);
}

#[test]
fn try_it_gives_the_decision_switchyard_route_prints_and_sends_for_real() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&console_config(&m.base_url(), ""));
    let admin = gw.admin_addr();
    let prompt = "please review this contract for me";
    let r = Client::connect(admin).post_with(
        "/ui/api/route",
        &format!(r#"{{"prompt":"{prompt}","route":"r"}}"#),
        &[CONSOLE],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let console = r.json()["decisions"][0].clone();
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["route", "--config", gw.config.to_str().unwrap(), "--route", "r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(cli.stdin.take().unwrap(), r#"{{"prompt":"{prompt}"}}"#).unwrap();
    let out = cli.wait_with_output().unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(console, printed);
    assert_eq!(console["model"], "big");
    let bad = Client::connect(admin).post_with("/ui/api/route", r#"{"prompt":"x","route":"nope"}"#, &[CONSOLE]);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["param"], "route");
    let sent = Client::connect(admin).post_with(
        "/ui/api/send",
        &format!(r#"{{"prompt":"{prompt}","route":"r"}}"#),
        &[CONSOLE],
    );
    assert_eq!(sent.status, 200, "{}", sent.text());
    let s = sent.json();
    assert_eq!(
        (s["status"].as_u64(), s["model"].as_str(), s["route"].as_str()),
        (Some(200), Some("big"), Some("r")),
        "{s}"
    );
    assert!(!s["text"].as_str().unwrap_or("").is_empty(), "{s}");
}

#[test]
fn a_failing_provider_shows_its_cooldown_and_the_overview_counts_errors() {
    let m = mock(MockConfig { fail_status: 500, fail_rate: 1.0, ..Default::default() });
    let gw = Gateway::start(&console_config(&m.base_url(), ""));
    let _ = api(&gw, "/ui/api/overview");
    assert_eq!(gw.client().post("/v1/chat/completions", &chat_body("m", false)).status / 100, 5);
    let p = api(&gw, "/ui/api/providers");
    let row = p["models"].as_array().unwrap().iter().find(|x| x["model"] == "m").unwrap().clone();
    assert_eq!(row["cooling"], true, "{p}");
    assert!(row["cooldown_left_ms"].as_u64().is_some_and(|ms| ms > 0), "{row}");
    assert!(row["failures"].as_u64().unwrap() >= 1);
    let t = Instant::now();
    loop {
        let o = api(&gw, "/ui/api/overview");
        let errors: u64 = o["samples"].as_array().unwrap().iter().map(|s| s["errors"].as_u64().unwrap()).sum();
        if errors >= 1 {
            assert_eq!(o["totals"]["errors"], 1, "{o}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no sample counted the error: {o}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn keys_show_budgets_and_minute_usage() {
    let m = mock(MockConfig::default());
    let hash = switchyard_guard::keys::format_key_hash(&switchyard_guard::keys::hash_key(b"sk-team-a-0123456789"));
    let keys = format!("\n[keys.team-a]\nkey_hash = \"{hash}\"\nrpm = 60\nbudget_daily_usd = 5.0\n");
    let gw = Gateway::start(&(console_config(&m.base_url(), "") + &keys));
    for _ in 0..3 {
        let r = gw.client().post_with(
            "/v1/chat/completions",
            &chat_body("m", false),
            &[("authorization", "Bearer sk-team-a-0123456789")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let k = api(&gw, "/ui/api/keys");
    assert_eq!(k["open"], false);
    let team = &k["keys"][0];
    assert_eq!(team["name"], "team-a");
    assert_eq!(team["rpm"], 60);
    assert_eq!(team["rpm_used"], 3, "{k}");
    assert_eq!(team["admitted"], 3);
    assert_eq!(team["budget_day_usd"], 5.0);
    assert!(!k.to_string().contains("sk-team-a"), "no secret in the answer");
}

#[test]
fn the_login_form_takes_a_percent_encoded_admin_key_and_refuses_a_wrong_one() {
    let m = mock(MockConfig::default());
    let key = "sk-admin+key/with=odd&chars";
    let hash = switchyard_guard::keys::format_key_hash(&switchyard_guard::keys::hash_key(key.as_bytes()));
    let gw = Gateway::start(&console_config(&m.base_url(), &format!("key_hash = \"{hash}\"\n")));
    let admin = gw.admin_addr();
    let form = "content-type";
    let ok = Client::connect(admin).post_with(
        "/ui/login",
        "other=1&token=sk-admin%2Bkey%2Fwith%3Dodd%26chars",
        &[(form, "application/x-www-form-urlencoded")],
    );
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert_eq!(ok.header("location"), Some("/ui"));
    let cookie = ok.header("set-cookie").expect("a cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    for wrong in ["token=sk-admin+key/with=odd", "token=", "nothing=here", "token=%ff%fe"] {
        let r = Client::connect(admin).post_with("/ui/login", wrong, &[(form, "application/x-www-form-urlencoded")]);
        assert_eq!(r.status, 401, "{wrong}: {}", r.text());
    }
}
