//! The mock's HTTP/1.1 server: one monoio runtime per thread on SO_REUSEPORT listeners.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use switchyard_http::head::{BodyFraming, Limits, Method};
use switchyard_http::{ChunkedDecoder, parse_request, write};

use crate::chat::{self, ChatRequest, Dialect};
use crate::{MockConfig, MockServer, SeenRequest};

struct Ctx {
    cfg: MockConfig,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    rng: Cell<u64>,
    next_id: Cell<u64>,
}

impl Ctx {
    /// xorshift64*: enough randomness for fault rates, no dependency.
    fn roll(&self) -> f64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(4096)?;
    Ok(s.into())
}

fn tls_config() -> io::Result<(Arc<rustls::ServerConfig>, String)> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(io::Error::other)?;
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .map_err(io::Error::other)?;
    Ok((Arc::new(cfg), ck.cert.pem()))
}

/// Starts the mock on its own threads and returns once it is listening.
pub fn start(cfg: MockConfig) -> io::Result<MockServer> {
    let first = bind(cfg.listen)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..cfg.threads.max(1) {
        listeners.push(bind(addr)?);
    }
    let (tls, cert_pem) = match cfg.tls {
        true => {
            let (c, pem) = tls_config()?;
            (Some(monoio_rustls::TlsAcceptor::from(c)), Some(pem))
        }
        false => (None, None),
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    for (i, l) in listeners.into_iter().enumerate() {
        let cfg = cfg.clone();
        let seen = seen.clone();
        let tls = tls.clone();
        std::thread::Builder::new().name(format!("mock-{i}")).spawn(move || {
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .enable_timer()
                .with_entries(1024)
                .build()
                .expect("mock runtime");
            rt.block_on(async move {
                let listener = monoio::net::TcpListener::from_std(l).expect("listener");
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1;
                let ctx =
                    Rc::new(Ctx { cfg, seen, rng: Cell::new(seed ^ ((i as u64 + 1) << 32)), next_id: Cell::new(0) });
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let ctx = ctx.clone();
                    let tls = tls.clone();
                    monoio::spawn(async move {
                        match tls {
                            Some(acceptor) => {
                                if let Ok(s) = acceptor.accept(stream).await {
                                    serve(s, ctx, None).await;
                                }
                            }
                            None => {
                                let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
                                serve(stream, ctx, Some(fd)).await
                            }
                        }
                    });
                }
            })
        })?;
    }
    Ok(MockServer { addr, cert_pem, seen })
}

async fn read_more<S: AsyncReadRent>(s: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8192);
    }
    let len = buf.len();
    let (r, b) = s.read(std::mem::take(buf).slice_mut(len..)).await;
    *buf = b.into_inner();
    r
}

async fn send<S: AsyncWriteRent>(s: &mut S, data: Vec<u8>) -> io::Result<()> {
    let (r, _) = s.write_all(data).await;
    r?;
    s.flush().await
}

