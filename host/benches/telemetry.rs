//! The cost of telemetry per event: `cargo bench -p cybexp-archive --bench telemetry`.
//!
//! 1. The hooks the pipeline calls for one entry (worker busy guard, parser
//!    cost, outcome), on the same probe the pipeline holds, with the
//!    telemetry running: one thread, then every core at once.
//! 2. The real pipeline on the embedded store (cowrie entries, legacy
//!    RSA-2048) per event, without and with the telemetry installed.
//!
//! Goal: the hooks cost under 1% of an event's processing time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cybexp_archive::pipeline::Pipeline;
use cybexp_keys::PrivateKey;
use cybexp_lake::{BatchQuery, CacheEntry, EntryId, Outcome};
use cybexp_sandbox::CallStats;
use cybexp_status::Identity;
use cybexp_store_sqlite::SqliteStore;
use cybexp_telemetry::server::{SocketOptions, StatusServer};
use cybexp_telemetry::{Options, Probe, Setup, Telemetry};

mod common;

const ENTRIES: usize = 600;
const HOOK_EVENTS: usize = 200_000;

/// Seconds per event, wall clock, working off `blobs` with `pipeline`.
fn per_event(pipeline: &Pipeline, store: &SqliteStore, blobs: &[Vec<u8>]) -> f64 {
    common::submit_all(store, blobs);
    let query = BatchQuery { limit: pipeline.batch_size, ..BatchQuery::default() };
    let start = Instant::now();
    let summary = pipeline.run_until_empty(&query, |_| {}).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(summary.success, blobs.len() as u64, "{summary:?}");
    elapsed / blobs.len() as f64
}

/// The hooks of one SUCCESS entry, as the pipeline calls them.
fn hooks(probe: &Probe, entry: &CacheEntry, stats: CallStats, outcome: &Outcome) {
    let _busy = probe.busy();
    probe.parsed("cowrie", stats.fuel_used, stats.elapsed, stats.counts);
    probe.outcome(&entry.typtag, &entry.id.0, outcome);
}

/// Nanoseconds per entry's hooks on `threads` threads at once. Events are
/// sent in rounds the collector can keep up with (as in the daemon, where
/// an event takes milliseconds), so this is the path that does not drop.
fn hook_cost(probe: &Probe, threads: usize) -> f64 {
    let entry = CacheEntry {
        id: EntryId("6543".into()),
        name: "event".into(),
        orgid: "org".into(),
        typtag: "unr-honeypot".into(),
        timezone: "UTC".into(),
        timestamp: 0.0,
        blob_ref: Some("1".into()),
        processed: false,
        skip: false,
        state: None,
        error: None,
        cause: None,
        refs: vec![],
        requeued: vec![],
    };
    let stats = CallStats { fuel_used: 123_456, elapsed: Duration::from_micros(800), counts: Default::default() };
    let outcome = Outcome::Success { hash: "ab".repeat(32) };
    let rounds = 50;
    let per_round = HOOK_EVENTS / rounds / threads;
    let mut busy = Duration::ZERO;
    for _ in 0..rounds {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..per_round {
                        hooks(probe, &entry, stats, &outcome);
                    }
                });
            }
        });
        busy += start.elapsed();
        // Let the collector drain before the next round.
        std::thread::sleep(Duration::from_millis(20));
    }
    busy.as_nanos() as f64 / (per_round * rounds) as f64
}

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let key = PrivateKey::generate(2048).unwrap();
    let key_pem = key.to_pkcs8_pem().unwrap();
    let blobs = common::sealed_cowrie_events(&key, ENTRIES);
    let dir = tempfile::tempdir().unwrap();
    println!("telemetry benchmark: {ENTRIES} cowrie entries per run, legacy RSA-2048, {cores} cores");

    let mut times: BTreeMap<(&str, usize), f64> = BTreeMap::new();
    let mut pipelines = Vec::new();
    for workers in [1, cores] {
        let (p, store) = common::pipeline(&key_pem, workers, dir.path());
        per_event(&p, &store, &blobs[..50]); // warm up: compile caches, page cache
        times.insert(("off", workers), per_event(&p, &store, &blobs));
        pipelines.push((workers, p, store));
    }

    // The daemon's telemetry, with its status socket in the temp dir; each
    // pipeline reports to it as the daemon's does.
    let setup = Setup {
        identity: Identity { workers: cores as u32, started_at_ms: cybexp_status::now_ms(), ..Identity::default() },
        routes: vec![("unr-honeypot".into(), "cowrie".into())],
        queue: None,
        stopping: None,
        options: Options::default(),
    };
    let telemetry = Telemetry::start(setup).unwrap();
    let socket = dir.path().join("status.sock");
    let server = StatusServer::start(telemetry.hub(), &SocketOptions::new(&socket)).unwrap();
    for (workers, p, store) in &mut pipelines {
        p.probe = telemetry.probe();
        times.insert(("on", *workers), per_event(p, store, &blobs));
    }

    for workers in [1, cores] {
        let (off, on) = (times[&("off", workers)], times[&("on", workers)]);
        println!(
            "pipeline, {workers} worker(s): {:>7.1} µs/event without telemetry, {:>7.1} µs/event with ({:+.1}%, run-to-run noise included)",
            off * 1e6,
            on * 1e6,
            (on / off - 1.0) * 100.0
        );
    }
    let probe = telemetry.probe();
    let one = hook_cost(&probe, 1);
    let all = hook_cost(&probe, cores);
    // Worker CPU time per event: the 1-worker wall time (decrypt + parse + writes).
    let event_ns = times[&("off", 1)] * 1e9;
    println!(
        "hooks per event, 1 thread:           {one:>7.0} ns = {:.3}% of {:.0} µs/event",
        one / event_ns * 100.0,
        event_ns / 1e3
    );
    println!(
        "hooks per event, {cores} threads at once: {all:>7.0} ns = {:.3}% of {:.0} µs/event",
        all / event_ns * 100.0,
        event_ns / 1e3
    );
    let snapshot =
        cybexp_status::Connection::connect(&socket, Duration::from_secs(5)).and_then(|mut c| c.snapshot()).unwrap();
    println!(
        "telemetry saw {} outcomes, {} detail events, {} dropped",
        snapshot.totals.total(),
        snapshot.telemetry.events,
        snapshot.telemetry.dropped_events
    );
    drop(server);
    drop(telemetry);
}
