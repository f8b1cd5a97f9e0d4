//! Responses that need more than byte relaying: SSE streams (event by event: passed through
//! with usage observed, or translated between dialects) and whole bodies or errors of another
//! dialect than the client's.

use std::cell::RefCell;
use std::sync::LazyLock;
use std::time::Instant;

use memchr::memmem;
use monoio::net::TcpStream;
use serde_json::Value;
use switchyard_http::head::ResponseHead;
use switchyard_http::{SseDecoder, write};
use switchyard_wire::JsonScratch;
use switchyard_wire::answer::answer_usage;
use switchyard_wire::{
    Completion, CompletionBuilder, Delta, Dialect, StreamDecoder, StreamEncoder, UpstreamError, Usage,
};

use crate::downstream::{Buffers, Outcome, Tags};
use crate::observe::histogram::Histogram;
use crate::relay::passthrough::{flush, skip_header, upstream_head};
use crate::runtime::pool::UpStream;
use crate::upstream::body::BodyReader;
use crate::upstream::body::Timing;

// Searchers built once: constructing one per event showed up at ~3 % of the streaming profile.
static USAGE: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"usage\":{"));
static USAGE_SPACED: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"usage\": {"));
static NO_CHOICES: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"choices\":[]"));

/// Largest non-streamed upstream body read whole for translation.
const MAX_WHOLE_BODY: usize = 32 * 1024 * 1024;
/// Largest single SSE event held while waiting for its end.
const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// What the client asked for, and of whom.
pub struct Exchange<'a> {
    /// The client's dialect.
    pub client: Dialect,
    /// The upstream's dialect.
    pub upstream: Dialect,
    /// The client's OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// The gateway added `include_usage` upstream: drop the usage chunk it causes.
    pub drop_usage_chunk: bool,
    /// Model name for translated answers when the upstream gives none.
    pub model: &'a str,
    /// Called with the whole answer once it is complete and before its last byte is written
    /// (the cache stores it there, so an identical request right after finds it): every
    /// event is then decoded.
    pub store: Option<&'a dyn Fn(Completion)>,
    /// Called with the answer's usage before its last byte is written, so spend and limits are
    /// up to date when the client sends its next request.
    pub account: Option<&'a dyn Fn(Usage)>,
    /// Where a stream's relay time per piece goes (this worker's histogram).
    pub relay_time: &'a Histogram,
}

/// Upstream header lines worth passing on to a client of another dialect.
fn passed_headers(rbuf: &[u8], b: &Buffers) -> Vec<u8> {
    let mut out = Vec::new();
    for h in &b.up_headers {
        let name = &rbuf[h.name.clone()];
        // Rate-limit and retry headers are passed on; the rest describes the other dialect.
        let pass = name.eq_ignore_ascii_case(b"retry-after")
            || name.eq_ignore_ascii_case(b"retry-after-ms")
            || (name.len() > 11 && name[..11].eq_ignore_ascii_case(b"x-ratelimit"))
            || (name.len() > 20 && name[..20].eq_ignore_ascii_case(b"anthropic-ratelimit-"));
        if pass && !skip_header(name) {
            write::header(&mut out, name, &rbuf[h.value.clone()]);
        }
    }
    out
}

/// Writes the client head for a translated or filtered response.
fn head(out: &mut Vec<u8>, status: u16, content_type: &[u8], passed: &[u8], tags: &Tags<'_>, keep: Outcome) {
    out.clear();
    write::status_line(out, status);
    write::header(out, b"content-type", content_type);
    out.extend_from_slice(passed);
    tags.write(out);
    if keep == Outcome::Close {
        write::header(out, b"connection", b"close");
    }
}

