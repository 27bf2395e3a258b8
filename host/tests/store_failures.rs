//! A failure of the database itself is not an outcome (reference §5):
//! nothing is marked, the entry is released, and a later pass finishes it
//! without storing anything twice.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cybexp_test_kit::wait_for;

use cybexp_archive::pipeline::{Pipeline, Processor};
use cybexp_keys::{Keyring, PrivateKey};
use cybexp_lake::{
    ArchiveStore, BatchQuery, BlobError, CacheEntry, CacheLake, ChangeFeed, EntryFilter, EntryId, Finished,
    ForeignClaims, GroupWriter, LakeAdmin, NewEntry, Outcome, RawDocument, StoreError, StoreErrorKind, Stored,
};
use cybexp_store_sqlite::SqliteStore;

/// A real SQLite store with switches that make one operation fail.
struct Flaky {
    inner: SqliteStore,
    fail_claim: AtomicBool,
    fail_blob: AtomicBool,
    fail_store: AtomicBool,
    fail_outcomes: AtomicBool,
}

fn down(on: &AtomicBool) -> Result<(), StoreError> {
    if on.load(Ordering::SeqCst) { Err(StoreError::unavailable("flaky", "connection refused")) } else { Ok(()) }
}

impl CacheLake for Flaky {
    fn describe(&self) -> String {
        "flaky".into()
    }
    fn claim_batch(&self, worker: &str, query: &BatchQuery) -> Result<Vec<CacheEntry>, StoreError> {
        down(&self.fail_claim)?;
        self.inner.claim_batch(worker, query)
    }
    fn read_blob(&self, entry: &CacheEntry, max_bytes: u64) -> Result<Vec<u8>, BlobError> {
        down(&self.fail_blob)?;
        self.inner.read_blob(entry, max_bytes)
    }
    fn apply_outcomes(&self, outcomes: &[(EntryId, Outcome)]) -> Result<(), StoreError> {
        down(&self.fail_outcomes)?;
        self.inner.apply_outcomes(outcomes)
    }
    fn release(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        self.inner.release(ids)
    }
    fn renew(&self, worker: &str, ids: &[EntryId]) -> Result<(), StoreError> {
        self.inner.renew(worker, ids)
    }
    fn foreign_claims(&self, worker: &str, query: &BatchQuery) -> Result<ForeignClaims, StoreError> {
        down(&self.fail_claim)?;
        self.inner.foreign_claims(worker, query)
    }
    fn expire_claims(&self, owners: &[String]) -> Result<u64, StoreError> {
        self.inner.expire_claims(owners)
    }
    fn changes(&self) -> Box<dyn ChangeFeed> {
        self.inner.changes()
    }
}

/// The archive and the lake written apart, so either can fail alone.
impl GroupWriter for Flaky {
    fn write_group(&self, group: &[(EntryId, Finished)]) -> Result<Vec<Outcome>, StoreError> {
        cybexp_lake::write_separately(self, self, group)
    }
}

impl ArchiveStore for Flaky {
    fn describe(&self) -> String {
        "flaky".into()
    }
    fn store_batch(&self, docs: &[RawDocument]) -> Result<Vec<Stored>, StoreError> {
        down(&self.fail_store)?;
        self.inner.store_batch(docs)
    }
    fn count(&self) -> Result<u64, StoreError> {
        self.inner.count()
    }
    fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping()
    }
    fn for_each_document(&self, visit: &mut dyn FnMut(RawDocument) -> ControlFlow<()>) -> Result<(), StoreError> {
        self.inner.for_each_document(visit)
    }
}

const ENTRIES: usize = 12;

/// The shared test key.
fn test_key() -> PrivateKey {
    PrivateKey::from_pem(&cybexp_test_kit::shared_text("vectors/envelope_rsa2048/priv.pem")).unwrap()
}

