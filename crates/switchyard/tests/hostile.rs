//! Hostile clients: thousands of idle slow connections, slow bodies, too many headers, the
//! connection cap, pipelined garbage and a reader too slow for its stream.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// Raises this test process's open-file limit so it can hold thousands of sockets.
fn raise_fd_limit(need: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        assert!(
            lim.rlim_max >= need,
            "the hard open-file limit ({}) is below the {need} this test needs",
            lim.rlim_max
        );
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn five_thousand_idle_slow_connections_do_not_stop_a_normal_client() {
    raise_fd_limit(6_000);
    let m = mock(MockConfig::default());
    let gw =
        Gateway::start(&basic_config(&m.base_url(), "head_timeout_ms = 60000\nmax_connections_per_address = 10000"));
    let mut idle = Vec::with_capacity(5_000);
    for i in 0..5_000 {
        let mut s = TcpStream::connect(gw.addr).expect("connect");
        // Half send the start of a head and stall (slowloris), half send nothing at all.
        if i % 2 == 0 {
            s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-slow: ").unwrap();
        }
        idle.push(s);
    }
    let t = Instant::now();
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(t.elapsed() < Duration::from_secs(2), "served in {:?}", t.elapsed());
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", true));
    assert!(r.streamed_content().contains("t0"), "a stream too");
    // Connections complete in the kernel before the gateway accepts them: give it a moment.
    let t = Instant::now();
    let open = loop {
        let metrics = gw.client().get("/metrics").text();
        let open: i64 =
            metrics.lines().find_map(|l| l.strip_prefix("switchyard_open_connections ")).unwrap().parse().unwrap();
        if open >= 5_000 || t.elapsed() > Duration::from_secs(10) {
            break open;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(open >= 5_000, "all idle connections are held open, not refused: {open}");
    drop(idle);
    // Every descriptor comes back once the clients leave.
    let t = Instant::now();
    while open_fds(gw.child.id()) > 200 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(open_fds(gw.child.id()) <= 200, "descriptors left: {}", open_fds(gw.child.id()));
}

#[test]
fn slow_body_gets_408() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "body_timeout_ms = 300"));
    let mut c = gw.client();
    c.send_raw(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"model\":");
    let t = Instant::now();
    let r = c.read_response().expect("a response, not a silent close");
    assert_openai_error(&r, 408);
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(c.is_closed());
    assert_eq!(m.request_count(), 0);
}

#[test]
fn too_many_header_fields_get_431() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut req = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\n");
    for i in 0..200 {
        req.push_str(&format!("x-h{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let mut c = gw.client();
    c.send_raw(req.as_bytes());
    let r = c.read_response().expect("response");
    assert_openai_error(&r, 431);
    assert!(c.is_closed());
}

#[test]
fn connections_over_the_cap_get_503_and_the_rest_are_served() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "max_connections = 8"));
    let held: Vec<Client> = (0..8).map(|_| gw.client()).collect();
    // Wait until all eight are accepted (the cap counts accepted connections).
    let t = Instant::now();
    let mut extra = loop {
        let mut c = gw.client();
        c.send_raw(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
        let r = c.read_response().expect("a response");
        if r.status == 503 {
            assert_openai_error(&r, 503);
            assert_eq!(r.header("retry-after"), Some("1"));
            break c;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "cap never reached");
    };
    assert!(extra.is_closed());
    drop(held);
    let t = Instant::now();
    loop {
        let mut c = gw.client();
        c.send_raw(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
        if c.read_response().expect("response").status == 200 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "slots never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let metrics = gw.client().get("/metrics").text();
    assert!(metrics.contains("switchyard_connections_refused_total{cap=\"gateway\"} "), "{metrics}");
    assert!(!metrics.contains("switchyard_connections_refused_total{cap=\"gateway\"} 0\n"), "{metrics}");
}

/// A connection to `to` from the loopback address `from` (all of 127/8 is local).
fn connect_from(from: &str, to: std::net::SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&format!("{from}:0").parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    s.connect(&to.into()).unwrap();
    s.into()
}

#[test]
fn one_address_holding_its_share_does_not_lock_out_another() {
    let m = mock(MockConfig::default());
    // Two workers: each allows an address 4 of the 8.
    let gw = Gateway::start(&basic_config(&m.base_url(), "max_connections = 64\nmax_connections_per_address = 8"));
    // One address opens sockets and sends nothing (until refused: at most its 8, spread by
    // SO_REUSEPORT, so up to 4 per worker).
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let mut s = connect_from("127.0.0.3", gw.addr);
        s.set_read_timeout(Some(Duration::from_millis(1000))).unwrap();
        let mut b = [0u8; 512];
        match s.read(&mut b) {
            Ok(n) if n > 0 => {
                let text = String::from_utf8_lossy(&b[..n]);
                assert!(text.starts_with("HTTP/1.1 503") && text.contains("this address"), "{text}");
                refused += 1;
            }
            _ => held.push(s),
        }
    }
    assert!(held.len() <= 8 && refused >= 32, "one address held {} sockets, {refused} refused", held.len());
    // Another address is served at once.
    let mut other = connect_from("127.0.0.4", gw.addr);
    other.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut b = [0u8; 256];
    other.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = other.read(&mut b).unwrap();
    assert!(b[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&b[..n]));
    let metrics = gw.client().get("/metrics").text();
    assert!(
        metrics.contains(&format!("switchyard_connections_refused_total{{cap=\"per_address\"}} {refused}\n")),
        "{metrics}"
    );
}

#[test]
fn a_silent_socket_is_closed_at_the_head_deadline_counted_from_accept() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "head_timeout_ms = 500"));
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(400) && waited < Duration::from_millis(2000), "closed after {waited:?}");
    assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 408"), "{}", String::from_utf8_lossy(&reply));
    // Keep-alive waits between requests are still `idle_timeout_ms`.
    let mut c = gw.client();
    assert_eq!(c.get("/healthz").status, 200);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(c.get("/healthz").status, 200, "an idle keep-alive connection outlives the head deadline");
}

