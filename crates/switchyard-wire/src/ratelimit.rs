//! The headroom a provider reports on its answers: OpenAI's `x-ratelimit-*` headers, Anthropic's
//! `anthropic-ratelimit-*`, `retry-after` / `retry-after-ms`, and Gemini's 429 `RetryInfo`.
//!
//! Everything here is parsed leniently: a header that is missing or malformed leaves its field
//! `None` (a provider's odd value must never fail or panic a request), and resets are turned into
//! milliseconds from now so the caller can keep them on its own monotonic clock.

use std::time::{SystemTime, UNIX_EPOCH};

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
/// RFC 3339 reset times into ms from now.
pub fn parse<'a>(headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>, now: SystemTime) -> Headroom {
    let mut h = Headroom::default();
    let mut retry_after = None;
    for (name, value) in headers {
        let Ok(value) = std::str::from_utf8(value) else { continue };
        let value = value.trim();
        let name = name.to_ascii_lowercase();
        let Ok(name) = std::str::from_utf8(&name) else { continue };
        if name == "retry-after-ms" {
            h.retry_after_ms = number(value).map(|ms| ms.round() as u64);
        } else if name == "retry-after" {
            retry_after = retry_after_value(value, now);
        } else if let Some(rest) = name.strip_prefix("x-ratelimit-") {
            openai_field(&mut h, rest, value);
        } else if let Some(rest) = name.strip_prefix("anthropic-ratelimit-") {
            anthropic_field(&mut h, rest, value, now);
        }
    }
    // `retry-after-ms` is the more precise of the two where both are sent.
    h.retry_after_ms = h.retry_after_ms.or(retry_after);
    h
}

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`; resets are Go durations (`6m0s`).
fn openai_field(h: &mut Headroom, rest: &str, value: &str) {
    let Some((what, kind)) = rest.split_once('-') else { return };
    let w = match kind {
        "requests" => &mut h.requests,
        "tokens" => &mut h.tokens,
        _ => return,
    };
    match what {
        "limit" => w.limit = count(value),
        "remaining" => w.remaining = count(value),
        "reset" => w.reset_in_ms = duration_ms(value),
        _ => {}
    }
}

/// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`;
/// resets are RFC 3339 times.
fn anthropic_field(h: &mut Headroom, rest: &str, value: &str, now: SystemTime) {
    let Some((kind, what)) = rest.rsplit_once('-') else { return };
    let w = match kind {
        "requests" => &mut h.requests,
        "tokens" => &mut h.tokens,
        "input-tokens" => &mut h.input_tokens,
        "output-tokens" => &mut h.output_tokens,
        _ => return,
    };
    match what {
        "limit" => w.limit = count(value),
        "remaining" => w.remaining = count(value),
        "reset" => w.reset_in_ms = rfc3339_unix_ms(value).map(|at| at.saturating_sub(unix_ms(now))),
        _ => {}
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

/// `retry-after`: delay seconds (fractions accepted) or an HTTP date.
fn retry_after_value(value: &str, now: SystemTime) -> Option<u64> {
    if let Some(s) = number(value) {
        return Some((s * 1000.0).round() as u64);
    }
    let at = httpdate_unix_ms(value)?;
    Some(at.saturating_sub(unix_ms(now)))
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

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ms since the epoch of a UTC date and time of day, less `offset_s` (the zone's offset).
fn unix_ms_of((y, mo, d): (i64, u32, u32), (h, mi, s): (u32, u32, u32), frac_ms: f64, offset_s: i64) -> Option<u64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s) - offset_s;
    let ms = secs.checked_mul(1000)? as f64 + frac_ms;
    (ms >= 0.0).then_some(ms as u64)
}

/// An RFC 3339 time (`2026-12-04T10:00:30Z`, `…30.5+01:00`) as ms since the Unix epoch.
pub fn rfc3339_unix_ms(s: &str) -> Option<u64> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = b.get(r)?;
        if !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(t).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac_ms = 0.0;
    if b[i] == b'.' {
        let start = i;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_ms = std::str::from_utf8(&b[start..i]).ok()?.parse::<f64>().ok()? * 1000.0;
    }
    let offset_s = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = |a: u8, b: u8| i64::from((a - b'0') * 10 + (b - b'0'));
            let off = v(*h1, *h2) * 3600 + v(*m1, *m2) * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    unix_ms_of((i64::from(y), mo, d), (h, mi, sec), frac_ms, offset_s)
}

/// An IMF-fixdate (`Wed, 21 Oct 2026 07:28:00 GMT`), the form `retry-after` dates take.
fn httpdate_unix_ms(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mo = MONTHS.iter().position(|m| m == month)? as u32 + 1;
    let mut hms = time.split(':').map(|p| p.parse::<u32>().ok());
    let (h, mi, sec) = (hms.next()??, hms.next()??, hms.next()??);
    unix_ms_of((year.parse().ok()?, mo, day.parse().ok()?), (h, mi, sec), 0.0, 0)
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
    fn rfc3339_times_with_zone_fraction_and_offset() {
        // 2026-12-04T00:00:00Z
        let midnight = 1_796_342_400_000;
        assert_eq!(rfc3339_unix_ms("2026-12-04T00:00:00Z"), Some(midnight));
        assert_eq!(rfc3339_unix_ms("2026-12-04T00:00:30.5Z"), Some(midnight + 30_500));
        assert_eq!(rfc3339_unix_ms("2026-12-04T01:00:00+01:00"), Some(midnight));
        assert_eq!(rfc3339_unix_ms("2026-12-03T23:00:00-01:00"), Some(midnight));
        assert_eq!(rfc3339_unix_ms("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "",
            "2026-12-04",
            "2026-13-04T00:00:00Z",
            "2026-12-04T24:00:00Z",
            "2026-12-04T00:00:00",
            "yyyy-12-04T00:00:00Z",
            "2026-12-04T00:00:00+1:00",
            "1969-12-31T23:59:59Z",
            "2026-12-04T00:00:00Zjunk",
        ] {
            assert_eq!(rfc3339_unix_ms(bad), None, "{bad:?}");
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
