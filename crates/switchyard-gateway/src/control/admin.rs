//! The admin listener: control endpoints on their own (loopback by default) address, served
//! by plain blocking threads because nothing here is on the request path: one thread per
//! connection (at most `MAX_CONNECTIONS` at once), each request under a whole-request deadline,
//! so a client trickling bytes cannot hold the others up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchyard_http::head::{BodyFraming, Limits, Method};
use switchyard_http::{parse_request, write};
use switchyard_wire::ApiError;
use switchyard_wire::json::quote;

use crate::control::console;
use crate::control::fleet::keys as fleet_keys;
use crate::control::reload::Control;

/// Admin connections served at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 64;
/// Time for a whole admin request to arrive.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Binds `addr` and serves admin requests on background threads.
/// With `console`, `/ui` serves the web console too.
pub fn spawn(addr: &str, control: Arc<Control>, console: bool) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let open = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new().name("switchyard-admin".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                open.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let (control, open) = (control.clone(), open.clone());
            let spawned = std::thread::Builder::new().name("switchyard-admin-conn".into()).spawn(move || {
                let _ = serve(stream, &control, console);
                open.fetch_sub(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                crate::warn!("admin: cannot start a connection thread");
            }
        }
    })?;
    Ok(bound)
}

/// Largest admin request body (a key's settings), bytes.
const MAX_BODY: usize = 64 * 1024;

fn serve(mut s: TcpStream, control: &Control, console: bool) -> std::io::Result<()> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let mut buf = Vec::with_capacity(1024);
    let mut headers = Vec::new();
    let head = loop {
        if !read_more(&mut s, &mut buf, deadline)? {
            return Ok(());
        }
        match parse_request(&buf, Limits::default(), &mut headers) {
            Ok(Some(h)) => break h,
            Ok(None) => {}
            Err(e) => return respond(&mut s, 400, &ApiError::status(e.status(), e.to_string()).to_openai_json()),
        }
    };
    let body_len = match head.framing {
        BodyFraming::None => 0,
        BodyFraming::Length(n) if n as usize <= MAX_BODY => n as usize,
        _ => {
            return error(
                &mut s,
                413,
                format!("admin request bodies are at most {MAX_BODY} bytes, with content-length"),
            );
        }
    };
    while buf.len() < head.head_len + body_len {
        if !read_more(&mut s, &mut buf, deadline)? {
            return Ok(());
        }
    }
    let target = String::from_utf8_lossy(&buf[head.path.clone()]).into_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let authorization = switchyard_http::header_value(&buf, &headers, "authorization");
    let body = &buf[head.head_len..head.head_len + body_len];
    if console && console::is_console_path(path) {
        let r = console::ConsoleRequest {
            method: head.method,
            path,
            query,
            body,
            peer: s.peer_addr()?.ip(),
            authorization,
            cookie: switchyard_http::header_value(&buf, &headers, "cookie"),
            console_header: switchyard_http::header_value(&buf, &headers, "x-switchyard-console") == Some(b"1"),
            host: switchyard_http::header_value(&buf, &headers, "host"),
        };
        return console::serve(&mut s, control, &r);
    }
    if !control.shared.live.load().is_admin(authorization) {
        return error(&mut s, 401, "admin endpoints need `Authorization: Bearer <admin key>`".into());
    }
    route(&mut s, control, head.method, path, body)
}

/// Reads more of the request into `buf`; false when the client closed. A timeout answers 408.
fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant) -> std::io::Result<bool> {
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            error(s, 408, "timed out reading the admin request".into())?;
            return Ok(false);
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
}

fn route(s: &mut TcpStream, control: &Control, method: Method, path: &str, body: &[u8]) -> std::io::Result<()> {
    let key_name = path.strip_prefix("/admin/keys/");
    match (method, path) {
        (Method::Post, "/admin/reload") => match control.reload() {
            Ok(models) => respond(s, 200, format!(r#"{{"status":"ok","models":{models}}}"#).as_bytes()),
            Err(e) => respond(s, 400, &ApiError::bad_request(format!("reload failed: {e}"), None).to_openai_json()),
        },
        (Method::Get, "/metrics") => {
            let text = crate::endpoints::metrics::render(&control.shared, &control.shared.live.load());
            respond_as(s, 200, "text/plain; version=0.0.4", &text)
        }
        (Method::Get, "/admin/health") => respond(s, 200, health(control).as_bytes()),
        (Method::Get, "/admin/keys") => keys_reply(s, fleet_keys::list(control), 200),
        (Method::Post, "/admin/keys") => keys_reply(s, fleet_keys::create(control, body), 201),
        (Method::Post, _) if key_name.is_some_and(|n| n.ends_with("/rotate")) => {
            let name = key_name.unwrap_or("").trim_end_matches("/rotate");
            keys_reply(s, fleet_keys::rotate(control, name), 200)
        }
        (Method::Delete, _) if key_name.is_some() => {
            keys_reply(s, fleet_keys::revoke(control, key_name.unwrap_or("")), 200)
        }
        _ => error(s, 404, format!("no admin endpoint {path}")),
    }
}

fn keys_reply(s: &mut TcpStream, r: Result<serde_json::Value, fleet_keys::KeyError>, ok: u16) -> std::io::Result<()> {
    match r {
        Ok(v) => respond(s, ok, v.to_string().as_bytes()),
        Err(e) => error(s, e.status, e.message),
    }
}

fn health(control: &Control) -> String {
    let now = control.shared.now_ms();
    let live = control.shared.live.load();
    let items: Vec<String> = live
        .table
        .targets
        .iter()
        .map(|t| {
            let (attempts, failures, cooldowns) = t.health.counters();
            format!(
                r#"{{"model":{},"inflight":{},"latency_us":{:.0},"error_rate":{:.4},"cooling":{},"attempts":{attempts},"failures":{failures},"cooldowns":{cooldowns}}}"#,
                quote(&t.name),
                t.health.inflight(),
                t.health.latency_us(),
                t.health.error_rate(),
                t.health.cooling(now),
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn error(s: &mut TcpStream, status: u16, message: String) -> std::io::Result<()> {
    respond(s, status, &ApiError::status(status, message).to_openai_json())
}

fn respond(s: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    respond_as(s, status, "application/json", body)
}

fn respond_as(s: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(body.len() + 128);
    write::simple_response(&mut out, status, content_type, &[], body, true);
    s.write_all(&out)
}
