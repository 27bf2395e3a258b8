//! End to end on MongoDB only: several archivers on one lake, a server
//! that goes away and comes back, and the real producer (the CYBEX-P API's
//! Python recipe) on the other side. Skipped loudly without a server
//! (failing under CI).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cybexp_lake::{ArchiveStore, LakeAdmin};
use cybexp_tests::mongo::{self, PrivateServer, TestDbs};
use cybexp_tests::{Archiver, Backend, Daemon, cowrie_entries, shared_dir, vector_cases};
use serde_json::Value;

/// Every entry processed once, one document each, and no claim left behind.
fn assert_all_processed_once(archiver: &Archiver, n: usize) {
    cybexp_tests::assert_all_processed_once(archiver, n);
    let claims = archiver
        .mongo
        .as_ref()
        .unwrap()
        .cache()
        .collection::<cybexp_store_mongo::mongodb::bson::Document>("file_entries");
    let left = claims
        .count_documents(cybexp_store_mongo::mongodb::bson::doc! { "_claim": { "$exists": true } })
        .run()
        .unwrap();
    assert_eq!(left, 0, "claims left behind");
}

#[test]
fn three_archivers_on_one_lake_process_each_entry_once() {
    const ENTRIES: usize = 3_000;
    let Some(archiver) = Archiver::on(Backend::Mongo, "three_archivers_on_one_lake_process_each_entry_once") else {
        return;
    };
    let dbs = archiver.mongo.as_ref().unwrap();
    dbs.bulk_submit(&cowrie_entries(&archiver, ENTRIES));

    let started = Instant::now();
    let children: Vec<Child> = (0..3)
        .map(|_| {
            archiver.command().args(["once", "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let mut successes = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "archiver failed: {}", String::from_utf8_lossy(&out.stderr));
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["error"], 0, "{summary}");
        successes.push(summary["success"].as_u64().unwrap());
    }
    println!("3 archivers, {ENTRIES} entries in {:?}: {successes:?} each", started.elapsed());
    // An entry worked twice would count twice.
    assert_eq!(successes.iter().sum::<u64>(), ENTRIES as u64, "each entry processed exactly once: {successes:?}");
    assert!(successes.iter().filter(|&&n| n > 0).count() >= 2, "the work was shared: {successes:?}");
    assert_all_processed_once(&archiver, ENTRIES);
}

/// The kit's `wait_for`, with what to show when it never comes taken only
/// then (it reads the server's and the daemon's logs).
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool, diagnose: impl Fn() -> String) {
    let deadline = Instant::now() + limit;
    cybexp_tests::wait_for(what, limit, |seen| {
        if done() {
            return Some(());
        }
        if Instant::now() + Duration::from_millis(200) >= deadline {
            *seen = diagnose();
        }
        None
    });
}

/// The last `lines` lines of a text, for failure messages.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waiting entries, or `None` while the server is away.
fn waiting(lake: &dyn LakeAdmin) -> Option<u64> {
    lake.queue_depth().ok().map(|q| q.waiting)
}

#[test]
fn server_down_at_start_and_mid_run_loses_nothing() {
    const ENTRIES: usize = 1_500;
    let test = "server_down_at_start_and_mid_run_loses_nothing";
    let Some(mut server) = PrivateServer::start(test) else { return };
    // Short server selection so the store notices quickly; a 2 s lease so a
    // claim stranded by the outage would come back within the test anyway.
    let uri = format!("{}?serverSelectionTimeoutMS=2000&heartbeatFrequencyMS=500", server.uri());
    let archiver = Archiver::on_mongo_uri(&uri, "");
    let config = std::fs::read_to_string(&archiver.config).unwrap();
    std::fs::write(&archiver.config, config.replace("[pipeline]\n", "[pipeline]\nlease_secs = 2\n")).unwrap();
    let dbs = archiver.mongo.as_ref().unwrap();
    dbs.bulk_submit(&cowrie_entries(&archiver, ENTRIES));
    let lake = archiver.lake();

    // 1. Down at start: the daemon starts anyway and waits.
    server.stop();
    let mut daemon = Daemon::spawn(&archiver, "warn");
    std::thread::sleep(Duration::from_secs(3));
    assert!(daemon.is_running(), "the daemon gave up while the server was down");
    // What the test sees, and what the daemon and the server said, in case
    // of a timeout (the temp dir with the logs is gone afterwards).
    let diagnose = |server: &PrivateServer, daemon: &Daemon| {
        format!(
            "test's lake: {:?}\na fresh lake: {:?}\n--- daemon log (tail) ---\n{}\n--- server log (tail) ---\n{}",
            lake.queue_depth(),
            archiver.lake().queue_depth(),
            tail(&daemon.log(), 60),
            tail(&server.log(), 30),
        )
    };
    server.restart();
    // The reference backoff doubles per failed poll (2, 4, 8, ... 64 s), and a
    // restart of the test server under load can take a while: allow for it.
    wait_for(
        "the first entries after the server came up",
        Duration::from_secs(180),
        || waiting(&*lake).is_some_and(|w| w < ENTRIES as u64),
        || diagnose(&server, &daemon),
    );

    // 2. Down mid-run.
    server.stop();
    std::thread::sleep(Duration::from_secs(3));
    assert!(daemon.is_running(), "the daemon died in the outage");
    server.restart();
    let left = waiting(&*lake).unwrap();
    println!("server restarted with {left} of {ENTRIES} entries waiting");
    assert!(left > 0, "the outage came after the work was done; the test proved nothing");
    wait_for(
        "every entry processed",
        Duration::from_secs(180),
        || waiting(&*lake) == Some(0),
        || diagnose(&server, &daemon),
    );

    // Still alive, and stops cleanly.
    assert!(daemon.is_running(), "the daemon exited");
    let stderr = daemon.stop("-TERM");
    assert!(stderr.contains("unavailable") || stderr.contains("unreachable"), "no outage was seen:\n{stderr}");
    assert_all_processed_once(&archiver, ENTRIES);
    let summary = archiver.dump("cache");
    assert!(summary.iter().all(|e| e["state"].is_null()), "nothing marked wrongly");
    drop(server);
}

/// The maintenance procedure for a replica set member: restart it as a
/// standalone, then back as a member. The driver drops a member that
/// answers as a standalone from its view of the set and, with no other
/// member to name it again, would never find it: the stores must start a
/// fresh client and carry on, both times, well before the periodic one
/// (`RECONNECT_AFTER`) would.
#[test]
fn a_member_restarted_as_a_standalone_and_back_is_found_again() {
    let test = "a_member_restarted_as_a_standalone_and_back_is_found_again";
    let Some(mut server) = PrivateServer::start(test) else { return };
    let uri = format!("{}?serverSelectionTimeoutMS=2000&heartbeatFrequencyMS=500", server.uri());
    let dbs = TestDbs::new(&uri);
    let (lake, archive) = dbs.open(Duration::from_secs(300));
    lake.submit(&cybexp_tests::new_entry("unr-honeypot", "maintenance"), b"blob").unwrap();
    assert_eq!(waiting(&lake), Some(1), "the lake works while the server is a replica set member");
    let limit = cybexp_store_mongo::RECONNECT_AFTER / 2;

    server.stop();
    server.restart_standalone();
    wait_for("the lake on the standalone", limit, || waiting(&lake) == Some(1), || format!("{:?}", lake.queue_depth()));
    assert_eq!(archive.count().unwrap(), 0, "the archive shares the lake's connection");

    server.stop();
    server.restart();
    wait_for(
        "the lake on the member again",
        limit,
        || waiting(&lake) == Some(1),
        || format!("{:?}", lake.queue_depth()),
    );
    assert_eq!(archive.count().unwrap(), 0);
    drop(server);
}

/// The CYBEX-P API's own recipe (Python, pymongo, gridfs, pycryptodome)
/// writes the entries; the archiver processes them; pymongo reads back what
/// analytics would read.
#[test]
fn entries_written_by_the_python_api_end_as_the_reference_stores_them() {
    let test = "entries_written_by_the_python_api_end_as_the_reference_stores_them";
    let Some(archiver) = Archiver::on(Backend::Mongo, test) else { return };
    let Some(python) = mongo::python(test) else { return };
    let dbs: &TestDbs = archiver.mongo.as_ref().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/cybexp_api.py");
    let vectors = shared_dir().join("vectors/raw_documents.json");
    let public = shared_dir().join("vectors/envelope_rsa2048/pub.pem");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(&python).arg(&script).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) =
        run(&["submit".as_ref(), dbs.uri.as_ref(), dbs.cache_db.as_ref(), public.as_os_str(), vectors.as_os_str()]);
    assert!(ok, "the Python API failed:\n{text}");
    let cases = vector_cases("vectors/raw_documents.json").len();
    assert_eq!(text.trim(), cases.to_string());

    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!(summary["success"], cases as u64, "{summary}");

    let (ok, text) =
        run(&["check".as_ref(), dbs.uri.as_ref(), dbs.cache_db.as_ref(), dbs.archive_db.as_ref(), vectors.as_os_str()]);
    println!("{text}");
    assert!(ok, "what the archiver stored is not what the reference stores:\n{text}");
}

