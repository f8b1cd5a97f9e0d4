//! Minimal stderr logging for the control plane and startup. The request path never logs.

use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one line: RFC 3339 UTC time, level, message.
pub fn write(level: &str, msg: std::fmt::Arguments<'_>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = switchyard_wire::time::civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    eprintln!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z {level} {msg}",
        t / 3600,
        t / 60 % 60,
        t % 60,
        now.subsec_millis()
    );
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
        assert_eq!(switchyard_wire::time::civil_from_days(0), (1970, 1, 1));
        assert_eq!(switchyard_wire::time::civil_from_days(20_420), (2025, 11, 28));
        assert_eq!(switchyard_wire::time::civil_from_days(11_016), (2000, 2, 29));
    }
}
