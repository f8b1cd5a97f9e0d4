//! Whole answers from each dialect, rendered in each client dialect, plus error bodies; the
//! relay's answer check (a simd-json tape in reused buffers) must agree with a full serde_json
//! parse on validity (below serde_json's nesting limit of 128) and on usage.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

use switchyard_wire::JsonScratch;
use switchyard_wire::answer::answer_usage;
use switchyard_wire::{Completion, Dialect, UpstreamError, Usage};

thread_local!(static SCRATCH: RefCell<JsonScratch> = RefCell::default());

fuzz_target!(|data: &[u8]| {
    for d in [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini] {
        let e = UpstreamError::parse(d, 500, data);
        serde_json::to_vec(&e.render(Dialect::OpenAi)).unwrap();
        serde_json::to_vec(&e.render(Dialect::Anthropic)).unwrap();
    }
    let parsed = serde_json::from_slice::<serde_json::Value>(data);
    for d in [Dialect::OpenAi, Dialect::Anthropic] {
        let scanned = SCRATCH.with(|s| s.borrow_mut().with_tape(data, |a| answer_usage(a, d)));
        // simd-json nests to 1,024: deeper than serde_json's 128 is valid JSON it may accept.
        let too_deep = parsed.as_ref().is_err_and(|e| e.to_string().starts_with("recursion limit exceeded"));
        if !too_deep {
            assert_eq!(scanned.is_ok(), parsed.is_ok(), "{scanned:?} / {parsed:?}");
        }
        if let (Ok(Some(u)), Ok(v)) = (scanned, &parsed) {
            // A DOM keeps the last of repeated keys; the scan agrees whenever `usage` is single.
            let raw = &v["usage"];
            let want = if d == Dialect::Anthropic { Usage::from_anthropic(raw) } else { Usage::from_openai(raw) };
            assert_eq!(u, want);
        }
    }
    let Ok(v) = parsed else { return };
    for c in [Completion::from_openai(&v), Completion::from_anthropic(&v), Completion::from_gemini(&v, "m")]
        .into_iter()
        .flatten()
    {
        serde_json::to_vec(&c.to_openai()).unwrap();
        serde_json::to_vec(&c.to_anthropic()).unwrap();
    }
});
