//! Test harness: the gateway as a real process on a free port, mock providers in-process,
//! and a small blocking HTTP/1.1 client that records when each byte arrived.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use mock_llm::{MockConfig, MockServer};
use switchyard_http::head::{Limits, ResponseFraming};
use switchyard_http::{ChunkedDecoder, SseDecoder, parse_response};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A unique temp file path for this test process.
pub fn temp_path(name: &str) -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("switchyard-test-{}-{n}-{name}", std::process::id()))
}

pub fn mock(cfg: MockConfig) -> MockServer {
    mock_llm::start(cfg).expect("mock starts")
}

/// A config with one OpenAI-dialect provider at `base` and the model `m` -> `gpt-4o-mini`.
pub fn basic_config(base: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 2
{extra}
[providers.mock]
base_url = "{base}/v1"
api_key = "sk-test-provider-key"

[models.m]
provider = "mock"
model = "gpt-4o-mini"
"#
    )
}

pub struct Gateway {
    pub addr: SocketAddr,
    pub child: Child,
    pub config: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    pub fn start(config: &str) -> Gateway {
        Self::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Gateway {
        let path = temp_path("config.toml");
        std::fs::write(&path, config).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        cmd.arg("--config").arg(&path).stderr(Stdio::piped()).stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("gateway spawns");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Logged before the address is announced, so callers see the line.
                log2.lock().unwrap().push(line.clone());
                if let Some(i) = line.find("switchyard listening on ") {
                    let url = line[i + 24..].split_whitespace().next().unwrap();
                    let addr = url.split("://").nth(1).unwrap().to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!("gateway did not start; log: {:?}", log.lock().unwrap());
            }
        };
        Gateway { addr, child, config: path, log }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// The first log line containing `needle`, waited for up to 5 s.
    pub fn wait_log(&self, needle: &str) -> String {
        let t = std::time::Instant::now();
        loop {
            let log = self.log_text();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(t.elapsed() < Duration::from_secs(5), "{needle:?} never logged:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The admin listener's address, from the start-up log line.
    pub fn admin_addr(&self) -> SocketAddr {
        let line = self.wait_log("admin listening on http://");
        line.split("http://").nth(1).unwrap().trim().parse().unwrap()
    }

    /// `GET /metrics` on the client port with the admin key (`admin_section` must be in the config).
    pub fn metrics(&self) -> String {
        let r = self.client().get_with("/metrics", &admin_auth());
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    }

    /// Sends a signal to the gateway process.
    pub fn signal(&self, sig: &str) {
        let ok =
            Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().unwrap().success();
        assert!(ok);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

/// One response, with the arrival time of each body piece.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// (time since the request was sent, decoded bytes) per read.
    pub pieces: Vec<(Duration, Vec<u8>)>,
    pub chunked: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// SSE events' data with the time each became complete.
    pub fn events(&self) -> Vec<(Duration, String)> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for (t, piece) in &self.pieces {
            d.push(piece);
            while let Some(e) = d.next_event() {
                let data = e.data().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
                out.push((*t, data));
            }
        }
        out
    }

    /// Concatenated `delta.content` of a chat stream.
    pub fn streamed_content(&self) -> String {
        self.events()
            .iter()
            .filter(|(_, d)| d != "[DONE]")
            .filter_map(|(_, d)| {
                let v: serde_json::Value = serde_json::from_str(d).ok()?;
                v["choices"][0]["delta"]["content"].as_str().map(str::to_string)
            })
            .collect()
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream, buf: Vec::new() }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn post(&mut self, path: &str, body: &str) -> Response {
        self.send_raw(&post_bytes(path, body));
        self.read_response().expect("response")
    }

    /// A POST with extra header lines (`name: value`).
    pub fn post_with(&mut self, path: &str, body: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = format!("POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        self.send_raw(req.as_bytes());
        self.read_response().expect("response")
    }

    /// A GET with extra header lines.
    pub fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.send_raw(req.as_bytes());
        self.read_response().expect("response")
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.send_raw(format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes());
        self.read_response().expect("response")
    }

    fn fill(&mut self) -> std::io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// True when the server closed the connection (EOF) without sending more bytes.
    pub fn is_closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        matches!(self.fill(), Ok(0) | Err(_))
    }

    /// Reads one response; None if the connection closed before a head arrived.
    pub fn read_response(&mut self) -> Option<Response> {
        self.read_response_to(false)
    }

    /// A HEAD request; its response has no body whatever its content-length says.
    pub fn head(&mut self, path: &str) -> Response {
        self.send_raw(format!("HEAD {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes());
        self.read_response_to(true).expect("response")
    }

    fn read_response_to(&mut self, to_head: bool) -> Option<Response> {
        let start = Instant::now();
        let mut hdrs = Vec::new();
        let head = loop {
            if let Some(h) = parse_response(&self.buf, Limits::default(), &mut hdrs, to_head).expect("valid head") {
                if h.status == 100 {
                    self.buf.drain(..h.head_len);
                    continue;
                }
                break h;
            }
            if self.fill().ok()? == 0 {
                return None;
            }
        };
        let headers: Vec<(String, String)> = hdrs
            .iter()
            .map(|h| {
                (
                    String::from_utf8_lossy(&self.buf[h.name.clone()]).to_lowercase(),
                    String::from_utf8_lossy(&self.buf[h.value.clone()]).into_owned(),
                )
            })
            .collect();
        self.buf.drain(..head.head_len);
        let mut body = Vec::new();
        let mut pieces = Vec::new();
        match head.framing {
            ResponseFraming::Empty => {}
            ResponseFraming::Length(n) => {
                while (self.buf.len() as u64) < n {
                    if self.fill().ok()? == 0 {
                        break;
                    }
                }
                let n = (n as usize).min(self.buf.len());
                body = self.buf.drain(..n).collect();
                pieces.push((start.elapsed(), body.clone()));
            }
            ResponseFraming::Chunked => {
                let mut dec = ChunkedDecoder::new();
                loop {
                    let mut piece = Vec::new();
                    let used = dec.feed(&self.buf, |d| piece.extend_from_slice(d)).expect("valid chunks");
                    self.buf.drain(..used);
                    if !piece.is_empty() {
                        body.extend_from_slice(&piece);
                        pieces.push((start.elapsed(), piece));
                    }
                    if dec.is_done() {
                        break;
                    }
                    match self.fill() {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
            ResponseFraming::UntilClose => {
                while let Ok(n) = self.fill() {
                    if n == 0 {
                        break;
                    }
                }
                body = std::mem::take(&mut self.buf);
            }
        }
        Some(Response { status: head.status, headers, body, pieces, chunked: head.framing == ResponseFraming::Chunked })
    }
}

pub fn post_bytes(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn chat_body(model: &str, stream: bool) -> String {
    format!(r#"{{"model":"{model}","stream":{stream},"messages":[{{"role":"user","content":"hello"}}]}}"#)
}

/// `chat_body` with `max_tokens` (what a key with limits reserves for the answer).
pub fn chat_body_max(model: &str, stream: bool, max_tokens: u64) -> String {
    format!(
        r#"{{"model":"{model}","stream":{stream},"max_tokens":{max_tokens},"messages":[{{"role":"user","content":"hello"}}]}}"#
    )
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Asserts an OpenAI-shaped error body and returns it.
pub fn assert_openai_error(r: &Response, status: u16) -> serde_json::Value {
    assert_eq!(r.status, status, "body: {}", r.text());
    let v = r.json();
    let e = &v["error"];
    assert!(e["message"].is_string(), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
    v
}

/// The admin key the tests' `[admin]` sections accept.
pub const ADMIN_KEY: &str = "sk-admin-test-0123456789";

/// An `[admin]` section on a free loopback port, keyed with `ADMIN_KEY`.
pub fn admin_section() -> String {
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\nkey_hash = \"{}\"\n",
        switchyard_guard::keys::format_key_hash(&switchyard_guard::keys::hash_key(ADMIN_KEY.as_bytes()))
    )
}

/// The `authorization` header carrying `ADMIN_KEY`.
pub fn admin_auth() -> [(&'static str, &'static str); 1] {
    [("authorization", "Bearer sk-admin-test-0123456789")]
}
