//! Benchmarks, not tests (ignored by default): the production store as it
//! is deployed. Each prints its figures.
//!
//! ```sh
//! eval "$(scripts/mongo-server.sh start)"
//! cargo build --release -p cybexp-archive     # optional: else the dev binary
//! CYBEXP_BENCH_BIN=target/release/cybexp-archive \
//!   cargo test -p cybexp-tests --test bench_distance -- --ignored --nocapture --test-threads 1
//! scripts/mongo-server.sh stop
//! ```
//! - `events_per_second_across_the_network`: `once` through a proxy that
//!   adds 0, 5, 20 and 50 ms of round trip, and the sequential round trips
//!   per 1,000 entries (the slope of the time over the round trip).
//! - `claim_cost_with_a_skipped_backlog`: keys and documents a claim
//!   examines (the server's `explain`) and its time, with 0 and 100,000
//!   skipped entries ahead.
//! - `seconds_from_submit_to_archived_on_an_idle_daemon`: both stores.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cybexp_lake::{BatchQuery, CacheLake};
use cybexp_store_mongo::mongodb::bson::oid::ObjectId;
use cybexp_store_mongo::mongodb::bson::{Bson, Document, doc};
use cybexp_tests::procs::{cpu_secs, listener_pid};
use cybexp_tests::proxy::Proxy;
use cybexp_tests::{Archiver, Backend, Daemon, bench_bin, cowrie_entries, vector_cases, wait_for};
use serde_json::Value;

/// Entries per run across the network.
fn entries_per_run() -> usize {
    std::env::var("BENCH_ENTRIES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000)
}

/// An archiver whose store goes through `proxy`; the test's own client goes
/// straight to the server.
fn archiver_through(server: &str, proxy: &Proxy) -> Archiver {
    let archiver = Archiver::on_mongo_uri(server, "");
    let uri = format!("mongodb://127.0.0.1:{}/?directConnection=true", proxy.port());
    let config: Vec<String> = std::fs::read_to_string(&archiver.config)
        .unwrap()
        .lines()
        .map(|line| if line.starts_with("uri = ") { format!("uri = {uri:?}") } else { line.to_owned() })
        .collect();
    let config = config.join("\n").replace("batch_size = 64", "batch_size = 256");
    std::fs::write(&archiver.config, config).unwrap();
    archiver
}

/// `once` over the backlog; seconds of wall time, and the CPU seconds the
/// server (`server`, its pid) spent meanwhile.
fn once(archiver: &Archiver, server: Option<u32>) -> (f64, Option<f64>) {
    let server_before = server.and_then(cpu_secs);
    let started = Instant::now();
    let out = Command::new(bench_bin())
        .arg("--config")
        .arg(&archiver.config)
        .args(["once", "--json"])
        .env("CYBEXP_LOG", "warn")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let server_cpu = server.and_then(cpu_secs).zip(server_before).map(|(after, before)| after - before);
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["success"].as_u64(), Some(entries_per_run() as u64), "{summary}");
    (secs, server_cpu)
}

