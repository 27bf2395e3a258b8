//! `CacheLake` and `LakeAdmin` on the `entries` and `blobs` tables.

use std::ops::ControlFlow;
use std::time::Duration;

use cybexp_lake::{
    BatchQuery, BlobError, CacheEntry, CacheLake, ChangeFeed, EntryFilter, EntryId, EntryState, ForeignClaims,
    LakeAdmin, NewEntry, Outcome, QueueDepth, Requeued, StoreError,
};
use rusqlite::types::{Type, ValueRef};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::{BACKEND, Ctx, SqliteStore, count, duration_ms, now_ms};

/// Columns read into a [`CacheEntry`] by [`entry_from_row`], in order.
const ENTRY_COLUMNS: &str =
    "id, name, orgid, typtag, timezone, timestamp, blob_id, processed, skip, state, error, refs, cause, requeued";

/// A JSON column read into its type; a value that does not parse is a
/// conversion error naming the column.
fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<CacheEntry> {
    let refs: Vec<String> = json_column(row, 11)?;
    Ok(CacheEntry {
        id: EntryId(row.get::<_, i64>(0)?.to_string()),
        name: row.get(1)?,
        orgid: row.get(2)?,
        typtag: row.get(3)?,
        timezone: row.get(4)?,
        timestamp: row.get(5)?,
        blob_ref: row.get::<_, Option<i64>>(6)?.map(|id| id.to_string()),
        processed: row.get(7)?,
        skip: row.get(8)?,
        state: row.get(9)?,
        error: row.get(10)?,
        cause: row.get(12)?,
        refs,
        requeued: json_column(row, 13)?,
    })
}

/// Queues one skipped entry again inside an open write transaction: clears
/// `skip`, `state`, `error` and `cause` and appends what it cleared to the
/// bounded history, in one read and one write under the transaction's lock.
/// `false` when the entry is not (or no longer) skipped.
fn requeue_in(tx: &rusqlite::Transaction<'_>, row: i64, at: f64) -> Result<bool, StoreError> {
    let what = "queueing entries again";
    let read = tx
        .prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?1 AND processed = 0 AND skip = 1"))
        .ctx(what)?
        .query_row([row], entry_from_row)
        .optional()
        .ctx(what)?;
    let Some(mut entry) = read else { return Ok(false) };
    let cleared = Requeued::of(&entry, at);
    Requeued::push(&mut entry.requeued, cleared);
    let history = serde_json::to_string(&entry.requeued)
        .map_err(|e| StoreError::other(BACKEND, format!("{what}: the history: {e}")))?;
    tx.prepare_cached(
        "UPDATE entries SET skip = 0, state = NULL, error = NULL, cause = NULL, requeued = ?2
         WHERE id = ?1 AND processed = 0 AND skip = 1",
    )
    .ctx(what)?
    .execute(params![row, history])
    .ctx(what)?;
    Ok(true)
}

/// The requeue history's clock: this process's, in epoch seconds.
fn now_seconds() -> f64 {
    now_ms() as f64 / 1000.0
}

/// Records one outcome inside an open write transaction (reference §5):
/// one statement per entry in the common case, since the writer records
/// every outcome of the archiver and its time per entry bounds the whole
/// pipeline's rate on many cores.
pub(crate) fn apply_in(tx: &rusqlite::Transaction<'_>, id: &EntryId, outcome: &Outcome) -> Result<(), StoreError> {
    let rowid = row_id(id)?;
    let what = "recording an outcome";
    let changed = match outcome {
        // `refs` gains the hash once ($addToSet), in the same statement.
        Outcome::Success { hash } => tx
            .prepare_cached(
                "UPDATE entries SET processed = 1, skip = 0, state = NULL, error = NULL, cause = NULL, \
                     refs = CASE WHEN EXISTS (SELECT 1 FROM json_each(refs) WHERE value = ?2) THEN refs \
                                 ELSE json_insert(refs, '$[#]', ?2) END, \
                     claim_owner = NULL, claim_expires = NULL WHERE id = ?1",
            )
            .and_then(|mut update| update.execute(params![rowid, hash]))
            .ctx(what)?,
        // A late failure never downgrades an entry another worker has
        // already processed: `processed = 0` here, and below only its claim goes.
        Outcome::NotSupported => tx
            .prepare_cached(
                "UPDATE entries SET skip = 1, state = ?2, error = NULL, cause = NULL, \
                     claim_owner = NULL, claim_expires = NULL WHERE id = ?1 AND processed = 0",
            )
            .and_then(|mut update| update.execute(params![rowid, Outcome::NOT_SUPPORTED_STATE]))
            .ctx(what)?,
        Outcome::Error { cause, .. } => tx
            .prepare_cached(
                "UPDATE entries SET skip = 1, state = ?2, error = ?3, cause = ?4, \
                     claim_owner = NULL, claim_expires = NULL WHERE id = ?1 AND processed = 0",
            )
            .and_then(|mut update| update.execute(params![rowid, cause.state(), outcome.short_error(), cause.code()]))
            .ctx(what)?,
    };
    if changed == 1 {
        return Ok(());
    }
    // Nothing matched: a processed entry (drop its claim) or no such entry.
    let dropped = tx
        .prepare_cached("UPDATE entries SET claim_owner = NULL, claim_expires = NULL WHERE id = ?1 AND processed = 1")
        .and_then(|mut update| update.execute([rowid]))
        .ctx(what)?;
    if dropped == 0 {
        return Err(StoreError::refused(BACKEND, format!("{what}: no entry {id}")));
    }
    Ok(())
}

