//! Sends a whole answer the gateway holds (a cache hit, a cascade's passing answer, a vote's
//! winner) in the client's dialect: a JSON body, or an SSE stream when the client asked for one.

use crate::downstream::ClientConn;
use switchyard_http::write;
use switchyard_wire::Completion;
use switchyard_wire::render::{Shape, render_for};
use switchyard_wire::responses::ResponsesMeta;

use crate::downstream::{Buffers, Outcome, Tags};
use crate::relay::head::flush;

/// Writes `c` to the client (head and body in one write); `extra` are more header lines.
pub async fn send_completion(
    client: &mut ClientConn,
    b: &mut Buffers,
    tags: &Tags<'_>,
    extra: &[(&str, &str)],
    keep: Outcome,
    (shape, responses): (Shape, Option<&ResponsesMeta>),
    c: &Completion,
) -> Outcome {
    let body = render_for(shape, c, responses);
    send_rendered(client, b, tags, extra, keep, shape.stream, &body).await
}

/// Writes a rendered answer (`render`'s output) with its head, in one write.
pub async fn send_rendered(
    client: &mut ClientConn,
    b: &mut Buffers,
    tags: &Tags<'_>,
    extra: &[(&str, &str)],
    keep: Outcome,
    stream: bool,
    body: &[u8],
) -> Outcome {
    let keep = if stream { b.framing.keep(keep) } else { keep };
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
        b.framing.header(&mut out);
        out.extend_from_slice(b"\r\n");
        b.framing.piece(&mut out, body);
        b.framing.end(&mut out);
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
