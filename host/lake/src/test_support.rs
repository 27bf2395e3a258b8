//! The store conformance suite: the contract every
//! backend keeps behind [`LakeAdmin`] and [`ArchiveStore`] (reference §1,
//! §4, §5), written once. A backend's tests implement [`Fixture`] and call
//! [`store_conformance_tests!`](crate::store_conformance_tests), which makes
//! one `#[test]` per check, named after it; what only one backend does (its
//! columns or raw documents, GridFS damage, schema, file modes, processes)
//! stays in that backend's own tests, which may use the helpers here.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::{
    ArchiveStore, BatchQuery, BlobError, CacheEntry, CacheLake, EntryFilter, EntryId, EntryState, ErrorCause,
    LakeAdmin, NewEntry, Outcome, QueueDepth, RawDocument, RequeueFilter, Requeued, StoreError, StoreErrorKind, Stored,
};

/// The lease of [`Fixture::open`] unless a check needs a short one.
pub const LEASE: Duration = Duration::from_secs(300);
/// A `read_blob` limit no test blob reaches.
pub const ANY_SIZE: u64 = u64::MAX;

/// One backend's store for one check: empty when the check starts.
pub trait Fixture {
    type Lake: LakeAdmin + Clone + 'static;
    type Archive: ArchiveStore;

    /// [`StoreError::backend`] of this backend's errors.
    const BACKEND: &'static str;

    /// A handle on this fixture's store, with claims leased for `lease`.
    /// Every call opens another one on the same data, as another process
    /// would (its own connections, no state shared with the others).
    fn open(&self, lease: Duration) -> (Self::Lake, Self::Archive);

    /// An id in this backend's format (for entries and blobs alike) that
    /// names nothing.
    fn absent_id(&self) -> EntryId;

    /// An id that is not in this backend's format, and a phrase the error
    /// about it contains.
    fn malformed_id(&self) -> (EntryId, &'static str);

    /// The owner of the claim on `id` as the store recorded it (read past the
    /// traits, and checked to be complete: expiry, token...); `None` when
    /// the entry carries no claim.
    fn claim_owner(&self, id: &EntryId) -> Option<String>;

    /// Asserts that the store's own record of `entry` (read past the traits)
    /// says what the trait read back, in the backend's encoding.
    fn assert_recorded_as(&self, entry: &CacheEntry);

    /// Adds many entries; backends may write them faster than `submit`.
    fn submit_many(&self, entries: &[(NewEntry, Vec<u8>)]) -> Vec<EntryId> {
        let (lake, _) = self.open(LEASE);
        entries.iter().map(|(entry, blob)| lake.submit(entry, blob).unwrap()).collect()
    }
}

/// One `#[test]` per conformance check, in a module `conformance`, for the
/// fixtures `$fixture` makes: a function or closure taking the check's name
/// and giving `Some(fixture)`, or `None` when the backend cannot run here
/// (it says so itself, e.g. a loud SKIPPED line).
#[macro_export]
macro_rules! store_conformance_tests {
    ($fixture:expr) => {
        $crate::store_conformance_tests!(@checks $fixture;
            success_marks_processed_and_adds_the_hash_once,
            not_supported_marks_skip,
            error_records_state_short_error_and_cause,
            failures_in_one_group_mark_skip_state_error_and_cause,
            forced_reprocess_that_succeeds_clears_skip_state_and_error,
            a_late_failure_never_downgrades_a_processed_entry,
            unknown_entries,
            claims_are_oldest_first_limited_and_released,
            typtag_and_include_skipped_filters,
            an_expired_lease_comes_back,
            a_renewed_lease_holds_and_foreign_claims_are_listed_and_expired,
            claims_are_exclusive_across_handles_and_threads,
            unskip_queues_skipped_entries_again_and_shows_the_cause,
            requeue_filters_select_exactly_the_matching_skipped_entries,
            requeue_keeps_a_bounded_history_of_what_it_cleared,
            entry_filters_and_queue_depth,
            queue_depth_dates_the_oldest_waiting_entry,
            an_entry_is_found_by_its_id,
            blobs_read_back_and_missing_ones_say_so,
            a_blob_over_the_limit_is_too_large,
            duplicate_documents_are_already_present,
            the_archive_answers_a_ping_and_it_changes_nothing,
            a_nan_timestamp_is_refused,
            a_crash_between_store_and_outcome_is_retried_safely,
        );
    };
    (@checks $fixture:expr; $($check:ident),* $(,)?) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $check() {
                    if let Some(fixture) = ($fixture)(stringify!($check)) {
                        $crate::test_support::$check(&fixture);
                    }
                }
            )*
        }
    };
}

// Helpers, also for the backends' own tests.

pub fn new_entry(typtag: &str, timestamp: f64) -> NewEntry {
    NewEntry {
        name: format!("input-{typtag}"),
        orgid: "org-hash".into(),
        typtag: typtag.into(),
        timezone: "UTC".into(),
        timestamp,
    }
}

