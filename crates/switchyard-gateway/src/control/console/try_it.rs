//! "Try it": the decision each route would make for a prompt (the code of `switchyard route`,
//! on the live table and its health), and the same prompt sent for real through the client
//! listener.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_routing::DecideScratch;
use switchyard_wire::ApiError;

use crate::runtime::live::Shared;

/// The prompt and route of a try-it request.
struct Ask {
    prompt: String,
    route: Option<String>,
    key: Option<String>,
}

fn ask(body: &[u8]) -> Result<Ask, ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}"), None))?;
    let prompt =
        v["prompt"].as_str().ok_or_else(|| ApiError::bad_request("`prompt` (a string) is required", Some("prompt")))?;
    let text = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    Ok(Ask { prompt: prompt.to_string(), route: text("route"), key: text("key") })
}

/// `POST /ui/api/route`: one decision per route (or for the one asked), as `switchyard route`
/// prints it for `{"prompt": ...}`.
pub fn route(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let a = ask(body)?;
    let live = shared.live.load();
    let t = &live.table;
    let names: Vec<&str> = match &a.route {
        Some(r) if t.routes.iter().any(|x| &x.name == r) => vec![r.as_str()],
        Some(r) => return Err(ApiError::bad_request(format!("no route `{r}`"), Some("route"))),
        None => t.routes.iter().map(|r| r.name.as_str()).collect(),
    };
    let line = json!({"prompt": a.prompt}).to_string();
    let mut scratch = DecideScratch::new(1);
    let decisions = names
        .into_iter()
        .map(|name| match switchyard_routing::describe::dry_run(t, &line, Some(name), name, &mut scratch) {
            Ok(json) => serde_json::from_str(&json).unwrap_or(Value::Null),
            Err(e) => json!({"route": name, "error": e}),
        })
        .collect::<Vec<_>>();
    Ok(json!({"decisions": decisions}))
}

/// How long "send" waits for the gateway's answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);
/// The most of the gateway's answer the page is shown: a chat answer is a few KiB; beyond this
/// the admin thread (64 at most) stops reading instead of holding an unbounded buffer.
const MAX_ANSWER_BYTES: u64 = 4 << 20;

/// `POST /ui/api/send`: the prompt as a chat request to the route through the client listener.
pub fn send(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let a = ask(body)?;
    let route = a.route.ok_or_else(|| ApiError::bad_request("`route` is required to send", Some("route")))?;
    let Some(&(addr, tls)) = shared.console.client.get() else {
        return Err(ApiError::status(503, "the client listener is not up yet"));
    };
    if tls {
        return Err(ApiError::status(501, "sending from the console needs a plain-HTTP client listener"));
    }
    let chat = json!({"model": route, "messages": [{"role": "user", "content": a.prompt}]}).to_string();
    let (status, headers, answer) = post(addr, &chat, a.key.as_deref())
        .map_err(|e| ApiError::status(502, format!("no usable answer from the client listener at {addr}: {e}")))?;
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .or_else(|| v["error"]["message"].as_str())
        .map_or_else(|| String::from_utf8_lossy(&answer).into_owned(), str::to_string);
    Ok(json!({"status": status, "model": header("x-switchyard-model"), "provider": header("x-switchyard-provider"),
              "route": header("x-switchyard-route"), "request_id": header("x-switchyard-request-id"),
              "cache": header("x-switchyard-cache"), "text": text}))
}

/// An answer read back: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 request with `connection: close`; the status, headers and body (read to EOF).
fn post(addr: std::net::SocketAddr, body: &str, key: Option<&str>) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(SEND_TIMEOUT))?;
    let auth = key.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    (&mut s).take(MAX_ANSWER_BYTES + 1).read_to_end(&mut raw)?;
    if raw.len() as u64 > MAX_ANSWER_BYTES {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "answer larger than 4 MiB"));
    }
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed answer");
    let split = memchr::memmem::find(&raw, b"\r\n\r\n").ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).ok_or_else(bad)?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Ok((status, headers, body))
}

/// A chunked body's data.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = memchr::memmem::find(b, b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|h| usize::from_str_radix(h.split(';').next()?.trim(), 16).ok());
        let Some(n) = size.filter(|&n| n > 0 && eol + 2 + n <= b.len()) else { break };
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[(eol + 4 + n).min(b.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), b"hello world");
        assert_eq!(dechunk(b"zz\r\n"), b"");
    }

    #[test]
    fn a_try_needs_a_prompt() {
        assert_eq!(ask(b"{}").err().map(|e| e.status), Some(400));
        assert_eq!(ask(b"not json").err().map(|e| e.status), Some(400));
        let a = ask(br#"{"prompt":"hi","route":"auto","key":""}"#).ok().unwrap();
        assert_eq!((a.prompt.as_str(), a.route.as_deref(), a.key), ("hi", Some("auto"), None));
    }
}
