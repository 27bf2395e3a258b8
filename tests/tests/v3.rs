//! The post-quantum v3 envelope end to end, on both stores: the Python
//! producer (producers/python, `cryptography`'s HPKE) seals and the
//! archiver opens; the archiver (`encrypt`, `submit`) seals and Python
//! opens; RSA and X-Wing keys in one keyring while producers roll over;
//! `replay`, `decrypt`, and a daemon that picks a new key up on SIGHUP.
//! Without the Python venv these say SKIPPED (and fail under `CI=true`).

use std::collections::BTreeSet;
use std::time::Duration;

use cybexp_tests::producer::{self, python_open, python_seal_all};
use cybexp_tests::{Archiver, Backend, Daemon, new_entry, on_both_backends, vector_cases, wait_for};
use serde_json::Value;

/// The raw-document vectors: entries and the `_hash` each must end as.
fn vectors() -> Vec<(cybexp_lake::NewEntry, String, String)> {
    vector_cases("vectors/raw_documents.json")
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let entry = cybexp_lake::NewEntry {
                orgid: c["orgid"].as_str().unwrap().into(),
                timezone: c["timezone"].as_str().unwrap().into(),
                ..new_entry(c["typtag"].as_str().unwrap(), &format!("vector-{i}"))
            };
            (entry, c["plaintext"].as_str().unwrap().to_owned(), c["expect"]["_hash"].as_str().unwrap().to_owned())
        })
        .collect()
}

on_both_backends!(
    python_sealed_entries_end_as_the_reference_stores_them,
    submit_v3_beside_legacy_then_replay_and_decrypt
);

/// A producer that moved to v3 (Python) and one still on the legacy
/// envelope (the API's RSA recipe), in one lake, worked off by one
/// archiver holding both keys: every document is the reference's.
fn python_sealed_entries_end_as_the_reference_stores_them(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let Some(python) = producer::python(test) else { return };
    let key = producer::add_xwing_key(&archiver);
    let vectors = vectors();
    let v3_plaintexts: Vec<&[u8]> = vectors.iter().step_by(2).map(|(_, p, _)| p.as_bytes()).collect();
    let mut sealed = python_seal_all(&python, &key.public, &v3_plaintexts).into_iter();
    let rsa = archiver.public_key();
    let entries: Vec<_> = vectors
        .iter()
        .enumerate()
        .map(|(i, (entry, plaintext, _))| {
            let blob = if i % 2 == 0 {
                sealed.next().unwrap()
            } else {
                cybexp_keys::legacy::encrypt(&rsa, plaintext.as_bytes()).unwrap()
            };
            (entry.clone(), blob)
        })
        .collect();
    assert!(entries.iter().step_by(2).all(|(_, b)| b.starts_with(b"CXPE\x03\x64\x7a\x00\x01\x00\x02")));
    archiver.submit_many(&entries);

    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!(summary["success"], vectors.len() as u64, "{summary}");
    let stored: BTreeSet<String> =
        archiver.dump("archive").iter().map(|d| d["_hash"].as_str().unwrap().to_owned()).collect();
    let want: BTreeSet<String> = vectors.iter().map(|(_, _, h)| h.clone()).collect();
    assert_eq!(stored, want);
    cybexp_tests::assert_all_processed_once(&archiver, vectors.len());
}

