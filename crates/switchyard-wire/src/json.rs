//! Small JSON helpers for building bodies without a serializer on the hot path.

/// Appends `s` as a JSON string literal (with quotes).
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[last..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
                last = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[last..i]);
        out.extend_from_slice(esc);
        last = i + 1;
    }
    out.extend_from_slice(&bytes[last..]);
    out.push(b'"');
}

/// `s` as a JSON string literal.
pub fn quote(s: &str) -> String {
    let mut v = Vec::with_capacity(s.len() + 2);
    push_str(&mut v, s);
    String::from_utf8(v).expect("escaping keeps UTF-8")
}

/// Writes `event` to `out` with the value of its first `"model": "…"` member (a string: a
/// schema's `"model": {…}` property is passed over) replaced by `model_json`, a JSON string
/// literal; false (nothing written) when there is none. In the dialects' events that member
/// is the answer's model: a chunk's, `message_start`'s message's, a Response object's (its
/// `model` comes before its `output` and `tools`).
pub fn replace_model_string(event: &[u8], model_json: &[u8], out: &mut Vec<u8>) -> bool {
    // Built once: this runs on every relayed event of a route that reports its own model.
    static MODEL: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"model\""));
    let mut at = 0;
    while let Some(i) = MODEL.find(&event[at..]) {
        let key_end = at + i + 7;
        at = key_end;
        let rest = &event[key_end..];
        let after_colon = match rest.trim_ascii_start().strip_prefix(b":") {
            Some(r) => r.trim_ascii_start(),
            None => continue,
        };
        if after_colon.first() != Some(&b'"') {
            continue;
        }
        let start = event.len() - after_colon.len();
        let mut j = start + 1;
        while j < event.len() {
            match event[j] {
                b'\\' => j += 2,
                b'"' => {
                    out.extend_from_slice(&event[..start]);
                    out.extend_from_slice(model_json);
                    out.extend_from_slice(&event[j + 1..]);
                    return true;
                }
                _ => j += 1,
            }
        }
        return false;
    }
    false
}

/// Byte range of the value of top-level key `key` in a JSON object.
///
/// The input must already be known to be valid JSON; this only tracks strings and nesting.
/// None when the key is absent, repeated, or when any top-level key is written with escapes
/// (it could be another spelling of `key`): a parser that keeps the first or the last of
/// duplicates would disagree with a splice, so callers then re-serialise from a DOM instead.
pub fn top_level_value_span(json: &[u8], key: &str) -> Option<std::ops::Range<usize>> {
    span(json, key, false)
}

/// Like `top_level_value_span`, for a caller that has already refused bodies with repeated
/// top-level keys (after decoding escapes, as the request view does): then the first literal
/// `key` is the only one, and the scan stops there instead of reading the rest of the body
/// (the `messages` array, when `model` comes first).
pub fn unique_top_level_value_span(json: &[u8], key: &str) -> Option<std::ops::Range<usize>> {
    span(json, key, true)
}

/// Like `unique_top_level_value_span`, reading from the end: for bodies whose big value
/// (`messages`) comes before the key, as the OpenAI Python SDK writes them, this reads only
/// what follows the key. The input must be valid JSON with unique top-level keys.
pub fn unique_top_level_value_span_from_end(json: &[u8], key: &str) -> Option<std::ops::Range<usize>> {
    let n = json.len();
    let mut depth = 0usize;
    let mut i = n;
    while i > 0 {
        i -= 1;
        match json[i] {
            b'"' => {
                // Read backwards, a quote outside strings closes one.
                let end = i;
                let start = string_start(json, end)?;
                i = start;
                if depth == 1 {
                    // A key is followed by ':'.
                    let mut j = end + 1;
                    while j < n && json[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if json.get(j) == Some(&b':') && &json[start + 1..end] == key.as_bytes() {
                        return value_after(json, j);
                    }
                }
            }
            b'}' | b']' => depth += 1,
            b'{' | b'[' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return None; // back at the top-level '{': no such key
                }
            }
            _ => {}
        }
    }
    None
}

/// Index of the quote opening the string whose closing quote is at `end`.
fn string_start(json: &[u8], end: usize) -> Option<usize> {
    let mut to = end;
    while let Some(p) = memchr::memrchr(b'"', &json[..to]) {
        // A quote after an odd number of backslashes is escaped.
        let slashes = json[..p].iter().rev().take_while(|&&b| b == b'\\').count();
        if slashes % 2 == 0 {
            return Some(p);
        }
        to = p;
    }
    None
}

