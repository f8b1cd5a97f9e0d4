//! Secrets out of text that reaches a client: the provider keys the gateway holds, and any
//! token shaped like an API key (providers echo the key they were sent in their 401 bodies).

/// What a removed secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// `text` with every occurrence of a non-empty `secrets` entry, and every key-shaped token,
/// replaced by `[redacted]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    redact_key_shapes(&out)
}

/// Whether `token` looks like an API key: a known prefix (`sk-`, `sk_`, `AIza`, `xai-`,
/// `gsk_`, `key-`) followed by at least 12 key characters, or any run of 32 or more key
/// characters that mixes letters and digits (hex tokens, JWT-less bearer keys).
fn key_shaped(token: &str) -> bool {
    const PREFIXES: [&str; 6] = ["sk-", "sk_", "AIza", "xai-", "gsk_", "key-"];
    if PREFIXES.iter().any(|p| token.starts_with(p) && token.len() >= p.len() + 12) {
        return true;
    }
    token.len() >= 32 && token.bytes().any(|b| b.is_ascii_digit()) && token.bytes().any(|b| b.is_ascii_alphabetic())
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn redact_key_shapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if is_key_byte(bytes[i]) {
            let start = i;
            while i < bytes.len() && is_key_byte(bytes[i]) {
                i += 1;
            }
            // Key bytes are ASCII, so the run is on char boundaries.
            let token = &text[start..i];
            out.push_str(if key_shaped(token) { REDACTED } else { token });
        } else {
            let ch = text[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_secrets_and_key_shapes_are_removed() {
        let secrets = vec!["my-provider-secret".to_string()];
        let cases = [
            ("Incorrect API key provided: sk-test-provider-key.", "Incorrect API key provided: [redacted]."),
            ("bad key my-provider-secret here", "bad key [redacted] here"),
            ("key AIzaSyA1234567890abcdefghij invalid", "key [redacted] invalid"),
            ("token 0123456789abcdef0123456789abcdef99 expired", "token [redacted] expired"),
            ("model gpt-4o-mini not found (req_abc123)", "model gpt-4o-mini not found (req_abc123)"),
            ("Überlastet: bitte später", "Überlastet: bitte später"),
        ];
        for (text, want) in cases {
            assert_eq!(redact(text, &secrets), want, "{text}");
        }
    }
}
