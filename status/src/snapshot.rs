//! What the daemon reports: one [`Snapshot`] of its telemetry. Every field
//! is safe to show to anyone who may open the status socket: counts, causes,
//! timings, entry ids, typtags, key *fingerprints* and store descriptions.
//! Never key material, never plaintext, never a parser's error text (it may
//! quote feed content).
//!
//! Compatibility: within one protocol version fields are only ever added,
//! each with a default, so an older client reads a newer daemon's snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type EpochMs = u64;

/// With a poll due and neither a poll nor an outcome for this long, the loop
/// is reported as stalled (a hung store call, say).
pub const STALL_AFTER_MS: u64 = 60_000;

/// The daemon's telemetry at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// When the daemon took it (its clock). Views compute uptime and
    /// countdowns against this, not against their own clock.
    pub taken_at_ms: EpochMs,
    pub identity: Identity,
    #[serde(rename = "loop")]
    pub loop_state: LoopState,
    /// Outcomes since the daemon started.
    pub totals: Counts,
    /// Entries released for a retry (database failures) since start.
    pub retried: u64,
    /// Outcomes since start of entries that carried a requeue history (an
    /// operator had requeued them): whether requeuing helps. Part of
    /// `totals`, not added to them.
    pub requeued: Counts,
    pub rates: Rates,
    pub history: History,
    pub queue: Queue,
    pub workers: Workers,
    /// Per typtag, sorted by typtag.
    pub typtags: Vec<TyptagStats>,
    /// Per loaded parser, sorted by name.
    pub parsers: Vec<ParserStats>,
    /// ERROR causes (`decrypt.auth`, `parser.fuel`, ...) since start.
    pub causes: BTreeMap<String, u64>,
    /// The latest ERROR outcomes, newest first.
    pub recent_errors: Vec<ErrorRecord>,
    pub telemetry: TelemetryHealth,
}

/// Who is answering.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Identity {
    /// `cybexp-archive`.
    pub name: String,
    pub version: String,
    /// The git commit it was built from (short), `aws-lc` or `rust-crypto`,
    /// the wasmtime version, `debug` or `release`; "unknown" where the
    /// build could not tell, empty from a daemon older than these fields.
    pub commit: String,
    pub rsa_backend: String,
    pub wasmtime: String,
    pub profile: String,
    /// The lease owner name (`host:pid`).
    pub instance: String,
    pub pid: u32,
    pub started_at_ms: EpochMs,
    /// The cache lake and archive backends, as they describe themselves
    /// (credentials in URLs are removed).
    pub lake: String,
    pub archive: String,
    /// Fingerprints of the loaded private keys (hex of the public key's id).
    pub key_fingerprints: Vec<String>,
    pub parsers: Vec<ParserIdentity>,
    pub workers: u32,
    pub batch_size: u32,
    /// The status socket's path.
    pub status_socket: Option<String>,
    /// The Prometheus listener's address, when on.
    pub metrics_listen: Option<String>,
    /// Which config the daemon runs on (SIGHUP reloads it).
    pub config: ConfigState,
}

/// The config in effect and the last reload's fate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigState {
    /// 1 at start, one more for every reload that took effect.
    pub generation: u64,
    /// When the config in effect was loaded.
    pub loaded_at_ms: EpochMs,
    /// Why the last reload was refused (the daemon kept the previous
    /// config); `None` once one succeeds.
    pub last_reload_error: Option<String>,
    /// When the last reload was tried, either way.
    pub last_reload_at_ms: Option<EpochMs>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParserIdentity {
    /// The name it is loaded under.
    pub name: String,
    /// What the component says it is.
    pub component: String,
    pub version: String,
    /// SHA-256 of the component bytes.
    pub sha256: String,
}

/// SUCCESS / NOT_SUPPORTED / ERROR counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub success: u64,
    pub not_supported: u64,
    pub error: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.success + self.not_supported + self.error
    }

    /// ERROR share of all outcomes, 0 when there are none.
    pub fn error_ratio(&self) -> f64 {
        if self.total() == 0 { 0.0 } else { self.error as f64 / self.total() as f64 }
    }
}