fn span(json: &[u8], key: &str, first: bool) -> Option<std::ops::Range<usize>> {
    let mut depth = 0usize;
    let mut i = 0;
    let mut found = None;
    let mut ambiguous = false;
    let n = json.len();
    // Whether the next string at depth 1 is a key (after '{' or ',').
    let mut expect_key = false;
    while i < n {
        match json[i] {
            b'"' => {
                let start = i;
                let end = string_end(json, i + 1); // closing quote
                i = end + 1;
                if depth == 1 && expect_key {
                    expect_key = false;
                    let name = &json[start + 1..end.min(n)];
                    if name.contains(&b'\\') {
                        ambiguous = true;
                    }
                    if name == key.as_bytes() {
                        ambiguous |= found.is_some();
                        let value = value_after(json, i)?;
                        if first {
                            return Some(value);
                        }
                        i = value.end;
                        found = Some(value);
                    }
                }
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                expect_key = json[i] == b'{' && depth == 1;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => expect_key = depth == 1,
            _ => {}
        }
        i += 1;
    }
    if ambiguous { None } else { found }
}

/// Index of the quote closing a string whose contents start at `from` (or `json.len()`).
/// Jumps between quotes and backslashes with memchr: a 16 KB string is skipped in well under a
/// microsecond instead of one byte per step.
fn string_end(json: &[u8], mut from: usize) -> usize {
    // Most strings (keys, roles) are short: a plain look at the first bytes beats memchr's setup.
    let short = json.len().min(from + 24);
    while from < short {
        match json[from] {
            b'"' => return from,
            b'\\' => from += 2,
            _ => from += 1,
        }
    }
    string_end_memchr(json, from)
}

/// [`string_end`] by memchr alone (the differential test's reference for the short path).
fn string_end_memchr(json: &[u8], mut from: usize) -> usize {
    while let Some(p) = memchr::memchr2(b'"', b'\\', json.get(from..).unwrap_or(&[])) {
        let at = from + p;
        if json[at] == b'"' {
            return at;
        }
        from = at + 2;
    }
    json.len()
}

/// The span of the value after the next ':' at or after `i` (just past a key).
fn value_after(json: &[u8], mut i: usize) -> Option<std::ops::Range<usize>> {
    let n = json.len();
    while i < n && json[i] != b':' {
        i += 1;
    }
    i += 1;
    while i < n && json[i].is_ascii_whitespace() {
        i += 1;
    }
    value_end(json, i).map(|end| i..end)
}

/// End (exclusive) of the JSON value starting at `start`.
fn value_end(json: &[u8], start: usize) -> Option<usize> {
    let n = json.len();
    let mut i = start;
    match *json.get(start)? {
        b'"' => {
            let end = string_end(json, i + 1);
            (end < n).then_some(end + 1)
        }
        b'{' | b'[' => {
            let mut depth = 0usize;
            while i < n {
                match json[i] {
                    b'"' => i = string_end(json, i + 1),
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            while i < n && !matches!(json[i], b',' | b'}' | b']') && !json[i].is_ascii_whitespace() {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(quote("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn finds_top_level_key_only() {
        let j = br#"{"messages":[{"model":"inner","content":"\"model\": x"}],"model" : "gpt-4o" ,"stream":true}"#;
        let r = top_level_value_span(j, "model").unwrap();
        assert_eq!(&j[r], br#""gpt-4o""#);
        let r = top_level_value_span(j, "stream").unwrap();
        assert_eq!(&j[r], b"true");
        assert!(top_level_value_span(j, "missing").is_none());
    }

    #[test]
    fn duplicates_and_escaped_keys_are_ambiguous() {
        // A splice would pick one duplicate while an upstream parser may keep the other:
        // found by fuzzing (`fuzz/fuzz_targets/request_view.rs`).
        let j = br#"{"model":"a","x":{"model":"b"},"model":{"k":[1,2]}}"#;
        assert!(top_level_value_span(j, "model").is_none());
        assert!(top_level_value_span(br#"{"mod\u0065l":"a","model":"b"}"#, "model").is_none());
        let mut out = Vec::new();
        let ev = br#"data: {"tools":[{"parameters":{"model":{"type":"string"}}}], "model" : "gpt-4o-2024\"x", "n":1}"#;
        assert!(replace_model_string(ev, br#""auto""#, &mut out));
        assert_eq!(out, br#"data: {"tools":[{"parameters":{"model":{"type":"string"}}}], "model" : "auto", "n":1}"#);
        assert!(!replace_model_string(br#"{"id":"x"}"#, br#""auto""#, &mut Vec::new()));
        let j = br#"{"x":{"mod\u0065l":1},"model":12}"#;
        assert_eq!(&j[top_level_value_span(j, "model").unwrap()], b"12", "escapes below the top level are fine");
    }

    #[test]
    fn long_strings_with_escapes_are_skipped_whole() {
        let long = format!("{}\\\"{}\\\\{}", "x".repeat(5000), "y".repeat(3000), "z".repeat(100));
        let j = format!(r#"{{"messages":[{{"content":"{long}"}}],"note":"{long}","model":"m\"x","stream":true}}"#);
        let r = top_level_value_span(j.as_bytes(), "model").unwrap();
        assert_eq!(&j.as_bytes()[r], br#""m\"x""#);
        assert!(top_level_value_span(br#"{"model":"unterminated"#, "model").is_none());
    }

    #[test]
    fn escaped_quotes_in_values() {
        let j = br#"{"a":"x\"y","model":"m\"q"}"#;
        assert_eq!(&j[top_level_value_span(j, "model").unwrap()], br#""m\"q""#);
    }

    #[test]
    fn unique_variants_take_the_literal_key_where_the_full_scan_gives_up() {
        // Another key written with escapes makes the full scan refuse (it could spell `model`);
        // a caller that has refused repeated decoded keys knows it does not.
        let j = br#"{"x\u0041":1,"messages":[{"model":"inner","c":"\"model\":1"}],"model" : "m"}"#;
        assert!(top_level_value_span(j, "model").is_none());
        assert_eq!(&j[unique_top_level_value_span(j, "model").unwrap()], br#""m""#);
        assert_eq!(&j[unique_top_level_value_span_from_end(j, "model").unwrap()], br#""m""#);
        let j = br#"{"model":"a","messages":[{"content":"\"model\":1"}],"x":"y"}"#;
        assert_eq!(&j[unique_top_level_value_span(j, "model").unwrap()], br#""a""#);
        assert_eq!(&j[unique_top_level_value_span_from_end(j, "model").unwrap()], br#""a""#);
        assert!(unique_top_level_value_span(br#"{"messages":[]}"#, "model").is_none());
        assert!(unique_top_level_value_span_from_end(br#"{"messages":[{"model":1}]}"#, "model").is_none());
    }

    #[test]
    fn string_end_agrees_with_the_memchr_only_one() {
        // Strings of quotes, backslashes and letters, short and long, read from every offset.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5_000 {
            let len = (next() % 80) as usize;
            let s: Vec<u8> = (0..len).map(|_| [b'"', b'\\', b'x', b'y', b'x', b'x'][(next() % 6) as usize]).collect();
            for from in 0..=len + 1 {
                assert_eq!(
                    string_end(&s, from),
                    string_end_memchr(&s, from),
                    "from {from} in {}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
    }

    #[test]
    fn from_the_end_agrees_on_valid_bodies_with_unique_keys() {
        // (key, value) choices; one key at most once per body, in random order.
        let fields: [(&str, &[&str]); 6] = [
            ("model", &[r#""m""#, r#""a \"quoted\" model name longer than the short path""#, r#"{"model":"x"}"#, "12"]),
            ("messages", &[r#"[{"role":"user","content":"\"model\": no"}]"#, r#"[{"model":"inner","c":"\\"}]"#, "[]"]),
            ("stream", &["true", "null"]),
            ("x", &[r#""a\\""#, r#""\\\"""#, r#"{"model":{"model":"deep"}}"#]),
            ("tools", &[r#"[{"type":"function","function":{"name":"model"}}]"#, "[]"]),
            ("u", &[r#""é\n""#, r#""""#]),
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut chosen: Vec<String> = Vec::new();
            for (k, vals) in fields {
                if next() % 3 != 0 {
                    let sp = if next() % 4 == 0 { " " } else { "" };
                    chosen.push(format!(r#""{k}"{sp}:{sp}{}"#, vals[(next() % vals.len() as u64) as usize]));
                }
            }
            for i in (1..chosen.len()).rev() {
                chosen.swap(i, (next() % (i as u64 + 1)) as usize);
            }
            let j = format!("{{ {} }}\n", chosen.join(" , ")).into_bytes();
            assert!(simd_json::to_borrowed_value(&mut j.clone()).is_ok(), "valid: {}", String::from_utf8_lossy(&j));
            for key in ["model", "messages", "x"] {
                let shown = String::from_utf8_lossy(&j);
                // With unique keys and none escaped, the full scan's answer is the one.
                let full = top_level_value_span(&j, key);
                assert_eq!(unique_top_level_value_span_from_end(&j, key), full, "{key} in {shown}");
                assert_eq!(unique_top_level_value_span(&j, key), full, "{key} in {shown}");
            }
        }
    }
}
