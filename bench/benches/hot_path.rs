//! Request-path pieces that do not route: HTTP head parse, request view, model rewrite,
//! chunked decoding and SSE splitting.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchyard_bench::{SHORT, chat_body, conversation_32k, prompt_1k};
use switchyard_http::head::Limits;
use switchyard_http::{ChunkedDecoder, SseDecoder, parse_request, write};
use switchyard_wire::answer::answer_usage;
use switchyard_wire::view::rewrite_model;
use switchyard_wire::{Dialect, Usage};
use switchyard_wire::{JsonScratch, RequestView};

const HEAD: &[u8] = b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: OpenAI/Python 1.51.0\r\nAccept: application/json\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-0123456789abcdef\r\nX-Stainless-Lang: python\r\nX-Stainless-Package-Version: 1.51.0\r\nX-Stainless-Os: Linux\r\nX-Stainless-Arch: x64\r\nX-Stainless-Runtime: CPython\r\nX-Stainless-Runtime-Version: 3.11.7\r\nContent-Length: 1234\r\n\r\n";

fn http(c: &mut Criterion) {
    let mut headers = Vec::new();
    c.bench_function("head_parse/openai_sdk_13_headers", |b| {
        b.iter(|| parse_request(black_box(HEAD), Limits::default(), &mut headers).unwrap().unwrap())
    });
}

fn view(c: &mut Criterion) {
    let mut g = c.benchmark_group("request_view");
    for (name, body) in [
        ("short", chat_body("auto", SHORT, 0)),
        ("1kb", chat_body("auto", &prompt_1k(), 0)),
        ("32kb_conversation", conversation_32k("auto")),
        // The OpenAI Python SDK's key order: `messages` before `model`.
        ("32kb_conversation_model_last", {
            let b = conversation_32k("auto");
            let rest = b.strip_prefix(r#"{"model":"auto","#).expect("model first");
            format!(r#"{{{},"model":"auto"}}"#, &rest[..rest.len() - 1])
        }),
        // The load test's 16 KB body: one message of one long string.
        ("16kb_one_message", chat_body("auto", &"x".repeat(16_300), 0)),
    ] {
        // As the gateway reads it: into the connection's view, whose strings keep their memory.
        let mut scratch = JsonScratch::default();
        let mut view = RequestView::default();
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| b.iter(|| view.parse_from(black_box(body.as_bytes()), &mut scratch).unwrap()));
    }
    // A request that names a model (no route, no decision log): the prompt's text is not copied.
    for (name, body) in [
        ("1kb_named_model", chat_body("m", &prompt_1k(), 0)),
        ("16kb_one_message_named_model", chat_body("m", &"x".repeat(16_300), 0)),
    ] {
        let mut scratch = JsonScratch::default();
        let mut view = RequestView::default();
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| view.parse_from_if(black_box(body.as_bytes()), &mut scratch, &|_| false).unwrap())
        });
    }
    g.finish();
}

fn rewrite(c: &mut Criterion) {
    let body = chat_body("auto", &prompt_1k(), 0);
    let v = RequestView::parse(body.as_bytes(), &mut JsonScratch::default()).unwrap();
    let mut out = Vec::with_capacity(body.len() + 64);
    c.bench_function("model_rewrite/1kb", |b| {
        b.iter(|| {
            out.clear();
            rewrite_model(black_box(body.as_bytes()), &v, b"\"gpt-4o-mini\"", &mut out);
        })
    });
}

/// One streamed chat chunk as an upstream sends it, chunk-framed.
fn event(i: usize) -> Vec<u8> {
    let data = format!(
        "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" tok{i}\"}},\"finish_reason\":null}}]}}\n\n"
    );
    let mut framed = Vec::new();
    write::chunk(&mut framed, data.as_bytes());
    framed
}

fn stream(c: &mut Criterion) {
    let ev = event(7);
    let mut out = Vec::with_capacity(512);
    c.bench_function("sse_relay/dechunk_and_rechunk_one_event", |b| {
        b.iter(|| {
            out.clear();
            let mut d = ChunkedDecoder::new();
            d.feed(black_box(&ev), |data| write::chunk(&mut out, data)).unwrap();
        })
    });
    // Every pass-through event's text is measured for the charge of a stream cut short.
    let chunk = br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}"#;
    c.bench_function("sse_pump/text_value_bytes_one_chunk", |b| {
        b.iter(|| switchyard_wire::pump::text_value_bytes(black_box(chunk)))
    });
    let framed = event(7);
    let raw = &framed[framed.iter().position(|&b| b == b'\n').unwrap() + 1..framed.len() - 2];
    let mut dec = SseDecoder::new();
    c.bench_function("sse_decode/one_event", |b| {
        b.iter(|| {
            dec.push(black_box(raw));
            let e = dec.next_event().unwrap();
            black_box(e.data());
        })
    });
}

