//! Calendar dates on the wire: days to and from a civil date (Howard Hinnant's algorithms), and
//! the two timestamp forms providers send, RFC 3339 (Anthropic's rate-limit resets) and the
//! IMF-fixdate of HTTP (`retry-after`). Budgets' calendar periods and the log's timestamps use
//! the same day arithmetic.

/// Year, month, day of a count of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of year `y`, month `m`, day `d` (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ms since the epoch of a UTC date and time of day, less `offset_s` (the zone's offset);
/// None for a field out of range or a time before 1970.
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
            if ![*h1, *h2, *m1, *m2].iter().all(u8::is_ascii_digit) {
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

/// An IMF-fixdate (`Wed, 21 Oct 2026 07:28:00 GMT`) as ms since the Unix epoch.
pub fn httpdate_unix_ms(s: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut parts = s.split_ascii_whitespace();
    let (_weekday, day, month, year, time, zone) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if zone != "GMT" || parts.next().is_some() {
        return None;
    }
    let mo = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let mut hms = time.split(':').map(|p| p.parse::<u32>().ok());
    let (h, mi, sec) = (hms.next()??, hms.next()??, hms.next()??);
    unix_ms_of((year.parse().ok()?, mo, day.parse().ok()?), (h, mi, sec), 0.0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_through_civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        for d in [-1i64, 0, 59, 60, 365, 10_957, 11_016, 20_000, 20_426] {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d, "{y}-{m}-{day}");
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
    fn http_dates() {
        assert_eq!(httpdate_unix_ms("Fri, 04 Dec 2026 00:00:45 GMT"), Some(1_796_342_445_000));
        for bad in [
            "",
            "Fri, 32 Dec 2026 00:00:45 GMT",
            "Fri, 04 Dez 2026 00:00:45 GMT",
            "Fri, 04 Dec 2026 00:00:45 UTC",
            "Fri, 04 Dec 2026 00:00 GMT",
            "Fri, 04 Dec 2026 00:00:45 GMT x",
        ] {
            assert_eq!(httpdate_unix_ms(bad), None, "{bad:?}");
        }
    }
}
