//! Request translation in every direction: arbitrary JSON never panics, and what comes out is
//! serialisable JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_wire::request::{anthropic_to_openai, openai_to_anthropic, openai_to_gemini};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(out) = openai_to_anthropic(&v, "claude-fuzz") {
        serde_json::to_vec(&out).unwrap();
    }
    if let Ok(out) = openai_to_gemini(&v) {
        serde_json::to_vec(&out).unwrap();
    }
    if let Ok(hub) = anthropic_to_openai(&v) {
        // An Anthropic request that became OpenAI-shaped can go back out to either.
        let _ = openai_to_anthropic(&hub, "claude-fuzz");
        let _ = openai_to_gemini(&hub);
    }
});
