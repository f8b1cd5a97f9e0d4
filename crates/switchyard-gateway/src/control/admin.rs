//! The admin listener: control endpoints on their own (loopback by default) address, served
//! by a plain blocking thread because nothing here is on the request path.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use switchyard_http::head::{Limits, Method};
use switchyard_http::{parse_request, write};
use switchyard_wire::ApiError;
use switchyard_wire::json::quote;

use crate::control::reload::Control;

/// Binds `addr` and serves admin requests on a background thread.
pub fn spawn(addr: &str, control: Arc<Control>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new().name("switchyard-admin".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = serve(stream, &control);
        }
    })?;
    Ok(bound)
}

fn serve(mut s: TcpStream, control: &Control) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut headers = Vec::new();
    let head = loop {
        let mut chunk = [0u8; 1024];
        let n = s.read(&mut chunk)?;
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
    let presented = switchyard_http::header_value(&buf, &headers, "authorization")
        .map(|v| v.trim_ascii())
        .map(|v| if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") { v[7..].trim_ascii() } else { v });
    let authorized = match (control.shared.live.load().admin_key, presented) {
        (Some(expected), Some(p)) => switchyard_guard::keys::key_matches(p, &expected),
        _ => false,
    };
    if !authorized {
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
        (Method::Get, "/admin/health") => {
            let live = control.shared.live.load();
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
    let mut out = Vec::with_capacity(body.len() + 128);
    write::simple_response(&mut out, status, "application/json", &[], body, true);
    s.write_all(&out)
}
