//! Minimal stderr logging for the control plane and startup. The request path never logs.

use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one line: RFC 3339 UTC time, level, message.
pub fn write(level: &str, msg: std::fmt::Arguments<'_>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    eprintln!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z {level} {msg}",
        t / 3600,
        t / 60 % 60,
        t % 60,
        now.subsec_millis()
    );
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Logs at INFO.
#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::log::write("INFO", format_args!($($t)*)) };
}

/// Logs at WARN.
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::log::write("WARN", format_args!($($t)*)) };
}

/// Logs at ERROR.
#[macro_export]
macro_rules! error {
    ($($t:tt)*) => { $crate::log::write("ERROR", format_args!($($t)*)) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_420), (2025, 11, 28));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
    }
}