/// The poll loop and its backoff (reference §6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoopState {
    /// Polls finished since start.
    pub polls: u64,
    /// Polls that failed (the store was unavailable).
    pub poll_errors: u64,
    /// The backoff's failure count `n` (polls in a row without a SUCCESS).
    pub failures: u32,
    /// The sleep chosen after the last poll.
    pub sleep_ms: u64,
    /// When the last poll (claim and work-off) finished.
    pub last_poll_at_ms: Option<EpochMs>,
    /// When the next poll is due; in the past while the loop works.
    pub next_poll_at_ms: Option<EpochMs>,
    /// The last failed poll's error (a store failure), and when.
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<EpochMs>,
    /// When an entry last got an outcome.
    pub last_outcome_at_ms: Option<EpochMs>,
    /// Shutdown was requested: in-flight entries finish, the rest are released.
    pub stopping: bool,
}

/// Outcomes per second over the last 10 s, 1 min and 5 min.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rates {
    pub window_10s: RateWindow,
    pub window_1m: RateWindow,
    pub window_5m: RateWindow,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateWindow {
    /// Seconds the window actually covers (less than its size right after start).
    pub seconds: u32,
    /// Per second.
    pub success: f64,
    pub not_supported: f64,
    pub error: f64,
}

impl RateWindow {
    pub fn total(&self) -> f64 {
        self.success + self.not_supported + self.error
    }
}

/// Outcomes per `step_ms`, oldest first, the last bucket ending at `end_ms`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    pub step_ms: u64,
    pub end_ms: EpochMs,
    pub success: Vec<u32>,
    pub not_supported: Vec<u32>,
    pub error: Vec<u32>,
}

/// Entries waiting in the cache lake, sampled on an interval (not on the
/// pipeline's path).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Queue {
    /// Not processed and not skipped; `None` until the first sample.
    pub waiting: Option<u64>,
    /// Skipped (NOT_SUPPORTED or ERROR), waiting for an operator.
    pub skipped: Option<u64>,
    pub sampled_at_ms: Option<EpochMs>,
    /// Upload time of the oldest waiting entry (claimed or not) at the last
    /// sample; `None` when nothing waited, or before the first sample, or
    /// from a daemon older than this field.
    pub oldest_waiting_at_ms: Option<EpochMs>,
    pub interval_ms: u64,
    /// The last sample failed: why (a store failure).
    pub error: Option<String>,
    /// Recent samples, oldest first.
    pub history: Vec<QueueSample>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueSample {
    pub at_ms: EpochMs,
    pub waiting: u64,
    pub skipped: u64,
}

impl Queue {
    /// How long the oldest waiting entry had waited when the queue was
    /// sampled: the queue's lag, which a count cannot show (a busy queue
    /// stays young, a stuck one ages). `Some(0)` when the sample found
    /// nothing waiting; `None` before the first sample. Measured against the
    /// sample, not the reader's clock, so a failing sampler shows an age that
    /// stops, next to `sampled_at_ms`; an upload time ahead of the sample
    /// (the submitter's clock) counts as no wait.
    pub fn oldest_waiting_age_ms(&self) -> Option<u64> {
        let sampled = self.sampled_at_ms?;
        Some(self.oldest_waiting_at_ms.map_or(0, |at| sampled.saturating_sub(at)))
    }

    /// Change of `waiting` per minute over the samples held (positive: growing).
    pub fn trend_per_min(&self) -> Option<f64> {
        let (first, last) = (self.history.first()?, self.history.last()?);
        let span = last.at_ms.checked_sub(first.at_ms).filter(|s| *s > 0)?;
        Some((last.waiting as f64 - first.waiting as f64) * 60_000.0 / span as f64)
    }
}

/// The worker pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Workers {
    pub count: u32,
    /// Entries being handled right now.
    pub in_flight: u32,
    /// Share of worker time spent handling entries, 0..=1.
    pub utilisation_10s: f64,
    pub utilisation_1m: f64,
    /// Entries handled (any result) and the time that took, since start.
    pub handled: u64,
    pub busy_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TyptagStats {
    pub typtag: String,
    /// The parser it routes to; `None` for an unrouted typtag (NOT_SUPPORTED).
    pub parser: Option<String>,
    #[serde(flatten)]
    pub counts: Counts,
    pub retried: u64,
    pub causes: BTreeMap<String, u64>,
    pub last_seen_ms: EpochMs,
}

