//! The collector's state: per-typtag and per-parser breakdowns, recent
//! errors, the per-second history behind the rate windows, worker
//! utilisation and queue samples. Bounded in every dimension: typtags beyond
//! the cap fold into `(other)`, rings drop their oldest element.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::Duration;

use cybexp_status::{
    ErrorRecord, Histogram, History, Identity, ParserStats, Queue, QueueSample, RateWindow, Rates, TyptagStats,
};

use cybexp_lake::QueueDepth;

use crate::{Counters, Detail, Kind, Options};

/// Where typtags beyond [`Options::max_typtags`] are counted.
pub const OTHER_TYPTAG: &str = "(other)";

/// Parse time buckets, microseconds: 100 µs to the default 5 s deadline.
pub const PARSE_TIME_BOUNDS_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000,
];

/// Seconds of utilisation history (the 1-minute window).
const UTILISATION_SECS: usize = 60;

pub(crate) struct Aggregate {
    pub(crate) identity: Identity,
    options: Options,
    pub(crate) typtags: BTreeMap<String, TyptagStats>,
    pub(crate) parsers: BTreeMap<String, ParserStats>,
    pub(crate) causes: BTreeMap<String, u64>,
    pub(crate) recent_errors: VecDeque<ErrorRecord>,
    pub(crate) last_poll_error: Option<(String, u64)>,
    pub(crate) queue: Queue,
    pub(crate) events: u64,
    pub(crate) other_typtag_events: u64,
    /// Outcomes per second, oldest first: [success, not_supported, error].
    per_second: VecDeque<[u32; 3]>,
    history_end_ms: u64,
    last_totals: Option<[u64; 3]>,
    /// Worker utilisation per second, oldest first.
    utilisation: VecDeque<f64>,
    last_busy: Option<(u64, u64)>,
}

impl Aggregate {
    pub(crate) fn new(identity: Identity, routes: &[(String, String)], options: Options) -> Aggregate {
        let typtags = routes
            .iter()
            .take(options.max_typtags)
            .map(|(typtag, parser)| {
                (
                    typtag.clone(),
                    TyptagStats { typtag: typtag.clone(), parser: Some(parser.clone()), ..Default::default() },
                )
            })
            .collect();
        let parsers = identity
            .parsers
            .iter()
            .map(|p| {
                let stats = ParserStats {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    parse_time: Histogram::with_bounds(PARSE_TIME_BOUNDS_US),
                    ..Default::default()
                };
                (p.name.clone(), stats)
            })
            .collect();
        let queue = Queue { interval_ms: options.queue_interval.as_millis() as u64, ..Default::default() };
        let identity_started_at = identity.started_at_ms;
        Aggregate {
            identity,
            options,
            typtags,
            parsers,
            causes: BTreeMap::new(),
            recent_errors: VecDeque::new(),
            last_poll_error: None,
            queue,
            events: 0,
            other_typtag_events: 0,
            per_second: VecDeque::new(),
            history_end_ms: 0,
            last_totals: None,
            utilisation: VecDeque::new(),
            // Work done before the first tick counts in the first second.
            last_busy: Some((identity_started_at, 0)),
        }
    }

    /// The stats of `typtag`, or of `(other)` once the cap is reached.
    fn typtag(&mut self, typtag: String) -> &mut TyptagStats {
        let key = if self.typtags.contains_key(&typtag) || self.typtags.len() < self.options.max_typtags {
            typtag
        } else {
            self.other_typtag_events += 1;
            OTHER_TYPTAG.to_owned()
        };
        self.typtags.entry(key).or_insert_with_key(|key| TyptagStats { typtag: key.clone(), ..Default::default() })
    }

    pub(crate) fn apply(&mut self, event: Detail) {
        if matches!(event, Detail::Stop) {
            return;
        }
        self.events += 1;
        match event {
            Detail::Outcome { at_ms, typtag, entry, kind } => {
                let stats = self.typtag(typtag.clone());
                stats.last_seen_ms = stats.last_seen_ms.max(at_ms);
                match kind {
                    Kind::Success => stats.counts.success += 1,
                    Kind::NotSupported => stats.counts.not_supported += 1,
                    Kind::Error { cause, message } => {
                        stats.counts.error += 1;
                        *stats.causes.entry(cause.clone()).or_default() += 1;
                        *self.causes.entry(cause.clone()).or_default() += 1;
                        self.recent_errors.push_front(ErrorRecord { at_ms, entry, typtag, cause, message });
                        self.recent_errors.truncate(self.options.recent_errors);
                    }
                }
            }
            Detail::Retried { typtag } => self.typtag(typtag).retried += 1,
            Detail::Parsed { parser, fuel, elapsed_us, counts } => {
                let stats = self.parsers.entry(parser).or_insert_with_key(|name| ParserStats {
                    name: name.clone(),
                    parse_time: Histogram::with_bounds(PARSE_TIME_BOUNDS_US),
                    ..Default::default()
                });
                stats.calls += 1;
                stats.fuel_total = stats.fuel_total.saturating_add(fuel);
                stats.fuel_max = stats.fuel_max.max(fuel);
                stats.parse_time.observe(elapsed_us);
                stats.records = stats.records.saturating_add(counts.records);
                stats.malformed = stats.malformed.saturating_add(counts.malformed);
                stats.calls_with_malformed += u64::from(counts.malformed > 0);
            }
            Detail::PollFailed { at_ms, message } => self.last_poll_error = Some((message, at_ms)),
            Detail::Stop => {}
        }
    }

