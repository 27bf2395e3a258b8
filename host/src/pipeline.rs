//! The archive loop (reference §5, §6): claim cache entries, decrypt and
//! parse them on a pool of worker threads, store each raw document, then
//! record the outcome on its entry.
//!
//! Shaped as stages with one owner each, connected by queues (see
//! `flow.rs`): claiming (`claimer.rs`), working (`worker.rs`), writing
//! (`writer.rs`), and the lease keeper (`leases.rs`); what happens to one
//! entry apart from the stores is `processor.rs`, and when the daemon
//! polls is `schedule.rs`.
//!
//! Crash safety comes from the order of writes: the document is stored
//! (idempotently, unique by `_hash`) and durable before the entry is marked
//! (`cybexp_lake::GroupWriter`). A crash in between leaves the entry
//! unmarked; its lease expires, it is processed again, the store is a
//! no-op, and it is marked. Nothing is lost and nothing is stored twice.
//!
//! This module imports no other module of the daemon: its stores, processor
//! and telemetry probe are handed in (see `context.rs`).

mod claimer;
mod flow;
mod inflight;
mod leases;
mod liveness;
mod processor;
mod schedule;
mod stages;
mod summary;
mod worker;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use cybexp_lake::{ArchiveStore, BatchQuery, CacheLake, GroupWriter, Owner, StoreError};
use cybexp_telemetry::Probe;

pub use inflight::FlowLimits;
pub use liveness::Liveness;
pub use processor::{
    ENVELOPE_ALLOWANCE, ParserCall, Processed, Processor, Route, Step, Trouble, blob_failure, builtin_routes,
    raw_document,
};
pub use schedule::{PollReport, STORE_RETRY_MAX};
pub use stages::{Stage, StageClock, StageTotal};
pub use summary::{EntryResult, Summary};

/// The whole archiver: stores, processor, worker pool settings.
pub struct Pipeline {
    pub lake: Arc<dyn CacheLake>,
    /// The archive, for describing it; the pipeline writes through `writer`.
    pub archive: Arc<dyn ArchiveStore>,
    /// Writes groups of finished entries to the archive and the lake.
    pub writer: Arc<dyn GroupWriter>,
    /// The keys, parsers and routes in effect: swapped whole by a reload
    /// ([`Pipeline::replace_processor`]); an entry keeps the one in effect
    /// when it was claimed.
    pub processor: RwLock<Arc<Processor>>,
    pub workers: usize,
    /// The least a claim asks for (more when claims take long).
    pub batch_size: usize,
    /// How much may be claimed and not yet written at once.
    pub limits: FlowLimits,
    /// Lease owner name written on claims: [`Owner::this_process`], so a
    /// restarted archiver can take back at once what a dead one held.
    pub worker_id: String,
    /// How often the leases of the entries in flight are renewed (a third
    /// of the lease, so two renewals may fail before one runs out).
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

impl FlowLimits {
    /// The default for a batch size: sixteen claims' worth of entries (a
    /// claim grows when claims take long), and 256 MiB of blobs.
    pub fn for_batch_size(batch_size: usize) -> FlowLimits {
        FlowLimits { max_entries: batch_size.max(1) * 16, max_bytes: 256 << 20 }
    }
}

impl Pipeline {
    /// A pipeline whose lake and archive are one store (the embedded one),
    /// with no shutdown signal wired: for benchmarks and tests.
    pub fn on_one_store<S: CacheLake + ArchiveStore + GroupWriter + 'static>(
        store: Arc<S>,
        processor: Processor,
        workers: usize,
        batch_size: usize,
    ) -> Pipeline {
        Pipeline {
            lake: store.clone(),
            archive: store.clone(),
            writer: store,
            processor: RwLock::new(Arc::new(processor)),
            workers,
            batch_size,
            limits: FlowLimits::for_batch_size(batch_size),
            worker_id: Owner::this_process().to_string(),
            heartbeat: cybexp_lake::DEFAULT_LEASE / 3,
            shutdown: Arc::new(AtomicBool::new(false)),
            probe: Probe::disabled(),
            stages: None,
            liveness: Arc::default(),
        }
    }

    /// The keys, parsers and routes in effect.
    pub fn processor(&self) -> Arc<Processor> {
        self.processor.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Puts `next` in effect for the next claim (a reload); entries
    /// claimed before finish with the one they were claimed under.
    pub fn replace_processor(&self, next: Processor) {
        *self.processor.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    }

    /// Works off everything claimable now, then returns (the `once` mode).
    /// `progress` is called after each written group with the running
    /// summary.
    pub fn run_until_empty(
        &self,
        query: &BatchQuery,
        progress: impl Fn(&Summary) + Sync,
    ) -> Result<Summary, StoreError> {
        flow::run(self, query, flow::Mode::Once, &progress)
    }

    /// The daemon loop: poll, work, back off when idle (reference §6),
    /// until shutdown. `on_poll` sees each poll's report (tests watch the
    /// loop with it).
    pub fn run_forever(&self, query: &BatchQuery, mut on_poll: impl FnMut(&PollReport)) {
        self.run_forever_with_reload(query, &mut on_poll, &AtomicBool::new(false), || None);
    }

    /// [`Self::run_forever`], and whenever `reload_requested` is set
    /// (SIGHUP), `reload` is asked for the next processor between claims:
    /// `Some` puts it in effect for the next claim, `None` keeps the current
    /// one (the reload failed; `reload` has said why). A sleep between
    /// polls is cut short by a request.
    pub fn run_forever_with_reload(
        &self,
        query: &BatchQuery,
        mut on_poll: impl FnMut(&PollReport),
        reload_requested: &AtomicBool,
        mut reload: impl FnMut() -> Option<Processor>,
    ) {
        let daemon = flow::Daemon { on_poll: &mut on_poll, reload_requested, reload: &mut reload };
        // The daemon mode never fails: a failed poll is a backoff.
        let _ = flow::run(self, query, flow::Mode::Daemon(daemon), &|_| {});
        if self.shutdown.load(Ordering::Relaxed) {
            tracing::debug!("the archive loop stopped for shutdown");
        }
    }
}
