//! `CacheLake` and `LakeAdmin` on `cache_db.file_entries` and its GridFS
//! bucket. Claims and leases are the server's (see the crate docs).

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cybexp_lake::{
    BatchQuery, BlobError, CacheEntry, CacheLake, ChangeFeed, EntryFilter, EntryId, EntryState, ForeignClaims,
    LakeAdmin, NewEntry, Outcome, QueueDepth, Requeued, StoreError, StoreErrorKind,
};
use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, bson, doc};
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection, IndexModel};

use crate::blobs::{BlobFailure, BlobResult, Bucket};
use crate::{BACKEND, Connection, LakeTarget, Options};

/// Name of the index claims walk (see the crate docs for its plan).
pub const CLAIM_INDEX: &str = "cybexp_archive_claim_v2";

/// Rounds of "find candidates, claim them" per poll when other archivers
/// keep taking the candidates first.
const CLAIM_ROUNDS: usize = 4;

/// Blobs read ahead at claim time: files up to this size...
const PREFETCH_FILE_MAX: u64 = 1 << 20;
/// ... and up to this much per claim; larger ones are read when needed.
const PREFETCH_BATCH_MAX: u64 = 32 << 20;

/// Entries per round trip when walking the lake (`dump`, `requeue`).
const WALK_BATCH: u32 = 1000;

/// The fields of an entry the archiver reads (the blob itself is apart).
fn entry_projection() -> Document {
    doc! {
        "name": 1, "orgid": 1, "typetag": 1, "typtag": 1, "timezone": 1, "timestamp": 1, "fid": 1,
        "processed": 1, "skip": 1, "state": 1, "error": 1, "cause": 1, "_ref": 1, "_requeued": 1,
    }
}

/// The requeue update (a pipeline, one document at a time on the server):
/// clears `skip`, `state`, `error` and `cause` and appends what it cleared,
/// with the server's clock, to `_requeued`, keeping the last
/// [`Requeued::KEEP`]. (Not `$push` with `$slice`: a classic update cannot
/// read the fields it moves; this does so in the same atomic write.) A
/// `_requeued` of another type than an array starts again.
fn requeue_update() -> Vec<Document> {
    let record = doc! {
        "at": { "$divide": [server_now_ms(), 1000.0] },
        "state": "$state",
        "cause": "$cause",
        "error": "$error",
    };
    let history = doc! { "$cond": [{ "$isArray": "$_requeued" }, "$_requeued", []] };
    vec![
        doc! { "$set": { "_requeued": { "$slice": [{ "$concatArrays": [history, [record]] }, -(Requeued::KEEP as i64)] } } },
        doc! { "$unset": ["skip", "state", "error", "cause"] },
    ]
}

/// The server's clock, in milliseconds since the epoch: `$$NOW` as a
/// number. (A number, not a date: compared with a stored date, `$$NOW`
/// misbehaves on the SecantusDB test server, and numbers compare alike
/// everywhere.)
fn server_now_ms() -> Bson {
    bson!({ "$toLong": "$$NOW" })
}

/// The end of a lease of `lease` from now, by the server's clock.
fn lease_end(lease: Duration) -> Bson {
    bson!({ "$add": [server_now_ms(), millis(lease)] })
}

/// An expression: the entry holds a claim whose lease has not run out, by
/// the server's clock. A claim without `until` (an earlier version's) has
/// run out.
fn live_claim() -> Bson {
    bson!({ "$gt": ["$_claim.until", server_now_ms()] })
}

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
    /// Blobs read at claim time: entry → (file id, contents). An entry's
    /// goes when its blob is read, or it is released or resolved.
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
                let options = Options {
                    lease,
                    create_claim_index: shared.create_claim_index,
                    timeout: shared.conn.timeout,
                    ..Options::default()
                };
                MongoLake::new(shared.conn.clone(), &shared.target, &options)
            }
        }
    }

    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// How long one operation may take.
    pub fn timeout(&self) -> Duration {
        self.inner.conn.timeout
    }

    pub fn target(&self) -> &LakeTarget {
        &self.inner.target
    }

    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.conn
    }
}

impl Inner {
    fn call<T>(&self, what: &str, op: impl AsyncFnOnce(&Client) -> mongodb::error::Result<T>) -> Result<T, StoreError> {
        self.conn.call(what, op)
    }

