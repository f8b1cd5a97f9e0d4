//! The admin listener: control endpoints on their own (loopback by default) address, served
//! by plain blocking threads because nothing here is on the request path: one thread per
//! connection (at most `MAX_CONNECTIONS` at once), each request under a whole-request deadline,
//! so a client trickling bytes cannot hold the others up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchyard_http::head::{Limits, Method};
use switchyard_http::{parse_request, write};
use switchyard_wire::ApiError;
use switchyard_wire::json::quote;

use crate::control::reload::Control;

/// Admin connections served at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 64;
/// Time for a whole admin request to arrive.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Binds `addr` and serves admin requests on background threads.
pub fn spawn(addr: &str, control: Arc<Control>) -> std::io::Result<SocketAddr> {
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
                let _ = serve(stream, &control);
                open.fetch_sub(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                crate::warn!("admin: cannot start a connection thread");
            }
        }
    })?;
    Ok(bound)
}

fn serve(mut s: TcpStream, control: &Control) -> std::io::Result<()> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let mut buf = Vec::with_capacity(1024);
    let mut headers = Vec::new();
    let head = loop {
        let mut chunk = [0u8; 1024];
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let e = ApiError::status(408, "timed out reading the admin request");
            return respond(&mut s, 408, &e.to_openai_json());
        }
        s.set_read_timeout(Some(left))?;
        let n = match s.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_request(&buf, Limits::default(), &mut headers) {
            Ok(Some(h)) => break h,
            Ok(None) => {}
            Err(e) => return respond(&mut s, 400, &ApiError::status(e.status(), e.to_string()).to_openai_json()),
        }
    };
    let path = String::from_utf8_lossy(&buf[head.path.clone()]).into_owned();
    let live = control.shared.live.load();
    if !live.is_admin(switchyard_http::header_value(&buf, &headers, "authorization")) {
        let e = ApiError::status(401, "admin endpoints need `Authorization: Bearer <admin key>`");
        return respond(&mut s, 401, &e.to_openai_json());
    }
    match (head.method, path.as_str()) {
        (Method::Post, "/admin/reload") => match control.reload() {
            Ok(models) => respond(&mut s, 200, format!(r#"{{"status":"ok","models":{models}}}"#).as_bytes()),
            Err(e) => {
                respond(&mut s, 400, &ApiError::bad_request(format!("reload failed: {e}"), None).to_openai_json())
            }
        },
        (Method::Get, "/metrics") => {
            let text = crate::endpoints::metrics::render(&control.shared, &live);
            respond_as(&mut s, 200, "text/plain; version=0.0.4", &text)
        }
        (Method::Get, "/admin/health") => {
            let now = control.shared.now_ms();
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
            respond(&mut s, 200, format!("[{}]", items.join(",")).as_bytes())
        }
        _ => respond(&mut s, 404, &ApiError::status(404, format!("no admin endpoint {path}")).to_openai_json()),
    }
}

fn respond(s: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    respond_as(s, status, "application/json", body)
}

fn respond_as(s: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(body.len() + 128);
    write::simple_response(&mut out, status, content_type, &[], body, true);
    s.write_all(&out)
}
