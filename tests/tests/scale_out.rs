//! Scale-out on MongoDB as it is deployed: archivers on hosts whose clocks
//! differ, one killed on another host, a network path that goes silent,
//! all on one lake of the test server. Skipped loudly without a server,
//! `faketime` or `unshare` (failing under CI).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cybexp_store_mongo::mongodb::bson::oid::ObjectId;
use cybexp_store_mongo::mongodb::bson::{Bson, Document, doc};
use cybexp_tests::mongo::TestDbs;
use cybexp_tests::proxy::Proxy;
use cybexp_tests::{Archiver, Backend, Daemon, assert_all_processed_once, cowrie_entries, wait_for, wrap};
use serde_json::Value;

/// The entries collection, through the tests' own client.
fn entries(dbs: &TestDbs) -> cybexp_store_mongo::mongodb::sync::Collection<Document> {
    dbs.cache().collection("file_entries")
}

/// Every entry processed once and no claim left behind.
fn assert_done_once(archiver: &Archiver, n: usize) {
    assert_all_processed_once(archiver, n);
    let claims = entries(archiver.mongo.as_ref().unwrap());
    let left = claims.count_documents(doc! { "_claim": { "$exists": true } }).run().unwrap();
    assert_eq!(left, 0, "claims left behind");
}

