//! Wall-clock time as the store and the events record it: Unix epoch milliseconds. One place,
//! so every timestamp (history, expiries, leases, notices, retry times) is counted the same way.

/// Milliseconds since the Unix epoch; 0 on a clock set before 1970.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
