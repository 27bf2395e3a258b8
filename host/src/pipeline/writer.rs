//! The writing stage: threads that gather worked entries into groups and
//! write each group through the store's [`GroupWriter`] (documents durably
//! first, then outcomes), and release what is to be retried, in one write
//! per group. As many threads as the store keeps groups in flight.
//!
//! Groups grow with the backlog: a writer takes everything that finished
//! while it wrote the last group, so the cost of a durable write (an
//! fsync, a round trip) is shared by more entries the busier it gets.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel::{Receiver, TryRecvError};
use cybexp_lake::{CacheEntry, EntryId, ErrorCause, Finished, Outcome, StoreError};

use super::Pipeline;
use super::inflight::InFlight;
use super::stages::{Stage, StageClock};
use super::summary::{EntryResult, Summary};
use super::worker::{Work, Worked};

/// Largest group written at once.
const MAX_GROUP: usize = 1024;

/// A group smaller than this waits [`GROUP_WAIT`] for more. A worker
/// finishes an entry every few hundred microseconds (RSA dominates), so
/// without a wait most groups of a small pipeline would hold one or two
/// entries, and each would pay a durable write.
const GATHER_TO: usize = 64;

/// How long a small group waits to fill: the most an entry waits for its write.
const GROUP_WAIT: Duration = Duration::from_millis(10);

/// What the writing stage shares with the rest of the flow.
pub(super) struct Shared<'a> {
    pub(super) pipeline: &'a Pipeline,
    pub(super) inflight: &'a InFlight,
    pub(super) summary: &'a Mutex<Summary>,
    pub(super) progress: &'a (dyn Fn(&Summary) + Sync),
}

/// One writer thread: writes groups until the workers are done.
pub(super) fn run(shared: &Shared<'_>, done: &Receiver<Worked>) {
    while let Some(group) = gather(done) {
        shared.pipeline.liveness.beat();
        write(shared, group);
        shared.pipeline.liveness.beat();
    }
}

/// The next group: blocks for one entry, then takes what is ready. When
/// little is, it waits [`GROUP_WAIT`] once for more (one wake-up, not one
/// per entry: a context switch per entry costs more than the write saves).
fn gather(done: &Receiver<Worked>) -> Option<Vec<Worked>> {
    let first = done.recv().ok()?;
    let mut group = vec![first];
    if done.len() + 1 < GATHER_TO {
        std::thread::sleep(GROUP_WAIT);
    }
    while group.len() < MAX_GROUP {
        match done.try_recv() {
            Ok(next) => group.push(next),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
        }
    }
    Some(group)
}

/// Writes one group: releases first (they need nothing else), then the
/// documents and outcomes.
fn write(shared: &Shared<'_>, group: Vec<Worked>) {
    let pipeline = shared.pipeline;
    let bytes: u64 = group.iter().map(|w| w.bytes).sum();
    let all_ids: Vec<EntryId> = group.iter().map(|w| w.entry.id.clone()).collect();
    let mut results: Vec<EntryResult> = Vec::with_capacity(group.len());
    let mut released: Vec<(CacheEntry, EntryResult)> = Vec::new();
    let mut finished: Vec<(CacheEntry, Finished)> = Vec::new();
    for Worked { entry, work, .. } in group {
        match work {
            Work::Store(doc) => finished.push((entry, Finished::Store(doc))),
            Work::Mark(outcome) => finished.push((entry, Finished::Mark(outcome))),
            Work::Release(result) => released.push((entry, result)),
        }
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    if !finished.is_empty() {
        let marks: Vec<(EntryId, Finished)> = finished.iter().map(|(e, f)| (e.id.clone(), f.clone())).collect();
        let clock = pipeline.stages.as_deref();
        match StageClock::time(clock, Stage::Write, || pipeline.writer.write_group(&marks)) {
            Ok(written) => {
                for ((entry, _), outcome) in finished.iter().zip(&written) {
                    log_outcome(entry, outcome);
                    pipeline.probe.outcome(&entry.typtag, &entry.id.0, outcome);
                    if !entry.requeued.is_empty() {
                        pipeline.probe.requeued_outcome(outcome);
                    }
                    results.push(EntryResult::Marked(outcome.clone()));
                }
                outcomes = written;
            }
            // The archiver's own trouble: every entry of the group is worked again.
            Err(e) => released.extend(finished.into_iter().map(|(entry, _)| (entry, retry(&e)))),
        }
    }
    let retried = released.iter().filter(|(_, r)| matches!(r, EntryResult::Retry(_))).count() as u64;
    if !released.is_empty() {
        results.extend(release(pipeline, released));
    }
    shared.inflight.finished(&all_ids, bytes, &outcomes, retried);
    let mut summary = shared.summary.lock().unwrap_or_else(PoisonError::into_inner);
    for result in &results {
        summary.record(result);
    }
    (shared.progress)(&summary);
}

fn retry(e: &StoreError) -> EntryResult {
    EntryResult::Retry(e.clone().into())
}

/// Gives entries back untouched, in one write.
fn release(pipeline: &Pipeline, released: Vec<(CacheEntry, EntryResult)>) -> Vec<EntryResult> {
    for (entry, result) in &released {
        if let EntryResult::Retry(e) = result {
            pipeline.probe.retried(&entry.typtag);
            tracing::warn!(entry = %entry.id, typtag = %entry.typtag, error = %e, "archiver failure; entry released for retry");
        }
    }
    let ids: Vec<EntryId> = released.iter().map(|(entry, _)| entry.id.clone()).collect();
    // If even the release fails, the leases run out and the entries come back.
    if let Err(e) = pipeline.lake.release(&ids) {
        tracing::warn!(entries = ids.len(), error = %e, "could not release entries; their leases will run out");
    }
    released.into_iter().map(|(_, result)| result).collect()
}

fn log_outcome(entry: &CacheEntry, outcome: &Outcome) {
    match outcome {
        Outcome::Success { hash } => {
            tracing::info!(entry = %entry.id, typtag = %entry.typtag, outcome = "SUCCESS", hash = %hash)
        }
        Outcome::NotSupported => {
            tracing::info!(entry = %entry.id, typtag = %entry.typtag, outcome = "NOT_SUPPORTED")
        }
        // A parser's reason may quote feed content: it goes to the entry, not the log.
        Outcome::Error { cause: cause @ ErrorCause::Parser(_), .. } => {
            tracing::warn!(entry = %entry.id, typtag = %entry.typtag, outcome = "ERROR", cause = %cause.code())
        }
        Outcome::Error { cause, message } => {
            tracing::warn!(entry = %entry.id, typtag = %entry.typtag, outcome = "ERROR", cause = %cause.code(), error = %message)
        }
    }
}
