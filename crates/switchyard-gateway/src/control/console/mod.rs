//! The web console (`GET /ui` on the admin listener): static pages compiled into the binary
//! and the JSON API they poll (docs/console.md). It reads state the gateway keeps anyway; the
//! only thing it adds while open is the decision records and one snapshot a second, both off
//! the workers.
//!
//! Access: a loopback client needs no token (the listener is loopback unless
//! `allow_remote`); any other needs the admin key, as a bearer header or the cookie that
//! `POST /ui/login` sets. Every POST must carry `x-switchyard-console: 1`, which a cross-site
//! form cannot send, so a page elsewhere in the browser cannot reload the gateway.

mod api;
mod assets;
pub mod sampler;
mod try_it;

use std::io::Write;
use std::net::{IpAddr, TcpStream};

use switchyard_http::head::Method;
use switchyard_http::write;
use switchyard_wire::ApiError;

use crate::control::reload::Control;
use crate::observe::console::unix_ms;

/// The cookie `POST /ui/login` sets to the admin key.
const COOKIE: &str = "switchyard_admin";

/// One console request, as the admin listener read it.
pub struct ConsoleRequest<'a> {
    /// Method.
    pub method: Method,
    /// Path without the query.
    pub path: &'a str,
    /// The query string (after `?`), or empty.
    pub query: &'a str,
    /// Body bytes.
    pub body: &'a [u8],
    /// The client's address.
    pub peer: IpAddr,
    /// `Authorization` header.
    pub authorization: Option<&'a [u8]>,
    /// `Cookie` header.
    pub cookie: Option<&'a [u8]>,
    /// `x-switchyard-console: 1` was sent.
    pub console_header: bool,
    /// `Host` header.
    pub host: Option<&'a [u8]>,
}