    /// The entries collection on the client an operation runs on.
    fn entries(&self, client: &Client) -> Collection<Document> {
        client.database(&self.target.db).collection(&self.target.coll)
    }

    /// Creates the indexes the hot path reads by, once: the claim index,
    /// and the GridFS spec's `{files_id, n}` on the chunks, which every
    /// driver's upload creates but a lake filled by other means may lack
    /// (without it each blob read scans every chunk of the lake). A server
    /// that refuses (no privilege, a conflicting index) gets a warning, not
    /// a failure: the reads still work, only slower.
    fn ensure_indexes(&self) -> Result<(), StoreError> {
        if !self.create_claim_index || self.index_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let claim = IndexModel::builder()
            .keys(doc! { "processed": 1, "skip": 1, "timestamp": 1, "_id": 1 })
            .options(IndexOptions::builder().name(CLAIM_INDEX.to_owned()).build())
            .build();
        match self.call("creating the claim index", async |client| self.entries(client).create_index(claim).await) {
            Ok(_) => {}
            Err(e) if e.kind == StoreErrorKind::Unavailable => return Err(e),
            Err(e) => tracing::warn!(error = %e, "could not create the claim index; claims will scan"),
        }
        match self.bucket.ensure_chunks_index(&self.conn) {
            Ok(()) => {}
            Err(e) if e.kind == StoreErrorKind::Unavailable => return Err(e),
            Err(e) => tracing::warn!(error = %e, "could not create the GridFS chunks index; blob reads will scan"),
        }
        self.index_ready.store(true, Ordering::Release);
        Ok(())
    }

