//! SIGHUP reloads the config in a running daemon: new routes, parsers and
//! keys take effect for the next claim, entries in flight finish, nothing
//! is lost or processed twice; a config that does not load is refused,
//! the daemon keeps its set, and `status --json` says why. The config's
//! `log` filter changes on reload unless `CYBEXP_LOG` pinned it.

use std::time::Duration;

use cybexp_tests::{Archiver, Daemon, assert_all_processed_once, cowrie_entries, new_entry, wait_for};
use serde_json::Value;

/// `status --json`, by the socket alone: the config file may be one the
/// test broke on purpose.
fn status(archiver: &Archiver) -> Option<Value> {
    let socket = archiver.dir.path().join("data/status.sock");
    let out = std::process::Command::new(cybexp_tests::archiver_bin())
        .args(["status", "--json", "--socket"])
        .arg(&socket)
        .env_remove("CYBEXP_ARCHIVE_CONFIG")
        .output()
        .unwrap();
    out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// The daemon answering on its status socket.
fn started(archiver: &Archiver) -> Daemon {
    answering(archiver, Daemon::spawn(archiver, "info"))
}

fn answering(archiver: &Archiver, daemon: Daemon) -> Daemon {
    let pid = daemon.pid();
    wait_for("the status socket", Duration::from_secs(60), |_| {
        status(archiver).filter(|s| s["identity"]["pid"] == pid).map(|_| ())
    });
    daemon
}

/// SIGHUP, then the config state once the daemon has dealt with it.
fn reload(archiver: &Archiver, daemon: &Daemon) -> Value {
    let before = status(archiver).unwrap()["identity"]["config"]["last_reload_at_ms"].clone();
    daemon.signal("-HUP");
    wait_for("the reload", Duration::from_secs(60), |_| {
        let config = status(archiver)?["identity"]["config"].clone();
        (config["last_reload_at_ms"] != before).then_some(config)
    })
}

#[test]
fn sighup_mid_run_puts_a_new_route_in_effect_and_loses_nothing() {
    let archiver = Archiver::new();
    const ENTRIES: usize = 2_000;
    archiver.submit_many(&cowrie_entries(&archiver, ENTRIES));
    let mut daemon = started(&archiver);
    let lake = archiver.lake();
    wait_for("the run to be under way", Duration::from_secs(60), |_| {
        (lake.queue_depth().unwrap().waiting < ENTRIES as u64).then_some(())
    });

    // A typtag nobody handled before, routed to the json parser.
    archiver.append_config("[typtags.feed-x]\nparser = \"json\"\nsub_type = \"feed_x\"\n");
    let config = reload(&archiver, &daemon);
    assert_eq!(config["generation"], 2, "{config}");
    assert_eq!(config["last_reload_error"], Value::Null, "{config}");
    let key = archiver.public_key();
    for i in 0..5 {
        let blob = cybexp_keys::legacy::encrypt(&key, format!("{{\"x\": {i}}}").as_bytes()).unwrap();
        lake.submit(&new_entry("feed-x", &format!("x-{i}")), &blob).unwrap();
    }
    wait_for("every entry done", Duration::from_secs(120), |_| {
        (lake.queue_depth().unwrap().waiting == 0).then_some(())
    });
    assert!(daemon.is_running());
    let log = daemon.stop("-TERM");
    assert!(log.contains("config reloaded; the next batch uses it"), "{log}");

    assert_all_processed_once(&archiver, ENTRIES + 5);
    let feed_x: Vec<_> = archiver.dump("archive").into_iter().filter(|doc| doc["sub_type"] == "feed_x").collect();
    assert_eq!(feed_x.len(), 5, "the new route took effect");
}

/// The config with its key file swapped for one that cannot be read.
fn unreadable_key(config: &str) -> String {
    config
        .lines()
        .map(|line| if line.starts_with("private = ") { "private = [\"/nonexistent/priv.pem\"]" } else { line })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_reload_that_cannot_load_keeps_the_running_set_and_says_why() {
    let archiver = Archiver::new();
    let original = std::fs::read_to_string(&archiver.config).unwrap();
    let mut daemon = started(&archiver);

    let importer = archiver.dir.path().join("importer.wasm");
    std::fs::write(&importer, wat::parse_str(r#"(component (import "wasi:cli/environment" (func)))"#).unwrap())
        .unwrap();
    let bad_configs = [
        (format!("{original}\n[pipeline\n"), "TOML"),
        (format!("{original}\n[parsers.bad]\nfile = {importer:?}\n"), "must import nothing"),
        (unreadable_key(&original), "/nonexistent/priv.pem"),
    ];
    for (i, (text, expected)) in bad_configs.iter().enumerate() {
        std::fs::write(&archiver.config, text).unwrap();
        let config = reload(&archiver, &daemon);
        assert_eq!(config["generation"], 1, "case {i}: still the first config: {config}");
        let error = config["last_reload_error"].as_str().unwrap_or_else(|| panic!("case {i}: {config}"));
        assert!(error.contains(expected), "case {i}: {error}");
        assert!(daemon.is_running(), "case {i}");
    }
    // Still working on the set it had.
    let lake = archiver.lake();
    let blob = cybexp_keys::legacy::encrypt(&archiver.public_key(), b"{\"still\": \"working\"}").unwrap();
    lake.submit(&new_entry("generic-json", "after the refusals"), &blob).unwrap();
    wait_for("the entry done", Duration::from_secs(60), |_| (lake.queue_depth().unwrap().waiting == 0).then_some(()));
    assert_eq!(archiver.dump("cache")[0]["processed"], true);

    // A good config again: generation 2, the error gone.
    std::fs::write(&archiver.config, &original).unwrap();
    let config = reload(&archiver, &daemon);
    assert_eq!((config["generation"].as_u64(), &config["last_reload_error"]), (Some(2), &Value::Null), "{config}");
    let log = daemon.stop("-TERM");
    assert_eq!(log.matches("reload refused; still running on the previous config").count(), 3, "{log}");
}

/// The config's `log` at start, a new one on SIGHUP, and CYBEXP_LOG
/// pinning the filter so that a reload leaves it alone (and says so).
#[test]
fn sighup_changes_the_log_filter_unless_the_environment_pinned_it() {
    const RELOADED: &str = "config reloaded; the next batch uses it";
    let archiver = Archiver::new();
    with_log(&archiver, "warn");
    let daemon = answering(&archiver, Daemon::spawn_logging_as_configured(&archiver));
    archiver.append_config("[typtags.feed-a]\nparser = \"json\"\nsub_type = \"a\"\n");
    assert_eq!(reload(&archiver, &daemon)["generation"], 2);
    assert!(!daemon.log().contains(RELOADED), "warn hides the info lines:\n{}", daemon.log());

    with_log(&archiver, "info");
    assert_eq!(reload(&archiver, &daemon)["generation"], 3);
    let log = daemon.log();
    assert!(log.contains("log filter changed filter=info previous=warn"), "{log}");
    assert!(log.contains(RELOADED), "info is in effect for the rest of the reload:\n{log}");
    daemon.stop("-TERM");

    // CYBEXP_LOG=warn pins it: the config's `info` neither applies at
    // start nor on reload, and the reload says why at warn.
    let archiver = Archiver::new();
    with_log(&archiver, "info");
    let daemon = started_at_warn(&archiver);
    with_log(&archiver, "debug");
    assert_eq!(reload(&archiver, &daemon)["generation"], 2);
    let log = daemon.stop("-TERM");
    assert!(!log.contains(RELOADED) && !log.contains(" INFO "), "{log}");
    assert!(log.contains("the config's `log` changed, but --log or CYBEXP_LOG set the filter"), "{log}");
}

/// Sets the config's top-level `log` (its first line).
fn with_log(archiver: &Archiver, filter: &str) {
    let text = std::fs::read_to_string(&archiver.config).unwrap();
    let rest = text.strip_prefix("log = ").map_or(text.as_str(), |t| t.split_once('\n').unwrap().1);
    let text = format!("log = {filter:?}\n{rest}");
    std::fs::write(&archiver.config, text).unwrap();
}

fn started_at_warn(archiver: &Archiver) -> Daemon {
    answering(archiver, Daemon::spawn(archiver, "warn"))
}
