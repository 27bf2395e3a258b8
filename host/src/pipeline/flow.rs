//! The flow: the stages wired together, and the two ways to drive them.
//!
//! ```text
//!  claiming ──queue──▶ working (N threads) ──done──▶ writing (1..4 threads)
//!      ▲                                                 │
//!      └──────────── room in flight (InFlight) ◀─────────┘
//!  lease keeper: renews every entry in flight
//! ```
//! No stage waits for another except for work or room: the next claim is
//! under way while entries are worked, and groups are written while the
//! workers go on. `once` claims until the lake is dry; the daemon polls on
//! the reference's backoff, sleeps on the store's change feed, and reloads
//! between claims.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cybexp_lake::backoff::Backoff;
use cybexp_lake::{BatchQuery, ChangeFeed, StoreError};

use super::claimer::Claimer;
use super::inflight::InFlight;
use super::schedule::{Poll, PollReport, sleep_after};
use super::summary::Summary;
use super::worker::{Claimed, Worked};
use super::{Pipeline, Processor, leases, worker, writer};

/// How a run is driven.
pub(super) enum Mode<'a> {
    /// Work off everything claimable now, then return.
    Once,
    /// Poll until shutdown.
    Daemon(Daemon<'a>),
}

/// The daemon's hooks.
pub(super) struct Daemon<'a> {
    /// Sees each poll's report (systemd's STATUS, the tests).
    pub(super) on_poll: &'a mut dyn FnMut(&PollReport),
    /// Set by SIGHUP: `reload` is asked for the next processor between claims.
    pub(super) reload_requested: &'a AtomicBool,
    pub(super) reload: &'a mut dyn FnMut() -> Option<Processor>,
}

/// Runs the stages until `mode` is done; returns what the run did. The
/// entries in flight are always finished (written or released) before it
/// returns, whatever ended the run.
pub(super) fn run(
    pipeline: &Pipeline,
    query: &BatchQuery,
    mode: Mode<'_>,
    progress: &(dyn Fn(&Summary) + Sync),
) -> Result<Summary, StoreError> {
    let inflight = InFlight::default();
    let summary = Mutex::new(Summary::default());
    let (queue_tx, queue_rx) = crossbeam_channel::unbounded::<Claimed>();
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Worked>();
    let (stop_keeper, keeper_stop) = crossbeam_channel::bounded::<()>(0);
    let shared = writer::Shared { pipeline, inflight: &inflight, summary: &summary, progress };
    let ended = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..pipeline.workers.max(1))
            .map(|_| {
                let (queue, done, inflight) = (queue_rx.clone(), done_tx.clone(), &inflight);
                scope.spawn(move || worker::run(pipeline, inflight, &queue, &done))
            })
            .collect();
        drop((queue_rx, done_tx));
        let writers: Vec<_> = (0..pipeline.writer.groups_in_flight())
            .map(|_| {
                let (done, shared) = (done_rx.clone(), &shared);
                scope.spawn(move || writer::run(shared, &done))
            })
            .collect();
        drop(done_rx);
        let keeper = scope.spawn(|| leases::run(pipeline, &inflight, &keeper_stop));

        let mut claimer = Claimer::new(pipeline, &inflight, queue_tx, query);
        let ended = match mode {
            Mode::Once => once(&mut claimer),
            Mode::Daemon(daemon) => {
                run_daemon(pipeline, &inflight, &mut claimer, daemon);
                Ok(())
            }
        };
        // Closing the queue ends the workers, then the writers; the leases
        // are kept until the last entry is written or released.
        drop(claimer);
        for handle in workers.into_iter().chain(writers) {
            if handle.join().is_err() {
                tracing::error!("a pipeline thread panicked");
            }
        }
        drop(stop_keeper);
        let _ = keeper.join();
        ended
    });
    let summary = summary.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    ended.map(|()| summary)
}

/// `once`: claims until a claim comes back short, the lake is dry and the
/// work is done; stops early rather than spin when every entry goes back
/// for the archiver's own trouble (the exit status says so).
fn once(claimer: &mut Claimer<'_>) -> Result<(), StoreError> {
    claimer.start_round();
    loop {
        if !claimer.wait_for_turn(&|| false) {
            return Ok(());
        }
        let (got, asked) = claimer.claim()?;
        if claimer.in_trouble() {
            return Ok(());
        }
        if got == asked {
            continue;
        }
        claimer.wait_drained();
        if claimer.in_trouble() {
            return Ok(());
        }
        if got == 0 {
            // Nothing claimable left: but a dead archiver of this host may
            // still hold some, which are ours to take back now.
            if claimer.take_back_dead_claims().unwrap_or(0) > 0 {
                claimer.start_round();
                continue;
            }
            return Ok(());
        }
        // Released entries may be claimable again: one more round.
        claimer.start_round();
    }
}