    fn flush_pending_releases(&self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut *lock(&self.pending_release));
        if pending.is_empty() {
            return Ok(());
        }
        match self.release_claims(&pending) {
            Ok(()) => Ok(()),
            Err(e) => {
                lock(&self.pending_release).extend(pending);
                Err(e)
            }
        }
    }

    /// Drops these claims (entry, batch token), each only while it still
    /// carries that token: one update for all of them.
    fn release_claims(&self, claims: &[(ObjectId, ObjectId)]) -> Result<(), StoreError> {
        let ids: Vec<ObjectId> = claims.iter().map(|(id, _)| *id).collect();
        let tokens: Vec<ObjectId> =
            claims.iter().map(|(_, token)| *token).collect::<HashSet<_>>().into_iter().collect();
        let filter = doc! { "_id": { "$in": ids }, "_claim.token": { "$in": tokens } };
        self.call("releasing claims", async |client| {
            self.entries(client).update_many(filter, doc! { "$unset": { "_claim": "" } }).await
        })?;
        Ok(())
    }

    /// One round: the oldest claimable entries, claimed with one update.
    /// Returns the entries claimed and how many candidates there were.
    fn claim_round(
        &self,
        worker: &str,
        query: &BatchQuery,
        want: usize,
    ) -> Result<(Vec<CacheEntry>, usize), StoreError> {
        let want_n = i64::try_from(want).unwrap_or(i64::MAX);
        let batch = crate::one_reply(want);
        let pipeline = candidates(query, want_n);
        let candidates: Vec<Document> = self.call("finding entries to claim", async |client| {
            self.entries(client).aggregate(pipeline).batch_size(batch).await?.try_collect().await
        })?;
        if candidates.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let ids: Vec<ObjectId> = candidates.iter().filter_map(|d| d.get_object_id("_id").ok()).collect();
        let token = ObjectId::new();
        let filter = claim_filter(&ids, query);
        let update = claim_update(worker, token, self.lease);
        // If the claim or the read-back fails, the server may still have
        // set some claims: give back whatever carries this batch's token.
        let give_back = |e: StoreError| {
            lock(&self.pending_release).extend(ids.iter().map(|id| (*id, token)));
            e
        };
        let result = self
            .call("claiming entries", async |client| self.entries(client).update_many(filter, update).await)
            .map_err(give_back)?;
        // Every candidate changed: each now carries our claim (a live claim
        // of another is left as it was, unchanged). Otherwise (or where a
        // server does not count pipeline updates) ours carry our token.
        let mine: Vec<Document> = if result.modified_count == ids.len() as u64 {
            candidates
        } else {
            self.call("reading claimed entries", async |client| {
                self.entries(client)
                    .find(doc! { "_id": { "$in": &ids }, "_claim.token": token })
                    .projection(entry_projection())
                    .sort(doc! { "timestamp": 1, "_id": 1 })
                    .batch_size(batch)
                    .await?
                    .try_collect()
                    .await
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

    /// Forgets what this store knew of an entry it held (its read-ahead
    /// blob and claim token); returns the token.
    fn forget(&self, id: &ObjectId) -> Option<ObjectId> {
        lock(&self.prefetched).remove(id);
        lock(&self.claims).remove(id)
    }

    /// Runs `filter` over the entries, oldest first, handing each to
    /// `visit`: one round trip per [`WALK_BATCH`] entries, each within the
    /// timeout, so memory stays flat on a lake of any size.
    fn walk(&self, filter: Document, visit: &mut dyn FnMut(CacheEntry) -> ControlFlow<()>) -> Result<(), StoreError> {
        let coll = self.entries(&self.conn.client());
        let find = coll
            .find(filter)
            .sort(doc! { "timestamp": 1, "_id": 1 })
            .projection(entry_projection())
            .batch_size(WALK_BATCH)
            .allow_disk_use(true);
        self.conn.walk("listing entries", find.into_future(), WALK_BATCH, &mut |doc| match entry_from_doc(&doc) {
            Some(entry) => visit(entry),
            None => ControlFlow::Continue(()),
        })
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

/// What every claimable entry is, as the claim index reads it (reference
/// §5): not processed (`processed: false`, as the API writes it), and not
/// skipped unless asked. `skip` is missing on a fresh entry; `$in` of its
/// non-true values gives the planner point ranges it can walk in order.
fn claimable(query: &BatchQuery) -> Document {
    let mut filter = doc! { "processed": false };
    if !query.include_skipped {
        filter.insert("skip", doc! { "$in": [Bson::Null, false] });
    }
    filter
}

/// The rest of "claimable": no live claim by the server's clock, an
/// ObjectId (an entry this store can name), and the typtag if asked.
/// Checked on the documents the index walk fetches.
fn claimable_rest(query: &BatchQuery) -> Document {
    let mut filter = doc! { "_id": { "$type": "objectId" }, "$expr": { "$not": [live_claim()] } };
    if let Some(typtag) = &query.typtag {
        filter.extend(typtag_is(typtag));
    }
    filter
}

/// The oldest `limit` claimable entries: the index walk in order, then the
/// checks it cannot make (see the crate docs for the plan).
fn candidates(query: &BatchQuery, limit: i64) -> Vec<Document> {
    vec![
        doc! { "$match": claimable(query) },
        doc! { "$sort": { "timestamp": 1, "_id": 1 } },
        doc! { "$match": claimable_rest(query) },
        doc! { "$limit": limit },
        doc! { "$project": entry_projection() },
    ]
}

/// The claim update's filter: the candidates, still claimable as far as
/// an index can tell; the lease is checked by the update itself.
fn claim_filter(ids: &[ObjectId], query: &BatchQuery) -> Document {
    let mut filter = doc! { "_id": { "$in": ids } };
    filter.extend(claimable(query));
    filter
}

/// Sets our claim where the entry holds no live one, atomically per
/// document, with the lease's end by the server's clock.
fn claim_update(worker: &str, token: ObjectId, lease: Duration) -> Vec<Document> {
    let ours = doc! { "owner": { "$literal": worker }, "token": token, "until": lease_end(lease) };
    vec![doc! { "$set": { "_claim": { "$cond": [live_claim(), "$_claim", ours] } } }]
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

/// An upload time as epoch seconds, whatever numeric type (or date) wrote it.
fn epoch_seconds(value: &Bson) -> Option<f64> {
    match value {
        Bson::Double(f) => Some(*f),
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::DateTime(d) => Some(d.timestamp_millis() as f64 / 1000.0),
        _ => None,
    }
}

/// One `_requeued` record, read as leniently as the entry.
fn requeued_from_doc(doc: &Document) -> Requeued {
    Requeued {
        at: doc.get("at").and_then(epoch_seconds).unwrap_or(0.0),
        state: text(doc, "state"),
        cause: text(doc, "cause"),
        error: text(doc, "error"),
    }
}

/// A cache entry as the API wrote it, read leniently: a field of another
/// type than the reference's reads as absent.
pub(crate) fn entry_from_doc(doc: &Document) -> Option<CacheEntry> {
    let id = doc.get_object_id("_id").ok()?;
    let timestamp = doc.get("timestamp").and_then(epoch_seconds).unwrap_or(0.0);
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
        requeued: match doc.get("_requeued") {
            Some(Bson::Array(items)) => items.iter().filter_map(|b| b.as_document().map(requeued_from_doc)).collect(),
            _ => Vec::new(),
        },
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

fn typtag_is(typtag: &str) -> Document {
    doc! { "$or": [ { "typetag": typtag }, { "typtag": typtag } ] }
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
        inner.ensure_indexes()?;
        inner.flush_pending_releases()?;
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
        let reply = inner.call(what, async |client| client.database(&inner.target.db).run_command(command).await)?;
        if let Some(failure) = write_failure(&reply) {
            return Err(StoreError::other(BACKEND, format!("{what}: {failure}")));
        }
        for id in &ids {
            inner.forget(id);
        }
        if count_of(&reply, "n") < outcomes.len() as u64 {
            // Some entry matched nothing: find out which do not exist.
            let unique: Vec<ObjectId> = ids.iter().copied().collect::<HashSet<_>>().into_iter().collect();
            let found: Vec<Document> = inner.call(what, async |client| {
                inner
                    .entries(client)
                    .find(doc! { "_id": { "$in": &unique } })
                    .projection(doc! { "_id": 1 })
                    .batch_size(crate::one_reply(unique.len()))
                    .await?
                    .try_collect()
                    .await
            })?;
            let found: HashSet<ObjectId> = found.iter().filter_map(|d| d.get_object_id("_id").ok()).collect();
            if let Some(missing) = unique.iter().find(|id| !found.contains(id)) {
                return Err(StoreError::refused(BACKEND, format!("{what}: no entry {missing}")));
            }
        }
        Ok(())
    }

    fn release(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        let inner = &self.inner;
        if ids.is_empty() {
            return Ok(());
        }
        let oids = ids.iter().map(object_id).collect::<Result<Vec<_>, _>>()?;
        let (mut ours, mut unknown) = (Vec::new(), Vec::new());
        for oid in oids {
            match inner.forget(&oid) {
                // Only our own claim: after a lease ran out another archiver may hold it.
                Some(token) => ours.push((oid, token)),
                None => unknown.push(oid),
            }
        }
        if !ours.is_empty()
            && let Err(e) = inner.release_claims(&ours)
        {
            lock(&inner.pending_release).extend(ours);
            return Err(e);
        }
        // Entries this handle never claimed: released whoever holds them
        // (an operator's tool acting for a process that is gone).
        if !unknown.is_empty() {
            inner.call("releasing claims", async |client| {
                inner
                    .entries(client)
                    .update_many(doc! { "_id": { "$in": unknown } }, doc! { "$unset": { "_claim": "" } })
                    .await
            })?;
        }
        Ok(())
    }

    fn renew(&self, worker: &str, ids: &[EntryId]) -> Result<(), StoreError> {
        let inner = &self.inner;
        if ids.is_empty() {
            return Ok(());
        }
        let oids = ids.iter().map(object_id).collect::<Result<Vec<_>, _>>()?;
        // Only claims still ours (by owner; a finished entry has none), to a
        // full lease from now by the server's clock.
        let filter = doc! { "_id": { "$in": oids }, "processed": { "$ne": true }, "_claim.owner": worker };
        let update = vec![doc! {
            "$set": { "_claim": { "$mergeObjects": ["$_claim", { "until": lease_end(inner.lease) }] } }
        }];
        inner.call("renewing claims", async |client| inner.entries(client).update_many(filter, update).await)?;
        Ok(())
    }

    fn foreign_claims(&self, worker: &str, query: &BatchQuery) -> Result<ForeignClaims, StoreError> {
        let inner = &self.inner;
        let mut others = doc! { "_claim.owner": { "$ne": worker }, "$expr": live_claim() };
        if let Some(typtag) = &query.typtag {
            others.extend(typtag_is(typtag));
        }
        // Live claims are few (a claim or two per archiver); the server sums
        // them up and says when the first runs out, by its own clock.
        let pipeline = vec![
            doc! { "$match": claimable(query) },
            doc! { "$match": others },
            doc! { "$group": { "_id": Bson::Null, "owners": { "$addToSet": "$_claim.owner" }, "until": { "$min": "$_claim.until" } } },
            doc! { "$project": { "owners": 1, "in_ms": { "$subtract": ["$until", server_now_ms()] } } },
        ];
        let found: Vec<Document> = inner.call("listing other archivers' claims", async |client| {
            inner.entries(client).aggregate(pipeline).await?.try_collect().await
        })?;
        let Some(summary) = found.first() else {
            return Ok(ForeignClaims::default());
        };
        let mut owners: Vec<String> = match summary.get("owners") {
            Some(Bson::Array(owners)) => owners.iter().filter_map(|o| o.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        owners.sort();
        let in_ms = match summary.get("in_ms") {
            Some(Bson::Int64(ms)) => Some(*ms),
            Some(Bson::Int32(ms)) => Some(i64::from(*ms)),
            Some(Bson::Double(ms)) => Some(*ms as i64),
            _ => None,
        };
        let next_expiry_in = in_ms.map(|ms| Duration::from_millis(ms.max(0).unsigned_abs()));
        Ok(ForeignClaims { owners, next_expiry_in })
    }

    fn expire_claims(&self, owners: &[String]) -> Result<u64, StoreError> {
        let inner = &self.inner;
        if owners.is_empty() {
            return Ok(0);
        }
        let filter = doc! { "processed": { "$ne": true }, "_claim.owner": { "$in": owners } };
        let result = inner.call("ending the claims of a dead archiver", async |client| {
            inner.entries(client).update_many(filter, doc! { "$unset": { "_claim": "" } }).await
        })?;
        Ok(result.modified_count)
    }

    fn changes(&self) -> Box<dyn ChangeFeed> {
        Box::new(crate::changes::ChangeStreamFeed::start(self.inner.conn.clone(), self.inner.target.clone()))
    }
}

impl LakeAdmin for MongoLake {
    fn unskip(&self, typtag: Option<&str>) -> Result<u64, StoreError> {
        let inner = &self.inner;
        let mut filter = doc! { "processed": false, "skip": true };
        if let Some(typtag) = typtag {
            filter.extend(typtag_is(typtag));
        }
        let result = inner.call("queueing skipped entries again", async |client| {
            inner.entries(client).update_many(filter, requeue_update()).await
        })?;
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
        let result = inner.call("queueing entries again", async |client| {
            inner.entries(client).update_many(filter, requeue_update()).await
        })?;
        Ok(result.modified_count)
    }

    fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        let inner = &self.inner;
        let what = "counting the queue";
        // The claim index's ranges: cheap however large either side is.
        let waiting = claimable(&BatchQuery::default());
        let waiting = inner.call(what, async |client| inner.entries(client).count_documents(waiting).await)?;
        let skipped = inner.call(what, async |client| {
            inner.entries(client).count_documents(doc! { "processed": false, "skip": true }).await
        })?;
        // The first waiting key of the claim index `{processed, skip,
        // timestamp, _id}`: a sort on it and a limit of one reads one key per
        // `skip` range, however long the queue.
        let oldest = inner.call(what, async |client| {
            inner
                .entries(client)
                .find_one(claimable(&BatchQuery::default()))
                .sort(doc! { "timestamp": 1, "_id": 1 })
                .projection(doc! { "_id": 0, "timestamp": 1 })
                .await
        })?;
        let oldest_waiting_at = oldest.and_then(|doc| epoch_seconds(doc.get("timestamp")?));
        Ok(QueueDepth { waiting, skipped, oldest_waiting_at })
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
        if let Err(e) = inner.call("submitting an entry", async |client| inner.entries(client).insert_one(doc).await) {
            if let Err(cleanup) = inner.bucket.delete(&inner.conn, fid) {
                tracing::warn!(file = %fid, error = %cleanup, "could not delete the blob of an entry that was not added");
            }
            return Err(e);
        }
        Ok(EntryId(id.to_hex()))
    }

    fn for_each_entry(
        &self,
        filter: &EntryFilter,
        visit: &mut dyn FnMut(CacheEntry) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        // Processed, unprocessed (waiting) and skipped split the entries as
        // `queue_depth` counts them.
        let mut query = match &filter.state {
            None => doc! {},
            Some(EntryState::Processed) => doc! { "processed": true },
            Some(EntryState::Unprocessed) => claimable(&BatchQuery::default()),
            Some(EntryState::Skipped) => doc! { "processed": false, "skip": true },
            Some(EntryState::State(state)) => doc! { "state": state },
        };
        if let Some(id) = &filter.id {
            let Ok(id) = ObjectId::parse_str(&id.0) else { return Ok(()) };
            query.insert("_id", id);
        }
        self.inner.walk(query, visit)
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
