//! Fail fast while the server is down.
//!
//! Without this, every call of a batch in flight when MongoDB goes away
//! would wait out the server selection timeout in turn (a 64-entry batch,
//! 10 s each: minutes) before the pipeline could back off. After a
//! network-level failure the store answers "unavailable" at once, except
//! for one probe call per [`PROBE_INTERVAL`], which goes to the server; the
//! first call that gets an answer closes the circuit again.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use cybexp_lake::StoreError;
use mongodb::error::{Error, ErrorKind};

use crate::BACKEND;

/// How often a call is let through to find out whether the server is back.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct Health {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Since when the server has been unreachable; `None` while it answers.
    down_since: Option<Instant>,
    /// When the last probe was let through.
    last_probe: Option<Instant>,
}

impl Health {
    /// Lets a call through, or refuses it while the server is known to be
    /// down and another call probed it recently.
    pub(crate) fn admit(&self, what: &str) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(since) = state.down_since else {
            return Ok(());
        };
        let now = Instant::now();
        if state.last_probe.is_some_and(|probe| now.duration_since(probe) < PROBE_INTERVAL) {
            return Err(StoreError::unavailable(
                BACKEND,
                format!("{what}: MongoDB unreachable for {}s; will retry", since.elapsed().as_secs()),
            ));
        }
        state.last_probe = Some(now);
        Ok(())
    }

    /// How long the server has been unreachable; `None` while it answers.
    pub(crate) fn down_for(&self) -> Option<Duration> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).down_since.map(|since| since.elapsed())
    }

    pub(crate) fn record_ok(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.down_since.take().is_some() {
            tracing::info!("MongoDB answers again");
        }
    }

    /// An error: an outage opens the circuit; any other error came from a
    /// server that answered, which closes it.
    pub(crate) fn record_error(&self, outage: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if outage {
            let now = Instant::now();
            state.down_since.get_or_insert(now);
            state.last_probe = Some(now);
        } else {
            state.down_since = None;
        }
    }
}

/// Server codes meaning "not now, try again elsewhere or later".
const UNAVAILABLE_CODES: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    189,   // PrimarySteppedDown
    262,   // ExceededTimeLimit
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
];

/// Whether `e` means the server could not be reached (rather than that it
/// answered with an error).
pub(crate) fn is_outage(e: &Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => true,
        ErrorKind::Command(command) => UNAVAILABLE_CODES.contains(&command.code),
        _ => e.contains_label("RetryableWriteError") || e.contains_label("TransientTransactionError"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_fast_while_down_with_one_probe_per_interval() {
        let health = Health::default();
        health.admit("x").unwrap();
        health.record_error(true);
        assert!(health.down_for().is_some());
        let err = health.admit("claiming").unwrap_err();
        assert_eq!((err.backend, err.kind), (BACKEND, cybexp_lake::StoreErrorKind::Unavailable), "{err}");
        std::thread::sleep(PROBE_INTERVAL + Duration::from_millis(20));
        health.admit("probe").unwrap();
        assert!(health.admit("another").is_err(), "only one probe per interval");
        health.record_ok();
        assert!(health.down_for().is_none());
        health.admit("x").unwrap();
        // An error the server answered with closes the circuit too.
        health.record_error(true);
        health.record_error(false);
        health.admit("x").unwrap();
    }

    #[test]
    fn outage_classification() {
        let io: Error = std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into();
        assert!(is_outage(&io));
        let other = Error::custom("x");
        assert!(!is_outage(&other));
    }
}
