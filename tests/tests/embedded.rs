//! End to end on both stores: the real binary, real parser components
//! under wasmtime, and a real SQLite file or a real MongoDB server. Every
//! test body runs once per backend (`sqlite::*` and `mongodb::*`); the
//! MongoDB ones are skipped loudly without a server (and fail under CI).

use std::collections::BTreeMap;

use base64::Engine as _;
use cybexp_lake::NewEntry;
use cybexp_tests::{Archiver, Backend, new_entry, vector_cases};
use serde_json::Value;

cybexp_tests::on_both_backends!(
    vectors_and_samples_end_as_the_reference_stores_them,
    unsupported_typtag_is_skipped_until_forced_with_a_parser,
    hostile_and_broken_entries_end_as_classified_errors,
    missing_blob_is_bad_data,
    truncated_blob_is_bad_data,
    oversized_blob_is_bad_data_before_it_is_read,
    replay_changes_nothing_and_reproduces_the_recorded_outcome,
    requeue_queues_exactly_the_chosen_skipped_entries,
    dump_cache_filters_by_state,
    skipped_summarises_by_cause_and_typtag,
);

fn by_name(entries: &[Value]) -> BTreeMap<String, Value> {
    entries.iter().map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone())).collect()
}

fn vectors_and_samples_end_as_the_reference_stores_them(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let plain_dir = archiver.dir.path().join("plain");
    std::fs::create_dir(&plain_dir).unwrap();

    // raw_documents.json: the plaintexts, submitted through the binary.
    let cases = vector_cases("vectors/raw_documents.json");
    let mut expected = BTreeMap::new();
    for (i, case) in cases.iter().enumerate() {
        let file = plain_dir.join(format!("vector-{i}.txt"));
        std::fs::write(&file, case["plaintext"].as_str().unwrap()).unwrap();
        archiver.ok(&[
            "submit",
            "--typtag",
            case["typtag"].as_str().unwrap(),
            "--orgid",
            case["orgid"].as_str().unwrap(),
            "--timezone",
            case["timezone"].as_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        expected.insert(case["expect"]["_hash"].as_str().unwrap().to_owned(), case["expect"].clone());
    }

    // envelope cases: the API's own blobs, submitted byte for byte.
    let store = archiver.lake();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut envelope_expect = BTreeMap::new();
    for case in vector_cases("vectors/envelope_rsa2048/cases.json") {
        let name = format!("envelope-{}", case["name"].as_str().unwrap());
        let blob = b64.decode(case["blob_b64"].as_str().unwrap()).unwrap();
        store.submit(&new_entry("generic-json", &name), &blob).unwrap();
        envelope_expect.insert(name, case);
    }

    let summary = archiver.ok(&["once", "--json"]);
    let summary: Value = serde_json::from_str(summary.trim()).unwrap();
    let ok_envelopes = envelope_expect.values().filter(|c| c["expect"] == "ok").count() as u64;
    assert_eq!(summary["success"], cases.len() as u64 + ok_envelopes, "{summary}");
    assert_eq!(summary["error"], (envelope_expect.len() as u64) - ok_envelopes, "{summary}");

    // Every vector document stored exactly as the reference stores it.
    let stored: BTreeMap<String, Value> =
        archiver.dump("archive").into_iter().map(|d| (d["_hash"].as_str().unwrap().to_owned(), d)).collect();
    for (hash, expect) in &expected {
        let doc = stored.get(hash).unwrap_or_else(|| panic!("document {hash} not stored"));
        for field in ["itype", "sub_type", "orgid", "timezone", "_hash"] {
            assert_eq!(doc[field], expect[field], "{field} of {hash}");
        }
        assert_eq!(
            serde_json::to_string(&doc["data"]).unwrap(),
            serde_json::to_string(&expect["data"]).unwrap(),
            "data of {hash} (values and key order)"
        );
    }

    // Entries: vectors processed with their hash in _ref; bad blobs classed.
    let entries = by_name(&archiver.dump("cache"));
    for (i, case) in cases.iter().enumerate() {
        let entry = &entries[&format!("vector-{i}.txt")];
        assert_eq!(entry["processed"], true);
        assert_eq!(entry["refs"], serde_json::json!([case["expect"]["_hash"]]));
    }
    for (name, case) in &envelope_expect {
        let entry = &entries[name];
        if case["expect"] == "ok" {
            assert_eq!(entry["processed"], true, "{name}");
            let hash = entry["refs"][0].as_str().unwrap();
            let doc = &stored[hash];
            let plaintext = String::from_utf8(b64.decode(case["plaintext_b64"].as_str().unwrap()).unwrap()).unwrap();
            let data_expected: Value =
                serde_json::from_str(&plaintext).unwrap_or(serde_json::json!({ "data": plaintext }));
            assert_eq!(doc["data"], data_expected, "{name}");
        } else {
            let class = case["error_class"].as_str().unwrap();
            assert_eq!(entry["processed"], false, "{name}");
            assert_eq!(entry["skip"], true, "{name}");
            assert_eq!(entry["state"], "decrypt_failed", "{name}");
            assert!(entry["error"].as_str().unwrap().starts_with(class), "{name}: {}", entry["error"]);
        }
    }
}

fn unsupported_typtag_is_skipped_until_forced_with_a_parser(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let store = archiver.lake();
    let blob = cybexp_keys::legacy::encrypt(&archiver.public_key(), br#"{"event": 1}"#).unwrap();
    let id = store.submit(&new_entry("misp-event", "misp"), &blob).unwrap();

    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!(summary["not_supported"], 1);
    let entry = &archiver.dump("cache")[0];
    assert_eq!((entry["skip"].clone(), entry["state"].clone()), (Value::Bool(true), "not_supported".into()));

    // A second pass leaves it alone.
    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!(summary["not_supported"], 0);

    // Deploy a parser for the typtag, then --force reprocesses it.
    archiver.append_config("[typtags.misp-event]\nparser = \"json\"\nsub_type = \"misp\"\n");
    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!(summary["success"], 0, "skipped entries wait for --force");
    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--force", "--json"]).trim()).unwrap();
    assert_eq!(summary["success"], 1, "{summary}");
    let entry = &archiver.dump("cache")[0];
    assert_eq!(entry["id"], Value::String(id.0.clone()));
    assert_eq!(entry["processed"], true);
    assert_eq!(entry["skip"], false);
    assert_eq!(archiver.dump("archive")[0]["sub_type"], "misp");
}

fn hostile_and_broken_entries_end_as_classified_errors(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let store = archiver.lake();
    let key = archiver.public_key();
    let seal = |text: &[u8]| cybexp_keys::legacy::encrypt(&key, text).unwrap();
    let bomb = format!("{}1{}", "{\"a\": ".repeat(30), "}".repeat(30));
    let brackets = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("hostile-loop", "loop", seal(b"x"), "parser.fuel"),
        ("hostile-alloc", "alloc", seal(b"x"), "parser.memory"),
        ("hostile-panic", "panic", seal(b"x"), "parser.trap"),
        ("hostile-output", "output", seal(b"xxxxxxxx"), "parser.output_too_large"),
        ("generic-json", "nesting bomb", seal(bomb.as_bytes()), "parser.invalid_input"),
        ("generic-json", "10k brackets", seal(brackets.as_bytes()), "parser.invalid_input"),
        ("unr-honeypot", "not cowrie", seal(b"{\"hello\": 1}"), "parser.invalid_input"),
        ("openphish_feed", "not urls", seal(b"this is not\na url list"), "parser.invalid_input"),
        ("generic-json", "not utf8", seal(b"\xff\xfe{}"), "decrypt.utf8"),
        ("generic-json", "garbage blob", b"short".to_vec(), "decrypt.format"),
        ("generic-json", "good", seal(b"{\"fine\": true}"), ""),
    ];
    for (typtag, name, blob, _) in &cases {
        store.submit(&new_entry(typtag, name), blob).unwrap();
    }
    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!(summary["success"], 1, "{summary}");
    assert_eq!(summary["error"], cases.len() as u64 - 1, "{summary}");
    let entries = by_name(&archiver.dump("cache"));
    for (_, name, _, cause) in &cases {
        let entry = &entries[*name];
        if cause.is_empty() {
            assert_eq!(entry["processed"], true);
            continue;
        }
        assert_eq!(entry["skip"], true, "{name}");
        assert_eq!(entry["cause"], *cause, "{name}: {entry}");
        let state = if cause.starts_with("parser.") { "parse_failed" } else { "decrypt_failed" };
        assert_eq!(entry["state"], state, "{name}");
        assert!(!entry["error"].as_str().unwrap().is_empty(), "{name} has an error text");
    }
}

fn missing_blob_is_bad_data(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let store = archiver.lake();
    let blob = cybexp_keys::legacy::encrypt(&archiver.public_key(), b"{}").unwrap();
    let id = store.submit(&new_entry("generic-json", "orphan"), &blob).unwrap();
    drop(store);
    archiver.delete_blobs();
    archiver.ok(&["once"]);
    let entry = &archiver.dump("cache")[0];
    assert_eq!(entry["id"], Value::String(id.0));
    assert_eq!(entry["skip"], true);
    assert_eq!(entry["state"], "bad_data");
    assert_eq!(entry["cause"], "blob.missing");
    assert!(entry["error"].as_str().unwrap().starts_with("blob missing"), "{entry}");
}

fn truncated_blob_is_bad_data(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let store = archiver.lake();
    let blob = cybexp_keys::legacy::encrypt(&archiver.public_key(), b"{}").unwrap();
    let id = store.submit(&new_entry("generic-json", "cut short"), &blob).unwrap();
    drop(store);
    archiver.truncate_blobs();
    archiver.ok(&["once"]);
    let entry = &archiver.dump("cache")[0];
    assert_eq!(entry["id"], Value::String(id.0));
    assert_eq!(entry["state"], "bad_data");
    assert_eq!(entry["cause"], "blob.corrupt");
    assert!(entry["error"].as_str().unwrap().starts_with("blob corrupt"), "{entry}");
    assert!(archiver.dump("archive").is_empty());
}

/// A blob longer than its parser's `max_input_bytes` plus the envelope is
/// refused from its recorded length (never downloaded or decrypted); a
/// smaller one in the same batch and one for another parser still pass.
fn oversized_blob_is_bad_data_before_it_is_read(backend: Backend, test: &str) {
    let extra = "[parsers.json.limits]\nmax_input_bytes = 1000\n";
    let Some(archiver) = Archiver::on_with(backend, test, extra) else { return };
    let store = archiver.lake();
    let key = archiver.public_key();
    // 1000 bytes of plaintext is the limit: a blob of exactly the limit
    // plus the envelope allowance (64 KiB) would still be read.
    let big = format!("[\"{}\"]", "x".repeat(70_000));
    let small = format!("[\"{}\"]", "x".repeat(900));
    store
        .submit(&new_entry("generic-json", "big"), &cybexp_keys::legacy::encrypt(&key, big.as_bytes()).unwrap())
        .unwrap();
    store
        .submit(&new_entry("generic-json", "small"), &cybexp_keys::legacy::encrypt(&key, small.as_bytes()).unwrap())
        .unwrap();
    let urls: String = (0..3_000).map(|i| format!("http://host{i}.example/phish\n")).collect();
    assert!(urls.len() > 70_000);
    store
        .submit(&new_entry("openphish_feed", "urls"), &cybexp_keys::legacy::encrypt(&key, urls.as_bytes()).unwrap())
        .unwrap();
    drop(store);
    archiver.ok(&["once"]);
    let entries = by_name(&archiver.dump("cache"));
    let big = &entries["big"];
    assert_eq!(big["skip"], true, "{big}");
    assert_eq!(big["state"], "bad_data", "{big}");
    assert_eq!(big["cause"], "blob.too_large", "{big}");
    assert!(big["error"].as_str().unwrap().contains("exceeds the 66536-byte limit"), "{big}");
    assert_eq!(entries["small"]["processed"], true, "{}", entries["small"]);
    // url-list keeps its own (default) limit: the same size passes there.
    assert_eq!(entries["urls"]["processed"], true, "{}", entries["urls"]);
}

/// `replay` reads the entry and its blob, decrypts and parses as the
/// archiver would, and writes nothing: both stores are the same before and
/// after. It reproduces the recorded cause (or hash), tries another parser
/// or a component file, and prints the plaintext only when asked.
fn replay_changes_nothing_and_reproduces_the_recorded_outcome(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let store = archiver.lake();
    let key = archiver.public_key();
    let seal = |text: &[u8]| cybexp_keys::legacy::encrypt(&key, text).unwrap();
    store.submit(&new_entry("unr-honeypot", "not cowrie"), &seal(b"{\"hello\": 1}")).unwrap();
    store.submit(&new_entry("generic-json", "good"), &seal(b"{\"fine\": true}")).unwrap();
    // A Cowrie log copied while it was being written: stored, its torn last
    // line counted.
    let torn =
        b"{\"eventid\": \"cowrie.session.connect\"}\n{\"eventid\": \"cowrie.session.closed\"}\n{\"eventid\": \"cowr";
    store.submit(&new_entry("unr-honeypot", "torn log"), &seal(torn)).unwrap();
    drop(store);
    archiver.ok(&["once"]);
    let before = (archiver.dump("cache"), archiver.dump("archive"));
    let entries = by_name(&before.0);
    let (bad, good) = (&entries["not cowrie"], &entries["good"]);
    assert_eq!(bad["cause"], "parser.invalid_input");

    let replay = |id: &Value, extra: &[&str]| -> (Option<i32>, Value) {
        let mut args = vec!["replay", id.as_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let out = archiver.run(&args);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let report = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report)
    };
    let (code, report) = replay(&bad["id"], &[]);
    assert_eq!(code, Some(4), "{report}");
    assert_eq!((report["outcome"].as_str(), report["cause"].as_str()), (Some("ERROR"), bad["cause"].as_str()));
    assert_eq!(report["recorded"]["cause"], bad["cause"]);
    assert_eq!(report["parser"], "cowrie");
    assert!(report["fuel"].as_u64().unwrap() > 0, "{report}");
    assert!(report.get("plaintext").is_none(), "no plaintext unless asked: {report}");

    let (code, report) = replay(&good["id"], &["--show-plaintext"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["outcome"], "SUCCESS");
    assert_eq!(report["hash"], good["refs"][0], "the hash the archive holds");
    assert_eq!(report["plaintext"], "{\"fine\": true}");

    // The fix, tried before deploying it: another parser, or a component file.
    let (code, report) = replay(&bad["id"], &["--parser", "json"]);
    assert_eq!((code, report["outcome"].as_str()), (Some(0), Some("SUCCESS")), "{report}");
    let json = cybexp_sandbox::BUILTIN_PARSERS.iter().find(|(name, _)| *name == "json").unwrap().1;
    let file = archiver.dir.path().join("fixed.wasm");
    std::fs::write(&file, json).unwrap();
    let (code, report) = replay(&bad["id"], &["--parser-file", file.to_str().unwrap()]);
    assert_eq!((code, report["outcome"].as_str()), (Some(0), Some("SUCCESS")), "{report}");
    assert_eq!(report["sub_type"], "unr_honeypot", "the entry's route keeps its sub_type");

    let torn = &entries["torn log"];
    assert_eq!(torn["processed"], true, "{torn}");
    let (code, report) = replay(&torn["id"], &[]);
    assert_eq!((code, report["outcome"].as_str()), (Some(0), Some("SUCCESS")), "{report}");
    assert_eq!((report["records"].as_u64(), report["malformed"].as_u64()), (Some(3), Some(1)), "{report}");
    let first = report["first_malformed"].as_str().unwrap_or_default();
    assert!(first.starts_with("line 3: the last line is cut off"), "{report}");
    assert_eq!(report["hash"], torn["refs"][0], "the hash the archive holds");

    let unknown = archiver.run(&["replay", "no-such-entry"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no entry \"no-such-entry\""));

    assert_eq!((archiver.dump("cache"), archiver.dump("archive")), before, "replay wrote nothing");
}

/// `requeue --cause parser.`: a dry run lists and changes nothing; the real
/// one queues the parser failure only, which the next pass takes up again.
fn requeue_queues_exactly_the_chosen_skipped_entries(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let store = archiver.lake();
    let key = archiver.public_key();
    let seal = |text: &[u8]| cybexp_keys::legacy::encrypt(&key, text).unwrap();
    store.submit(&new_entry("unr-honeypot", "not cowrie"), &seal(b"{\"hello\": 1}")).unwrap();
    store.submit(&new_entry("generic-json", "garbage"), b"short").unwrap();
    store.submit(&new_entry("nope", "unsupported"), &seal(b"1")).unwrap();
    drop(store);
    archiver.ok(&["once"]);
    let before = archiver.dump("cache");
    let dry = archiver.ok(&["requeue", "--cause", "parser.", "--dry-run"]);
    assert!(dry.starts_with("1 skipped entries match; nothing changed"), "{dry}");
    assert!(dry.contains("parser.invalid_input"), "{dry}");
    assert_eq!(archiver.dump("cache"), before, "a dry run changes nothing");
    assert!(
        archiver.ok(&["requeue", "--since", "1970-01-01T00:00:00Z", "--typtag", "nope", "--dry-run"]).starts_with("1 ")
    );

    let done = archiver.ok(&["requeue", "--cause", "parser."]);
    assert_eq!(done.trim(), "queued 1 of 1 matching skipped entries again");
    let entries = by_name(&archiver.dump("cache"));
    let requeued = &entries["not cowrie"];
    assert_eq!((requeued["skip"].as_bool(), requeued["cause"].as_str()), (Some(false), None), "{requeued}");
    assert_eq!(entries["garbage"]["cause"], "decrypt.format", "other causes stay skipped");
    assert_eq!(entries["unsupported"]["state"], "not_supported");
    // The requeue kept what it cleared, and `dump cache` shows it.
    let failed = &by_name(&before)["not cowrie"];
    let history = requeued["requeued"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{requeued}");
    assert_eq!((&history[0]["cause"], &history[0]["state"]), (&failed["cause"], &failed["state"]), "{requeued}");
    assert_eq!(history[0]["error"], failed["error"]);
    assert!(history[0]["at"].as_f64().unwrap() > 1_700_000_000.0, "{requeued}");
    let again: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!(again["error"], 1, "only the requeued entry is worked again: {again}");

    // It failed again: a second requeue adds to the history; `replay` shows it.
    archiver.ok(&["requeue", "--cause", "parser."]);
    let id = requeued["id"].as_str().unwrap();
    // Exit 4: the parse fails as it did.
    let report = String::from_utf8(archiver.run(&["replay", id, "--json"]).stdout).unwrap();
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(report["recorded"]["requeued"].as_array().map(Vec::len), Some(2), "{report}");
    let text = archiver.run(&["replay", id]);
    let text = String::from_utf8(text.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("Z, was ERROR parser.invalid_input (")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("requeued  20"), "{text}");
    assert!(archiver.run(&["requeue", "--since", "yesterday"]).status.code() == Some(2), "a bad time is a usage error");
}

/// `skipped` (text and `--json`): one row per cause and typtag with the
/// count and the oldest and newest upload times; what waits or is done is
/// not counted, and a hostile typtag is escaped in the table.
fn skipped_summarises_by_cause_and_typtag(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    assert_eq!(archiver.ok(&["skipped"]), "no skipped entries\n");
    let store = archiver.lake();
    let key = archiver.public_key();
    let seal = |text: &[u8]| cybexp_keys::legacy::encrypt(&key, text).unwrap();
    let at = |typtag: &str, name: &str, timestamp: f64| NewEntry { timestamp, ..new_entry(typtag, name) };
    store.submit(&at("generic-json", "short-1", 1_700_000_300.0), b"short").unwrap();
    store.submit(&at("generic-json", "short-2", 1_700_000_000.0), b"short").unwrap();
    store.submit(&at("generic-json", "short-3", 1_700_000_100.0), b"short").unwrap();
    store.submit(&at("unr-honeypot", "short-4", 1_700_000_200.0), b"short").unwrap();
    store.submit(&at("nope\u{1b}[31m", "unsupported", 1_700_000_050.0), &seal(b"1")).unwrap();
    store.submit(&at("generic-json", "good", 1_600_000_000.0), &seal(b"1")).unwrap();
    drop(store);
    archiver.ok(&["once"]);
    archiver.lake().submit(&at("generic-json", "waiting", 1_500_000_000.0), b"short").unwrap();

    let json: Value = serde_json::from_str(archiver.ok(&["skipped", "--json"]).trim()).unwrap();
    let row = |cause: &str, typtag: &str, count: u64, oldest: f64, newest: f64| serde_json::json!({ "cause": cause, "typtag": typtag, "count": count, "oldest": oldest, "newest": newest });
    assert_eq!(
        json,
        serde_json::json!({
            "total": 5,
            "rows": [
                row("decrypt.format", "generic-json", 3, 1_700_000_000.0, 1_700_000_300.0),
                row("decrypt.format", "unr-honeypot", 1, 1_700_000_200.0, 1_700_000_200.0),
                row("not_supported", "nope\u{1b}[31m", 1, 1_700_000_050.0, 1_700_000_050.0),
            ]
        })
    );
    let text = archiver.ok(&["skipped"]);
    assert!(!text.contains('\u{1b}'), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["CAUSE", "TYPTAG", "COUNT", "OLDEST", "NEWEST"]);
    let cells = |line: &str| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        cells(lines[1]),
        ["decrypt.format", "generic-json", "3", "2023-11-14T22:13:20Z", "2023-11-14T22:18:20Z"]
    );
    assert_eq!(cells(lines[3])[..3], ["not_supported", "nope\\u{1b}[31m", "1"]);
    assert!(lines[4].starts_with("5 skipped entries"), "{text}");
}

fn dump_cache_filters_by_state(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let store = archiver.lake();
    let key = archiver.public_key();
    store.submit(&new_entry("generic-json", "good"), &cybexp_keys::legacy::encrypt(&key, b"1").unwrap()).unwrap();
    store.submit(&new_entry("nope", "unsupported"), &cybexp_keys::legacy::encrypt(&key, b"1").unwrap()).unwrap();
    archiver.ok(&["once"]);
    let only = |state: &str| -> Vec<String> {
        archiver
            .ok(&["dump", "cache", "--state", state])
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(only("processed"), ["good"]);
    assert_eq!(only("skipped"), ["unsupported"]);
    assert_eq!(only("not_supported"), ["unsupported"]);
    assert!(only("unprocessed").is_empty());
}

/// A 15 MB feed of 140,000 small events is SUCCESS under the default
/// budgets (fuel and deadline grow with the input), next to a 60-byte
/// nesting bomb that is still ERROR. Embedded store only: MongoDB's 16 MiB
/// document limit would refuse the document (`archive.refused`).
#[test]
fn a_15_mb_feed_passes_the_default_budgets_and_a_nesting_bomb_does_not() {
    let archiver = cybexp_tests::Archiver::new();
    let key = archiver.public_key();
    let mut feed = String::from("[");
    for i in 0..140_000u32 {
        let sep = if i == 0 { "" } else { ", " };
        feed.push_str(&format!(
            r#"{sep}{{"src_ip": "192.0.{}.{}", "user": "root{i}", "password": "hunter{}", "session": "s{i:08x}", "ok": false}}"#,
            i / 256 % 256,
            i % 256,
            i % 97
        ));
    }
    feed.push(']');
    assert!(feed.len() >= 15_000_000, "{} bytes", feed.len());
    let bomb = format!("{}{}", "[".repeat(30), "]".repeat(30));
    let store = archiver.lake();
    for (name, text) in [("feed", &feed), ("bomb", &bomb)] {
        store
            .submit(&new_entry("generic-json", name), &cybexp_keys::legacy::encrypt(&key, text.as_bytes()).unwrap())
            .unwrap();
    }
    drop(store);
    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!((summary["success"].as_u64(), summary["error"].as_u64()), (Some(1), Some(1)), "{summary}");
    let entries = by_name(&archiver.dump("cache"));
    assert_eq!(entries["feed"]["processed"], true, "{}", entries["feed"]);
    assert_eq!(entries["bomb"]["state"], "parse_failed", "{}", entries["bomb"]);
    let stored = archiver.archive().documents().unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].data_json.len() >= 13_000_000, "the whole feed is in the document");
}
