//! The headroom a provider reports on its answers: OpenAI's `x-ratelimit-*` headers, Anthropic's
//! `anthropic-ratelimit-*`, `retry-after` / `retry-after-ms`, and Gemini's 429 `RetryInfo`.
//!
//! Everything here is parsed leniently: a header that is missing or malformed leaves its field
//! `None` (a provider's odd value must never fail or panic a request), and resets are turned into
//! milliseconds from now so the caller can keep them on its own monotonic clock.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::time::{httpdate_unix_ms, rfc3339_unix_ms};

/// One limit's state as the provider last reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// The limit itself (per minute on every tier page today).
    pub limit: Option<u64>,
    /// What is left of it.
    pub remaining: Option<u64>,
    /// When it is whole again, in ms from now.
    pub reset_in_ms: Option<u64>,
}

impl Window {
    fn is_empty(&self) -> bool {
        self.limit.is_none() && self.remaining.is_none() && self.reset_in_ms.is_none()
    }
}

/// What one answer said about the target's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Headroom {
    /// Requests (both dialects).
    pub requests: Window,
    /// Tokens, input and output together (OpenAI's `tokens`, Anthropic's `tokens`).
    pub tokens: Window,
    /// Anthropic's separate input-token limit.
    pub input_tokens: Window,
    /// Anthropic's separate output-token limit.
    pub output_tokens: Window,
    /// `retry-after-ms`, else `retry-after` (seconds or an HTTP date), in ms.
    pub retry_after_ms: Option<u64>,
}

impl Headroom {
    /// True when the answer carried no rate-limit information at all.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
            && self.tokens.is_empty()
            && self.input_tokens.is_empty()
            && self.output_tokens.is_empty()
            && self.retry_after_ms.is_none()
    }
}

/// Reads the rate-limit headers among `headers` (names in any case); `now` turns Anthropic's
/// RFC 3339 reset times and an HTTP-date `retry-after` into ms from now.
pub fn parse<'a>(headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>, now: SystemTime) -> Headroom {
    let mut h = Headroom::default();
    let (mut after_ms, mut after) = (None, None);
    for (name, value) in headers {
        let Ok(value) = std::str::from_utf8(value) else { continue };
        if name.eq_ignore_ascii_case(b"retry-after-ms") {
            after_ms = Some(value);
        } else if name.eq_ignore_ascii_case(b"retry-after") {
            after = Some(value);
        } else if let Some(rest) = strip_prefix_ignore_case(name, b"x-ratelimit-") {
            openai_field(&mut h, rest, value.trim());
        } else if let Some(rest) = strip_prefix_ignore_case(name, b"anthropic-ratelimit-") {
            anthropic_field(&mut h, rest, value.trim(), now);
        }
    }
    h.retry_after_ms = retry_after_ms(after_ms.map(str::as_bytes), after.map(str::as_bytes), now);
    h
}

/// `retry-after-ms` (the more precise, where both are sent), else `retry-after`: delay seconds
/// (fractions accepted) or an HTTP date; in ms from `now`.
pub fn retry_after_ms(ms_header: Option<&[u8]>, header: Option<&[u8]>, now: SystemTime) -> Option<u64> {
    fn text(v: Option<&[u8]>) -> Option<&str> {
        v.and_then(|v| std::str::from_utf8(v).ok()).map(str::trim)
    }
    if let Some(ms) = text(ms_header).and_then(number) {
        return Some(ms.round() as u64);
    }
    let value = text(header)?;
    if let Some(s) = number(value) {
        return Some((s * 1000.0).round() as u64);
    }
    Some(httpdate_unix_ms(value)?.saturating_sub(unix_ms(now)))
}

fn strip_prefix_ignore_case<'a>(name: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &name[prefix.len()..])
}

/// Sets the `what` (`limit`, `remaining` or `reset`) of `w`; `reset` reads the value with the
/// dialect's own form.
fn set(w: &mut Window, what: &[u8], value: &str, reset: impl FnOnce(&str) -> Option<u64>) {
    if what.eq_ignore_ascii_case(b"limit") {
        w.limit = count(value);
    } else if what.eq_ignore_ascii_case(b"remaining") {
        w.remaining = count(value);
    } else if what.eq_ignore_ascii_case(b"reset") {
        w.reset_in_ms = reset(value);
    }
}