/// A raw document; its `data_json` is in the compact form every backend
/// reads back unchanged.
pub fn document(hash: &str) -> RawDocument {
    RawDocument {
        sub_type: "unr_honeypot".into(),
        data_json: format!(r#"{{"h":"{hash}","n":NaN}}"#),
        orgid: "org-hash".into(),
        timezone: "UTC".into(),
        hash: hash.into(),
    }
}

pub fn query(limit: usize) -> BatchQuery {
    BatchQuery { limit, ..BatchQuery::default() }
}

/// The `--force` query: skipped entries too.
pub fn force(limit: usize) -> BatchQuery {
    BatchQuery { limit, include_skipped: true, typtag: None }
}

pub fn ids(entries: &[CacheEntry]) -> Vec<EntryId> {
    entries.iter().map(|e| e.id.clone()).collect()
}

/// The entry `id` as `dump cache` lists it, checked against the store's own
/// record of it.
pub fn entry<F: Fixture>(fixture: &F, lake: &F::Lake, id: &EntryId) -> CacheEntry {
    let entry = lake.entries(&EntryFilter::default()).unwrap().into_iter().find(|e| &e.id == id);
    let entry = entry.unwrap_or_else(|| panic!("no entry {id} listed"));
    fixture.assert_recorded_as(&entry);
    entry
}

/// Asserts that `result` is a [`StoreError`] of `backend` and `kind` whose
/// message contains `needle`.
pub fn assert_store_error<T: Debug>(
    result: Result<T, StoreError>,
    backend: &str,
    kind: StoreErrorKind,
    needle: &str,
) -> StoreError {
    let err = result.expect_err("expected a StoreError");
    assert_eq!(err.backend, backend, "{err}");
    assert_eq!(err.kind, kind, "{err}");
    assert!(err.to_string().contains(needle), "{err} does not mention {needle:?}");
    err
}

/// Four threads, spread over `handles` (as separate processes would hold
/// them), claim `batch` entries at a time until nothing is left. Asserts
/// that no entry went to two of them and that together they claimed exactly
/// `all`; returns how many each claimed.
pub fn assert_claims_are_exclusive<L>(handles: &[L], batch: usize, all: &HashSet<EntryId>) -> Vec<usize>
where
    L: CacheLake + Clone + 'static,
{
    const THREADS: usize = 4;
    let barrier = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|n| {
            let lake = handles[n % handles.len()].clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let query = BatchQuery { limit: batch, ..BatchQuery::default() };
                let mut mine = Vec::new();
                loop {
                    let claimed = lake.claim_batch(&format!("w{n}"), &query).unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|e| e.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut counts = Vec::new();
    for worker in workers {
        let mine = worker.join().unwrap();
        counts.push(mine.len());
        for id in mine {
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(&seen, all, "every entry claimed exactly once");
    counts
}

// The checks.

pub fn success_marks_processed_and_adds_the_hash_once<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let id = lake.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    assert_eq!(f.claim_owner(&id), None, "not claimed yet");
    let claimed = lake.claim_batch("w1", &query(10)).unwrap();
    assert_eq!(ids(&claimed), vec![id.clone()]);
    assert_eq!(f.claim_owner(&id).as_deref(), Some("w1"));

    let success = Outcome::Success { hash: "h1".into() };
    lake.apply_outcome(&id, &success).unwrap();
    let e = entry(f, &lake, &id);
    assert!(e.processed);
    assert!(!e.skip);
    assert_eq!((e.state, e.error, e.cause), (None, None, None));
    assert_eq!(e.refs, ["h1"]);
    assert_eq!(f.claim_owner(&id), None, "the outcome dropped the claim");

    // $addToSet: the same hash again changes nothing, a new one is appended.
    lake.apply_outcome(&id, &success).unwrap();
    assert_eq!(entry(f, &lake, &id).refs, ["h1"]);
    lake.apply_outcome(&id, &Outcome::Success { hash: "h2".into() }).unwrap();
    lake.apply_outcome(&id, &success).unwrap();
    assert_eq!(entry(f, &lake, &id).refs, ["h1", "h2"]);
    lake.apply_outcomes(&[]).unwrap();

    // Processed entries are never claimed, even in --force mode.
    assert!(lake.claim_batch("w1", &force(10)).unwrap().is_empty());
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 0, skipped: 0, oldest_waiting_at: None });
}

pub fn not_supported_marks_skip<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let id = lake.submit(&new_entry("mystery", 1.0), b"blob").unwrap();
    lake.claim_batch("w1", &query(10)).unwrap();
    lake.apply_outcome(&id, &Outcome::NotSupported).unwrap();
    let e = entry(f, &lake, &id);
    assert!(!e.processed);
    assert!(e.skip);
    assert_eq!(e.state.as_deref(), Some("not_supported"));
    assert_eq!((e.error, e.cause), (None, None));
    assert!(e.refs.is_empty());
    assert_eq!(f.claim_owner(&id), None);
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 0, skipped: 1, oldest_waiting_at: None });

    // Skipped entries wait for an operator: only --force takes them, and at
    // once, since the outcome dropped the claim.
    assert!(lake.claim_batch("w1", &query(10)).unwrap().is_empty());
    assert_eq!(ids(&lake.claim_batch("w2", &force(10)).unwrap()), vec![id]);
}