/// A cache hit without the socket: canonical key of a 1 KB request, shard lookup, and the
/// stored answer rendered as the client's JSON body.
fn cache_hit(c: &mut Criterion) {
    use switchyard_cache::cache::{ResponseCache, canonical_key};
    use switchyard_wire::{Completion, FinishReason, Usage};
    let body = chat_body("auto", &prompt_1k(), 0);
    let mut scratch = Vec::new();
    let cache: ResponseCache<Completion> = ResponseCache::new(64 << 20);
    let answer = Completion {
        id: "chatcmpl-1".into(),
        model: "gpt-4o-mini".into(),
        text: "word ".repeat(200),
        tool_calls: Vec::new(),
        finish: FinishReason::Stop,
        usage: Usage { prompt: 250, completion: 200, ..Usage::default() },
    };
    // Filled like a busy cache, so the probe is not into an empty shard.
    for i in 0..10_000 {
        cache.insert(format!("other-{i}").into_bytes(), answer.clone(), 1200, u64::MAX);
    }
    let key = canonical_key("auto", body.as_bytes(), 0.5, &mut scratch).unwrap();
    cache.insert(key, answer, 1200, u64::MAX);
    let mut g = c.benchmark_group("cache_hit");
    g.bench_function("key_1kb", |b| b.iter(|| canonical_key("auto", black_box(body.as_bytes()), 0.5, &mut scratch)));
    g.bench_function("key_lookup_render_1kb", |b| {
        b.iter(|| {
            let key = canonical_key("auto", black_box(body.as_bytes()), 0.5, &mut scratch).unwrap();
            let hit = cache.get(&key, 0).unwrap();
            serde_json::to_vec(&hit.to_openai()).unwrap()
        })
    });
    // The semantic path after an exact miss: the context hash and text, the text's vector and a
    // scan of a full shard of one context (the worst case: 256 prompts under one system prompt).
    use switchyard_cache::cache::semantic_parts;
    use switchyard_cache::semantic_cache::{PromptVector, SemanticIndex};
    let idx = SemanticIndex::new(4096);
    let faq = |i: usize| chat_body("auto", &format!("How do I change the setting number {i} of my account?"), 0);
    let (context, _) = semantic_parts("auto", faq(0).as_bytes(), 0.5, &mut scratch).unwrap().unwrap();
    for i in 0..256 {
        let (_, text) = semantic_parts("auto", faq(i).as_bytes(), 0.5, &mut scratch).unwrap().unwrap();
        idx.insert(context, PromptVector::of(&text).unwrap(), format!("k{i}").into_bytes(), u64::MAX, 0);
    }
    let probe = chat_body("auto", "how can I change setting number 17 of my account", 0);
    g.bench_function("semantic_parts_vector_nearest_256", |b| {
        b.iter(|| {
            let (ctx, text) = semantic_parts("auto", black_box(probe.as_bytes()), 0.5, &mut scratch).unwrap().unwrap();
            idx.nearest(ctx, &PromptVector::of(&text).unwrap(), 0.8, 1)
        })
    });
    g.finish();
}

/// What every whole (non-streamed) same-dialect answer gets before it is relayed: a JSON check
/// (so a broken answer can still fall back) and its usage read. Before: the check, a scan for
/// the `usage` span and a `Value` parse of it; then one serde_json pass (0.36 µs);
/// now a simd-json tape in the worker's reused buffers (`JsonScratch`, the request view's).
fn answer_check(c: &mut Criterion) {
    let answer = format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{{"index":0,"message":{{"role":"assistant","content":"{}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":250,"completion_tokens":200,"total_tokens":450}}}}"#,
        "word ".repeat(180)
    );
    c.bench_function("answer_check/1kb/three_passes", |b| {
        b.iter(|| {
            let body = black_box(answer.as_bytes());
            serde_json::from_slice::<serde::de::IgnoredAny>(body).unwrap();
            let span = switchyard_wire::json::top_level_value_span(body, "usage").unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body[span]).unwrap();
            Usage::from_openai(&v)
        })
    });
    let mut scratch = JsonScratch::default();
    c.bench_function("answer_check/1kb/tape", |b| {
        b.iter(|| {
            scratch.with_tape(black_box(answer.as_bytes()), |a| answer_usage(a, Dialect::OpenAi)).unwrap().unwrap()
        })
    });
}

criterion_group!(benches, http, view, rewrite, stream, cache_hit, answer_check);
criterion_main!(benches);
