//! The MongoDB store against a real server: what it writes to the
//! CYBEX-P collections, claims and leases, outcomes (reference §5), archive
//! uniqueness (§4), number types, and damaged GridFS files. The end-to-end
//! runs of the binary are in `mongo.rs` and, shared with SQLite, in
//! `embedded.rs`. Skipped loudly without a server (failing under CI).

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use cybexp_lake::test_support::assert_claims_are_exclusive;
use cybexp_lake::{
    ArchiveStore, BatchQuery, BlobError, CacheEntry, CacheLake, EntryFilter, EntryId, ErrorCause, NewEntry, Outcome,
    QueueDepth, RawDocument, Stored,
};
use cybexp_store_mongo::mongodb::bson::oid::ObjectId;
use cybexp_store_mongo::mongodb::bson::spec::BinarySubtype;
use cybexp_store_mongo::mongodb::bson::{Binary, Bson, Document, doc};
use cybexp_store_mongo::mongodb::sync::Collection;
use cybexp_store_mongo::{MongoArchive, MongoLake};
use cybexp_tests::mongo::TestDbs;

const LEASE: Duration = Duration::from_secs(300);

fn new_entry(typtag: &str, timestamp: f64) -> NewEntry {
    NewEntry {
        name: format!("input-{typtag}"),
        orgid: "org-hash".into(),
        typtag: typtag.into(),
        timezone: "UTC".into(),
        timestamp,
    }
}

fn query(limit: usize) -> BatchQuery {
    BatchQuery { limit, ..BatchQuery::default() }
}

fn force(limit: usize) -> BatchQuery {
    BatchQuery { limit, include_skipped: true, typtag: None }
}

fn ids(entries: &[CacheEntry]) -> Vec<EntryId> {
    entries.iter().map(|e| e.id.clone()).collect()
}

fn only(lake: &MongoLake, id: &EntryId) -> CacheEntry {
    lake.entries(&EntryFilter::default()).unwrap().into_iter().find(|e| &e.id == id).unwrap()
}

fn entries_coll(dbs: &TestDbs) -> Collection<Document> {
    dbs.cache().collection("file_entries")
}

/// The raw entry document, as the API and analytics see it.
fn raw_entry(dbs: &TestDbs, id: &EntryId) -> Document {
    let oid = ObjectId::parse_str(&id.0).unwrap();
    entries_coll(dbs).find_one(doc! { "_id": oid }).run().unwrap().unwrap()
}

fn setup(test: &str) -> Option<(TestDbs, MongoLake, MongoArchive)> {
    let dbs = TestDbs::for_test(test)?;
    let (lake, archive) = dbs.open(LEASE);
    Some((dbs, lake, archive))
}

fn doc(hash: &str, data_json: &str) -> RawDocument {
    RawDocument {
        sub_type: "unr_honeypot".into(),
        data_json: data_json.into(),
        orgid: "org-hash".into(),
        timezone: "UTC".into(),
        hash: hash.into(),
    }
}

#[test]
fn submit_writes_what_the_api_writes() {
    let Some((dbs, lake, _)) = setup("submit_writes_what_the_api_writes") else { return };
    let blob: Vec<u8> = (0..=255u8).cycle().take(600_000).collect(); // three GridFS chunks
    let id = lake.submit(&new_entry("unr-honeypot", 1_700_000_000.5), &blob).unwrap();
    let raw = raw_entry(&dbs, &id);
    let keys: Vec<&str> = raw.keys().map(String::as_str).collect();
    assert_eq!(keys, ["_id", "name", "orgid", "typetag", "timezone", "timestamp", "processed", "fid"]);
    assert_eq!(raw.get("timestamp"), Some(&Bson::Double(1_700_000_000.5)));
    assert_eq!(raw.get("processed"), Some(&Bson::Boolean(false)));
    let fid = raw.get_object_id("fid").unwrap();
    let file = dbs.cache().collection::<Document>("fs.files").find_one(doc! { "_id": fid }).run().unwrap().unwrap();
    assert_eq!(file.get_i64("length").unwrap(), 600_000);
    let chunks =
        dbs.cache().collection::<Document>("fs.chunks").count_documents(doc! { "files_id": fid }).run().unwrap();
    assert_eq!(chunks, 3);

    let entry = only(&lake, &id);
    assert_eq!(entry.id.0.len(), 24, "ObjectId hex");
    assert_eq!(entry.blob_ref, Some(fid.to_hex()));
    assert_eq!(lake.read_blob(&entry).unwrap(), blob, "read directly");
    let claimed = lake.claim_batch("w", &query(5)).unwrap();
    assert_eq!(lake.read_blob(&claimed[0]).unwrap(), blob, "read ahead at claim time");

    assert!(lake.submit(&new_entry("t", f64::NAN), b"x").unwrap_err().to_string().contains("not finite"));
    assert_eq!(lake.entries(&EntryFilter::default()).unwrap().len(), 1);
}

