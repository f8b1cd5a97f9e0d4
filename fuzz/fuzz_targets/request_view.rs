//! The request view of a chat body, and the model splice that rewrites it: no panic, and a
//! spliced body still parses to the same view with the new model. The parse buffers are
//! reused across bodies of different sizes, as a worker does: reuse must not change a view.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_wire::view::rewrite_model;
use switchyard_wire::{RequestView, JsonScratch};

fuzz_target!(|data: &[u8]| {
    let mut scratch = JsonScratch::default();
    let Ok(view) = RequestView::parse(data, &mut scratch) else {
        return;
    };
    let mut out = Vec::new();
    rewrite_model(data, &view, br#""fuzz-model""#, &mut out);
    let again = RequestView::parse(&out, &mut scratch).expect("a rewritten body still parses");
    assert_eq!(again.model, "fuzz-model");
    assert_eq!(again.stream, view.stream);
    assert_eq!(again.messages, view.messages);
    let reused = RequestView::parse(data, &mut scratch).expect("parsed once already");
    assert_eq!(reused, view);
});