/// Relays an SSE stream event by event; returns the outcome, upstream reuse and usage seen.
/// The client's head is held until the first event is ready, so a stream that fails before
/// its first event is `Err` with nothing written: the caller can still fall back.
#[allow(clippy::too_many_arguments)]
pub async fn relay_events(
    client: &mut TcpStream,
    up: &mut UpStream,
    resp: &ResponseHead,
    b: &mut Buffers,
    tags: &Tags<'_>,
    keep: Outcome,
    t: Timing,
    x: &Exchange<'_>,
) -> Result<(Outcome, bool, Option<Usage>), &'static str> {
    let mut out = std::mem::take(&mut b.out);
    head(&mut out, 200, b"text/event-stream", &passed_headers(&b.up_resp, b), tags, keep);
    write::header(&mut out, b"cache-control", b"no-cache");
    write::header(&mut out, b"transfer-encoding", b"chunked");
    out.extend_from_slice(b"\r\n");
    let translate = x.client != x.upstream;
    let mut dec = StreamDecoder::new(x.upstream, x.model);
    let mut enc = StreamEncoder::new(x.client, x.include_usage, x.model);
    let mut sse = SseDecoder::new();
    let mut reader = BodyReader::new(resp);
    let mut piece = std::mem::take(&mut b.body);
    let mut events = Vec::with_capacity(4096);
    let mut deltas: Vec<Delta> = Vec::new();
    let mut usage = None;
    let mut rbuf = std::mem::take(&mut b.up_resp);
    let mut started = false;
    let mut collected = x.store.map(|_| CompletionBuilder::new());
    // When the last piece was read: it goes out with the final write, after the loop.
    let mut last_read = None;
    let failure = loop {
        piece.clear();
        events.clear();
        let more = match reader.next(up, &mut rbuf, &mut piece, t).await {
            Ok(m) => m,
            Err(e) => break Some(e),
        };
        // The gateway's own time for this piece ends when its write is issued (kernel send
        // time left out, as for `overhead`): two clock reads per piece, ~0.1 µs.
        let read_at = Instant::now();
        sse.push(&piece);
        let mut bad = false;
        while let Some(ev) = sse.next_event() {
            let name = ev.event();
            let Some(data) = ev.data() else {
                // Comments and keep-alives carry no data.
                if !translate {
                    events.extend_from_slice(ev.raw);
                }
                continue;
            };
            // Same dialect, only the events that carry usage or end the stream are parsed:
            // OpenAI's usage chunk and `[DONE]`, Anthropic's `message_*` events. The rest get
            // a framing check (a JSON object's braces), which catches truncated or non-JSON
            // data without a parse per token.
            let decode = translate
                || collected.is_some()
                || data.as_ref() == b"[DONE]"
                || (x.upstream == Dialect::Anthropic && name.is_some_and(|n| n.starts_with(b"message_")))
                || USAGE.find(&data).is_some()
                || USAGE_SPACED.find(&data).is_some();
            if decode {
                deltas.clear();
                if dec.event(name, &data, &mut deltas).is_err() {
                    bad = true;
                    break;
                }
                for d in &deltas {
                    if let Delta::Usage(u) = d {
                        usage = Some(*u);
                    }
                    if let Some(c) = collected.as_mut() {
                        c.push(d);
                    }
                    if translate {
                        enc.push(d, &mut events);
                    }
                }
            } else if !braced(&data) {
                bad = true;
                break;
            }
            if !translate {
                // Same dialect: pass the event on untouched, except the usage chunk the
                // gateway asked for on the client's behalf.
                let usage_only = x.drop_usage_chunk && NO_CHOICES.find(&data).is_some();
                if !usage_only {
                    events.extend_from_slice(ev.raw);
                }
            }
        }
        if bad {
            break Some("the upstream sent an invalid stream event");
        }
        if sse.pending() > MAX_EVENT_BYTES {
            break Some("the upstream sent an oversized stream event");
        }
        if !more {
            deltas.clear();
            dec.end(&mut deltas);
            for d in &deltas {
                if let Delta::Usage(u) = d {
                    usage = Some(*u);
                }
                if let Some(c) = collected.as_mut() {
                    c.push(d);
                }
                if translate {
                    enc.push(d, &mut events);
                }
            }
            if !dec.complete() {
                break Some("the upstream stream ended without finishing");
            }
            if translate {
                enc.finish(&mut events);
            }
            write::chunk(&mut out, &events);
            out.extend_from_slice(write::LAST_CHUNK);
            last_read = Some(read_at);
            break None;
        }
        if events.is_empty() {
            continue;
        }
        write::chunk(&mut out, &events);
        started = true;
        x.relay_time.record(read_at.elapsed().as_nanos() as u64);
        if flush(client, &mut out, &b.first_write).await.is_err() {
            b.out = out;
            b.body = piece;
            b.up_resp = rbuf;
            b.broken.set(Some("the client closed the connection mid-stream"));
            if let (Some(f), Some(u)) = (x.account, usage) {
                f(u);
            }
            return Ok((Outcome::Close, false, usage));
        }
    };
    b.body = piece;
    b.up_resp = rbuf;
    if let Some(reason) = failure {
        if !started && events.is_empty() {
            out.clear();
            b.out = out;
            return Err(reason);
        }
        // After the first byte nothing can be retried: the good events read with the bad
        // piece go out, then an error event in the client's dialect ends the body cleanly.
        b.broken.set(Some(reason));
        let mut e = StreamEncoder::new(x.client, false, x.model);
        e.push(&Delta::Start { id: "error".into(), model: x.model.into() }, &mut Vec::new());
        e.error("api_error", reason, &mut events);
        write::chunk(&mut out, &events);
        out.extend_from_slice(write::LAST_CHUNK);
    }
    if failure.is_none()
        && let (Some(store), Some(answer)) = (x.store, collected.and_then(CompletionBuilder::finish))
    {
        store(answer);
    }
    if let (Some(f), Some(u)) = (x.account, usage) {
        f(u);
    }
    // A stream read whole with its head (a fast upstream) is one piece, timed here.
    if let Some(at) = last_read {
        x.relay_time.record(at.elapsed().as_nanos() as u64);
    }
    let outcome = flush(client, &mut out, &b.first_write).await.map_or(Outcome::Close, |_| keep);
    let reusable = failure.is_none() && reader.reusable();
    b.out = out;
    Ok((outcome, reusable, usage))
}