/// At most this many reports a second while a backlog is worked (every
/// full claim is a poll, and each report is a STATUS line to systemd).
const REPORT_EVERY: Duration = Duration::from_millis(200);

/// The daemon: poll, work, back off when idle (reference §6), until
/// shutdown. A full claim means more is waiting, so the next claim follows
/// at once; a short one means the lake is dry for now: the work in flight
/// is finished, the lake is asked once more, and then the reference's
/// sleep applies, cut short by the change feed (a new entry is archived at
/// once), by a reload, or by the end of another archiver's lease.
fn run_daemon(pipeline: &Pipeline, inflight: &InFlight, claimer: &mut Claimer<'_>, daemon: Daemon<'_>) {
    let Daemon { on_poll, reload_requested, reload } = daemon;
    let mut feed = pipeline.lake.changes();
    tracing::info!(feed = %feed.describe(), "new entries are noticed through the lake's change feed");
    let mut backoff = Backoff::new();
    let mut last_report: Option<Instant> = None;
    let stopping = || pipeline.shutdown.load(Ordering::Relaxed);
    claimer.start_round();
    while !stopping() {
        pipeline.liveness.beat();
        if reload_requested.swap(false, Ordering::Relaxed) {
            if let Some(next) = reload() {
                pipeline.replace_processor(next);
            }
            pipeline.liveness.beat();
        }
        if !claimer.wait_for_turn(&|| reload_requested.load(Ordering::Relaxed)) {
            continue;
        }
        // What changes from here on may be after the claim's look: it must wake us.
        feed.mark();
        let (poll, last_error) = match claimer.claim() {
            Err(e) => {
                tracing::warn!(error = %e, "poll failed; backing off");
                (Poll::Trouble, Some(e.to_string()))
            }
            Ok(_) if claimer.in_trouble() => (Poll::Trouble, None),
            Ok((got, asked)) if got == asked => (Poll::Full { any_success: inflight.take_successes() > 0 }, None),
            Ok((got, _)) if got > 0 || inflight.read(|s| !s.held.is_empty()) => {
                // The lake is dry for now: finish the work in flight, then
                // ask once more (what came meanwhile is claimed, not slept on).
                claimer.wait_drained();
                if claimer.in_trouble() {
                    (Poll::Trouble, None)
                } else {
                    continue;
                }
            }
            Ok(_) => (Poll::Partial { any_success: inflight.take_successes() > 0 }, None),
        };
        let mut sleep = sleep_after(&mut backoff, poll, rand::random_range(0..=1000));
        if matches!(poll, Poll::Partial { .. }) {
            sleep = claimer.wake_for_claims(sleep);
        }
        let report = PollReport { failures: backoff.failures(), sleep, last_error };
        let due = last_report.is_none_or(|at| at.elapsed() >= REPORT_EVERY);
        if !matches!(poll, Poll::Full { .. }) || due {
            pipeline.probe.polled(report.failures, report.sleep, report.last_error.as_deref());
            tracing::debug!(failures = report.failures, sleep_ms = report.sleep.as_millis() as u64, "polled");
            on_poll(&report);
            last_report = Some(Instant::now());
        }
        if !sleep.is_zero() {
            let idle = matches!(poll, Poll::Partial { .. });
            sleep_unless(pipeline, sleep, reload_requested, idle.then_some(&mut *feed));
            claimer.start_round();
        }
    }
}

/// Sleeps `total` in short steps (the loop beats through them), unless
/// shutdown or `wake` comes first, or the change feed (when idle) fires.
fn sleep_unless(pipeline: &Pipeline, total: Duration, wake: &AtomicBool, mut feed: Option<&mut dyn ChangeFeed>) {
    let step = Duration::from_millis(100);
    let deadline = Instant::now() + total;
    while !pipeline.shutdown.load(Ordering::Relaxed) && !wake.load(Ordering::Relaxed) {
        pipeline.liveness.beat();
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match feed.as_deref_mut() {
            Some(feed) => {
                if feed.wait(left.min(step)) {
                    tracing::debug!("the lake changed: polling now");
                    return;
                }
            }
            None => std::thread::sleep(left.min(step)),
        }
    }
}