/// [`ENTRIES`] URL-feed entries sealed for `key`.
fn submit_feeds(store: &SqliteStore, key: &PrivateKey) {
    for i in 0..ENTRIES {
        let text = format!("http://host{i}.example/phish\n");
        let blob = cybexp_keys::legacy::encrypt(key.public_key(), text.as_bytes()).unwrap();
        let entry = NewEntry {
            name: format!("feed-{i}"),
            orgid: "org".into(),
            typtag: "openphish_feed".into(),
            timezone: "UTC".into(),
            timestamp: i as f64,
        };
        store.submit(&entry, &blob).unwrap();
    }
}

fn setup() -> (tempfile::TempDir, Arc<Flaky>, Pipeline) {
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let store = Arc::new(Flaky {
        inner: SqliteStore::open(dir.path().join("flaky.db")).unwrap(),
        fail_claim: AtomicBool::new(false),
        fail_blob: AtomicBool::new(false),
        fail_store: AtomicBool::new(false),
        fail_outcomes: AtomicBool::new(false),
    });
    submit_feeds(&store.inner, &key);
    let processor = Processor::with_builtin_parsers(Keyring::from(vec![key])).unwrap();
    let pipeline = Pipeline::on_one_store(store.clone(), processor, 2, 5);
    (dir, store, pipeline)
}

fn query() -> BatchQuery {
    BatchQuery { limit: 100, ..BatchQuery::default() }
}

/// A `once` run in the archiver's own trouble: what it worked went back
/// for a retry, nothing got an outcome, and it stopped rather than spin (it
/// returned). An entry released early may have been claimed and released
/// again before the run saw the trouble, so retries are not one per entry.
fn assert_all_went_back(summary: &cybexp_archive::pipeline::Summary) {
    assert!(summary.retried > 0, "{summary:?}");
    assert_eq!((summary.processed(), summary.error), (0, 0), "{summary:?}");
}

/// Nothing marked, nothing claimed: every entry is waiting again.
fn assert_untouched(store: &Flaky) {
    let entries = store.inner.entries(&EntryFilter::default()).unwrap();
    assert_eq!(entries.len(), ENTRIES);
    for entry in &entries {
        assert!(!entry.processed && !entry.skip && entry.state.is_none(), "{entry:?}");
    }
    assert_eq!(store.inner.queue_depth().unwrap().waiting, ENTRIES as u64);
}

fn finish_and_check(store: &Flaky, pipeline: &Pipeline) {
    let summary = pipeline.run_until_empty(&query(), |_| {}).unwrap();
    assert_eq!(summary.success, ENTRIES as u64, "{summary:?}");
    assert_eq!(store.count().unwrap(), ENTRIES as u64, "no document stored twice");
    assert!(store.inner.entries(&EntryFilter::default()).unwrap().iter().all(|e| e.processed && e.refs.len() == 1));
}

#[test]
fn archive_down_marks_nothing_and_releases_the_entries() {
    let (_dir, store, pipeline) = setup();
    store.fail_store.store(true, Ordering::SeqCst);
    assert_all_went_back(&pipeline.run_until_empty(&query(), |_| {}).unwrap());
    assert_untouched(&store);
    assert_eq!(store.count().unwrap(), 0);
    store.fail_store.store(false, Ordering::SeqCst);
    finish_and_check(&store, &pipeline);
}

#[test]
fn lake_down_after_the_store_leaves_entries_for_a_retry_without_duplicates() {
    let (_dir, store, pipeline) = setup();
    store.fail_outcomes.store(true, Ordering::SeqCst);
    assert_all_went_back(&pipeline.run_until_empty(&query(), |_| {}).unwrap());
    assert_untouched(&store);
    assert!(store.count().unwrap() > 0, "documents were stored before the outcomes failed");
    store.fail_outcomes.store(false, Ordering::SeqCst);
    finish_and_check(&store, &pipeline);
}

#[test]
fn unreadable_blob_store_is_a_retry_not_bad_data() {
    let (_dir, store, pipeline) = setup();
    store.fail_blob.store(true, Ordering::SeqCst);
    assert_all_went_back(&pipeline.run_until_empty(&query(), |_| {}).unwrap());
    assert_untouched(&store);
    store.fail_blob.store(false, Ordering::SeqCst);
    finish_and_check(&store, &pipeline);
}