/// `submit --format v3` (and the default legacy for the RSA key), `once`,
/// then `replay` of the v3 entry and `decrypt` of a v3 blob, and Python
/// opening what `encrypt` sealed.
fn submit_v3_beside_legacy_then_replay_and_decrypt(backend: Backend, test: &str) {
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let key = producer::add_xwing_key(&archiver);
    let dir = archiver.dir.path();
    let (v3_file, legacy_file) = (dir.join("v3.json"), dir.join("legacy.json"));
    std::fs::write(&v3_file, br#"{"sealed": "v3", "n": 1}"#).unwrap();
    std::fs::write(&legacy_file, br#"{"sealed": "legacy", "n": 2}"#).unwrap();
    let pub_path = key.public.to_str().unwrap();
    let submit = |extra: &[&str], file: &std::path::Path| {
        let mut args = vec!["submit", "--typtag", "generic-json", "--orgid", "org-v3"];
        args.extend_from_slice(extra);
        args.push(file.to_str().unwrap());
        archiver.ok(&args).split('\t').next().unwrap().to_owned()
    };
    let v3_id = submit(&["--format", "v3", "--pub", pub_path], &v3_file);
    let _legacy_id = submit(&[], &legacy_file);
    // An X-Wing key cannot seal the RSA envelopes, and says so.
    let legacy_path = legacy_file.to_str().unwrap();
    let v2 = ["submit", "--typtag", "generic-json", "--orgid", "o", "--format", "v2", "--pub", pub_path, legacy_path];
    let out = archiver.run(&v2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("needs an RSA public key, and this one is x-wing"), "{stderr}");

    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!((summary["success"].as_u64(), summary["error"].as_u64()), (Some(2), Some(0)), "{summary}");

    let replayed: Value =
        serde_json::from_str(archiver.ok(&["replay", &v3_id, "--json", "--show-plaintext"]).trim()).unwrap();
    assert_eq!(replayed["outcome"], "SUCCESS", "{replayed}");
    assert_eq!(replayed["plaintext"], r#"{"sealed": "v3", "n": 1}"#, "{replayed}");

    // encrypt (v3 by default for an X-Wing key) and decrypt with both keys loaded.
    let blob = dir.join("blob.v3");
    archiver.ok(&["encrypt", "--pub", pub_path, "-o", blob.to_str().unwrap(), v3_file.to_str().unwrap()]);
    assert!(std::fs::read(&blob).unwrap().starts_with(b"CXPE\x03"));
    let rsa_key = dir.join("priv.pem");
    let plain = archiver.ok(&[
        "decrypt",
        "--key",
        rsa_key.to_str().unwrap(),
        "--key",
        key.private.to_str().unwrap(),
        blob.to_str().unwrap(),
    ]);
    assert_eq!(plain, r#"{"sealed": "v3", "n": 1}"#);
}

/// The archiver seals, Python opens: `encrypt` output, and the keys crate's
/// v3 vectors (good ones open to their plaintext, bad ones are refused).
/// Python seals, `decrypt` opens.
#[test]
fn the_archiver_seals_and_python_opens_and_back() {
    let test = "the_archiver_seals_and_python_opens_and_back";
    let archiver = Archiver::new();
    let Some(python) = producer::python(test) else { return };
    let key = producer::keygen_xwing(&archiver, "x-wing");
    let dir = archiver.dir.path();
    let plain = "{\"π\": 3.14, \"feed\": \"sealed by the archiver\"}".repeat(50);
    std::fs::write(dir.join("plain.json"), &plain).unwrap();
    for format in [&[][..], &["--format", "v3"][..]] {
        let mut args = vec!["encrypt", "--pub", key.public.to_str().unwrap(), "-o", "blob"];
        args.extend_from_slice(format);
        args.push("plain.json");
        let out = archiver.command().current_dir(dir).args(&args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let blob = std::fs::read(dir.join("blob")).unwrap();
        assert_eq!(python_open(&python, &key.private, &blob).unwrap(), plain.as_bytes());
        // One changed bit anywhere: Python refuses too.
        let mut bad = blob.clone();
        bad[2000] ^= 4;
        let e = python_open(&python, &key.private, &bad).unwrap_err();
        assert!(e.starts_with("error: auth:"), "{e}");
    }

    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys/tests/fixtures");
    let draft_key = fixtures.join("xwing_draft_example_priv.pem");
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(fixtures.join("v3_cases.json")).unwrap()).unwrap();
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap();
    for case in cases["cases"].as_array().unwrap() {
        let got = python_open(&python, &draft_key, &b64(&case["blob_b64"]));
        match (case["expect"].as_str().unwrap(), case["error_class"].as_str(), got) {
            ("ok", _, Ok(p)) => assert_eq!(p, b64(&case["plaintext_b64"]), "{}", case["name"]),
            // Python's open does not check UTF-8 (the archiver's business).
            ("error", Some("utf8"), Ok(_)) => {}
            ("error", Some(_), Err(_)) => {}
            (want, _, got) => panic!("{}: want {want}, got {got:?}", case["name"]),
        }
    }

    let sealed = python_seal_all(&python, &key.public, &[plain.as_bytes()]);
    std::fs::write(dir.join("py.blob"), &sealed[0]).unwrap();
    let mut cmd = archiver.command();
    cmd.current_dir(dir).args(["decrypt", "--key", key.private.to_str().unwrap(), "py.blob"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, plain.as_bytes());
}

/// The CYBEX-P API's own recipe (pymongo, GridFS) with its one changed
/// line, `cybexp_producer.seal`, writes v3 entries to MongoDB; the archiver
/// stores exactly what the reference stores (the interop check).
#[test]
fn the_python_api_writes_v3_entries_to_mongodb() {
    let test = "the_python_api_writes_v3_entries_to_mongodb";
    let Some(archiver) = Archiver::on(Backend::Mongo, test) else { return };
    let Some(python) = producer::python(test) else { return };
    let key = producer::add_xwing_key(&archiver);
    let dbs = archiver.mongo.as_ref().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/cybexp_api.py");
    let vectors = cybexp_tests::shared_dir().join("vectors/raw_documents.json");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(&python).arg(&script).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, text) = run(&[
        "submit".as_ref(),
        dbs.uri.as_ref(),
        dbs.cache_db.as_ref(),
        key.public.as_os_str(),
        vectors.as_os_str(),
        "v3".as_ref(),
    ]);
    assert!(ok, "the Python API failed:\n{text}");
    let cases = vector_cases("vectors/raw_documents.json").len();
    let summary: Value = serde_json::from_str(archiver.ok(&["once", "--json"]).trim()).unwrap();
    assert_eq!(summary["success"], cases as u64, "{summary}");
    let (ok, text) =
        run(&["check".as_ref(), dbs.uri.as_ref(), dbs.cache_db.as_ref(), dbs.archive_db.as_ref(), vectors.as_os_str()]);
    assert!(ok, "what the archiver stored is not what the reference stores:\n{text}");
}

/// A running daemon with the RSA key only: the operator adds an X-Wing key
/// to the config and sends SIGHUP; v3 entries from then on are processed.
#[test]
fn a_new_xwing_key_is_picked_up_on_sighup() {
    let test = "a_new_xwing_key_is_picked_up_on_sighup";
    let archiver = Archiver::new();
    let Some(python) = producer::python(test) else { return };
    let key = producer::keygen_xwing(&archiver, "x-wing");
    let mut daemon = Daemon::spawn(&archiver, "info");
    wait_for("the daemon to start", Duration::from_secs(60), |seen| {
        *seen = daemon.log();
        seen.contains("archiver started").then_some(())
    });

    let config = std::fs::read_to_string(&archiver.config).unwrap();
    let line = config.lines().find(|l| l.starts_with("private = [")).unwrap();
    let with_key = format!("{}, {:?}]", line.trim_end_matches(']'), key.private);
    std::fs::write(&archiver.config, config.replacen(line, &with_key, 1)).unwrap();
    daemon.signal("-HUP");
    wait_for("the reload", Duration::from_secs(60), |seen| {
        *seen = daemon.log();
        seen.contains("config reloaded; the next batch uses it").then_some(())
    });
    let log = daemon.log();
    assert!(log.contains("kind=x-wing"), "the new key is logged with its kind:\n{log}");

    let blobs = python_seal_all(&python, &key.public, &[br#"{"after": "reload"}"#]);
    let lake = archiver.lake();
    lake.submit(&new_entry("generic-json", "after-reload"), &blobs[0]).unwrap();
    wait_for("the v3 entry", Duration::from_secs(120), |_| (lake.queue_depth().unwrap().waiting == 0).then_some(()));
    assert!(daemon.is_running());
    daemon.stop("-TERM");
    let entries = archiver.dump("cache");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["processed"], true, "{}", entries[0]);
}
