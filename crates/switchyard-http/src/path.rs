//! Request-target helpers.

/// A path segment with `%XX` escapes decoded; None when the result is not UTF-8 (so
/// `/v1/models/meta-llama%2FLlama-3` names `meta-llama/Llama-3`). A `%` that starts no escape
/// is kept as sent, as `percent-encoding` (and browsers) do.
pub fn percent_decode(s: &[u8]) -> Option<String> {
    percent_encoding::percent_decode(s).decode_utf8().ok().map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_keeps_stray_percents_and_refuses_non_utf8() {
        assert_eq!(percent_decode(b"gpt-4o").as_deref(), Some("gpt-4o"));
        assert_eq!(percent_decode(b"meta-llama%2FLlama-3").as_deref(), Some("meta-llama/Llama-3"));
        assert_eq!(percent_decode(b"a%20b%c3%a9").as_deref(), Some("a b\u{e9}"));
        assert_eq!(percent_decode(b"a/b").as_deref(), Some("a/b"));
        assert_eq!(percent_decode(b"50%").as_deref(), Some("50%"));
        assert_eq!(percent_decode(b"%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode(b"%ff"), None, "not UTF-8");
    }
}
