//! Streams: SSE bytes from any dialect decoded to deltas and re-encoded for each client dialect.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_http::SseDecoder;
use switchyard_wire::{Dialect, StreamDecoder, StreamEncoder};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let up = [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini][sel as usize % 3];
    let client = if sel & 4 == 0 { Dialect::OpenAi } else { Dialect::Anthropic };
    let mut sse = SseDecoder::new();
    sse.push(body);
    let mut dec = StreamDecoder::new(up, "m");
    let mut enc = StreamEncoder::new(client, sel & 8 != 0, "m");
    let mut deltas = Vec::new();
    let mut out = Vec::new();
    while let Some(ev) = sse.next_event() {
        let data = ev.data().unwrap_or_default();
        deltas.clear();
        if dec.event(ev.event(), &data, &mut deltas).is_err() {
            enc.error("api_error", "bad event", &mut out);
            return;
        }
        for d in &deltas {
            enc.push(d, &mut out);
        }
    }
    deltas.clear();
    dec.end(&mut deltas);
    for d in &deltas {
        enc.push(d, &mut out);
    }
    enc.finish(&mut out);
    // Every event the encoder wrote is itself well-framed SSE with JSON data.
    let mut check = SseDecoder::new();
    check.push(&out);
    while let Some(ev) = check.next_event() {
        if let Some(d) = ev.data() {
            if d.as_ref() != b"[DONE]" {
                serde_json::from_slice::<serde_json::Value>(&d).expect("encoder writes JSON");
            }
        }
    }
});
