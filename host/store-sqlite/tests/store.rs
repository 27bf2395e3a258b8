//! The SQLite store on real files: the store conformance suite (claims,
//! outcomes (reference §5), archive uniqueness (§4)), and what only this
//! backend has: its schema, file, processes and locks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cybexp_lake::test_support::{self, ANY_SIZE, Fixture, document as doc, ids, new_entry, query};
use cybexp_lake::{
    ArchiveStore, BlobError, CacheEntry, CacheLake, EntryFilter, EntryId, LakeAdmin, Outcome, StoreErrorKind, Stored,
};
use cybexp_store_sqlite::{APPLICATION_ID, SCHEMA_VERSION, SqliteStore, StoreOptions};
use rusqlite::{Connection, OptionalExtension, params};
use tempfile::TempDir;

/// A store file of its own in a temporary directory, created by the first
/// `open`.
struct Sqlite {
    _dir: TempDir,
    path: PathBuf,
}

impl Sqlite {
    fn new() -> Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        Sqlite { _dir: dir, path }
    }
}

impl Fixture for Sqlite {
    type Lake = SqliteStore;
    type Archive = SqliteStore;
    const BACKEND: &'static str = "sqlite";

    fn open(&self, lease: Duration) -> (SqliteStore, SqliteStore) {
        let store = SqliteStore::open(&self.path).unwrap().with_lease(lease);
        (store.clone(), store)
    }

    fn absent_id(&self) -> EntryId {
        EntryId("999999".into())
    }

    fn malformed_id(&self) -> (EntryId, &'static str) {
        (EntryId("abc".into()), "not an SQLite entry id")
    }

    fn claim_owner(&self, id: &EntryId) -> Option<String> {
        let (owner, expires): (Option<String>, Option<i64>) = raw(&self.path)
            .query_row("SELECT claim_owner, claim_expires FROM entries WHERE id = ?1", [&id.0], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(owner.is_some(), expires.is_some(), "claim_owner {owner:?} with claim_expires {expires:?}");
        owner
    }

    fn assert_recorded_as(&self, entry: &CacheEntry) {
        type Columns = (bool, bool, Option<String>, Option<String>, Option<String>, String, serde_json::Value);
        let columns: Columns = raw(&self.path)
            .query_row(
                "SELECT processed, skip, state, error, cause, refs, requeued FROM entries WHERE id = ?1",
                [&entry.id.0],
                |r| {
                    let requeued: String = r.get(6)?;
                    let requeued = serde_json::from_str(&requeued).unwrap();
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, requeued))
                },
            )
            .optional()
            .unwrap()
            .unwrap_or_else(|| panic!("no row for entry {}", entry.id));
        let refs = serde_json::to_string(&entry.refs).unwrap();
        // The history: a JSON array of {at, state, cause, error}.
        let requeued = serde_json::to_value(&entry.requeued).unwrap();
        let expected = (
            entry.processed,
            entry.skip,
            entry.state.clone(),
            entry.error.clone(),
            entry.cause.clone(),
            refs,
            requeued,
        );
        assert_eq!(columns, expected, "columns of entry {}", entry.id);
    }
}

fn sqlite(_check: &str) -> Option<Sqlite> {
    Some(Sqlite::new())
}

cybexp_lake::store_conformance_tests!(sqlite);

fn fresh() -> (TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, store)
}

/// A second, plain connection for looking at what the traits do not show.
fn raw(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

fn only(store: &SqliteStore, id: &EntryId) -> CacheEntry {
    store.entries(&EntryFilter::default()).unwrap().into_iter().find(|e| &e.id == id).unwrap()
}

fn assert_store_error<T: std::fmt::Debug>(
    result: Result<T, cybexp_lake::StoreError>,
    kind: StoreErrorKind,
    needle: &str,
) {
    test_support::assert_store_error(result, "sqlite", kind, needle);
}

#[test]
fn store_is_send_sync_and_every_trait() {
    fn check<T: CacheLake + LakeAdmin + ArchiveStore + Send + Sync + Clone + 'static>() {}
    check::<SqliteStore>();
    let (_dir, path, store) = fresh();
    assert_eq!(store.lease(), cybexp_lake::DEFAULT_LEASE);
    assert_eq!(store.clone().with_lease(Duration::from_millis(1500)).lease(), Duration::from_millis(1500));
    let lake: Arc<dyn CacheLake> = Arc::new(store.clone());
    let admin: Arc<dyn LakeAdmin> = Arc::new(store.clone());
    let archive: Arc<dyn ArchiveStore> = Arc::new(store);
    assert_eq!(lake.describe(), format!("sqlite:{}", path.display()));
    assert_eq!(admin.describe(), lake.describe());
    assert_eq!(archive.describe(), lake.describe());
}

/// One transaction per group: an unknown entry in it leaves the others
/// unrecorded too (MongoDB records them; both are allowed by the trait).
#[test]
fn an_outcome_group_with_an_unknown_entry_records_none() {
    let (_dir, _path, store) = fresh();
    let known = store.submit(&new_entry("t", 1.0), b"x").unwrap();
    let group = [(known.clone(), Outcome::Success { hash: "h".into() }), (EntryId("42".into()), Outcome::NotSupported)];
    assert_store_error(store.apply_outcomes(&group), StoreErrorKind::Refused, "no entry 42");
    assert!(!only(&store, &known).processed);
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
    assert_eq!(store.read_blob(&entries[0], ANY_SIZE).unwrap(), b"blob");
    assert_eq!(store.documents().unwrap(), vec![doc("aa")]);
    // A second handle on an open file is fine too.
    let other = SqliteStore::open(&path).unwrap();
    assert_eq!(other.count().unwrap(), 1);
}

/// A version 1 file (before the requeue history) is upgraded in place on
/// open: its entries read back with no history and gain one when requeued.
#[test]
fn a_version_1_file_is_upgraded_to_keep_requeue_history() {
    let (_dir, path, store) = fresh();
    let id = store.submit(&new_entry("t", 1.0), b"x").unwrap();
    store.apply_outcome(&id, &Outcome::NotSupported).unwrap();
    drop(store);
    raw(&path).execute_batch("ALTER TABLE entries DROP COLUMN requeued; PRAGMA user_version = 1;").unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let version: i64 = raw(&path).query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert!(only(&store, &id).requeued.is_empty());
    assert_eq!(store.unskip_ids(std::slice::from_ref(&id)).unwrap(), 1);
    assert_eq!(only(&store, &id).requeued[0].state.as_deref(), Some("not_supported"));
}

#[test]
fn newer_schema_version_is_refused() {
    let (_dir, path, store) = fresh();
    drop(store);
    raw(&path).pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    assert_store_error(SqliteStore::open(&path), StoreErrorKind::Refused, "newer than this build knows");
}

#[test]
fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    raw(&path).execute_batch("CREATE TABLE people (name TEXT);").unwrap();
    assert_store_error(SqliteStore::open(&path), StoreErrorKind::Refused, "another application");
}

