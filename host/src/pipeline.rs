//! The archive loop (reference §5, §6): claim a batch of cache entries,
//! decrypt and parse them on a pool of worker threads, store each raw
//! document, then record the outcome on its entry.
//!
//! Crash safety comes from the order of writes: the document is stored
//! (idempotently, unique by `_hash`) before the entry is marked. A crash in
//! between leaves the entry unmarked; its lease expires, it is processed
//! again, the store is a no-op, and it is marked. Nothing is lost and
//! nothing is stored twice.
//!
//! This module imports no other module of the daemon: its stores, processor
//! and telemetry probe are handed in (see `context.rs`).

mod liveness;
mod stages;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use cybexp_keys::Keyring;
use cybexp_lake::backoff::Backoff;
use cybexp_lake::{
    ArchiveStore, BatchQuery, BlobError, CacheEntry, CacheLake, EntryId, ErrorCause, Outcome, Owner, RawDocument,
    StoreError, Stored,
};
use cybexp_sandbox::{CallStats, ParseError, ParseInput, ParsedDocument, Sandbox};
use cybexp_telemetry::Probe;
pub use liveness::Liveness;
use serde::{Deserialize, Serialize};
pub use stages::{Stage, StageClock, StageTotal};

/// Which parser handles a typtag, and the raw `sub_type` it produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub parser: String,
    pub sub_type: String,
}

/// The routes every archiver has unless config says otherwise.
pub fn builtin_routes() -> BTreeMap<String, Route> {
    let route = |parser: &str, sub_type: &str| Route { parser: parser.into(), sub_type: sub_type.into() };
    BTreeMap::from([
        ("unr-honeypot".to_owned(), route("cowrie", "unr_honeypot")),
        ("openphish_feed".to_owned(), route("url-list", "openphish_feed")),
        ("phishtank_feed".to_owned(), route("url-list", "phishtank_feed")),
        ("email".to_owned(), route("email", "email")),
    ])
}

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
    /// The archiver could not do its part (the sandbox failed, not the
    /// entry): release the entry for a retry, mark nothing.
    Retry(Trouble),
}

/// The archiver's own trouble with an entry. Only an entry's own content
/// may make it ERROR; this never does: the entry is released and retried.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Trouble {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Sandbox(String),
}

/// One sandbox call: which parser ran and what it cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParserCall<'a> {
    pub parser: &'a str,
    pub stats: CallStats,
}

/// A processed entry: the step to take, and the parser call if the sandbox ran.
#[derive(Debug)]
pub struct Processed<'a> {
    pub step: Step,
    pub call: Option<ParserCall<'a>>,
}

impl Processed<'_> {
    fn finish(outcome: Outcome) -> Self {
        Processed { step: Step::Finish(outcome), call: None }
    }
}

impl Processor {
    /// The built-in parsers under their built-in routes.
    pub fn with_builtin_parsers(keyring: Keyring) -> Result<Processor, cybexp_sandbox::LoadError> {
        Ok(Processor { keyring, sandbox: Sandbox::with_builtin_parsers()?, routes: builtin_routes() })
    }

    /// The route for a typtag, if any parser handles it.
    pub fn route(&self, typtag: &str) -> Option<&Route> {
        self.routes.get(typtag)
    }

    /// The longest blob worth reading for `route`: what its parser takes in,
    /// plus the envelope around it. Anything longer could only end as
    /// `input_too_large` after a download and a decryption.
    pub fn max_blob_bytes(&self, route: &Route) -> u64 {
        match self.sandbox.parser(&route.parser) {
            Some(parser) => (parser.limits.max_input_bytes as u64).saturating_add(ENVELOPE_ALLOWANCE),
            // Not loaded: the sandbox says so (a retry), not the blob's size.
            None => u64::MAX,
        }
    }

