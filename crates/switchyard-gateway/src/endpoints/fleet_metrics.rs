//! `/metrics` series of fleet mode: whether the store is reachable, how stale the last sync
//! is, and every decision taken on local state while it was not.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use crate::runtime::fleet::Fleet;

/// Appends the fleet series (nothing without `[fleet]`).
pub fn render(s: &mut String, fleet: Option<&Fleet>) {
    let Some(f) = fleet else { return };
    let st = &f.stats;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let last = st.last_ok_unix_ms.load(Relaxed);
    let lag_ms = if last == 0 { -1 } else { now.saturating_sub(last) as i64 };
    let gauges: [(&str, &str, i64); 4] = [
        (
            "switchyard_fleet_connected",
            "1 while the fleet store (Redis) answers the sync.",
            i64::from(f.connected.load(Relaxed)),
        ),
        ("switchyard_fleet_sync_lag_ms", "Milliseconds since the last successful sync (-1: none yet).", lag_ms),
        (
            "switchyard_fleet_sync_round_trip_us",
            "The last sync's round trip, µs.",
            st.last_sync_us.load(Relaxed) as i64,
        ),
        (
            "switchyard_fleet_replicas",
            "Processes of this fleet seen in the last 5 s.",
            st.replicas.load(Relaxed) as i64,
        ),
    ];
    for (name, help, v) in gauges {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    let counters = [
        ("switchyard_fleet_syncs_total", "Successful sync rounds.", &st.syncs),
        (
            "switchyard_fleet_sync_errors_total",
            "Sync rounds that failed (store down, slow or erroring).",
            &st.sync_errors,
        ),
        (
            "switchyard_fleet_connects_total",
            "Connections made to the store (the first and every reconnect).",
            &st.connects,
        ),
        (
            "switchyard_fleet_reconciliations_total",
            "Flushes sent again after a failure and applied once.",
            &st.reconciliations,
        ),
        ("switchyard_fleet_key_updates_total", "Key set changes applied from the fleet.", &st.key_updates),
        ("switchyard_fleet_cooldowns_published_total", "Cooldowns published to the fleet.", &st.cooldowns_published),
        ("switchyard_fleet_cooldowns_received_total", "Cooldowns taken from the fleet.", &st.cooldowns_received),
        ("switchyard_fleet_cache_published_total", "Cache entries shared with the fleet.", &st.cache_published),
        ("switchyard_fleet_cache_received_total", "Cache entries taken from the fleet.", &st.cache_received),
        (
            "switchyard_fleet_cache_dropped_total",
            "Cache entries not shared (queue full or store down).",
            &st.cache_dropped,
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Relaxed));
    }
    for (name, help, arr) in [
        (
            "switchyard_fleet_fail_open_total",
            "Requests admitted on local state while the store was unreachable.",
            &st.fail_open,
        ),
        (
            "switchyard_fleet_fail_closed_total",
            "Requests refused 503 while the store was unreachable.",
            &st.fail_closed,
        ),
    ] {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
        for (concern, v) in ["limits", "keys"].iter().zip(arr) {
            let _ = writeln!(s, "{name}{{concern=\"{concern}\"}} {}", v.load(Relaxed));
        }
    }
}