pub fn error_records_state_short_error_and_cause<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let id = lake.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    lake.claim_batch("w1", &query(10)).unwrap();
    let long = "é".repeat(300);
    let outcome = Outcome::Error { cause: ErrorCause::Decrypt("auth".into()), message: long };
    lake.apply_outcome(&id, &outcome).unwrap();
    let e = entry(f, &lake, &id);
    assert!(!e.processed);
    assert!(e.skip);
    assert_eq!(e.state.as_deref(), Some("decrypt_failed"));
    assert_eq!(e.error.as_deref().map(|e| e.chars().count()), Some(Outcome::MAX_ERROR_CHARS));
    assert_eq!(e.error, outcome.short_error());
    assert_eq!(e.cause.as_deref(), Some("decrypt.auth"));
    assert_eq!(f.claim_owner(&id), None);

    for (cause, state, code) in [
        (ErrorCause::MissingBlob, "bad_data", "blob.missing"),
        (ErrorCause::CorruptBlob, "bad_data", "blob.corrupt"),
        (ErrorCause::OversizedBlob, "bad_data", "blob.too_large"),
        (ErrorCause::Unstorable, "bad_data", "archive.refused"),
        (ErrorCause::Parser("fuel".into()), "parse_failed", "parser.fuel"),
    ] {
        lake.apply_outcome(&id, &Outcome::Error { cause, message: "m".into() }).unwrap();
        let e = entry(f, &lake, &id);
        assert_eq!(e.state.as_deref(), Some(state));
        assert_eq!(e.cause.as_deref(), Some(code));
        assert_eq!(e.error.as_deref(), Some("m"));
    }
}

/// Several outcomes in one group, as the pipeline writes them.
pub fn failures_in_one_group_mark_skip_state_error_and_cause<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let unsupported = lake.submit(&new_entry("mystery", 1.0), b"blob").unwrap();
    let failed = lake.submit(&new_entry("unr-honeypot", 2.0), b"blob").unwrap();
    lake.claim_batch("w1", &query(10)).unwrap();
    let long = "é".repeat(300);
    let error = Outcome::Error { cause: ErrorCause::Decrypt("auth".into()), message: long };
    lake.apply_outcomes(&[(unsupported.clone(), Outcome::NotSupported), (failed.clone(), error.clone())]).unwrap();

    let e = entry(f, &lake, &unsupported);
    assert!(e.skip && !e.processed);
    assert_eq!(e.state.as_deref(), Some("not_supported"));
    assert_eq!((e.error, e.cause), (None, None));
    assert_eq!(f.claim_owner(&unsupported), None);

    let e = entry(f, &lake, &failed);
    assert!(e.skip && !e.processed);
    assert_eq!(e.state.as_deref(), Some("decrypt_failed"));
    assert_eq!(e.error, error.short_error());
    assert_eq!(e.error.as_deref().map(|e| e.chars().count()), Some(Outcome::MAX_ERROR_CHARS));
    assert_eq!(e.cause.as_deref(), Some("decrypt.auth"));
    assert_eq!(f.claim_owner(&failed), None);
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 0, skipped: 2, oldest_waiting_at: None });

    // Skipped entries wait for an operator: only --force takes them.
    assert!(lake.claim_batch("w1", &query(10)).unwrap().is_empty());
    assert_eq!(ids(&lake.claim_batch("w2", &force(10)).unwrap()), vec![unsupported, failed.clone()]);

    // A forced reprocess that succeeds clears the failure.
    lake.apply_outcome(&failed, &Outcome::Success { hash: "h".into() }).unwrap();
    let e = entry(f, &lake, &failed);
    assert!(e.processed && !e.skip);
    assert_eq!((e.state, e.error, e.cause), (None, None, None));
}

pub fn forced_reprocess_that_succeeds_clears_skip_state_and_error<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let id = lake.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    lake.claim_batch("w1", &query(1)).unwrap();
    let failure = Outcome::Error { cause: ErrorCause::Parser("invalid_input".into()), message: "bad".into() };
    lake.apply_outcome(&id, &failure).unwrap();
    let parse_failed = EntryFilter { state: Some(EntryState::State("parse_failed".into())), id: None };
    assert_eq!(ids(&lake.entries(&parse_failed).unwrap()), vec![id.clone()]);

    assert_eq!(ids(&lake.claim_batch("w1", &force(1)).unwrap()), vec![id.clone()]);
    lake.apply_outcome(&id, &Outcome::Success { hash: "h".into() }).unwrap();
    let e = entry(f, &lake, &id);
    assert!(e.processed);
    assert!(!e.skip);
    assert_eq!((e.state, e.error, e.cause), (None, None, None));
    assert_eq!(lake.entries(&parse_failed).unwrap(), vec![]);
}

/// A worker whose lease ran out while another one succeeded reports a
/// failure late: it only drops the claim.
pub fn a_late_failure_never_downgrades_a_processed_entry<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let id = lake.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    assert_eq!(ids(&lake.claim_batch("slow", &query(1)).unwrap()), vec![id.clone()]);
    lake.apply_outcome(&id, &Outcome::Success { hash: "h".into() }).unwrap();
    assert!(lake.claim_batch("late", &query(1)).unwrap().is_empty(), "it is processed");
    let late = Outcome::Error { cause: ErrorCause::Parser("deadline".into()), message: "slow".into() };
    lake.apply_outcome(&id, &late).unwrap();
    lake.apply_outcome(&id, &Outcome::NotSupported).unwrap();
    lake.apply_outcomes(&[(id.clone(), late), (id.clone(), Outcome::NotSupported)]).unwrap();
    let e = entry(f, &lake, &id);
    assert!(e.processed);
    assert!(!e.skip);
    assert_eq!((e.state, e.error, e.cause, e.refs), (None, None, None, vec!["h".to_string()]));
    assert_eq!(f.claim_owner(&id), None);
}

