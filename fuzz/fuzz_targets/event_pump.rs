//! The event pump: any upstream body, in any dialect pair, split anywhere, gives the same
//! client events, usage and verdict as when fed whole, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_wire::pump::{EventPump, PumpSpec};
use switchyard_wire::Dialect;
use switchyard_wire::responses::ResponsesMeta;

const DIALECTS: [Dialect; 4] = [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini, Dialect::Responses];

fn run(spec: PumpSpec<'_>, pieces: &[&[u8]]) -> (Vec<u8>, Option<String>, Option<(u64, u64)>) {
    // A fixed clock: two runs a second apart would otherwise differ in `created`.
    let mut p = EventPump::new(spec).created_at(1_700_000_000);
    let mut out = Vec::new();
    for piece in pieces {
        if let Err(e) = p.feed(piece, &mut out) {
            return (out, Some(e.to_string()), p.usage().map(|u| (u.prompt, u.completion)));
        }
    }
    let end = p.end(&mut out).err().map(|e| e.to_string());
    let usage = p.usage().map(|u| (u.prompt, u.completion));
    let _ = p.into_completion();
    (out, end, usage)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let meta = ResponsesMeta::of(&serde_json::Value::Null, "resp_fuzz".into());
    let spec = PumpSpec {
        client: DIALECTS[usize::from(data[0] & 3)],
        upstream: DIALECTS[usize::from(data[0] >> 2 & 3)],
        include_usage: data[0] & 0x10 != 0,
        drop_usage_chunk: data[0] & 0x20 != 0,
        model: "m",
        collect: data[0] & 0x40 != 0,
        responses: Some(&meta),
        report_model: (data[0] & 0x80 != 0).then_some("auto"),
    };
    let body = &data[2..];
    let split = usize::from(data[1]).min(body.len());
    let whole = run(spec, &[body]);
    let parts = run(spec, &[&body[..split], &body[split..]]);
    // A fault can only surface at the piece that completes the bad event, so the output so far
    // may differ; a clean run must not depend on where the body was split.
    if whole.1.is_none() && parts.1.is_none() {
        assert_eq!(whole, parts);
    }
});
