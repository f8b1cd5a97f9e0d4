//! The client's response head and its writes: which upstream header fields reach a client,
//! and the flush that stamps a response's first write.
//!
//! Upstream fields pass on an allow-list, not a deny-list: a provider's `set-cookie`,
//! `openai-organization` and the like describe the gateway's account with it, not the client's.

use std::time::Instant;

use crate::downstream::ClientConn;
use switchyard_http::head::HeaderRef;
use switchyard_http::write;

use crate::downstream::{Outcome, Tags, WriteClock};
use crate::io::until;

/// Upstream fields every reply may carry: the provider's request id (for support tickets) and
/// its rate-limit and retry hints.
fn always_passed(name: &[u8]) -> bool {
    const EXACT: [&[u8]; 4] = [b"x-request-id", b"request-id", b"retry-after", b"retry-after-ms"];
    const PREFIXES: [&[u8]; 2] = [b"x-ratelimit-", b"anthropic-ratelimit-"];
    EXACT.iter().any(|e| name.eq_ignore_ascii_case(e))
        || PREFIXES.iter().any(|p| name.len() > p.len() && name[..p.len()].eq_ignore_ascii_case(p))
}

/// Whether `name` is one of the operator's `upstream.pass_headers` (a trailing `*` matches a prefix).
fn configured(name: &[u8], extra: &[String]) -> bool {
    extra.iter().any(|e| match e.strip_suffix('*') {
        Some(p) => name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p.as_bytes()),
        None => name.eq_ignore_ascii_case(e.as_bytes()),
    })
}

/// The upstream header lines a client gets, `content-type` too when the body is the
/// upstream's own. Framing fields never pass: every reply is framed anew.
pub fn passed_headers(rbuf: &[u8], headers: &[HeaderRef], extra: &[String], content_type: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for h in headers {
        let name = &rbuf[h.name.clone()];
        let pass = always_passed(name)
            || (content_type && name.eq_ignore_ascii_case(b"content-type"))
            || configured(name, extra);
        let framing =
            [&b"content-length"[..], b"transfer-encoding", b"connection"].iter().any(|f| name.eq_ignore_ascii_case(f));
        if pass && !framing && !name.get(..13).is_some_and(|p| p.eq_ignore_ascii_case(b"x-switchyard-")) {
            write::header(&mut out, name, &rbuf[h.value.clone()]);
        }
    }
    out
}

/// Writes a client head: status, the passed upstream lines, the tags and, when the
/// connection closes after this reply, `connection: close`.
pub fn client_head(out: &mut Vec<u8>, status: u16, passed: &[u8], tags: &Tags<'_>, keep: Outcome) {
    out.clear();
    write::status_line(out, status);
    out.extend_from_slice(passed);
    tags.write(out);
    if keep == Outcome::Close {
        write::header(out, b"connection", b"close");
    }
}

/// Writes `out` to the client; the moment the first write of a response is issued goes in
/// `clock`. A client that takes none of it within the write deadline is given up on (the
/// caller closes the connection and releases its upstream); the buffer then stays with the
/// runtime until the cancelled write completes.
pub async fn flush(client: &mut ClientConn, out: &mut Vec<u8>, clock: &WriteClock) -> std::io::Result<()> {
    let now = Instant::now();
    if clock.get().is_none() {
        clock.set(Some(now));
    }
    match until(now + clock.timeout.get(), client.send_all(std::mem::take(out))).await {
        Ok((r, back)) => {
            *out = back;
            out.clear();
            r
        }
        Err(_) => {
            Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client read nothing within the write deadline"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_upstream_fields_pass() {
        let raw = b"content-type: application/json\r\nset-cookie: s=1\r\nopenai-organization: org-x\r\nx-request-id: req-1\r\nx-ratelimit-remaining-requests: 9\r\ncontent-length: 5\r\nx-custom-trace: t\r\nx-switchyard-model: spoof\r\n";
        let mut headers = Vec::new();
        let mut at = 0;
        for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let colon = line.iter().position(|&b| b == b':').unwrap();
            let end = line.len() - 1;
            headers.push(HeaderRef { name: at..at + colon, value: at + colon + 2..at + end });
            at += line.len() + 1;
        }
        let passed = String::from_utf8(passed_headers(raw, &headers, &["x-custom-*".into()], true)).unwrap();
        assert_eq!(
            passed,
            "content-type: application/json\r\nx-request-id: req-1\r\nx-ratelimit-remaining-requests: 9\r\nx-custom-trace: t\r\n"
        );
        let translated = String::from_utf8(passed_headers(raw, &headers, &[], false)).unwrap();
        assert_eq!(translated, "x-request-id: req-1\r\nx-ratelimit-remaining-requests: 9\r\n");
    }
}