/// Whether event data is framed like a JSON object (cheap check for the pass-through path).
fn braced(data: &[u8]) -> bool {
    let d = data.trim_ascii();
    d.first() == Some(&b'{') && d.last() == Some(&b'}')
}

/// A whole same-dialect 2xx answer: read to the end and checked to be JSON before anything is
/// written, so a truncated or garbled answer can still fall back. Head and body go out in one
/// write.
#[allow(clippy::too_many_arguments)]
pub async fn relay_json(
    client: &mut TcpStream,
    up: &mut UpStream,
    resp: &ResponseHead,
    b: &mut Buffers,
    tags: &Tags<'_>,
    keep: Outcome,
    t: Timing,
    x: &Exchange<'_>,
    json: &RefCell<JsonScratch>,
) -> Result<(Outcome, bool, Option<Usage>), &'static str> {
    let (dialect, store, account) = (x.upstream, x.store, x.account);
    let mut out = std::mem::take(&mut b.out);
    upstream_head(&mut out, resp.status, &b.up_resp, &b.up_headers, tags);
    if keep == Outcome::Close {
        write::header(&mut out, b"connection", b"close");
    }
    let mut body = std::mem::take(&mut b.body);
    body.clear();
    let read = read_whole(up, resp, b, &mut body, t).await;
    // One pass: the answer must be JSON (else it falls back), and its usage is read on the way.
    // Parsed into the worker's simd-json buffers (the request view's: warm, no allocation).
    let checked = read.and_then(|reusable| {
        json.borrow_mut()
            .with_tape(&body, |answer| answer_usage(answer, dialect))
            .map(|usage| (usage, reusable))
            .map_err(|_| "the upstream answer is not valid JSON")
    });
    let (usage, reusable) = match checked {
        Ok(u) => u,
        Err(e) => {
            b.body = body;
            b.out = out;
            return Err(e);
        }
    };
    write::content_length(&mut out, body.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    if let Some(store) = store
        && let Some(answer) = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
            match dialect {
                Dialect::Anthropic => Completion::from_anthropic(&v),
                _ => Completion::from_openai(&v),
            }
            .ok()
        })
    {
        store(answer);
    }
    if let (Some(f), Some(u)) = (account, usage) {
        f(u);
    }
    let outcome = flush(client, &mut out, &b.first_write).await.map_or(Outcome::Close, |_| keep);
    b.body = body;
    b.out = out;
    Ok((outcome, reusable, usage))
}