/// A deployment's own CYBEX-P `config.json` is enough to run the archiver
/// (the key in `<data-dir>/keys/`, as `keygen` puts it).
#[test]
fn a_cybexp_config_json_points_the_archiver_at_the_deployment() {
    let test = "a_cybexp_config_json_points_the_archiver_at_the_deployment";
    let Some(archiver) = Archiver::on(Backend::Mongo, test) else { return };
    let dbs = archiver.mongo.as_ref().unwrap();
    archiver.submit_many(&cowrie_entries(&archiver, 5));
    let json = serde_json::json!({
        "api": {"url": "http://cici-api:5001/"},
        "cache": {"mongo_url": dbs.uri, "db": dbs.cache_db, "coll": "file_entries"},
        "tahoe": {"mongo_url": dbs.uri, "db": dbs.archive_db, "coll": "instance"},
    });
    let config = archiver.dir.path().join("config.json");
    std::fs::write(&config, json.to_string()).unwrap();
    let data_dir = archiver.dir.path().join("deployment");
    std::fs::create_dir_all(data_dir.join("keys")).unwrap();
    let key = data_dir.join("keys/priv.pem");
    std::fs::copy(archiver.dir.path().join("priv.pem"), &key).unwrap();
    cybexp_tests::set_mode(&key, 0o600);

    let out = std::process::Command::new(cybexp_tests::archiver_bin())
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["once", "--json"])
        .env("CYBEXP_LOG", "warn")
        .env_remove("CYBEXP_ARCHIVE_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["success"], 5, "{summary}");
    assert_eq!(archiver.archive().count().unwrap(), 5);
}