/// `fd` is the plain TCP socket (None under TLS), for faults that need socket options.
async fn serve<S: AsyncReadRent + AsyncWriteRent>(mut s: S, ctx: Rc<Ctx>, fd: Option<i32>) {
    let mut buf = Vec::with_capacity(8192);
    let mut headers = Vec::new();
    loop {
        let head = loop {
            match parse_request(&buf, Limits { max_head_bytes: 64 * 1024 }, &mut headers) {
                Ok(Some(h)) => break h,
                Ok(None) => {}
                Err(e) => {
                    let mut out = Vec::new();
                    let body = chat::error_json(Dialect::OpenAi, e.status(), &e.to_string());
                    write::simple_response(&mut out, e.status(), "application/json", &[], body.as_bytes(), true);
                    let _ = send(&mut s, out).await;
                    return;
                }
            }
            if !matches!(read_more(&mut s, &mut buf).await, Ok(n) if n > 0) {
                return;
            }
        };
        let (body, consumed) = match head.framing {
            BodyFraming::None => (Vec::new(), head.head_len),
            BodyFraming::Length(n) => {
                let end = head.head_len + n as usize;
                while buf.len() < end {
                    if !matches!(read_more(&mut s, &mut buf).await, Ok(n) if n > 0) {
                        return;
                    }
                }
                (buf[head.head_len..end].to_vec(), end)
            }
            BodyFraming::Chunked => {
                let mut d = ChunkedDecoder::new();
                let mut body = Vec::new();
                let mut pos = head.head_len;
                loop {
                    match d.feed(&buf[pos..], |c| body.extend_from_slice(c)) {
                        Ok(n) => pos += n,
                        Err(_) => return,
                    }
                    if d.is_done() {
                        break;
                    }
                    if !matches!(read_more(&mut s, &mut buf).await, Ok(n) if n > 0) {
                        return;
                    }
                }
                (body, pos)
            }
        };
        let path = String::from_utf8_lossy(&buf[head.path.clone()]).into_owned();
        let hdrs: Vec<(String, String)> = headers
            .iter()
            .map(|h| {
                (
                    String::from_utf8_lossy(&buf[h.name.clone()]).to_ascii_lowercase(),
                    String::from_utf8_lossy(&buf[h.value.clone()]).into_owned(),
                )
            })
            .collect();
        buf.drain(..consumed);
        let keep = respond(&mut s, &ctx, head.method, &path, hdrs, body, fd).await;
        if !keep || !head.keep_alive {
            return;
        }
    }
}

