//! New work is picked up at once: an idle daemon well into the reference's
//! backoff archives a new submission without waiting out its sleep (the
//! store's change feed wakes it), on both stores.

use std::time::{Duration, Instant};

use cybexp_tests::{Archiver, Backend, Daemon, on_both_backends, vector_cases, wait_for};
use serde_json::Value;

/// Milliseconds since the epoch, as the daemon's status reports times.
fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn an_idle_daemon_archives_a_new_submission_at_once(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let daemon = Daemon::spawn(&archiver, "debug");
    // Idle polls back off: 2, then 4 seconds... Wait for a sleep of 4 s
    // with at least 3 s of it left.
    let next_poll_at = wait_for("the daemon deep in its backoff", Duration::from_secs(60), |seen| {
        let out = archiver.run(&["status", "--json"]);
        let status: Value = serde_json::from_slice(&out.stdout).ok()?;
        *seen = status.to_string();
        let lp = &status["loop"];
        let next = lp["next_poll_at_ms"].as_u64()?;
        (lp["failures"].as_u64()? >= 2 && next >= now_ms() + 3_000).then_some(next)
    });
    let plaintext = vector_cases("vectors/raw_documents.json")[0]["plaintext"].as_str().unwrap().to_owned();
    let file = archiver.dir.path().join("event.json");
    std::fs::write(&file, plaintext).unwrap();
    let submitted = Instant::now();
    archiver.ok(&["submit", "--typtag", "unr-honeypot", "--orgid", "org-test", file.to_str().unwrap()]);
    let lake = archiver.lake();
    wait_for("the new entry archived", Duration::from_secs(30), |seen| {
        let depth = lake.queue_depth().ok()?;
        *seen = format!("{depth:?}");
        (depth.waiting == 0).then_some(())
    });
    let archived_at = now_ms();
    println!("{backend:?}: archived {:?} after the submission", submitted.elapsed());
    assert_eq!(archiver.archive().count().unwrap(), 1);
    assert!(
        archived_at < next_poll_at,
        "archived {} ms after the daemon's next poll was due: it waited out its backoff\n{}",
        archived_at - next_poll_at,
        daemon.log()
    );
    let log = daemon.stop("-TERM");
    assert!(log.contains("the lake changed: polling now"), "the change feed did not wake the daemon:\n{log}");
}

on_both_backends!(an_idle_daemon_archives_a_new_submission_at_once);