impl TyptagStats {
    /// The most frequent ERROR cause.
    pub fn top_cause(&self) -> Option<(&str, u64)> {
        self.causes.iter().max_by_key(|(cause, n)| (**n, std::cmp::Reverse(*cause))).map(|(c, n)| (c.as_str(), *n))
    }
}

/// One parser's cost: calls that ran in the sandbox (not the ones refused
/// before it, such as oversized input), and the records it read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParserStats {
    pub name: String,
    pub version: String,
    pub calls: u64,
    pub fuel_total: u64,
    pub fuel_max: u64,
    pub parse_time: Histogram,
    /// Records (URLs, events, messages) in the documents it made. Zero for
    /// a parser that does not count them (`json`).
    pub records: u64,
    /// Of those, malformed but stored as received: a feed degrading.
    pub malformed: u64,
    /// Calls whose document held at least one malformed record.
    pub calls_with_malformed: u64,
}

impl ParserStats {
    pub fn fuel_mean(&self) -> Option<u64> {
        self.fuel_total.checked_div(self.calls)
    }

    /// The share of records that were malformed, 0..=1; `None` before any.
    pub fn malformed_share(&self) -> Option<f64> {
        (self.records > 0).then(|| self.malformed as f64 / self.records as f64)
    }
}

/// A histogram in microseconds: `counts[i]` observations `<= bounds_us[i]`
/// (and above the previous bound); the last count is above every bound.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Histogram {
    pub bounds_us: Vec<u64>,
    pub counts: Vec<u64>,
    pub sum_us: u64,
    pub count: u64,
}

impl Histogram {
    pub fn with_bounds(bounds_us: &[u64]) -> Histogram {
        Histogram { bounds_us: bounds_us.to_vec(), counts: vec![0; bounds_us.len() + 1], sum_us: 0, count: 0 }
    }

    pub fn observe(&mut self, us: u64) {
        let bucket = self.bounds_us.partition_point(|bound| *bound < us);
        if let Some(count) = self.counts.get_mut(bucket) {
            *count += 1;
        }
        self.sum_us = self.sum_us.saturating_add(us);
        self.count += 1;
    }

    pub fn mean_us(&self) -> Option<u64> {
        self.sum_us.checked_div(self.count)
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1); `None`
    /// when empty, `u64::MAX` when it falls above the last bound.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(self.bounds_us.get(i).copied().unwrap_or(u64::MAX));
            }
        }
        Some(u64::MAX)
    }
}

/// One ERROR outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorRecord {
    pub at_ms: EpochMs,
    pub entry: String,
    pub typtag: String,
    /// `decrypt.auth`, `parser.fuel`, `blob.missing`, ...
    pub cause: String,
    /// The short error for blob and decryption failures; never for parser
    /// failures, whose text may quote feed content (it is on the entry).
    pub message: Option<String>,
}

/// How the telemetry itself is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryHealth {
    /// Detail events (per entry) received by the collector.
    pub events: u64,
    /// Detail events dropped because the collector fell behind; totals and
    /// rates stay exact, per-typtag and per-parser figures miss these.
    pub dropped_events: u64,
    /// Events counted under `(other)` because too many typtags were seen.
    pub other_typtag_events: u64,
    /// Status clients connected now.
    pub clients: u32,
}

/// What the loop is doing, derived from a snapshot at its own `taken_at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Working, or waiting for its next regular poll.
    Running {
        next_poll_in_ms: Option<u64>,
    },
    /// Polls without a SUCCESS in a row: sleeping `2^n` s.
    BackingOff {
        failures: u32,
        next_poll_in_ms: u64,
    },
    /// A poll is due but nothing has happened for `for_ms`.
    Stalled {
        for_ms: u64,
    },
    Stopping,
}

impl Snapshot {
    pub fn uptime_ms(&self) -> u64 {
        self.taken_at_ms.saturating_sub(self.identity.started_at_ms)
    }