pub fn unknown_entries<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let known = lake.submit(&new_entry("t", 1.0), b"x").unwrap();
    let absent = f.absent_id();
    let refused = StoreErrorKind::Refused;
    let needle = format!("no entry {absent}");
    assert_store_error(lake.apply_outcome(&absent, &Outcome::NotSupported), F::BACKEND, refused, &needle);
    let group = [(known, Outcome::Success { hash: "h".into() }), (absent.clone(), Outcome::NotSupported)];
    assert_store_error(lake.apply_outcomes(&group), F::BACKEND, refused, &needle);
    let (malformed, what) = f.malformed_id();
    assert_store_error(lake.apply_outcome(&malformed, &Outcome::NotSupported), F::BACKEND, refused, what);
    // Giving back what is not held is harmless.
    lake.release(std::slice::from_ref(&absent)).unwrap();
}

pub fn claims_are_oldest_first_limited_and_released<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let c = lake.submit(&new_entry("t", 30.0), b"c").unwrap();
    let a = lake.submit(&new_entry("t", 10.0), b"a").unwrap();
    let b1 = lake.submit(&new_entry("t", 20.0), b"b1").unwrap();
    let b2 = lake.submit(&new_entry("t", 20.0), b"b2").unwrap(); // same time: id order
    assert!(lake.claim_batch("w", &query(0)).unwrap().is_empty());

    let first = lake.claim_batch("w", &query(3)).unwrap();
    assert_eq!(ids(&first), vec![a, b1.clone(), b2]);
    assert_eq!(first[0].typtag, "t");
    assert_eq!(first[0].timestamp, 10.0);
    assert!(!first[0].processed);
    assert_eq!(ids(&lake.claim_batch("w", &query(3)).unwrap()), vec![c]);
    assert!(lake.claim_batch("w", &query(3)).unwrap().is_empty());
    // Claimed entries still count as waiting.
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 4, skipped: 0, oldest_waiting_at: Some(10.0) });

    lake.release(std::slice::from_ref(&b1)).unwrap();
    assert_eq!(f.claim_owner(&b1), None);
    assert_eq!(ids(&lake.claim_batch("w", &query(3)).unwrap()), vec![b1]);
}

pub fn typtag_and_include_skipped_filters<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let honey = lake.submit(&new_entry("unr-honeypot", 1.0), b"h").unwrap();
    let phish = lake.submit(&new_entry("openphish_feed", 2.0), b"p").unwrap();
    let skipped = lake.submit(&new_entry("unr-honeypot", 0.5), b"s").unwrap();
    lake.apply_outcome(&skipped, &Outcome::NotSupported).unwrap();

    let only_phish = BatchQuery { limit: 10, include_skipped: false, typtag: Some("openphish_feed".into()) };
    assert_eq!(ids(&lake.claim_batch("w", &only_phish).unwrap()), vec![phish]);

    let honey_forced = BatchQuery { limit: 10, include_skipped: true, typtag: Some("unr-honeypot".into()) };
    assert_eq!(ids(&lake.claim_batch("w", &honey_forced).unwrap()), vec![skipped, honey]);
    assert!(lake.claim_batch("w", &force(10)).unwrap().is_empty());
}

/// A crashed archiver's claim comes back to another one once its lease
/// runs out, and not before. Two claims, so that each assertion holds
/// however slow the run: one under a lease no run outlives (it must hold),
/// one under a short lease (it must come back).
pub fn an_expired_lease_comes_back<F: Fixture>(f: &F) {
    let lease = Duration::from_millis(1500);
    let (first, _) = f.open(lease);
    let (holding, _) = f.open(LONG_LEASE);
    let (second, _) = f.open(lease);
    let held = first.submit(&new_entry("t", 1.0), b"x").unwrap();
    let id = first.submit(&new_entry("t", 2.0), b"y").unwrap();
    assert_eq!(ids(&holding.claim_batch("crashed", &query(1)).unwrap()), vec![held.clone()]);
    let claimed_at = Instant::now();
    assert_eq!(ids(&first.claim_batch("crashed", &query(5)).unwrap()), vec![id.clone()]);
    assert_eq!(f.claim_owner(&id).as_deref(), Some("crashed"));
    thread::sleep(Duration::from_millis(1600).saturating_sub(claimed_at.elapsed()));
    assert_eq!(ids(&second.claim_batch("other", &query(5)).unwrap()), vec![id.clone()], "a live lease holds its entry");
    assert_eq!(f.claim_owner(&id).as_deref(), Some("other"));
    assert_eq!(f.claim_owner(&held).as_deref(), Some("crashed"));
}

/// A lease no test run outlives: what it holds must stay held.
const LONG_LEASE: Duration = Duration::from_secs(600);