/// The window a kind names (`requests`, `tokens`, `input-tokens`, `output-tokens`).
fn window<'h>(h: &'h mut Headroom, kind: &[u8]) -> Option<&'h mut Window> {
    let is = |k: &[u8]| kind.eq_ignore_ascii_case(k);
    Some(if is(b"requests") {
        &mut h.requests
    } else if is(b"tokens") {
        &mut h.tokens
    } else if is(b"input-tokens") {
        &mut h.input_tokens
    } else if is(b"output-tokens") {
        &mut h.output_tokens
    } else {
        return None;
    })
}

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`; resets are Go durations (`6m0s`).
fn openai_field(h: &mut Headroom, rest: &[u8], value: &str) {
    let Some(dash) = rest.iter().position(|&c| c == b'-') else { return };
    let (what, kind) = (&rest[..dash], &rest[dash + 1..]);
    // OpenAI has no separate input and output limits.
    let split = kind.eq_ignore_ascii_case(b"input-tokens") || kind.eq_ignore_ascii_case(b"output-tokens");
    if !split && let Some(w) = window(h, kind) {
        set(w, what, value, duration_ms);
    }
}

/// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`;
/// resets are RFC 3339 times.
fn anthropic_field(h: &mut Headroom, rest: &[u8], value: &str, now: SystemTime) {
    let Some(dash) = rest.iter().rposition(|&c| c == b'-') else { return };
    let (kind, what) = (&rest[..dash], &rest[dash + 1..]);
    if let Some(w) = window(h, kind) {
        set(w, what, value, |v| rfc3339_unix_ms(v).map(|at| at.saturating_sub(unix_ms(now))));
    }
}

fn count(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A Go duration as OpenAI sends its resets: `6m0s`, `1.5s`, `20ms`, `1h2m3.5s`, `250us`;
/// None for anything else.
pub fn duration_ms(s: &str) -> Option<u64> {
    let mut total = 0.0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale_ms = match &rest[..unit_len] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            "us" | "µs" => 1e-3,
            "ns" => 1e-6,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale_ms;
    }
    (total.is_finite() && total < 1e15).then(|| total.round() as u64)
}

