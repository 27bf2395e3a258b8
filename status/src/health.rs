//! Whether the daemon is healthy, decided once from a [`Snapshot`] for
//! every asker: `status --check` (exit 0 healthy, 2 degraded), and the
//! metrics listener's `/health` (liveness) and `/ready` (readiness).
//!
//! - **Live**: the loop moves (not [`State::Stalled`]). A supervisor that
//!   restarts on this restarts a hung daemon, never a merely idle one.
//! - **Ready**: live, the store answers (the last poll and the last queue
//!   sample did not fail) and not stopping.
//! - **Healthy**: ready, and the last reload was not refused (the daemon
//!   works, on an older config than the file says).

use std::fmt;

use crate::snapshot::{Snapshot, State};

/// One thing wrong, worst first in [`Snapshot::health`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A poll is due and nothing has happened for `for_ms`.
    Stalled { for_ms: u64 },
    /// The last poll or queue sample failed: why.
    StoreUnavailable { error: String },
    /// Shutdown was requested.
    Stopping,
    /// The last SIGHUP's config was refused: why.
    ReloadRefused { error: String },
}

impl Problem {
    /// Whether the daemon is still alive with this (only a stall is fatal).
    pub fn live(&self) -> bool {
        !matches!(self, Problem::Stalled { .. })
    }

    /// Whether the daemon can still work with this.
    pub fn ready(&self) -> bool {
        matches!(self, Problem::ReloadRefused { .. })
    }
}

impl fmt::Display for Problem {
    /// One line: an error's first line only (a TOML error runs on).
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = |error: &str| error.lines().next().unwrap_or_default().to_owned();
        match self {
            Problem::Stalled { for_ms } => write!(out, "loop stalled: no progress for {} s", for_ms / 1000),
            Problem::StoreUnavailable { error } => write!(out, "store unavailable: {}", first(error)),
            Problem::Stopping => write!(out, "stopping"),
            Problem::ReloadRefused { error } => {
                write!(out, "last reload refused, running on the previous config: {}", first(error))
            }
        }
    }
}

/// The verdict, with what it rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// Worst first; empty when healthy.
    pub problems: Vec<Problem>,
}

impl Health {
    pub fn live(&self) -> bool {
        self.problems.iter().all(Problem::live)
    }

    pub fn ready(&self) -> bool {
        self.problems.iter().all(Problem::ready)
    }

    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }

    /// The worst problem that fails `keep` (e.g. [`Problem::live`]), as the
    /// one line an endpoint or `status --check` prints.
    pub fn why_not(&self, keep: fn(&Problem) -> bool) -> Option<&Problem> {
        self.problems.iter().find(|problem| !keep(problem))
    }
}

impl Snapshot {
    pub fn health(&self) -> Health {
        let mut problems = Vec::new();
        if let State::Stalled { for_ms } = self.state() {
            problems.push(Problem::Stalled { for_ms });
        }
        let l = &self.loop_state;
        // The poll's error and its end carry the same instant: the last
        // poll failed when its error is at least as recent.
        if let (Some(error), Some(at)) = (&l.last_error, l.last_error_at_ms)
            && l.last_poll_at_ms.is_none_or(|poll| at >= poll)
        {
            problems.push(Problem::StoreUnavailable { error: error.clone() });
        } else if let Some(error) = &self.queue.error {
            problems.push(Problem::StoreUnavailable { error: error.clone() });
        }
        if l.stopping {
            problems.push(Problem::Stopping);
        }
        if let Some(error) = &self.identity.config.last_reload_error {
            problems.push(Problem::ReloadRefused { error: error.clone() });
        }
        Health { problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ConfigState, Identity, LoopState, Queue, STALL_AFTER_MS};

    const NOW: u64 = 1_000_000;

    fn snapshot(loop_state: LoopState, queue_error: Option<&str>, reload_error: Option<&str>) -> Snapshot {
        Snapshot {
            taken_at_ms: NOW,
            identity: Identity {
                started_at_ms: NOW - 500_000,
                config: ConfigState { last_reload_error: reload_error.map(Into::into), ..Default::default() },
                ..Default::default()
            },
            loop_state,
            queue: Queue { error: queue_error.map(Into::into), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn live_ready_healthy_by_case() {
        let polling =
            LoopState { last_poll_at_ms: Some(NOW - 1_000), next_poll_at_ms: Some(NOW + 1_000), ..Default::default() };
        let failed_poll = LoopState {
            last_error: Some("mongodb store unavailable: server selection timeout".into()),
            last_error_at_ms: polling.last_poll_at_ms,
            failures: 2,
            ..polling.clone()
        };
        let failed_then_recovered = LoopState { last_error_at_ms: Some(NOW - 30_000), ..failed_poll.clone() };
        let stalled = LoopState {
            last_poll_at_ms: Some(NOW - STALL_AFTER_MS - 5_000),
            next_poll_at_ms: Some(NOW - STALL_AFTER_MS - 2_000),
            ..Default::default()
        };
        let stopping = LoopState { stopping: true, ..polling.clone() };
        let toml = "in config c.toml: TOML parse error at line 3\n  |\n3 | [x\n";
        // (case, snapshot, live, ready, healthy, the first problem's line)
        let cases = [
            ("polling", snapshot(polling.clone(), None, None), true, true, true, None),
            (
                "the last poll failed",
                snapshot(failed_poll, None, None),
                true,
                false,
                false,
                Some("store unavailable: mongodb store unavailable: server selection timeout"),
            ),
            ("an older poll failed", snapshot(failed_then_recovered, None, None), true, true, true, None),
            (
                "the queue sample failed",
                snapshot(polling.clone(), Some("sqlite store unavailable: locked"), None),
                true,
                false,
                false,
                Some("store unavailable: sqlite store unavailable: locked"),
            ),
            ("stalled", snapshot(stalled, None, None), false, false, false, Some("loop stalled: no progress for 62 s")),
            ("stopping", snapshot(stopping, None, None), true, false, false, Some("stopping")),
            (
                "reload refused",
                snapshot(polling, None, Some(toml)),
                true,
                true,
                false,
                Some(
                    "last reload refused, running on the previous config: in config c.toml: TOML parse error at line 3",
                ),
            ),
        ];
        for (case, snapshot, live, ready, healthy, first) in cases {
            let health = snapshot.health();
            assert_eq!((health.live(), health.ready(), health.healthy()), (live, ready, healthy), "{case}: {health:?}");
            assert_eq!(health.problems.first().map(ToString::to_string).as_deref(), first, "{case}");
            assert_eq!(health.why_not(Problem::live).is_none(), live, "{case}");
            assert_eq!(health.why_not(Problem::ready).is_none(), ready, "{case}");
        }
    }
}