pub fn a_renewed_lease_holds_and_foreign_claims_are_listed_and_expired<F: Fixture>(f: &F) {
    let lease = Duration::from_millis(1500);
    let (mine, _) = f.open(lease);
    let (other, _) = f.open(lease);
    let held = mine.submit(&new_entry("t", 1.0), b"x").unwrap();
    let dead = mine.submit(&new_entry("t", 2.0), b"y").unwrap();
    let free = mine.submit(&new_entry("t", 3.0), b"z").unwrap();
    assert_eq!(ids(&mine.claim_batch("alive", &query(1)).unwrap()), vec![held.clone()]);
    assert_eq!(ids(&other.claim_batch("dead", &query(1)).unwrap()), vec![dead.clone()]);
    let started = Instant::now();

    // Each sees the other's claim, with its expiry; its own is not listed.
    let seen = other.foreign_claims("dead", &query(10)).unwrap();
    assert_eq!(seen.owners, ["alive"]);
    let expiry = seen.next_expiry_in.expect("a live claim has an expiry");
    assert!(expiry > Duration::ZERO && expiry <= lease, "runs out within the lease: in {expiry:?}");
    let seen = mine.foreign_claims("alive", &query(10)).unwrap();
    assert_eq!(seen.owners, ["dead"]);
    assert_eq!(mine.foreign_claims("nobody", &query(10)).unwrap().owners, ["alive", "dead"]);
    assert_eq!(
        mine.foreign_claims("x", &BatchQuery { typtag: Some("other".into()), ..query(10) }).unwrap(),
        Default::default()
    );

    // The dead owner's claim ends at once when expired, whatever its lease.
    assert_eq!(mine.expire_claims(&["dead".to_owned()]).unwrap(), 1);
    assert_eq!(f.claim_owner(&dead), None);
    assert_eq!(f.claim_owner(&held).as_deref(), Some("alive"), "only the named owner's claims end");
    assert_eq!(mine.expire_claims(&[]).unwrap(), 0);

    // Renewing (by a handle whose lease no run outlives) keeps "alive"'s
    // claim past its first lease; renewing entries it does not hold (now
    // free) changes nothing.
    let (renewing, _) = f.open(LONG_LEASE);
    renewing.renew("alive", &[held.clone(), dead.clone(), free.clone()]).unwrap();
    assert_eq!(f.claim_owner(&free), None, "renew does not claim");
    thread::sleep(Duration::from_millis(1600).saturating_sub(started.elapsed()));
    let after = ids(&other.claim_batch("third", &query(10)).unwrap());
    assert_eq!(after, vec![dead.clone(), free.clone()], "a renewed claim holds past the first lease");
    assert_eq!(f.claim_owner(&held).as_deref(), Some("alive"));
}

pub fn claims_are_exclusive_across_handles_and_threads<F: Fixture>(f: &F) {
    const ENTRIES: usize = 400;
    let entries: Vec<_> = (0..ENTRIES).map(|i| (new_entry("t", i as f64), b"blob".to_vec())).collect();
    let all: HashSet<EntryId> = f.submit_many(&entries).into_iter().collect();
    assert_eq!(all.len(), ENTRIES);
    // Two handles (as two processes would have), two threads on each.
    let handles = [f.open(LEASE).0, f.open(LEASE).0];
    let counts = assert_claims_are_exclusive(&handles, 7, &all);
    assert_eq!(counts.iter().sum::<usize>(), ENTRIES);
    println!("claims per thread: {counts:?}");
}

pub fn unskip_queues_skipped_entries_again_and_shows_the_cause<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let a = lake.submit(&new_entry("misp", 1.0), b"blob").unwrap();
    let b = lake.submit(&new_entry("other", 2.0), b"blob").unwrap();
    let done = lake.submit(&new_entry("misp", 3.0), b"blob").unwrap();
    lake.claim_batch("w", &query(10)).unwrap();
    let error = Outcome::Error { cause: ErrorCause::Decrypt("auth".into()), message: "auth: tag mismatch".into() };
    lake.apply_outcome(&a, &error).unwrap();
    lake.apply_outcome(&b, &Outcome::NotSupported).unwrap();
    lake.apply_outcome(&done, &Outcome::Success { hash: "h".into() }).unwrap();
    assert_eq!(entry(f, &lake, &a).cause.as_deref(), Some("decrypt.auth"));

    assert_eq!(lake.unskip(Some("misp")).unwrap(), 1, "only the skipped misp entry");
    let e = entry(f, &lake, &a);
    assert!(!e.skip && e.state.is_none() && e.error.is_none() && e.cause.is_none());
    assert!(entry(f, &lake, &b).skip, "other typtags stay skipped");
    assert!(entry(f, &lake, &done).processed, "processed entries are untouched");
    assert_eq!(ids(&lake.claim_batch("w", &query(10)).unwrap()), vec![a]);

    assert_eq!(lake.unskip(None).unwrap(), 1);
    assert!(!entry(f, &lake, &b).skip);
    assert_eq!(lake.unskip(None).unwrap(), 0);
}