    pub fn state(&self) -> State {
        let now = self.taken_at_ms;
        let l = &self.loop_state;
        if l.stopping {
            return State::Stopping;
        }
        if let Some(next) = l.next_poll_at_ms.filter(|next| *next > now) {
            let next_poll_in_ms = next - now;
            return if l.failures > 0 {
                State::BackingOff { failures: l.failures, next_poll_in_ms }
            } else {
                State::Running { next_poll_in_ms: Some(next_poll_in_ms) }
            };
        }
        let last_progress =
            [l.last_poll_at_ms, l.last_outcome_at_ms, l.next_poll_at_ms, Some(self.identity.started_at_ms)]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(now);
        let idle = now.saturating_sub(last_progress);
        if idle > STALL_AFTER_MS { State::Stalled { for_ms: idle } } else { State::Running { next_poll_in_ms: None } }
    }

    pub fn typtag(&self, typtag: &str) -> Option<&TyptagStats> {
        self.typtags.iter().find(|t| t.typtag == typtag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_and_quantiles() {
        let mut h = Histogram::with_bounds(&[100, 1_000, 10_000]);
        for us in [50, 100, 101, 900, 5_000, 20_000] {
            h.observe(us);
        }
        assert_eq!(h.counts, [2, 2, 1, 1]);
        assert_eq!(h.count, 6);
        assert_eq!(h.sum_us, 26_151);
        assert_eq!(h.quantile_us(0.5), Some(1_000));
        assert_eq!(h.quantile_us(0.0), Some(100));
        assert_eq!(h.quantile_us(1.0), Some(u64::MAX));
        assert_eq!(Histogram::with_bounds(&[1]).quantile_us(0.5), None);
    }

    fn at(now: u64, l: LoopState) -> Snapshot {
        Snapshot {
            taken_at_ms: now,
            identity: Identity { started_at_ms: 1_000, ..Default::default() },
            loop_state: l,
            ..Default::default()
        }
    }

    #[test]
    fn state_from_the_loop() {
        let sleeping = LoopState { next_poll_at_ms: Some(50_000), failures: 3, ..Default::default() };
        assert_eq!(at(42_000, sleeping.clone()).state(), State::BackingOff { failures: 3, next_poll_in_ms: 8_000 });
        let between = LoopState { failures: 0, ..sleeping.clone() };
        assert_eq!(at(49_000, between).state(), State::Running { next_poll_in_ms: Some(1_000) });
        // Poll due: working; then nothing for more than a minute: stalled.
        assert_eq!(at(51_000, sleeping.clone()).state(), State::Running { next_poll_in_ms: None });
        assert_eq!(at(50_000 + STALL_AFTER_MS + 1, sleeping.clone()).state(), State::Stalled { for_ms: 60_001 });
        let progressing = LoopState { last_outcome_at_ms: Some(110_000), ..sleeping };
        assert_eq!(at(111_000, progressing).state(), State::Running { next_poll_in_ms: None });
        assert_eq!(at(1, LoopState { stopping: true, ..Default::default() }).state(), State::Stopping);
    }

    #[test]
    fn queue_trend() {
        let sample = |at_ms, waiting| QueueSample { at_ms, waiting, skipped: 0 };
        let q = Queue { history: vec![sample(0, 100), sample(30_000, 70)], ..Default::default() };
        assert_eq!(q.trend_per_min(), Some(-60.0));
        assert_eq!(Queue::default().trend_per_min(), None);
    }

    #[test]
    fn queue_lag_is_measured_at_the_sample() {
        let q =
            |sampled_at_ms, oldest_waiting_at_ms| Queue { sampled_at_ms, oldest_waiting_at_ms, ..Default::default() };
        assert_eq!(q(Some(200_000), Some(8_000)).oldest_waiting_age_ms(), Some(192_000));
        assert_eq!(q(Some(200_000), None).oldest_waiting_age_ms(), Some(0), "nothing waits: no lag");
        assert_eq!(q(Some(200_000), Some(300_000)).oldest_waiting_age_ms(), Some(0), "uploaded ahead of our clock");
        assert_eq!(q(None, Some(8_000)).oldest_waiting_age_ms(), None, "not sampled yet");
    }

    #[test]
    fn top_cause_is_most_frequent_then_alphabetical() {
        let t = TyptagStats {
            causes: BTreeMap::from([("b".into(), 2), ("a".into(), 2), ("c".into(), 1)]),
            ..Default::default()
        };
        assert_eq!(t.top_cause(), Some(("a", 2)));
    }
}
