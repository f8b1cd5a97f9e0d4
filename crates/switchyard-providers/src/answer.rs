//! One pass over a whole (non-streamed) answer: checks that it is JSON and reads its top-level
//! token usage on the way, without building a DOM.
//!
//! Why: the relay used to check the answer with one parse, find the `usage` span with a
//! second scan and parse that span into a `serde_json::Value` (a third pass, allocating);
//! `cargo bench -p switchyard-bench --bench hot_path -- answer` has the before and after.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::{Dialect, Usage};

/// Checks that `body` is one JSON value and returns the usage in it, if it is an object with
/// exactly one top-level `usage` (OpenAI names) or, for [`Dialect::Anthropic`], Anthropic's.
pub fn scan_answer(body: &[u8], dialect: Dialect) -> Result<Option<Usage>, serde_json::Error> {
    // JSON text is UTF-8; skipped strings are not checked by serde_json, so check it all first
    // (found by fuzzing against a full parse; the old `IgnoredAny` check let such answers by).
    let text = std::str::from_utf8(body).map_err(|_| serde::de::Error::custom("the answer is not UTF-8"))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let top = de::Deserialize::deserialize(&mut de).map(|o: Object<Top>| o.0)?;
    de.end()?;
    Ok(match top {
        Top { usage: Some(raw), repeated: false } => Some(match dialect {
            Dialect::Anthropic => Usage {
                prompt: raw.input_tokens + raw.cache_read_input_tokens + raw.cache_creation_input_tokens,
                completion: raw.output_tokens,
                cache_read: raw.cache_read_input_tokens,
                cache_write: raw.cache_creation_input_tokens,
                reasoning: 0,
            },
            _ => Usage {
                prompt: raw.prompt_tokens,
                completion: raw.completion_tokens,
                cache_read: raw.cached_tokens,
                cache_write: 0,
                reasoning: raw.reasoning_tokens,
            },
        }),
        _ => None,
    })
}

/// The top level: the `usage` member and whether it appeared more than once.
#[derive(Default)]
struct Top {
    usage: Option<RawUsage>,
    repeated: bool,
}

/// Every count either dialect puts in `usage`; a count that is not an unsigned integer reads
/// as 0 (as `Value::as_u64` did), and a repeated member keeps its last value.
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

/// Which member a key names, compared without allocating (escaped keys arrive decoded).
enum Key {
    Usage,
    Prompt,
    Completion,
    PromptDetails,
    CompletionDetails,
    Cached,
    Reasoning,
    Input,
    Output,
    CacheRead,
    CacheCreation,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "usage" => Key::Usage,
                    "prompt_tokens" => Key::Prompt,
                    "completion_tokens" => Key::Completion,
                    "prompt_tokens_details" => Key::PromptDetails,
                    "completion_tokens_details" => Key::CompletionDetails,
                    "cached_tokens" => Key::Cached,
                    "reasoning_tokens" => Key::Reasoning,
                    "input_tokens" => Key::Input,
                    "output_tokens" => Key::Output,
                    "cache_read_input_tokens" => Key::CacheRead,
                    "cache_creation_input_tokens" => Key::CacheCreation,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// Fills itself from the members of a JSON object (as [`Object`]); an unsigned integer gives
/// [`Members::from_u64`], any other non-object value `Self::default()`.
trait Members: Default {
    /// Reads the value of member `key` (by default: checks it and drops it).
    fn member<'de, A: MapAccess<'de>>(&mut self, _key: Key, map: &mut A) -> Result<(), A::Error> {
        map.next_value::<Skip>()?;
        Ok(())
    }

    /// What an unsigned integer in this place reads as.
    fn from_u64(_n: u64) -> Self {
        Self::default()
    }
}

/// Any JSON value read into `T` through [`Members`]. Every value is checked as strictly as a
/// full parse (strings decoded, numbers in range): serde_json's `IgnoredAny` skips strings and
/// numbers without those checks.
struct Object<T>(T);

impl<'de, T: Members> de::Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Members> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
                Ok(T::from_u64(n))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
                Ok(T::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
                Ok(T::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
                Ok(T::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
                Ok(T::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<T, E> {
                Ok(T::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(T::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
                let mut t = T::default();
                while let Some(k) = map.next_key::<Key>()? {
                    t.member(k, &mut map)?;
                }
                Ok(t)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData)).map(Object)
    }
}

/// A value that is checked and dropped.
#[derive(Default)]
struct Nothing;
impl Members for Nothing {}
type Skip = Object<Nothing>;

/// A count: an unsigned integer, anything else is 0.
#[derive(Default)]
struct Count(u64);
impl Members for Count {
    fn from_u64(n: u64) -> Count {
        Count(n)
    }
}

impl Members for Top {
    fn member<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        match key {
            Key::Usage => {
                let u = map.next_value::<Object<RawUsage>>()?.0;
                self.repeated |= self.usage.is_some();
                self.usage = Some(u);
            }
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl Members for RawUsage {
    fn member<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        let slot = match key {
            Key::Prompt => &mut self.prompt_tokens,
            Key::Completion => &mut self.completion_tokens,
            Key::Input => &mut self.input_tokens,
            Key::Output => &mut self.output_tokens,
            Key::CacheRead => &mut self.cache_read_input_tokens,
            Key::CacheCreation => &mut self.cache_creation_input_tokens,
            Key::PromptDetails => {
                self.cached_tokens = map.next_value::<Object<Details>>()?.0.cached_tokens;
                return Ok(());
            }
            Key::CompletionDetails => {
                self.reasoning_tokens = map.next_value::<Object<Details>>()?.0.reasoning_tokens;
                return Ok(());
            }
            _ => {
                map.next_value::<Skip>()?;
                return Ok(());
            }
        };
        *slot = map.next_value::<Object<Count>>()?.0.0;
        Ok(())
    }
}

/// The counts a `*_details` object may hold (each read where OpenAI puts it).
#[derive(Default)]
struct Details {
    cached_tokens: u64,
    reasoning_tokens: u64,
}

impl Members for Details {
    fn member<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        let slot = match key {
            Key::Cached => &mut self.cached_tokens,
            Key::Reasoning => &mut self.reasoning_tokens,
            _ => {
                map.next_value::<Skip>()?;
                return Ok(());
            }
        };
        *slot = map.next_value::<Object<Count>>()?.0.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
}
