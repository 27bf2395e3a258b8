//! End-to-end throughput on the embedded store: `cargo bench -p cybexp-archive --bench pipeline`.
//!
//! 2,000 cowrie-sized entries in the legacy envelope under RSA-2048, worked
//! off by the real pipeline (claim, blob, decrypt, sandboxed parse, store,
//! mark) with one worker per core, then with one worker. The ceiling is the
//! RSA-OAEP unwrap rate alone times the cores: RSA dominates the cost.
//! Each run prints its CPU and wall time per event by stage. Then more
//! workers than cores, and a large backlog (`BENCH_BACKLOG`, default
//! 100,000 entries) with its events/s and peak RSS.
//!
//! First, the envelopes side by side (`BENCH_ENVELOPES=0` skips it): the
//! same events as legacy RSA-2048 entries and as v3 (HPKE with X-Wing)
//! entries, alternating in rounds, one worker per core, with the median
//! events/s of each and their ratio.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use cybexp_archive::pipeline::{StageClock, StageTotal};
use cybexp_keys::{Keyring, PrivateKey};
use cybexp_lake::{BatchQuery, LakeAdmin};

mod common;

const ENTRIES: usize = 2_000;

fn run(key_pem: &str, blobs: &[Vec<u8>], workers: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (mut pipeline, store) = common::pipeline(key_pem, workers, dir.path());
    common::submit_all(&store, blobs);
    let clock = Arc::new(StageClock::default());
    pipeline.stages = Some(clock.clone());
    let query = BatchQuery { limit: pipeline.batch_size, ..BatchQuery::default() };
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let summary = pipeline.run_until_empty(&query, |_| {}).unwrap();
    let (elapsed, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu_start);
    assert_eq!(summary.success, blobs.len() as u64, "{summary:?}");
    assert_eq!(store.queue_depth().unwrap().waiting, 0);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "  {workers} worker(s): CPU busy {:.0}% of {cores} cores, {:.2} ms CPU per event",
        100.0 * cpu / (elapsed * cores as f64),
        1e3 * cpu / blobs.len() as f64
    );
    print_stages(&clock.totals(), blobs.len(), cpu);
    blobs.len() as f64 / elapsed
}

/// Per event: CPU and wall time of each stage, and what no stage covers
/// (threads, channels, scheduling, allocation outside the stages).
fn print_stages(totals: &[StageTotal], events: usize, cpu_seconds: f64) {
    let per_event = |d: std::time::Duration| 1e6 * d.as_secs_f64() / events as f64;
    let mut line = String::from("    per event, µs CPU (wall):");
    let mut covered = 0.0;
    for total in totals.iter().filter(|t| t.calls > 0) {
        covered += per_event(total.cpu);
        line.push_str(&format!(" {} {:.1} ({:.1}),", total.stage.name(), per_event(total.cpu), per_event(total.wall)));
    }
    let other = 1e6 * cpu_seconds / events as f64 - covered;
    println!("{line} other {other:.1}");
}