#[test]
fn success_marks_processed_and_adds_the_hash_once() {
    let Some((dbs, lake, _)) = setup("success_marks_processed_and_adds_the_hash_once") else { return };
    let id = lake.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    let claimed = lake.claim_batch("w1", &query(10)).unwrap();
    assert_eq!(ids(&claimed), vec![id.clone()]);
    let claim = raw_entry(&dbs, &id).get_document("_claim").unwrap().clone();
    assert_eq!(claim.get_str("owner").unwrap(), "w1");
    assert!(claim.get_object_id("token").is_ok());
    assert!(claim.get_datetime("expires").is_ok());

    let success = Outcome::Success { hash: "h1".into() };
    lake.apply_outcome(&id, &success).unwrap();
    let raw = raw_entry(&dbs, &id);
    assert_eq!(raw.get("processed"), Some(&Bson::Boolean(true)));
    assert_eq!(raw.get_array("_ref").unwrap(), &vec![Bson::String("h1".into())]);
    for gone in ["_claim", "skip", "state", "error", "cause"] {
        assert!(!raw.contains_key(gone), "{gone} left in {raw}");
    }
    // $addToSet: the same hash again changes nothing, a new one is appended.
    lake.apply_outcome(&id, &success).unwrap();
    lake.apply_outcome(&id, &Outcome::Success { hash: "h2".into() }).unwrap();
    lake.apply_outcome(&id, &success).unwrap();
    assert_eq!(only(&lake, &id).refs, ["h1", "h2"]);
    // Processed entries are never claimed, even in --force mode.
    assert!(lake.claim_batch("w1", &force(10)).unwrap().is_empty());
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 0, skipped: 0 });
}

#[test]
fn failures_mark_skip_state_error_and_cause() {
    let Some((dbs, lake, _)) = setup("failures_mark_skip_state_error_and_cause") else { return };
    let unsupported = lake.submit(&new_entry("mystery", 1.0), b"blob").unwrap();
    let failed = lake.submit(&new_entry("unr-honeypot", 2.0), b"blob").unwrap();
    lake.claim_batch("w1", &query(10)).unwrap();
    let long = "é".repeat(300);
    let error = Outcome::Error { cause: ErrorCause::Decrypt("auth".into()), message: long };
    // Both in one group, as the pipeline writes them.
    lake.apply_outcomes(&[(unsupported.clone(), Outcome::NotSupported), (failed.clone(), error.clone())]).unwrap();

    let raw = raw_entry(&dbs, &unsupported);
    assert_eq!(raw.get("skip"), Some(&Bson::Boolean(true)));
    assert_eq!(raw.get_str("state").unwrap(), "not_supported");
    assert_eq!(raw.get("processed"), Some(&Bson::Boolean(false)));
    assert!(!raw.contains_key("_claim") && !raw.contains_key("error") && !raw.contains_key("cause"));

    let entry = only(&lake, &failed);
    assert!(entry.skip && !entry.processed);
    assert_eq!(entry.state.as_deref(), Some("decrypt_failed"));
    assert_eq!(entry.error, error.short_error());
    assert_eq!(entry.error.as_deref().map(|e| e.chars().count()), Some(Outcome::MAX_ERROR_CHARS));
    assert_eq!(entry.cause.as_deref(), Some("decrypt.auth"));
    assert!(!raw_entry(&dbs, &failed).contains_key("_claim"));
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 0, skipped: 2 });

    // Skipped entries wait for an operator: only --force takes them.
    assert!(lake.claim_batch("w1", &query(10)).unwrap().is_empty());
    assert_eq!(ids(&lake.claim_batch("w2", &force(10)).unwrap()), vec![unsupported.clone(), failed.clone()]);

    // A forced reprocess that succeeds clears the failure.
    lake.apply_outcome(&failed, &Outcome::Success { hash: "h".into() }).unwrap();
    let entry = only(&lake, &failed);
    assert!(entry.processed && !entry.skip);
    assert_eq!((entry.state, entry.error, entry.cause), (None, None, None));
}