    /// Decrypts `blob` and parses it with the entry's parser.
    pub fn process(&self, entry: &CacheEntry, blob: &[u8]) -> Processed<'_> {
        match self.route(&entry.typtag) {
            Some(route) => self.process_routed(route, entry, blob),
            None => Processed::finish(Outcome::NotSupported),
        }
    }

    /// [`Self::process`] with the route already looked up.
    pub fn process_routed<'a>(&self, route: &'a Route, entry: &CacheEntry, blob: &[u8]) -> Processed<'a> {
        self.process_timed(route, entry, blob, None)
    }

    /// [`Self::process_routed`], timing decryption and the parse on `clock`.
    fn process_timed<'a>(
        &self,
        route: &'a Route,
        entry: &CacheEntry,
        blob: &[u8],
        clock: Option<&StageClock>,
    ) -> Processed<'a> {
        let plaintext = match StageClock::time(clock, Stage::Decrypt, || self.keyring.decrypt(blob)) {
            Ok(plaintext) => plaintext,
            Err(e) => {
                let cause = ErrorCause::Decrypt(e.class().as_str().to_owned());
                return Processed::finish(Outcome::Error { cause, message: e.to_string() });
            }
        };
        let input = ParseInput {
            typtag: &entry.typtag,
            orgid: &entry.orgid,
            timezone: &entry.timezone,
            sub_type: &route.sub_type,
            plaintext: &plaintext,
        };
        let (result, stats) = StageClock::time(clock, Stage::Parse, || self.sandbox.parse(&route.parser, &input));
        let step = match result {
            Ok(doc) => Step::Store(raw_document(doc, &entry.orgid, &entry.timezone)),
            Err(ParseError::NotSupported(_)) => Step::Finish(Outcome::NotSupported),
            Err(e) if e.is_archiver_trouble() => Step::Retry(Trouble::Sandbox(e.to_string())),
            Err(e) => Step::Finish(parse_failure(&e)),
        };
        Processed { step, call: Some(ParserCall { parser: &route.parser, stats }) }
    }
}

/// The raw document for a parser's output: the host adds who sent it.
pub fn raw_document(doc: ParsedDocument, orgid: &str, timezone: &str) -> RawDocument {
    RawDocument {
        sub_type: doc.sub_type,
        data_json: doc.data_json,
        orgid: orgid.to_owned(),
        timezone: timezone.to_owned(),
        hash: doc.hash,
    }
}

/// ERROR outcome for a sandbox failure.
pub fn parse_failure(error: &ParseError) -> Outcome {
    Outcome::Error { cause: ErrorCause::Parser(error.reason().to_owned()), message: error.to_string() }
}

/// Room for the envelope around a plaintext: the RSA-wrapped key (512 bytes
/// at RSA-4096, 2 KiB at 16384 bits), nonce, tag and the v2 header, with
/// plenty to spare.
pub const ENVELOPE_ALLOWANCE: u64 = 64 << 10;

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
        BlobError::TooLarge { size, limit } => Ok(Outcome::Error {
            cause: ErrorCause::OversizedBlob,
            message: format!(
                "blob of {size} bytes exceeds the {limit}-byte limit (the parser's max_input_bytes plus the envelope)"
            ),
        }),
        BlobError::Store(e) => Err(e),
    }
}

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

    fn record(&mut self, result: &EntryResult) {
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

/// The whole archiver: stores, processor, worker pool settings.
pub struct Pipeline {
    pub lake: Arc<dyn CacheLake>,
    pub archive: Arc<dyn ArchiveStore>,
    /// The keys, parsers and routes in effect: swapped whole by a reload
    /// ([`Pipeline::replace_processor`]); a batch keeps the one it began with.
    pub processor: RwLock<Arc<Processor>>,
    pub workers: usize,
    pub batch_size: usize,
    /// Lease owner name written on claims: [`Owner::this_process`], so a
    /// restarted archiver can take back at once what a dead one held.
    pub worker_id: String,
    /// How often the leases of a batch being worked are renewed (a third of
    /// the lease, so two renewals may fail before one runs out).
    pub heartbeat: Duration,
    /// Set by SIGINT/SIGTERM: finish in-flight entries, release the rest.
    pub shutdown: Arc<AtomicBool>,
    /// Where the pipeline reports what it does (disabled unless the daemon
    /// runs its telemetry); every hook is non-blocking.
    pub probe: Probe,
    /// Time per stage, when someone wants to know (the pipeline bench).
    pub stages: Option<Arc<StageClock>>,
    /// Beats while the daemon loop moves (the systemd watchdog watches it).
    pub liveness: Arc<Liveness>,
}

impl Pipeline {
    /// A pipeline whose lake and archive are one store (the embedded one),
    /// with no shutdown signal wired: for benchmarks and tests.
    pub fn on_one_store<S: CacheLake + ArchiveStore + 'static>(
        store: Arc<S>,
        processor: Processor,
        workers: usize,
        batch_size: usize,
    ) -> Pipeline {
        Pipeline {
            lake: store.clone(),
            archive: store,
            processor: RwLock::new(Arc::new(processor)),
            workers,
            batch_size,
            worker_id: Owner::this_process().to_string(),
            heartbeat: Duration::from_secs(20),
            shutdown: Arc::new(AtomicBool::new(false)),
            probe: Probe::disabled(),
            stages: None,
            liveness: Arc::default(),
        }
    }
}

