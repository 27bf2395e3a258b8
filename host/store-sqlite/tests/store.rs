//! The SQLite store on real files: schema, claims, outcomes (reference §5),
//! archive uniqueness (§4) and the failure paths.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cybexp_lake::test_support::assert_claims_are_exclusive;
use cybexp_lake::{
    ArchiveStore, BatchQuery, BlobError, CacheEntry, CacheLake, EntryFilter, EntryId, ErrorCause, NewEntry, Outcome,
    QueueDepth, RawDocument, Stored,
};
use cybexp_store_sqlite::{APPLICATION_ID, SCHEMA_VERSION, SqliteStore, StoreOptions};
use rusqlite::Connection;
use tempfile::TempDir;

fn new_entry(typtag: &str, timestamp: f64) -> NewEntry {
    NewEntry {
        name: format!("input-{typtag}"),
        orgid: "org-hash".into(),
        typtag: typtag.into(),
        timezone: "UTC".into(),
        timestamp,
    }
}

fn doc(hash: &str) -> RawDocument {
    RawDocument {
        sub_type: "unr_honeypot".into(),
        data_json: format!(r#"{{"h": "{hash}", "n": NaN}}"#),
        orgid: "org-hash".into(),
        timezone: "UTC".into(),
        hash: hash.into(),
    }
}

fn query(limit: usize) -> BatchQuery {
    BatchQuery { limit, ..BatchQuery::default() }
}

fn fresh() -> (TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, store)
}

/// A second, plain connection for looking at what the trait does not show.
fn raw(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

fn column(path: &Path, id: &EntryId, col: &str) -> Option<String> {
    raw(path)
        .query_row(&format!("SELECT CAST({col} AS TEXT) FROM entries WHERE id = ?1"), [&id.0], |r| r.get(0))
        .unwrap()
}

fn only(store: &SqliteStore, id: &EntryId) -> CacheEntry {
    store.entries(&EntryFilter::default()).unwrap().into_iter().find(|e| &e.id == id).unwrap()
}

fn ids(entries: &[CacheEntry]) -> Vec<EntryId> {
    entries.iter().map(|e| e.id.clone()).collect()
}

fn assert_store_error<T: std::fmt::Debug>(result: Result<T, cybexp_lake::StoreError>, needle: &str) {
    let err = result.expect_err("expected a StoreError");
    assert_eq!(err.backend, "sqlite");
    assert!(err.to_string().contains(needle), "{err} does not mention {needle:?}");
}

#[test]
fn store_is_send_sync_and_both_traits() {
    fn check<T: CacheLake + ArchiveStore + Send + Sync + Clone + 'static>() {}
    check::<SqliteStore>();
    let (_dir, path, store) = fresh();
    let lake: Arc<dyn CacheLake> = Arc::new(store.clone());
    let archive: Arc<dyn ArchiveStore> = Arc::new(store);
    assert_eq!(lake.describe(), format!("sqlite:{}", path.display()));
    assert_eq!(archive.describe(), lake.describe());
}

#[test]
fn schema_is_created_and_survives_reopen() {
    let (_dir, path, store) = fresh();
    {
        let conn = raw(&path);
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap();
        let journal: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!((version, app, journal.as_str()), (SCHEMA_VERSION, APPLICATION_ID, "wal"));
    }
    let id = store.submit(&new_entry("unr-honeypot", 10.0), b"blob").unwrap();
    assert_eq!(store.store(&doc("aa")).unwrap(), Stored::Inserted);
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    let entries = store.entries(&EntryFilter::default()).unwrap();
    assert_eq!(ids(&entries), vec![id.clone()]);
    assert_eq!(entries[0].blob_ref.as_deref().map(|_| ()), Some(()));
    assert_eq!(store.read_blob(&entries[0]).unwrap(), b"blob");
    assert_eq!(store.documents().unwrap(), vec![doc("aa")]);
    // A second handle on an open file is fine too.
    let other = SqliteStore::open(&path).unwrap();
    assert_eq!(other.count().unwrap(), 1);
}

#[test]
fn newer_schema_version_is_refused() {
    let (_dir, path, store) = fresh();
    drop(store);
    raw(&path).pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    assert_store_error(SqliteStore::open(&path), "newer than this build knows");
}

#[test]
fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    raw(&path).execute_batch("CREATE TABLE people (name TEXT);").unwrap();
    assert_store_error(SqliteStore::open(&path), "another application");
}