/// A requeue (by id, as `requeue` does, or by typtag, as `once --force`
/// does) clears `skip`, `state`, `error` and `cause` as before, and keeps
/// what it cleared in `requeued`: oldest first, the last
/// [`Requeued::KEEP`], each with the store's time. What is not skipped gains
/// nothing; outcomes after a requeue leave the history alone.
pub fn requeue_keeps_a_bounded_history_of_what_it_cleared<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let a = lake.submit(&new_entry("misp", 1.0), b"blob").unwrap();
    let auth = Outcome::Error { cause: ErrorCause::Decrypt("auth".into()), message: "auth: tag mismatch".into() };
    lake.apply_outcome(&a, &auth).unwrap();
    let before = crate::clock::now_epoch_ms() as f64 / 1000.0;
    assert_eq!(lake.unskip_ids(std::slice::from_ref(&a)).unwrap(), 1);

    // The reference's fields say what they said before: the entry waits.
    let e = entry(f, &lake, &a);
    assert!(!e.processed && !e.skip && e.state.is_none() && e.error.is_none() && e.cause.is_none(), "{e:?}");
    let first = Requeued {
        state: Some("decrypt_failed".into()),
        cause: Some("decrypt.auth".into()),
        error: Some("auth: tag mismatch".into()),
        ..Requeued::default()
    };
    assert_eq!(e.requeued, vec![Requeued { at: e.requeued[0].at, ..first.clone() }]);
    // The store's clock (a server's may differ from ours by some skew).
    assert!((e.requeued[0].at - before).abs() < 3600.0, "at {} vs {before}", e.requeued[0].at);
    assert_eq!(lake.queue_depth().unwrap().waiting, 1);
    assert_eq!(ids(&lake.claim_batch("w", &query(10)).unwrap()), vec![a.clone()]);

    // Not skipped: nothing to clear, nothing recorded.
    assert_eq!(lake.unskip_ids(std::slice::from_ref(&a)).unwrap(), 0);
    assert_eq!(lake.unskip(None).unwrap(), 0);
    assert_eq!(entry(f, &lake, &a).requeued.len(), 1);

    // NOT_SUPPORTED, requeued by typtag: no cause or error to keep, the state is.
    lake.apply_outcome(&a, &Outcome::NotSupported).unwrap();
    assert_eq!(lake.unskip(Some("misp")).unwrap(), 1);
    let e = entry(f, &lake, &a);
    let unsupported = Requeued { state: Some("not_supported".into()), ..Requeued::default() };
    assert_eq!(
        e.requeued.iter().map(|r| Requeued { at: 0.0, ..r.clone() }).collect::<Vec<_>>(),
        [Requeued { at: 0.0, ..first }, unsupported]
    );

    // Bounded: the oldest go first.
    for i in 0..Requeued::KEEP {
        let failed = Outcome::Error { cause: ErrorCause::Parser("fuel".into()), message: format!("try {i}") };
        lake.apply_outcome(&a, &failed).unwrap();
        assert_eq!(lake.unskip_ids(std::slice::from_ref(&a)).unwrap(), 1);
    }
    let e = entry(f, &lake, &a);
    let errors: Vec<Option<String>> = e.requeued.iter().map(|r| r.error.clone()).collect();
    let expected: Vec<Option<String>> = (0..Requeued::KEEP).map(|i| Some(format!("try {i}"))).collect();
    assert_eq!(errors, expected, "the last {} requeues", Requeued::KEEP);
    assert!(e.requeued.iter().all(|r| r.cause.as_deref() == Some("parser.fuel")));
    assert!(e.requeued.windows(2).all(|w| w[0].at <= w[1].at), "oldest first");

    // An outcome after the requeue records as ever and keeps the history.
    lake.apply_outcome(&a, &Outcome::Success { hash: "h".into() }).unwrap();
    let done = entry(f, &lake, &a);
    assert!(done.processed && done.refs == ["h"]);
    assert_eq!(done.requeued, e.requeued);
}

/// `requeue`'s filters (cause prefix, state, typtag, upload time) select
/// exactly the skipped entries they name, and only those are queued again.
pub fn requeue_filters_select_exactly_the_matching_skipped_entries<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let error = |cause: ErrorCause| Outcome::Error { cause, message: "m".into() };
    let cases = [
        ("fuel", "cowrie", 10.0, error(ErrorCause::Parser("fuel".into()))),
        ("invalid", "cowrie", 20.0, error(ErrorCause::Parser("invalid_input".into()))),
        ("auth", "cowrie", 30.0, error(ErrorCause::Decrypt("auth".into()))),
        ("unsupported", "misp", 40.0, Outcome::NotSupported),
        ("json-fuel", "json", 50.0, error(ErrorCause::Parser("fuel".into()))),
        ("done", "cowrie", 60.0, Outcome::Success { hash: "h".into() }),
    ];
    let mut id_of = std::collections::BTreeMap::new();
    for (name, typtag, timestamp, outcome) in &cases {
        let id = lake.submit(&new_entry(typtag, *timestamp), b"x").unwrap();
        lake.apply_outcome(&id, outcome).unwrap();
        id_of.insert(*name, id);
    }
    let waiting = lake.submit(&new_entry("cowrie", 70.0), b"x").unwrap();
    let names = |filter: &RequeueFilter| -> Vec<&str> {
        let chosen = ids(&lake.skipped_matching(filter).unwrap());
        id_of.iter().filter(|(_, id)| chosen.contains(id)).map(|(name, _)| *name).collect()
    };
    let text = |s: &str| Some(s.to_owned());
    assert_eq!(names(&RequeueFilter::default()), ["auth", "fuel", "invalid", "json-fuel", "unsupported"]);
    assert_eq!(
        names(&RequeueFilter { cause_prefix: text("parser."), ..Default::default() }),
        ["fuel", "invalid", "json-fuel"]
    );
    assert_eq!(
        names(&RequeueFilter { cause_prefix: text("parser.fuel"), ..Default::default() }),
        ["fuel", "json-fuel"]
    );
    assert_eq!(names(&RequeueFilter { state: text("not_supported"), ..Default::default() }), ["unsupported"]);
    assert_eq!(names(&RequeueFilter { state: text("decrypt_failed"), ..Default::default() }), ["auth"]);
    let cowrie_parser = RequeueFilter { cause_prefix: text("parser."), typtag: text("cowrie"), ..Default::default() };
    assert_eq!(names(&cowrie_parser), ["fuel", "invalid"]);
    let window = RequeueFilter { since: Some(20.0), until: Some(50.0), ..Default::default() };
    assert_eq!(names(&window), ["auth", "invalid", "unsupported"], "since is inclusive, until is not");

    // Queue exactly those again; the rest, the processed one and the
    // waiting one are untouched.
    let chosen = ids(&lake.skipped_matching(&cowrie_parser).unwrap());
    assert_eq!(lake.unskip_ids(&chosen).unwrap(), 2);
    for (name, id) in &id_of {
        let e = entry(f, &lake, id);
        let requeued = matches!(*name, "fuel" | "invalid");
        assert_eq!(
            !e.skip && e.state.is_none() && e.cause.is_none() && e.error.is_none(),
            requeued || *name == "done",
            "{name}: {e:?}"
        );
    }
    assert!(entry(f, &lake, &id_of["done"]).processed);
    assert_eq!(lake.unskip_ids(&chosen).unwrap(), 0, "nothing left to requeue");
    assert_eq!(lake.unskip_ids(&[waiting.clone(), f.absent_id(), f.malformed_id().0]).unwrap(), 0);
    let claimed = ids(&lake.claim_batch("w", &query(10)).unwrap());
    assert_eq!(claimed, vec![id_of["fuel"].clone(), id_of["invalid"].clone(), waiting]);
}