/// Largest group of results written together (one store batch, then one
/// outcome batch).
const MAX_WRITE_GROUP: usize = 64;

/// How long the writer gathers finished entries before writing a group. A
/// worker finishes an entry every few milliseconds (RSA dominates), so
/// without this most groups would hold one or two entries and each would
/// pay two fsyncs. Adds at most this much latency per entry.
const GROUP_WAIT: Duration = Duration::from_millis(10);

/// What a worker hands the writer for one entry.
enum Work {
    /// Store this document, then mark SUCCESS.
    Store(RawDocument),
    /// Mark this outcome directly.
    Mark(Outcome),
    /// Give the entry back untouched (shutdown, or a store failure reading it).
    Release(EntryResult),
}

impl Pipeline {
    /// The CPU part of one entry, done on a worker: read the blob, decrypt,
    /// parse. Writes are left to the writer.
    fn work(&self, processor: &Processor, entry: &CacheEntry) -> Work {
        let _busy = self.probe.busy();
        if self.shutdown.load(Ordering::Relaxed) {
            return Work::Release(EntryResult::ReleasedAtShutdown);
        }
        // Resolved once: an unsupported typtag needs no blob read.
        let Some(route) = processor.route(&entry.typtag) else {
            return Work::Mark(Outcome::NotSupported);
        };
        let clock = self.stages.as_deref();
        let read = || self.lake.read_blob(entry, processor.max_blob_bytes(route));
        let blob = match StageClock::time(clock, Stage::BlobRead, read) {
            Ok(blob) => blob,
            Err(e) => {
                return match blob_failure(e) {
                    Ok(outcome) => Work::Mark(outcome),
                    Err(store_error) => Work::Release(EntryResult::Retry(store_error.into())),
                };
            }
        };
        let processed = processor.process_timed(route, entry, &blob, clock);
        if let Some(call) = processed.call {
            let telemetry =
                || self.probe.parsed(call.parser, call.stats.fuel_used, call.stats.elapsed, call.stats.counts);
            StageClock::time(clock, Stage::Telemetry, telemetry);
        }
        match processed.step {
            Step::Finish(outcome) => Work::Mark(outcome),
            Step::Store(doc) => Work::Store(doc),
            Step::Retry(trouble) => Work::Release(EntryResult::Retry(trouble)),
        }
    }