/// Reads a whole (bounded) answer into `body`; Ok(whether the connection can be reused).
async fn read_whole(
    up: &mut UpStream,
    resp: &ResponseHead,
    b: &mut Buffers,
    body: &mut Vec<u8>,
    t: Timing,
) -> Result<bool, &'static str> {
    let mut rbuf = std::mem::take(&mut b.up_resp);
    let result = BodyReader::new(resp).read_all(up, &mut rbuf, body, t, MAX_WHOLE_BODY).await;
    b.up_resp = rbuf;
    result
}

/// Translates a whole (non-streamed) answer or error into the client's dialect.
#[allow(clippy::too_many_arguments)]
pub async fn relay_whole(
    client: &mut TcpStream,
    up: &mut UpStream,
    resp: &ResponseHead,
    b: &mut Buffers,
    tags: &Tags<'_>,
    keep: Outcome,
    t: Timing,
    x: &Exchange<'_>,
) -> (Outcome, bool, Option<Usage>) {
    // Captured before the body is read: reading reuses the buffer the header offsets point into.
    let passed = passed_headers(&b.up_resp, b);
    let mut body = Vec::new();
    let reusable = match read_whole(up, resp, b, &mut body, t).await {
        Ok(reusable) => reusable,
        Err(e) => {
            body = Vec::from(e.as_bytes());
            false
        }
    };
    let (status, json, usage) = if (200..300).contains(&resp.status) {
        let parsed: Result<Completion, String> =
            serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string()).and_then(|v| {
                match x.upstream {
                    Dialect::OpenAi => Completion::from_openai(&v),
                    Dialect::Anthropic => Completion::from_anthropic(&v),
                    Dialect::Gemini => Completion::from_gemini(&v, x.model),
                }
                .map_err(|e| e.to_string())
            });
        match parsed {
            Ok(c) => {
                let v = match x.client {
                    Dialect::Anthropic => c.to_anthropic(),
                    _ => c.to_openai(),
                };
                let usage = c.usage;
                if let Some(store) = x.store {
                    store(c);
                }
                (200, v, Some(usage))
            }
            Err(e) => {
                let err = UpstreamError {
                    kind: switchyard_wire::ErrorKind::Server,
                    message: format!("invalid upstream answer: {e}"),
                };
                (502, err.render(x.client), None)
            }
        }
    } else {
        let err = UpstreamError::parse(x.upstream, resp.status, &body);
        (err.kind.status(x.client), err.render(x.client), None)
    };
    let bytes = serde_json::to_vec(&json).unwrap_or_default();
    let mut out = std::mem::take(&mut b.out);
    head(&mut out, status, b"application/json", &passed, tags, keep);
    write::content_length(&mut out, bytes.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&bytes);
    if let (Some(f), Some(u)) = (x.account, usage) {
        f(u);
    }
    let outcome = flush(client, &mut out, &b.first_write).await.map_or(Outcome::Close, |_| keep);
    b.out = out;
    (outcome, reusable, usage)
}
