//! Relaying an upstream response to the client byte for byte (same dialect), re-chunking
//! chunked and close-delimited bodies per read so each SSE event is sent as it arrives.

use std::cell::Cell;
use std::time::Instant;

use monoio::net::TcpStream;
use switchyard_http::head::{HeaderRef, ResponseFraming};
use switchyard_http::{ChunkedDecoder, write};

use super::Relay;
use crate::downstream::{Buffers, Outcome, Tags};
use crate::io::{send_all, until};

/// Hop-by-hop and framing headers that are not copied from the upstream response.
pub fn skip_header(name: &[u8]) -> bool {
    const SKIP: [&[u8]; 8] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"content-length",
        b"te",
        b"trailer",
        b"upgrade",
    ];
    SKIP.iter().any(|s| name.eq_ignore_ascii_case(s))
        || (name.len() > 13 && name[..13].eq_ignore_ascii_case(b"x-switchyard-"))
}

/// Relays the response to the client; returns the outcome and whether the upstream
/// connection can go back to the pool.
pub async fn relay(r: Relay<'_, '_>, b: &mut Buffers) -> (Outcome, bool) {
    let head = r.head;
    let out = &mut b.out;
    upstream_head(out, head.status, &b.up_resp, &b.up_headers, r.tags);
    match head.framing {
        ResponseFraming::Empty if head.status == 204 || head.status == 304 => {}
        ResponseFraming::Empty => write::content_length(out, 0),
        ResponseFraming::Length(n) => write::content_length(out, n),
        ResponseFraming::Chunked | ResponseFraming::UntilClose => write::header(out, b"transfer-encoding", b"chunked"),
    }
    if r.keep == Outcome::Close {
        write::header(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    match head.framing {
        ResponseFraming::Empty => {
            let reusable = head.keep_alive && b.up_resp.len() == head.head_len;
            (flush(r.client, out, &b.first_write).await.map_or(Outcome::Close, |_| r.keep), reusable)
        }
        ResponseFraming::Length(n) => relay_length(r, b, n).await,
        ResponseFraming::Chunked | ResponseFraming::UntilClose => relay_chunked(r, b).await,
    }
}

/// Starts the client's head from the upstream's: its status, its end-to-end header fields
/// (hop-by-hop and framing ones left out) and the `x-switchyard-*` tags.
pub fn upstream_head(out: &mut Vec<u8>, status: u16, rbuf: &[u8], headers: &[HeaderRef], tags: &Tags<'_>) {
    out.clear();
    write::status_line(out, status);
    for h in headers {
        let name = &rbuf[h.name.clone()];
        if !skip_header(name) {
            write::header(out, name, &rbuf[h.value.clone()]);
        }
    }
    tags.write(out);
}

/// Writes `out` to the client; the moment the first write of a response is issued goes in `mark`.
pub async fn flush(client: &mut TcpStream, out: &mut Vec<u8>, mark: &Cell<Option<Instant>>) -> std::io::Result<()> {
    if mark.get().is_none() {
        mark.set(Some(Instant::now()));
    }
    let (r, back) = send_all(client, std::mem::take(out)).await;
    *out = back;
    out.clear();
    r
}

/// Content-Length bodies pass through byte for byte.
async fn relay_length(r: Relay<'_, '_>, b: &mut Buffers, n: u64) -> (Outcome, bool) {
    let Relay { client, up, head, keep, timing: t, .. } = r;
    let (rbuf, out, mark) = (&mut b.up_resp, &mut b.out, &b.first_write);
    let body_start = head.head_len;
    let have = (rbuf.len() - body_start) as u64;
    let first = have.min(n) as usize;
    let mut extra = have > n;
    out.extend_from_slice(&rbuf[body_start..body_start + first]);
    if flush(client, out, mark).await.is_err() {
        return (Outcome::Close, false);
    }
    let mut remaining = n - first as u64;
    while remaining > 0 {
        rbuf.clear();
        match until(t.wait_until(), up.read_append(rbuf)).await {
            Ok(Ok(k)) if k > 0 => {
                if k as u64 > remaining {
                    rbuf.truncate(remaining as usize);
                    extra = true;
                }
                remaining -= rbuf.len() as u64;
                let (r, back) = send_all(client, std::mem::take(rbuf)).await;
                *rbuf = back;
                if r.is_err() {
                    return (Outcome::Close, false);
                }
            }
            // The body was cut short: the client cannot be told except by closing.
            _ => return (Outcome::Close, false),
        }
    }
    (keep, head.keep_alive && !extra)
}

/// Chunked and close-delimited bodies are decoded and re-chunked per read, so each upstream
/// read (an SSE event, usually) reaches the client at once, and a failure mid-stream can
/// still end the client's stream cleanly with an error event.
async fn relay_chunked(r: Relay<'_, '_>, b: &mut Buffers) -> (Outcome, bool) {
    let Relay { client, up, head, keep, timing: t, .. } = r;
    let (rbuf, out, mark) = (&mut b.up_resp, &mut b.out, &b.first_write);
    let chunked = head.framing == ResponseFraming::Chunked;
    let mut dec = ChunkedDecoder::new();
    let mut pos = head.head_len;
    loop {
        if chunked {
            let mut ok = true;
            let fed = dec.feed(&rbuf[pos..], |d| write::chunk(out, d));
            match fed {
                Ok(n) => pos += n,
                Err(_) => ok = false,
            }
            if !ok {
                break;
            }
            if dec.is_done() {
                out.extend_from_slice(write::LAST_CHUNK);
                let reusable = head.keep_alive && pos == rbuf.len();
                let outcome = flush(client, out, mark).await.map_or(Outcome::Close, |_| keep);
                return (outcome, reusable);
            }
        } else {
            write::chunk(out, &rbuf[pos..]);
        }
        if !out.is_empty() && flush(client, out, mark).await.is_err() {
            return (Outcome::Close, false);
        }
        rbuf.clear();
        pos = 0;
        match until(t.wait_until(), up.read_append(rbuf)).await {
            Ok(Ok(0)) if !chunked => {
                out.extend_from_slice(write::LAST_CHUNK);
                return (flush(client, out, mark).await.map_or(Outcome::Close, |_| keep), false);
            }
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
    // Truncated after the head went out: only closing can tell the client. (SSE bodies do
    // not come here: `relay::translated::relay_events` ends them with an error event.)
    (Outcome::Close, false)
}
