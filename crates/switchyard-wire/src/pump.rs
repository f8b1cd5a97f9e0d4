//! The event pump: an upstream SSE body in, the client's events out, sans I/O.
//!
//! Bytes of the upstream body are fed piece by piece as they arrive; each call appends the
//! events to send to the client (translated to its dialect, or passed through untouched) and
//! keeps the usage seen so far and, when asked, the whole answer. The gateway's relay is a loop
//! around it: read a piece, `feed`, write what came out.
//!
//! Same dialect on both sides, only the events that carry usage or end the stream are parsed
//! (OpenAI's usage chunk and `[DONE]`, Anthropic's `message_*` events); the rest get a framing
//! check (a JSON object's braces), which catches truncated or non-JSON data without a parse per
//! token.

use std::sync::LazyLock;

use memchr::memmem;
use switchyard_http::SseDecoder;

use crate::responses::ResponsesMeta;
use crate::{Completion, CompletionBuilder, Delta, Dialect, StreamDecoder, StreamEncoder, Usage};

// Searchers built once: constructing one per event showed up at ~3 % of the streaming profile.
static USAGE: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"usage\":{"));
static USAGE_SPACED: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"usage\": {"));
static NO_CHOICES: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"choices\":[]"));
/// The fields that carry text or tool arguments in the three dialects' events (`delta` is a
/// Responses text or arguments delta; elsewhere an object, 0 bytes). Built once: a searcher
/// per field per event was 257 ns of every pass-through event's 6-field scan, against
/// 66 ns now (`cargo bench -p switchyard-bench --bench hot_path -- sse_pump`).
static TEXT_FIELDS: LazyLock<[memmem::Finder<'static>; 6]> = LazyLock::new(|| {
    [&b"\"content\":"[..], b"\"text\":", b"\"arguments\":", b"\"partial_json\":", b"\"thinking\":", b"\"delta\":"]
        .map(memmem::Finder::new)
});

/// Largest single SSE event held while waiting for its end.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Why an upstream stream cannot be relayed further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.as_str())]
pub enum StreamFault {
    /// An event's data is not what the upstream's dialect sends.
    InvalidEvent,
    /// An event grew past `MAX_EVENT_BYTES` without ending.
    OversizedEvent,
    /// The body ended before the dialect's last event.
    Unfinished,
}

impl StreamFault {
    /// The message, as a static string (for the decision log and error events).
    pub fn as_str(self) -> &'static str {
        match self {
            StreamFault::InvalidEvent => "the upstream sent an invalid stream event",
            StreamFault::OversizedEvent => "the upstream sent an oversized stream event",
            StreamFault::Unfinished => "the upstream stream ended without finishing",
        }
    }
}

/// What a pump relays, and for whom.
#[derive(Debug, Clone, Copy)]
pub struct PumpSpec<'a> {
    /// The client's dialect.
    pub client: Dialect,
    /// The upstream's dialect.
    pub upstream: Dialect,
    /// The client's OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// The gateway added `include_usage` upstream: drop the usage-only chunk it causes.
    pub drop_usage_chunk: bool,
    /// Model name for translated events when the upstream gives none.
    pub model: &'a str,
    /// Keep the whole answer (every event is then decoded).
    pub collect: bool,
    /// A Responses API client's answer id and echo (its events are built from them).
    pub responses: Option<&'a ResponsesMeta>,
    /// The model name every event reports instead of the upstream's (`report_model`).
    pub report_model: Option<&'a str>,
}

/// One stream's translation state.
pub struct EventPump {
    translate: bool,
    upstream: Dialect,
    drop_usage_chunk: bool,
    dec: StreamDecoder,
    enc: StreamEncoder,
    sse: SseDecoder,
    deltas: Vec<Delta>,
    usage: Option<Usage>,
    collected: Option<CompletionBuilder>,
    /// Bytes of answer text and tool arguments relayed so far: what an early end is charged by.
    text_bytes: usize,
    /// `report_model` as a JSON string literal, spliced into passed-through events.
    report: Option<Vec<u8>>,
}

