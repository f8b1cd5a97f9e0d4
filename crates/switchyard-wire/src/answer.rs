//! The token usage of a whole (non-streamed) answer, read from its simd-json tape.
//!
//! Why a tape: the relay must check that an answer is JSON (a broken one falls back) and read
//! its usage. It did that with one serde_json pass; parsing into the worker's reused simd-json
//! buffers instead (the request view's) does both with warm code and no allocation.
//! `cargo bench -p switchyard-bench --bench hot_path -- answer` has the before and after.
//! simd-json (with `big-int-as-float`) and serde_json agree on which texts are JSON up to
//! serde_json's nesting limit of 128 (deeper answers are accepted here, up to 1,024); the
//! `translate_response` fuzz target and the tests below check it.

use simd_json::prelude::*;
use simd_json::tape::Value as TapeValue;

use crate::{Dialect, Usage};

/// The usage of a parsed answer: `Some` if it is an object with exactly one top-level `usage`
/// (OpenAI names or, for [`Dialect::Anthropic`], Anthropic's). Counts that are not unsigned
/// integers read as 0 (as `Value::as_u64`), and a repeated count keeps its last value.
pub fn answer_usage(answer: TapeValue<'_, '_>, dialect: Dialect) -> Option<Usage> {
    let top = answer.as_object()?;
    let mut usage = None;
    for (k, v) in top.iter() {
        if k == "usage" {
            if usage.is_some() {
                return None; // repeated: ambiguous
            }
            usage = Some(v);
        }
    }
    let raw = RawUsage::read(usage?);
    Some(match dialect {
        Dialect::Anthropic => Usage::anthropic(
            raw.input_tokens,
            raw.output_tokens,
            raw.cache_read_input_tokens,
            raw.cache_creation_input_tokens,
        ),
        // Responses usage counts cached input and reasoning output as OpenAI's chat usage does.
        Dialect::Responses => {
            Usage::openai(raw.input_tokens, raw.output_tokens, raw.cached_tokens, raw.reasoning_tokens)
        }
        _ => Usage::openai(raw.prompt_tokens, raw.completion_tokens, raw.cached_tokens, raw.reasoning_tokens),
    })
}

/// Every count either dialect puts in `usage`.
#[derive(Default)]
struct RawUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    reasoning_tokens: u64,
    input_tokens: u64,
    output_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation_input_tokens: u64,
}

/// A count: an unsigned integer, anything else is 0.
fn count(v: TapeValue<'_, '_>) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The counts of a `*_details` member: (`cached_tokens`, `reasoning_tokens`).
fn details(v: TapeValue<'_, '_>) -> (u64, u64) {
    let (mut cached, mut reasoning) = (0, 0);
    if let Some(o) = v.as_object() {
        for (k, v) in o.iter() {
            match k {
                "cached_tokens" => cached = count(v),
                "reasoning_tokens" => reasoning = count(v),
                _ => {}
            }
        }
    }
    (cached, reasoning)
}

impl RawUsage {
    fn read(v: TapeValue<'_, '_>) -> RawUsage {
        let mut u = RawUsage::default();
        let Some(o) = v.as_object() else { return u };
        for (k, v) in o.iter() {
            match k {
                "prompt_tokens" => u.prompt_tokens = count(v),
                "completion_tokens" => u.completion_tokens = count(v),
                "input_tokens" => u.input_tokens = count(v),
                "output_tokens" => u.output_tokens = count(v),
                "cache_read_input_tokens" => u.cache_read_input_tokens = count(v),
                "cache_creation_input_tokens" => u.cache_creation_input_tokens = count(v),
                "prompt_tokens_details" | "input_tokens_details" => u.cached_tokens = details(v).0,
                "completion_tokens_details" | "output_tokens_details" => u.reasoning_tokens = details(v).1,
                _ => {}
            }
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JsonScratch;
    use serde_json::Value;

    /// The relay's check: parse into reused buffers, read the usage.
    fn scan_answer(body: &[u8], dialect: Dialect) -> Result<Option<Usage>, simd_json::Error> {
        thread_local!(static SCRATCH: std::cell::RefCell<JsonScratch> = Default::default());
        SCRATCH.with(|s| s.borrow_mut().with_tape(body, |v| answer_usage(v, dialect)))
    }

    /// How many top-level `usage` keys a valid body has (a DOM keeps only the last).
    fn usage_keys(body: &[u8]) -> usize {
        use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = usize;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
                let mut n = 0;
                while let Some(k) = map.next_key::<String>()? {
                    n += usize::from(k == "usage");
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(n)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(0)
            }
            fn visit_str<E>(self, _: &str) -> Result<usize, E> {
                Ok(0)
            }
            fn visit_u64<E>(self, _: u64) -> Result<usize, E> {
                Ok(0)
            }
            fn visit_i64<E>(self, _: i64) -> Result<usize, E> {
                Ok(0)
            }
            fn visit_f64<E>(self, _: f64) -> Result<usize, E> {
                Ok(0)
            }
            fn visit_bool<E>(self, _: bool) -> Result<usize, E> {
                Ok(0)
            }
            fn visit_unit<E>(self) -> Result<usize, E> {
                Ok(0)
            }
        }
        serde_json::Deserializer::from_slice(body).deserialize_any(V).unwrap_or(0)
    }

    /// The old three-pass way, as the reference.
    fn reference(body: &[u8], dialect: Dialect) -> Option<Option<Usage>> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let Some(obj) = v.as_object() else { return Some(None) };
        let u = obj.get("usage")?;
        Some(Some(match dialect {
            Dialect::Anthropic => Usage::from_anthropic(u),
            _ => Usage::from_openai(u),
        }))
    }