#[test]
fn a_stream_client_that_reads_nothing_is_dropped_and_frees_its_upstream() {
    // ~40 MB of events: far more than the socket buffers hold.
    let m = mock(MockConfig { tokens: 250_000, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), "write_timeout_ms = 1000"));
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.write_all(&post_bytes("/v1/chat/completions", &chat_body("m", true))).unwrap();
    let mut first = [0u8; 256];
    let n = s.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    // Read nothing more: within the write deadline (and a margin) the request ends and its
    // upstream connection is closed.
    let t = Instant::now();
    let inflight = |gw: &Gateway| {
        let metrics = gw.client().get("/metrics").text();
        metrics.lines().find_map(|l| l.strip_prefix("switchyard_inflight_requests ")?.parse::<i64>().ok()).unwrap()
    };
    // (The /metrics request counts itself.)
    while inflight(&gw) > 1 {
        assert!(t.elapsed() < Duration::from_secs(5), "the stream is still in flight after {:?}", t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(t.elapsed() >= Duration::from_millis(500), "dropped before the deadline: {:?}", t.elapsed());
    let metrics = gw.client().get("/metrics").text();
    let upstream = metrics.lines().find(|l| l.starts_with("switchyard_upstream_inflight{")).unwrap();
    assert!(upstream.ends_with(" 0"), "{upstream}");
    drop(s);
}

#[test]
fn pipelined_garbage_is_rejected_without_affecting_other_connections() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut good = gw.client();
    let mut bad = gw.client();
    let mut req = post_bytes("/v1/chat/completions", &chat_body("m", false));
    req.extend_from_slice(b"\x16\x03\x01garbage \x00\xff not http\r\n\r\n");
    req.extend_from_slice(&post_bytes("/v1/chat/completions", &chat_body("m", false)));
    bad.send_raw(&req);
    let first = bad.read_response().expect("the valid request is answered");
    assert_eq!(first.status, 200);
    let second = bad.read_response().expect("the garbage gets an answer");
    assert_openai_error(&second, 400);
    assert!(bad.is_closed(), "closed after garbage; the request behind it is not read");
    assert_eq!(good.post("/v1/chat/completions", &chat_body("m", false)).status, 200);
    assert_eq!(good.post("/v1/chat/completions", &chat_body("m", true)).status, 200);
}

#[test]
fn a_slow_stream_reader_gets_backpressure_not_buffering() {
    // ~40 MB of events, sent by the mock as fast as it can write.
    let m = mock(MockConfig { tokens: 250_000, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let pid = gw.child.id();
    let before = rss_kib(pid);
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&post_bytes("/v1/chat/completions", &chat_body("m", true))).unwrap();
    let mut first = [0u8; 256];
    let n = s.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    // Stop reading: the gateway must stall its upstream read instead of buffering.
    std::thread::sleep(Duration::from_millis(1_500));
    let paused = rss_kib(pid);
    assert!(paused < before + 8 * 1024, "gateway RSS grew from {before} KiB to {paused} KiB while the client paused");
    // Then the whole stream still arrives, in order, to the end.
    let mut total = first[..n].to_vec();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total.extend_from_slice(&buf[..n]);
        if total.ends_with(b"0\r\n\r\n") {
            break;
        }
    }
    // Every token, once, in order: partial sends (the socket buffer was full) resume where
    // they stopped.
    let head_end = total.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let body = dechunk(&total[head_end..]);
    let text = String::from_utf8_lossy(&body);
    let mut next = 0u32;
    // (The first event's content is empty: it carries the role.)
    for part in text.split("\"content\":\"").skip(1).filter(|p| !p.starts_with('"')) {
        let digits: String = part.trim_start_matches([' ', 't']).chars().take_while(char::is_ascii_digit).collect();
        assert_eq!(
            digits.parse::<u32>().ok(),
            Some(next),
            "token {next} out of place: {}",
            &part[..part.len().min(40)]
        );
        next += 1;
    }
    assert_eq!(next, 250_000, "every token arrived");
    assert!(text.contains("[DONE]"));
}

