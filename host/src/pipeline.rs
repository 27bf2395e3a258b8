//! The archive loop (reference §5, §6): claim a batch of cache entries,
//! decrypt and parse them on a pool of worker threads, store each raw
//! document, then record the outcome on its entry.
//!
//! Crash safety comes from the order of writes: the document is stored
//! (idempotently, unique by `_hash`) before the entry is marked. A crash in
//! between leaves the entry unmarked; its lease expires, it is processed
//! again, the store is a no-op, and it is marked. Nothing is lost and
//! nothing is stored twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cybexp_keys::Keyring;
use cybexp_lake::backoff::Backoff;
use cybexp_lake::{
    ArchiveStore, BatchQuery, BlobError, CacheEntry, CacheLake, ErrorCause, Outcome, RawDocument, StoreError,
};
use cybexp_sandbox::{CallStats, Event, ParseError, Sandbox};
use serde::Serialize;

use crate::config::Route;

/// Turns one entry and its blob into a document or a final outcome. Pure
/// with respect to the stores: it only decrypts and runs the sandbox.
pub struct Processor {
    pub keyring: Keyring,
    pub sandbox: Sandbox,
    pub routes: BTreeMap<String, Route>,
}

/// What [`Processor::process`] decided.
#[derive(Debug)]
pub enum Step {
    /// Store this, then mark the entry SUCCESS.
    Store(RawDocument),
    /// Mark the entry with this (NOT_SUPPORTED or ERROR).
    Finish(Outcome),
}

impl Processor {
    /// The route for a typtag, if any parser handles it.
    pub fn route(&self, typtag: &str) -> Option<&Route> {
        self.routes.get(typtag)
    }

    /// Decrypts `blob` and parses it with the entry's parser.
    pub fn process(&self, entry: &CacheEntry, blob: &[u8]) -> (Step, CallStats) {
        let Some(route) = self.route(&entry.typtag) else {
            return (Step::Finish(Outcome::NotSupported), CallStats::default());
        };
        let plaintext = match self.keyring.decrypt(blob) {
            Ok(plaintext) => plaintext,
            Err(e) => {
                let cause = ErrorCause::Decrypt(e.class().as_str().to_owned());
                return (Step::Finish(Outcome::Error { cause, message: e.to_string() }), CallStats::default());
            }
        };
        let event = Event {
            typtag: &entry.typtag,
            orgid: &entry.orgid,
            timezone: &entry.timezone,
            sub_type: &route.sub_type,
            plaintext: &plaintext,
        };
        let (result, stats) = self.sandbox.parse(&route.parser, &event);
        let step = match result {
            Ok(doc) => Step::Store(RawDocument {
                sub_type: doc.sub_type,
                data_json: doc.data_json,
                orgid: entry.orgid.clone(),
                timezone: entry.timezone.clone(),
                hash: doc.hash,
            }),
            Err(ParseError::NotSupported(_)) => Step::Finish(Outcome::NotSupported),
            Err(e) => Step::Finish(parse_failure(&e)),
        };
        (step, stats)
    }
}

/// ERROR outcome for a sandbox failure.
pub fn parse_failure(error: &ParseError) -> Outcome {
    Outcome::Error { cause: ErrorCause::Parser(error.reason().to_owned()), message: error.to_string() }
}

/// ERROR outcome for a blob that cannot be read; `None` when the failure is
/// the database's (retry, mark nothing).
pub fn blob_failure(error: BlobError) -> Result<Outcome, StoreError> {
    match error {
        BlobError::Missing(why) => {
            Ok(Outcome::Error { cause: ErrorCause::MissingBlob, message: format!("blob missing: {why}") })
        }
        BlobError::Corrupt(why) => {
            Ok(Outcome::Error { cause: ErrorCause::CorruptBlob, message: format!("blob corrupt: {why}") })
        }
        BlobError::Store(e) => Err(e),
    }
}

/// Counts per outcome, for `once`'s summary and the logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub success: u64,
    pub not_supported: u64,
    pub error: u64,
    /// Database failures: the entry was released, not marked.
    pub retried: u64,
    /// Error causes and how often each occurred.
    pub causes: BTreeMap<String, u64>,
}

impl Summary {
    pub fn processed(&self) -> u64 {
        self.success + self.not_supported + self.error
    }