#[test]
fn a_late_failure_never_downgrades_a_processed_entry() {
    let Some((dbs, lake, _)) = setup("a_late_failure_never_downgrades_a_processed_entry") else { return };
    let id = lake.submit(&new_entry("unr-honeypot", 1.0), b"blob").unwrap();
    lake.claim_batch("slow", &query(1)).unwrap();
    lake.apply_outcome(&id, &Outcome::Success { hash: "h".into() }).unwrap();
    let late = Outcome::Error { cause: ErrorCause::Parser("deadline".into()), message: "slow".into() };
    lake.apply_outcomes(&[(id.clone(), late), (id.clone(), Outcome::NotSupported)]).unwrap();
    let entry = only(&lake, &id);
    assert!(entry.processed && !entry.skip);
    assert_eq!((entry.state, entry.error, entry.cause, entry.refs), (None, None, None, vec!["h".to_string()]));
    assert!(!raw_entry(&dbs, &id).contains_key("_claim"));
}

#[test]
fn unknown_entries_are_store_errors_and_release_is_harmless() {
    let Some((_dbs, lake, _)) = setup("unknown_entries_are_store_errors_and_release_is_harmless") else { return };
    let known = lake.submit(&new_entry("t", 1.0), b"x").unwrap();
    let nowhere = EntryId(ObjectId::new().to_hex());
    let err = lake.apply_outcome(&nowhere, &Outcome::NotSupported).unwrap_err();
    assert!(err.to_string().contains(&format!("no entry {}", nowhere.0)), "{err}");
    let err = lake
        .apply_outcomes(&[
            (known.clone(), Outcome::Success { hash: "h".into() }),
            (nowhere.clone(), Outcome::NotSupported),
        ])
        .unwrap_err();
    assert_eq!(err.backend, "mongodb");
    assert!(only(&lake, &known).processed, "the existing one is recorded");
    let err = lake.apply_outcome(&EntryId("42".into()), &Outcome::NotSupported).unwrap_err();
    assert!(err.to_string().contains("not a MongoDB ObjectId"), "{err}");
    lake.release(&nowhere).unwrap();
}

#[test]
fn claims_are_oldest_first_limited_filtered_and_released() {
    let Some((dbs, lake, _)) = setup("claims_are_oldest_first_limited_filtered_and_released") else { return };
    let c = lake.submit(&new_entry("t", 30.0), b"c").unwrap();
    let a = lake.submit(&new_entry("t", 10.0), b"a").unwrap();
    let b1 = lake.submit(&new_entry("t", 20.0), b"b1").unwrap();
    let b2 = lake.submit(&new_entry("t", 20.0), b"b2").unwrap(); // same time: id order
    assert!(lake.claim_batch("w", &query(0)).unwrap().is_empty());
    assert_eq!(ids(&lake.claim_batch("w", &query(3)).unwrap()), vec![a.clone(), b1.clone(), b2.clone()]);
    assert_eq!(ids(&lake.claim_batch("w", &query(3)).unwrap()), vec![c.clone()]);
    assert!(lake.claim_batch("w", &query(3)).unwrap().is_empty());
    // Claimed entries still count as waiting.
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 4, skipped: 0 });
    lake.release(&b1).unwrap();
    assert!(!raw_entry(&dbs, &b1).contains_key("_claim"));
    assert_eq!(ids(&lake.claim_batch("w", &query(3)).unwrap()), vec![b1]);

    // typtag filter, on both spellings of the field.
    let old = ObjectId::new();
    entries_coll(&dbs)
        .insert_one(doc! { "_id": old, "name": "old", "orgid": "o", "typtag": "legacy-feed", "timezone": "UTC",
        "timestamp": 0.5, "processed": false })
        .run()
        .unwrap();
    let new = lake.submit(&new_entry("legacy-feed", 0.7), b"n").unwrap();
    let legacy = BatchQuery { limit: 10, include_skipped: false, typtag: Some("legacy-feed".into()) };
    let got = lake.claim_batch("w", &legacy).unwrap();
    assert_eq!(ids(&got), vec![EntryId(old.to_hex()), new]);
    assert_eq!(got[0].typtag, "legacy-feed");
    assert!(matches!(lake.read_blob(&got[0]), Err(BlobError::Missing(_))), "no fid at all");
}