/// The payload of a chunked body.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        b = &b[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[test]
fn duplicate_top_level_keys_are_refused() {
    // Found by fuzzing: the body view (first duplicate) and an upstream parser (last duplicate)
    // could disagree on the model, letting a client run an unrouted or forbidden model.
    let m = mock(MockConfig::default());
    let cfg = basic_config(&m.base_url(), "") + "[models.other]\nprovider = \"mock\"\nmodel = \"gpt-4o\"\n";
    let gw = Gateway::start(&cfg);
    for body in [
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"model":"other"}"#,
        r#"{"model":"other","messages":[{"role":"user","content":"hi"}],"mod\u0065l":"m"}"#,
        r#"{"model":"m","stream":false,"messages":[],"stream":true}"#,
    ] {
        let r = gw.client().post("/v1/chat/completions", body);
        let v = assert_openai_error(&r, 400);
        assert!(v["error"]["message"].as_str().unwrap().contains("duplicate key"), "{v}");
    }
    let r = gw.client().post_with(
        "/v1/messages",
        r#"{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"model":"other"}"#,
        &[("anthropic-version", "2023-06-01")],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("duplicate key"));
    assert_eq!(m.request_count(), 0);
}

#[test]
fn a_large_answer_to_a_paused_reader_arrives_whole() {
    // ~7.9 MB answer: more than the socket takes at once while the client is not reading, so
    // the gateway's first send is partial and the rest goes through the runtime.
    let m = mock(MockConfig { tokens: 1_000_000, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&post_bytes("/v1/chat/completions", &chat_body("m", false))).unwrap();
    std::thread::sleep(Duration::from_millis(1_000));
    let mut total = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let (head_end, len) = loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        total.extend_from_slice(&buf[..n]);
        if let Some(i) = total.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&total[..i]).to_ascii_lowercase();
            let len: usize =
                head.split("content-length:").nth(1).unwrap().split("\r\n").next().unwrap().trim().parse().unwrap();
            break (i + 4, len);
        }
    };
    while total.len() < head_end + len {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        total.extend_from_slice(&buf[..n]);
    }
    assert_eq!(total.len(), head_end + len, "nothing after the body");
    let v: serde_json::Value = serde_json::from_slice(&total[head_end..]).expect("the answer is whole JSON");
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    let want: Vec<String> = (0..1_000_000).map(|i| format!("t{i}")).collect();
    assert!(content == want.join(" "), "content differs from t0 … t999999 ({} bytes)", content.len());
}

/// Sends `chunk` repeatedly on `s` until `total` bytes went out or the gateway stops reading;
/// returns the gateway's answer, if it sent one.
fn pour(mut s: TcpStream, head: &[u8], chunk: &[u8], total: usize) -> Option<String> {
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head).ok()?;
    let mut sent = 0;
    while sent < total {
        if s.write_all(chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    (!answer.is_empty()).then(|| String::from_utf8_lossy(&answer).into_owned())
}

/// Peak resident memory of the gateway while `attack` runs on 8 connections at once.
fn peak_rss_during(gw: &Gateway, attack: impl Fn(TcpStream) + Send + Sync + Copy + 'static) -> (u64, u64) {
    let pid = gw.child.id();
    let before = rss_kib(pid);
    let attackers: Vec<_> = (0..8)
        .map(|_| {
            let s = TcpStream::connect(gw.addr).unwrap();
            std::thread::spawn(move || attack(s))
        })
        .collect();
    let mut peak = before;
    while attackers.iter().any(|a| !a.is_finished()) {
        peak = peak.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(5));
    }
    for a in attackers {
        a.join().unwrap();
    }
    (before, peak.max(rss_kib(pid)))
}

const CHUNKED_HEALTHZ: &[u8] = b"POST /healthz HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n";

