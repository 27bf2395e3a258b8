//! The MongoDB store against a real server: the store conformance suite
//! (claims and leases, outcomes (reference §5), archive uniqueness (§4)), and
//! what only this backend has: the documents it writes to the CYBEX-P
//! collections, both spellings of the type field, releases by token, number
//! types, and damaged GridFS files. The end-to-end runs of the binary are in
//! `mongo.rs` and, shared with SQLite, in `embedded.rs`. Skipped loudly
//! without a server (failing under CI).

use std::thread;
use std::time::{Duration, Instant};

use cybexp_lake::test_support::{self, ANY_SIZE, Fixture, LEASE, ids, new_entry, query};
use cybexp_lake::{
    ArchiveStore, BatchQuery, BlobError, CacheEntry, CacheLake, EntryFilter, EntryId, LakeAdmin, NewEntry, Outcome,
    RawDocument, StoreErrorKind, Stored,
};
use cybexp_store_mongo::mongodb::bson::oid::ObjectId;
use cybexp_store_mongo::mongodb::bson::spec::BinarySubtype;
use cybexp_store_mongo::mongodb::bson::{Binary, Bson, Document, doc};
use cybexp_store_mongo::mongodb::sync::Collection;
use cybexp_store_mongo::{MongoArchive, MongoLake};
use cybexp_tests::mongo::TestDbs;

/// A cache and an archive database of the check's own on the test server.
struct Mongo {
    dbs: TestDbs,
}

impl Fixture for Mongo {
    type Lake = MongoLake;
    type Archive = MongoArchive;
    const BACKEND: &'static str = "mongodb";

    fn open(&self, lease: Duration) -> (MongoLake, MongoArchive) {
        self.dbs.open(lease)
    }

    fn absent_id(&self) -> EntryId {
        EntryId(ObjectId::new().to_hex())
    }

    fn malformed_id(&self) -> (EntryId, &'static str) {
        (EntryId("42".into()), "not a MongoDB ObjectId")
    }

    fn claim_owner(&self, id: &EntryId) -> Option<String> {
        let raw = raw_entry(&self.dbs, id);
        let claim = raw.get_document("_claim").ok()?;
        assert!(claim.get_object_id("token").is_ok(), "{raw}");
        assert!(claim.get_i64("until").is_ok(), "the lease's end by the server's clock, in ms: {raw}");
        Some(claim.get_str("owner").unwrap().to_owned())
    }

    /// The reference's fields and types: `processed` a boolean, `skip` only
    /// while true, `state`/`error`/`cause` only while set (unset, not null),
    /// `_ref` only once a hash was added.
    fn assert_recorded_as(&self, entry: &CacheEntry) {
        let raw = raw_entry(&self.dbs, &entry.id);
        assert_eq!(raw.get("processed"), Some(&Bson::Boolean(entry.processed)), "{raw}");
        assert_eq!(raw.get("skip"), entry.skip.then_some(&Bson::Boolean(true)), "{raw}");
        for (key, value) in [("state", &entry.state), ("error", &entry.error), ("cause", &entry.cause)] {
            assert_eq!(raw.get(key).cloned(), value.clone().map(Bson::String), "{key} in {raw}");
        }
        let refs: Option<Vec<Bson>> =
            (!entry.refs.is_empty()).then(|| entry.refs.iter().cloned().map(Bson::String).collect());
        assert_eq!(raw.get_array("_ref").ok(), refs.as_ref(), "{raw}");
        // The history: `_requeued`, an array of {at, state, cause, error},
        // absent until the first requeue; a cleared field is absent there too.
        type Record<'a> = (f64, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let recorded: Option<Vec<Record>> = raw.get_array("_requeued").ok().map(|items| {
            items
                .iter()
                .map(|item| {
                    let d = item.as_document().unwrap();
                    let text = |key| d.get_str(key).ok();
                    (d.get_f64("at").unwrap(), text("state"), text("cause"), text("error"))
                })
                .collect()
        });
        let expected: Option<Vec<_>> = (!entry.requeued.is_empty()).then(|| {
            entry.requeued.iter().map(|r| (r.at, r.state.as_deref(), r.cause.as_deref(), r.error.as_deref())).collect()
        });
        assert_eq!(recorded, expected, "{raw}");
    }

    fn submit_many(&self, entries: &[(NewEntry, Vec<u8>)]) -> Vec<EntryId> {
        self.dbs.bulk_submit(entries).into_iter().map(|id| EntryId(id.to_hex())).collect()
    }
}