#[test]
fn leases_expire_and_a_release_only_drops_its_own_claim() {
    let Some(dbs) = TestDbs::for_test("leases_expire_and_a_release_only_drops_its_own_claim") else { return };
    let lease = Duration::from_millis(1500);
    let (first, _) = dbs.open(lease);
    let (second, _) = dbs.open(lease);
    assert_eq!(first.lease(), lease);
    let id = first.submit(&new_entry("t", 1.0), b"x").unwrap();
    let claimed_at = Instant::now();
    assert_eq!(ids(&first.claim_batch("crashed", &query(5)).unwrap()), vec![id.clone()]);
    let early = second.claim_batch("other", &query(5)).unwrap();
    if claimed_at.elapsed() < Duration::from_millis(1000) {
        assert!(early.is_empty(), "a live lease holds the entry");
    }
    thread::sleep(Duration::from_millis(1600).saturating_sub(claimed_at.elapsed()));
    assert_eq!(ids(&second.claim_batch("other", &query(5)).unwrap()), vec![id.clone()]);
    // The first holder wakes up and gives back what it no longer holds.
    first.release(&id).unwrap();
    let claim = raw_entry(&dbs, &id).get_document("_claim").unwrap().clone();
    assert_eq!(claim.get_str("owner").unwrap(), "other", "the new holder keeps its claim");
    second.release(&id).unwrap();
    assert!(!raw_entry(&dbs, &id).contains_key("_claim"));
}

#[test]
fn claims_are_exclusive_across_handles_and_threads() {
    const ENTRIES: usize = 400;
    let Some(dbs) = TestDbs::for_test("claims_are_exclusive_across_handles_and_threads") else { return };
    let entries: Vec<_> = (0..ENTRIES).map(|i| (new_entry("t", i as f64), b"blob".to_vec())).collect();
    let all: HashSet<EntryId> = dbs.bulk_submit(&entries).into_iter().map(|id| EntryId(id.to_hex())).collect();
    // Two handles (as two processes would have), two threads on each.
    let handles = [dbs.open(LEASE).0, dbs.open(LEASE).0];
    let counts = assert_claims_are_exclusive(&handles, 7, &all);
    println!("claims per thread: {counts:?}");
}

#[test]
fn unskip_queues_skipped_entries_again() {
    let Some((dbs, lake, _)) = setup("unskip_queues_skipped_entries_again") else { return };
    let a = lake.submit(&new_entry("misp", 1.0), b"x").unwrap();
    let b = lake.submit(&new_entry("other", 2.0), b"x").unwrap();
    let done = lake.submit(&new_entry("misp", 3.0), b"x").unwrap();
    let error = Outcome::Error { cause: ErrorCause::Decrypt("auth".into()), message: "auth: tag mismatch".into() };
    lake.apply_outcomes(&[
        (a.clone(), error),
        (b.clone(), Outcome::NotSupported),
        (done.clone(), Outcome::Success { hash: "h".into() }),
    ])
    .unwrap();
    assert_eq!(lake.unskip(Some("misp")).unwrap(), 1, "only the skipped misp entry");
    let raw = raw_entry(&dbs, &a);
    for gone in ["skip", "state", "error", "cause"] {
        assert!(!raw.contains_key(gone), "{gone} left in {raw}");
    }
    assert!(only(&lake, &b).skip, "other typtags stay skipped");
    assert!(only(&lake, &done).processed);
    assert_eq!(ids(&lake.claim_batch("w", &query(10)).unwrap()), vec![a]);
    assert_eq!(lake.unskip(None).unwrap(), 1);
    assert!(!only(&lake, &b).skip);
}

#[test]
fn entry_filters_and_queue_depth() {
    let Some((_dbs, lake, _)) = setup("entry_filters_and_queue_depth") else { return };
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
    let by = |state: Option<&str>| ids(&lake.entries(&EntryFilter { state: state.map(String::from) }).unwrap());
    assert_eq!(by(None), vec![done.clone(), waiting.clone(), unsupported.clone(), failed.clone()]);
    assert_eq!(by(Some("processed")), vec![done]);
    assert_eq!(by(Some("unprocessed")), vec![waiting]);
    assert_eq!(by(Some("skipped")), vec![unsupported.clone(), failed.clone()]);
    assert_eq!(by(Some("not_supported")), vec![unsupported]);
    assert_eq!(by(Some("bad_data")), vec![failed]);
    assert_eq!(by(Some("no_such_state")), vec![]);
    assert_eq!(lake.queue_depth().unwrap(), QueueDepth { waiting: 1, skipped: 2 });
}