impl EventPump {
    /// A pump at the start of a stream.
    pub fn new(spec: PumpSpec<'_>) -> EventPump {
        EventPump {
            translate: spec.client != spec.upstream,
            upstream: spec.upstream,
            drop_usage_chunk: spec.drop_usage_chunk,
            dec: StreamDecoder::new(spec.upstream, spec.model),
            enc: match spec.responses {
                Some(meta) if spec.client == Dialect::Responses => {
                    StreamEncoder::for_responses(meta.clone(), spec.model)
                }
                _ => StreamEncoder::new(spec.client, spec.include_usage, spec.model),
            },
            sse: SseDecoder::new(),
            deltas: Vec::new(),
            usage: None,
            collected: spec.collect.then(CompletionBuilder::new),
            text_bytes: 0,
            report: spec.report_model.map(|m| crate::json::quote(m).into_bytes()),
        }
        .reporting(spec.report_model)
    }

    fn reporting(mut self, model: Option<&str>) -> EventPump {
        if let Some(m) = model {
            self.enc = self.enc.reporting_model(m);
        }
        self
    }

    /// The same pump with the translated events' `created` time fixed (see
    /// [`StreamEncoder::created_at`]).
    pub fn created_at(mut self, secs: u64) -> EventPump {
        self.enc = self.enc.created_at(secs);
        self
    }

    /// Feeds one piece of the upstream body; appends the client's events to `events`. On a
    /// fault, the events of the piece before the bad one are in `events`.
    pub fn feed(&mut self, piece: &[u8], events: &mut Vec<u8>) -> Result<(), StreamFault> {
        self.sse.push(piece);
        while let Some(ev) = self.sse.next_event() {
            let name = ev.event();
            let Some(data) = ev.data() else {
                // Comments and keep-alives carry no data.
                if !self.translate {
                    events.extend_from_slice(ev.raw);
                }
                continue;
            };
            let decode = self.translate
                || self.collected.is_some()
                || data.as_ref() == b"[DONE]"
                || (self.upstream == Dialect::Anthropic && name.is_some_and(|n| n.starts_with(b"message_")))
                || (self.upstream == Dialect::Responses && name.is_none_or(responses_final))
                || USAGE.find(&data).is_some()
                || USAGE_SPACED.find(&data).is_some();
            if decode {
                self.deltas.clear();
                self.dec.event(name, &data, &mut self.deltas).map_err(|_| StreamFault::InvalidEvent)?;
                self.text_bytes += self.deltas.iter().map(delta_text_bytes).sum::<usize>();
                absorb(&self.deltas, &mut self.usage, &mut self.collected, self.translate, &mut self.enc, events);
            } else if !braced(&data) {
                return Err(StreamFault::InvalidEvent);
            } else {
                self.text_bytes += text_value_bytes(&data);
            }
            if !self.translate {
                // Same dialect: pass the event on untouched, except the usage chunk the
                // gateway asked for on the client's behalf.
                let usage_only = self.drop_usage_chunk && NO_CHOICES.find(&data).is_some();
                if !usage_only {
                    let renamed =
                        self.report.as_ref().is_some_and(|m| crate::json::replace_model_string(ev.raw, m, events));
                    if !renamed {
                        events.extend_from_slice(ev.raw);
                    }
                }
            }
        }
        if self.sse.pending() > MAX_EVENT_BYTES {
            return Err(StreamFault::OversizedEvent);
        }
        Ok(())
    }

    /// The upstream body ended: appends the last events, or says the stream was cut short.
    pub fn end(&mut self, events: &mut Vec<u8>) -> Result<(), StreamFault> {
        self.deltas.clear();
        self.dec.end(&mut self.deltas);
        absorb(&self.deltas, &mut self.usage, &mut self.collected, self.translate, &mut self.enc, events);
        if !self.dec.complete() {
            return Err(StreamFault::Unfinished);
        }
        if self.translate {
            self.enc.finish(events);
        }
        Ok(())
    }