/// Runs `once` in each of `commands` at the same time; returns each one's
/// number of successes, having checked none failed.
fn once_in_parallel(archiver: &Archiver, wrappers: &[Vec<String>]) -> Vec<u64> {
    let children: Vec<Child> = wrappers
        .iter()
        .map(|wrapper| {
            archiver
                .command_wrapped(wrapper)
                .args(["once", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "an archiver failed: {}", String::from_utf8_lossy(&out.stderr));
            let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!((summary["error"].as_u64(), summary["retried"].as_u64()), (Some(0), Some(0)), "{summary}");
            summary["success"].as_u64().unwrap()
        })
        .collect()
}

/// Two archivers on one lake, one with its clock `offset` away. With
/// leases judged by each archiver's own clock, each would see the other's
/// claims as long expired and work the same entries again.
fn clocks_apart(test: &str, offset: &str) {
    const ENTRIES: usize = 600;
    let Some(archiver) = Archiver::on(Backend::Mongo, test) else { return };
    let Some(skewed) = wrap::skewed_clock(test, offset) else { return };
    archiver.submit_many(&cowrie_entries(&archiver, ENTRIES));
    let successes = once_in_parallel(&archiver, &[Vec::new(), skewed]);
    println!("{offset}: successes {successes:?}");
    assert!(successes.iter().all(|&n| n > 0), "both archivers worked, or the test proved nothing: {successes:?}");
    assert_eq!(successes.iter().sum::<u64>(), ENTRIES as u64, "each entry processed exactly once: {successes:?}");
    assert_done_once(&archiver, ENTRIES);
}

#[test]
fn two_archivers_with_one_clock_ten_minutes_ahead_process_each_entry_once() {
    clocks_apart("two_archivers_with_one_clock_ten_minutes_ahead_process_each_entry_once", "+600s");
}

#[test]
fn two_archivers_with_one_clock_ten_minutes_behind_process_each_entry_once() {
    clocks_apart("two_archivers_with_one_clock_ten_minutes_behind_process_each_entry_once", "-600s");
}

/// The server's clock, in milliseconds since the epoch.
fn server_now_ms(dbs: &TestDbs) -> i64 {
    let hello = dbs.cache().run_command(doc! { "hello": 1 }).run().unwrap();
    hello.get_datetime("localTime").expect("hello has the server's localTime").timestamp_millis()
}

/// An archiver on another host, its clock ten minutes slow, is killed while
/// it holds claims. Another archiver may not take them while their lease
/// holds by the server's clock (with the dead one's clock it would take them
/// at once: its leases ended ten minutes ago), and takes them once it ends.
#[test]
fn a_killed_archiver_s_claims_come_back_when_the_lease_ends_by_the_server_s_clock() {
    const ENTRIES: usize = 300;
    const LEASE_SECS: u64 = 5;
    let test = "a_killed_archiver_s_claims_come_back_when_the_lease_ends_by_the_server_s_clock";
    let extra = format!("[pipeline]\nlease_secs = {LEASE_SECS}\n");
    let Some(archiver) = Archiver::on_with(Backend::Mongo, test, "") else { return };
    let config = std::fs::read_to_string(&archiver.config).unwrap();
    // One worker, small claims: it holds a few entries at a time.
    let config =
        config.replace("[pipeline]\nworkers = 2\nbatch_size = 64\n", &format!("{extra}workers = 1\nbatch_size = 8\n"));
    std::fs::write(&archiver.config, config).unwrap();
    let (Some(elsewhere), Some(slow)) = (wrap::other_host(test, "elsewhere"), wrap::skewed_clock(test, "-600s")) else {
        return;
    };
    let dbs = archiver.mongo.as_ref().unwrap();
    archiver.submit_many(&cowrie_entries(&archiver, ENTRIES));

    let mut doomed = Daemon::spawn_wrapped(&archiver, &[elsewhere, slow].concat(), "warn");
    let held = doc! { "processed": false, "_claim.owner": { "$regex": "^elsewhere:" } };
    wait_for("the doomed archiver to hold claims and finish some", Duration::from_secs(60), |seen| {
        let claimed = entries(dbs).count_documents(held.clone()).run().unwrap();
        let done = entries(dbs).count_documents(doc! { "processed": true }).run().unwrap();
        *seen = format!("claimed {claimed}, done {done}\n{}", doomed.log());
        (claimed > 0 && done > 0).then_some(())
    });
    doomed.kill();
    // A write it sent just before it died may still land: let it, before
    // taking stock of what it left.
    std::thread::sleep(Duration::from_secs(1));
    let orphans: Vec<(ObjectId, i64)> = entries(dbs)
        .find(held.clone())
        .run()
        .unwrap()
        .map(|d| {
            let d = d.unwrap();
            (d.get_object_id("_id").unwrap(), d.get_document("_claim").unwrap().get_i64("until").unwrap())
        })
        .collect();
    assert!(!orphans.is_empty());
    let lease_ends = orphans.iter().map(|(_, until)| *until).min().unwrap();
    let left = lease_ends - server_now_ms(dbs);
    assert!(
        left > 0 && left <= (LEASE_SECS * 1000) as i64,
        "the leases end {left} ms from now by the server's clock, not within the {LEASE_SECS} s lease: set by a \
         clock other than the server's"
    );
    let orphan_ids: Vec<ObjectId> = orphans.iter().map(|(id, _)| *id).collect();
    println!(
        "{} orphaned claims; their lease ends {} ms from now by the server",
        orphans.len(),
        lease_ends - server_now_ms(dbs)
    );

    let survivor = Daemon::spawn(&archiver, "warn");
    // While the server says the lease holds, none of them may be taken.
    let mut looked_while_held = 0;
    loop {
        let now = server_now_ms(dbs);
        let taken = entries(dbs)
            .count_documents(doc! {
                "_id": { "$in": &orphan_ids },
                "$or": [ { "processed": true }, { "_claim.owner": { "$not": { "$regex": "^elsewhere:" } } } ],
            })
            .run()
            .unwrap();
        if now >= lease_ends {
            break;
        }
        looked_while_held += 1;
        if taken > 0 {
            let seen: Vec<Document> =
                entries(dbs).find(doc! { "_id": { "$in": &orphan_ids } }).run().unwrap().map(Result::unwrap).collect();
            panic!("an entry was taken {} ms before its lease ended by the server's clock: {seen:?}", lease_ends - now);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(looked_while_held > 3, "the lease ended before the survivor could be watched: the test proved nothing");
    // Once it ends, the survivor takes them (it sleeps until then, not for its backoff).
    let taken_by = Instant::now();
    wait_for("every entry processed", Duration::from_secs(60), |seen| {
        let left = entries(dbs).count_documents(doc! { "processed": false }).run().unwrap();
        *seen = format!("{left} left");
        (left == 0).then_some(())
    });
    println!("the backlog was done {:?} after the orphans' lease ended", taken_by.elapsed());
    let log = survivor.stop("-TERM");
    assert!(!log.contains("ERROR"), "{log}");
    assert_done_once(&archiver, ENTRIES);
}

/// The path to the lake goes silent mid-run (a proxy that stops forwarding,
/// as a dropped network does): every operation gives up within the
/// timeout, the work is released for a retry instead of hanging, and all
/// of it is done once the path is back, nothing lost and nothing twice.
#[test]
fn a_silent_network_releases_the_work_and_it_finishes_when_the_path_is_back() {
    const ENTRIES: usize = 500;
    let test = "a_silent_network_releases_the_work_and_it_finishes_when_the_path_is_back";
    let Some(server) = cybexp_tests::mongo::server_uri(test) else { return };
    let proxy = Proxy::start(server_addr(&server));
    // The test's own client goes straight to the server; the archiver goes
    // through the proxy, as one server: the driver must not learn the
    // member's own address and go around it.
    let archiver = Archiver::on_mongo_uri(&server, "");
    let through_proxy =
        format!("mongodb://127.0.0.1:{}/?directConnection=true&serverSelectionTimeoutMS=3000", proxy.port());
    let config: String = std::fs::read_to_string(&archiver.config)
        .unwrap()
        .lines()
        .map(|line| {
            if line.starts_with("uri = ") {
                format!("uri = {through_proxy:?}\ntimeout_secs = 2")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("[pipeline]\n", "[pipeline]\nlease_secs = 30\n");
    std::fs::write(&archiver.config, config).unwrap();
    let dbs = archiver.mongo.as_ref().unwrap();
    archiver.submit_many(&cowrie_entries(&archiver, ENTRIES));

    let daemon = Daemon::spawn(&archiver, "warn");
    let done = || entries(dbs).count_documents(doc! { "processed": true }).run().unwrap();
    wait_for("the first entries archived", Duration::from_secs(60), |seen| {
        *seen = daemon.log();
        (done() >= 50).then_some(())
    });
    proxy.stall();
    let stalled_at = done();
    std::thread::sleep(Duration::from_secs(8));
    assert!(done() < ENTRIES as u64, "the work was over before the stall: the test proved nothing");
    let log = daemon.log();
    assert!(log.contains("within 2s (the operation timeout)"), "no operation timed out in 8 s of silence:\n{log}");
    proxy.resume();
    wait_for("every entry processed after the path came back", Duration::from_secs(120), |seen| {
        let n = done();
        *seen = format!("{n} done\n{}", daemon.log());
        (n == ENTRIES as u64).then_some(())
    });
    println!("stalled with {stalled_at} of {ENTRIES} done");
    daemon.stop("-TERM");
    assert_done_once(&archiver, ENTRIES);
}

/// `host:port` of the first host in a `mongodb://` URI.
fn server_addr(uri: &str) -> std::net::SocketAddr {
    let rest = uri.trim_start_matches("mongodb://");
    let hostport = rest.split(['/', '?', ',']).next().unwrap();
    let hostport = hostport.rsplit('@').next().unwrap();
    std::net::ToSocketAddrs::to_socket_addrs(hostport).unwrap().next().unwrap()
}

/// The claim index keeps a claim's cost from growing with the skipped
/// entries ahead of the work: the same keys and documents are examined
/// with none and with many skipped (on the server's own `explain`).
#[test]
fn a_claim_examines_as_much_with_thousands_of_skipped_entries_ahead_as_with_none() {
    let test = "a_claim_examines_as_much_with_thousands_of_skipped_entries_ahead_as_with_none";
    let Some(dbs) = TestDbs::for_test(test) else { return };
    let (lake, _) = dbs.open(Duration::from_secs(60));
    let add = |skipped: usize, waiting: usize, from: f64| {
        let docs: Vec<Document> = (0..skipped + waiting)
            .map(|i| {
                let mut entry =
                    doc! { "_id": ObjectId::new(), "processed": false, "timestamp": from + i as f64, "typetag": "t" };
                if i < skipped {
                    entry.insert("skip", true);
                    entry.insert("state", "not_supported");
                }
                entry
            })
            .collect();
        entries(&dbs).insert_many(docs).run().unwrap();
    };
    use cybexp_lake::CacheLake;
    // A first claim creates the claim index.
    lake.claim_batch("w", &cybexp_lake::BatchQuery { limit: 1, ..Default::default() }).unwrap();
    add(0, 300, 1_000_000.0);
    let without = explain_claim(&dbs, 256);
    add(5_000, 0, 0.0);
    let with = explain_claim(&dbs, 256);
    println!("keys, documents examined: none skipped {without:?}, 5,000 skipped ahead {with:?}");
    assert_eq!(without, with, "the skipped entries cost the claim nothing");
    assert!(without.0 <= 300 && without.1 <= 300, "a claim reads the waiting entries only: {without:?}");
}

/// Keys and documents examined by the claim's candidate query (the
/// aggregation `claim_batch` runs) for `limit` entries.
fn explain_claim(dbs: &TestDbs, limit: i64) -> (i64, i64) {
    let pipeline = vec![
        doc! { "$match": { "processed": false, "skip": { "$in": [Bson::Null, false] } } },
        doc! { "$sort": { "timestamp": 1, "_id": 1 } },
        doc! { "$match": { "_id": { "$type": "objectId" }, "$expr": { "$not": [ { "$gt": ["$_claim.until", { "$toLong": "$$NOW" }] } ] } } },
        doc! { "$limit": limit },
    ];
    let explained = dbs
        .cache()
        .run_command(doc! {
            "explain": { "aggregate": "file_entries", "pipeline": pipeline, "cursor": {} },
            "verbosity": "executionStats",
        })
        .run()
        .unwrap();
    let stats = find_key(&Bson::Document(explained.clone()), "executionStats")
        .unwrap_or_else(|| panic!("no executionStats in {explained}"));
    let number = |key: &str| match stats.as_document().and_then(|d| d.get(key)) {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        other => panic!("{key}: {other:?} in {stats}"),
    };
    (number("totalKeysExamined"), number("totalDocsExamined"))
}

/// The first value of `key` anywhere in a document tree.
fn find_key(value: &Bson, key: &str) -> Option<Bson> {
    match value {
        Bson::Document(doc) => doc.get(key).cloned().or_else(|| doc.values().find_map(|v| find_key(v, key))),
        Bson::Array(items) => items.iter().find_map(|v| find_key(v, key)),
        _ => None,
    }
}
