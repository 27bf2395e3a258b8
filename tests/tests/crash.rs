//! Crash safety, on both stores: SIGKILL the archiver at random moments during a 2,000-entry
//! run, restart it, and check that every entry ends processed exactly once
//! with no document stored twice.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cybexp_tests::{Archiver, Backend, Daemon, cowrie_entries, wait_for};

const ENTRIES: usize = 2_000;

/// xorshift: enough randomness for kill times, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_duplicates_nothing() {
    sigkill_at_random_moments(Backend::Sqlite);
}

#[test]
fn mongodb_sigkill_at_random_moments_loses_nothing_and_duplicates_nothing() {
    sigkill_at_random_moments(Backend::Mongo);
}

#[test]
fn a_daemon_killed_six_times_finishes_soon_after_its_last_restart() {
    killed_daemon_recovers(Backend::Sqlite);
}

#[test]
fn mongodb_a_daemon_killed_six_times_finishes_soon_after_its_last_restart() {
    killed_daemon_recovers(Backend::Mongo);
}

/// The daemon is SIGKILLed six times at random moments and restarted each
/// time. The killed processes' claims must not hold the work up for their
/// lease: the restarted daemon, on the same host, sees they are gone and
/// takes their entries back. The lease here is 10 minutes, so only that can
/// finish everything within a minute of the last restart.
fn killed_daemon_recovers(backend: Backend) {
    const ENTRIES: usize = 1_500;
    const LIMIT: Duration = Duration::from_secs(60);
    let Some(archiver) = Archiver::on(backend, "a_daemon_killed_six_times_finishes_soon_after_its_last_restart") else {
        return;
    };
    let config = std::fs::read_to_string(&archiver.config).unwrap();
    std::fs::write(&archiver.config, config.replace("[pipeline]\n", "[pipeline]\nlease_secs = 600\n")).unwrap();
    archiver.submit_many(&cowrie_entries(&archiver, ENTRIES));
    let store = archiver.lake();
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("kill-time seed: {seed}");
    let mut rng = Rng(seed);
    for _ in 0..6 {
        let waiting = store.queue_depth().unwrap().waiting;
        let mut daemon = Daemon::spawn(&archiver, "warn");
        // Kill it once it has marked something, at a random moment after.
        wait_for("the daemon's first outcomes", Duration::from_secs(60), |seen| {
            *seen = daemon.log();
            (waiting == 0 || store.queue_depth().unwrap().waiting < waiting).then_some(())
        });
        // Soon after its first outcomes: a killed daemon usually holds a batch.
        std::thread::sleep(Duration::from_millis(rng.below(100)));
        daemon.kill();
    }
    let left = store.queue_depth().unwrap().waiting;
    println!("{left} entries left after six kills");

    let restarted = Instant::now();
    let daemon = Daemon::spawn(&archiver, "info");
    // Up and with its signal handlers in place before it may be stopped.
    wait_for("the daemon to start", LIMIT, |seen| {
        *seen = daemon.log();
        seen.contains("archiver started").then_some(())
    });
    wait_for(
        "every entry done after the last restart (lease 600 s)",
        LIMIT.saturating_sub(restarted.elapsed()),
        |seen| {
            let waiting = store.queue_depth().unwrap().waiting;
            *seen = format!("{waiting} entries waiting\n{}", daemon.log());
            (waiting == 0).then_some(())
        },
    );
    println!("all done {:?} after the last restart", restarted.elapsed());
    let log = daemon.stop("-TERM");
    if left > 0 {
        assert!(log.contains("took back the claims"), "the restart took back the dead claims:\n{log}");
    }
    cybexp_tests::assert_all_processed_once(&archiver, ENTRIES);
}

fn sigkill_at_random_moments(backend: Backend) {
    let Some(archiver) = Archiver::on(backend, "sigkill_at_random_moments_loses_nothing_and_duplicates_nothing") else {
        return;
    };
    let config = std::fs::read_to_string(&archiver.config).unwrap();
    // Short leases, so the claims of a killed run come back quickly.
    std::fs::write(&archiver.config, config.replace("[pipeline]\n", "[pipeline]\nlease_secs = 1\n")).unwrap();

    archiver.submit_many(&cowrie_entries(&archiver, ENTRIES));
    let store = archiver.lake();

    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("kill-time seed: {seed}");
    let mut rng = Rng(seed);
    let mut kills = 0;
    for _ in 0..8 {
        let waiting = store.queue_depth().unwrap().waiting;
        if waiting == 0 {
            break;
        }
        let mut child = archiver.command().arg("once").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        // Kill mid-run: once this run has marked a random number of entries
        // (counted, not timed: startup alone can take longer than any fixed
        // delay, and a fast run finishes within a few hundred milliseconds).
        let target = waiting.saturating_sub(1 + rng.below(200));
        wait_for("the run to reach its kill point", Duration::from_secs(60), |seen| {
            let waiting = store.queue_depth().unwrap().waiting;
            *seen = format!("{waiting} waiting, the kill point is {target}");
            (waiting <= target || child.try_wait().unwrap().is_some()).then_some(())
        });
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    let left = store.queue_depth().unwrap().waiting;
    println!("killed {kills} runs; {left} entries left");
    assert!(kills >= 3, "only {kills} runs were killed mid-way");
    assert!(left < ENTRIES as u64, "the killed runs made progress");

    // Restart after the leases ran out and finish the work.
    std::thread::sleep(Duration::from_millis(1_200));
    let started = Instant::now();
    archiver.ok(&["once"]);
    println!("final run took {:?}", started.elapsed());

    cybexp_tests::assert_all_processed_once(&archiver, ENTRIES);
}