    /// The usage the upstream reported so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// What a stream that ended early is charged: the upstream's own figures where it sent
    /// them (Anthropic reports the prompt at the start), else `prompt_estimate`; and for the
    /// output, the larger of what it reported and the relayed text at four bytes a token.
    pub fn usage_so_far(&self, prompt_estimate: u64) -> Usage {
        let relayed = crate::text::estimate_tokens(self.text_bytes) as u64;
        let mut u = self.usage.unwrap_or_else(|| self.dec.usage_so_far());
        if u.prompt == 0 {
            u.prompt = prompt_estimate;
        }
        u.completion = u.completion.max(relayed);
        u
    }

    /// The whole answer, when collected and complete.
    pub fn into_completion(self) -> Option<Completion> {
        self.collected.and_then(CompletionBuilder::finish)
    }
}

/// Whether a Responses event is one that ends the stream or carries the answer's usage.
fn responses_final(name: &[u8]) -> bool {
    matches!(name, b"response.created" | b"response.completed" | b"response.incomplete" | b"response.failed" | b"error")
}

/// Appends an error event that ends a stream cleanly in the client's dialect (`responses`
/// names a Responses client's answer).
pub fn error_event(
    client: Dialect,
    model: &str,
    reason: &str,
    responses: Option<&ResponsesMeta>,
    events: &mut Vec<u8>,
) {
    let mut e = match responses {
        Some(meta) => StreamEncoder::for_responses(meta.clone(), model),
        None if client == Dialect::Responses => {
            StreamEncoder::for_responses(ResponsesMeta::of(&serde_json::Value::Null, "resp_error".into()), model)
        }
        None => StreamEncoder::new(client, false, model),
    };
    e.push(&Delta::Start { id: "error".into(), model: model.into() }, &mut Vec::new());
    e.error("api_error", reason, events);
}

fn absorb(
    deltas: &[Delta],
    usage: &mut Option<Usage>,
    collected: &mut Option<CompletionBuilder>,
    translate: bool,
    enc: &mut StreamEncoder,
    events: &mut Vec<u8>,
) {
    for d in deltas {
        if let Delta::Usage(u) = d {
            *usage = Some(*u);
        }
        if let Some(c) = collected.as_mut() {
            c.push(d);
        }
        if translate {
            enc.push(d, events);
        }
    }
}

fn delta_text_bytes(d: &Delta) -> usize {
    match d {
        Delta::Text(t) => t.len(),
        Delta::ToolArgs { fragment, .. } => fragment.len(),
        _ => 0,
    }
}

/// Bytes of the answer text in a pass-through event, found without parsing it: the string
/// values of the fields that carry text or tool arguments in the three dialects (`content`,
/// `text`, `arguments`, `partial_json`, `thinking`), escapes counted as written.
pub fn text_value_bytes(data: &[u8]) -> usize {
    let mut total = 0;
    for field in TEXT_FIELDS.iter() {
        let mut at = 0;
        while let Some(i) = field.find(&data[at..]) {
            at += i + field.needle().len();
            total += string_len_at(&data[at..]);
        }
    }
    total
}

/// The length of the JSON string that starts `s` (after spaces), 0 when none does.
fn string_len_at(s: &[u8]) -> usize {
    let s = s.trim_ascii_start();
    if s.first() != Some(&b'"') {
        return 0;
    }
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return i - 1,
            _ => i += 1,
        }
    }
    0
}

/// Whether event data is framed like a JSON object (cheap check for the pass-through path).
fn braced(data: &[u8]) -> bool {
    let d = data.trim_ascii();
    d.first() == Some(&b'{') && d.last() == Some(&b'}')
}

#[cfg(test)]
mod tests;