/// Which dialect a path speaks, with Gemini's model and streaming flag from the URL.
fn route(method: Method, path: &str) -> Option<(Dialect, Option<(String, bool)>)> {
    if method != Method::Post {
        return None;
    }
    match path {
        // Gemini's OpenAI-compatible endpoint is the OpenAI dialect under another prefix.
        "/v1/chat/completions" | "/v1beta/openai/chat/completions" => Some((Dialect::OpenAi, None)),
        "/v1/messages" => Some((Dialect::Anthropic, None)),
        "/v1/responses" => Some((Dialect::Responses, None)),
        _ => {
            let rest = path.strip_prefix("/v1beta/models/")?;
            let (model, action) = rest.rsplit_once(':')?;
            let stream = match action {
                "generateContent" => false,
                "streamGenerateContent" => true,
                _ => return None,
            };
            Some((Dialect::Gemini, Some((model.to_string(), stream))))
        }
    }
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Whether the request carries the key the mock requires, the way its dialect sends keys.
fn authorised(cfg: &MockConfig, d: Dialect, seen: &SeenRequest, query: &str) -> bool {
    let Some(key) = &cfg.require_key else { return true };
    let bearer = seen.header("authorization") == Some(format!("Bearer {key}").as_str());
    match d {
        Dialect::OpenAi | Dialect::Responses => bearer,
        Dialect::Anthropic => bearer || seen.header("x-api-key") == Some(key.as_str()),
        Dialect::Gemini => {
            seen.header("x-goog-api-key") == Some(key.as_str()) || query_param(query, "key") == Some(key.as_str())
        }
    }
}

async fn send_error<S: AsyncWriteRent>(s: &mut S, d: Dialect, status: u16, msg: &str, extra: &[(&str, &str)]) -> bool {
    let mut out = Vec::new();
    let b = chat::error_json(d, status, msg);
    write::simple_response(&mut out, status, "application/json", extra, b.as_bytes(), false);
    send(s, out).await.is_ok()
}

/// Answers one request; false when the connection must close afterwards.
async fn respond<S: AsyncWriteRent>(
    s: &mut S,
    ctx: &Ctx,
    method: Method,
    target: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    fd: Option<i32>,
) -> bool {
    let cfg = &ctx.cfg;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut out = Vec::with_capacity(1024);
    match (method, path) {
        (Method::Get, "/healthz") => {
            write::simple_response(&mut out, 200, "application/json", &[], br#"{"status":"ok"}"#, false);
            return send(s, out).await.is_ok();
        }
        (Method::Get, "/v1/models") => {
            let b = br#"{"object":"list","data":[{"id":"mock","object":"model","created":0,"owned_by":"mock"}]}"#;
            write::simple_response(&mut out, 200, "application/json", &[], b, false);
            return send(s, out).await.is_ok();
        }
        _ => {}
    }
    if let Some((dialect, answer)) = crate::extra::answer(method, path, &body) {
        let seen = SeenRequest { path: target.to_string(), headers, body };
        if !authorised(cfg, dialect, &seen, query) {
            return send_error(s, dialect, 401, "Incorrect API key provided.", &[]).await;
        }
        if let Ok(mut v) = ctx.seen.lock() {
            v.push(seen);
        }
        return match answer {
            Ok(b) => {
                write::simple_response(&mut out, 200, "application/json", &[], b.as_bytes(), false);
                send(s, out).await.is_ok()
            }
            Err(m) => send_error(s, dialect, 400, &m, &[]).await,
        };
    }
    let Some((dialect, url_model)) = route(method, path) else {
        return send_error(s, Dialect::OpenAi, 404, &format!("no route for {path}"), &[]).await;
    };
    let seen = SeenRequest { path: target.to_string(), headers, body };
    if !authorised(cfg, dialect, &seen, query) {
        return match dialect {
            // Gemini answers a bad key with 400 INVALID_ARGUMENT (API_KEY_INVALID).
            Dialect::Gemini => {
                send_error(s, dialect, 400, "API key not valid. Please pass a valid API key. (API_KEY_INVALID)", &[])
                    .await
            }
            // Like OpenAI's and Anthropic's, the 401 echoes the key it was sent and sets the
            // account's cookie and organisation: what a gateway must not hand its clients.
            _ => {
                let sent = seen.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
                let sent = sent.or(seen.header("x-api-key")).unwrap_or("none");
                let msg = format!("Incorrect API key provided: {sent}.");
                let extra = [("set-cookie", "__cf_bm=mock-session; path=/"), ("openai-organization", "org-mock")];
                send_error(s, dialect, 401, &msg, &extra).await
            }
        };
    }
    if dialect == Dialect::Anthropic && seen.header("anthropic-version").is_none() {
        return send_error(s, dialect, 400, "anthropic-version: header is required", &[]).await;
    }
    // Like Anthropic's API: a system turn inside `messages` needs an `anthropic-beta` opt-in.
    if dialect == Dialect::Anthropic
        && seen.header("anthropic-beta").is_none()
        && serde_json::from_slice::<serde_json::Value>(&seen.body)
            .ok()
            .and_then(|v| v["messages"].as_array().map(|m| m.iter().any(|m| m["role"] == "system")))
            .unwrap_or(false)
    {
        return send_error(s, dialect, 400, "messages: roles must be user or assistant", &[]).await;
    }
    if url_model.as_ref().is_some_and(|(_, stream)| *stream) && query_param(query, "alt") != Some("sse") {
        return send_error(s, dialect, 400, "mock-llm streams Gemini only with alt=sse", &[]).await;
    }
    let req = ChatRequest::parse(dialect, &seen.body, url_model.as_ref().map(|(m, st)| (m.as_str(), *st)));
    if let Ok(mut v) = ctx.seen.lock() {
        v.push(seen);
    }
    let mut req = match req {
        Ok(r) => r,
        Err(m) => return send_error(s, dialect, 400, &m, &[]).await,
    };
    req.logprob = cfg.logprob;
    if let Some(a) = cfg.answer.as_ref().filter(|_| req.answer.is_none()) {
        // Words keep their leading space after the first, like real token streams.
        req.answer =
            Some(a.split(' ').enumerate().map(|(i, w)| if i == 0 { w.to_string() } else { format!(" {w}") }).collect());
    }
    if cfg.hang_rate > 0.0 && ctx.roll() < cfg.hang_rate {
        monoio::time::sleep(Duration::from_secs(3600)).await;
        return false;
    }
    if cfg.latency_ms > 0 {
        monoio::time::sleep(Duration::from_millis(cfg.latency_ms)).await;
    }
    if cfg.fail_rate > 0.0 && ctx.roll() < cfg.fail_rate {
        let status = cfg.fail_status;
        let extra: &[(&str, &str)] = if status == 429 { &[("retry-after", "1")] } else { &[] };
        return send_error(s, dialect, status, &format!("mock failure {status}"), extra).await;
    }
    let id = ctx.next_id.get();
    ctx.next_id.set(id + 1);
    let id = format!("mock{id}");
    if !req.stream {
        let mut b = chat::completion(&req, &id, req.tokens.unwrap_or(cfg.tokens));
        if cfg.malformed_json {
            b.truncate(b.len() / 2);
        }
        if cfg.close_delimited {
            write::status_line(&mut out, 200);
            write::header(&mut out, b"content-type", b"application/json");
            write::header(&mut out, b"connection", b"close");
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(b.as_bytes());
            let _ = send(s, out).await;
            return false;
        }
        write::simple_response(&mut out, 200, "application/json", &[("x-request-id", &id)], b.as_bytes(), false);
        return send(s, out).await.is_ok();
    }
    write::status_line(&mut out, 200);
    write::header(&mut out, b"content-type", b"text/event-stream; charset=utf-8");
    write::header(&mut out, b"cache-control", b"no-cache");
    write::header(&mut out, b"x-request-id", id.as_bytes());
    if cfg.close_delimited {
        write::header(&mut out, b"connection", b"close");
    } else {
        write::header(&mut out, b"transfer-encoding", b"chunked");
    }
    out.extend_from_slice(b"\r\n");
    // Events are due at fixed times from the first one, so send time and timer lateness do not
    // add up along the stream (sleeping a full interval after each send drifted by ms).
    let first_event = std::time::Instant::now();
    let pace_ms = req.token_interval_ms.unwrap_or(cfg.token_interval_ms);
    let interval = Duration::from_millis(pace_ms);
    for (i, ev) in chat::stream_events(&req, &id, req.tokens.unwrap_or(cfg.tokens)).iter().enumerate() {
        if cfg.drop_after == Some(i) {
            if !out.is_empty() {
                let _ = send(s, out).await;
            }
            return false;
        }
        if cfg.reset_after == Some(i) {
            if let Some(fd) = fd {
                // Linger 0: closing sends RST instead of FIN.
                let l = libc::linger { l_onoff: 1, l_linger: 0 };
                // SAFETY: fd is this connection's open socket; the struct outlives the call.
                unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&l as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as u32,
                    )
                };
            }
            return false;
        }
        if cfg.stall_after == Some(i) {
            // The head (and anything before) goes out first: the stall is inside the body.
            if !out.is_empty() && send(s, std::mem::take(&mut out)).await.is_err() {
                return false;
            }
            monoio::time::sleep(Duration::from_secs(3600)).await;
            return false;
        }
        if cfg.malformed_after == Some(i) {
            let bad = "data: {\"id\":\"broken\",\"choices\":[{\"delta\":{\"content\":\"x\n\n";
            if cfg.close_delimited {
                out.extend_from_slice(bad.as_bytes());
            } else {
                write::chunk(&mut out, bad.as_bytes());
            }
            let _ = send(s, std::mem::take(&mut out)).await;
        }
        if i > 0 && pace_ms > 0 {
            let due = first_event + interval * i as u32;
            monoio::time::sleep(due.saturating_duration_since(std::time::Instant::now())).await;
        }
        let stamped;
        let ev = if cfg.stamp {
            stamped = format!(": t={}\n{ev}", unix_nanos());
            &stamped
        } else {
            ev
        };
        if cfg.close_delimited {
            out.extend_from_slice(ev.as_bytes());
        } else {
            write::chunk(&mut out, ev.as_bytes());
        }
        if send(s, std::mem::take(&mut out)).await.is_err() {
            return false;
        }
    }
    if cfg.close_delimited {
        return false;
    }
    send(s, write::LAST_CHUNK.to_vec()).await.is_ok()
}

/// Wall-clock nanoseconds: the one clock the mock and a load generator both read.
fn unix_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}