    #[test]
    fn reads_openai_usage_with_details() {
        let body = br#"{"id":"x","choices":[{"message":{"content":"hi \"usage\": 3"}}],
            "usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,
            "prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},
            "completion_tokens_details":{"reasoning_tokens":2}}}"#;
        let u = scan_answer(body, Dialect::OpenAi).unwrap().unwrap();
        assert_eq!(u, Usage { prompt: 12, completion: 7, cache_read: 4, cache_write: 0, reasoning: 2 });
        assert_eq!(Some(Some(u)), reference(body, Dialect::OpenAi));
    }

    #[test]
    fn reads_anthropic_usage_with_cache_counts() {
        let body = br#"{"type":"message","content":[{"type":"text","text":"hi"}],
            "usage":{"input_tokens":10,"cache_read_input_tokens":5,"cache_creation_input_tokens":2,"output_tokens":3}}"#;
        let u = scan_answer(body, Dialect::Anthropic).unwrap().unwrap();
        assert_eq!(u, Usage { prompt: 17, completion: 3, cache_read: 5, cache_write: 2, reasoning: 0 });
        assert_eq!(Some(Some(u)), reference(body, Dialect::Anthropic));
    }

    #[test]
    fn nested_usage_is_not_the_answers() {
        let body = br#"{"choices":[{"usage":{"prompt_tokens":99}}]}"#;
        assert_eq!(scan_answer(body, Dialect::OpenAi).unwrap(), None);
    }

    #[test]
    fn odd_counts_read_as_zero_like_as_u64() {
        let body = br#"{"usage":{"prompt_tokens":-3,"completion_tokens":2.5,"prompt_tokens_details":null,
            "completion_tokens_details":[1],"total_tokens":"x","input_tokens":{"a":1}}}"#;
        let u = scan_answer(body, Dialect::OpenAi).unwrap().unwrap();
        assert_eq!(u, Usage::default());
        assert_eq!(Some(Some(u)), reference(body, Dialect::OpenAi));
    }

    #[test]
    fn repeated_top_level_usage_is_ambiguous() {
        let body = br#"{"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2}}"#;
        assert_eq!(scan_answer(body, Dialect::OpenAi).unwrap(), None);
    }

    #[test]
    fn any_json_passes_and_broken_json_fails() {
        for ok in [&b"[1,2]"[..], b"3", b"\"s\"", b"null", b" {} ", b"{\"usage\":null}"] {
            assert!(scan_answer(ok, Dialect::OpenAi).is_ok(), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"{"[..],
            b"{\"a\":1,}",
            b"{} x",
            b"",
            b"{\"usage\":{\"prompt_tokens\":1}",
            b"[1,]",
            b"{\"a\":\"\x97\x80\"}",
            b"{\"a\":\"\\u12\"}",
            b"{\"a\":[2e999]}",
        ] {
            assert!(scan_answer(bad, Dialect::OpenAi).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// A tiny xorshift generator: the differential test is deterministic.
    fn next(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    /// A random JSON value leaning on what answers hold: usage objects, counts of every
    /// number shape, escaped keys and strings.
    fn value(s: &mut u64, depth: u32, object: bool, out: &mut Vec<u8>) {
        const NUMS: [&str; 13] = [
            "0",
            "-1",
            "7",
            "12345678901234567890",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
            "1.5e3",
            "-0.0",
            "1e308",
            "2e308",
            "3.0",
            "1E-2",
        ];
        const STRS: [&str; 9] = [
            r#""abc""#,
            r#""\u00e9""#,
            r#""\ud83d\ude00""#,
            r#""\n\t\"""#,
            "\"é漢\"",
            r#""""#,
            r#""usage""#,
            r#""\/""#,
            r#""\u0000""#,
        ];
        const KEYS: [&str; 13] = [
            r#""usage""#,
            r#""\u0075sage""#,
            r#""prompt_tokens""#,
            r#""completion_tokens""#,
            r#""input_tokens""#,
            r#""output_tokens""#,
            r#""cache_read_input_tokens""#,
            r#""cache_creation_input_tokens""#,
            r#""prompt_tokens_details""#,
            r#""completion_tokens_details""#,
            r#""cached_tokens""#,
            r#""reasoning_tokens""#,
            r#""a""#,
        ];
        let pick = |s: &mut u64, n: usize| (next(s) % n as u64) as usize;
        // Objects at the top and under usage-like keys most of the time, so usage is read often.
        let kind = if object { 6 } else { next(s) % if depth > 4 { 5 } else { 7 } };
        match kind {
            0 => out.extend_from_slice(if next(s).is_multiple_of(2) { b"null" } else { b"true" }),
            1 | 2 => out.extend_from_slice(NUMS[pick(s, NUMS.len())].as_bytes()),
            3 | 4 => out.extend_from_slice(STRS[pick(s, STRS.len())].as_bytes()),
            5 => {
                out.push(b'[');
                for i in 0..next(s) % 4 {
                    if i > 0 {
                        out.push(b',');
                    }
                    value(s, depth + 1, false, out);
                }
                out.push(b']');
            }
            _ => {
                out.push(b'{');
                for i in 0..next(s) % 5 {
                    if i > 0 {
                        out.push(b',');
                    }
                    let key = KEYS[pick(s, KEYS.len())];
                    out.extend_from_slice(key.as_bytes());
                    out.push(b':');
                    let nests = key.contains("usage") || key.contains("details");
                    let object = nests && depth < 3 && !next(s).is_multiple_of(4);
                    value(s, depth + 1, object, out);
                }
                out.push(b'}');
            }
        }
    }

    #[test]
    fn agrees_with_a_full_parse_on_generated_and_broken_answers() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"{}[],:\"\\0123456789.eE+-tfnu \t\n\x01\x7f\xc3\xa9\xff\xed\xa0";
        let (mut valid, mut with_usage) = (0, 0);
        for _ in 0..100_000 {
            let mut body = Vec::new();
            let object = !next(&mut s).is_multiple_of(4);
            value(&mut s, 0, object, &mut body);
            for _ in 0..next(&mut s) % 4 {
                let i = (next(&mut s) % (body.len() as u64 + 1)) as usize;
                let c = alphabet[(next(&mut s) % alphabet.len() as u64) as usize];
                match next(&mut s) % 3 {
                    0 => body.insert(i, c),
                    1 if i < body.len() => {
                        body.remove(i);
                    }
                    _ if i < body.len() => body[i] = c,
                    _ => {}
                }
            }
            let full = serde_json::from_slice::<Value>(&body);
            for d in [Dialect::OpenAi, Dialect::Anthropic] {
                let scanned = scan_answer(&body, d);
                let shown = String::from_utf8_lossy(&body);
                assert_eq!(scanned.is_ok(), full.is_ok(), "{shown}: {scanned:?} / {full:?}");
                if let Ok(v) = &full {
                    let want = match usage_keys(&body) {
                        1 => reference(&body, d).flatten(),
                        _ => None,
                    };
                    assert_eq!(scanned.unwrap(), want, "{shown}");
                    valid += 1;
                    with_usage += usize::from(want.is_some() && v["usage"].is_object());
                }
            }
        }
        // The generator must reach both sides and real usage objects, or the test proves little.
        eprintln!("{valid} valid, {with_usage} with usage");
        assert!(valid > 50_000 && valid < 190_000 && with_usage > 5_000, "{valid} valid, {with_usage} with usage");
    }

    #[test]
    fn deep_answers_pass_up_to_simd_jsons_limit() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(scan_answer(deep(200).as_bytes(), Dialect::OpenAi).is_ok());
        assert!(scan_answer(deep(2000).as_bytes(), Dialect::OpenAi).is_err());
    }
}
