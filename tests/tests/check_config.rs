//! `check-config` on both stores: a config the daemon would start with
//! passes, and the store check reaches the store without claiming or
//! changing anything (the entries dump the same before and after).
//! `host/tests/cli.rs` covers the failures; this covers a live store.

use cybexp_lake::BatchQuery;
use cybexp_tests::{Archiver, Backend, cowrie_entries};

cybexp_tests::on_both_backends!(check_config_reaches_the_store_and_changes_nothing);

fn check_config_reaches_the_store_and_changes_nothing(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    archiver.submit_many(&cowrie_entries(&archiver, 3));
    let before = archiver.dump("cache");
    assert_eq!(before.len(), 3);

    let out = archiver.run(&["check-config"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let store: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ok     store ")).collect();
    assert!(store.len() == 1 && store[0].contains("(3 waiting)"), "{stdout}");
    // The hostile test parser from its file, and the routes to it.
    assert!(stdout.lines().any(|l| l.starts_with("ok     parsers ") && l.contains("hostile@")), "{stdout}");

    assert_eq!(archiver.dump("cache"), before, "check-config changed the lake");
    // No claim left behind (a claim is not in the dump): nobody holds one,
    // and all three can be claimed at once.
    let lake = archiver.lake();
    let query = BatchQuery { limit: 10, include_skipped: false, typtag: None };
    assert_eq!(lake.foreign_claims("observer", &query).unwrap().owners, Vec::<String>::new());
    assert_eq!(lake.claim_batch("observer", &query).unwrap().len(), 3);
}

/// The archive on a server of its own (`archive_uri`) is reached too: with
/// the lake's server up and the archive's down, the start is refused.
#[test]
fn an_archive_on_a_server_that_does_not_answer_fails_the_check() {
    let test = "an_archive_on_a_server_that_does_not_answer_fails_the_check";
    let Some(archiver) = Archiver::on(Backend::Mongo, test) else { return };
    let config = std::fs::read_to_string(&archiver.config).unwrap();
    // Nothing listens on port 1.
    let split = config.replacen(
        "[store]\nbackend = \"mongodb\"\n",
        "[store]\nbackend = \"mongodb\"\narchive_uri = \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500\"\ntimeout_secs = 1\n",
        1,
    );
    assert_ne!(split, config, "the test config's [store] table moved");
    std::fs::write(&archiver.config, split).unwrap();

    let out = archiver.run(&["check-config"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{stdout}");
    let store: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAILED store ")).collect();
    assert!(store.len() == 1 && store[0].contains("pinging the archive"), "{stdout}");
}