fn mongo(check: &str) -> Option<Mongo> {
    TestDbs::for_test(check).map(|dbs| Mongo { dbs })
}

cybexp_lake::store_conformance_tests!(mongo);

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
    RawDocument { data_json: data_json.into(), ..test_support::document(hash) }
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
    assert_eq!(lake.read_blob(&entry, ANY_SIZE).unwrap(), blob, "read directly");
    let claimed = lake.claim_batch("w", &query(5)).unwrap();
    assert_eq!(lake.read_blob(&claimed[0], ANY_SIZE).unwrap(), blob, "read ahead at claim time");
    assert_eq!(lake.entries(&EntryFilter::default()).unwrap().len(), 1);
}

/// One `update` command per group, not a transaction: an unknown entry in
/// it does not stop the others (SQLite records none; both are allowed by the
/// trait).
#[test]
fn an_outcome_group_with_an_unknown_entry_records_the_others() {
    let Some((_dbs, lake, _)) = setup("an_outcome_group_with_an_unknown_entry_records_the_others") else { return };
    let known = lake.submit(&new_entry("t", 1.0), b"x").unwrap();
    let nowhere = EntryId(ObjectId::new().to_hex());
    let err = lake
        .apply_outcomes(&[
            (known.clone(), Outcome::Success { hash: "h".into() }),
            (nowhere.clone(), Outcome::NotSupported),
        ])
        .unwrap_err();
    assert_eq!(err.backend, "mongodb");
    assert!(err.to_string().contains(&format!("no entry {}", nowhere.0)), "{err}");
    assert!(only(&lake, &known).processed, "the existing one is recorded");
}

/// Entries of older API versions spell the type field `typtag`; a claim by
/// typtag finds both spellings.
#[test]
fn a_typtag_filter_reads_both_spellings() {
    let Some((dbs, lake, _)) = setup("a_typtag_filter_reads_both_spellings") else { return };
    let old = ObjectId::new();
    entries_coll(&dbs)
        .insert_one(doc! { "_id": old, "name": "old", "orgid": "o", "typtag": "legacy-feed", "timezone": "UTC",
        "timestamp": 0.5, "processed": false })
        .run()
        .unwrap();
    let new = lake.submit(&new_entry("legacy-feed", 0.7), b"n").unwrap();
    lake.submit(&new_entry("t", 0.1), b"t").unwrap();
    let legacy = BatchQuery { limit: 10, include_skipped: false, typtag: Some("legacy-feed".into()) };
    let got = lake.claim_batch("w", &legacy).unwrap();
    assert_eq!(ids(&got), vec![EntryId(old.to_hex()), new]);
    assert_eq!(got[0].typtag, "legacy-feed");
    assert!(matches!(lake.read_blob(&got[0], ANY_SIZE), Err(BlobError::Missing(_))), "no fid at all");
}

