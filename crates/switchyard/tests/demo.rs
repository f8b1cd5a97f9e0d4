//! `switchyard demo` serves a routed answer with no keys and no config file.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn demo_answers_plain_and_streaming_calls() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (console_tx, console_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("switchyard listening on http://") {
                let _ = tx.send(line[i + 31..].split_whitespace().next().unwrap().to_string());
            }
            if let Some(i) = line.find("console on http://") {
                let _ = console_tx.send(line[i + 18..].trim().to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("demo starts").parse().unwrap();
    // The demo prints the console's URL, and it answers.
    let console = console_rx.recv_timeout(Duration::from_secs(5)).expect("the demo prints the console's URL");
    let (admin, path) = console.split_once('/').unwrap();
    assert_eq!(path, "ui");
    assert_eq!(Client::connect(admin.parse().unwrap()).get("/ui").status, 200);
    let mut c = Client::connect(addr);
    let r = c.post("/v1/chat/completions", &chat_body("mock-openai", false));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["choices"][0]["message"]["content"].as_str().unwrap().starts_with("t0 t1"));
    assert_eq!(r.header("x-switchyard-provider"), Some("mock-openai"));
    let r = c.post("/v1/chat/completions", &chat_body("mock-openai", true));
    assert!(r.streamed_content().starts_with("t0 t1"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn pinned_workers_serve() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "pin_cpus = true\n"));
    assert!(gw.log_text().contains("pinned=true"), "{}", gw.log_text());
    let mut c = gw.client();
    assert_eq!(c.post("/v1/chat/completions", &chat_body("m", false)).status, 200);
}