#[test]
fn damaged_gridfs_files_are_missing_or_corrupt() {
    let Some((dbs, lake, _)) = setup("damaged_gridfs_files_are_missing_or_corrupt") else { return };
    let files: Collection<Document> = dbs.cache().collection("fs.files");
    let chunks: Collection<Document> = dbs.cache().collection("fs.chunks");
    let blob: Vec<u8> = (0..=255u8).cycle().take(600_000).collect(); // chunks 0, 1, 2
    let mut cases = Vec::new();
    let mut submit = |name: &str| {
        let id = lake.submit(&NewEntry { name: name.into(), ..new_entry("t", cases.len() as f64) }, &blob).unwrap();
        let fid = raw_entry(&dbs, &id).get_object_id("fid").unwrap();
        cases.push((name.to_owned(), id));
        fid
    };
    let fid = submit("files document gone");
    files.delete_one(doc! { "_id": fid }).run().unwrap();
    let fid = submit("everything gone");
    files.delete_one(doc! { "_id": fid }).run().unwrap();
    chunks.delete_many(doc! { "files_id": fid }).run().unwrap();
    let fid = submit("chunk 1 missing");
    chunks.delete_one(doc! { "files_id": fid, "n": 1 }).run().unwrap();
    let fid = submit("last chunk missing");
    chunks.delete_one(doc! { "files_id": fid, "n": 2 }).run().unwrap();
    let fid = submit("chunk too short");
    let short = Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] };
    chunks.update_one(doc! { "files_id": fid, "n": 0 }, doc! { "$set": { "data": short } }).run().unwrap();
    let fid = submit("extra chunk");
    let extra = Binary { subtype: BinarySubtype::Generic, bytes: vec![0; 10] };
    chunks.insert_one(doc! { "files_id": fid, "n": 3, "data": extra }).run().unwrap();
    let fid = submit("chunkSize zero");
    files.update_one(doc! { "_id": fid }, doc! { "$set": { "chunkSize": 0 } }).run().unwrap();
    let fid = submit("length not a number");
    files.update_one(doc! { "_id": fid }, doc! { "$set": { "length": "600000" } }).run().unwrap();
    let fid = submit("data not binary");
    chunks.update_one(doc! { "files_id": fid, "n": 0 }, doc! { "$set": { "data": "text" } }).run().unwrap();
    let id = {
        let id = lake.submit(&new_entry("t", 100.0), &blob).unwrap();
        let oid = ObjectId::parse_str(&id.0).unwrap();
        entries_coll(&dbs).update_one(doc! { "_id": oid }, doc! { "$set": { "fid": "not-an-oid" } }).run().unwrap();
        id
    };
    cases.push(("fid not an ObjectId".into(), id));
    let expect = |name: &str| match name {
        "files document gone" | "everything gone" | "fid not an ObjectId" => "missing",
        _ => "corrupt",
    };

    let check = |entry: &CacheEntry, name: &str, how: &str| match (lake.read_blob(entry), expect(name)) {
        (Err(BlobError::Missing(why)), "missing") | (Err(BlobError::Corrupt(why)), "corrupt") => {
            assert!(!why.is_empty());
        }
        (other, expected) => panic!("{name} ({how}): expected {expected}, got {:?}", other.map(|b| b.len())),
    };
    // Read directly...
    for (name, id) in &cases {
        check(&only(&lake, id), name, "direct");
    }
    // ...and read ahead with the batch that claims them.
    let claimed = lake.claim_batch("w", &query(50)).unwrap();
    assert_eq!(claimed.len(), cases.len());
    for (name, id) in &cases {
        check(claimed.iter().find(|e| &e.id == id).unwrap(), name, "read ahead");
    }
}

