//! Whole answers from each dialect, rendered in each client dialect, plus error bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_providers::{Completion, Dialect, UpstreamError};

fuzz_target!(|data: &[u8]| {
    for d in [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini] {
        let e = UpstreamError::parse(d, 500, data);
        serde_json::to_vec(&e.render(Dialect::OpenAi)).unwrap();
        serde_json::to_vec(&e.render(Dialect::Anthropic)).unwrap();
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    for c in [Completion::from_openai(&v), Completion::from_anthropic(&v), Completion::from_gemini(&v, "m")]
        .into_iter()
        .flatten()
    {
        serde_json::to_vec(&c.to_openai()).unwrap();
        serde_json::to_vec(&c.to_anthropic()).unwrap();
    }
});
