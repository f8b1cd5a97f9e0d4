//! `sseload`: opens N keep-alive connections, sends chat completions (streaming or not) and
//! measures every response: status, time to first token, gaps between tokens, total time,
//! and correctness (token count, `[DONE]`). Against `mock-llm --stamp` it also times each
//! event from the mock's send stamp (`delay`) and the part of each gap the path added
//! (`gap_excess`: the gap minus the gap between the send stamps). Prints one JSON object.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use switchyard_http::head::{Limits, ResponseFraming};
use switchyard_http::{ChunkedDecoder, SseDecoder, parse_response};

#[derive(Clone)]
struct Opts {
    addr: SocketAddr,
    path: String,
    model: String,
    concurrency: usize,
    requests: usize,
    stream: bool,
    expect_tokens: Option<usize>,
    threads: usize,
    prompt_bytes: usize,
    /// Connections start spread evenly over this many ms (0: all at once).
    ramp_ms: u64,
    /// Asks `mock-llm` for this pace between tokens (`mock_token_interval_ms` in the body).
    pace_ms: Option<u64>,
    tokens: Option<usize>,
}

const USAGE: &str = "usage: sseload --addr IP:PORT [--path /v1/chat/completions] [--model NAME]
               [--concurrency N] [--requests-per-conn N] [--no-stream] [--expect-tokens N]
               [--threads N] [--prompt-bytes N] [--ramp-ms N] [--pace-ms N] [--tokens N]";

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        addr: "127.0.0.1:8080".parse().unwrap(),
        path: "/v1/chat/completions".into(),
        model: "mock-openai".into(),
        concurrency: 100,
        requests: 10,
        stream: true,
        expect_tokens: None,
        threads: 1,
        prompt_bytes: 64,
        ramp_ms: 0,
        pace_ms: None,
        tokens: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().cloned().ok_or(format!("{a} needs a value"));
        fn n<T: std::str::FromStr>(s: String) -> Result<T, String> {
            s.parse().map_err(|_| format!("invalid number {s}"))
        }
        match a.as_str() {
            "--addr" => o.addr = v()?.parse().map_err(|_| "invalid --addr")?,
            "--path" => o.path = v()?,
            "--model" => o.model = v()?,
            "--concurrency" => o.concurrency = n(v()?)?,
            "--requests-per-conn" => o.requests = n(v()?)?,
            "--no-stream" => o.stream = false,
            "--expect-tokens" => o.expect_tokens = Some(n(v()?)?),
            "--threads" => o.threads = n(v()?)?,
            "--prompt-bytes" => o.prompt_bytes = n(v()?)?,
            "--ramp-ms" => o.ramp_ms = n(v()?)?,
            "--pace-ms" => o.pace_ms = Some(n(v()?)?),
            "--tokens" => o.tokens = Some(n(v()?)?),
            _ => return Err(USAGE.into()),
        }
    }
    Ok(o)
}

#[derive(Default)]
struct Stats {
    ok: u64,
    errors: u64,
    error_kinds: std::collections::BTreeMap<String, u64>,
    ttft_us: Vec<u64>,
    gap_us: Vec<u64>,
    total_us: Vec<u64>,
    /// Per event, when the mock stamped its send time (`mock-llm --stamp`): send to receipt.
    delay_us: Vec<u64>,
    /// Per event after the first: its gap minus the gap between the two send stamps, i.e. the
    /// part of the gap the path added (the mock's own pacing jitter taken out).
    gap_excess_us: Vec<i64>,
}

impl Stats {
    fn fail(&mut self, why: impl Into<String>) {
        self.errors += 1;
        *self.error_kinds.entry(why.into()).or_default() += 1;
    }
    fn merge(&mut self, o: Stats) {
        self.ok += o.ok;
        self.errors += o.errors;
        for (k, v) in o.error_kinds {
            *self.error_kinds.entry(k).or_default() += v;
        }
        self.ttft_us.extend(o.ttft_us);
        self.gap_us.extend(o.gap_us);
        self.total_us.extend(o.total_us);
        self.delay_us.extend(o.delay_us);
        self.gap_excess_us.extend(o.gap_excess_us);
    }
}

