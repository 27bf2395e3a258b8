//! The claiming stage: claims entries ahead of the workers and queues them,
//! so the next claim (and the store's read-ahead of its blobs) is under way
//! while the current entries are worked. It claims when the queue runs low
//! and there is room in flight; it claims more at a time when a claim takes
//! long (a lake across the network), so the workers never wait for one.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use cybexp_lake::{BatchQuery, Owner, StoreError};

use super::Pipeline;
use super::inflight::{FlowLimits, InFlight};
use super::schedule::LEASE_MARGIN;
use super::stages::{Stage, StageClock};
use super::worker::Claimed;

/// How often a wait re-checks shutdown and the daemon's flags.
const RECHECK: Duration = Duration::from_millis(50);

pub(super) struct Claimer<'a> {
    pipeline: &'a Pipeline,
    inflight: &'a InFlight,
    queue: Sender<Claimed>,
    query: BatchQuery,
    sizer: ClaimSizer,
    /// `marked` and `retry_streak` when the current round of claims began.
    round_start: (u64, u64),
}

impl<'a> Claimer<'a> {
    pub(super) fn new(
        pipeline: &'a Pipeline,
        inflight: &'a InFlight,
        queue: Sender<Claimed>,
        query: &BatchQuery,
    ) -> Claimer<'a> {
        let sizer = ClaimSizer::new(pipeline.batch_size.max(1), pipeline.limits);
        Claimer { pipeline, inflight, queue, query: query.clone(), sizer, round_start: (0, 0) }
    }

    fn stopping(&self) -> bool {
        self.pipeline.shutdown.load(Ordering::Relaxed)
    }

    /// Waits until a claim is worth making: the queue is running low, and
    /// there is room in flight for entries and bytes. `false` when shutdown
    /// (or `interrupt`) came first.
    pub(super) fn wait_for_turn(&self, interrupt: &dyn Fn() -> bool) -> bool {
        let limits = self.pipeline.limits;
        let low_water = self.sizer.low_water(self.pipeline.workers);
        let smallest = self.sizer.want().min(self.pipeline.batch_size.max(1));
        self.inflight.wake_at(low_water);
        loop {
            if self.stopping() || interrupt() {
                return false;
            }
            let ready = self.inflight.wait_until(RECHECK, |s| {
                self.queue.len() <= low_water
                    && s.held.len() + smallest <= limits.max_entries
                    && s.bytes < limits.max_bytes
            });
            if ready {
                return true;
            }
        }
    }

    /// Claims the next entries and queues them. Returns how many it got
    /// and how many it asked for.
    pub(super) fn claim(&mut self) -> Result<(usize, usize), StoreError> {
        let room = self.pipeline.limits.max_entries.saturating_sub(self.inflight.read(|s| s.held.len()));
        let asked = self.sizer.want().min(room).max(1);
        let query = BatchQuery { limit: asked, ..self.query.clone() };
        // Entries keep the set in effect when they were claimed.
        let processor = self.pipeline.processor();
        let started = Instant::now();
        let claim = || self.pipeline.lake.claim_batch(&self.pipeline.worker_id, &query);
        let entries = StageClock::time(self.pipeline.stages.as_deref(), Stage::Claim, claim)?;
        self.sizer.record(started.elapsed(), self.inflight.read(|s| s.finished));
        let got = entries.len();
        self.inflight.claimed(entries.iter().map(|e| e.id.clone()));
        for entry in entries {
            // The workers outlive the claimer: a send never fails here.
            let _ = self.queue.send(Claimed { entry, processor: processor.clone() });
        }
        self.pipeline.liveness.beat();
        Ok((got, asked))
    }

    /// Waits until every entry in flight is written or released (or
    /// shutdown comes).
    pub(super) fn wait_drained(&self) {
        while !self.inflight.wait_until(RECHECK, |s| s.held.is_empty()) {
            if self.stopping() {
                return;
            }
        }
    }

    /// A new round of claims begins (after the lake ran dry, or a sleep).
    pub(super) fn start_round(&mut self) {
        self.round_start = self.inflight.read(|s| (s.marked, s.retry_streak));
    }

    /// Whether the archiver is in trouble of its own: since the round
    /// began every finished entry went back for a retry (a store or the
    /// sandbox failing), or a long run of them did. Claiming on would only
    /// spin on the same entries.
    pub(super) fn in_trouble(&self) -> bool {
        let spin = self.pipeline.batch_size.max(2 * self.pipeline.workers) as u64;
        let (marked, streak) = self.inflight.read(|s| (s.marked, s.retry_streak));
        let nothing_marked = marked == self.round_start.0 && streak > 0 && self.inflight.read(|s| s.held.is_empty());
        streak >= spin || nothing_marked
    }

    /// Ends the claims of archiver processes of this host that are gone
    /// (killed, crashed): their entries need not wait for the lease.
    /// Returns how many entries came free.
    pub(super) fn take_back_dead_claims(&self) -> Result<u64, StoreError> {
        let claims = self.pipeline.lake.foreign_claims(&self.pipeline.worker_id, &self.query)?;
        let host = Owner::this_process().host;
        let dead: Vec<String> = claims
            .owners
            .into_iter()
            .filter(|owner| owner.parse::<Owner>().is_ok_and(|owner| owner.is_gone_from(&host)))
            .collect();
        if dead.is_empty() {
            return Ok(0);
        }
        let freed = self.pipeline.lake.expire_claims(&dead)?;
        tracing::info!(entries = freed, owners = ?dead, "took back the claims of archiver processes that are gone");
        Ok(freed)
    }

    /// Before an idle sleep with work claimed by others: poll again as soon
    /// as a dead process's claims are taken back, or when the first of the
    /// others' leases runs out (by the store's clock), if that is sooner
    /// than `sleep` (the backoff alone could sleep an hour past it).
    pub(super) fn wake_for_claims(&self, sleep: Duration) -> Duration {
        match self.take_back_dead_claims() {
            Ok(0) => {}
            Ok(_) => return Duration::ZERO,
            Err(e) => tracing::warn!(error = %e, "could not check for a dead archiver's claims"),
        }
        match self.pipeline.lake.foreign_claims(&self.pipeline.worker_id, &self.query) {
            Ok(claims) => claims.next_expiry_in.map_or(sleep, |left| sleep.min(left + LEASE_MARGIN)),
            Err(e) => {
                tracing::warn!(error = %e, "could not list other archivers' claims");
                sleep
            }
        }
    }
}

