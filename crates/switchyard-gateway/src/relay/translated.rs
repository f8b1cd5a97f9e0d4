//! Responses that need more than byte relaying: SSE streams (event by event: passed through
//! with usage observed, or translated between dialects) and whole bodies or errors of another
//! dialect than the client's.

use std::cell::RefCell;
use std::time::Instant;

use serde_json::Value;
use switchyard_http::head::ResponseHead;
use switchyard_http::write;
use switchyard_wire::JsonScratch;
use switchyard_wire::answer::answer_usage;
use switchyard_wire::pump::{EventPump, PumpSpec, StreamFault, error_event};
use switchyard_wire::responses::ResponsesMeta;
use switchyard_wire::{Completion, Dialect, UpstreamError, Usage};

use super::Relay;
use crate::downstream::{Buffers, ClientConn, Outcome, Tags};
use crate::observe::histogram::Histogram;
use crate::relay::head::{client_head, flush, passed_headers};
use crate::runtime::pool::UpStream;
use crate::upstream::body::BodyReader;
use crate::upstream::body::Timing;

/// What the client asked for, and of whom.
pub struct RelaySpec<'a> {
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
    /// The provider's keys, stripped from any error text relayed.
    pub secrets: &'a [String],
    /// `upstream.pass_headers`: upstream fields passed to clients beyond the built-in list.
    pub pass_headers: &'a [String],
    /// Where a stream's relay time per piece goes (this worker's histogram).
    pub relay_time: &'a Histogram,
    /// The prompt's estimated tokens, charged when a stream ends before its usage arrives.
    pub prompt_estimate: u64,
    /// `upstream.max_answer_bytes` and `upstream.retry_too_large`.
    pub max_answer_bytes: usize,
    /// See `max_answer_bytes`.
    pub retry_too_large: bool,
    /// A Responses API client's answer id and echo.
    pub responses: Option<&'a ResponsesMeta>,
    /// The model name answers report instead of the upstream's (`server.report_model`).
    pub report_model: Option<&'a str>,
}

impl RelaySpec<'_> {
    /// The event pump's settings for this relay.
    fn pump_spec(&self) -> PumpSpec<'_> {
        PumpSpec {
            client: self.client,
            upstream: self.upstream,
            include_usage: self.include_usage,
            drop_usage_chunk: self.drop_usage_chunk,
            model: self.model,
            collect: self.store.is_some(),
            responses: self.responses,
            report_model: self.report_model,
        }
    }
}

/// The client head of a translated, filtered or re-framed response.
fn head(out: &mut Vec<u8>, status: u16, content_type: &[u8], passed: &[u8], tags: &Tags<'_>, keep: Outcome) {
    client_head(out, status, passed, tags, keep);
    write::header(out, b"content-type", content_type);
}

/// Relays an SSE stream event by event through the wire crate's `EventPump`; returns the
/// outcome, upstream reuse and usage seen. The client's head is held until the first event is
/// ready, so a stream that fails before its first event is `Err` with nothing written: the
/// caller can still fall back.
pub async fn relay_events(
    r: Relay<'_, '_>,
    b: &mut Buffers,
    x: &RelaySpec<'_>,
) -> Result<(Outcome, bool, Option<Usage>), StreamFailure> {
    let mut out = std::mem::take(&mut b.out);
    let keep = b.framing.keep(r.keep);
    stream_head(&mut out, b, x.pass_headers, r.tags, keep);
    let mut pump = EventPump::new(x.pump_spec());
    let mut reader = BodyReader::new(r.head);
    let mut piece = std::mem::take(&mut b.body);
    let mut rbuf = std::mem::take(&mut b.up_resp);
    let mut events = Vec::with_capacity(4096);
    let mut started = false;
    // When the last piece was read: it goes out with the final write, after the loop.
    let mut last_read = None;
    let failure = loop {
        piece.clear();
        events.clear();
        let more = match reader.next(r.up, &mut rbuf, &mut piece, r.timing).await {
            Ok(m) => m,
            Err(e) => break Some(StreamFailure::Read(e)),
        };
        // The gateway's own time for this piece ends when its write is issued (kernel send
        // time left out, as for `overhead`): two clock reads per piece, ~0.1 µs.
        let read_at = Instant::now();
        if let Err(f) = pump.feed(&piece, &mut events) {
            break Some(StreamFailure::Fault(f));
        }
        if !more {
            if let Err(f) = pump.end(&mut events) {
                break Some(StreamFailure::Fault(f));
            }
            b.framing.piece(&mut out, &events);
            b.framing.end(&mut out);
            last_read = Some(read_at);
            break None;
        }
        if events.is_empty() {
            continue;
        }
        b.framing.piece(&mut out, &events);
        started = true;
        x.relay_time.record(read_at.elapsed().as_nanos() as u64);
        if flush(r.client, &mut out, &b.first_write).await.is_err() {
            (b.out, b.body, b.up_resp) = (out, piece, rbuf);
            return Ok(client_gone(b, x, &pump));
        }
    };
    (b.body, b.up_resp) = (piece, rbuf);
    if let Some(reason) = failure {
        if !started && events.is_empty() {
            out.clear();
            b.out = out;
            return Err(reason);
        }
        end_with_error(&mut out, &mut events, b, x, reason);
    }
    // A stream cut after its start is charged what it relayed, like a client gone.
    let usage = if failure.is_some() { Some(pump.usage_so_far(x.prompt_estimate)) } else { pump.usage() };
    if failure.is_none()
        && let (Some(store), Some(answer)) = (x.store, pump.into_completion())
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
    let outcome = flush(r.client, &mut out, &b.first_write).await.map_or(Outcome::Close, |_| keep);
    let reusable = failure.is_none() && reader.reusable();
    b.out = out;
    Ok((outcome, reusable, usage))
}

