//! SIGTERM and SIGINT stop the daemon cleanly: in-flight entries are
//! finished or released (no claim left behind), then it exits 0.

use std::process::Stdio;
use std::time::{Duration, Instant};

use cybexp_lake::{ArchiveStore, CacheLake};
use cybexp_tests::{Archiver, new_entry, vector_cases};

const ENTRIES: usize = 600;

fn stop_cleanly(signal: &str) {
    let archiver = Archiver::new();
    let store = archiver.store();
    let key = archiver.public_key();
    let template = vector_cases("vectors/raw_documents.json")[0]["plaintext"].as_str().unwrap().to_owned();
    for i in 0..ENTRIES {
        let plaintext = template.replace("\"offset\": 8187", &format!("\"offset\": {i}"));
        let blob = cybexp_keys::legacy::encrypt(&key, plaintext.as_bytes()).unwrap();
        store.submit(&new_entry("unr-honeypot", &format!("event-{i}")), &blob).unwrap();
    }
    // Logs go to a file: a pipe nobody reads could fill up and block the daemon.
    let log_path = archiver.dir.path().join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut daemon =
        archiver.command().arg("run").env("CYBEXP_LOG", "info").stdout(Stdio::null()).stderr(log).spawn().unwrap();

    // Wait until it is busy, then signal it mid-run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.queue_depth().unwrap().waiting == ENTRIES as u64 {
        assert!(Instant::now() < deadline, "the daemon never started working");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill").args([signal, &daemon.id().to_string()]).status().unwrap();
    assert!(status.success());

    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = daemon.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop within 30 s of {signal}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&log_path).unwrap();
    assert!(exit.success(), "exit {exit} after {signal}:\n{stderr}");
    assert!(stderr.contains("archiver stopped"), "{stderr}");

    // No claim survives the stop, and what was done is consistent.
    let db = cybexp_tests::sqlite(&archiver.db_path());
    let claimed: i64 =
        db.query_row("SELECT count(*) FROM entries WHERE claim_owner IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(claimed, 0, "claims left behind after {signal}");
    let processed: i64 = db.query_row("SELECT count(*) FROM entries WHERE processed = 1", [], |r| r.get(0)).unwrap();
    let skipped: i64 = db.query_row("SELECT count(*) FROM entries WHERE skip = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(skipped, 0);
    assert_eq!(store.count().unwrap(), processed as u64, "one document per processed entry");
    println!("{signal}: {processed} of {ENTRIES} processed before the stop");

    // A restart finishes the rest at once (nothing waits for a lease).
    archiver.ok(&["once"]);
    assert_eq!(store.queue_depth().unwrap().waiting, 0);
    assert_eq!(store.count().unwrap(), ENTRIES as u64);
}

#[test]
fn sigterm_finishes_or_releases_in_flight_entries() {
    stop_cleanly("-TERM");
}

#[test]
fn sigint_finishes_or_releases_in_flight_entries() {
    stop_cleanly("-INT");
}