#[test]
fn an_endless_chunk_extension_is_refused_without_holding_its_bytes() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "max_body_bytes = 1048576\nbody_timeout_ms = 20000"));
    let (before, peak) = peak_rss_during(&gw, |s| {
        let mut head = CHUNKED_HEALTHZ.to_vec();
        head.extend_from_slice(b"1;");
        // 32 MiB of extension per connection, never a CR or LF: 256 MiB held on the old code.
        let answer = pour(s, &head, &[b'x'; 64 * 1024], 32 << 20);
        if let Some(a) = answer {
            assert!(a.starts_with("HTTP/1.1 400"), "{a}");
            assert!(a.contains("chunk extension too long"), "{a}");
        }
    });
    assert!(peak - before < 8 * 1024 + 16 * 1024, "RSS grew from {before} KiB to {peak} KiB under 8 attackers");
    assert_eq!(gw.client().get("/healthz").status, 200, "still serving");
}

#[test]
fn one_byte_chunks_hold_no_more_than_the_decoded_body() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "max_body_bytes = 4194304\nbody_timeout_ms = 20000"));
    let (before, peak) = peak_rss_during(&gw, |s| {
        // 4 MiB decoded (the limit) as 1-byte chunks is 24 MiB of framing, then the body stalls
        // and the limit is passed: 413.
        let chunk = b"1\r\na\r\n".repeat(4096);
        let answer = pour(s, CHUNKED_HEALTHZ, &chunk, (4 << 20) * 6 + chunk.len());
        // The memory held is what this test is about; the reply's arrival is
        // `a_client_still_uploading_an_oversized_body_reads_its_413`'s.
        if let Some(a) = answer {
            assert!(a.starts_with("HTTP/1.1 413"), "{a}");
        }
    });
    // 8 x max_body_bytes of decoded payload, plus the growth steps the allocator has freed but
    // not yet returned (a body buffer doubles on its way to 4 MiB: measured 38-47 MiB in all),
    // plus a few MB. Raw framing alone was 192 MiB, and the old code peaked at 265 MiB.
    let limit = 8 * 4096 * 3 / 2 + 8 * 1024;
    assert!(peak - before < limit, "RSS grew from {before} KiB to {peak} KiB under 8 attackers (limit {limit} KiB)");
    assert_eq!(gw.client().get("/healthz").status, 200, "still serving");
}

#[test]
fn an_http_1_0_client_gets_a_close_delimited_stream() {
    let m = mock(MockConfig { tokens: 5, ..Default::default() });
    let gw = Gateway::start(&basic_config(&m.base_url(), ""));
    let body = chat_body("m", true);
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("POST /v1/chat/completions HTTP/1.0\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("the gateway closes to end the body");
    let text = String::from_utf8_lossy(&reply);
    let (head, events) = text.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("transfer-encoding"), "HTTP/1.0 has no chunked coding: {head}");
    assert!(head.contains("connection: close"), "{head}");
    // The events themselves, unframed, to the end.
    assert!(events.starts_with("data: {"), "{events}");
    assert!(events.ends_with("data: [DONE]\n\n"), "{events}");
}

#[test]
fn above_the_memory_ceiling_new_requests_get_503_with_retry_after() {
    let m = mock(MockConfig::default());
    // A ceiling below any process's resident memory: every new chat request is shed, from the
    // first (memory is sampled before the workers start).
    let gw = Gateway::start(&basic_config(&m.base_url(), "max_memory_bytes = 1048576"));
    let r = gw.client().post("/v1/chat/completions", &chat_body("m", false));
    assert_openai_error(&r, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.text().contains("memory ceiling"), "{}", r.text());
    let a = gw.client().post_with(
        "/v1/messages",
        r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
        &[("anthropic-version", "2023-06-01")],
    );
    assert_eq!((a.status, a.json()["type"].as_str()), (503, Some("error")));
    // Health and metrics still answer, and say why.
    assert_eq!(gw.client().get("/healthz").status, 200);
    let metrics = gw.client().get("/metrics").text();
    let resident: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_process_resident_bytes ")?.parse().ok())
        .expect("resident bytes");
    assert!(resident > 1_048_576, "{resident}");
    assert!(!metrics.contains("switchyard_requests_shed_total{reason=\"memory\"} 0\n"), "{metrics}");
    assert_eq!(m.request_count(), 0, "nothing shed reached the provider");
}

#[test]
fn a_client_still_uploading_an_oversized_body_reads_its_413() {
    let m = mock(MockConfig::default());
    let gw = Gateway::start(&basic_config(&m.base_url(), "max_body_bytes = 1048576"));
    // 9 MB announced and sent without waiting for an answer (no `expect: 100-continue`), as the
    // Python SDKs do; the reply is read only once the upload is done.
    let total = 9 << 20;
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {total}\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) => panic!("the upload was cut after {sent} bytes: {e}"),
        }
    }
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 413"), "no 413 read: {:?}", &text[..text.len().min(200)]);
}
