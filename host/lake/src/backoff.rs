//! Polling backoff (reference §6): after a poll with a success on any entry
//! the failure count `n` resets to 0, otherwise it grows by one; the archiver
//! then sleeps `min(3600, 2^n + U(0, 1))` seconds, `U` in thousandths.

use std::time::Duration;

/// The longest sleep, in seconds.
pub const MAX_SLEEP_SECS: u64 = 3600;

/// `min(3600, 2^n + jitter_millis/1000)` seconds. `jitter_millis` is
/// `U(0, 1)` in thousandths, so 0..=1000.
pub fn sleep_for(n: u32, jitter_millis: u32) -> Duration {
    let jitter_millis = u64::from(jitter_millis.min(1000));
    // 2^12 > 3600 already: larger exponents only matter as "the cap".
    let base_secs = 1u64 << n.min(12);
    let millis = base_secs * 1000 + jitter_millis;
    Duration::from_millis(millis.min(MAX_SLEEP_SECS * 1000))
}

/// The failure count and the sleep it implies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Self::default()
    }

    /// The failure count `n`.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records one poll and returns how long to sleep before the next one.
    pub fn after_poll(&mut self, any_success: bool, jitter_millis: u32) -> Duration {
        if any_success {
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
        }
        sleep_for(self.failures, jitter_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_matches_reference() {
        assert_eq!(sleep_for(0, 0), Duration::from_secs(1));
        assert_eq!(sleep_for(0, 1000), Duration::from_secs(2));
        assert_eq!(sleep_for(3, 250), Duration::from_millis(8250));
        assert_eq!(sleep_for(11, 999), Duration::from_millis(2048 * 1000 + 999));
        // 2^12 = 4096 > 3600: capped, jitter included.
        assert_eq!(sleep_for(12, 0), Duration::from_secs(3600));
        assert_eq!(sleep_for(40, 500), Duration::from_secs(3600));
        assert_eq!(sleep_for(u32::MAX, 1000), Duration::from_secs(3600));
    }

    #[test]
    fn jitter_is_clamped_to_one_second() {
        assert_eq!(sleep_for(1, 5000), Duration::from_secs(3));
    }

    #[test]
    fn sequence_grows_and_resets_on_success() {
        let mut b = Backoff::new();
        let idle: Vec<u64> = (0..13).map(|_| b.after_poll(false, 0).as_secs()).collect();
        assert_eq!(idle, [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]);
        assert_eq!(b.failures(), 13);
        assert_eq!(b.after_poll(true, 7), Duration::from_millis(1007));
        assert_eq!(b.failures(), 0);
        assert_eq!(b.after_poll(false, 0), Duration::from_secs(2));
    }
}