pub fn entry_filters_and_queue_depth<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let done = lake.submit(&new_entry("t", 1.0), b"x").unwrap();
    let waiting = lake.submit(&new_entry("t", 2.0), b"x").unwrap();
    let unsupported = lake.submit(&new_entry("t", 3.0), b"x").unwrap();
    let failed = lake.submit(&new_entry("t", 4.0), b"x").unwrap();
    lake.apply_outcomes(&[
        (done.clone(), Outcome::Success { hash: "h".into() }),
        (unsupported.clone(), Outcome::NotSupported),
        (failed.clone(), Outcome::Error { cause: ErrorCause::MissingBlob, message: "gone".into() }),
    ])
    .unwrap();

    let by = |state: Option<EntryState>| ids(&lake.entries(&EntryFilter { state, id: None }).unwrap());
    let literal = |state: &str| Some(EntryState::State(state.into()));
    assert_eq!(by(None), vec![done.clone(), waiting.clone(), unsupported.clone(), failed.clone()]);
    assert_eq!(by(Some(EntryState::Processed)), vec![done]);
    assert_eq!(by(Some(EntryState::Unprocessed)), vec![waiting]);
    assert_eq!(by(Some(EntryState::Skipped)), vec![unsupported.clone(), failed.clone()]);
    assert_eq!(by(literal("not_supported")), vec![unsupported]);
    assert_eq!(by(literal("bad_data")), vec![failed]);
    assert_eq!(by(literal("no_such_state")), vec![]);
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 1, skipped: 2, oldest_waiting_at: Some(2.0) });
}

/// The oldest waiting entry's upload time: claimed entries wait, skipped
/// and processed ones do not, and it moves on as the oldest is handled.
pub fn queue_depth_dates_the_oldest_waiting_entry<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let oldest = |lake: &F::Lake| lake.queue_depth().unwrap().oldest_waiting_at;
    assert_eq!(oldest(&lake), None, "nothing waits");
    let skipped = lake.submit(&new_entry("t", 5.0), b"x").unwrap();
    let done = lake.submit(&new_entry("t", 6.0), b"x").unwrap();
    let first = lake.submit(&new_entry("t", 10.5), b"x").unwrap();
    lake.submit(&new_entry("t", 30.0), b"x").unwrap();
    lake.submit(&new_entry("t", 20.0), b"x").unwrap();
    lake.apply_outcomes(&[(skipped, Outcome::NotSupported), (done, Outcome::Success { hash: "h".into() })]).unwrap();
    assert_eq!(oldest(&lake), Some(10.5), "skipped and processed entries are older but do not wait");

    // A claim does not hide the entry: a stuck worker holds the queue's age.
    assert_eq!(ids(&lake.claim_batch("w", &query(1)).unwrap()), vec![first.clone()]);
    assert_eq!(oldest(&lake), Some(10.5));
    lake.apply_outcome(&first, &Outcome::Success { hash: "h2".into() }).unwrap();
    assert_eq!(oldest(&lake), Some(20.0));
}

/// One entry by id (what `replay` reads), with or without a state filter;
/// an unknown or malformed id matches nothing and is no error.
pub fn an_entry_is_found_by_its_id<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let first = lake.submit(&new_entry("t", 1.0), b"one").unwrap();
    let second = lake.submit(&new_entry("t", 2.0), b"two").unwrap();
    let by_id = |id: &EntryId, state: Option<EntryState>| {
        ids(&lake.entries(&EntryFilter { state, id: Some(id.clone()) }).unwrap())
    };
    assert_eq!(by_id(&second, None), vec![second.clone()]);
    assert_eq!(by_id(&first, Some(EntryState::Unprocessed)), vec![first.clone()]);
    assert_eq!(by_id(&first, Some(EntryState::Processed)), vec![]);
    assert_eq!(by_id(&f.absent_id(), None), vec![]);
    assert_eq!(by_id(&f.malformed_id().0, None), vec![]);
}

pub fn blobs_read_back_and_missing_ones_say_so<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let id = lake.submit(&new_entry("t", 1.0), &bytes).unwrap();
    let listed = entry(f, &lake, &id);
    assert!(listed.blob_ref.is_some());
    assert_eq!(lake.read_blob(&listed, ANY_SIZE).unwrap(), bytes, "read directly");
    let claimed = lake.claim_batch("w", &query(5)).unwrap();
    assert_eq!(ids(&claimed), vec![id]);
    assert_eq!(lake.read_blob(&claimed[0], ANY_SIZE).unwrap(), bytes, "read after the claim");

    let with_ref = |r: Option<String>| CacheEntry { blob_ref: r, ..listed.clone() };
    for blob_ref in [None, Some(f.absent_id().0), Some(f.malformed_id().0.0)] {
        match lake.read_blob(&with_ref(blob_ref.clone()), ANY_SIZE) {
            Err(BlobError::Missing(reason)) => assert!(!reason.is_empty()),
            other => panic!("{blob_ref:?}: expected Missing, got {:?}", other.map(|b| b.len())),
        }
    }
}