/// The client left mid-stream. The usage would have come last: the prompt and the text
/// relayed are charged.
fn client_gone(b: &Buffers, x: &RelaySpec<'_>, pump: &EventPump) -> (Outcome, bool, Option<Usage>) {
    b.broken.set(Some("the client closed the connection, or read nothing within the write deadline, mid-stream"));
    let u = pump.usage_so_far(x.prompt_estimate);
    if let Some(f) = x.account {
        f(u);
    }
    (Outcome::Close, false, Some(u))
}

/// The client's head of a relayed stream (held until the first event is ready).
fn stream_head(out: &mut Vec<u8>, b: &Buffers, extra: &[String], tags: &Tags<'_>, keep: Outcome) {
    head(out, 200, b"text/event-stream", &passed_headers(&b.up_resp, &b.up_headers, extra, false), tags, keep);
    write::header(out, b"cache-control", b"no-cache");
    b.framing.header(out);
    out.extend_from_slice(b"\r\n");
}

/// After the first byte nothing can be retried: the good events read with the bad piece go
/// out, then an error event in the client's dialect ends the body cleanly.
fn end_with_error(out: &mut Vec<u8>, events: &mut Vec<u8>, b: &Buffers, x: &RelaySpec<'_>, reason: StreamFailure) {
    b.broken.set(Some(reason.as_str()));
    error_event(x.client, x.model, reason.as_str(), x.responses, events);
    b.framing.piece(out, events);
    b.framing.end(out);
}

/// Why a stream failed: the upstream body could not be read, or what it sent is not a stream
/// of its dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFailure {
    /// Reading the body failed (cut, stalled, deadline).
    Read(&'static str),
    /// The events are not a valid stream.
    Fault(StreamFault),
}

impl StreamFailure {
    /// The reason, for the client's error event, the decision log and the 502.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamFailure::Read(reason) => reason,
            StreamFailure::Fault(f) => f.as_str(),
        }
    }
}

/// A whole same-dialect 2xx answer: read to the end and checked to be JSON before anything is
/// written, so a truncated or garbled answer can still fall back. Head and body go out in one
/// write.
pub async fn relay_json(
    r: Relay<'_, '_>,
    b: &mut Buffers,
    x: &RelaySpec<'_>,
    json: &RefCell<JsonScratch>,
) -> Result<(Outcome, bool, Option<Usage>), &'static str> {
    let Relay { client, up, head: resp, tags, keep, timing: t } = r;
    let (dialect, store, account) = (x.upstream, x.store, x.account);
    let mut out = std::mem::take(&mut b.out);
    let passed = passed_headers(&b.up_resp, &b.up_headers, x.pass_headers, true);
    client_head(&mut out, resp.status, &passed, tags, keep);
    let mut body = std::mem::take(&mut b.body);
    body.clear();
    let read = read_whole(up, resp, b, &mut body, t, x.max_answer_bytes).await;
    if read == Err(TOO_LARGE) && !x.retry_too_large {
        b.out = out;
        return Ok(too_large(client, b, x, tags, body).await);
    }
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
    let renamed = x.report_model.and_then(|m| {
        let span = switchyard_wire::json::top_level_value_span(&body, "model")?;
        let mut b = Vec::with_capacity(body.len() + m.len());
        b.extend_from_slice(&body[..span.start]);
        b.extend_from_slice(switchyard_wire::json::quote(m).as_bytes());
        b.extend_from_slice(&body[span.end..]);
        Some(b)
    });
    let sent = renamed.as_deref().unwrap_or(&body);
    write::content_length(&mut out, sent.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(sent);
    if let Some(store) = store
        && let Some(answer) =
            serde_json::from_slice::<Value>(&body).ok().and_then(|v| Completion::parse(dialect, &v, x.model).ok())
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
    max: usize,
) -> Result<bool, &'static str> {
    let mut rbuf = std::mem::take(&mut b.up_resp);
    let result = BodyReader::new(resp).read_all(up, &mut rbuf, body, t, max).await;
    b.up_resp = rbuf;
    result
}

