//! The archiver's telemetry, kept apart from the pipeline.
//!
//! The pipeline only calls [`Probe`] hooks, which never block and never take
//! a lock: totals, the worker clock and the loop state are atomics; detail
//! (typtag, cause, parser cost and records) goes into a bounded channel with `try_send`,
//! and an event that does not fit is dropped and counted. A collector thread
//! drains the channel into an [`aggregate`], ticks the per-second history,
//! and a queue thread samples the lake's queue depth on an interval, so no
//! database query is ever on the pipeline's path.
//!
//! The [`Hub`] turns all of it into a [`Snapshot`], which [`server`] serves on
//! the status socket and [`prometheus`] renders for scrapers.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use cybexp_lake::{ErrorCause, Outcome, QueueDepth};
use cybexp_status::{Identity, LoopState, Snapshot, TelemetryHealth, Workers};
/// What a parser read, as the sandbox reports it for [`Probe::parsed`].
pub use cybexp_tahoe::RecordCounts;

pub mod aggregate;
pub mod config;
pub mod prometheus;
pub mod server;

use aggregate::Aggregate;

/// Tunables; the defaults suit a daemon.
#[derive(Clone, Debug)]
pub struct Options {
    /// How often the queue depth is sampled.
    pub queue_interval: Duration,
    /// Detail events buffered between the pipeline and the collector.
    pub channel_capacity: usize,
    /// Typtags tracked one by one; later ones are counted under `(other)`.
    pub max_typtags: usize,
    /// Recent ERROR outcomes kept.
    pub recent_errors: usize,
    /// Seconds of per-second outcome history (the 5-minute window).
    pub history_secs: usize,
    /// Queue samples kept for the trend.
    pub queue_samples: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            queue_interval: Duration::from_secs(5),
            channel_capacity: 16_384,
            max_typtags: 512,
            recent_errors: 50,
            history_secs: 300,
            queue_samples: 120,
        }
    }
}

/// Asks the lake for its queue depth; runs on the queue thread only.
pub type QueueSampler = Box<dyn FnMut() -> Result<QueueDepth, String> + Send>;

/// Longest typtag, cause or message kept (longer ones are cut).
pub const MAX_TEXT_CHARS: usize = 200;

/// A detail event, owned, on its way to the collector.
#[derive(Debug)]
pub(crate) enum Detail {
    Outcome { at_ms: u64, typtag: String, entry: String, kind: Kind },
    Retried { typtag: String },
    Parsed { parser: String, fuel: u64, elapsed_us: u64, counts: RecordCounts },
    PollFailed { at_ms: u64, message: String },
    Stop,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Success,
    NotSupported,
    Error { cause: String, message: Option<String> },
}

/// The atomics the hooks touch, and the channel's sending end.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    success: AtomicU64,
    not_supported: AtomicU64,
    error: AtomicU64,
    retried: AtomicU64,
    requeued_success: AtomicU64,
    requeued_not_supported: AtomicU64,
    requeued_error: AtomicU64,
    handled: AtomicU64,
    busy_ns: AtomicU64,
    in_flight: AtomicU32,
    sent: AtomicU64,
    dropped: AtomicU64,
    last_outcome_at_ms: AtomicU64,
    polls: AtomicU64,
    poll_errors: AtomicU64,
    failures: AtomicU32,
    sleep_ms: AtomicU64,
    last_poll_at_ms: AtomicU64,
    next_poll_at_ms: AtomicU64,
    clients: AtomicU32,
}

#[derive(Debug)]
struct Shared {
    counters: Counters,
    tx: Sender<Detail>,
}

/// The pipeline's handle: cheap to clone, every hook non-blocking. A
/// disabled probe (the default) does nothing.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    shared: Option<Arc<Shared>>,
}