/// The row id behind an [`EntryId`] this store handed out.
fn row_id(id: &EntryId) -> Result<i64, StoreError> {
    id.0.parse().map_err(|_| StoreError::refused(BACKEND, format!("entry id {id:?} is not an SQLite entry id")))
}

impl CacheLake for SqliteStore {
    fn describe(&self) -> String {
        SqliteStore::describe(self)
    }

    fn claim_batch(&self, worker: &str, query: &BatchQuery) -> Result<Vec<CacheEntry>, StoreError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let now = now_ms();
        let expires = now.saturating_add(duration_ms(self.lease));

        // Literal `skip = 0` (not a parameter) so the planner walks the
        // queue index in order; each variant is a cached statement. One
        // statement claims and returns the batch: the single UPDATE is
        // atomic, so no other connection (or process) picks the same rows.
        let mut select = String::from(
            "SELECT id FROM entries WHERE processed = 0 AND (claim_expires IS NULL OR claim_expires <= ?1)",
        );
        if !query.include_skipped {
            select.push_str(" AND skip = 0");
        }
        select.push_str(if query.typtag.is_some() { " AND typtag = ?5" } else { " AND ?5 IS NULL" });
        select.push_str(" ORDER BY timestamp, id LIMIT ?2");
        let sql = format!(
            "UPDATE entries SET claim_owner = ?3, claim_expires = ?4 WHERE id IN ({select}) RETURNING {ENTRY_COLUMNS}"
        );
        let what = "claiming entries";
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        let mut entries = {
            let mut claim = tx.prepare_cached(&sql).ctx(what)?;
            let rows = claim.query_map(params![now, limit, worker, expires, query.typtag], entry_from_row).ctx(what)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().ctx(what)?
        };
        tx.commit().ctx(what)?;
        // RETURNING comes in no promised order: oldest first, as claimed.
        entries.sort_by(|a, b| {
            a.timestamp.total_cmp(&b.timestamp).then_with(|| row_id(&a.id).ok().cmp(&row_id(&b.id).ok()))
        });
        Ok(entries)
    }

    fn read_blob(&self, entry: &CacheEntry, max_bytes: u64) -> Result<Vec<u8>, BlobError> {
        let Some(blob_ref) = &entry.blob_ref else {
            return Err(BlobError::Missing(format!("entry {} has no blob reference", entry.id)));
        };
        let Ok(blob_id) = blob_ref.parse::<i64>() else {
            return Err(BlobError::Missing(format!("blob reference {blob_ref:?} is not a blob row id")));
        };
        let what = "reading a blob";
        let conn = self.conn()?;
        // The bytes are selected only when the recorded size is within the
        // limit, so an oversized blob is never loaded.
        let limit = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        let mut select = conn
            .prepare_cached(
                "SELECT size, CASE WHEN size <= ?2 AND length(bytes) <= ?2 THEN bytes END, length(bytes) \
                 FROM blobs WHERE id = ?1",
            )
            .ctx(what)?;
        let found = select
            .query_row(params![blob_id, limit], |row| {
                let size: Option<i64> = row.get_ref(0)?.as_i64_or_null().ok().flatten();
                let stored: Option<i64> = row.get_ref(2)?.as_i64_or_null().ok().flatten();
                Ok(match (row.get_ref(1)?, size) {
                    (ValueRef::Blob(bytes), Some(size)) if usize::try_from(size).ok() == Some(bytes.len()) => {
                        Ok(bytes.to_vec())
                    }
                    (ValueRef::Null, Some(size)) if size > limit => {
                        Err(BlobError::TooLarge { size: size.unsigned_abs(), limit: max_bytes })
                    }
                    (ValueRef::Blob(_) | ValueRef::Null, size) => Err(BlobError::Corrupt(format!(
                        "blob {blob_id} holds {} bytes, its size says {size:?}",
                        stored.map_or("no".to_owned(), |n| n.to_string())
                    ))),
                    (other, _) => {
                        Err(BlobError::Corrupt(format!("blob {blob_id} holds {:?}, not bytes", other.data_type())))
                    }
                })
            })
            .optional()
            .ctx(what)?;
        match found {
            None => Err(BlobError::Missing(format!("no blob {blob_id}"))),
            Some(result) => result,
        }
    }

    fn apply_outcomes(&self, outcomes: &[(EntryId, Outcome)]) -> Result<(), StoreError> {
        let what = "recording outcomes";
        let mut conn = self.conn()?;
        // Read-modify-write of `refs` ($addToSet) needs the write lock first;
        // one transaction (one fsync) for the whole group.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        for (id, outcome) in outcomes {
            apply_in(&tx, id, outcome)?;
        }
        tx.commit().ctx(what)
    }

    fn release(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // Releasing an entry that is not claimed (or gone) is a no-op.
        let rows = ids.iter().map(row_id).collect::<Result<Vec<_>, _>>()?;
        let what = "releasing claims";
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        {
            let mut release = tx
                .prepare_cached("UPDATE entries SET claim_owner = NULL, claim_expires = NULL WHERE id = ?1")
                .ctx(what)?;
            for rowid in rows {
                release.execute([rowid]).ctx(what)?;
            }
        }
        tx.commit().ctx(what)
    }

    fn renew(&self, worker: &str, ids: &[EntryId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let rows = ids.iter().map(row_id).collect::<Result<Vec<_>, _>>()?;
        let expires = now_ms().saturating_add(duration_ms(self.lease));
        let what = "renewing claims";
        let mut conn = self.conn()?;
        // One transaction (one fsync) for the batch; only claims still ours.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        {
            let mut renew = tx
                .prepare_cached(
                    "UPDATE entries SET claim_expires = ?1 \
                     WHERE id = ?2 AND claim_owner = ?3 AND processed = 0",
                )
                .ctx(what)?;
            for rowid in rows {
                renew.execute(params![expires, rowid, worker]).ctx(what)?;
            }
        }
        tx.commit().ctx(what)
    }

    fn foreign_claims(&self, worker: &str, query: &BatchQuery) -> Result<ForeignClaims, StoreError> {
        let mut sql = String::from(
            "SELECT claim_owner, min(claim_expires) FROM entries \
             WHERE processed = 0 AND claim_expires > ?1 AND claim_owner IS NOT NULL AND claim_owner != ?2",
        );
        if !query.include_skipped {
            sql.push_str(" AND skip = 0");
        }
        sql.push_str(if query.typtag.is_some() { " AND typtag = ?3" } else { " AND ?3 IS NULL" });
        sql.push_str(" GROUP BY claim_owner ORDER BY claim_owner");
        let what = "listing other archivers' claims";
        let conn = self.conn()?;
        let mut select = conn.prepare_cached(&sql).ctx(what)?;
        let rows = select
            .query_map(params![now_ms(), worker, query.typtag], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))
            .ctx(what)?
            .collect::<rusqlite::Result<Vec<(String, i64)>>>()
            .ctx(what)?;
        let now = now_ms();
        Ok(ForeignClaims {
            next_expiry_in: rows
                .iter()
                .map(|(_, expires)| Duration::from_millis(expires.saturating_sub(now).max(0).unsigned_abs()))
                .min(),
            owners: rows.into_iter().map(|(owner, _)| owner).collect(),
        })
    }

    fn expire_claims(&self, owners: &[String]) -> Result<u64, StoreError> {
        if owners.is_empty() {
            return Ok(0);
        }
        let what = "ending the claims of a dead archiver";
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        let mut freed = 0;
        {
            let mut expire = tx
                .prepare_cached(
                    "UPDATE entries SET claim_owner = NULL, claim_expires = NULL \
                     WHERE claim_owner = ?1 AND processed = 0",
                )
                .ctx(what)?;
            for owner in owners {
                freed += expire.execute([owner]).ctx(what)? as u64;
            }
        }
        tx.commit().ctx(what)?;
        Ok(freed)
    }

    fn changes(&self) -> Box<dyn ChangeFeed> {
        match crate::changes::DataVersionFeed::open(self.path()) {
            Ok(feed) => Box::new(feed),
            Err(e) => {
                tracing::warn!(error = %e, "no change feed on the embedded store: polling on the backoff alone");
                Box::new(cybexp_lake::NoChangeFeed)
            }
        }
    }
}

