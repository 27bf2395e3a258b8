//! Benchmark, not a test (ignored by default): events/s of `once` on the
//! embedded store, the same 2,000 cowrie entries sealed as legacy RSA-2048
//! entries and as v3 (HPKE with X-Wing) entries, in alternating rounds, with
//! the archiver's CPU seconds per event.
//!
//! ```sh
//! cargo build --release -p cybexp-archive     # optional: else the dev binary
//! CYBEXP_BENCH_BIN=target/release/cybexp-archive \
//!   cargo test -p cybexp-tests --test bench_v3 -- --ignored --nocapture
//! ```

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use cybexp_tests::producer::add_xwing_key;
use cybexp_tests::{Archiver, new_entry, vector_cases};

const ENTRIES: usize = 2_000;
const ROUNDS: usize = 3;

/// One archiver per run, with both keys; `v3` picks the envelope of its entries.
fn archiver(v3: bool) -> Archiver {
    let archiver = Archiver::new();
    let xwing = add_xwing_key(&archiver);
    let rsa = archiver.public_key();
    let xwing = cybexp_keys::load_public_key(&xwing.public).unwrap();
    let template = vector_cases("vectors/raw_documents.json")[0]["plaintext"].as_str().unwrap().to_owned();
    let entries: Vec<_> = (0..ENTRIES)
        .map(|i| {
            let plaintext = template.replace("\"offset\": 8187", &format!("\"offset\": {i}"));
            let blob = if v3 {
                cybexp_keys::v3::encrypt(&xwing, plaintext.as_bytes())
            } else {
                cybexp_keys::legacy::encrypt(&rsa, plaintext.as_bytes())
            };
            (new_entry("unr-honeypot", &format!("event-{i}")), blob.unwrap())
        })
        .collect();
    archiver.submit_many(&entries);
    archiver
}

/// `CYBEXP_BENCH_BIN` (relative to the workspace root), else the dev binary.
fn bin() -> PathBuf {
    match std::env::var_os("CYBEXP_BENCH_BIN") {
        Some(path) => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path),
        None => cybexp_tests::archiver_bin().to_owned(),
    }
}

/// User + system CPU seconds of this process's waited-for children
/// (`cutime`, `cstime` in /proc/self/stat; 100 ticks a second on Linux).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(13) + ticks(14)) / 100.0
}

/// `once --json` on a fresh archiver: events/s and the child's CPU seconds.
fn once(v3: bool) -> (f64, f64) {
    let archiver = archiver(v3);
    let (started, cpu_before) = (Instant::now(), children_cpu());
    let out = Command::new(bin())
        .arg("--config")
        .arg(&archiver.config)
        .args(["once", "--json"])
        .env("CYBEXP_LOG", "warn")
        .env_remove("CYBEXP_ARCHIVE_CONFIG")
        .output()
        .unwrap();
    let (elapsed, cpu) = (started.elapsed().as_secs_f64(), children_cpu() - cpu_before);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["success"], ENTRIES as u64, "{summary}");
    (ENTRIES as f64 / elapsed, cpu)
}

#[test]
#[ignore = "a benchmark: cargo test -p cybexp-tests --test bench_v3 -- --ignored --nocapture"]
fn once_on_the_embedded_store_v3_beside_rsa_2048() {
    println!(
        "`once` on {ENTRIES} cowrie entries, embedded store, {} ({:?})",
        bin().display(),
        std::thread::available_parallelism()
    );
    let (mut rsa, mut v3) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let (r, rc) = once(false);
        let (x, xc) = once(true);
        println!(
            "round {round}: legacy RSA-2048 {r:.0} events/s ({:.0} µs CPU/event), v3 {x:.0} events/s ({:.0} µs CPU/event): {:.2}x",
            1e6 * rc / ENTRIES as f64,
            1e6 * xc / ENTRIES as f64,
            x / r
        );
        rsa.push(r);
        v3.push(x);
    }
    rsa.sort_by(f64::total_cmp);
    v3.sort_by(f64::total_cmp);
    let (r, x) = (rsa[ROUNDS / 2], v3[ROUNDS / 2]);
    println!("=> once, medians: legacy RSA-2048 {r:.0} events/s, v3 {x:.0} events/s: {:.2}x (goal >= 2x)", x / r);
}