#[test]
fn a_file_that_is_not_sqlite_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    assert_store_error(SqliteStore::open(&path), StoreErrorKind::Refused, "is not an SQLite database");
    // Left alone.
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("these are my notes"));
}

#[test]
fn a_missing_parent_directory_is_an_error_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope").join("store.db");
    assert_store_error(SqliteStore::open(&path), StoreErrorKind::Refused, "does not exist");
    assert!(!dir.path().join("nope").exists());
    // A directory where the file should be.
    assert_store_error(SqliteStore::open(dir.path()), StoreErrorKind::Refused, "not a regular file");
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

/// What the suite's `blobs_read_back_and_missing_ones_say_so` cannot do
/// through the traits: a blob row that went away, or that does not read back
/// whole.
#[test]
fn vanished_or_corrupt_blobs_say_so() {
    let (_dir, path, store) = fresh();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let id = store.submit(&new_entry("t", 1.0), &bytes).unwrap();
    let entry = only(&store, &id);
    assert_eq!(store.read_blob(&entry, ANY_SIZE).unwrap(), bytes);
    let with_ref = |r: &str| CacheEntry { blob_ref: Some(r.into()), ..entry.clone() };
    assert!(matches!(store.read_blob(&with_ref("not-a-row"), ANY_SIZE), Err(BlobError::Missing(_))));
    raw(&path).execute("DELETE FROM blobs WHERE id = ?1", [entry.blob_ref.as_deref().unwrap()]).unwrap();
    assert!(matches!(store.read_blob(&entry, ANY_SIZE), Err(BlobError::Missing(_))));

    // A blob that does not read back whole.
    let id = store.submit(&new_entry("t", 2.0), b"abcdef").unwrap();
    let entry = only(&store, &id);
    raw(&path)
        .execute("UPDATE blobs SET bytes = X'616263' WHERE id = ?1", [entry.blob_ref.as_deref().unwrap()])
        .unwrap();
    match store.read_blob(&entry, ANY_SIZE) {
        Err(BlobError::Corrupt(reason)) => assert!(reason.contains("3 bytes"), "{reason}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// The limit is decided from the recorded size: a row that claims a
/// terabyte is refused without its bytes being read (they would not match).
#[test]
fn an_oversized_blob_is_refused_from_its_recorded_size() {
    let (_dir, path, store) = fresh();
    let id = store.submit(&new_entry("t", 1.0), b"abcdef").unwrap();
    let entry = only(&store, &id);
    raw(&path)
        .execute("UPDATE blobs SET size = ?1 WHERE id = ?2", params![1i64 << 40, entry.blob_ref.as_deref().unwrap()])
        .unwrap();
    match store.read_blob(&entry, 1 << 20) {
        Err(BlobError::TooLarge { size, limit }) => assert_eq!((size, limit), (1 << 40, 1 << 20)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
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
    assert_store_error(store.claim_batch("w", &query(1)), StoreErrorKind::Unavailable, "busy timeout");
    // It waited for the lock (and returned, so not for ever).
    assert!(started.elapsed() >= Duration::from_millis(90), "{:?}", started.elapsed());
    assert_store_error(store.store(&doc("h")), StoreErrorKind::Unavailable, "busy timeout");
    // Readers are not blocked by a writer in WAL mode.
    assert_eq!(store.queue_depth().unwrap().waiting, 1);
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(store.claim_batch("w", &query(1)).unwrap().len(), 1);
}