impl LakeAdmin for SqliteStore {
    fn unskip(&self, typtag: Option<&str>) -> Result<u64, StoreError> {
        let what = "queueing skipped entries again";
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        let rows: Vec<i64> = tx
            .prepare_cached("SELECT id FROM entries WHERE processed = 0 AND skip = 1 AND (?1 IS NULL OR typtag = ?1)")
            .ctx(what)?
            .query_map([typtag], |row| row.get(0))
            .ctx(what)?
            .collect::<rusqlite::Result<_>>()
            .ctx(what)?;
        let at = now_seconds();
        let mut changed = 0;
        for row in rows {
            changed += u64::from(requeue_in(&tx, row, at)?);
        }
        tx.commit().ctx(what)?;
        Ok(changed)
    }

    fn unskip_ids(&self, ids: &[EntryId]) -> Result<u64, StoreError> {
        let what = "queueing entries again";
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        let (mut changed, at) = (0, now_seconds());
        for id in ids {
            // An id this store never handed out matches nothing.
            if let Ok(row) = row_id(id) {
                changed += u64::from(requeue_in(&tx, row, at)?);
            }
        }
        tx.commit().ctx(what)?;
        Ok(changed)
    }

    fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        let conn = self.conn()?;
        let what = "counting the queue";
        let (waiting, skipped): (i64, i64) = conn
            .query_row(
                "SELECT coalesce(sum(skip = 0), 0), coalesce(sum(skip = 1), 0) FROM entries WHERE processed = 0",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .ctx(what)?;
        // A bare min() over the `entries_queue` prefix (processed, skip): SQLite
        // reads the first index key, not the rows.
        let oldest_waiting_at: Option<f64> = conn
            .query_row("SELECT min(timestamp) FROM entries WHERE processed = 0 AND skip = 0", [], |row| row.get(0))
            .ctx(what)?;
        Ok(QueueDepth { waiting: count(waiting), skipped: count(skipped), oldest_waiting_at })
    }

