//! The write side of the pipeline: a group of finished entries becomes
//! stored documents, then recorded outcomes (reference §4, §5).
//!
//! Crash safety comes from that order: a document is stored (idempotently,
//! unique by `_hash`) and durable before its entry is marked. A crash in
//! between leaves the entry unmarked; it is processed again, the store is
//! a no-op, and it is marked. A store that holds both seams can do both in
//! one transaction (the embedded one does); [`SeparateStores`] does them as
//! two writes, in that order.

use std::sync::Arc;

use crate::{ArchiveStore, CacheLake, EntryId, Outcome, RawDocument, StoreError};

/// One entry's finished work, as a [`GroupWriter`] takes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Finished {
    /// Store this document, then mark the entry SUCCESS (or ERROR, should
    /// the archive refuse the document for good: [`crate::Stored::outcome`]).
    Store(RawDocument),
    /// Mark the entry with this outcome (NOT_SUPPORTED or ERROR).
    Mark(Outcome),
}

/// Writes groups of finished entries.
pub trait GroupWriter: Send + Sync {
    /// Stores the group's documents durably, then records each entry's
    /// outcome (dropping its claim). Returns the outcome recorded for each
    /// entry, in order. On error nothing is promised about which writes
    /// landed: every write is idempotent, so the caller releases the
    /// entries and they are simply worked again.
    fn write_group(&self, group: &[(EntryId, Finished)]) -> Result<Vec<Outcome>, StoreError>;

    /// How many groups are worth having in flight at once: more than one
    /// where each write waits on a network round trip, one where the store
    /// serialises its writers anyway.
    fn groups_in_flight(&self) -> usize {
        1
    }
}

/// A lake and an archive written separately: the group's documents in one
/// batch, then its outcomes in one batch.
#[derive(Clone)]
pub struct SeparateStores {
    pub lake: Arc<dyn CacheLake>,
    pub archive: Arc<dyn ArchiveStore>,
    pub groups_in_flight: usize,
}

impl GroupWriter for SeparateStores {
    fn write_group(&self, group: &[(EntryId, Finished)]) -> Result<Vec<Outcome>, StoreError> {
        write_separately(&*self.lake, &*self.archive, group)
    }

    fn groups_in_flight(&self) -> usize {
        self.groups_in_flight.max(1)
    }
}

/// [`GroupWriter::write_group`] on a lake and an archive that cannot share
/// a transaction: the documents in one batch, then the outcomes in one.
pub fn write_separately(
    lake: &dyn CacheLake,
    archive: &dyn ArchiveStore,
    group: &[(EntryId, Finished)],
) -> Result<Vec<Outcome>, StoreError> {
    let docs: Vec<RawDocument> = group
        .iter()
        .filter_map(|(_, finished)| match finished {
            Finished::Store(doc) => Some(doc.clone()),
            Finished::Mark(_) => None,
        })
        .collect();
    let stored = if docs.is_empty() { Vec::new() } else { archive.store_batch(&docs)? };
    let outcomes = outcomes_of(group, stored)?;
    let marks: Vec<(EntryId, Outcome)> = group.iter().map(|(id, _)| id.clone()).zip(outcomes.iter().cloned()).collect();
    lake.apply_outcomes(&marks)?;
    Ok(outcomes)
}

/// Each entry's outcome, given what storing the group's documents gave (one
/// result per document, in order).
pub fn outcomes_of(group: &[(EntryId, Finished)], stored: Vec<crate::Stored>) -> Result<Vec<Outcome>, StoreError> {
    let mut stored = stored.into_iter();
    group
        .iter()
        .map(|(_, finished)| match finished {
            Finished::Mark(outcome) => Ok(outcome.clone()),
            Finished::Store(doc) => stored
                .next()
                .map(|result| result.outcome(&doc.hash))
                // A backend bug (one result per document is the contract), not a retry.
                .ok_or_else(|| StoreError::other("archive", "store_batch returned fewer results than documents")),
        })
        .collect()
}