    /// Once a second: the outcome deltas and the worker utilisation.
    pub(crate) fn tick(&mut self, now_ms: u64, counters: &Counters) {
        let totals = [
            counters.success.load(Ordering::Relaxed),
            counters.not_supported.load(Ordering::Relaxed),
            counters.error.load(Ordering::Relaxed),
        ];
        let previous = self.last_totals.replace(totals).unwrap_or([0; 3]);
        let delta = [0, 1, 2].map(|i| totals[i].saturating_sub(previous[i]).min(u64::from(u32::MAX)) as u32);
        push_bounded(&mut self.per_second, delta, self.options.history_secs);
        self.history_end_ms = now_ms;

        let busy_ns = counters.busy_ns.load(Ordering::Relaxed);
        if let Some((last_ms, last_busy)) = self.last_busy.replace((now_ms, busy_ns)) {
            let span_ns = now_ms.saturating_sub(last_ms).max(1) * 1_000_000 * u64::from(self.identity.workers.max(1));
            let share = (busy_ns.saturating_sub(last_busy) as f64 / span_ns as f64).clamp(0.0, 1.0);
            push_bounded(&mut self.utilisation, share, UTILISATION_SECS);
        }
    }

    pub(crate) fn rates(&self) -> Rates {
        Rates { window_10s: self.window(10), window_1m: self.window(60), window_5m: self.window(300) }
    }

    fn window(&self, seconds: usize) -> RateWindow {
        let n = seconds.min(self.per_second.len());
        if n == 0 {
            return RateWindow::default();
        }
        let mut sum = [0u64; 3];
        for bucket in self.per_second.iter().rev().take(n) {
            for i in 0..3 {
                sum[i] += u64::from(bucket[i]);
            }
        }
        let per_sec = |i: usize| sum[i] as f64 / n as f64;
        RateWindow { seconds: n as u32, success: per_sec(0), not_supported: per_sec(1), error: per_sec(2) }
    }

    pub(crate) fn history(&self) -> History {
        let series = |i: usize| self.per_second.iter().map(|b| b[i]).collect();
        History {
            step_ms: 1_000,
            end_ms: self.history_end_ms,
            success: series(0),
            not_supported: series(1),
            error: series(2),
        }
    }

    /// Mean utilisation over the last 10 s and 1 min.
    pub(crate) fn utilisation(&self) -> (f64, f64) {
        let mean = |n: usize| {
            let n = n.min(self.utilisation.len());
            if n == 0 { 0.0 } else { self.utilisation.iter().rev().take(n).sum::<f64>() / n as f64 }
        };
        (mean(10), mean(60))
    }

    pub(crate) fn queue_sample(&mut self, now_ms: u64, interval: Duration, result: Result<QueueDepth, String>) {
        self.queue.interval_ms = interval.as_millis() as u64;
        match result {
            Ok(depth) => {
                self.queue.waiting = Some(depth.waiting);
                self.queue.skipped = Some(depth.skipped);
                self.queue.sampled_at_ms = Some(now_ms);
                // Epoch seconds to the snapshot's ms; `as` saturates (a
                // negative upload time reads as 0, long waited).
                self.queue.oldest_waiting_at_ms = depth.oldest_waiting_at.map(|s| (s * 1000.0) as u64);
                self.queue.error = None;
                let sample = QueueSample { at_ms: now_ms, waiting: depth.waiting, skipped: depth.skipped };
                let history = &mut self.queue.history;
                if history.len() >= self.options.queue_samples.max(1) {
                    history.remove(0);
                }
                history.push(sample);
            }
            Err(message) => self.queue.error = Some(crate::cut(&message)),
        }
    }

    #[cfg(test)]
    pub(crate) fn totals_in_history(&self) -> cybexp_status::Counts {
        let h = self.history();
        let sum = |v: &Vec<u32>| v.iter().map(|n| u64::from(*n)).sum();
        cybexp_status::Counts { success: sum(&h.success), not_supported: sum(&h.not_supported), error: sum(&h.error) }
    }
}

