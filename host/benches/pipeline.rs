//! End-to-end throughput on the embedded store: `cargo bench -p cybexp-archive --bench pipeline`.
//!
//! 2,000 cowrie-sized entries in the legacy envelope under RSA-2048, worked
//! off by the real pipeline (claim, blob, decrypt, sandboxed parse, store,
//! mark) with one worker per core, then with one worker. The ceiling is the
//! RSA-OAEP unwrap rate alone times the cores: RSA dominates the cost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use cybexp_archive::config::builtin_routes;
use cybexp_archive::pipeline::{Pipeline, Processor};
use cybexp_keys::{Keyring, PrivateKey};
use cybexp_lake::{BatchQuery, CacheLake, NewEntry};
use cybexp_sandbox::Sandbox;
use cybexp_store_sqlite::SqliteStore;

const ENTRIES: usize = 2_000;

fn cowrie_event(i: usize) -> String {
    format!(
        r#"{{"message": "{{\"eventid\": \"cowrie.login.failed\", \"username\": \"root\", \"password\": \"pw{i}\", \"src_ip\": \"203.0.113.{}\", \"session\": \"{i:08x}\", \"sensor\": \"f89597a7c9bc\"}}", "agent": {{"type": "filebeat", "version": "7.6.2", "hostname": "cybex"}}, "host": {{"hostname": "cybex", "os": {{"name": "Ubuntu", "version": "18.04.4 LTS (Bionic Beaver)"}}}}, "log": {{"offset": {i}, "file": {{"path": "/home/cybex-user/ssh-amsterdam/ssh.json.log"}}}}, "tags": ["beats_input_codec_plain_applied"], "@timestamp": "2020-04-28T02:49:23.177Z", "@version": "1"}}"#,
        i % 250
    )
}

fn fill(store: &SqliteStore, blobs: &[Vec<u8>]) {
    for (i, blob) in blobs.iter().enumerate() {
        let entry = NewEntry {
            name: format!("event-{i}"),
            orgid: "org".into(),
            typtag: "unr-honeypot".into(),
            timezone: "UTC".into(),
            timestamp: i as f64,
        };
        store.submit(&entry, blob).unwrap();
    }
}

fn run(key_pem: &str, blobs: &[Vec<u8>], workers: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("bench.db")).unwrap());
    fill(&store, blobs);
    let processor = Processor {
        keyring: Keyring::from(vec![PrivateKey::from_pem(key_pem).unwrap()]),
        sandbox: Sandbox::with_builtin_parsers().unwrap(),
        routes: builtin_routes(),
    };
    let pipeline = Pipeline {
        lake: store.clone(),
        archive: store.clone(),
        processor: Arc::new(processor),
        workers,
        batch_size: 256,
        worker_id: "bench".into(),
        shutdown: Arc::new(AtomicBool::new(false)),
    };
    let query = BatchQuery { limit: pipeline.batch_size, ..BatchQuery::default() };
    let start = Instant::now();
    let summary = pipeline.run_until_empty(&query, |_| {}).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(summary.success, blobs.len() as u64, "{summary:?}");
    assert_eq!(store.queue_depth().unwrap().waiting, 0);
    blobs.len() as f64 / elapsed
}

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let key = PrivateKey::generate(2048).unwrap();
    let key_pem = key.to_pkcs8_pem().unwrap();
    let blobs: Vec<Vec<u8>> = (0..ENTRIES)
        .map(|i| cybexp_keys::legacy::encrypt(key.public_key(), cowrie_event(i).as_bytes()).unwrap())
        .collect();
    println!(
        "pipeline benchmark: {ENTRIES} cowrie entries (~{} B), legacy RSA-2048, {cores} cores",
        cowrie_event(0).len()
    );

    // The ceiling: decrypting alone, one thread, times the cores.
    let ring = Keyring::from(vec![key]);
    let sample = 400;
    let start = Instant::now();
    for blob in blobs.iter().take(sample) {
        ring.decrypt(blob).unwrap();
    }
    let decrypt_rate = sample as f64 / start.elapsed().as_secs_f64();
    let ceiling = decrypt_rate * cores as f64;
    println!(
        "RSA unwrap + EAX alone, 1 thread:  {decrypt_rate:>8.0} events/s  → ceiling ×{cores} = {ceiling:.0} events/s"
    );

    let mut results = BTreeMap::new();
    for workers in [cores, 1] {
        let rate = run(&key_pem, &blobs, workers);
        results.insert(workers, rate);
        println!(
            "pipeline, {workers} worker(s):             {rate:>8.0} events/s  = {:.2} of the ceiling",
            rate / ceiling
        );
    }
    println!("speed-up {cores} workers vs 1: {:.2}x", results[&cores] / results[&1]);
}