/// The limit is inclusive and applies to read-ahead blobs too.
pub fn a_blob_over_the_limit_is_too_large<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    let bytes = vec![7u8; 70_000];
    let id = lake.submit(&new_entry("t", 1.0), &bytes).unwrap();
    let listed = entry(f, &lake, &id);
    assert_eq!(lake.read_blob(&listed, 70_000).unwrap(), bytes, "exactly at the limit");
    match lake.read_blob(&listed, 69_999) {
        Err(BlobError::TooLarge { size: 70_000, limit: 69_999 }) => {}
        other => panic!("expected TooLarge, got {:?}", other.map(|b| b.len())),
    }
    let claimed = lake.claim_batch("w", &query(5)).unwrap();
    assert_eq!(ids(&claimed), vec![id]);
    match lake.read_blob(&claimed[0], 1_000) {
        Err(BlobError::TooLarge { size: 70_000, limit: 1_000 }) => {}
        other => panic!("after the claim: expected TooLarge, got {:?}", other.map(|b| b.len())),
    }
    assert_eq!(lake.read_blob(&claimed[0], 70_000).unwrap(), bytes, "still readable within the limit");
}

pub fn duplicate_documents_are_already_present<F: Fixture>(f: &F) {
    let (_, archive) = f.open(LEASE);
    assert_eq!(archive.count().unwrap(), 0);
    assert_eq!(archive.store(&document("h1")).unwrap(), Stored::Inserted);
    assert_eq!(archive.store(&document("h1")).unwrap(), Stored::AlreadyPresent);
    // The first one stays, whatever the second carried.
    let changed = RawDocument { orgid: "someone-else".into(), ..document("h1") };
    assert_eq!(archive.store(&changed).unwrap(), Stored::AlreadyPresent);
    assert_eq!(archive.count().unwrap(), 1);

    let batch = [document("h2"), document("h1"), document("h3"), document("h2")];
    assert_eq!(
        archive.store_batch(&batch).unwrap(),
        vec![Stored::Inserted, Stored::AlreadyPresent, Stored::Inserted, Stored::AlreadyPresent]
    );
    assert_eq!(archive.store_batch(&[]).unwrap(), vec![]);
    assert_eq!(archive.count().unwrap(), 3);
    let docs = archive.documents().unwrap();
    assert_eq!(docs.iter().map(|d| d.hash.as_str()).collect::<Vec<_>>(), ["h1", "h2", "h3"]);
    assert_eq!(docs[0], document("h1"));
}

pub fn the_archive_answers_a_ping_and_it_changes_nothing<F: Fixture>(f: &F) {
    let (_, archive) = f.open(LEASE);
    archive.ping().unwrap();
    assert_eq!(archive.count().unwrap(), 0);
    assert_eq!(archive.store(&document("h1")).unwrap(), Stored::Inserted);
    archive.ping().unwrap();
    assert_eq!(archive.documents().unwrap(), [document("h1")]);
}

pub fn a_nan_timestamp_is_refused<F: Fixture>(f: &F) {
    let (lake, _) = f.open(LEASE);
    for timestamp in [f64::NAN, f64::INFINITY] {
        let result = lake.submit(&new_entry("t", timestamp), b"x");
        assert_store_error(result, F::BACKEND, StoreErrorKind::Refused, "not finite");
    }
    assert_eq!(lake.entries(&EntryFilter::default()).unwrap(), vec![]);
}

/// The pipeline stores the document, then records the outcome. A crash in
/// between leaves the document stored and the entry claimed: after the lease
/// runs out the entry is claimed again, the store reports AlreadyPresent, and
/// the outcome is recorded then. Nothing is lost or stored twice.
pub fn a_crash_between_store_and_outcome_is_retried_safely<F: Fixture>(f: &F) {
    let lease = Duration::from_millis(1500);
    let id = {
        let (lake, archive) = f.open(lease);
        let id = lake.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
        assert_eq!(ids(&lake.claim_batch("doomed", &query(1)).unwrap()), vec![id.clone()]);
        assert_eq!(archive.store(&document("h")).unwrap(), Stored::Inserted);
        id
        // "crash": the handles go away without apply_outcome or release.
    };
    let claimed_at = Instant::now();

    let (lake, archive) = f.open(lease);
    // The document is durable, seen from a fresh handle.
    assert_eq!(archive.count().unwrap(), 1);
    thread::sleep(lease.saturating_sub(claimed_at.elapsed()) + Duration::from_millis(100));
    let batch = lake.claim_batch("rerun", &query(1)).unwrap();
    assert_eq!(ids(&batch), vec![id.clone()]);
    assert_eq!(lake.read_blob(&batch[0], ANY_SIZE).unwrap(), b"blob");
    assert_eq!(archive.store(&document("h")).unwrap(), Stored::AlreadyPresent);
    lake.apply_outcome(&id, &Outcome::Success { hash: "h".into() }).unwrap();
    assert_eq!(archive.count().unwrap(), 1);
    let e = entry(f, &lake, &id);
    assert!(e.processed);
    assert_eq!(e.refs, vec!["h".to_string()]);
}