fn host_port(uri: &str) -> std::net::SocketAddr {
    let rest = uri.trim_start_matches("mongodb://");
    let hostport = rest.split(['/', '?', ',']).next().unwrap().rsplit('@').next().unwrap();
    std::net::ToSocketAddrs::to_socket_addrs(hostport).unwrap().next().unwrap()
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn events_per_second_across_the_network() {
    let Some(server) = cybexp_tests::mongo::server_uri("bench") else { return };
    let n = entries_per_run();
    let upstream = host_port(&server);
    let proxy = Proxy::start(upstream);
    let server_pid = listener_pid(upstream.port());
    println!("binary: {}; {n} cowrie entries (legacy RSA-2048), 2 workers, batch 256", bench_bin().display());
    // Sealed once, submitted afresh for each run.
    let template = archiver_through(&server, &proxy);
    let backlog = cowrie_entries(&template, n);
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(2);
    let rtts = [0u64, 5, 20, 50];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); rtts.len()];
    let mut busy: Vec<Vec<f64>> = vec![Vec::new(); rtts.len()];
    // Alternating rounds: a drifting machine hits every round trip alike.
    for _ in 0..rounds {
        for (i, rtt) in rtts.iter().enumerate() {
            proxy.set_rtt(Duration::from_millis(*rtt));
            let archiver = archiver_through(&server, &proxy);
            archiver.mongo.as_ref().unwrap().bulk_submit(&backlog);
            let (secs, server_cpu) = once(&archiver, server_pid);
            times[i].push(secs);
            busy[i].extend(server_cpu.map(|cpu| cpu / secs));
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let secs: Vec<f64> = times.iter().map(|t| median(t)).collect();
    let base = n as f64 / secs[0];
    for (i, (rtt, s)) in rtts.iter().zip(&secs).enumerate() {
        let rate = n as f64 / s;
        let server = if busy[i].is_empty() { "-".into() } else { format!("{:.0}%", 100.0 * median(&busy[i])) };
        println!(
            "RTT {rtt:>2} ms: {rate:7.0} events/s = {:.2} of the 0 ms rate ({s:.2} s; rounds {:?}); the server's CPU busy {server}",
            rate / base,
            times[i]
        );
    }
    // Least squares: seconds = a + b × RTT; b is the number of round trips
    // the run waited for one after another.
    let xs: Vec<f64> = rtts.iter().map(|ms| *ms as f64 / 1000.0).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / xs.len() as f64, secs.iter().sum::<f64>() / secs.len() as f64);
    let slope = xs.iter().zip(&secs).map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
        / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
    println!("sequential round trips: {slope:.0} for {n} entries = {:.1} per 1,000 entries", slope * 1000.0 / n as f64);
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn claim_cost_with_a_skipped_backlog() {
    let Some(dbs) = cybexp_tests::mongo::TestDbs::for_test("bench") else { return };
    let skipped: usize = std::env::var("BENCH_SKIPPED").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let (lake, _) = dbs.open(Duration::from_secs(60));
    let coll = dbs.cache().collection::<Document>("file_entries");
    let add = |count: usize, skip: bool, from: f64| {
        for start in (0..count).step_by(10_000) {
            let docs: Vec<Document> = (start..count.min(start + 10_000))
                .map(|i| {
                    let mut entry = doc! { "_id": ObjectId::new(), "processed": false, "timestamp": from + i as f64, "typetag": "t", "fid": ObjectId::new() };
                    if skip {
                        entry.insert("skip", true);
                        entry.insert("state", "not_supported");
                    }
                    entry
                })
                .collect();
            coll.insert_many(docs).run().unwrap();
        }
    };
    let query = BatchQuery { limit: 256, ..BatchQuery::default() };
    lake.claim_batch("w", &BatchQuery { limit: 1, ..query.clone() }).unwrap(); // creates the claim index
    add(1_000, false, 1e9);
    let measure = |label: &str| {
        let (keys, docs) = explain(&dbs);
        let mut times = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let claimed = lake.claim_batch("w", &query).unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(claimed.len(), 256);
            lake.release(&claimed.iter().map(|e| e.id.clone()).collect::<Vec<_>>()).unwrap();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{label}: a claim of 256 examines {keys} keys and {docs} documents; median {:.1} ms (claim with its read-ahead of blobs that do not exist)",
            times[times.len() / 2]
        );
    };
    measure("1,000 waiting, 0 skipped");
    add(skipped, true, 0.0);
    measure(&format!("1,000 waiting, {skipped} skipped ahead"));
}

/// Keys and documents examined by the claim's candidate aggregation.
fn explain(dbs: &cybexp_tests::mongo::TestDbs) -> (i64, i64) {
    let pipeline = vec![
        doc! { "$match": { "processed": false, "skip": { "$in": [Bson::Null, false] } } },
        doc! { "$sort": { "timestamp": 1, "_id": 1 } },
        doc! { "$match": { "_id": { "$type": "objectId" }, "$expr": { "$not": [ { "$gt": ["$_claim.until", { "$toLong": "$$NOW" }] } ] } } },
        doc! { "$limit": 256 },
    ];
    let out = dbs
        .cache()
        .run_command(doc! { "explain": { "aggregate": "file_entries", "pipeline": pipeline, "cursor": {} }, "verbosity": "executionStats" })
        .run()
        .unwrap();
    fn find(value: &Bson, key: &str) -> Option<i64> {
        match value {
            Bson::Document(d) => match d.get(key) {
                Some(Bson::Int32(n)) => Some(i64::from(*n)),
                Some(Bson::Int64(n)) => Some(*n),
                _ => d.values().find_map(|v| find(v, key)),
            },
            Bson::Array(items) => items.iter().find_map(|v| find(v, key)),
            _ => None,
        }
    }
    let out = Bson::Document(out);
    (find(&out, "totalKeysExamined").unwrap_or(-1), find(&out, "totalDocsExamined").unwrap_or(-1))
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn seconds_from_submit_to_archived_on_an_idle_daemon() {
    let plaintext = vector_cases("vectors/raw_documents.json")[0]["plaintext"].as_str().unwrap().to_owned();
    for backend in [Backend::Sqlite, Backend::Mongo] {
        let Some(archiver) = Archiver::on(backend, "bench") else { continue };
        let daemon = Daemon::spawn(&archiver, "warn");
        let lake = archiver.lake();
        let mut latencies = Vec::new();
        for i in 0..5 {
            // Idle for a while each time: the daemon is in its backoff sleep.
            std::thread::sleep(Duration::from_secs(3));
            let file = archiver.dir.path().join(format!("e{i}.json"));
            std::fs::write(&file, plaintext.replace("\"offset\": 8187", &format!("\"offset\": {i}"))).unwrap();
            let submitted = Instant::now();
            archiver.ok(&["submit", "--typtag", "unr-honeypot", "--orgid", "o", file.to_str().unwrap()]);
            wait_for("archived", Duration::from_secs(120), |_| (lake.queue_depth().ok()?.waiting == 0).then_some(()));
            latencies.push(submitted.elapsed().as_secs_f64());
        }
        daemon.stop("-TERM");
        println!(
            "{backend:?}: seconds from `submit` (the CLI, its own start included) to archived: {}",
            latencies.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(", ")
        );
    }
}