#[test]
fn failed_poll_is_an_error_for_once_and_marks_nothing() {
    let (_dir, store, pipeline) = setup();
    store.fail_claim.store(true, Ordering::SeqCst);
    let error = pipeline.run_until_empty(&query(), |_| {}).unwrap_err();
    assert_eq!((error.backend, error.kind), ("flaky", StoreErrorKind::Unavailable), "{error}");
    assert_untouched(&store);
    store.fail_claim.store(false, Ordering::SeqCst);
    finish_and_check(&store, &pipeline);
}

#[test]
fn the_daemon_loop_survives_an_outage_and_resumes_by_itself() {
    let (_dir, store, pipeline) = setup();
    store.fail_claim.store(true, Ordering::SeqCst);
    let pipeline = Arc::new(pipeline);
    let states = Arc::new(std::sync::Mutex::new(Vec::new()));
    let daemon = {
        let (pipeline, states) = (pipeline.clone(), states.clone());
        std::thread::spawn(move || {
            pipeline
                .run_forever(&query(), |state| states.lock().unwrap().push((state.failures, state.last_error.clone())))
        })
    };
    // The first poll fails: failure count 1, error recorded, nothing marked.
    wait_for("a poll", Duration::from_secs(20), |_| (!states.lock().unwrap().is_empty()).then_some(()));
    let (failures, error) = states.lock().unwrap()[0].clone();
    assert_eq!(failures, 1);
    assert!(error.unwrap().contains("connection refused"));
    assert_untouched(&store);
    // The store comes back: the next poll (after 2^1 + U(0,1) s) does the work.
    store.fail_claim.store(false, Ordering::SeqCst);
    wait_for("the loop to resume and finish", Duration::from_secs(20), |seen| {
        let waiting = store.inner.queue_depth().unwrap().waiting;
        *seen = format!("{waiting} waiting");
        (waiting == 0).then_some(())
    });
    pipeline.shutdown.store(true, Ordering::SeqCst);
    daemon.join().unwrap();
    assert_eq!(store.count().unwrap(), ENTRIES as u64);
    assert!(states.lock().unwrap().iter().any(|(failures, error)| *failures == 0 && error.is_none()));
}

#[test]
fn an_exhausted_sandbox_pool_releases_entries_and_marks_none_error() {
    use cybexp_sandbox::{EngineOptions, Limits, ParseInput, Sandbox};
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let store = Arc::new(SqliteStore::open(dir.path().join("pool.db")).unwrap());
    submit_feeds(&store, &key);
    // One pool slot, held by a parser that spins until its deadline.
    let mut sandbox = Sandbox::new(EngineOptions { max_live_instances: 1, ..EngineOptions::default() }).unwrap();
    sandbox.load_builtin_parsers(|_| Limits::default()).unwrap();
    let hostile = std::path::Path::new(cybexp_sandbox::TEST_GUESTS_DIR).join("hostile.component.wasm");
    sandbox.load_file("hog", &hostile, Limits { fuel: u64::MAX / 2, deadline_ms: 3_000, ..Limits::default() }).unwrap();
    let processor =
        Processor { keyring: Keyring::from(vec![key]), sandbox, routes: cybexp_archive::pipeline::builtin_routes() };
    let pipeline = Pipeline::on_one_store(store.clone(), processor, 4, 100);
    std::thread::scope(|scope| {
        let hog = scope.spawn(|| {
            let input = ParseInput { typtag: "t", orgid: "o", timezone: "UTC", sub_type: "loop", plaintext: "" };
            pipeline.processor().sandbox.parse("hog", &input).0
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_all_went_back(&pipeline.run_until_empty(&query(), |_| {}).unwrap());
        let entries = store.entries(&EntryFilter::default()).unwrap();
        assert!(entries.iter().all(|e| !e.processed && !e.skip && e.state.is_none()), "{entries:?}");
        assert!(hog.join().unwrap().is_err());
    });
    let summary = pipeline.run_until_empty(&query(), |_| {}).unwrap();
    assert_eq!((summary.success, summary.error), (ENTRIES as u64, 0), "{summary:?}");
}
