//! Dialect translation: one stream event for each (upstream, client) pair, and a 1 KB request.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchyard_bench::{chat_body, prompt_1k};
use switchyard_wire::request::{anthropic_to_openai, openai_to_anthropic, openai_to_gemini};
use switchyard_wire::{Delta, Dialect, StreamDecoder, StreamEncoder};

/// (upstream dialect, event name, data) of one text token event.
fn token_event(d: Dialect) -> (Option<&'static [u8]>, &'static [u8]) {
    match d {
        Dialect::OpenAi => (
            None,
            br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" tok"},"logprobs":null,"finish_reason":null}]}"#,
        ),
        Dialect::Anthropic => (
            Some(b"content_block_delta"),
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" tok"}}"#,
        ),
        Dialect::Gemini => (
            None,
            br#"{"candidates":[{"content":{"parts":[{"text":" tok"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5},"modelVersion":"gemini-2.5-flash","responseId":"abc"}"#,
        ),
        Dialect::Responses => (
            Some(b"response.output_text.delta"),
            br#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":" tok","sequence_number":4}"#,
        ),
    }
}

fn stream_events(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream_event");
    for up in [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini] {
        for client in [Dialect::OpenAi, Dialect::Anthropic] {
            let (name, data) = token_event(up);
            let mut dec = StreamDecoder::new(up, "m");
            let mut enc = StreamEncoder::new(client, false, "m");
            let mut out = Vec::with_capacity(1024);
            // Past the start event, so the loop measures a steady-state token.
            enc.push(&Delta::Start { id: "x".into(), model: "m".into() }, &mut out);
            let mut deltas = Vec::new();
            dec.event(name, data, &mut deltas).unwrap();
            g.bench_function(format!("{up:?}_to_{client:?}"), |b| {
                b.iter(|| {
                    out.clear();
                    deltas.clear();
                    dec.event(name, black_box(data), &mut deltas).unwrap();
                    for d in &deltas {
                        enc.push(d, &mut out);
                    }
                })
            });
        }
    }
    g.finish();
}

fn requests(c: &mut Criterion) {
    let body = chat_body("m", &prompt_1k(), 0);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut g = c.benchmark_group("request_1kb");
    g.bench_function("openai_to_anthropic", |b| {
        b.iter(|| serde_json::to_vec(&openai_to_anthropic(black_box(&v), "claude").unwrap()).unwrap())
    });
    g.bench_function("openai_to_gemini", |b| {
        b.iter(|| serde_json::to_vec(&openai_to_gemini(black_box(&v)).unwrap()).unwrap())
    });
    let a = openai_to_anthropic(&v, "claude").unwrap();
    g.bench_function("anthropic_to_openai", |b| {
        b.iter(|| serde_json::to_vec(&anthropic_to_openai(black_box(&a)).unwrap()).unwrap())
    });
    g.bench_function("parse_openai_body", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body.as_bytes())).unwrap())
    });
    g.finish();
}

criterion_group!(benches, stream_events, requests);
criterion_main!(benches);