    fn record(&mut self, result: &EntryResult) {
        match result {
            EntryResult::Marked(Outcome::Success { .. }) => self.success += 1,
            EntryResult::Marked(Outcome::NotSupported) => self.not_supported += 1,
            EntryResult::Marked(Outcome::Error { cause, .. }) => {
                self.error += 1;
                *self.causes.entry(cause.code()).or_default() += 1;
            }
            EntryResult::Retry(_) => self.retried += 1,
            EntryResult::Skipped => {}
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

/// What became of one claimed entry.
#[derive(Debug)]
pub enum EntryResult {
    Marked(Outcome),
    /// A database failure; the entry was released for a later retry.
    Retry(StoreError),
    /// Shutdown came first; the entry was released untouched.
    Skipped,
}

/// The whole archiver: stores, processor, worker pool settings.
pub struct Pipeline {
    pub lake: Arc<dyn CacheLake>,
    pub archive: Arc<dyn ArchiveStore>,
    pub processor: Arc<Processor>,
    pub workers: usize,
    pub batch_size: usize,
    /// Lease owner name written on claims (host + pid).
    pub worker_id: String,
    /// Set by SIGINT/SIGTERM: finish in-flight entries, release the rest.
    pub shutdown: Arc<AtomicBool>,
}

impl Pipeline {
    /// Handles one claimed entry end to end: blob, decrypt, parse, store, mark.
    pub fn handle(&self, entry: &CacheEntry) -> EntryResult {
        if self.shutdown.load(Ordering::Relaxed) {
            return self.release(entry, EntryResult::Skipped);
        }
        let outcome = if self.processor.route(&entry.typtag).is_none() {
            Outcome::NotSupported
        } else {
            match self.lake.read_blob(entry) {
                Err(e) => match blob_failure(e) {
                    Ok(outcome) => outcome,
                    Err(store_error) => return self.release(entry, EntryResult::Retry(store_error)),
                },
                Ok(blob) => match self.processor.process(entry, &blob).0 {
                    Step::Finish(outcome) => outcome,
                    Step::Store(doc) => match self.archive.store(&doc) {
                        Ok(_) => Outcome::Success { hash: doc.hash },
                        Err(e) => return self.release(entry, EntryResult::Retry(e)),
                    },
                },
            }
        };
        match self.lake.apply_outcome(&entry.id, &outcome) {
            Ok(()) => {
                log_outcome(entry, &outcome);
                EntryResult::Marked(outcome)
            }
            Err(e) => self.release(entry, EntryResult::Retry(e)),
        }
    }

    fn release(&self, entry: &CacheEntry, result: EntryResult) -> EntryResult {
        if let EntryResult::Retry(e) = &result {
            tracing::warn!(entry = %entry.id, typtag = %entry.typtag, error = %e, "store failure; entry released for retry");
        }
        // If even the release fails, the lease expires and the entry comes back.
        if let Err(e) = self.lake.release(&entry.id) {
            tracing::warn!(entry = %entry.id, error = %e, "could not release entry; its lease will expire");
        }
        result
    }

    /// Claims one batch and works it off on the worker pool.
    pub fn run_batch(&self, query: &BatchQuery) -> Result<(usize, Summary), StoreError> {
        let entries = self.lake.claim_batch(&self.worker_id, query)?;
        let claimed = entries.len();
        let mut summary = Summary::default();
        if entries.is_empty() {
            return Ok((0, summary));
        }
        let (tx, rx) = crossbeam_channel::unbounded::<CacheEntry>();
        for entry in entries {
            tx.send(entry).expect("receiver alive");
        }
        drop(tx);
        let workers = self.workers.clamp(1, claimed);
        let results: Vec<Summary> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let rx = rx.clone();
                    scope.spawn(move || {
                        let mut local = Summary::default();
                        for entry in rx.iter() {
                            local.record(&self.handle(&entry));
                        }
                        local
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("worker panicked")).collect()
        });
        for part in &results {
            summary.merge(part);
        }
        Ok((claimed, summary))
    }

    /// Works off everything claimable now, then returns (the `once` mode).
    /// `progress` is called after each batch with the running summary.
    pub fn run_until_empty(
        &self,
        query: &BatchQuery,
        mut progress: impl FnMut(&Summary),
    ) -> Result<Summary, StoreError> {
        let mut total = Summary::default();
        loop {
            if self.shutdown.load(Ordering::Relaxed) {
                return Ok(total);
            }
            let (claimed, summary) = self.run_batch(query)?;
            total.merge(&summary);
            progress(&total);
            // Retries are released entries: stop rather than spin on a failing store.
            if claimed == 0 || summary.processed() == 0 {
                return Ok(total);
            }
        }
    }

    /// The daemon loop: poll, work, back off when idle (reference §6), until
    /// shutdown. A full batch means more is waiting, so the next poll is
    /// immediate; otherwise the reference's sleep applies.
    pub fn run_forever(&self, query: &BatchQuery, mut on_state: impl FnMut(&LoopState)) {
        let mut backoff = Backoff::new();
        let mut total = Summary::default();
        while !self.shutdown.load(Ordering::Relaxed) {
            let (full, any_success, last_error) = match self.run_batch(query) {
                Ok((claimed, summary)) => {
                    total.merge(&summary);
                    (claimed >= query.limit && summary.processed() > 0, summary.success > 0, None)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "poll failed; backing off");
                    (false, false, Some(e.to_string()))
                }
            };
            let sleep = backoff.after_poll(any_success, rand::random_range(0..=1000));
            let sleep = if full { Duration::ZERO } else { sleep };
            on_state(&LoopState { failures: backoff.failures(), sleep, last_error, total: total.clone() });
            self.sleep_unless_shutdown(sleep);
        }
    }

    fn sleep_unless_shutdown(&self, total: Duration) {
        let step = Duration::from_millis(50);
        let mut left = total;
        while !left.is_zero() && !self.shutdown.load(Ordering::Relaxed) {
            let nap = left.min(step);
            std::thread::sleep(nap);
            left -= nap;
        }
    }
}

/// The loop's state after a poll, for logs and the dashboard.
#[derive(Clone, Debug)]
pub struct LoopState {
    pub failures: u32,
    pub sleep: Duration,
    pub last_error: Option<String>,
    pub total: Summary,
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