    /// Writes a group of worked entries: documents first (durably), then the
    /// outcomes. A failure at either step releases the entries it covers.
    fn write_group(&self, group: Vec<(CacheEntry, Work)>, summary: &mut Summary) {
        self.liveness.beat();
        let mut marks: Vec<(CacheEntry, Outcome)> = Vec::with_capacity(group.len());
        let mut docs: Vec<(CacheEntry, RawDocument)> = Vec::new();
        for (entry, work) in group {
            match work {
                Work::Store(doc) => docs.push((entry, doc)),
                Work::Mark(outcome) => marks.push((entry, outcome)),
                Work::Release(result) => summary.record(&self.release(&entry, result)),
            }
        }
        if !docs.is_empty() {
            let batch: Vec<RawDocument> = docs.iter().map(|(_, doc)| doc.clone()).collect();
            match StageClock::time(self.stages.as_deref(), Stage::Store, || self.archive.store_batch(&batch)) {
                Ok(results) => marks.extend(docs.into_iter().zip(results).map(|((entry, doc), stored)| {
                    let outcome = match stored {
                        Stored::Refused(why) => Outcome::Error { cause: ErrorCause::Unstorable, message: why },
                        Stored::Inserted | Stored::AlreadyPresent => Outcome::Success { hash: doc.hash },
                    };
                    (entry, outcome)
                })),
                Err(e) => {
                    for (entry, _) in &docs {
                        summary.record(&self.release(entry, EntryResult::Retry(e.clone().into())));
                    }
                }
            }
        }
        if marks.is_empty() {
            return;
        }
        let outcomes: Vec<(EntryId, Outcome)> = marks.iter().map(|(e, o)| (e.id.clone(), o.clone())).collect();
        match StageClock::time(self.stages.as_deref(), Stage::Mark, || self.lake.apply_outcomes(&outcomes)) {
            Ok(()) => StageClock::time(self.stages.as_deref(), Stage::Telemetry, || {
                for (entry, outcome) in marks {
                    log_outcome(&entry, &outcome);
                    self.probe.outcome(&entry.typtag, &entry.id.0, &outcome);
                    summary.record(&EntryResult::Marked(outcome));
                }
            }),
            Err(e) => {
                for (entry, _) in &marks {
                    summary.record(&self.release(entry, EntryResult::Retry(e.clone().into())));
                }
            }
        }
    }

    fn release(&self, entry: &CacheEntry, result: EntryResult) -> EntryResult {
        if let EntryResult::Retry(e) = &result {
            self.probe.retried(&entry.typtag);
            tracing::warn!(entry = %entry.id, typtag = %entry.typtag, error = %e, "archiver failure; entry released for retry");
        }
        // If even the release fails, the lease expires and the entry comes back.
        if let Err(e) = self.lake.release(&entry.id) {
            tracing::warn!(entry = %entry.id, error = %e, "could not release entry; its lease will expire");
        }
        result
    }