/// Counts a worker busy from creation to drop (one entry's CPU part).
#[must_use = "the worker is counted busy until this is dropped"]
pub struct Busy<'a> {
    probe: Option<(&'a Shared, Instant)>,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Some((shared, started)) = self.probe.take() {
            let c = &shared.counters;
            c.busy_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            c.handled.fetch_add(1, Ordering::Relaxed);
            c.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Probe {
    pub const fn disabled() -> Probe {
        Probe { shared: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// A worker starts on an entry; it is idle again when the guard drops.
    pub fn busy(&self) -> Busy<'_> {
        Busy {
            probe: self.shared.as_deref().map(|shared| {
                shared.counters.in_flight.fetch_add(1, Ordering::Relaxed);
                (shared, Instant::now())
            }),
        }
    }

    /// One sandbox call: its parser, fuel and time, and the records the
    /// parser read (how many were malformed; zero if it made no document).
    pub fn parsed(&self, parser: &str, fuel: u64, elapsed: Duration, counts: RecordCounts) {
        if let Some(shared) = &self.shared {
            let elapsed_us = elapsed.as_micros().min(u128::from(u64::MAX)) as u64;
            shared.send(Detail::Parsed { parser: cut(parser), fuel, elapsed_us, counts });
        }
    }

    /// An entry got its outcome (it is marked in the lake).
    pub fn outcome(&self, typtag: &str, entry: &str, outcome: &Outcome) {
        let Some(shared) = &self.shared else { return };
        let c = &shared.counters;
        let at_ms = now_ms();
        c.last_outcome_at_ms.store(at_ms, Ordering::Relaxed);
        let kind = match outcome {
            Outcome::Success { .. } => {
                c.success.fetch_add(1, Ordering::Relaxed);
                Kind::Success
            }
            Outcome::NotSupported => {
                c.not_supported.fetch_add(1, Ordering::Relaxed);
                Kind::NotSupported
            }
            Outcome::Error { cause, message } => {
                c.error.fetch_add(1, Ordering::Relaxed);
                // A parser's reason may quote feed content: like the log, the
                // dashboard gets its cause only.
                let message = (!matches!(cause, ErrorCause::Parser(_))).then(|| cut(message));
                Kind::Error { cause: cut(&cause.code()), message }
            }
        };
        // Only errors are listed by entry id; skip the allocation otherwise.
        let entry = if matches!(kind, Kind::Error { .. }) { cut(entry) } else { String::new() };
        shared.send(Detail::Outcome { at_ms, typtag: cut(typtag), entry, kind });
    }

    /// An entry that carried a requeue history got its outcome (beside
    /// [`Self::outcome`]): whether what operators requeue now works. The
    /// requeues themselves happen in the `requeue` command, another process,
    /// and are on each entry; this is what the daemon can count honestly.
    pub fn requeued_outcome(&self, outcome: &Outcome) {
        let Some(shared) = &self.shared else { return };
        let c = &shared.counters;
        let counter = match outcome {
            Outcome::Success { .. } => &c.requeued_success,
            Outcome::NotSupported => &c.requeued_not_supported,
            Outcome::Error { .. } => &c.requeued_error,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// An entry was released for a retry (a database failure).
    pub fn retried(&self, typtag: &str) {
        if let Some(shared) = &self.shared {
            shared.counters.retried.fetch_add(1, Ordering::Relaxed);
            shared.send(Detail::Retried { typtag: cut(typtag) });
        }
    }

    /// The loop finished a poll: the backoff's failure count, the sleep it
    /// chose, and the poll's error if it failed.
    pub fn polled(&self, failures: u32, sleep: Duration, error: Option<&str>) {
        let Some(shared) = &self.shared else { return };
        let c = &shared.counters;
        let now = now_ms();
        c.polls.fetch_add(1, Ordering::Relaxed);
        c.failures.store(failures, Ordering::Relaxed);
        c.sleep_ms.store(sleep.as_millis() as u64, Ordering::Relaxed);
        c.last_poll_at_ms.store(now, Ordering::Relaxed);
        c.next_poll_at_ms.store(now.saturating_add(sleep.as_millis() as u64), Ordering::Relaxed);
        if let Some(message) = error {
            c.poll_errors.fetch_add(1, Ordering::Relaxed);
            shared.send(Detail::PollFailed { at_ms: now, message: cut(message) });
        }
    }
}

impl Shared {
    fn send(&self, event: Detail) {
        match self.tx.try_send(event) {
            Ok(()) => {
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The collector is gone (shutdown): nothing to count for.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// At most [`MAX_TEXT_CHARS`] chars of `s`.
fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => s[..end].to_owned(),
        None => s.to_owned(),
    }
}

/// Wall clock, milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// What the daemon tells the telemetry at start.
pub struct Setup {
    pub identity: Identity,
    /// typtag → parser, so routed typtags show before their first entry.
    pub routes: Vec<(String, String)>,
    pub queue: Option<QueueSampler>,
    /// The daemon's shutdown flag: reported as "stopping".
    pub stopping: Option<Arc<AtomicBool>>,
    pub options: Options,
}

/// Reads the telemetry: what servers and exporters hold. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
    state: Arc<Mutex<Aggregate>>,
    stopping: Option<Arc<AtomicBool>>,
}

impl Hub {
    fn state(&self) -> MutexGuard<'_, Aggregate> {
        // A panic while holding the lock leaves counts that are still counts.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Everything, now. Totals and the loop come from the atomics (exact);
    /// the breakdowns from what the collector has drained.
    pub fn snapshot(&self) -> Snapshot {
        let now = now_ms();
        let c = &self.shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let at = |a: &AtomicU64| Some(load(a)).filter(|ms| *ms > 0);
        let agg = self.state();
        let (last_error, last_error_at_ms) = match &agg.last_poll_error {
            Some((message, at_ms)) => (Some(message.clone()), Some(*at_ms)),
            None => (None, None),
        };
        let loop_state = LoopState {
            polls: load(&c.polls),
            poll_errors: load(&c.poll_errors),
            failures: c.failures.load(Ordering::Relaxed),
            sleep_ms: load(&c.sleep_ms),
            last_poll_at_ms: at(&c.last_poll_at_ms),
            next_poll_at_ms: at(&c.next_poll_at_ms),
            last_error,
            last_error_at_ms,
            last_outcome_at_ms: at(&c.last_outcome_at_ms),
            stopping: self.stopping.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)),
        };
        let totals = cybexp_status::Counts {
            success: load(&c.success),
            not_supported: load(&c.not_supported),
            error: load(&c.error),
        };
        let (utilisation_10s, utilisation_1m) = agg.utilisation();
        let workers = Workers {
            count: agg.identity.workers,
            in_flight: c.in_flight.load(Ordering::Relaxed),
            utilisation_10s,
            utilisation_1m,
            handled: load(&c.handled),
            busy_ms: load(&c.busy_ns) / 1_000_000,
        };
        let telemetry = TelemetryHealth {
            events: agg.events,
            dropped_events: load(&c.dropped),
            other_typtag_events: agg.other_typtag_events,
            clients: c.clients.load(Ordering::Relaxed),
        };
        Snapshot {
            taken_at_ms: now,
            identity: agg.identity.clone(),
            loop_state,
            totals,
            retried: load(&c.retried),
            requeued: cybexp_status::Counts {
                success: load(&c.requeued_success),
                not_supported: load(&c.requeued_not_supported),
                error: load(&c.requeued_error),
            },
            rates: agg.rates(),
            history: agg.history(),
            queue: agg.queue.clone(),
            workers,
            typtags: agg.typtags.values().cloned().collect(),
            parsers: agg.parsers.values().cloned().collect(),
            causes: agg.causes.clone(),
            recent_errors: agg.recent_errors.iter().cloned().collect(),
            telemetry,
        }
    }

    /// Changes the identity after start (the servers' addresses, once bound).
    pub fn update_identity(&self, update: impl FnOnce(&mut Identity)) {
        update(&mut self.state().identity);
    }

    /// `cybexp-archive 0.1.0`, for the hello.
    pub fn server_name(&self) -> String {
        let agg = self.state();
        format!("{} {}", agg.identity.name, agg.identity.version)
    }

    pub(crate) fn client_connected(&self) {
        self.shared.counters.clients.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn client_disconnected(&self) {
        self.shared.counters.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The running telemetry: the collector and queue threads. Dropping it
/// stops them; probes handed out keep working as no-ops that count nothing.
pub struct Telemetry {
    hub: Hub,
    stop: Arc<AtomicBool>,
    collector: Option<JoinHandle<()>>,
    queue: Option<JoinHandle<()>>,
}

impl Telemetry {
    pub fn start(setup: Setup) -> std::io::Result<Telemetry> {
        let (tx, rx) = crossbeam_channel::bounded(setup.options.channel_capacity.max(1));
        let shared = Arc::new(Shared { counters: Counters::default(), tx });
        let state = Arc::new(Mutex::new(Aggregate::new(setup.identity, &setup.routes, setup.options.clone())));
        let hub = Hub { shared, state, stopping: setup.stopping };
        let stop = Arc::new(AtomicBool::new(false));
        let collector = {
            let (hub, stop) = (hub.clone(), stop.clone());
            std::thread::Builder::new().name("telemetry".into()).spawn(move || collect(&hub, &rx, &stop))?
        };
        let queue = match setup.queue {
            Some(sampler) => {
                let (hub, stop, interval) = (hub.clone(), stop.clone(), setup.options.queue_interval);
                Some(
                    std::thread::Builder::new()
                        .name("telemetry-queue".into())
                        .spawn(move || sample_queue(&hub, sampler, interval, &stop))?,
                )
            }
            None => None,
        };
        Ok(Telemetry { hub, stop, collector: Some(collector), queue })
    }

    pub fn probe(&self) -> Probe {
        Probe { shared: Some(self.hub.shared.clone()) }
    }

    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.hub.snapshot()
    }

    /// Waits until the collector has taken in every event sent so far (for
    /// tests and benchmarks).
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.hub.state().events < self.hub.shared.counters.sent.load(Ordering::Relaxed) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.hub.shared.tx.try_send(Detail::Stop);
        if let Some(queue) = self.queue.take() {
            queue.thread().unpark();
            let _ = queue.join();
        }
        if let Some(collector) = self.collector.take() {
            let _ = collector.join();
        }
    }
}

/// Longest batch of events applied under one lock.
const DRAIN_BATCH: usize = 1024;

fn collect(hub: &Hub, rx: &Receiver<Detail>, stop: &AtomicBool) {
    let tick = Duration::from_secs(1);
    let mut next_tick = Instant::now() + tick;
    let mut batch = Vec::with_capacity(DRAIN_BATCH);
    while !stop.load(Ordering::Relaxed) {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(first) => {
                batch.push(first);
                while batch.len() < DRAIN_BATCH {
                    match rx.try_recv() {
                        Ok(event) => batch.push(event),
                        Err(_) => break,
                    }
                }
                let mut agg = hub.state();
                for event in batch.drain(..) {
                    agg.apply(event);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        if now >= next_tick {
            hub.state().tick(now_ms(), &hub.shared.counters);
            next_tick += tick;
            // Asleep for long (a suspended machine): start afresh, don't replay.
            if next_tick + tick * 5 < now {
                next_tick = now + tick;
            }
        }
    }
}

fn sample_queue(hub: &Hub, mut sampler: QueueSampler, interval: Duration, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        // The query runs without the lock: a slow database delays only this thread.
        let result = sampler();
        hub.state().queue_sample(now_ms(), interval, result);
        let until = Instant::now() + interval;
        while !stop.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn success() -> Outcome {
        Outcome::Success { hash: "ab".into() }
    }

    fn error(cause: ErrorCause, message: &str) -> Outcome {
        Outcome::Error { cause, message: message.into() }
    }

    pub(crate) fn setup(options: Options) -> Setup {
        Setup {
            identity: Identity { workers: 2, started_at_ms: now_ms(), ..Default::default() },
            routes: vec![("feed".into(), "json".into())],
            queue: None,
            stopping: None,
            options,
        }
    }

    #[test]
    fn disabled_probe_does_nothing() {
        let probe = Probe::disabled();
        let _busy = probe.busy();
        probe.outcome("t", "e", &success());
        probe.polled(1, Duration::from_secs(2), Some("x"));
        assert!(!probe.is_enabled());
    }

    #[test]
    fn hooks_reach_the_snapshot() {
        let telemetry = Telemetry::start(setup(Options::default())).unwrap();
        let probe = telemetry.probe();
        {
            let _busy = probe.busy();
            assert_eq!(telemetry.snapshot().workers.in_flight, 1);
            std::thread::sleep(Duration::from_millis(2));
        }
        probe.parsed("json", 1234, Duration::from_micros(700), RecordCounts::default());
        probe.parsed("url-list", 99, Duration::from_micros(40), RecordCounts { records: 7_000, malformed: 31 });
        probe.parsed("url-list", 99, Duration::from_micros(40), RecordCounts { records: 500, malformed: 0 });
        probe.outcome("feed", "1", &success());
        probe.outcome("feed", "2", &error(ErrorCause::Parser("fuel".into()), "quotes the feed"));
        probe.outcome("other", "3", &Outcome::NotSupported);
        probe.outcome("feed", "4", &error(ErrorCause::Decrypt("auth".into()), "tag mismatch"));
        probe.retried("feed");
        probe.requeued_outcome(&success());
        probe.requeued_outcome(&error(ErrorCause::Parser("fuel".into()), "again"));
        probe.requeued_outcome(&error(ErrorCause::Parser("fuel".into()), "again"));
        probe.polled(3, Duration::from_secs(8), Some("sqlite store unavailable: locked"));
        assert!(telemetry.flush(Duration::from_secs(5)));
        let s = telemetry.snapshot();
        assert_eq!((s.totals.success, s.totals.not_supported, s.totals.error, s.retried), (1, 1, 2, 1));
        assert_eq!(s.requeued, cybexp_status::Counts { success: 1, not_supported: 0, error: 2 });
        assert_eq!(s.workers.in_flight, 0);
        assert_eq!(s.workers.handled, 1);
        assert!(s.workers.busy_ms >= 2, "{:?}", s.workers);
        let feed = s.typtag("feed").unwrap();
        assert_eq!((feed.counts.success, feed.counts.error, feed.retried), (1, 2, 1));
        assert_eq!(feed.parser.as_deref(), Some("json"));
        assert_eq!(feed.causes["parser.fuel"], 1);
        assert_eq!(s.typtag("other").unwrap().parser, None);
        assert_eq!(s.causes.values().sum::<u64>(), 2);
        // Newest first; the parser error carries no text.
        assert_eq!(s.recent_errors[0].cause, "decrypt.auth");
        assert_eq!(s.recent_errors[0].message.as_deref(), Some("tag mismatch"));
        assert_eq!(s.recent_errors[1].entry, "2");
        assert_eq!(s.recent_errors[1].message, None);
        let json = &s.parsers.iter().find(|p| p.name == "json").unwrap();
        assert_eq!((json.calls, json.fuel_total, json.parse_time.sum_us), (1, 1234, 700));
        assert_eq!((json.records, json.malformed), (0, 0));
        let urls = &s.parsers.iter().find(|p| p.name == "url-list").unwrap();
        assert_eq!((urls.calls, urls.records, urls.malformed, urls.calls_with_malformed), (2, 7_500, 31, 1));
        assert_eq!(s.loop_state.failures, 3);
        assert_eq!(s.loop_state.poll_errors, 1);
        assert_eq!(s.loop_state.last_error.as_deref(), Some("sqlite store unavailable: locked"));
        let next = s.loop_state.next_poll_at_ms.unwrap() - s.loop_state.last_poll_at_ms.unwrap();
        assert_eq!(next, 8_000);
        assert_eq!(s.telemetry.dropped_events, 0);
        assert_eq!(s.telemetry.events, 9);
    }

    #[test]
    fn a_full_channel_drops_and_counts_but_totals_stay_exact() {
        // A collector that has fallen behind: nobody drains this channel of 4.
        let (tx, _rx) = crossbeam_channel::bounded(4);
        let probe = Probe { shared: Some(Arc::new(Shared { counters: Counters::default(), tx })) };
        // Nobody drains the channel: a hook that blocked would never return.
        for i in 0..1_000 {
            probe.outcome("feed", &i.to_string(), &success());
        }
        let c = &probe.shared.as_ref().unwrap().counters;
        assert_eq!(c.success.load(Ordering::Relaxed), 1_000, "totals are exact");
        assert_eq!(c.sent.load(Ordering::Relaxed), 4);
        assert_eq!(c.dropped.load(Ordering::Relaxed), 996);
    }

    #[test]
    fn drops_show_in_the_snapshot() {
        let telemetry = Telemetry::start(setup(Options { channel_capacity: 2, ..Options::default() })).unwrap();
        let hub = telemetry.hub();
        let guard = hub.state(); // the collector cannot apply anything meanwhile
        let probe = telemetry.probe();
        for i in 0..100 {
            probe.outcome("feed", &i.to_string(), &success());
        }
        drop(guard);
        assert!(telemetry.flush(Duration::from_secs(5)));
        let s = telemetry.snapshot();
        assert_eq!(s.totals.success, 100);
        // Whatever was dropped is counted: breakdown + drops = the exact total.
        assert_eq!(s.typtag("feed").unwrap().counts.success + s.telemetry.dropped_events, 100);
    }

    #[test]
    fn queue_is_sampled_off_the_pipeline() {
        let mut n = 0;
        let sampler: QueueSampler = Box::new(move || {
            n += 1;
            if n == 2 {
                Err("locked".into())
            } else {
                Ok(QueueDepth { waiting: 10 * n, skipped: 1, oldest_waiting_at: Some(1.5) })
            }
        });
        let options = Options { queue_interval: Duration::from_millis(20), ..Options::default() };
        let telemetry = Telemetry::start(Setup { queue: Some(sampler), ..setup(options) }).unwrap();
        cybexp_test_kit::wait_for("two queue samples", Duration::from_secs(5), |seen| {
            let history = telemetry.snapshot().queue.history;
            *seen = format!("{history:?}");
            (history.len() >= 2).then_some(())
        });
        let q = telemetry.snapshot().queue;
        assert_eq!(q.history[0].waiting, 10);
        assert_eq!(q.history[1].waiting, 30, "the failed sample is not in the history");
        assert_eq!(q.oldest_waiting_at_ms, Some(1_500), "epoch seconds become ms");
        assert_eq!(q.interval_ms, 20);
        drop(telemetry); // joins both threads promptly
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(cut(&"é".repeat(500)).chars().count(), MAX_TEXT_CHARS);
        assert_eq!(cut("short"), "short");
    }
}
