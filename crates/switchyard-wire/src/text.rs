//! Cheap text features shared by the strategies: token estimate, code detection, words.

/// Estimated tokens for `bytes` of text (the usual four bytes per token).
pub fn estimate_tokens(bytes: usize) -> usize {
    bytes.div_ceil(4)
}

/// Estimated input tokens of an Anthropic Messages request (`count_tokens` for upstreams that
/// cannot count): the bytes of every string in `system`, `messages` and `tools` (texts,
/// tool inputs and results, tool names and schemas), at four a token, plus four a turn for
/// the role markers. An image counts as its base64 text would.
pub fn estimate_request_tokens(req: &serde_json::Value) -> u64 {
    fn string_bytes(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::String(s) => s.len(),
            serde_json::Value::Array(a) => a.iter().map(string_bytes).sum(),
            serde_json::Value::Object(o) => o.iter().map(|(k, v)| k.len() + string_bytes(v)).sum(),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => 4,
            serde_json::Value::Null => 0,
        }
    }
    let turns = req["messages"].as_array().map_or(0, Vec::len) + usize::from(!req["system"].is_null());
    let bytes = string_bytes(&req["system"]) + string_bytes(&req["messages"]) + string_bytes(&req["tools"]);
    (estimate_tokens(bytes) + 4 * turns) as u64
}

/// Whether text looks like it contains code: a fence, or several code-shaped lines.
pub fn has_code(text: &str) -> bool {
    if memchr::memmem::find(text.as_bytes(), b"```").is_some() {
        return true;
    }
    const MARKERS: [&str; 10] =
        ["def ", "fn ", "function ", "#include", "class ", "import ", "return ", "=>", "public static", "console.log"];
    let mut hits = 0;
    for line in text.lines().take(400) {
        let t = line.trim();
        if t.ends_with(';') || t.ends_with('{') || t.ends_with("};") || MARKERS.iter().any(|m| t.starts_with(m)) {
            hits += 1;
            if hits >= 2 {
                return true;
            }
        }
    }
    false
}

/// FNV-1a over the ASCII-lowercased bytes of `s`.
pub fn hash_lower(s: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Mixes two hashes (for n-grams and tagged features).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut x = a ^ b.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Splits into words: maximal runs of alphanumeric bytes (non-ASCII bytes count as letters).
pub fn words(text: &str) -> impl Iterator<Item = &[u8]> {
    text.as_bytes().split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)).filter(|w| !w.is_empty())
}

/// log2 of the hashed n-gram vector size.
const NGRAM_BITS: u32 = 12;
/// Buckets of the hashed character n-gram vectors (intents and the semantic cache).
pub const DIMS: usize = 1 << NGRAM_BITS;
/// Only the first bytes of a long prompt are vectorised (intent shows early).
const MAX_BYTES: usize = 2048;

/// Calls `f` with the bucket of every character 3- and 4-gram of ` text ` (lowercased).
pub fn ngrams(text: &str, mut f: impl FnMut(usize)) {
    let bytes = &text.as_bytes()[..text.len().min(MAX_BYTES)];
    let mut padded = Vec::with_capacity(bytes.len() + 2);
    padded.push(b' ');
    // Collapse runs of non-alphanumerics to one space so punctuation does not dominate.
    for &b in bytes {
        let b = if b.is_ascii_alphanumeric() || b >= 0x80 { b.to_ascii_lowercase() } else { b' ' };
        if !(b == b' ' && padded.last() == Some(&b' ')) {
            padded.push(b);
        }
    }
    if padded.last() != Some(&b' ') {
        padded.push(b' ');
    }
    for n in 3..=4 {
        for w in padded.windows(n) {
            f((hash_lower(w) ^ n as u64) as usize & (DIMS - 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_detection() {
        assert!(has_code("look:\n```rust\nfn main() {}\n```"));
        assert!(has_code("int main() {\n  return 0;\n}"));
        assert!(!has_code("What is the capital of France? Answer briefly."));
        assert!(!has_code("One line ending in a semicolon;"));
    }

    #[test]
    fn words_and_hashes() {
        let w: Vec<&[u8]> = words("Hello, wörld! x_y 42").collect();
        assert_eq!(w, vec![&b"Hello"[..], "wörld".as_bytes(), b"x_y", b"42"]);
        assert_eq!(hash_lower(b"ABC"), hash_lower(b"abc"));
        assert_ne!(mix(1, 2), mix(2, 1));
        assert_eq!(estimate_tokens(9), 3);
    }
}