#[test]
fn leases_expire_and_a_release_only_drops_its_own_claim() {
    let Some(dbs) = TestDbs::for_test("leases_expire_and_a_release_only_drops_its_own_claim") else { return };
    let lease = Duration::from_millis(1500);
    let (first, _) = dbs.open(lease);
    let (second, _) = dbs.open(lease);
    // A lease no run outlives: its entry must stay held, however slow the run.
    let (holding, _) = dbs.open(Duration::from_secs(600));
    assert_eq!(first.lease(), lease);
    let held = first.submit(&new_entry("t", 0.5), b"h").unwrap();
    let id = first.submit(&new_entry("t", 1.0), b"x").unwrap();
    assert_eq!(ids(&holding.claim_batch("crashed", &query(1)).unwrap()), vec![held]);
    let claimed_at = Instant::now();
    assert_eq!(ids(&first.claim_batch("crashed", &query(5)).unwrap()), vec![id.clone()]);
    thread::sleep(Duration::from_millis(1600).saturating_sub(claimed_at.elapsed()));
    assert_eq!(ids(&second.claim_batch("other", &query(5)).unwrap()), vec![id.clone()], "a live lease holds its entry");
    // The first holder wakes up and gives back what it no longer holds.
    first.release(std::slice::from_ref(&id)).unwrap();
    let claim = raw_entry(&dbs, &id).get_document("_claim").unwrap().clone();
    assert_eq!(claim.get_str("owner").unwrap(), "other", "the new holder keeps its claim");
    second.release(std::slice::from_ref(&id)).unwrap();
    assert!(!raw_entry(&dbs, &id).contains_key("_claim"));
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

    let check = |entry: &CacheEntry, name: &str, how: &str| match (lake.read_blob(entry, ANY_SIZE), expect(name)) {
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

/// The limit is decided from the files document: one that claims a
/// terabyte (its chunks are not there) is TooLarge, not Corrupt, so no
/// chunk was asked for. Directly and with the batch that claims it.
#[test]
fn an_oversized_gridfs_file_is_refused_before_its_chunks_are_read() {
    let Some((dbs, lake, _)) = setup("an_oversized_gridfs_file_is_refused_before_its_chunks_are_read") else {
        return;
    };
    let id = lake.submit(&new_entry("t", 1.0), b"abcdef").unwrap();
    let fid = raw_entry(&dbs, &id).get_object_id("fid").unwrap();
    let files: Collection<Document> = dbs.cache().collection("fs.files");
    files.update_one(doc! { "_id": fid }, doc! { "$set": { "length": 1i64 << 40 } }).run().unwrap();
    let expect_too_large = |result: Result<Vec<u8>, BlobError>, how: &str| match result {
        Err(BlobError::TooLarge { size, limit }) => assert_eq!((size, limit), (1 << 40, 1 << 20), "{how}"),
        other => panic!("{how}: expected TooLarge, got {:?}", other.map(|b| b.len())),
    };
    expect_too_large(lake.read_blob(&only(&lake, &id), 1 << 20), "direct");
    let claimed = lake.claim_batch("w", &query(5)).unwrap();
    expect_too_large(lake.read_blob(&claimed[0], 1 << 20), "after the claim");
}

#[test]
fn documents_are_typed_as_pymongo_stores_them() {
    let Some((dbs, _, archive)) = setup("documents_are_typed_as_pymongo_stores_them") else {
        return;
    };
    let data = r#"{"small": 7, "neg": -2147483649, "big": 9223372036854775807, "huge": 18446744073709551616,
                  "giant": 123456789012345678901234567890123456789, "f": 2.0, "nan": NaN, "s": "x", "n": null,
                  "nested": {"b": [1, 1.5, true]}}"#;
    // (Uniqueness by `_hash` is the suite's `duplicate_documents_are_already_present`.)
    assert_eq!(archive.store(&doc("h1", data)).unwrap(), Stored::Inserted);
    let changed = RawDocument { orgid: "someone-else".into(), ..doc("h1", data) };
    assert_eq!(archive.store(&changed).unwrap(), Stored::AlreadyPresent, "the first one stays");
    let batch = [doc("h2", "{}"), doc("h1", "{}"), doc("h3", "[]")];
    assert_eq!(archive.store_batch(&batch).unwrap(), vec![Stored::Inserted, Stored::AlreadyPresent, Stored::Inserted]);
    assert_eq!(archive.count().unwrap(), 3);

    // The unique index exists, under the name pymongo would give it.
    let indexes = dbs.archive().collection::<Document>("instance").list_index_names().run().unwrap();
    assert!(indexes.contains(&"_hash_1".to_string()), "{indexes:?}");

    // The types pymongo writes: int32, int64, double; beyond int64 as documented.
    let stored =
        dbs.archive().collection::<Document>("instance").find_one(doc! { "_hash": "h1" }).run().unwrap().unwrap();
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
    let over = dbs
        .archive()
        .collection::<Document>("instance")
        .count_documents(doc! { "data.huge": { "$gt": i64::MAX } })
        .run()
        .unwrap();
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
    assert_eq!(err.kind, StoreErrorKind::Refused);
    assert_eq!(archive.count().unwrap(), 0);
}

/// Documents with the same `_hash` already there (written by someone else,
/// without the index): the unique index cannot be created, which the server
/// says with its DuplicateKey code.
#[test]
fn duplicate_hashes_without_an_index_are_refused_loudly() {
    let Some(dbs) = TestDbs::for_test("duplicate_hashes_without_an_index_are_refused_loudly") else { return };
    let coll = dbs.archive().collection::<Document>("instance");
    coll.insert_many([doc! { "itype": "raw", "_hash": "h" }, doc! { "itype": "raw", "_hash": "h" }]).run().unwrap();
    let (_, archive) = dbs.open(LEASE);
    let err = archive.store(&doc("other", "{}")).unwrap_err();
    assert_eq!((err.backend, err.kind), ("mongodb", StoreErrorKind::Refused), "{err}");
    assert!(err.to_string().contains("remove the duplicates first"), "{err}");
    assert_eq!(archive.count().unwrap(), 2);
}

/// Claims, blob reads and read-backs go to the primary even when the URI
/// asks for secondaries: a lagging secondary would make a blob look
/// missing (a false, permanent ERROR) or a claim look free. Checked on the
/// wire: no read the stores send carries another read preference, where a
/// plain client with the same URI does.
#[test]
fn reads_go_to_the_primary_whatever_the_uri_s_read_preference() {
    use cybexp_lake::{ArchiveStore, CacheLake, LakeAdmin};
    use cybexp_store_mongo::mongodb::event::EventHandler;
    use cybexp_store_mongo::mongodb::event::command::CommandEvent;
    use std::sync::{Arc, Mutex};
    let Some(dbs) = TestDbs::for_test("reads_go_to_the_primary_whatever_the_uri_s_read_preference") else { return };
    let sep = if dbs.uri.contains('?') {
        "&"
    } else if dbs.uri.ends_with('/') {
        "?"
    } else {
        "/?"
    };
    let uri = format!("{}{sep}readPreference=secondaryPreferred", dbs.uri);
    let recorder = |seen: &Arc<Mutex<Vec<Document>>>| {
        let seen = seen.clone();
        EventHandler::callback(move |event: CommandEvent| {
            if let CommandEvent::Started(started) = event {
                seen.lock().unwrap().push(started.command);
            }
        })
    };
    // (A getMore goes to the server that holds its cursor, whatever it says.)
    let is_read = |command: &Document| ["find", "aggregate", "count"].iter().any(|name| command.contains_key(*name));
    let preference = |command: &Document| {
        command.get_document("$readPreference").ok().and_then(|p| p.get_str("mode").ok().map(str::to_owned))
    };

    // The control: a plain client with this URI asks for a secondary.
    let control = Arc::new(Mutex::new(Vec::new()));
    let mut options = cybexp_store_mongo::mongodb::options::ClientOptions::parse(&uri).run().unwrap();
    options.command_event_handler = Some(recorder(&control));
    let client = cybexp_store_mongo::mongodb::sync::Client::with_options(options).unwrap();
    client.database(&dbs.cache_db).collection::<Document>("file_entries").find(doc! {}).run().unwrap().for_each(drop);
    let asked: Vec<Option<String>> = control.lock().unwrap().iter().filter(|c| is_read(c)).map(preference).collect();
    assert!(
        asked.iter().any(|mode| mode.as_deref() == Some("secondaryPreferred")),
        "the control does not show the URI's preference on the wire, so this test could not see it: {asked:?}"
    );

    // The stores, on the same URI.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let config = cybexp_store_mongo::MongoConfig { uri: Some(uri), ..dbs.config() };
    let (lake, archive) = config.open_observed(Duration::from_secs(60), Some(recorder(&seen))).unwrap();
    for i in 0..3 {
        lake.submit(&new_entry("t", f64::from(i)), format!("blob {i}").as_bytes()).unwrap();
    }
    let claimed = lake.claim_batch("w", &query(10)).unwrap();
    assert_eq!(claimed.len(), 3);
    for entry in &claimed {
        lake.read_blob(entry, u64::MAX).unwrap();
    }
    lake.read_blob(&lake.entries(&cybexp_lake::EntryFilter::default()).unwrap()[0], u64::MAX).unwrap();
    lake.release(&ids(&claimed)).unwrap();
    lake.queue_depth().unwrap();
    archive.count().unwrap();
    let reads: Vec<Document> = seen.lock().unwrap().iter().filter(|c| is_read(c)).cloned().collect();
    assert!(reads.len() >= 5, "claims, read-ahead, blob reads, listing and counts were seen: {reads:?}");
    // And each is sized to come back in one reply: no getMore round trips.
    let get_mores = seen.lock().unwrap().iter().filter(|c| c.contains_key("getMore")).count();
    assert_eq!(get_mores, 0, "a read of the hot path needed a getMore");
    for read in &reads {
        let mode = preference(read);
        assert!(mode.is_none() || mode.as_deref() == Some("primary"), "a read not sent to the primary: {read}");
    }
}