    /// Claims one batch and works it off: the workers decrypt and parse,
    /// this thread writes what they finish in groups, so workers never wait
    /// for the database and each group costs one durable write per seam.
    pub fn run_batch(&self, query: &BatchQuery) -> Result<(usize, Summary), StoreError> {
        let entries =
            StageClock::time(self.stages.as_deref(), Stage::Claim, || self.lake.claim_batch(&self.worker_id, query))?;
        let claimed = entries.len();
        let mut summary = Summary::default();
        if entries.is_empty() {
            return Ok((0, summary));
        }
        let claimed_ids: Vec<EntryId> = entries.iter().map(|e| e.id.clone()).collect();
        // The whole batch is worked with the set in effect now, whatever a
        // reload does meanwhile.
        let processor = self.processor();
        let (work_tx, work_rx) = crossbeam_channel::unbounded::<CacheEntry>();
        for entry in entries {
            work_tx.send(entry).expect("receiver alive");
        }
        drop(work_tx);
        let (heartbeat_stop, heartbeat_stopped) = crossbeam_channel::bounded::<()>(0);
        let (done_tx, done_rx) = crossbeam_channel::unbounded::<(CacheEntry, Work)>();
        let workers = self.workers.clamp(1, claimed);
        std::thread::scope(|scope| {
            // Keeps the batch's leases alive however long it takes; finished
            // and released entries are not renewed (the store checks).
            scope.spawn(|| {
                while let Err(RecvTimeoutError::Timeout) = heartbeat_stopped.recv_timeout(self.heartbeat) {
                    let renew = || self.lake.renew(&self.worker_id, &claimed_ids);
                    if let Err(e) = StageClock::time(self.stages.as_deref(), Stage::Renew, renew) {
                        tracing::warn!(error = %e, "could not renew the batch's leases");
                    }
                }
            });
            for _ in 0..workers {
                let (work_rx, done_tx, processor) = (work_rx.clone(), done_tx.clone(), &processor);
                scope.spawn(move || {
                    for entry in work_rx.iter() {
                        let work = self.work(processor, &entry);
                        if done_tx.send((entry, work)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done_tx);
            // Block for one result, then gather what finishes within
            // GROUP_WAIT: fewer, larger durable writes (each costs an fsync).
            while let Ok(first) = done_rx.recv() {
                let mut group = vec![first];
                let deadline = Instant::now() + GROUP_WAIT;
                while group.len() < MAX_WRITE_GROUP {
                    match done_rx.recv_deadline(deadline) {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                self.write_group(group, &mut summary);
            }
            drop(heartbeat_stop);
        });
        Ok((claimed, summary))
    }

    /// The keys, parsers and routes in effect.
    pub fn processor(&self) -> Arc<Processor> {
        self.processor.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Puts `next` in effect for the next batch (a reload); batches being
    /// worked finish with the one they began with.
    pub fn replace_processor(&self, next: Processor) {
        *self.processor.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
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
            // Nothing claimable left: but a dead archiver of this host may
            // still hold some, which are ours to take back now.
            if claimed == 0 && self.take_back_dead_claims(query).unwrap_or(0) > 0 {
                continue;
            }
            // Retries are released entries: stop rather than spin on a failing store.
            if claimed == 0 || summary.processed() == 0 {
                return Ok(total);
            }
        }
    }

    /// The daemon loop: poll, work, back off when idle (reference §6), until
    /// shutdown. A full batch means more is waiting, so the next poll is
    /// immediate; otherwise the reference's sleep applies.
    /// `on_poll` sees each poll's report (tests watch the loop with it).
    pub fn run_forever(&self, query: &BatchQuery, on_poll: impl FnMut(&PollReport)) {
        self.run_forever_with_reload(query, on_poll, &AtomicBool::new(false), || None);
    }

    /// [`Self::run_forever`], and whenever `reload_requested` is set (SIGHUP)
    /// between batches, `reload` is asked for the next processor: `Some`
    /// puts it in effect for the next claim, `None` keeps the current one
    /// (the reload failed; `reload` has said why). A sleep between polls is
    /// cut short by a request.
    pub fn run_forever_with_reload(
        &self,
        query: &BatchQuery,
        mut on_poll: impl FnMut(&PollReport),
        reload_requested: &AtomicBool,
        mut reload: impl FnMut() -> Option<Processor>,
    ) {
        let mut backoff = Backoff::new();
        while !self.shutdown.load(Ordering::Relaxed) {
            self.liveness.beat();
            if reload_requested.swap(false, Ordering::Relaxed) {
                if let Some(next) = reload() {
                    self.replace_processor(next);
                }
                self.liveness.beat();
            }
            let (poll, last_error) = match self.run_batch(query) {
                Ok((claimed, summary)) => {
                    let any_success = summary.success > 0;
                    let poll = if claimed >= query.limit && summary.processed() > 0 {
                        Poll::Full { any_success }
                    } else {
                        Poll::Partial { any_success }
                    };
                    (poll, None)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "poll failed; backing off");
                    (Poll::StoreFailed, Some(e.to_string()))
                }
            };
            let mut sleep = sleep_after(&mut backoff, poll, rand::random_range(0..=1000));
            if matches!(poll, Poll::Partial { .. }) {
                sleep = self.wake_for_claims(query, sleep);
            }
            let report = PollReport { failures: backoff.failures(), sleep, last_error };
            self.probe.polled(report.failures, report.sleep, report.last_error.as_deref());
            tracing::debug!(failures = report.failures, sleep_ms = report.sleep.as_millis() as u64, "polled");
            on_poll(&report);
            self.sleep_unless(sleep, reload_requested);
        }
    }

    /// Ends the claims of archiver processes of this host that are gone
    /// (killed, crashed): their entries need not wait for the lease.
    /// Returns how many entries came free.
    fn take_back_dead_claims(&self, query: &BatchQuery) -> Result<u64, StoreError> {
        let claims = self.lake.foreign_claims(&self.worker_id, query)?;
        let host = Owner::this_process().host;
        let dead: Vec<String> = claims
            .owners
            .into_iter()
            .filter(|owner| owner.parse::<Owner>().is_ok_and(|owner| owner.is_gone_from(&host)))
            .collect();
        if dead.is_empty() {
            return Ok(0);
        }
        let freed = self.lake.expire_claims(&dead)?;
        tracing::info!(entries = freed, owners = ?dead, "took back the claims of archiver processes that are gone");
        Ok(freed)
    }

    /// After a poll that left work claimed by others: poll again as soon as
    /// a dead process's claims are taken back, or when the earliest of the
    /// others' leases runs out, if that is sooner than `sleep` (the backoff
    /// alone could sleep an hour past it).
    fn wake_for_claims(&self, query: &BatchQuery, sleep: Duration) -> Duration {
        match self.take_back_dead_claims(query) {
            Ok(0) => {}
            Ok(_) => return Duration::ZERO,
            Err(e) => tracing::warn!(error = %e, "could not check for a dead archiver's claims"),
        }
        match self.lake.foreign_claims(&self.worker_id, query) {
            Ok(claims) => match claims.earliest_expiry_ms {
                Some(expiry) => {
                    let until = expiry.saturating_sub(cybexp_lake::clock::now_epoch_ms()).max(0) as u64;
                    // A little after the lease: clocks of archivers differ a bit.
                    sleep.min(Duration::from_millis(until) + LEASE_MARGIN)
                }
                None => sleep,
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not list other archivers' claims");
                sleep
            }
        }
    }

    /// Sleeps `total`, in steps, unless shutdown or `wake` comes first.
    fn sleep_unless(&self, total: Duration, wake: &AtomicBool) {
        let step = Duration::from_millis(50);
        let mut left = total;
        while !left.is_zero() && !self.shutdown.load(Ordering::Relaxed) && !wake.load(Ordering::Relaxed) {
            let nap = left.min(step);
            std::thread::sleep(nap);
            left -= nap;
            self.liveness.beat();
        }
    }
}

/// How long after another archiver's lease ends a waiting one polls.
const LEASE_MARGIN: Duration = Duration::from_millis(250);

/// How a daemon poll went, as far as the next sleep is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Poll {
    /// A whole batch was claimed and worked: more is waiting.
    Full { any_success: bool },
    /// Less than a batch (or nothing) was waiting.
    Partial { any_success: bool },
    /// The store failed (unreachable, refused the claim...).
    StoreFailed,
}

/// The longest wait before a failed store is tried again. The reference
/// backoff grows to an hour, which suits an empty queue, but after an outage
/// it would leave a recovered database idle for up to an hour. The store's
/// own circuit breaker keeps these retries cheap.
pub const STORE_RETRY_MAX: Duration = Duration::from_secs(30);

/// The sleep before the next poll: none after a full batch, the reference
/// backoff otherwise, at most [`STORE_RETRY_MAX`] while the store fails.
fn sleep_after(backoff: &mut Backoff, poll: Poll, jitter_millis: u32) -> Duration {
    match poll {
        Poll::Full { any_success } => {
            backoff.after_poll(any_success, jitter_millis);
            Duration::ZERO
        }
        Poll::Partial { any_success } => backoff.after_poll(any_success, jitter_millis),
        Poll::StoreFailed => backoff.after_poll(false, jitter_millis).min(STORE_RETRY_MAX),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_follow_the_reference_but_a_failed_store_is_retried_within_the_cap() {
        let mut backoff = Backoff::new();
        let idle: Vec<u64> =
            (0..7).map(|_| sleep_after(&mut backoff, Poll::Partial { any_success: false }, 0).as_secs()).collect();
        assert_eq!(idle, [2, 4, 8, 16, 32, 64, 128]);
        let failed: Vec<Duration> = (0..3).map(|_| sleep_after(&mut backoff, Poll::StoreFailed, 1000)).collect();
        assert_eq!(failed, [STORE_RETRY_MAX; 3]);
        assert_eq!(backoff.failures(), 10, "an outage still counts as a failed poll");
        assert_eq!(sleep_after(&mut Backoff::new(), Poll::StoreFailed, 500), Duration::from_millis(2500));
        assert_eq!(sleep_after(&mut backoff, Poll::Full { any_success: false }, 0), Duration::ZERO);
        assert_eq!(backoff.failures(), 11);
        assert_eq!(sleep_after(&mut backoff, Poll::Full { any_success: true }, 0), Duration::ZERO);
        assert_eq!(backoff.failures(), 0);
        assert_eq!(sleep_after(&mut backoff, Poll::Partial { any_success: true }, 7), Duration::from_millis(1007));
    }
}
