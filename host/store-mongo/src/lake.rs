//! `CacheLake` and `LakeAdmin` on `cache_db.file_entries` and its GridFS bucket.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cybexp_lake::{
    BatchQuery, BlobError, CacheEntry, CacheLake, EntryFilter, EntryId, EntryState, ForeignClaims, LakeAdmin, NewEntry,
    Outcome, QueueDepth, StoreError, StoreErrorKind,
};
use mongodb::IndexModel;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, DateTime, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::sync::{Client, Collection, Database};

use crate::blobs::{BlobFailure, BlobResult, Bucket};
use crate::{BACKEND, Connection, LakeTarget, Options};

/// Name of the index the claim query uses.
pub const CLAIM_INDEX: &str = "cybexp_archive_claim";

/// Rounds of "find candidates, claim them" per poll when other archivers
/// keep taking the candidates first.
const CLAIM_ROUNDS: usize = 4;

/// Blobs read ahead at claim time: files up to this size...
const PREFETCH_FILE_MAX: u64 = 1 << 20;
/// ... and up to this much per batch; larger ones are read when needed.
const PREFETCH_BATCH_MAX: u64 = 32 << 20;

/// The cache data lake on MongoDB. Clones share one client and state.
#[derive(Clone)]
pub struct MongoLake {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Connection,
    bucket: Bucket,
    target: LakeTarget,
    lease: Duration,
    create_claim_index: bool,
    index_ready: AtomicBool,
    /// Claims this store holds: entry → batch token.
    claims: Mutex<HashMap<ObjectId, ObjectId>>,
    /// Claims whose release failed (server down); released on the next poll.
    pending_release: Mutex<Vec<(ObjectId, ObjectId)>>,
    /// Blobs read at claim time: entry → (file id, contents).
    prefetched: Mutex<HashMap<ObjectId, (ObjectId, BlobResult)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MongoLake {
    pub(crate) fn new(conn: Connection, target: &LakeTarget, options: &Options) -> MongoLake {
        MongoLake {
            inner: Arc::new(Inner {
                conn,
                bucket: Bucket::new(&target.db, &target.bucket),
                target: target.clone(),
                lease: options.lease,
                create_claim_index: options.create_claim_index,
                index_ready: AtomicBool::new(false),
                claims: Mutex::new(HashMap::new()),
                pending_release: Mutex::new(Vec::new()),
                prefetched: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The same store with claims leased for `lease` (tests use short ones).
    pub fn with_lease(self, lease: Duration) -> MongoLake {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.lease = lease;
                MongoLake { inner: Arc::new(inner) }
            }
            Err(shared) => {
                let options = Options { lease, create_claim_index: shared.create_claim_index, ..Options::default() };
                MongoLake::new(shared.conn.clone(), &shared.target, &options)
            }
        }
    }

    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// The database holding the entries and the bucket (for tests and tools).
    pub fn database(&self) -> Database {
        self.inner.conn.client().database(&self.inner.target.db)
    }

    pub fn target(&self) -> &LakeTarget {
        &self.inner.target
    }
}

impl Inner {
    fn call<T>(&self, what: &str, op: impl FnOnce(&Client) -> mongodb::error::Result<T>) -> Result<T, StoreError> {
        self.conn.call(what, op)
    }

    /// The entries collection on the client an operation runs on.
    fn entries(&self, client: &Client) -> Collection<Document> {
        client.database(&self.target.db).collection(&self.target.coll)
    }

    /// Creates the claim index once; a server that refuses (no privilege)
    /// gets a warning, not a failure: claims still work, only slower.
    fn ensure_claim_index(&self) -> Result<(), StoreError> {
        if !self.create_claim_index || self.index_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let index = IndexModel::builder()
            .keys(doc! { "processed": 1, "timestamp": 1, "_id": 1 })
            .options(IndexOptions::builder().name(CLAIM_INDEX.to_owned()).build())
            .build();
        match self.call("creating the claim index", |client| self.entries(client).create_index(index).run()) {
            Ok(_) => {}
            Err(e) if e.kind == StoreErrorKind::Unavailable => return Err(e),
            Err(e) => tracing::warn!(error = %e, "could not create the claim index; claims will scan"),
        }
        self.index_ready.store(true, Ordering::Release);
        Ok(())
    }

    fn flush_pending_releases(&self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut *lock(&self.pending_release));
        if pending.is_empty() {
            return Ok(());
        }
        let ids: Vec<ObjectId> = pending.iter().map(|(id, _)| *id).collect();
        let tokens: Vec<ObjectId> = pending.iter().map(|(_, token)| *token).collect();
        let filter = doc! { "_id": { "$in": ids }, "_claim.token": { "$in": tokens } };
        match self.call("releasing claims", |client| {
            self.entries(client).update_many(filter, doc! { "$unset": { "_claim": "" } }).run()
        }) {
            Ok(_) => Ok(()),
            Err(e) => {
                lock(&self.pending_release).extend(pending);
                Err(e)
            }
        }
    }

    /// One round: the oldest claimable entries, claimed with one update.
    fn claim_round(
        &self,
        worker: &str,
        query: &BatchQuery,
        want: usize,
    ) -> Result<(Vec<CacheEntry>, usize), StoreError> {
        let now = DateTime::now();
        let expires = DateTime::from_millis(now.timestamp_millis().saturating_add(millis(self.lease)));
        let candidates: Vec<Document> = self.call("finding entries to claim", |client| {
            self.entries(client)
                .find(candidates(query, now))
                .sort(doc! { "timestamp": 1, "_id": 1 })
                .limit(i64::try_from(want).unwrap_or(i64::MAX))
                .run()?
                .collect()
        })?;
        if candidates.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let ids: Vec<ObjectId> = candidates.iter().filter_map(|d| d.get_object_id("_id").ok()).collect();
        let token = ObjectId::new();
        let filter = still_claimable(&ids, query, now);
        let update = doc! { "$set": { "_claim": { "owner": worker, "token": token, "expires": expires } } };
        // If the claim or the read-back fails, the server may still have
        // set some claims: give back whatever carries this batch's token.
        let give_back = |e: StoreError| {
            lock(&self.pending_release).extend(ids.iter().map(|id| (*id, token)));
            e
        };
        let result = self
            .call("claiming entries", |client| self.entries(client).update_many(filter, update).run())
            .map_err(give_back)?;
        let mine: Vec<Document> = if result.modified_count == ids.len() as u64 {
            candidates
        } else {
            // Another archiver took some of them in between: ours carry our token.
            self.call("reading claimed entries", |client| {
                self.entries(client)
                    .find(doc! { "_id": { "$in": &ids }, "_claim.token": token })
                    .sort(doc! { "timestamp": 1, "_id": 1 })
                    .run()?
                    .collect()
            })
            .map_err(give_back)?
        };
        let entries: Vec<CacheEntry> = mine.iter().filter_map(entry_from_doc).collect();
        let claimed: HashSet<ObjectId> = entries.iter().filter_map(|e| ObjectId::parse_str(&e.id.0).ok()).collect();
        // A release still pending for an entry we now hold again is moot.
        lock(&self.pending_release).retain(|(id, _)| !claimed.contains(id));
        let mut claims = lock(&self.claims);
        for id in claimed {
            claims.insert(id, token);
        }
        Ok((entries, ids.len()))
    }

    /// Reads the blobs of a claimed batch ahead (small files only). A
    /// failure here is not one: `read_blob` reads them one by one instead.
    fn prefetch(&self, entries: &[CacheEntry]) {
        let wanted: Vec<(ObjectId, ObjectId)> = entries
            .iter()
            .filter_map(|e| {
                Some((ObjectId::parse_str(&e.id.0).ok()?, ObjectId::parse_str(e.blob_ref.as_deref()?).ok()?))
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        let fids: Vec<ObjectId> = wanted.iter().map(|(_, fid)| *fid).collect::<HashSet<_>>().into_iter().collect();
        let files = match self.bucket.files(&self.conn, &fids) {
            Ok(files) => files,
            Err(e) => {
                tracing::debug!(error = %e, "blob read-ahead failed");
                return;
            }
        };
        let mut results: HashMap<ObjectId, BlobResult> = HashMap::new();
        let mut small = Vec::new();
        let mut total = 0u64;
        for (fid, file) in files {
            match file {
                Err(failure) => {
                    results.insert(fid, Err(failure));
                }
                Ok(info) if info.length <= PREFETCH_FILE_MAX && total + info.length <= PREFETCH_BATCH_MAX => {
                    total += info.length;
                    small.push(info);
                }
                Ok(_) => {}
            }
        }
        match self.bucket.read(&self.conn, &small) {
            Ok(read) => results.extend(read),
            Err(e) => tracing::debug!(error = %e, "blob read-ahead failed"),
        }
        let mut prefetched = lock(&self.prefetched);
        for (entry, fid) in wanted {
            if let Some(result) = results.get(&fid) {
                prefetched.insert(entry, (fid, result.clone()));
            }
        }
    }

    fn forget(&self, id: &ObjectId) -> Option<ObjectId> {
        lock(&self.prefetched).remove(id);
        lock(&self.claims).remove(id)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The ObjectId behind an [`EntryId`] this store handed out.
fn object_id(id: &EntryId) -> Result<ObjectId, StoreError> {
    ObjectId::parse_str(&id.0)
        .map_err(|_| StoreError::refused(BACKEND, format!("entry id {id:?} is not a MongoDB ObjectId")))
}

/// The oldest entries a poll may claim (reference §5: not processed, not
/// skipped unless asked) that hold no live claim. `processed: false` (what
/// the API writes) lets MongoDB walk the claim index in order. No `$or`
/// beyond the typtag's: "no claim or an expired one" is one condition.
fn candidates(query: &BatchQuery, now: DateTime) -> Document {
    let mut filter = doc! {
        "processed": false,
        "_id": { "$type": "objectId" },
        "_claim.expires": { "$not": { "$gt": now } },
    };
    if !query.include_skipped {
        filter.insert("skip", doc! { "$ne": true });
    }
    if let Some(typtag) = &query.typtag {
        filter.extend(typtag_is(typtag));
    }
    filter
}

/// The claim update's filter: the candidates' condition again, checked by
/// the server atomically per entry as it sets the claim. By `_id` first so
/// the server looks up only those entries.
fn still_claimable(ids: &[ObjectId], query: &BatchQuery, now: DateTime) -> Document {
    let mut filter = doc! {
        "_id": { "$in": ids },
        "processed": { "$ne": true },
        "_claim.expires": { "$not": { "$gt": now } },
    };
    if !query.include_skipped {
        filter.insert("skip", doc! { "$ne": true });
    }
    filter
}

fn typtag_is(typtag: &str) -> Document {
    doc! { "$or": [ { "typetag": typtag }, { "typtag": typtag } ] }
}

fn text(doc: &Document, key: &str) -> Option<String> {
    match doc.get(key) {
        Some(Bson::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn flag(doc: &Document, key: &str) -> bool {
    matches!(doc.get(key), Some(Bson::Boolean(true)))
}

/// A cache entry as the API wrote it, read leniently: a field of another
/// type than the reference's reads as absent.
pub(crate) fn entry_from_doc(doc: &Document) -> Option<CacheEntry> {
    let id = doc.get_object_id("_id").ok()?;
    let timestamp = match doc.get("timestamp") {
        Some(Bson::Double(f)) => *f,
        Some(Bson::Int32(n)) => f64::from(*n),
        Some(Bson::Int64(n)) => *n as f64,
        Some(Bson::DateTime(d)) => d.timestamp_millis() as f64 / 1000.0,
        _ => 0.0,
    };
    let refs = match doc.get("_ref") {
        Some(Bson::Array(items)) => items.iter().filter_map(|b| b.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    Some(CacheEntry {
        id: EntryId(id.to_hex()),
        name: text(doc, "name").unwrap_or_default(),
        orgid: text(doc, "orgid").unwrap_or_default(),
        typtag: text(doc, "typetag").or_else(|| text(doc, "typtag")).unwrap_or_default(),
        timezone: text(doc, "timezone").unwrap_or_else(|| "UTC".into()),
        timestamp,
        blob_ref: match doc.get("fid") {
            Some(Bson::ObjectId(fid)) => Some(fid.to_hex()),
            _ => None,
        },
        processed: flag(doc, "processed"),
        skip: flag(doc, "skip"),
        state: text(doc, "state"),
        error: text(doc, "error"),
        cause: text(doc, "cause"),
        refs,
    })
}

/// The update statements recording one outcome (reference §5). Exactly one
/// of them matches an existing entry, so a short count means a missing one.
fn outcome_statements(id: ObjectId, outcome: &Outcome) -> Vec<Bson> {
    let failure = |set: Document, unset: Document| {
        vec![
            // A late failure never downgrades a processed entry: only its claim goes.
            Bson::Document(doc! { "q": { "_id": id, "processed": true }, "u": { "$unset": { "_claim": "" } } }),
            Bson::Document(doc! {
                "q": { "_id": id, "processed": { "$ne": true } },
                "u": { "$set": set, "$unset": unset },
            }),
        ]
    };
    match outcome {
        Outcome::Success { hash } => vec![Bson::Document(doc! {
            "q": { "_id": id },
            "u": {
                "$set": { "processed": true },
                "$addToSet": { "_ref": hash },
                // A forced reprocess that succeeds leaves no stale failure behind.
                "$unset": { "skip": "", "state": "", "error": "", "cause": "", "_claim": "" },
            },
        })],
        Outcome::NotSupported => failure(
            doc! { "skip": true, "state": Outcome::NOT_SUPPORTED_STATE },
            doc! { "error": "", "cause": "", "_claim": "" },
        ),
        Outcome::Error { cause, .. } => failure(
            doc! {
                "skip": true,
                "state": cause.state(),
                "error": outcome.short_error().unwrap_or_default(),
                "cause": cause.code(),
            },
            doc! { "_claim": "" },
        ),
    }
}

/// The first write error or write concern error of a write command's reply.
fn write_failure(reply: &Document) -> Option<String> {
    if let Ok(errors) = reply.get_array("writeErrors")
        && let Some(Bson::Document(first)) = errors.first()
    {
        let code = first.get_i32("code").unwrap_or_default();
        let message = first.get_str("errmsg").unwrap_or("no message");
        return Some(format!("write error {code}: {message} ({} in all)", errors.len()));
    }
    if let Ok(wc) = reply.get_document("writeConcernError") {
        return Some(format!("write concern error: {}", wc.get_str("errmsg").unwrap_or("no message")));
    }
    None
}

fn count_of(reply: &Document, key: &str) -> u64 {
    match reply.get(key) {
        Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
        Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
        Some(Bson::Double(f)) => *f as u64,
        _ => 0,
    }
}

impl CacheLake for MongoLake {
    fn describe(&self) -> String {
        let t = &self.inner.target;
        format!("mongodb://{}/{}.{} (GridFS {})", self.inner.conn.hosts, t.db, t.coll, t.bucket)
    }

    fn claim_batch(&self, worker: &str, query: &BatchQuery) -> Result<Vec<CacheEntry>, StoreError> {
        let inner = &self.inner;
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        inner.ensure_claim_index()?;
        inner.flush_pending_releases()?;
        // Read-ahead of the previous batch that was never asked for.
        lock(&inner.prefetched).clear();
        let mut claimed = Vec::new();
        for _ in 0..CLAIM_ROUNDS {
            let want = query.limit - claimed.len();
            let (mine, candidates) = inner.claim_round(worker, query, want)?;
            let lost_race = mine.len() < candidates;
            claimed.extend(mine);
            // Done when full, when nothing more is claimable, or when we got
            // every candidate (the next round would find none).
            if claimed.len() >= query.limit || candidates < want || !lost_race {
                break;
            }
        }
        inner.prefetch(&claimed);
        Ok(claimed)
    }

    fn read_blob(&self, entry: &CacheEntry, max_bytes: u64) -> Result<Vec<u8>, BlobError> {
        let inner = &self.inner;
        let Some(blob_ref) = &entry.blob_ref else {
            return Err(BlobError::Missing(format!("entry {} has no GridFS file id (fid)", entry.id)));
        };
        let Ok(fid) = ObjectId::parse_str(blob_ref) else {
            return Err(BlobError::Missing(format!("blob reference {blob_ref:?} is not a GridFS ObjectId")));
        };
        let ahead = ObjectId::parse_str(&entry.id.0).ok().and_then(|id| lock(&inner.prefetched).remove(&id));
        let result = match ahead {
            // Read ahead without knowing the limit: applied here instead.
            Some((read_fid, Ok(bytes))) if read_fid == fid && bytes.len() as u64 > max_bytes => {
                Err(BlobFailure::TooLarge { size: bytes.len() as u64, limit: max_bytes })
            }
            Some((read_fid, result)) if read_fid == fid => result,
            _ => inner.bucket.read_one(&inner.conn, fid, max_bytes)?,
        };
        result.map_err(|failure| match failure {
            BlobFailure::Missing(why) => BlobError::Missing(why),
            BlobFailure::Corrupt(why) => BlobError::Corrupt(why),
            BlobFailure::TooLarge { size, limit } => BlobError::TooLarge { size, limit },
        })
    }

    fn apply_outcomes(&self, outcomes: &[(EntryId, Outcome)]) -> Result<(), StoreError> {
        let inner = &self.inner;
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(outcomes.len());
        let mut statements = Vec::with_capacity(outcomes.len() * 2);
        for (id, outcome) in outcomes {
            let oid = object_id(id)?;
            ids.push(oid);
            statements.extend(outcome_statements(oid, outcome));
        }
        // One multi-statement `update` command: one round trip for the group.
        let mut command = doc! { "update": &inner.target.coll, "updates": statements, "ordered": true };
        if let Some(wc) = inner.conn.write_concern_doc() {
            command.insert("writeConcern", wc);
        }
        let what = "recording outcomes";
        let reply = inner.call(what, |client| client.database(&inner.target.db).run_command(command).run())?;
        if let Some(failure) = write_failure(&reply) {
            return Err(StoreError::other(BACKEND, format!("{what}: {failure}")));
        }
        for id in &ids {
            inner.forget(id);
        }
        if count_of(&reply, "n") < outcomes.len() as u64 {
            // Some entry matched nothing: find out which do not exist.
            let unique: Vec<ObjectId> = ids.iter().copied().collect::<HashSet<_>>().into_iter().collect();
            let found: Vec<Document> = inner.call(what, |client| {
                inner
                    .entries(client)
                    .find(doc! { "_id": { "$in": &unique } })
                    .projection(doc! { "_id": 1 })
                    .run()?
                    .collect()
            })?;
            let found: HashSet<ObjectId> = found.iter().filter_map(|d| d.get_object_id("_id").ok()).collect();
            if let Some(missing) = unique.iter().find(|id| !found.contains(id)) {
                return Err(StoreError::refused(BACKEND, format!("{what}: no entry {missing}")));
            }
        }
        Ok(())
    }

    fn release(&self, id: &EntryId) -> Result<(), StoreError> {
        let inner = &self.inner;
        let oid = object_id(id)?;
        let token = inner.forget(&oid);
        // Only our own claim: after a lease ran out another archiver may hold it.
        let filter = match token {
            Some(token) => doc! { "_id": oid, "_claim.token": token },
            None => doc! { "_id": oid },
        };
        let result = inner.call("releasing a claim", |client| {
            inner.entries(client).update_one(filter, doc! { "$unset": { "_claim": "" } }).run()
        });
        if let (Err(_), Some(token)) = (&result, token) {
            lock(&inner.pending_release).push((oid, token));
        }
        result.map(|_| ())
    }

    fn renew(&self, worker: &str, ids: &[EntryId]) -> Result<(), StoreError> {
        let inner = &self.inner;
        if ids.is_empty() {
            return Ok(());
        }
        let oids = ids.iter().map(object_id).collect::<Result<Vec<_>, _>>()?;
        let expires = DateTime::from_millis(DateTime::now().timestamp_millis().saturating_add(millis(inner.lease)));
        // Only claims still ours (by owner; a finished entry has none).
        let filter = doc! { "_id": { "$in": oids }, "processed": { "$ne": true }, "_claim.owner": worker };
        inner.call("renewing claims", |client| {
            inner.entries(client).update_many(filter, doc! { "$set": { "_claim.expires": expires } }).run()
        })?;
        Ok(())
    }

    fn foreign_claims(&self, worker: &str, query: &BatchQuery) -> Result<ForeignClaims, StoreError> {
        let inner = &self.inner;
        let mut filter = doc! {
            "processed": { "$ne": true },
            "_claim.expires": { "$gt": DateTime::now() },
            "_claim.owner": { "$ne": worker },
        };
        if !query.include_skipped {
            filter.insert("skip", doc! { "$ne": true });
        }
        if let Some(typtag) = &query.typtag {
            filter.extend(typtag_is(typtag));
        }
        // Live claims are few (a batch per archiver), so they are read and
        // summed up here rather than with an aggregation.
        let claims: Vec<Document> = inner.call("listing other archivers' claims", |client| {
            inner.entries(client).find(filter).projection(doc! { "_claim": 1 }).run()?.collect()
        })?;
        let mut owners = std::collections::BTreeSet::new();
        let mut earliest = None::<i64>;
        for claim in claims.iter().filter_map(|d| d.get_document("_claim").ok()) {
            if let Ok(owner) = claim.get_str("owner") {
                owners.insert(owner.to_owned());
            }
            if let Ok(expires) = claim.get_datetime("expires") {
                let ms = expires.timestamp_millis();
                earliest = Some(earliest.map_or(ms, |e| e.min(ms)));
            }
        }
        Ok(ForeignClaims { owners: owners.into_iter().collect(), earliest_expiry_ms: earliest })
    }

    fn expire_claims(&self, owners: &[String]) -> Result<u64, StoreError> {
        let inner = &self.inner;
        if owners.is_empty() {
            return Ok(0);
        }
        let filter = doc! { "processed": { "$ne": true }, "_claim.owner": { "$in": owners } };
        let result = inner.call("ending the claims of a dead archiver", |client| {
            inner.entries(client).update_many(filter, doc! { "$unset": { "_claim": "" } }).run()
        })?;
        Ok(result.modified_count)
    }
}

impl LakeAdmin for MongoLake {
    fn unskip(&self, typtag: Option<&str>) -> Result<u64, StoreError> {
        let inner = &self.inner;
        let mut filter = doc! { "processed": false, "skip": true };
        if let Some(typtag) = typtag {
            filter.extend(typtag_is(typtag));
        }
        let update = doc! { "$unset": { "skip": "", "state": "", "error": "", "cause": "" } };
        let result = inner
            .call("queueing skipped entries again", |client| inner.entries(client).update_many(filter, update).run())?;
        Ok(result.modified_count)
    }

    fn unskip_ids(&self, ids: &[EntryId]) -> Result<u64, StoreError> {
        let inner = &self.inner;
        // An id this store never handed out matches nothing.
        let ids: Vec<ObjectId> = ids.iter().filter_map(|id| ObjectId::parse_str(&id.0).ok()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        // The condition is checked by the server per entry as it updates it.
        let filter = doc! { "_id": { "$in": ids }, "processed": false, "skip": true };
        let update = doc! { "$unset": { "skip": "", "state": "", "error": "", "cause": "" } };
        let result =
            inner.call("queueing entries again", |client| inner.entries(client).update_many(filter, update).run())?;
        Ok(result.modified_count)
    }

    fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        let inner = &self.inner;
        let what = "counting the queue";
        let waiting = inner.call(what, |client| {
            inner.entries(client).count_documents(doc! { "processed": false, "skip": { "$ne": true } }).run()
        })?;
        let skipped = inner.call(what, |client| {
            inner.entries(client).count_documents(doc! { "processed": false, "skip": true }).run()
        })?;
        Ok(QueueDepth { waiting, skipped })
    }

    fn submit(&self, entry: &NewEntry, blob: &[u8]) -> Result<EntryId, StoreError> {
        let inner = &self.inner;
        entry.validate().map_err(|why| StoreError::refused(BACKEND, format!("submitting an entry: {why}")))?;
        let fid = inner.bucket.put(&inner.conn, &entry.name, blob)?;
        let id = ObjectId::new();
        // The fields and types the CYBEX-P API writes (reference §1).
        let doc = doc! {
            "_id": id,
            "name": &entry.name,
            "orgid": &entry.orgid,
            "typetag": &entry.typtag,
            "timezone": &entry.timezone,
            "timestamp": entry.timestamp,
            "processed": false,
            "fid": fid,
        };
        if let Err(e) = inner.call("submitting an entry", |client| inner.entries(client).insert_one(doc).run()) {
            if let Err(cleanup) = inner.bucket.delete(&inner.conn, fid) {
                tracing::warn!(file = %fid, error = %cleanup, "could not delete the blob of an entry that was not added");
            }
            return Err(e);
        }
        Ok(EntryId(id.to_hex()))
    }

    fn entries(&self, filter: &EntryFilter) -> Result<Vec<CacheEntry>, StoreError> {
        let inner = &self.inner;
        // Processed, unprocessed (waiting) and skipped split the entries as
        // `queue_depth` counts them.
        let mut query = match &filter.state {
            None => doc! {},
            Some(EntryState::Processed) => doc! { "processed": true },
            Some(EntryState::Unprocessed) => doc! { "processed": false, "skip": { "$ne": true } },
            Some(EntryState::Skipped) => doc! { "processed": false, "skip": true },
            Some(EntryState::State(state)) => doc! { "state": state },
        };
        if let Some(id) = &filter.id {
            let Ok(id) = ObjectId::parse_str(&id.0) else { return Ok(Vec::new()) };
            query.insert("_id", id);
        }
        let docs: Vec<Document> = inner.call("listing entries", |client| {
            inner.entries(client).find(query).sort(doc! { "timestamp": 1, "_id": 1 }).run()?.collect()
        })?;
        Ok(docs.iter().filter_map(entry_from_doc).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cybexp_lake::ErrorCause;

    #[test]
    fn entries_read_both_spellings_and_odd_types() {
        let id = ObjectId::new();
        let fid = ObjectId::new();
        let entry = entry_from_doc(&doc! {
            "_id": id, "name": "n", "orgid": "o", "typtag": "old", "timezone": "UTC",
            "timestamp": 12i32, "processed": false, "fid": fid, "_ref": ["a", 1, "b"],
        })
        .unwrap();
        assert_eq!(entry.id.0, id.to_hex());
        assert_eq!(entry.typtag, "old");
        assert_eq!(entry.timestamp, 12.0);
        assert_eq!(entry.blob_ref, Some(fid.to_hex()));
        assert_eq!(entry.refs, ["a", "b"]);
        assert!(!entry.skip && entry.state.is_none());

        let entry = entry_from_doc(&doc! { "_id": id, "typetag": "new", "typtag": "old", "fid": "x" }).unwrap();
        assert_eq!((entry.typtag.as_str(), entry.timezone.as_str(), entry.blob_ref), ("new", "UTC", None));
        assert!(entry_from_doc(&doc! { "_id": "not an oid" }).is_none());
    }

    #[test]
    fn exactly_one_statement_per_outcome_matches() {
        let id = ObjectId::new();
        assert_eq!(outcome_statements(id, &Outcome::Success { hash: "h".into() }).len(), 1);
        let error = Outcome::Error { cause: ErrorCause::MissingBlob, message: "gone".into() };
        let statements = outcome_statements(id, &error);
        assert_eq!(statements.len(), 2);
        let q = |s: &Bson| s.as_document().unwrap().get_document("q").unwrap().clone();
        assert_eq!(q(&statements[0]), doc! { "_id": id, "processed": true });
        assert_eq!(q(&statements[1]), doc! { "_id": id, "processed": { "$ne": true } });
        let set = statements[1].as_document().unwrap().get_document("u").unwrap().get_document("$set").unwrap().clone();
        assert_eq!(set, doc! { "skip": true, "state": "bad_data", "error": "gone", "cause": "blob.missing" });
    }

    #[test]
    fn write_failures_are_found_in_replies() {
        assert_eq!(write_failure(&doc! { "n": 1, "ok": 1.0 }), None);
        let reply = doc! { "writeErrors": [ { "index": 0, "code": 2, "errmsg": "bad" } ] };
        assert_eq!(write_failure(&reply).unwrap(), "write error 2: bad (1 in all)");
        let reply = doc! { "writeConcernError": { "code": 64, "errmsg": "timeout" } };
        assert!(write_failure(&reply).unwrap().contains("timeout"));
        assert_eq!(count_of(&doc! { "n": 3i64 }, "n"), 3);
    }
}
