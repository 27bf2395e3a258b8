//! What a run did: counts per outcome, and what became of each entry.

use std::collections::BTreeMap;

use cybexp_lake::Outcome;
use serde::Serialize;

use super::Trouble;

/// Counts per outcome, for `once`'s summary and the logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub success: u64,
    pub not_supported: u64,
    pub error: u64,
    /// The archiver's own failures (database, sandbox): the entry was
    /// released, not marked.
    pub retried: u64,
    /// Error causes and how often each occurred.
    pub causes: BTreeMap<String, u64>,
}

impl Summary {
    pub fn processed(&self) -> u64 {
        self.success + self.not_supported + self.error
    }

    pub(super) fn record(&mut self, result: &EntryResult) {
        match result {
            EntryResult::Marked(Outcome::Success { .. }) => self.success += 1,
            EntryResult::Marked(Outcome::NotSupported) => self.not_supported += 1,
            EntryResult::Marked(Outcome::Error { cause, .. }) => {
                self.error += 1;
                *self.causes.entry(cause.code()).or_default() += 1;
            }
            EntryResult::Retry(_) => self.retried += 1,
            EntryResult::ReleasedAtShutdown => {}
        }
    }

    pub fn merge(&mut self, other: &Summary) {
        self.success += other.success;
        self.not_supported += other.not_supported;
        self.error += other.error;
        self.retried += other.retried;
        for (cause, n) in &other.causes {
            *self.causes.entry(cause.clone()).or_default() += n;
        }
    }
}

/// The summary as `once` and `demo` print it.
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "SUCCESS        {}", self.success)?;
        writeln!(f, "NOT_SUPPORTED  {}", self.not_supported)?;
        writeln!(f, "ERROR          {}", self.error)?;
        for (cause, n) in &self.causes {
            writeln!(f, "  {cause:<24} {n}")?;
        }
        if self.retried > 0 {
            writeln!(f, "retried (store unavailable): {}", self.retried)?;
        }
        Ok(())
    }
}

/// What became of one claimed entry.
#[derive(Debug)]
pub enum EntryResult {
    Marked(Outcome),
    /// The archiver's own trouble (a database or sandbox failure); the
    /// entry was released for a later retry.
    Retry(Trouble),
    /// Shutdown came first; the entry was released untouched.
    ReleasedAtShutdown,
}
