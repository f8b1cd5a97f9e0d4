//! Sends a whole answer the gateway holds (a cache hit, a cascade's passing answer, a vote's
//! winner) in the client's dialect: a JSON body, or an SSE stream when the client asked for one.

use monoio::net::TcpStream;
use switchyard_http::write;
use switchyard_wire::{Completion, Dialect, StreamEncoder};

use crate::conn::{Buffers, Outcome, Tags};
use crate::relay::flush;

/// How the client wants the answer.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Its dialect.
    pub dialect: Dialect,
    /// `stream: true`.
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
}

/// The body of `c` for `shape`: a JSON document, or the SSE events (not yet chunk-framed).
pub fn render(shape: Shape, c: &Completion) -> Vec<u8> {
    if shape.stream {
        let mut enc = StreamEncoder::new(shape.dialect, shape.include_usage, &c.model);
        let mut events = Vec::with_capacity(512 + c.text.len() * 4);
        for d in c.to_deltas() {
            enc.push(&d, &mut events);
        }
        enc.finish(&mut events);
        events
    } else {
        let body = match shape.dialect {
            Dialect::Anthropic => c.to_anthropic(),
            _ => c.to_openai(),
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// Writes `c` to the client (head and body in one write); `extra` are more header lines.
pub async fn send_completion(
    client: &mut TcpStream,
    b: &mut Buffers,
    tags: &Tags<'_>,
    extra: &[(&str, &str)],
    keep: Outcome,
    shape: Shape,
    c: &Completion,
) -> Outcome {
    let body = render(shape, c);
    send_rendered(client, b, tags, extra, keep, shape.stream, &body).await
}

/// Writes a rendered answer (`render`'s output) with its head, in one write.
pub async fn send_rendered(
    client: &mut TcpStream,
    b: &mut Buffers,
    tags: &Tags<'_>,
    extra: &[(&str, &str)],
    keep: Outcome,
    stream: bool,
    body: &[u8],
) -> Outcome {
    let mut out = std::mem::take(&mut b.out);
    out.clear();
    write::status_line(&mut out, 200);
    tags.write(&mut out);
    for (k, v) in extra {
        write::header(&mut out, k.as_bytes(), v.as_bytes());
    }
    if keep == Outcome::Close {
        write::header(&mut out, b"connection", b"close");
    }
    if stream {
        write::header(&mut out, b"content-type", b"text/event-stream");
        write::header(&mut out, b"cache-control", b"no-cache");
        write::header(&mut out, b"transfer-encoding", b"chunked");
        out.extend_from_slice(b"\r\n");
        write::chunk(&mut out, body);
        out.extend_from_slice(write::LAST_CHUNK);
    } else {
        write::header(&mut out, b"content-type", b"application/json");
        write::content_length(&mut out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }
    let outcome = flush(client, &mut out, &b.first_write).await.map_or(Outcome::Close, |_| keep);
    b.out = out;
    outcome
}
