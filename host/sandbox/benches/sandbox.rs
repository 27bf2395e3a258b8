//! Per-event cost of the sandbox: `cargo bench -p cybexp-sandbox`.
//!
//! Prints median and p99 of
//! - a call to a parser that does nothing (fresh instance from the pool,
//!   argument copy-in, result copy-out): the sandbox's own overhead;
//! - the cowrie parser on the 16 production samples, sandboxed and native;
//! - the json parser on 1, 5 and 15 MiB JSON documents, sandboxed and native;
//! - start-up: a sandbox with the built-in parsers loaded, compiled (no
//!   cache, and an empty artifact cache) vs from a warm artifact cache.
//!
//! A sandboxed case and its native twin run in alternating rounds, and their
//! ratio is the median of the rounds' ratios: this VM's speed drifts by up to
//! 2x within seconds, which made ratios of separate runs meaningless.
//!
//! `cargo bench -p cybexp-sandbox -- cowrie` runs only the cases whose label
//! contains "cowrie"; `CYBEXP_BENCH_SCALE=10` runs each ten times as long
//! (both for `perf record`; see `PERF_MAP_ENV`).

use std::path::Path;
use std::time::{Duration, Instant};

use cybexp_sandbox::{ArtifactCache, EngineOptions, Limits, ParseInput, Sandbox};

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    (median, p99)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// `CYBEXP_BENCH_SCALE=N` runs every case N times as often (for `perf record`).
fn scaled(iterations: usize) -> usize {
    let scale = std::env::var("CYBEXP_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1usize);
    iterations.saturating_mul(scale.max(1))
}

/// The wall time of each of `n` calls of `f`.
fn samples(n: usize, f: &mut dyn FnMut()) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect()
}

fn time(iterations: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let iterations = scaled(iterations);
    for _ in 0..iterations.div_ceil(10) {
        f(); // warm up: pool slots, caches
    }
    percentiles(samples(iterations, &mut f))
}

fn report(label: &str, (median, p99): (Duration, Duration)) {
    println!("{label:<44} median {:>10.1} µs   p99 {:>10.1} µs", micros(median), micros(p99));
}

fn report_ms(label: &str, runs: usize, (median, max): (Duration, Duration)) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{label:<44} median {:>10.2} ms   max {:>10.2} ms   ({runs} runs)", ms(median), ms(max));
}

fn event<'a>(sub_type: &'a str, plaintext: &'a str) -> ParseInput<'a> {
    ParseInput { typtag: "bench", orgid: "org", timezone: "UTC", sub_type, plaintext }
}

fn main() {
    let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap();
    for (name, bytes) in cybexp_sandbox::BUILTIN_PARSERS {
        sandbox.load(name, bytes, Limits::default()).unwrap();
    }
    let hostile = Path::new(cybexp_sandbox::TEST_GUESTS_DIR).join("hostile.component.wasm");
    sandbox.load_file("hostile", &hostile, Limits::default()).unwrap();

    let cowrie: Vec<String> = cybexp_test_kit::shared_text("samples/cowrie_raw_documents.jsonl")
        .lines()
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            serde_json::to_string(&doc["data"]).unwrap()
        })
        .collect();

    println!("sandbox benchmark ({} cores)", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with("--")).unwrap_or_default();
    let wanted = |label: &str| label.contains(&filter);

    if wanted("empty call") {
        let noop = time(5_000, || {
            sandbox.parse("hostile", &event("noop", "x")).0.unwrap();
        });
        report("empty call (fresh instance, no parsing)", noop);
    }
    if wanted("cowrie event") {
        cowrie_cases(&sandbox, &cowrie);
    }
    if wanted("MiB JSON") {
        big_json_cases(&sandbox, &cowrie);
    }
    drop(sandbox);
    if wanted("start-up") {
        startup_cases();
    }
}

fn cowrie_cases(sandbox: &Sandbox, cowrie: &[String]) {
    let (mut i, mut j) = (0, 0);
    let pair = time_pair(
        5_000,
        100,
        || {
            i += 1;
            sandbox.parse("cowrie", &event("unr_honeypot", &cowrie[i % cowrie.len()])).0.unwrap();
        },
        || {
            j += 1;
            cybexp_parser_cowrie::parse(&event("unr_honeypot", &cowrie[j % cowrie.len()])).unwrap();
        },
    );
    report("cowrie event, sandboxed", pair.sandboxed);
    report("cowrie event, native", pair.native);
    println!(
        "  → overhead beyond the parse: median {:.1} µs; sandboxed/native {:.2}x",
        micros(pair.sandboxed.0.saturating_sub(pair.native.0)),
        pair.ratio
    );
}

