//! Wall-clock time as the stores and the pipeline record it. Wall clock, not
//! `Instant`: leases and timestamps must mean the same across processes and
//! hosts.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (the entries' `timestamp` unit); 0 for a
/// clock set before 1970.
pub fn now_epoch_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Milliseconds since the Unix epoch (lease expiry); 0 for a clock set
/// before 1970.
pub fn now_epoch_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_read_the_same_clock() {
        let (secs, ms) = (now_epoch_secs(), now_epoch_ms());
        // After 2020, and the two within a second of each other.
        assert!(ms > 1_577_836_800_000, "{ms}");
        assert!((secs * 1000.0 - ms as f64).abs() < 1000.0, "{secs} vs {ms}");
    }
}