/// Gemini's 429 body: `error.details[]` with `@type` ending in `RetryInfo` and a `retryDelay`
/// such as `"30s"` or `"1.5s"`; in ms.
pub fn gemini_retry_delay_ms(body: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("error")?.get("details")?.as_array()?.iter().find_map(|d| {
        let ty = d.get("@type")?.as_str()?;
        if !ty.ends_with("RetryInfo") {
            return None;
        }
        duration_ms(d.get("retryDelay")?.as_str()?)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(unix_s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_s)
    }

    fn parse_pairs(pairs: &[(&str, &str)], now: SystemTime) -> Headroom {
        parse(pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())), now)
    }

    #[test]
    fn go_durations_as_openai_sends_them() {
        assert_eq!(duration_ms("6m0s"), Some(360_000));
        assert_eq!(duration_ms("1.5s"), Some(1_500));
        assert_eq!(duration_ms("20ms"), Some(20));
        assert_eq!(duration_ms("1h2m3.5s"), Some(3_723_500));
        assert_eq!(duration_ms("250us"), Some(0));
        assert_eq!(duration_ms("1500us"), Some(2));
        for bad in ["", "s", "6", "6x", "-1s", "1..5s", "1.5", "ms20", "1e3s", "NaNs"] {
            assert_eq!(duration_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn openai_headers() {
        let h = parse_pairs(
            &[
                ("x-ratelimit-limit-requests", "500"),
                ("X-RateLimit-Remaining-Requests", "499"),
                ("x-ratelimit-reset-requests", "120ms"),
                ("x-ratelimit-limit-tokens", "30000"),
                ("x-ratelimit-remaining-tokens", "29000"),
                ("x-ratelimit-reset-tokens", "2s"),
                ("content-type", "application/json"),
            ],
            at(0),
        );
        assert_eq!(h.requests, Window { limit: Some(500), remaining: Some(499), reset_in_ms: Some(120) });
        assert_eq!(h.tokens, Window { limit: Some(30_000), remaining: Some(29_000), reset_in_ms: Some(2_000) });
        assert_eq!(h.retry_after_ms, None);
    }

    #[test]
    fn anthropic_headers_resets_from_now() {
        let now = at(1_796_342_400); // 2026-12-04T00:00:00Z
        let h = parse_pairs(
            &[
                ("anthropic-ratelimit-requests-limit", "50"),
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2026-12-04T00:00:12Z"),
                ("anthropic-ratelimit-input-tokens-limit", "40000"),
                ("anthropic-ratelimit-input-tokens-remaining", "3900"),
                ("anthropic-ratelimit-input-tokens-reset", "2026-12-04T00:01:00Z"),
                ("anthropic-ratelimit-output-tokens-remaining", "8000"),
                ("anthropic-ratelimit-tokens-remaining", "11900"),
                // A reset already past is 0 ms away, not a wrap-around.
                ("anthropic-ratelimit-tokens-reset", "2026-12-03T23:59:00Z"),
            ],
            now,
        );
        assert_eq!(h.requests, Window { limit: Some(50), remaining: Some(0), reset_in_ms: Some(12_000) });
        assert_eq!(h.input_tokens, Window { limit: Some(40_000), remaining: Some(3_900), reset_in_ms: Some(60_000) });
        assert_eq!(h.output_tokens.remaining, Some(8_000));
        assert_eq!(h.tokens, Window { limit: None, remaining: Some(11_900), reset_in_ms: Some(0) });
    }

    #[test]
    fn retry_after_in_its_three_forms() {
        let now = at(1_796_342_400);
        assert_eq!(parse_pairs(&[("retry-after", "30")], now).retry_after_ms, Some(30_000));
        assert_eq!(parse_pairs(&[("retry-after", "1.5")], now).retry_after_ms, Some(1_500));
        assert_eq!(parse_pairs(&[("retry-after", "Fri, 04 Dec 2026 00:00:45 GMT")], now).retry_after_ms, Some(45_000));
        // The ms header wins over the seconds one, in either order.
        for pairs in
            [[("retry-after", "30"), ("retry-after-ms", "2500")], [("retry-after-ms", "2500"), ("retry-after", "30")]]
        {
            assert_eq!(parse_pairs(&pairs, now).retry_after_ms, Some(2_500));
        }
    }

    #[test]
    fn malformed_values_are_ignored_never_fatal() {
        let h = parse_pairs(
            &[
                ("x-ratelimit-remaining-requests", "-1"),
                ("x-ratelimit-remaining-tokens", "lots"),
                ("x-ratelimit-reset-tokens", "soon"),
                ("x-ratelimit-limit-widgets", "5"),
                ("x-ratelimit-remaining-input-tokens", "5"),
                ("x-ratelimit-", "5"),
                ("anthropic-ratelimit-requests-reset", "tomorrow"),
                ("anthropic-ratelimit-tokens", "5"),
                ("retry-after", "-5"),
                ("retry-after-ms", "NaN"),
                ("retry-after", "Fri, 32 Dec 2026 00:00:45 GMT"),
            ],
            at(0),
        );
        assert!(h.is_empty(), "{h:?}");
        let bytes: &[(&[u8], &[u8])] = &[(b"x-ratelimit-remaining-requests", b"\xff\xfe"), (b"\xff", b"1")];
        assert!(parse(bytes.iter().copied(), at(0)).is_empty());
    }

    #[test]
    fn gemini_retry_info() {
        let body = br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#;
        assert_eq!(gemini_retry_delay_ms(body), Some(37_000));
        let fractional =
            br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        assert_eq!(gemini_retry_delay_ms(fractional), Some(1_500));
        for bad in [
            &br#"{"error":{"details":[{"@type":"x.RetryInfo","retryDelay":"later"}]}}"#[..],
            b"not json",
            b"{}",
            br#"{"error":{"details":{}}}"#,
        ] {
            assert_eq!(gemini_retry_delay_ms(bad), None);
        }
    }
}
