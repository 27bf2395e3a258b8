//! Benchmark, not a test (ignored by default): events/s of `once` on the
//! same 2,000 cowrie entries on the embedded store and on the MongoDB test
//! server, with one and with two archiver processes, plus the CPU seconds
//! the archivers and the server spent, to show which side is the bottleneck.
//!
//! ```sh
//! eval "$(scripts/mongo-server.sh start)"
//! cargo build --release -p cybexp-archive     # optional: else the dev binary
//! CYBEXP_BENCH_BIN=target/release/cybexp-archive \
//!   cargo test -p cybexp-tests --test bench_mongo -- --ignored --nocapture
//! scripts/mongo-server.sh stop
//! ```
//! The server's CPU time is read from `/proc/<pid>/stat` of the process
//! listening on the URI's port (`CYBEXP_BENCH_SERVER_PID` overrides).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cybexp_lake::NewEntry;
use cybexp_tests::procs::{cpu_secs, listener_pid};
use cybexp_tests::{Archiver, Backend, bench_bin, vector_cases};

const ENTRIES: usize = 2_000;

fn entries(archiver: &Archiver) -> Vec<(NewEntry, Vec<u8>)> {
    let key = archiver.public_key();
    let template = vector_cases("vectors/raw_documents.json")[0]["plaintext"].as_str().unwrap().to_owned();
    (0..ENTRIES)
        .map(|i| {
            let plaintext = template.replace("\"offset\": 8187", &format!("\"offset\": {i}"));
            let blob = cybexp_keys::legacy::encrypt(&key, plaintext.as_bytes()).unwrap();
            (cybexp_tests::new_entry("unr-honeypot", &format!("event-{i}")), blob)
        })
        .collect()
}

struct Run {
    secs: f64,
    archiver_cpu: f64,
    server_cpu: Option<f64>,
}

/// Runs `processes` archivers on the backlog at once; wall time to the last exit.
fn run(archiver: &Archiver, processes: usize, server: Option<u32>) -> Run {
    let server_before = server.and_then(cpu_secs);
    let started = Instant::now();
    let mut children: Vec<(Child, f64)> = (0..processes)
        .map(|_| {
            let child = Command::new(bench_bin())
                .arg("--config")
                .arg(&archiver.config)
                .args(["once", "--json"])
                .env("CYBEXP_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            (child, 0.0)
        })
        .collect();
    loop {
        let mut running = false;
        for (child, cpu) in &mut children {
            if child.try_wait().unwrap().is_none() {
                running = true;
                *cpu = cpu_secs(child.id()).unwrap_or(*cpu);
            }
        }
        if !running {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = started.elapsed().as_secs_f64();
    for (child, _) in &mut children {
        assert!(child.wait().unwrap().success());
    }
    let server_cpu = server.and_then(cpu_secs).zip(server_before).map(|(after, before)| after - before);
    let waiting = archiver.lake().queue_depth().unwrap().waiting;
    assert_eq!(waiting, 0, "backlog not worked off");
    assert_eq!(archiver.archive().count().unwrap(), ENTRIES as u64);
    Run { secs, archiver_cpu: children.iter().map(|(_, cpu)| cpu).sum(), server_cpu }
}

fn report(label: &str, run: &Run) {
    let server = run.server_cpu.map(|s| format!("{s:6.1} s ({:3.0}% of the wall time)", 100.0 * s / run.secs));
    println!(
        "{label:<34} {:7.1} events/s  {:6.1} s wall  archiver CPU {:6.1} s  server CPU {}",
        ENTRIES as f64 / run.secs,
        run.secs,
        run.archiver_cpu,
        server.unwrap_or_else(|| "-".into())
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn events_per_second_sqlite_vs_mongodb_and_one_vs_two_archivers() {
    println!("binary: {}", bench_bin().display());
    println!("{} cores; {ENTRIES} cowrie entries (legacy envelope, RSA-2048), batch 256, 2 workers each", num_cpus());

    let sqlite = bench_archiver(Backend::Sqlite).unwrap();
    {
        let lake = sqlite.lake();
        for (entry, blob) in entries(&sqlite) {
            lake.submit(&entry, &blob).unwrap();
        }
    }
    report("SQLite, 1 archiver", &run(&sqlite, 1, None));

    let Some(mongo) = bench_archiver(Backend::Mongo) else { return };
    let dbs = mongo.mongo.as_ref().unwrap();
    let port: u16 =
        dbs.uri.rsplit(':').next().and_then(|p| p.trim_end_matches('/').split('/').next()?.parse().ok()).unwrap_or(0);
    let server = listener_pid(port);
    dbs.bulk_submit(&entries(&mongo));
    report("MongoDB (SecantusDB), 1 archiver", &run(&mongo, 1, server));

    let mongo2 = bench_archiver(Backend::Mongo).unwrap();
    mongo2.mongo.as_ref().unwrap().bulk_submit(&entries(&mongo2));
    report("MongoDB (SecantusDB), 2 archivers", &run(&mongo2, 2, server));

    let sqlite2 = bench_archiver(Backend::Sqlite).unwrap();
    {
        let lake = sqlite2.lake();
        for (entry, blob) in entries(&sqlite2) {
            lake.submit(&entry, &blob).unwrap();
        }
    }
    report("SQLite, 2 archivers", &run(&sqlite2, 2, None));
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// An archiver with the production batch size (256) and two workers.
fn bench_archiver(backend: Backend) -> Option<Archiver> {
    let archiver = Archiver::on(backend, "bench")?;
    let config = std::fs::read_to_string(&archiver.config).unwrap();
    std::fs::write(&archiver.config, config.replace("batch_size = 64", "batch_size = 256")).unwrap();
    Some(archiver)
}