/// The same cowrie events as legacy RSA-2048 entries and as v3 (X-Wing)
/// entries, alternating, `cores` workers; then one worker each.
fn compare_envelopes(rsa_pem: &str, rsa_blobs: &[Vec<u8>], cores: usize) {
    let xwing = PrivateKey::generate_xwing().unwrap();
    let xwing_pem = xwing.to_pkcs8_pem().unwrap();
    let v3_blobs: Vec<Vec<u8>> = (0..rsa_blobs.len())
        .map(|i| cybexp_keys::v3::encrypt(xwing.public_key(), common::cowrie_event(i).as_bytes()).unwrap())
        .collect();
    println!("envelopes: the same {} events as legacy RSA-2048 and as v3 X-Wing entries", rsa_blobs.len());
    const ROUNDS: usize = 3;
    let (mut rsa_rates, mut v3_rates) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        println!(" round {round}, legacy RSA-2048, {cores} workers:");
        rsa_rates.push(run(rsa_pem, rsa_blobs, cores));
        println!(" round {round}, v3 X-Wing, {cores} workers:");
        v3_rates.push(run(&xwing_pem, &v3_blobs, cores));
        println!(
            " round {round}: RSA-2048 {:.0} events/s, v3 {:.0} events/s: {:.2}x",
            rsa_rates[round - 1],
            v3_rates[round - 1],
            v3_rates[round - 1] / rsa_rates[round - 1]
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (rsa, v3) = (median(&mut rsa_rates), median(&mut v3_rates));
    println!(" one worker each:");
    let rsa_one = run(rsa_pem, rsa_blobs, 1);
    let v3_one = run(&xwing_pem, &v3_blobs, 1);
    println!(
        "=> envelopes, {cores} workers: legacy RSA-2048 {rsa:.0} events/s, v3 {v3:.0} events/s (medians): {:.2}x (goal >= 2x); \
         1 worker: {rsa_one:.0} vs {v3_one:.0} events/s: {:.2}x",
        v3 / rsa,
        v3_one / rsa_one
    );
}

/// Peak resident memory of this process since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

/// Resets the peak (Linux: `5` to clear_refs), so a run's own peak shows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// User + system CPU seconds of this process so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let key = PrivateKey::generate(2048).unwrap();
    let key_pem = key.to_pkcs8_pem().unwrap();
    let blobs = common::sealed_cowrie_events(&key, ENTRIES);
    println!(
        "pipeline benchmark: {ENTRIES} cowrie entries (~{} B), legacy RSA-2048, {cores} cores, RSA backend {}",
        common::cowrie_event(0).len(),
        cybexp_keys::Backend::ACTIVE.as_str()
    );

    if std::env::var("BENCH_ENVELOPES").as_deref() != Ok("0") {
        compare_envelopes(&key_pem, &blobs, cores);
    }

    // The ceiling: decrypting alone, one thread, times the cores. A shared
    // 2-core machine drifts by ±10% over seconds, so each pipeline run gets
    // its own ceiling measured right before it, and the ratio is reported
    // per round and as the median of the rounds.
    let ring = Keyring::from(vec![key]);
    let ceiling = || {
        let sample = 500;
        for blob in blobs.iter().skip(sample).take(100) {
            ring.decrypt(blob).unwrap(); // warm up: caches, clock
        }
        let start = Instant::now();
        for blob in blobs.iter().take(sample) {
            ring.decrypt(blob).unwrap();
        }
        let decrypt_rate = sample as f64 / start.elapsed().as_secs_f64();
        println!(
            "RSA unwrap + EAX alone, 1 thread:  {decrypt_rate:>8.0} events/s ({:.2} ms each) → ceiling ×{cores} = {:.0} events/s",
            1e3 / decrypt_rate,
            decrypt_rate * cores as f64
        );
        decrypt_rate * cores as f64
    };

    const ROUNDS: usize = 3;
    let mut ratios = Vec::new();
    let mut rates = BTreeMap::new();
    for (round, workers) in std::iter::repeat_n(cores, ROUNDS).chain([1]).enumerate() {
        let ceiling = ceiling();
        let rate = run(&key_pem, &blobs, workers);
        let ratio = rate / ceiling;
        println!(
            "pipeline, {workers} worker(s), round {}: {rate:>8.0} events/s = {ratio:.2} of the ceiling",
            round + 1
        );
        if workers == cores {
            ratios.push(ratio);
        }
        rates.entry(workers).or_insert_with(Vec::new).push(rate);
    }
    ratios.sort_by(f64::total_cmp);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "=> {cores} workers: median {:.0} events/s; of the ceiling measured beside it: median {:.2} (rounds, sorted: {})",
        median(&rates[&cores]),
        ratios[ratios.len() / 2],
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
    );
    let results: BTreeMap<usize, f64> = rates.iter().map(|(w, r)| (*w, median(r))).collect();
    println!("speed-up {cores} workers vs 1: {:.2}x", results[&cores] / results[&1]);

    // More workers than cores: the single writer must not be the limit.
    let many = cores * 4;
    let ceiling_now = ceiling();
    let rate = run(&key_pem, &blobs, many);
    println!(
        "pipeline, {many} workers on {cores} cores: {rate:>8.0} events/s = {:.2} of the ceiling",
        rate / ceiling_now
    );

    // A large backlog: does the cost per event grow with it?
    let backlog: usize = std::env::var("BENCH_BACKLOG").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    if backlog > 0 {
        let key = PrivateKey::from_pem(&key_pem).unwrap();
        let sealing = Instant::now();
        let big = common::sealed_cowrie_events(&key, backlog);
        println!("backlog of {backlog}: sealed in {:.1} s", sealing.elapsed().as_secs_f64());
        reset_peak_rss();
        let before = peak_rss_mib();
        let rate = run(&key_pem, &big, cores);
        println!(
            "pipeline, backlog of {backlog}, {cores} workers: {rate:>8.0} events/s, peak RSS {:.0} MiB (the sealed blobs alone: {:.0} MiB, {before:.0} MiB before the run)",
            peak_rss_mib(),
            big.iter().map(Vec::len).sum::<usize>() as f64 / (1 << 20) as f64
        );
    }
}
