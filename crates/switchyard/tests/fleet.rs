//! Fleet mode against a real `redis-server` on a free loopback port: three gateway processes
//! share a key's rpm and budget, run-time keys and revocations, cooldowns and cache entries;
//! Redis killed and restarted under load; a `rediss://` connection with a password.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use switchyard_guard::keys::{format_key_hash, hash_key};

const KEY: &str = "sk-sy-fleet-key-Zr8Tq2Wm5Yp1";
const LIMITED: &str = "sk-sy-fleet-limited-Hb4Nc7Vx9Lk3";
const BUDGET: &str = "sk-sy-fleet-budget-Qe6Rt1Uo3Ia8";

/// A `redis-server` child on a free port, with an append-only file fsynced on every write
/// (acknowledged flushes survive `kill -9`, as production should be set up).
struct Redis {
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Redis {
    fn start() -> Redis {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Redis {
        let dir = temp_path("redis");
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Redis { port: free_port(), dir, args: extra.iter().map(|s| s.to_string()).collect(), child: None };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let tls = self.args.iter().any(|a| a == "--tls-port");
        let mut cmd = Command::new("redis-server");
        if tls {
            cmd.args(["--port", "0", "--tls-port", &self.port.to_string()]);
        } else {
            cmd.args(["--port", &self.port.to_string()]);
        }
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .args(self.args.iter().filter(|a| *a != "--tls-port"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("redis-server must be installed for the fleet tests (./scripts/test.sh installs it): {e}")
        });
        self.child = Some(child);
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(10), "redis-server did not start on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        if !tls {
            // Any reply will do (`-NOAUTH` with a password set).
            while self.cmd(&["PING"]).is_err_and(|e| !e.starts_with('-')) {
                assert!(t.elapsed() < Duration::from_secs(10), "redis-server never answered PING");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// One command over RESP; the reply as text (integers and bulk strings), Err on an error
    /// reply or no server.
    fn cmd(&self, args: &[&str]) -> Result<String, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        let (kind, rest) = line.trim_end().split_at(1);
        match kind {
            "+" | ":" => Ok(rest.to_string()),
            "$" if rest == "-1" => Ok(String::new()),
            "$" => {
                let mut buf = vec![0; rest.parse::<usize>().unwrap() + 2];
                r.read_exact(&mut buf).map_err(|e| e.to_string())?;
                Ok(String::from_utf8_lossy(&buf[..buf.len() - 2]).into_owned())
            }
            _ => Err(line),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn h(k: &str) -> String {
    format_key_hash(&hash_key(k.as_bytes()))
}

/// A fleet config: model `m` at $1,000 per million tokens (a cent per ten tokens, so budgets are
/// quick to spend), model `g` as its fallback, and three keys.
fn fleet_config(base: &str, good: &str, fleet: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 2
[providers.mock]
base_url = "{base}/v1"
[providers.good]
base_url = "{good}/v1"
[models.m]
provider = "mock"
model = "gpt-4o-mini"
input_price = 1000.0
output_price = 1000.0
fallbacks = ["g"]
[models.g]
provider = "good"
model = "gpt-4o"
[keys.plain]
key_hash = "{}"
[keys.limited]
key_hash = "{}"
rpm = 20
[keys.budget]
key_hash = "{}"
budget_daily_usd = 0.3
[fleet]
{fleet}
{extra}
{}"#,
        h(KEY),
        h(LIMITED),
        h(BUDGET),
        admin_section()
    )
}

fn bearer(k: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {k}"))]
}

fn chat(gw: &Gateway, key: &str, body: &str) -> Response {
    let h = bearer(key);
    let hs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    gw.client().post_with("/v1/chat/completions", body, &hs)
}

/// An admin request (any method) with the admin key.
fn admin(gw: &Gateway, method: &str, path: &str, body: &str) -> Response {
    let mut c = Client::connect(gw.admin_addr());
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN_KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    c.send_raw(req.as_bytes());
    c.read_response().expect("admin response")
}

fn start_fleet(n: usize, config: &str) -> Vec<Gateway> {
    let gws: Vec<Gateway> = (0..n).map(|_| Gateway::start(config)).collect();
    for gw in &gws {
        wait_for(|| gw.log_text().contains("fleet: connected to"), "the fleet connects", gw);
    }
    gws
}

fn wait_for(mut ok: impl FnMut() -> bool, what: &str, gw: &Gateway) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < Duration::from_secs(5), "{what}; log:\n{}", gw.log_text());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn metric(gw: &Gateway, name: &str) -> f64 {
    let text = String::from_utf8_lossy(&admin(gw, "GET", "/metrics", "").body).into_owned();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The cost the gateway should charge for an answer (model `m`'s prices), nano-USD.
fn cost_nusd(r: &Response) -> u64 {
    let u = &r.json()["usage"];
    let tokens = u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap();
    tokens * 1_000_000
}

fn day_key(name: &str) -> String {
    let day = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() / 86_400_000;
    format!("{{switchyard}}:spend:{name}:d:{day}")
}

/// docs/operations.md's bound, in requests: a use on one process reaches the others within two
/// sync rounds (its flush, then their read: L = 2 × (10 ms + a round trip, 2 ms here)), so
/// the other n − 1 processes admit at most their share of the requests of that time, plus
/// one each for a request already past the check.
fn overshoot_bound(n: usize, per_request_ms: f64) -> f64 {
    let lag_ms = 2.0 * (10.0 + 2.0);
    let others = (n - 1) as f64 / n as f64;
    (lag_ms / per_request_ms * others).ceil() + (n - 1) as f64
}

#[test]
fn a_keys_rpm_and_budget_hold_across_three_replicas() {
    let redis = Redis::start();
    let (m, g) = (mock(MockConfig::default()), mock(MockConfig::default()));
    let gws = start_fleet(3, &fleet_config(&m.base_url(), &g.base_url(), &format!("redis = \"{}\"", redis.url()), ""));
    // rpm = 20: one process alone would admit 20 of these; three without a shared store 60.
    let t = Instant::now();
    let admitted = (0..60).filter(|i| chat(&gws[i % 3], LIMITED, &chat_body("m", false)).status == 200).count();
    let per_request_ms = t.elapsed().as_secs_f64() * 1000.0 / 60.0;
    let bound = overshoot_bound(3, per_request_ms);
    assert!(admitted >= 20, "the fleet admits the key's whole rpm: {admitted}");
    assert!(
        admitted as f64 <= 20.0 + bound,
        "admitted {admitted}, bound 20 + {bound:.1} ({per_request_ms:.2} ms per request)"
    );
    eprintln!(
        "rpm 20 across 3 replicas: admitted {admitted} (bound 20 + {bound:.1}, {per_request_ms:.2} ms per request)"
    );

    // Budget $0.30, each answer about $0.04: spend stops near the budget fleet-wide.
    let (mut spent, mut refused, mut most) = (0, 0, 0);
    let t = Instant::now();
    for i in 0..60 {
        let r = chat(&gws[i % 3], BUDGET, &chat_body_max("m", false, 8));
        match r.status {
            200 => {
                spent += cost_nusd(&r);
                most = most.max(cost_nusd(&r));
            }
            402 => refused += 1,
            s => panic!("unexpected {s}: {}", r.text()),
        }
    }
    let per_request_ms = t.elapsed().as_secs_f64() * 1000.0 / 60.0;
    let bound = overshoot_bound(3, per_request_ms) * most as f64;
    assert!(refused > 30, "the budget ran out fleet-wide: {refused} refused");
    assert!(
        spent as f64 <= 300_000_000.0 + bound,
        "spent {spent} nano-USD against a 0.3 USD budget, bound {bound:.0} ({per_request_ms:.2} ms per request)"
    );
    eprintln!("budget $0.30 across 3 replicas: spent ${:.3} (bound $0.30 + ${:.3})", spent as f64 / 1e9, bound / 1e9);
    // Every charge reached the store, once.
    let t = Instant::now();
    loop {
        let stored: u64 = redis.cmd(&["GET", &day_key("budget")]).unwrap().parse().unwrap_or(0);
        if stored == spent {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(2), "store holds {stored}, answers cost {spent}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A restart of every replica loses nothing: the spend is read back from Redis.
    drop(gws);
    let gws = start_fleet(1, &fleet_config(&m.base_url(), &g.base_url(), &format!("redis = \"{}\"", redis.url()), ""));
    assert_eq!(chat(&gws[0], BUDGET, &chat_body_max("m", false, 8)).status, 402, "the budget stays spent");
}

#[test]
fn keys_created_rotated_and_revoked_on_one_replica_apply_on_the_others_within_a_second() {
    let redis = Redis::start();
    let (m, g) = (mock(MockConfig::default()), mock(MockConfig::default()));
    let gws = start_fleet(3, &fleet_config(&m.base_url(), &g.base_url(), &format!("redis = \"{}\"", redis.url()), ""));
    let r = admin(&gws[0], "POST", "/admin/keys", r#"{"name":"ci","models":["m"],"rpm":1000}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    let secret = r.json()["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("sk-sy-"));
    // Only the hash is stored.
    let stored = redis.cmd(&["HGET", "{switchyard}:keys", "ci"]).unwrap();
    assert!(stored.contains(&h(&secret)) && !stored.contains(&secret), "{stored}");
    for gw in &gws[1..] {
        let t = Instant::now();
        while chat(gw, &secret, &chat_body("m", false)).status != 200 {
            assert!(t.elapsed() < Duration::from_secs(1), "a new key works on every replica within a second");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(admin(&gws[0], "POST", "/admin/keys", r#"{"name":"ci"}"#).status, 409, "names are unique");
    let e = admin(&gws[0], "POST", "/admin/keys", r#"{"name":"x","models":["nope"]}"#);
    assert_eq!(e.status, 400);
    assert!(e.text().contains("keys.x.models[0]"), "{}", e.text());
    let list = admin(&gws[2], "GET", "/admin/keys", "").json();
    assert!(list["keys"].as_array().unwrap().iter().any(|k| k["name"] == "ci" && k["source"] == "fleet"), "{list}");

    // Rotation: the new secret works everywhere, the old one is refused everywhere.
    let r = admin(&gws[1], "POST", "/admin/keys/ci/rotate", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let rotated = r.json()["key"].as_str().unwrap().to_string();
    for gw in &gws {
        wait_for(|| chat(gw, &secret, &chat_body("m", false)).status == 401, "the old secret is refused", gw);
        assert_eq!(chat(gw, &rotated, &chat_body("m", false)).status, 200);
    }

    // Revocation through one replica, of a run-time key and of a config key.
    let t = Instant::now();
    assert_eq!(admin(&gws[0], "DELETE", "/admin/keys/ci", "").status, 200);
    assert_eq!(admin(&gws[0], "DELETE", "/admin/keys/plain", "").status, 200);
    for gw in &gws[1..] {
        while chat(gw, &rotated, &chat_body("m", false)).status != 401
            || chat(gw, KEY, &chat_body("m", false)).status != 401
        {
            assert!(t.elapsed() < Duration::from_secs(1), "revoked fleet-wide within a second");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    eprintln!("revocation seen by every replica after {:?}", t.elapsed());
    assert_eq!(admin(&gws[0], "DELETE", "/admin/keys/ci", "").status, 404);
    for gw in &gws {
        assert!(!gw.log_text().contains(&secret) && !gw.log_text().contains(&rotated), "no secret in the log");
    }
}

#[test]
fn a_429_seen_by_one_replica_cools_the_model_on_the_others() {
    let redis = Redis::start();
    let bad = mock(MockConfig { fail_rate: 1.0, fail_status: 429, ..Default::default() });
    let good = mock(MockConfig::default());
    let gws =
        start_fleet(3, &fleet_config(&bad.base_url(), &good.base_url(), &format!("redis = \"{}\"", redis.url()), ""));
    let r = chat(&gws[0], KEY, &chat_body("m", false));
    assert_eq!((r.status, r.header("x-switchyard-model")), (200, Some("g")), "fell back: {}", r.text());
    assert_eq!(bad.request_count(), 1);
    // The mock's retry-after is 1 s: the others skip `m` for the rest of it.
    std::thread::sleep(Duration::from_millis(100));
    for gw in &gws[1..] {
        let r = chat(gw, KEY, &chat_body("m", false));
        assert_eq!((r.status, r.header("x-switchyard-model")), (200, Some("g")));
    }
    assert_eq!(bad.request_count(), 1, "no other replica tried the cooling model");
    assert!(metric(&gws[1], "switchyard_fleet_cooldowns_received_total") >= 1.0);
}

#[test]
fn a_cache_hit_is_served_across_replicas() {
    let redis = Redis::start();
    let (m, g) = (mock(MockConfig::default()), mock(MockConfig::default()));
    let extra = "[routes.auto]\ntiers = [{ name = \"t\", models = [\"m\"] }]\ncache = { ttl_ms = 60000 }\n";
    let fleet = format!("redis = \"{}\"\nshare_cache = true", redis.url());
    let gws = start_fleet(2, &fleet_config(&m.base_url(), &g.base_url(), &fleet, extra));
    let body = chat_body("auto", false);
    let first = chat(&gws[0], KEY, &body);
    assert_eq!(first.header("x-switchyard-cache"), Some("miss"));
    let t = Instant::now();
    let hit = loop {
        let r = chat(&gws[1], KEY, &body);
        if r.header("x-switchyard-cache") == Some("hit") {
            break r;
        }
        assert!(t.elapsed() < Duration::from_secs(1), "the other replica serves the entry");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(hit.json()["choices"][0]["message"]["content"], first.json()["choices"][0]["message"]["content"]);
    let streamed = {
        let mut c = gws[1].client();
        c.post_with("/v1/chat/completions", &chat_body("auto", true), &[("authorization", &format!("Bearer {KEY}"))])
    };
    assert_eq!(streamed.header("x-switchyard-cache"), Some("hit"), "replayed as a stream");
    assert_eq!(streamed.streamed_content(), first.json()["choices"][0]["message"]["content"].as_str().unwrap());
    assert!(m.request_count() <= 2, "misses while the entry travelled: {}", m.request_count());
}

/// Requests from `threads` clients round-robin over `gws` until `stop`; each result is
/// (status, cost charged in nano-USD for a 200).
fn load(gws: &[Gateway], key: &'static str, stop: &std::sync::atomic::AtomicBool) -> Vec<(u16, u64, String)> {
    let addrs: Vec<SocketAddr> = gws.iter().map(|g| g.addr).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|t| {
                let addrs = addrs.clone();
                s.spawn(move || {
                    let mut out = Vec::new();
                    let mut i = t;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let mut c = Client::connect(addrs[i % addrs.len()]);
                        let r = c.post_with(
                            "/v1/chat/completions",
                            &chat_body_max("m", false, 8),
                            &[("authorization", &format!("Bearer {key}"))],
                        );
                        let cost = if r.status == 200 { cost_nusd(&r) } else { 0 };
                        out.push((r.status, cost, if r.status == 200 { String::new() } else { r.text() }));
                        i += 1;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

fn outage_under_load(policy: &str) -> (Vec<(u16, u64, String)>, Redis, Vec<Gateway>) {
    let mut redis = Redis::start();
    let (m, g) = (mock(MockConfig::default()), mock(MockConfig::default()));
    let fleet = format!("redis = \"{}\"\nio_timeout_ms = 100\n[fleet.on_failure]\nlimits = \"{policy}\"", redis.url());
    let mut cfg = fleet_config(&m.base_url(), &g.base_url(), &fleet, "");
    // A budget large enough that this run never meets it: the spend is what is compared.
    cfg = cfg.replace("budget_daily_usd = 0.3", "budget_daily_usd = 1000.0");
    let gws = start_fleet(3, &cfg);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let results = std::thread::scope(|s| {
        let h = s.spawn(|| load(&gws, BUDGET, &stop));
        std::thread::sleep(Duration::from_millis(300));
        redis.kill();
        std::thread::sleep(Duration::from_millis(700));
        redis.spawn();
        std::thread::sleep(Duration::from_millis(700));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        h.join().unwrap()
    });
    std::mem::forget(m);
    std::mem::forget(g);
    (results, redis, gws)
}

#[test]
fn redis_killed_and_restarted_under_load_fails_open_and_loses_nothing() {
    let (results, redis, gws) = outage_under_load("open");
    let errors: Vec<_> = results.iter().filter(|r| r.0 != 200).take(3).collect();
    assert!(errors.is_empty(), "no client error with `open`: {errors:?}");
    let spent: u64 = results.iter().map(|r| r.1).sum();
    // Reconciled after the restart: every answer charged once, none lost, none twice.
    let t = Instant::now();
    loop {
        let stored: u64 = redis.cmd(&["GET", &day_key("budget")]).unwrap_or_default().parse().unwrap_or(0);
        if stored == spent {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "store holds {stored}, the {} answers cost {spent}",
            results.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let open: f64 = gws.iter().map(|g| metric(g, "switchyard_fleet_fail_open_total{concern=\"limits\"}")).sum();
    assert!(open > 0.0, "the fail-open decisions are counted");
    assert!(gws.iter().any(|g| g.log_text().contains("fleet: cannot reach redis://127.0.0.1")));
    eprintln!("{} requests through the outage, {open} admitted on local state", results.len());
}

#[test]
fn redis_killed_under_load_with_closed_limits_answers_503_then_recovers() {
    let (results, redis, gws) = outage_under_load("closed");
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert!(!refused.is_empty(), "the outage was noticed");
    let other: Vec<_> = results.iter().filter(|r| r.0 != 200 && r.0 != 503).take(3).collect();
    assert!(other.is_empty(), "only 200 or 503: {other:?}");
    let e: serde_json::Value = serde_json::from_str(&refused[0].2).unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("cannot reach its fleet store"), "{e}");
    assert!(
        results.last().is_some_and(|r| r.0 == 200) || results.iter().rev().take(6).any(|r| r.0 == 200),
        "served again after the restart"
    );
    let spent: u64 = results.iter().map(|r| r.1).sum();
    let t = Instant::now();
    loop {
        let stored: u64 = redis.cmd(&["GET", &day_key("budget")]).unwrap_or_default().parse().unwrap_or(0);
        if stored == spent {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(3), "store holds {stored}, answers cost {spent}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Keys without limits keep flowing (`keys` stays open).
    assert_eq!(chat(&gws[0], KEY, &chat_body("m", false)).status, 200);
}

#[test]
fn a_rediss_connection_with_a_password() {
    let ca = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let dir = temp_path("redis-tls");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ca.cert.pem()).unwrap();
    std::fs::write(&key, ca.signing_key.serialize_pem()).unwrap();
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let redis = Redis::start_with(&[
        "--tls-port",
        "--tls-cert-file",
        c,
        "--tls-key-file",
        k,
        "--tls-ca-cert-file",
        c,
        "--tls-auth-clients",
        "no",
        "--requirepass",
        "s3cret-fleet-pw",
    ]);
    let (m, g) = (mock(MockConfig::default()), mock(MockConfig::default()));
    let fleet = format!("redis = \"rediss://:s3cret-fleet-pw@127.0.0.1:{}/0\"\nca_file = \"{c}\"", redis.port);
    let gws = start_fleet(2, &fleet_config(&m.base_url(), &g.base_url(), &fleet, ""));
    assert_eq!(metric(&gws[0], "switchyard_fleet_connected"), 1.0);
    // The limit is shared over TLS.
    let t = Instant::now();
    let admitted = (0..40).filter(|i| chat(&gws[i % 2], LIMITED, &chat_body("m", false)).status == 200).count();
    let bound = overshoot_bound(2, t.elapsed().as_secs_f64() * 1000.0 / 40.0);
    assert!(
        admitted >= 20 && admitted as f64 <= 20.0 + bound,
        "rpm 20 across two replicas over rediss: {admitted} (bound 20 + {bound:.1})"
    );
    for gw in &gws {
        assert!(!gw.log_text().contains("s3cret-fleet-pw"), "the password never reaches the log");
        assert!(gw.log_text().contains(&format!("rediss://127.0.0.1:{}/0", redis.port)));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_password_is_a_clear_log_line_and_keys_fail_closed_when_asked() {
    let redis = Redis::start_with(&["--requirepass", "right-pw"]);
    let (m, g) = (mock(MockConfig::default()), mock(MockConfig::default()));
    let fleet =
        format!("redis = \"redis://:wrong-pw@127.0.0.1:{}\"\n[fleet.on_failure]\nkeys = \"closed\"", redis.port);
    let gw = Gateway::start(&fleet_config(&m.base_url(), &g.base_url(), &fleet, ""));
    wait_for(|| gw.log_text().contains("fleet: cannot reach"), "the failure is logged", &gw);
    assert!(!gw.log_text().contains("wrong-pw"));
    let r = chat(&gw, KEY, &chat_body("m", false));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = gw.client().post_with(
        "/v1/messages",
        r#"{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#,
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["type"], "error", "in the client's dialect: {}", r.text());
    assert!(metric(&gw, "switchyard_fleet_fail_closed_total{concern=\"keys\"}") >= 2.0);
}
