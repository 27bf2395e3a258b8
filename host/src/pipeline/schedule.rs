//! When the daemon polls (reference §6): a pure policy, apart from the
//! loop that follows it.

use std::time::Duration;

use cybexp_lake::backoff::Backoff;

/// How a daemon poll went, as far as the next sleep is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Poll {
    /// A whole claim was had: more is waiting.
    Full { any_success: bool },
    /// Less than asked (or nothing) was waiting, and what was claimed is done.
    Partial { any_success: bool },
    /// The store failed (unreachable, refused the claim...), or every entry
    /// of late went back for the archiver's own trouble.
    Trouble,
}

/// The longest wait before the archiver's own trouble (a failed store, a
/// broken sandbox) is tried again. The reference backoff grows to an hour,
/// which suits an empty queue, but after an outage it would leave a
/// recovered database idle for up to an hour. The store's own circuit
/// breaker keeps these retries cheap.
pub const STORE_RETRY_MAX: Duration = Duration::from_secs(30);

/// How long after another archiver's lease ends a waiting one polls.
pub(super) const LEASE_MARGIN: Duration = Duration::from_millis(250);

/// The sleep before the next poll: none after a full claim, the reference
/// backoff otherwise, at most [`STORE_RETRY_MAX`] in trouble.
pub(super) fn sleep_after(backoff: &mut Backoff, poll: Poll, jitter_millis: u32) -> Duration {
    match poll {
        Poll::Full { any_success } => {
            backoff.after_poll(any_success, jitter_millis);
            Duration::ZERO
        }
        Poll::Partial { any_success } => backoff.after_poll(any_success, jitter_millis),
        Poll::Trouble => backoff.after_poll(false, jitter_millis).min(STORE_RETRY_MAX),
    }
}

/// What one daemon poll left behind: the backoff's failure count, the sleep
/// it chose, and the store's error if the poll failed.
#[derive(Clone, Debug)]
pub struct PollReport {
    pub failures: u32,
    pub sleep: Duration,
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_follow_the_reference_but_trouble_is_retried_within_the_cap() {
        let mut backoff = Backoff::new();
        let idle: Vec<u64> =
            (0..7).map(|_| sleep_after(&mut backoff, Poll::Partial { any_success: false }, 0).as_secs()).collect();
        assert_eq!(idle, [2, 4, 8, 16, 32, 64, 128]);
        let failed: Vec<Duration> = (0..3).map(|_| sleep_after(&mut backoff, Poll::Trouble, 1000)).collect();
        assert_eq!(failed, [STORE_RETRY_MAX; 3]);
        assert_eq!(backoff.failures(), 10, "an outage still counts as a failed poll");
        assert_eq!(sleep_after(&mut Backoff::new(), Poll::Trouble, 500), Duration::from_millis(2500));
        assert_eq!(sleep_after(&mut backoff, Poll::Full { any_success: false }, 0), Duration::ZERO);
        assert_eq!(backoff.failures(), 11);
        assert_eq!(sleep_after(&mut backoff, Poll::Full { any_success: true }, 0), Duration::ZERO);
        assert_eq!(backoff.failures(), 0);
        assert_eq!(sleep_after(&mut backoff, Poll::Partial { any_success: true }, 7), Duration::from_millis(1007));
    }
}
