//! SIGTERM and SIGINT stop the daemon cleanly: in-flight entries are
//! finished or released (no claim left behind), then it exits 0.

use std::time::Duration;

use cybexp_lake::{ArchiveStore, LakeAdmin};
use cybexp_tests::{Archiver, Daemon, new_entry, vector_cases};

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
    let daemon = Daemon::spawn(&archiver, "info");

    // Wait until it is busy, then signal it mid-run.
    cybexp_tests::wait_for("the daemon to start working", Duration::from_secs(60), |seen| {
        let waiting = store.queue_depth().unwrap().waiting;
        *seen = format!("{waiting} of {ENTRIES} waiting");
        (waiting < ENTRIES as u64).then_some(())
    });
    let stderr = daemon.stop(signal);
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