    fn submit(&self, entry: &NewEntry, blob: &[u8]) -> Result<EntryId, StoreError> {
        let what = "submitting an entry";
        // Refused before SQLite sees it (it would store a NaN as NULL).
        entry.validate().map_err(|why| StoreError::refused(BACKEND, format!("{what}: {why}")))?;
        let size = i64::try_from(blob.len())
            .map_err(|_| StoreError::refused(BACKEND, format!("{what}: blob of {} bytes is too large", blob.len())))?;
        let mut conn = self.conn()?;
        // Blob and entry land together or not at all.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        tx.execute("INSERT INTO blobs (size, bytes) VALUES (?1, ?2)", params![size, blob]).ctx(what)?;
        let blob_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO entries (name, orgid, typtag, timezone, timestamp, blob_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![entry.name, entry.orgid, entry.typtag, entry.timezone, entry.timestamp, blob_id],
        )
        .ctx(what)?;
        let id = tx.last_insert_rowid();
        tx.commit().ctx(what)?;
        Ok(EntryId(id.to_string()))
    }

    fn for_each_entry(
        &self,
        filter: &EntryFilter,
        visit: &mut dyn FnMut(CacheEntry) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        // Processed, unprocessed (waiting: not processed, not skipped) and
        // skipped split the entries in three, as `queue_depth` counts them.
        let (condition, state) = match &filter.state {
            None => ("?1 IS NULL", None),
            Some(EntryState::Processed) => ("processed = 1 AND ?1 IS NULL", None),
            Some(EntryState::Unprocessed) => ("processed = 0 AND skip = 0 AND ?1 IS NULL", None),
            Some(EntryState::Skipped) => ("processed = 0 AND skip = 1 AND ?1 IS NULL", None),
            Some(EntryState::State(state)) => ("state = ?1", Some(state.as_str())),
        };
        let id = match &filter.id {
            None => None,
            Some(id) => match row_id(id) {
                Ok(id) => Some(id),
                Err(_) => return Ok(()),
            },
        };
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM entries WHERE {condition} AND (?2 IS NULL OR id = ?2) ORDER BY timestamp, id"
        );
        let what = "listing entries";
        let conn = self.conn()?;
        let mut select = conn.prepare_cached(&sql).ctx(what)?;
        // Row by row: a read transaction in WAL mode blocks no writer.
        let rows = select.query_map(params![state, id], entry_from_row).ctx(what)?;
        for row in rows {
            if visit(row.ctx(what)?).is_break() {
                break;
            }
        }
        Ok(())
    }
}