/// How many entries a claim asks for: the batch size, or more when claims
/// take long against the rate the entries are worked, so that a claim
/// lands before the queue runs dry. At 20 ms a round trip a claim costs
/// about five of them; at 2,000 entries a second that is 200 entries that
/// must already be queued when the claim starts.
struct ClaimSizer {
    /// The batch size: the least a claim asks for.
    min: usize,
    /// At most half of what may be in flight, so a claim can run ahead.
    max: usize,
    /// Seconds a claim takes (moving average).
    latency: Option<f64>,
    /// Entries finished per second (moving average).
    rate: Option<f64>,
    /// When the last claim ended, and how many entries were finished then.
    last: Option<(Instant, u64)>,
}

impl ClaimSizer {
    /// The weight of a new measurement in the moving averages.
    const ALPHA: f64 = 0.3;

    fn new(batch_size: usize, limits: FlowLimits) -> ClaimSizer {
        let max = (limits.max_entries / 2).max(batch_size);
        ClaimSizer { min: batch_size, max, latency: None, rate: None, last: None }
    }

    fn average(old: Option<f64>, new: f64) -> Option<f64> {
        Some(old.map_or(new, |old| old + Self::ALPHA * (new - old)))
    }

    fn record(&mut self, took: Duration, finished: u64) {
        self.latency = Self::average(self.latency, took.as_secs_f64());
        let now = Instant::now();
        if let Some((then, finished_then)) = self.last {
            let elapsed = now.duration_since(then).as_secs_f64();
            // Too short an interval says nothing about the rate.
            if elapsed > 0.01 {
                self.rate = Self::average(self.rate, finished.saturating_sub(finished_then) as f64 / elapsed);
            }
        }
        self.last = Some((now, finished));
    }

    /// Entries to ask for: twice what is worked during one claim.
    fn want(&self) -> usize {
        match (self.rate, self.latency) {
            (Some(rate), Some(latency)) => ((rate * latency * 2.0).ceil() as usize).clamp(self.min, self.max),
            _ => self.min,
        }
    }

    /// Claim again once the queue is down to this: half a claim, and never
    /// less than one entry per worker.
    fn low_water(&self, workers: usize) -> usize {
        (self.want() / 2).max(workers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_entries: usize) -> FlowLimits {
        FlowLimits { max_entries, max_bytes: u64::MAX }
    }

    #[test]
    fn claims_grow_with_the_time_a_claim_takes_and_stay_within_bounds() {
        let mut sizer = ClaimSizer::new(256, limits(4096));
        assert_eq!(sizer.want(), 256, "the batch size until there is a rate");
        // 2,000 entries a second, claims of 250 ms: 1,000 to cover two claims.
        sizer.rate = Some(2000.0);
        sizer.latency = Some(0.25);
        assert_eq!(sizer.want(), 1000);
        assert_eq!(sizer.low_water(2), 500);
        // Loopback: 5 ms claims need no more than a batch.
        sizer.latency = Some(0.005);
        assert_eq!(sizer.want(), 256);
        assert_eq!(sizer.low_water(300), 300, "never below one per worker");
        // Never more than half of what may be in flight.
        sizer.latency = Some(10.0);
        assert_eq!(sizer.want(), 2048);
        assert_eq!(ClaimSizer::new(256, limits(100)).max, 256, "a batch always fits");
    }

    #[test]
    fn the_rate_is_measured_between_claims() {
        let mut sizer = ClaimSizer::new(10, limits(1000));
        sizer.record(Duration::from_millis(100), 0);
        assert_eq!(sizer.rate, None);
        sizer.last = Some((Instant::now() - Duration::from_secs(1), 0));
        sizer.record(Duration::from_millis(100), 500);
        let rate = sizer.rate.unwrap();
        assert!((400.0..=500.0).contains(&rate), "about 500 entries in a second: {rate}");
        assert!((sizer.latency.unwrap() - 0.1).abs() < 1e-9);
    }
}
