//! Wake-ups for an idle archiver. The reference polls on a backoff that
//! grows to an hour (reference §6), so a submission to an idle lake could
//! wait that long. A store that can tell when its entries change (MongoDB's
//! change streams, SQLite's `data_version`) hands out a [`ChangeFeed`]; the
//! daemon sleeps its backoff on it and polls as soon as it fires. The
//! backoff stays the schedule when nothing arrives.

use std::time::Duration;

/// Tells whether the lake changed since the last [`ChangeFeed::mark`].
pub trait ChangeFeed: Send {
    /// Forgets what changed so far: from now on, what happens counts.
    /// (The archiver's own writes before its sleep must not wake it.)
    fn mark(&mut self);

    /// Waits up to `timeout` for a change since the last mark; `true` when
    /// one came. May wake spuriously (the caller only polls one time too
    /// many), and returns close to `timeout` when nothing happens, so the
    /// caller can check its own flags between calls.
    fn wait(&mut self, timeout: Duration) -> bool;

    /// How the feed learns of changes, for the log (e.g. `change stream`).
    fn describe(&self) -> String;
}

/// The feed of a store that cannot tell: it never fires, and the backoff
/// alone schedules the polls.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoChangeFeed;

impl ChangeFeed for NoChangeFeed {
    fn mark(&mut self) {}

    fn wait(&mut self, timeout: Duration) -> bool {
        std::thread::sleep(timeout);
        false
    }

    fn describe(&self) -> String {
        "none (polling on the backoff alone)".into()
    }
}
