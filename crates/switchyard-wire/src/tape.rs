//! Reusable simd-json buffers: one per worker, shared by everything that parses JSON on the
//! request path (the request view, the upstream answer's check), so none of it allocates.

use simd_json::tape::{Tape, Value as TapeValue};

/// Reusable buffers for parsing JSON into a simd-json tape: a padded copy of the input
/// (simd-json unescapes strings in place, and the original bytes must stay intact for
/// forwarding), simd-json's stage buffers and the tape. Keep one per worker.
pub struct JsonScratch {
    input: Vec<u8>,
    buffers: simd_json::Buffers,
    tape: Vec<simd_json::Node<'static>>,
}

impl Default for JsonScratch {
    fn default() -> Self {
        JsonScratch { input: Vec::new(), buffers: simd_json::Buffers::new(4096), tape: Vec::new() }
    }
}

/// Inputs above this do not keep their buffers in the scratch (one huge body should not pin
/// its size per worker).
const KEEP_SCRATCH_BYTES: usize = 1 << 20;

impl JsonScratch {
    /// Parses `json` (which must be exactly one JSON value, UTF-8, nested at most 1,024 deep)
    /// and hands its tape to `read`; the tape's memory is kept for the next call.
    pub fn with_tape<R>(
        &mut self,
        json: &[u8],
        read: impl FnOnce(TapeValue<'_, '_>) -> R,
    ) -> Result<R, simd_json::Error> {
        let len = json.len();
        self.input.clear();
        self.input.reserve(len + simd_json::INPUT_PADDING);
        self.input.extend_from_slice(json);
        self.input.resize(len + simd_json::INPUT_PADDING, 0);
        // A tape, not a DOM: no allocation per object or string; filled from our padded copy
        // into reused buffers, so no allocation or second copy per call either.
        // `cargo bench --bench hot_path -- request_view` has the numbers (README).
        let mut tape = Tape(std::mem::take(&mut self.tape)).reset();
        let parsed = simd_json::fill_tape_padded(&mut self.input, len, &mut self.buffers, &mut tape)
            .map(|_| read(tape.as_value()));
        if len <= KEEP_SCRATCH_BYTES {
            self.tape = tape.reset().0;
        } else {
            *self = JsonScratch::default();
        }
        parsed
    }
}

/// What is wrong with a body simd-json refused, in words ("not valid JSON near byte 8 (found
/// '"')") instead of simd-json's variant names. Its kinds are named only where they are exact:
/// simd-json reports a missing comma as "expected object content" and trailing data as an
/// internal error, so those read as plain "not valid JSON" with the position.
pub fn describe_error(e: &simd_json::Error) -> String {
    use simd_json::ErrorType as E;
    let what = match e.error() {
        E::Eof => "the body is empty or ends early",
        E::InvalidEscape | E::InvalidUnicodeEscape | E::InvalidUnicodeCodepoint => "invalid escape in a string",
        E::InvalidUtf8 => "invalid UTF-8",
        E::InvalidNumber | E::InvalidExponent => "invalid number",
        E::ExpectedObjectColon => "expected ':' after an object key",
        E::ExpectedTrue | E::ExpectedFalse | E::ExpectedNull => "invalid literal (true, false or null)",
        E::DepthLimitExceeded => "nested more than 1,024 deep",
        E::InputTooLarge => "too large",
        _ => "not valid JSON",
    };
    match e.character() {
        Some(c) if !c.is_control() => format!("{what} near byte {} (found '{c}')", e.index()),
        _ => format!("{what} near byte {}", e.index()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(body: &str) -> String {
        JsonScratch::default().with_tape(body.as_bytes(), |_| ()).map_err(|e| describe_error(&e)).unwrap_err()
    }

    #[test]
    fn errors_are_described_in_words() {
        for (body, words) in [
            ("{bad", "not valid JSON near byte 1 (found 'b')"),
            (r#"{"a" 1}"#, "expected ':' after an object key near byte 5 (found '1')"),
            (r#"{"a": 1 "b": 2}"#, "not valid JSON near byte 8"),
            (r#"{"a": "x"#, "not valid JSON near byte"),
            (r#"{"a": 1} x"#, "not valid JSON near byte"),
            (r#"{"a": tru}"#, "invalid literal"),
            (r#"{"a": 1.e}"#, "invalid number"),
            (r#"{"a": "\q"}"#, "invalid escape"),
            ("", "the body is empty or ends early near byte 0"),
        ] {
            let e = error_of(body);
            assert!(e.contains(words), "{body:?}: {e}");
            assert!(!e.contains("Expected") && !e.contains("Syntax"), "{body:?}: simd-json's names leak: {e}");
        }
    }
}
