//! mock-llm: a mock LLM provider for tests, demos and load tests.
//!
//! Speaks OpenAI chat completions, the OpenAI Responses API, Anthropic Messages and Gemini
//! (streaming included; embeddings and token counting too), answers that fit a requested JSON
//! schema or tool parameters, with injectable latency,
//! stream pacing and faults, over HTTP or HTTPS with a generated self-signed certificate.

mod chat;
mod extra;
mod schema;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use server::start;

/// How the mock behaves; every field maps to a command-line flag.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Address to bind (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Worker threads.
    pub threads: usize,
    /// Delay before the first byte of every answer.
    pub latency_ms: u64,
    /// Tokens per answer, streamed or not.
    pub tokens: usize,
    /// Pause between streamed tokens.
    pub token_interval_ms: u64,
    /// Status answered with probability `fail_rate` (429 carries `retry-after`).
    pub fail_status: u16,
    /// Probability of answering `fail_status`.
    pub fail_rate: f64,
    /// Cut the connection (FIN) after this many stream events.
    pub drop_after: Option<usize>,
    /// Reset the connection (RST) after this many stream events (plain TCP only).
    pub reset_after: Option<usize>,
    /// Stop sending (connection held open) after this many stream events.
    pub stall_after: Option<usize>,
    /// Send an event whose data is not JSON after this many stream events.
    pub malformed_after: Option<usize>,
    /// Answer non-streamed requests with a 200 whose body is truncated JSON.
    pub malformed_json: bool,
    /// A fixed answer text instead of "t0 t1 ..." (streamed word by word).
    pub answer: Option<String>,
    /// Log-probability of every token when a request asks for `logprobs`.
    pub logprob: f64,
    /// Probability of never answering.
    pub hang_rate: f64,
    /// Serve HTTPS with a self-signed certificate for `localhost` and `127.0.0.1`.
    pub tls: bool,
    /// Answer 401 unless `Authorization: Bearer <key>` matches.
    pub require_key: Option<String>,
    /// Send bodies delimited by closing the connection instead of a length or chunks.
    pub close_delimited: bool,
    /// Prefix every streamed event with an SSE comment `: t=<unix ns>` taken just before
    /// it is written, so a load generator can time each event's trip (and the gaps the path
    /// adds) apart from the mock's own pacing.
    pub stamp: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            listen: "127.0.0.1:0".parse().expect("literal"),
            threads: 1,
            latency_ms: 0,
            tokens: 16,
            token_interval_ms: 0,
            fail_status: 500,
            fail_rate: 0.0,
            drop_after: None,
            reset_after: None,
            stall_after: None,
            malformed_after: None,
            malformed_json: false,
            answer: None,
            logprob: -0.05,
            hang_rate: 0.0,
            tls: false,
            require_key: None,
            close_delimited: false,
            stamp: false,
        }
    }
}

/// What the mock last received, for tests that check what the gateway forwarded.
#[derive(Debug, Clone, Default)]
pub struct SeenRequest {
    /// Request target (path and query).
    pub path: String,
    /// Header fields as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// Value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A running mock; its threads live until the process exits.
#[derive(Debug, Clone)]
pub struct MockServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// PEM of the self-signed certificate in TLS mode.
    pub cert_pem: Option<String>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl MockServer {
    /// `http(s)://127.0.0.1:PORT` (use `localhost` for TLS so the name matches the certificate).
    pub fn base_url(&self) -> String {
        if self.cert_pem.is_some() {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Requests received so far (chat requests only), oldest first.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Number of chat requests received.
    pub fn request_count(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }
}