fn push_bounded<T>(ring: &mut VecDeque<T>, value: T, cap: usize) {
    if ring.len() >= cap.max(1) {
        ring.pop_front();
    }
    ring.push_back(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    fn aggregate(options: Options) -> Aggregate {
        Aggregate::new(Identity { workers: 2, ..Default::default() }, &[], options)
    }

    fn success(typtag: &str) -> Detail {
        Detail::Outcome { at_ms: 1, typtag: typtag.into(), entry: String::new(), kind: Kind::Success }
    }

    #[test]
    fn typtags_beyond_the_cap_fold_into_other() {
        let mut agg = aggregate(Options { max_typtags: 3, ..Options::default() });
        for typtag in ["a", "b", "c", "d", "e", "a"] {
            agg.apply(success(typtag));
        }
        let names: Vec<&str> = agg.typtags.keys().map(String::as_str).collect();
        // The third slot went to `(other)` only once the cap was reached.
        assert_eq!(names, ["(other)", "a", "b", "c"]);
        assert_eq!(agg.typtags[OTHER_TYPTAG].counts.success, 2);
        assert_eq!(agg.typtags["a"].counts.success, 2);
        assert_eq!(agg.other_typtag_events, 2);
    }

    #[test]
    fn recent_errors_are_bounded_newest_first() {
        let mut agg = aggregate(Options { recent_errors: 3, ..Options::default() });
        for i in 0..10 {
            let kind = Kind::Error { cause: "blob.missing".into(), message: None };
            agg.apply(Detail::Outcome { at_ms: i, typtag: "t".into(), entry: i.to_string(), kind });
        }
        let ids: Vec<&str> = agg.recent_errors.iter().map(|e| e.entry.as_str()).collect();
        assert_eq!(ids, ["9", "8", "7"]);
        assert_eq!(agg.causes["blob.missing"], 10);
    }

    #[test]
    fn windows_average_over_the_seconds_they_cover() {
        let mut agg = aggregate(Options { history_secs: 300, ..Options::default() });
        let counters = Counters::default();
        agg.tick(1_000, &counters); // baseline: zero
        for second in 0..20u64 {
            counters.success.fetch_add(10, Ordering::Relaxed);
            if second >= 10 {
                counters.error.fetch_add(2, Ordering::Relaxed);
            }
            agg.tick(2_000 + second * 1_000, &counters);
        }
        let rates = agg.rates();
        assert_eq!(rates.window_10s, RateWindow { seconds: 10, success: 10.0, not_supported: 0.0, error: 2.0 });
        assert_eq!(rates.window_1m.seconds, 21);
        assert!((rates.window_1m.success - 200.0 / 21.0).abs() < 1e-9);
        assert!((rates.window_1m.error - 20.0 / 21.0).abs() < 1e-9);
        assert_eq!(agg.totals_in_history(), cybexp_status::Counts { success: 200, not_supported: 0, error: 20 });
        assert_eq!(agg.history().end_ms, 21_000);
    }

    #[test]
    fn history_is_bounded() {
        let mut agg = aggregate(Options { history_secs: 5, ..Options::default() });
        let counters = Counters::default();
        for s in 0..50 {
            counters.success.fetch_add(1, Ordering::Relaxed);
            agg.tick(s * 1_000, &counters);
        }
        assert_eq!(agg.history().success, [1, 1, 1, 1, 1]);
    }

    #[test]
    fn utilisation_is_busy_time_over_worker_time() {
        let mut agg = aggregate(Options::default());
        let counters = Counters::default();
        // Two workers, the first second since start, 1.5 s of busy time: 75%.
        counters.busy_ns.fetch_add(1_500_000_000, Ordering::Relaxed);
        agg.tick(1_000, &counters);
        assert_eq!(agg.utilisation(), (0.75, 0.75));
        // A long parse accounted in one go is capped at 100%.
        counters.busy_ns.fetch_add(9_000_000_000, Ordering::Relaxed);
        agg.tick(2_000, &counters);
        assert_eq!(agg.utilisation().0, 0.875);
    }

    #[test]
    fn parser_costs_fill_the_histogram() {
        let mut agg = aggregate(Options::default());
        for (fuel, us) in [(100, 90), (300, 4_000), (200, 7_000_000)] {
            agg.apply(Detail::Parsed { parser: "cowrie".into(), fuel, elapsed_us: us, counts: Default::default() });
        }
        let p = &agg.parsers["cowrie"];
        assert_eq!((p.calls, p.fuel_total, p.fuel_max, p.fuel_mean()), (3, 600, 300, Some(200)));
        assert_eq!(p.parse_time.counts.iter().sum::<u64>(), 3);
        assert_eq!(p.parse_time.counts[0], 1);
        assert_eq!(*p.parse_time.counts.last().unwrap(), 1, "above 5 s: the +Inf bucket");
    }
}