#[test]
fn documents_are_unique_by_hash_and_typed_as_pymongo_stores_them() {
    let Some((dbs, _, archive)) = setup("documents_are_unique_by_hash_and_typed_as_pymongo_stores_them") else {
        return;
    };
    let data = r#"{"small": 7, "neg": -2147483649, "big": 9223372036854775807, "huge": 18446744073709551616,
                  "giant": 123456789012345678901234567890123456789, "f": 2.0, "nan": NaN, "s": "x", "n": null,
                  "nested": {"b": [1, 1.5, true]}}"#;
    assert_eq!(archive.store(&doc("h1", data)).unwrap(), Stored::Inserted);
    assert_eq!(archive.store(&doc("h1", data)).unwrap(), Stored::AlreadyPresent);
    let changed = RawDocument { orgid: "someone-else".into(), ..doc("h1", data) };
    assert_eq!(archive.store(&changed).unwrap(), Stored::AlreadyPresent, "the first one stays");
    let batch = [doc("h2", "{}"), doc("h1", "{}"), doc("h3", "[]"), doc("h2", "{}")];
    assert_eq!(
        archive.store_batch(&batch).unwrap(),
        vec![Stored::Inserted, Stored::AlreadyPresent, Stored::Inserted, Stored::AlreadyPresent]
    );
    assert_eq!(archive.store_batch(&[]).unwrap(), vec![]);
    assert_eq!(archive.count().unwrap(), 3);

    // The unique index exists, under the name pymongo would give it.
    let indexes = archive.collection().list_index_names().run().unwrap();
    assert!(indexes.contains(&"_hash_1".to_string()), "{indexes:?}");

    // The types pymongo writes: int32, int64, double; beyond int64 as documented.
    let stored = archive.collection().find_one(doc! { "_hash": "h1" }).run().unwrap().unwrap();
    let keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    assert_eq!(keys, ["_id", "itype", "data", "orgid", "timezone", "sub_type", "_hash"]);
    assert_eq!(stored.get_str("orgid").unwrap(), "org-hash");
    let data_doc = stored.get_document("data").unwrap();
    assert_eq!(data_doc.get("small"), Some(&Bson::Int32(7)));
    assert_eq!(data_doc.get("neg"), Some(&Bson::Int64(-2147483649)));
    assert_eq!(data_doc.get("big"), Some(&Bson::Int64(i64::MAX)));
    assert!(matches!(data_doc.get("huge"), Some(Bson::Decimal128(d)) if d.to_string() == "18446744073709551616"));
    assert_eq!(data_doc.get("giant"), Some(&Bson::String("123456789012345678901234567890123456789".into())));
    assert_eq!(data_doc.get("f"), Some(&Bson::Double(2.0)));
    assert!(matches!(data_doc.get("nan"), Some(Bson::Double(f)) if f.is_nan()));
    assert_eq!(data_doc.get_document("nested").unwrap().get_array("b").unwrap()[1], Bson::Double(1.5));
    // A server-side query sees the decimal128 as a number.
    let over = archive.collection().count_documents(doc! { "data.huge": { "$gt": i64::MAX } }).run().unwrap();
    assert_eq!(over, 1);

    // dump archive reads it back as the parser wrote it (the 39 digits stay text).
    let docs = archive.documents().unwrap();
    assert_eq!(docs.iter().map(|d| d.hash.as_str()).collect::<Vec<_>>(), ["h1", "h2", "h3"]);
    assert_eq!(
        docs[0].data_json,
        r#"{"small":7,"neg":-2147483649,"big":9223372036854775807,"huge":18446744073709551616,"giant":"123456789012345678901234567890123456789","f":2.0,"nan":NaN,"s":"x","n":null,"nested":{"b":[1,1.5,true]}}"#
    );
    // Other TAHOE instances in the collection are not ours to list or count.
    dbs.archive()
        .collection::<Document>("instance")
        .insert_one(doc! { "itype": "event", "_hash": "e1" })
        .run()
        .unwrap();
    assert_eq!(archive.count().unwrap(), 3);
    assert_eq!(archive.documents().unwrap().len(), 3);
}

#[test]
fn an_unstorable_document_is_refused_and_the_rest_are_stored() {
    let Some((_dbs, _, archive)) = setup("an_unstorable_document_is_refused_and_the_rest_are_stored") else {
        return;
    };
    let results = archive.store_batch(&[doc("ok", "{}"), doc("nul", r#"{"a\u0000": 1}"#)]).unwrap();
    assert_eq!(results[0], Stored::Inserted);
    assert!(matches!(&results[1], Stored::Refused(why) if why.contains("U+0000")), "{results:?}");
    assert_eq!(archive.count().unwrap(), 1);
    assert_eq!(archive.store(&doc("ok", "{}")).unwrap(), Stored::AlreadyPresent);
}

#[test]
fn an_existing_non_unique_hash_index_is_refused_loudly() {
    let Some(dbs) = TestDbs::for_test("an_existing_non_unique_hash_index_is_refused_loudly") else { return };
    let coll = dbs.archive().collection::<Document>("instance");
    let index = cybexp_store_mongo::mongodb::IndexModel::builder().keys(doc! { "_hash": 1 }).build();
    coll.create_index(index).run().unwrap();
    let (_, archive) = dbs.open(LEASE);
    let err = archive.store(&doc("h", "{}")).unwrap_err();
    assert!(err.to_string().contains("not unique"), "{err}");
    assert_eq!(archive.count().unwrap(), 0);
}