#[test]
fn a_file_that_is_not_sqlite_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    assert_store_error(SqliteStore::open(&path), "is not an SQLite database");
    // Left alone.
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("these are my notes"));
}

#[test]
fn a_missing_parent_directory_is_an_error_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope").join("store.db");
    assert_store_error(SqliteStore::open(&path), "does not exist");
    assert!(!dir.path().join("nope").exists());
    // A directory where the file should be.
    assert_store_error(SqliteStore::open(dir.path()), "not a regular file");
}

#[cfg(unix)]
#[test]
fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path, store) = fresh();
    store.submit(&new_entry("t", 1.0), b"x").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(wal.exists(), "WAL file present while open");
    assert_eq!(mode(&wal), 0o600);
}

#[test]
fn success_marks_processed_and_adds_the_hash_once() {
    let (_dir, path, store) = fresh();
    let id = store.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    let claimed = store.claim_batch("w1", &query(10)).unwrap();
    assert_eq!(ids(&claimed), vec![id.clone()]);
    assert_eq!(column(&path, &id, "claim_owner").as_deref(), Some("w1"));
    assert!(column(&path, &id, "claim_expires").is_some());

    let success = Outcome::Success { hash: "h1".into() };
    store.apply_outcome(&id, &success).unwrap();
    let entry = only(&store, &id);
    assert!(entry.processed);
    assert!(!entry.skip);
    assert_eq!((entry.state, entry.error), (None, None));
    assert_eq!(entry.refs, vec!["h1".to_string()]);
    assert_eq!(column(&path, &id, "claim_owner"), None);
    assert_eq!(column(&path, &id, "claim_expires"), None);
    assert_eq!(column(&path, &id, "cause"), None);

    // $addToSet: the same hash again changes nothing, a new one is appended.
    store.apply_outcome(&id, &success).unwrap();
    assert_eq!(only(&store, &id).refs, vec!["h1".to_string()]);
    store.apply_outcome(&id, &Outcome::Success { hash: "h2".into() }).unwrap();
    store.apply_outcome(&id, &success).unwrap();
    assert_eq!(only(&store, &id).refs, vec!["h1".to_string(), "h2".to_string()]);
    assert_eq!(column(&path, &id, "refs").as_deref(), Some(r#"["h1","h2"]"#));

    // Processed entries are never claimed, even in --force mode.
    let force = BatchQuery { limit: 10, include_skipped: true, typtag: None };
    assert!(store.claim_batch("w1", &force).unwrap().is_empty());
    assert_eq!(store.queue_depth().unwrap(), QueueDepth { waiting: 0, skipped: 0 });
}

#[test]
fn not_supported_marks_skip() {
    let (_dir, path, store) = fresh();
    let id = store.submit(&new_entry("mystery", 1.0), b"blob").unwrap();
    store.claim_batch("w1", &query(10)).unwrap();
    store.apply_outcome(&id, &Outcome::NotSupported).unwrap();
    let entry = only(&store, &id);
    assert!(!entry.processed);
    assert!(entry.skip);
    assert_eq!(entry.state.as_deref(), Some("not_supported"));
    assert_eq!(entry.error, None);
    assert!(entry.refs.is_empty());
    assert_eq!(column(&path, &id, "cause"), None);
    assert_eq!(column(&path, &id, "claim_owner"), None);
    assert_eq!(store.queue_depth().unwrap(), QueueDepth { waiting: 0, skipped: 1 });

    // Skipped entries wait for an operator: only --force takes them, and at
    // once, since the outcome dropped the claim.
    assert!(store.claim_batch("w1", &query(10)).unwrap().is_empty());
    let force = BatchQuery { limit: 10, include_skipped: true, typtag: None };
    assert_eq!(ids(&store.claim_batch("w2", &force).unwrap()), vec![id]);
}

#[test]
fn error_records_state_short_error_and_cause() {
    let (_dir, path, store) = fresh();
    let id = store.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    store.claim_batch("w1", &query(10)).unwrap();
    let long = "é".repeat(300);
    let outcome = Outcome::Error { cause: ErrorCause::Decrypt("auth".into()), message: long };
    store.apply_outcome(&id, &outcome).unwrap();
    let entry = only(&store, &id);
    assert!(!entry.processed);
    assert!(entry.skip);
    assert_eq!(entry.state.as_deref(), Some("decrypt_failed"));
    assert_eq!(entry.error.as_deref().map(|e| e.chars().count()), Some(Outcome::MAX_ERROR_CHARS));
    assert_eq!(entry.error, outcome.short_error());
    assert_eq!(column(&path, &id, "cause").as_deref(), Some("decrypt.auth"));
    assert_eq!(column(&path, &id, "claim_owner"), None);

    for (cause, state, code) in [
        (ErrorCause::MissingBlob, "bad_data", "blob.missing"),
        (ErrorCause::CorruptBlob, "bad_data", "blob.corrupt"),
        (ErrorCause::Parser("fuel".into()), "parse_failed", "parser.fuel"),
    ] {
        store.apply_outcome(&id, &Outcome::Error { cause, message: "m".into() }).unwrap();
        assert_eq!(only(&store, &id).state.as_deref(), Some(state));
        assert_eq!(column(&path, &id, "cause").as_deref(), Some(code));
    }
}

#[test]
fn forced_reprocess_that_succeeds_clears_skip_state_and_error() {
    let (_dir, path, store) = fresh();
    let id = store.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    store.claim_batch("w1", &query(1)).unwrap();
    let failure = Outcome::Error { cause: ErrorCause::Parser("invalid_input".into()), message: "bad".into() };
    store.apply_outcome(&id, &failure).unwrap();

    let force = BatchQuery { limit: 1, include_skipped: true, typtag: None };
    assert_eq!(ids(&store.claim_batch("w1", &force).unwrap()), vec![id.clone()]);
    store.apply_outcome(&id, &Outcome::Success { hash: "h".into() }).unwrap();
    let entry = only(&store, &id);
    assert!(entry.processed);
    assert!(!entry.skip);
    assert_eq!((entry.state, entry.error), (None, None));
    assert_eq!(column(&path, &id, "cause"), None);
    assert_eq!(store.entries(&EntryFilter { state: Some("parse_failed".into()) }).unwrap(), vec![]);
}

#[test]
fn a_late_failure_never_downgrades_a_processed_entry() {
    let (_dir, path, store) = fresh();
    let id = store.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    store.apply_outcome(&id, &Outcome::Success { hash: "h".into() }).unwrap();
    store.claim_batch("late", &query(1)).unwrap(); // nothing, it is processed
    let late = Outcome::Error { cause: ErrorCause::Parser("deadline".into()), message: "slow".into() };
    store.apply_outcome(&id, &late).unwrap();
    store.apply_outcome(&id, &Outcome::NotSupported).unwrap();
    let entry = only(&store, &id);
    assert!(entry.processed);
    assert!(!entry.skip);
    assert_eq!((entry.state, entry.error, entry.refs), (None, None, vec!["h".to_string()]));
    assert_eq!(column(&path, &id, "cause"), None);
}

#[test]
fn unknown_entries() {
    let (_dir, _path, store) = fresh();
    assert_store_error(store.apply_outcome(&EntryId("42".into()), &Outcome::NotSupported), "no entry 42");
    assert_store_error(store.apply_outcome(&EntryId("abc".into()), &Outcome::NotSupported), "not an SQLite entry id");
    // Giving back what is not held is harmless.
    store.release(&EntryId("42".into())).unwrap();
}

#[test]
fn claims_are_oldest_first_limited_and_released() {
    let (_dir, path, store) = fresh();
    let c = store.submit(&new_entry("t", 30.0), b"c").unwrap();
    let a = store.submit(&new_entry("t", 10.0), b"a").unwrap();
    let b1 = store.submit(&new_entry("t", 20.0), b"b1").unwrap();
    let b2 = store.submit(&new_entry("t", 20.0), b"b2").unwrap(); // same time: id order
    assert!(store.claim_batch("w", &query(0)).unwrap().is_empty());

    let first = store.claim_batch("w", &query(3)).unwrap();
    assert_eq!(ids(&first), vec![a.clone(), b1.clone(), b2.clone()]);
    assert_eq!(first[0].typtag, "t");
    assert_eq!(first[0].timestamp, 10.0);
    assert!(!first[0].processed);
    assert_eq!(ids(&store.claim_batch("w", &query(3)).unwrap()), vec![c.clone()]);
    assert!(store.claim_batch("w", &query(3)).unwrap().is_empty());
    // Claimed entries still count as waiting.
    assert_eq!(store.queue_depth().unwrap(), QueueDepth { waiting: 4, skipped: 0 });

    store.release(&b1).unwrap();
    assert_eq!(column(&path, &b1, "claim_owner"), None);
    assert_eq!(ids(&store.claim_batch("w", &query(3)).unwrap()), vec![b1]);
    let _ = (a, b2);
}

#[test]
fn typtag_and_include_skipped_filters() {
    let (_dir, _path, store) = fresh();
    let honey = store.submit(&new_entry("unr-honeypot", 1.0), b"h").unwrap();
    let phish = store.submit(&new_entry("openphish_feed", 2.0), b"p").unwrap();
    let skipped = store.submit(&new_entry("unr-honeypot", 0.5), b"s").unwrap();
    store.apply_outcome(&skipped, &Outcome::NotSupported).unwrap();

    let only_phish = BatchQuery { limit: 10, include_skipped: false, typtag: Some("openphish_feed".into()) };
    assert_eq!(ids(&store.claim_batch("w", &only_phish).unwrap()), vec![phish]);

    let honey_forced = BatchQuery { limit: 10, include_skipped: true, typtag: Some("unr-honeypot".into()) };
    assert_eq!(ids(&store.claim_batch("w", &honey_forced).unwrap()), vec![skipped, honey]);
    assert!(store.claim_batch("w", &BatchQuery { limit: 10, include_skipped: true, typtag: None }).unwrap().is_empty());
}

#[test]
fn an_expired_lease_comes_back() {
    let (_dir, path, store) = fresh();
    let store = store.with_lease(Duration::from_millis(1500));
    assert_eq!(store.lease(), Duration::from_millis(1500));
    let id = store.submit(&new_entry("t", 1.0), b"x").unwrap();
    let claimed_at = Instant::now();
    assert_eq!(ids(&store.claim_batch("crashed", &query(5)).unwrap()), vec![id.clone()]);
    let again = store.claim_batch("other", &query(5)).unwrap();
    if claimed_at.elapsed() < Duration::from_millis(1000) {
        assert!(again.is_empty(), "a live lease holds the entry");
    }
    thread::sleep(Duration::from_millis(1600).saturating_sub(claimed_at.elapsed()));
    assert_eq!(ids(&store.claim_batch("other", &query(5)).unwrap()), vec![id.clone()]);
    assert_eq!(column(&path, &id, "claim_owner").as_deref(), Some("other"));
}

#[test]
fn claims_are_exclusive_across_handles_and_threads() {
    const ENTRIES: usize = 300;
    let (_dir, path, store) = fresh();
    let mut all = HashSet::new();
    for i in 0..ENTRIES {
        all.insert(store.submit(&new_entry("t", i as f64), b"blob").unwrap());
    }
    drop(store);

    // Two handles on the same file (as two processes would have), two
    // threads on each (sharing that handle's pool).
    let handles = [SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap()];
    let counts = assert_claims_are_exclusive(&handles, 7, &all);
    assert_eq!(counts.iter().sum::<usize>(), ENTRIES);
}

/// Set in the worker processes of `claims_are_exclusive_across_processes`:
/// `<db>|<output file>|<go file>`.
const CHILD_ENV: &str = "CYBEXP_STORE_SQLITE_CLAIM_CHILD";

/// The worker process of `claims_are_exclusive_across_processes` (this test
/// binary run again); does nothing in a normal run.
#[test]
fn claim_child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let store = SqliteStore::open(parts[0]).unwrap();
    // Start together with the other process.
    let go = Path::new(parts[2]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !go.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    let mut mine = Vec::new();
    loop {
        let batch = store.claim_batch(&format!("pid{}", std::process::id()), &query(2)).unwrap();
        if batch.is_empty() {
            break;
        }
        mine.extend(batch.into_iter().map(|e| e.id.0));
    }
    std::fs::write(parts[1], mine.join("\n")).unwrap();
}

#[test]
fn claims_are_exclusive_across_processes() {
    const ENTRIES: usize = 2000;
    let (dir, path, store) = fresh();
    drop(store);
    // Many entries in one transaction (submit would fsync each), so both
    // processes are still claiming when the other one starts.
    let mut conn = raw(&path);
    let tx = conn.transaction().unwrap();
    for i in 0..ENTRIES {
        tx.execute(
            "INSERT INTO entries (name, orgid, typtag, timezone, timestamp) VALUES ('n', 'o', 't', 'UTC', ?1)",
            [i as f64],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let all: HashSet<String> = raw(&path)
        .prepare("SELECT id FROM entries")
        .unwrap()
        .query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|id| id.unwrap().to_string())
        .collect();
    assert_eq!(all.len(), ENTRIES);

    let go = dir.path().join("go");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|n| {
            let out = dir.path().join(format!("claimed-{n}"));
            let child = std::process::Command::new(&exe)
                .args(["--exact", "claim_child_process", "--test-threads=1", "--quiet"])
                .env(CHILD_ENV, format!("{}|{}|{}", path.display(), out.display(), go.display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (child, out)
        })
        .collect();
    std::fs::write(&go, "").unwrap();

    let mut seen = HashSet::new();
    let mut total = 0;
    for (child, out) in children {
        let run = child.wait_with_output().unwrap();
        assert!(
            run.status.success(),
            "claiming process failed: {}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        let text = std::fs::read_to_string(out).unwrap();
        for id in text.lines() {
            total += 1;
            assert!(seen.insert(id.to_string()), "{id} claimed by both processes");
        }
    }
    assert_eq!(total, ENTRIES);
    assert_eq!(seen, all);
}

#[test]
fn blobs_read_back_and_missing_or_corrupt_ones_say_so() {
    let (_dir, path, store) = fresh();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let id = store.submit(&new_entry("t", 1.0), &bytes).unwrap();
    let entry = only(&store, &id);
    assert_eq!(store.read_blob(&entry).unwrap(), bytes);

    let with_ref = |r: Option<&str>| CacheEntry { blob_ref: r.map(String::from), ..entry.clone() };
    for blob_ref in [None, Some("999999"), Some("not-a-row")] {
        match store.read_blob(&with_ref(blob_ref)) {
            Err(BlobError::Missing(reason)) => assert!(!reason.is_empty()),
            other => panic!("{blob_ref:?}: expected Missing, got {other:?}"),
        }
    }
    // A blob row that went away.
    raw(&path).execute("DELETE FROM blobs WHERE id = ?1", [entry.blob_ref.as_deref().unwrap()]).unwrap();
    assert!(matches!(store.read_blob(&entry), Err(BlobError::Missing(_))));

    // A blob that does not read back whole.
    let id = store.submit(&new_entry("t", 2.0), b"abcdef").unwrap();
    let entry = only(&store, &id);
    raw(&path)
        .execute("UPDATE blobs SET bytes = X'616263' WHERE id = ?1", [entry.blob_ref.as_deref().unwrap()])
        .unwrap();
    match store.read_blob(&entry) {
        Err(BlobError::Corrupt(reason)) => assert!(reason.contains("3 bytes"), "{reason}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn duplicate_documents_are_already_present() {
    let (_dir, _path, store) = fresh();
    assert_eq!(store.store(&doc("h1")).unwrap(), Stored::Inserted);
    assert_eq!(store.store(&doc("h1")).unwrap(), Stored::AlreadyPresent);
    // The first one stays, whatever the second carried.
    let changed = RawDocument { orgid: "someone-else".into(), ..doc("h1") };
    assert_eq!(store.store(&changed).unwrap(), Stored::AlreadyPresent);
    assert_eq!(store.count().unwrap(), 1);

    let batch = [doc("h2"), doc("h1"), doc("h3"), doc("h2")];
    assert_eq!(
        store.store_batch(&batch).unwrap(),
        vec![Stored::Inserted, Stored::AlreadyPresent, Stored::Inserted, Stored::AlreadyPresent]
    );
    assert_eq!(store.store_batch(&[]).unwrap(), vec![]);
    assert_eq!(store.count().unwrap(), 3);
    let hashes: Vec<_> = store.documents().unwrap().into_iter().map(|d| d.hash).collect();
    assert_eq!(hashes, ["h1", "h2", "h3"]);
    assert_eq!(store.documents().unwrap()[0], doc("h1"));
}

#[test]
fn entry_filters_and_queue_depth() {
    let (_dir, _path, store) = fresh();
    let done = store.submit(&new_entry("t", 1.0), b"x").unwrap();
    let waiting = store.submit(&new_entry("t", 2.0), b"x").unwrap();
    let unsupported = store.submit(&new_entry("t", 3.0), b"x").unwrap();
    let failed = store.submit(&new_entry("t", 4.0), b"x").unwrap();
    store.apply_outcome(&done, &Outcome::Success { hash: "h".into() }).unwrap();
    store.apply_outcome(&unsupported, &Outcome::NotSupported).unwrap();
    let bad = Outcome::Error { cause: ErrorCause::MissingBlob, message: "gone".into() };
    store.apply_outcome(&failed, &bad).unwrap();

    let by = |state: Option<&str>| ids(&store.entries(&EntryFilter { state: state.map(String::from) }).unwrap());
    assert_eq!(by(None), vec![done.clone(), waiting.clone(), unsupported.clone(), failed.clone()]);
    assert_eq!(by(Some("processed")), vec![done]);
    assert_eq!(by(Some("unprocessed")), vec![waiting]);
    assert_eq!(by(Some("skipped")), vec![unsupported.clone(), failed.clone()]);
    assert_eq!(by(Some("not_supported")), vec![unsupported]);
    assert_eq!(by(Some("bad_data")), vec![failed]);
    assert_eq!(by(Some("no_such_state")), vec![]);
    assert_eq!(store.queue_depth().unwrap(), QueueDepth { waiting: 1, skipped: 2 });
}

#[test]
fn a_nan_timestamp_is_refused() {
    let (_dir, _path, store) = fresh();
    assert_store_error(store.submit(&new_entry("t", f64::NAN), b"x"), "not finite");
    assert_eq!(store.entries(&EntryFilter::default()).unwrap(), vec![]);
}

#[test]
fn a_lock_held_past_the_busy_timeout_is_a_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let options = StoreOptions { busy_timeout: Duration::from_millis(100), ..StoreOptions::default() };
    let store = SqliteStore::open_with(&path, &options).unwrap();
    store.submit(&new_entry("t", 1.0), b"x").unwrap();

    let blocker = raw(&path);
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    assert_store_error(store.claim_batch("w", &query(1)), "busy timeout");
    // It waited for the lock, but not for ever.
    assert!(started.elapsed() >= Duration::from_millis(90), "{:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_store_error(store.store(&doc("h")), "busy timeout");
    // Readers are not blocked by a writer in WAL mode.
    assert_eq!(store.queue_depth().unwrap().waiting, 1);
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(store.claim_batch("w", &query(1)).unwrap().len(), 1);
}

/// The pipeline stores the document, then records the outcome. A crash in
/// between leaves the document stored and the entry claimed: after the lease
/// runs out the entry is claimed again, the store reports AlreadyPresent, and
/// the outcome is recorded then. Nothing is lost or stored twice.
#[test]
fn a_crash_between_store_and_outcome_is_retried_safely() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let lease = Duration::from_millis(1500);
    let id = {
        let store = SqliteStore::open(&path).unwrap().with_lease(lease);
        let id = store.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
        assert_eq!(ids(&store.claim_batch("doomed", &query(1)).unwrap()), vec![id.clone()]);
        assert_eq!(store.store(&doc("h")).unwrap(), Stored::Inserted);
        id
        // "crash": the handle goes away without apply_outcome or release.
    };
    let claimed_at = Instant::now();

    // The document is durable in the file, seen from a fresh connection.
    let stored: i64 = raw(&path).query_row("SELECT count(*) FROM documents", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 1);

    let store = SqliteStore::open(&path).unwrap().with_lease(lease);
    let early = store.claim_batch("rerun", &query(1)).unwrap();
    if claimed_at.elapsed() < Duration::from_millis(1000) {
        assert!(early.is_empty(), "the crashed claim still holds the entry");
    }
    thread::sleep(lease.saturating_sub(claimed_at.elapsed()) + Duration::from_millis(100));
    let batch = store.claim_batch("rerun", &query(1)).unwrap();
    assert_eq!(ids(&batch), vec![id.clone()]);
    assert_eq!(store.read_blob(&batch[0]).unwrap(), b"blob");
    assert_eq!(store.store(&doc("h")).unwrap(), Stored::AlreadyPresent);
    store.apply_outcome(&id, &Outcome::Success { hash: "h".into() }).unwrap();
    assert_eq!(store.count().unwrap(), 1);
    let entry = only(&store, &id);
    assert!(entry.processed);
    assert_eq!(entry.refs, vec!["h".to_string()]);
}

#[test]
fn unskip_queues_skipped_entries_again_and_shows_the_cause() {
    let (_dir, _path, store) = fresh();
    let blob = b"blob".as_slice();
    let a = store.submit(&new_entry("misp", 1.0), blob).unwrap();
    let b = store.submit(&new_entry("other", 2.0), blob).unwrap();
    let done = store.submit(&new_entry("misp", 3.0), blob).unwrap();
    store.claim_batch("w", &query(10)).unwrap();
    let error =
        Outcome::Error { cause: cybexp_lake::ErrorCause::Decrypt("auth".into()), message: "auth: tag mismatch".into() };
    store.apply_outcome(&a, &error).unwrap();
    store.apply_outcome(&b, &Outcome::NotSupported).unwrap();
    store.apply_outcome(&done, &Outcome::Success { hash: "h".into() }).unwrap();
    assert_eq!(only(&store, &a).cause.as_deref(), Some("decrypt.auth"));

    assert_eq!(store.unskip(Some("misp")).unwrap(), 1, "only the skipped misp entry");
    let a_entry = only(&store, &a);
    assert!(!a_entry.skip && a_entry.state.is_none() && a_entry.error.is_none() && a_entry.cause.is_none());
    assert!(only(&store, &b).skip, "other typtags stay skipped");
    assert!(only(&store, &done).processed, "processed entries are untouched");
    assert_eq!(ids(&store.claim_batch("w", &query(10)).unwrap()), vec![a.clone()]);

    assert_eq!(store.unskip(None).unwrap(), 1);
    assert!(!only(&store, &b).skip);
}
