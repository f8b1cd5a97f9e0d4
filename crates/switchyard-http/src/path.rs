//! Request-target helpers.

/// A path segment with `%XX` escapes decoded; None when an escape is malformed or the result
/// is not UTF-8 (so `/v1/models/meta-llama%2FLlama-3` names `meta-llama/Llama-3`).
pub fn percent_decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_refuses_broken_ones() {
        assert_eq!(percent_decode(b"gpt-4o").as_deref(), Some("gpt-4o"));
        assert_eq!(percent_decode(b"meta-llama%2FLlama-3").as_deref(), Some("meta-llama/Llama-3"));
        assert_eq!(percent_decode(b"a%20b%c3%a9").as_deref(), Some("a b\u{e9}"));
        assert_eq!(percent_decode(b"a/b").as_deref(), Some("a/b"));
        assert_eq!(percent_decode(b"50%"), None);
        assert_eq!(percent_decode(b"%zz"), None);
        assert_eq!(percent_decode(b"%ff"), None, "not UTF-8");
    }
}
