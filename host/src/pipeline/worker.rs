//! The working stage: threads that take claimed entries, read their blobs,
//! decrypt and parse them, and hand the result to the writing stage. All
//! the CPU of an entry is spent here; nothing here writes to a store.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, Sender};
use cybexp_lake::{CacheEntry, Outcome, RawDocument};

use super::Pipeline;
use super::inflight::InFlight;
use super::processor::{Processor, Step, blob_failure};
use super::stages::{Stage, StageClock};
use super::summary::EntryResult;

/// A claimed entry, with the keys, parsers and routes in effect when it
/// was claimed (a reload affects later claims only).
pub(super) struct Claimed {
    pub(super) entry: CacheEntry,
    pub(super) processor: Arc<Processor>,
}

/// A worked entry, for the writing stage.
pub(super) struct Worked {
    pub(super) entry: CacheEntry,
    pub(super) work: Work,
    /// Bytes this entry holds in flight (its blob).
    pub(super) bytes: u64,
}

/// What the writing stage is to do with an entry.
pub(super) enum Work {
    /// Store this document, then mark SUCCESS.
    Store(RawDocument),
    /// Mark this outcome directly.
    Mark(Outcome),
    /// Give the entry back untouched (shutdown, or the archiver's own trouble).
    Release(EntryResult),
}

/// One worker thread: works entries until the queue closes.
pub(super) fn run(pipeline: &Pipeline, inflight: &InFlight, queue: &Receiver<Claimed>, done: &Sender<Worked>) {
    for claimed in queue.iter() {
        inflight.taken(queue.len());
        let worked = work(pipeline, inflight, claimed);
        if done.send(worked).is_err() {
            return;
        }
    }
}

/// The CPU part of one entry: read the blob, decrypt, parse.
fn work(pipeline: &Pipeline, inflight: &InFlight, claimed: Claimed) -> Worked {
    let Claimed { entry, processor } = claimed;
    let _busy = pipeline.probe.busy();
    let done = |entry, work, bytes| Worked { entry, work, bytes };
    if pipeline.shutdown.load(Ordering::Relaxed) {
        return done(entry, Work::Release(EntryResult::ReleasedAtShutdown), 0);
    }
    // Resolved once: an unsupported typtag needs no blob read.
    let Some(route) = processor.route(&entry.typtag) else {
        return done(entry, Work::Mark(Outcome::NotSupported), 0);
    };
    let clock = pipeline.stages.as_deref();
    let read = || pipeline.lake.read_blob(&entry, processor.max_blob_bytes(route));
    let blob = match StageClock::time(clock, Stage::BlobRead, read) {
        Ok(blob) => blob,
        Err(e) => {
            let work = match blob_failure(e) {
                Ok(outcome) => Work::Mark(outcome),
                Err(store_error) => Work::Release(EntryResult::Retry(store_error.into())),
            };
            return done(entry, work, 0);
        }
    };
    let bytes = blob.len() as u64;
    inflight.add_bytes(bytes);
    let processed = processor.process_timed(route, &entry, &blob, clock);
    drop(blob);
    if let Some(call) = processed.call {
        let telemetry =
            || pipeline.probe.parsed(call.parser, call.stats.fuel_used, call.stats.elapsed, call.stats.counts);
        StageClock::time(clock, Stage::Telemetry, telemetry);
    }
    let work = match processed.step {
        Step::Finish(outcome) => Work::Mark(outcome),
        Step::Store(doc) => Work::Store(doc),
        Step::Retry(trouble) => Work::Release(EntryResult::Retry(trouble)),
    };
    done(entry, work, bytes)
}