/// Translates a whole (non-streamed) answer or error into the client's dialect.
pub async fn relay_whole(
    r: Relay<'_, '_>,
    b: &mut Buffers,
    x: &RelaySpec<'_>,
) -> Result<(Outcome, bool, Option<Usage>), &'static str> {
    let Relay { client, up, head: resp, tags, keep, timing: t } = r;
    // Captured before the body is read: reading reuses the buffer the header offsets point into.
    let passed = passed_headers(&b.up_resp, &b.up_headers, x.pass_headers, false);
    let mut body = Vec::new();
    let reusable = match read_whole(up, resp, b, &mut body, t, x.max_answer_bytes).await {
        Ok(reusable) => reusable,
        Err(TOO_LARGE) if x.retry_too_large => return Err(TOO_LARGE),
        Err(TOO_LARGE) => return Ok(too_large(client, b, x, tags, body).await),
        Err(e) => {
            body = Vec::from(e.as_bytes());
            false
        }
    };
    let (status, json, usage) = if (200..300).contains(&resp.status) {
        let parsed: Result<Completion, String> = serde_json::from_slice::<Value>(&body)
            .map_err(|e| e.to_string())
            .and_then(|v| Completion::parse(x.upstream, &v, x.model).map_err(|e| e.to_string()));
        match parsed {
            Ok(mut c) => {
                if let Some(m) = x.report_model {
                    c.model = m.to_string();
                }
                let v = match (x.client, x.responses) {
                    (Dialect::Anthropic, _) => c.to_anthropic(),
                    (Dialect::Responses, Some(meta)) => c.to_responses(meta),
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
        let err = UpstreamError::parse(x.upstream, resp.status, &body).for_client(x.secrets);
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
    Ok((outcome, reusable, usage))
}

/// What `BodyReader::read_all` says of an answer over its limit.
const TOO_LARGE: &str = crate::upstream::body::TOO_LARGE;

/// An answer over `upstream.max_answer_bytes`: a 502 `upstream_answer_too_large` in the
/// client's dialect, and the connection closed (the rest of the answer is not read). The
/// provider has billed what it sent, so the prompt estimate and the received bytes (at four a
/// token) are charged.
async fn too_large(
    client: &mut ClientConn,
    b: &mut Buffers,
    x: &RelaySpec<'_>,
    tags: &Tags<'_>,
    received: Vec<u8>,
) -> (Outcome, bool, Option<Usage>) {
    let message =
        format!("the upstream answer is larger than upstream.max_answer_bytes ({} bytes)", x.max_answer_bytes);
    let err = UpstreamError { kind: switchyard_wire::ErrorKind::AnswerTooLarge, message };
    let bytes = serde_json::to_vec(&err.render(x.client)).unwrap_or_default();
    let usage = Usage {
        prompt: x.prompt_estimate,
        completion: switchyard_wire::text::estimate_tokens(received.len()) as u64,
        ..Usage::default()
    };
    b.broken.set(Some("the upstream answer was too large"));
    let mut out = std::mem::take(&mut b.out);
    head(&mut out, 502, b"application/json", &[], tags, Outcome::Close);
    write::content_length(&mut out, bytes.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&bytes);
    if let Some(f) = x.account {
        f(usage);
    }
    let _ = flush(client, &mut out, &b.first_write).await;
    b.out = out;
    (Outcome::Close, false, Some(usage))
}