/// Whether `path` belongs to the console.
pub fn is_console_path(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// Whether a console request may be served: with the admin key (`token_ok`), or from a
/// loopback client that named a loopback host (a page on another site whose name was rebound
/// to 127.0.0.1 still sends its own name as `Host`, and is refused).
pub fn allowed(peer: IpAddr, host: Option<&[u8]>, token_ok: bool) -> bool {
    let loopback_peer =
        peer.is_loopback() || matches!(peer, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
    token_ok || (loopback_peer && host.is_none_or(loopback_host))
}

/// Whether a `Host` header names this machine's loopback (`localhost`, `127.x.y.z`, `[::1]`,
/// with or without a port).
fn loopback_host(host: &[u8]) -> bool {
    let h = String::from_utf8_lossy(host).to_ascii_lowercase();
    let name = match h.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => h.rsplit_once(':').map_or(h.as_str(), |(n, _)| n),
    };
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The admin key from the `Cookie` header, if it carries ours.
fn cookie_token(cookie: Option<&[u8]>) -> Option<&[u8]> {
    cookie?
        .split(|&b| b == b';')
        .map(|c| c.trim_ascii())
        .find_map(|c| c.strip_prefix(COOKIE.as_bytes()).and_then(|r| r.strip_prefix(b"=")))
}

/// Serves one console request.
pub fn serve(s: &mut TcpStream, control: &Control, r: &ConsoleRequest<'_>) -> std::io::Result<()> {
    let live = control.shared.live.load();
    if r.method == Method::Post && r.path == "/ui/login" {
        return login(s, &live, r.body);
    }
    let token_ok = live.is_admin(r.authorization) || cookie_token(r.cookie).is_some_and(|t| live.is_admin(Some(t)));
    if !allowed(r.peer, r.host, token_ok) {
        return match r.path.starts_with("/ui/api/") {
            true => json_error(s, 401, "authentication_error", "the console needs the admin key from this address"),
            false => reply(s, 401, "text/html; charset=utf-8", &[], assets::LOGIN_PAGE),
        };
    }
    if r.method == Method::Post && !r.console_header {
        return json_error(s, 403, "permission_error", "console requests need the header `x-switchyard-console: 1`");
    }
    match r.path.strip_prefix("/ui/api/") {
        Some(endpoint) => {
            if !control.shared.console.polled(unix_ms()) {
                // The baseline of the first one-second sample: what happens from now on counts.
                control.shared.console.push_snapshot(sampler::snapshot(&control.shared));
            }
            api_call(s, control, r, endpoint)
        }
        None => match assets::find(r.path) {
            Some((content_type, body)) if r.method == Method::Get => reply(s, 200, content_type, &[], body),
            Some(_) => json_error(s, 405, "invalid_request_error", "console pages answer GET only"),
            None => json_error(s, 404, "not_found_error", &format!("no console page {}", r.path)),
        },
    }
}

fn api_call(s: &mut TcpStream, control: &Control, r: &ConsoleRequest<'_>, endpoint: &str) -> std::io::Result<()> {
    let shared = &control.shared;
    let result = match (r.method, endpoint) {
        (Method::Get, "overview") => Ok(api::overview(shared)),
        (Method::Get, "decisions") => Ok(api::decisions(shared, r.query)),
        (Method::Get, "providers") => Ok(api::providers(shared)),
        (Method::Get, "keys") => Ok(api::keys(shared)),
        (Method::Get, "config") => Ok(api::config(shared)),
        (Method::Post, "reload") => api::reload(control),
        (Method::Post, "route") => try_it::route(shared, r.body),
        (Method::Post, "send") => try_it::send(shared, r.body),
        (_, "overview" | "decisions" | "providers" | "keys" | "config" | "reload" | "route" | "send") => {
            Err(ApiError::status(405, format!("wrong method for /ui/api/{endpoint}")))
        }
        _ => Err(ApiError::status(404, format!("no console endpoint /ui/api/{endpoint}"))),
    };
    match result {
        Ok(v) => reply(s, 200, "application/json", &[], v.to_string().as_bytes()),
        Err(e) => {
            let mut v: serde_json::Value =
                serde_json::from_slice(&e.to_openai_json()).unwrap_or_else(|_| serde_json::json!({"error": {}}));
            if let Some(field) = api::field_of(&e.message) {
                v["error"]["field"] = serde_json::Value::String(field);
            }
            reply(s, e.status, "application/json", &[], v.to_string().as_bytes())
        }
    }
}

/// `POST /ui/login` (form `token=KEY`): sets the cookie and goes to `/ui`, or shows the form again.
fn login(s: &mut TcpStream, live: &crate::runtime::live::Live, body: &[u8]) -> std::io::Result<()> {
    let token = form_urlencoded::parse(body).find_map(|(k, v)| (k == "token").then_some(v));
    match token {
        Some(t) if live.is_admin(Some(t.as_bytes())) => {
            // The cookie holds the admin key itself: HttpOnly so page scripts cannot read it,
            // SameSite=Strict so other sites' requests do not carry it.
            let cookie = format!("{COOKIE}={t}; Path=/ui; HttpOnly; SameSite=Strict");
            reply(s, 303, "text/plain", &[("location", "/ui"), ("set-cookie", &cookie)], b"")
        }
        _ => reply(s, 401, "text/html; charset=utf-8", &[], assets::LOGIN_PAGE),
    }
}

fn json_error(s: &mut TcpStream, status: u16, kind: &str, message: &str) -> std::io::Result<()> {
    let v = serde_json::json!({"error": {"message": message, "type": kind}});
    reply(s, status, "application/json", &[], v.to_string().as_bytes())
}

fn reply(
    s: &mut TcpStream,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut headers: Vec<(&str, &str)> = vec![
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        // Scripts and styles from this origin only: no inline script, no third party.
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        ),
    ];
    headers.extend_from_slice(extra);
    let mut out = Vec::with_capacity(body.len() + 256);
    write::simple_response(&mut out, status, content_type, &headers, body, true);
    s.write_all(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_clients_need_no_token_and_others_do() {
        for ip in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
            assert!(allowed(ip.parse().unwrap(), Some(b"127.0.0.1:9901"), false), "{ip}");
            assert!(allowed(ip.parse().unwrap(), None, false), "{ip} without Host");
        }
        for ip in ["192.0.2.2", "10.0.0.1", "fd00::2", "::ffff:192.0.2.2", "0.0.0.0"] {
            assert!(!allowed(ip.parse().unwrap(), Some(b"127.0.0.1:9901"), false), "{ip} without the token");
            assert!(allowed(ip.parse().unwrap(), Some(b"gw.example:9901"), true), "{ip} with the token");
        }
    }

    #[test]
    fn a_loopback_client_naming_another_host_needs_the_token() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        for host in ["localhost", "localhost:9901", "127.0.0.1", "[::1]:9901", "LOCALHOST:1"] {
            assert!(allowed(lo, Some(host.as_bytes()), false), "{host}");
        }
        for host in ["evil.example", "evil.example:9901", "192.0.2.2:9901", "127.0.0.1.evil.example"] {
            assert!(!allowed(lo, Some(host.as_bytes()), false), "{host}");
            assert!(allowed(lo, Some(host.as_bytes()), true), "{host} with the token");
        }
    }

    #[test]
    fn the_cookie_token_is_found_among_others() {
        assert_eq!(cookie_token(Some(b"a=1; switchyard_admin=sk-x; b=2")), Some(&b"sk-x"[..]));
        assert_eq!(cookie_token(Some(b"switchyard_admin_other=1")), None);
        assert_eq!(cookie_token(None), None);
    }
}