fn request_bytes(o: &Opts) -> Vec<u8> {
    let prompt = "x".repeat(o.prompt_bytes);
    let mut pace = o.pace_ms.map(|ms| format!(r#","mock_token_interval_ms":{ms}"#)).unwrap_or_default();
    // The answer's length asked of mock-llm (one-token streams measure a stream's start alone).
    if let Some(n) = o.tokens {
        pace.push_str(&format!(r#","mock_tokens":{n}"#));
    }
    let body = format!(
        r#"{{"model":"{}","stream":{},"messages":[{{"role":"user","content":"{prompt}"}}]{pace}}}"#,
        o.model, o.stream
    );
    format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        o.path,
        o.addr,
        body.len()
    )
    .into_bytes()
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16384);
    }
    let len = buf.len();
    let (r, b) = s.read(std::mem::take(buf).slice_mut(len..)).await;
    *buf = b.into_inner();
    r
}

/// Content tokens in one SSE data payload (counts `"content":"` with non-empty text).
fn has_content(data: &[u8]) -> bool {
    memfind(data, b"\"content\":\"").is_some_and(|i| data.get(i + 11) != Some(&b'"'))
}

/// The send stamp `: t=<unix ns>` that `mock-llm --stamp` puts before an event.
fn stamp(raw: &[u8]) -> Option<u64> {
    let rest = raw.strip_prefix(b": t=")?;
    let end = rest.iter().position(|&c| c == b'\n')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

fn unix_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn memfind(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// One request/response; Err is the failure kind. Returns whether the connection is reusable.
async fn one(s: &mut TcpStream, req: &[u8], o: &Opts, st: &mut Stats) -> Result<bool, String> {
    let start = Instant::now();
    let (r, _) = s.write_all(req.to_vec()).await;
    r.map_err(|e| format!("write: {}", e.kind()))?;
    let mut buf = Vec::with_capacity(16384);
    let mut hdrs = Vec::new();
    let head = loop {
        if let Some(h) = parse_response(&buf, Limits::default(), &mut hdrs, false).map_err(|_| "bad head")? {
            break h;
        }
        if read_more(s, &mut buf).await.map_err(|e| format!("read: {}", e.kind()))? == 0 {
            return Err("closed before head".into());
        }
    };
    if head.status != 200 {
        return Err(format!("status {}", head.status));
    }
    let mut pos = head.head_len;
    let mut sse = SseDecoder::new();
    let mut dec = ChunkedDecoder::new();
    let mut tokens = 0usize;
    let mut done = false;
    let mut last_event: Option<Instant> = None;
    // (sent, received) of the previous stamped event, in unix ns.
    let mut last_stamp: Option<(u64, u64)> = None;
    let mut body_len = 0u64;
    loop {
        let now = Instant::now();
        let now_ns = unix_nanos();
        match head.framing {
            ResponseFraming::Chunked => {
                dec.feed(&buf[pos..], |d| sse.push(d)).map_err(|_| "bad chunked body")?;
            }
            _ => {
                body_len += (buf.len() - pos) as u64;
                sse.push(&buf[pos..]);
            }
        }
        while let Some(ev) = sse.next_event() {
            let Some(data) = ev.data() else { continue };
            if data.as_ref() == b"[DONE]" {
                done = true;
            } else if has_content(&data) {
                tokens += 1;
                match last_event {
                    None => st.ttft_us.push((now - start).as_micros() as u64),
                    Some(t) => st.gap_us.push((now - t).as_micros() as u64),
                }
                last_event = Some(now);
                if let Some(sent) = stamp(ev.raw) {
                    st.delay_us.push(now_ns.saturating_sub(sent) / 1000);
                    if let Some((ps, pr)) = last_stamp {
                        let excess = (now_ns as i64 - pr as i64) - (sent as i64 - ps as i64);
                        st.gap_excess_us.push(excess / 1000);
                    }
                    last_stamp = Some((sent, now_ns));
                }
            }
        }
        let finished = match head.framing {
            ResponseFraming::Chunked => dec.is_done(),
            ResponseFraming::Length(n) => body_len >= n,
            ResponseFraming::Empty => true,
            ResponseFraming::UntilClose => false,
        };
        if finished {
            break;
        }
        buf.clear();
        pos = 0;
        if read_more(s, &mut buf).await.map_err(|e| format!("read: {}", e.kind()))? == 0 {
            if head.framing == ResponseFraming::UntilClose {
                break;
            }
            return Err("closed mid-body".into());
        }
    }
    if o.stream {
        if !done {
            return Err("no [DONE]".into());
        }
        if let Some(want) = o.expect_tokens
            && tokens != want
        {
            return Err(format!("{tokens} tokens, expected {want}"));
        }
    } else {
        st.ttft_us.push(start.elapsed().as_micros() as u64);
    }
    st.total_us.push(start.elapsed().as_micros() as u64);
    st.ok += 1;
    Ok(head.keep_alive)
}

async fn conn_loop(o: Rc<Opts>, stats: Rc<RefCell<Stats>>) {
    let req = request_bytes(&o);
    let mut s: Option<TcpStream> = None;
    for _ in 0..o.requests {
        if s.is_none() {
            match TcpStream::connect_addr(o.addr).await {
                Ok(c) => {
                    let _ = c.set_nodelay(true);
                    s = Some(c)
                }
                Err(e) => {
                    stats.borrow_mut().fail(format!("connect: {}", e.kind()));
                    continue;
                }
            }
        }
        let mut local = Stats::default();
        let res = one(s.as_mut().unwrap(), &req, &o, &mut local).await;
        match res {
            Ok(true) => {}
            Ok(false) => s = None,
            Err(e) => {
                local.fail(e);
                s = None;
            }
        }
        stats.borrow_mut().merge(local);
    }
}

/// The p-quantile of `v` (sorted in place; the default value when empty).
fn pct<T: Copy + Ord + Default>(v: &mut [T], p: f64) -> T {
    if v.is_empty() {
        return T::default();
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// `"NAME_us":{p50, p90, p99, p999, max, n}` of `v`.
fn summary<T: Copy + Ord + Default + std::fmt::Display>(name: &str, v: &mut [T]) -> String {
    format!(
        r#""{name}_us":{{"p50":{},"p90":{},"p99":{},"p999":{},"max":{},"n":{}}}"#,
        pct(v, 0.5),
        pct(v, 0.9),
        pct(v, 0.99),
        pct(v, 0.999),
        v.iter().max().copied().unwrap_or_default(),
        v.len()
    )
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let o = std::sync::Arc::new(o);
    let started = Instant::now();
    let threads: Vec<_> = (0..o.threads.max(1))
        .map(|t| {
            let o = o.clone();
            std::thread::spawn(move || {
                let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                    .enable_timer()
                    .with_entries(4096)
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let opts = Rc::new(Opts::clone(&o));
                    let stats = Rc::new(RefCell::new(Stats::default()));
                    let n = o.concurrency / o.threads.max(1) + usize::from(t < o.concurrency % o.threads.max(1));
                    // A ramp spreads the starts (and so the streams' token ticks) over time, as
                    // real traffic is; all at once, every stream's events land in the same burst.
                    let tasks: Vec<_> = (0..n)
                        .map(|i| {
                            let delay = Duration::from_micros(o.ramp_ms * 1000 * i as u64 / n.max(1) as u64);
                            let (opts, stats) = (opts.clone(), stats.clone());
                            monoio::spawn(async move {
                                if !delay.is_zero() {
                                    monoio::time::sleep(delay).await;
                                }
                                conn_loop(opts, stats).await
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await;
                    }
                    monoio::time::sleep(Duration::from_millis(1)).await;
                    Rc::try_unwrap(stats).map(|c| c.into_inner()).unwrap_or_default()
                })
            })
        })
        .collect();
    let mut all = Stats::default();
    for t in threads {
        all.merge(t.join().expect("thread"));
    }
    let secs = started.elapsed().as_secs_f64();
    let kinds: Vec<String> = all.error_kinds.iter().map(|(k, v)| format!(r#""{k}":{v}"#)).collect();
    println!(
        r#"{{"ok":{},"errors":{},"error_kinds":{{{}}},"seconds":{secs:.3},"rps":{:.1},{},{},{},{},{}}}"#,
        all.ok,
        all.errors,
        kinds.join(","),
        all.ok as f64 / secs,
        summary("ttft", &mut all.ttft_us),
        summary("gap", &mut all.gap_us),
        summary("total", &mut all.total_us),
        summary("delay", &mut all.delay_us),
        summary("gap_excess", &mut all.gap_excess_us),
    );
    if all.errors > 0 {
        std::process::exit(1);
    }
}