/// Timings of a sandboxed case and its native twin, measured in alternating
/// rounds so that both see the same machine (this VM's speed drifts by 2x
/// within seconds).
struct Pair {
    sandboxed: (Duration, Duration),
    native: (Duration, Duration),
    /// The median over rounds of (sandboxed median / native median).
    ratio: f64,
}

fn time_pair(iterations: usize, per_round: usize, mut sandboxed: impl FnMut(), mut native: impl FnMut()) -> Pair {
    let iterations = scaled(iterations);
    for _ in 0..per_round.div_ceil(10) {
        sandboxed(); // warm up: pool slots, caches
        native();
    }
    let (mut all_sandboxed, mut all_native, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let sample = |f: &mut dyn FnMut(), into: &mut Vec<Duration>| {
        let round = samples(per_round, f);
        into.extend(&round);
        percentiles(round).0
    };
    for _ in 0..iterations.div_ceil(per_round) {
        let a = sample(&mut sandboxed, &mut all_sandboxed);
        let b = sample(&mut native, &mut all_native);
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    Pair { sandboxed: percentiles(all_sandboxed), native: percentiles(all_native), ratio: ratios[ratios.len() / 2] }
}

/// JSON documents of 1, 5 and 15 MB (arrays of the production cowrie
/// documents), sandboxed and native, under the default (per-byte) budgets.
fn big_json_cases(sandbox: &Sandbox, cowrie: &[String]) {
    for (megabytes, runs) in [(1, 40), (5, 8), (15, 3)] {
        let mut doc = String::from("[");
        while doc.len() < megabytes << 20 {
            if doc.len() > 1 {
                doc.push_str(", ");
            }
            doc.push_str(&cowrie[doc.len() % cowrie.len()]);
        }
        doc.push(']');
        let (result, stats) = sandbox.parse("json", &event("x", &doc));
        result.unwrap();
        let pair = time_pair(
            runs,
            1,
            || {
                sandbox.parse("json", &event("x", &doc)).0.unwrap();
            },
            || {
                cybexp_parser_json::parse(&event("x", &doc)).unwrap();
            },
        );
        report(&format!("{megabytes} MiB JSON ({} B), sandboxed", doc.len()), pair.sandboxed);
        report(&format!("{megabytes} MiB JSON, native"), pair.native);
        println!(
            "  → sandboxed/native {:.2}x; fuel {} ({:.0} per byte)",
            pair.ratio,
            stats.fuel_used,
            stats.fuel_used as f64 / doc.len() as f64
        );
    }
    // Not measured here: the figure issue 12 gives for the Python reference
    // archiver (json.loads + canonical form + SHA-256) on a 15 MB feed.
    println!("  (Python reference, 15 MB feed of 100,000 events: 1.4 s CPU, as measured for issue 12)");
}

/// Wall time of `Sandbox::new` plus loading the built-in parsers: what a
/// process start pays for its parsers.
fn startup_cases() {
    let start = |cache: Option<ArtifactCache>| {
        let started = Instant::now();
        let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap();
        sandbox.set_cache(cache);
        sandbox.load_builtin_parsers(|_| Limits::default()).unwrap();
        (started.elapsed(), sandbox.cache_stats())
    };
    let tmp = tempfile::tempdir().unwrap();
    let compiled = median_and_max(5, || {
        let (elapsed, stats) = start(None);
        assert_eq!(stats.compiled, 4);
        elapsed
    });
    report_ms("start-up, compiled (no cache)", 5, compiled);
    let mut fresh = 0;
    let cold = median_and_max(5, || {
        fresh += 1;
        let cache = ArtifactCache::open(tmp.path().join(format!("cold-{fresh}"))).unwrap();
        let (elapsed, stats) = start(Some(cache));
        assert_eq!((stats.compiled, stats.cache_hits), (4, 0));
        elapsed
    });
    report_ms("start-up, cold (empty cache, writes it)", 5, cold);
    let warm_dir = tmp.path().join("cold-1");
    let warm = median_and_max(21, || {
        let (elapsed, stats) = start(Some(ArtifactCache::open(&warm_dir).unwrap()));
        assert_eq!((stats.compiled, stats.cache_hits), (0, 4));
        elapsed
    });
    report_ms("start-up, warm cache (nothing compiled)", 21, warm);
    println!("  → warm/compiled {:.3}x", warm.0.as_secs_f64() / compiled.0.as_secs_f64());
}

/// Median and maximum of `n` runs, no warm-up (a start is cold by nature).
fn median_and_max(n: usize, mut once: impl FnMut() -> Duration) -> (Duration, Duration) {
    let mut samples: Vec<_> = (0..n).map(|_| once()).collect();
    samples.sort();
    (samples[n / 2], samples[n - 1])
}
