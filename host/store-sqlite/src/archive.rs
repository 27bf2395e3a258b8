//! `ArchiveStore` on the `documents` table, and the store's `GroupWriter`:
//! a group's documents and outcomes in one transaction.

use std::ops::ControlFlow;

use cybexp_lake::{ArchiveStore, EntryId, Finished, GroupWriter, Outcome, RawDocument, StoreError, Stored};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::lake::apply_in;
use crate::{Ctx, SqliteStore, count};

/// Unique by hash: an existing hash is left as it is and reported.
const INSERT: &str = "INSERT INTO documents (hash, sub_type, orgid, timezone, data_json) \
                      VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING";

fn insert(conn: &Connection, doc: &RawDocument) -> Result<Stored, StoreError> {
    let what = "storing a document";
    let mut stmt = conn.prepare_cached(INSERT).ctx(what)?;
    let changed = stmt.execute(params![doc.hash, doc.sub_type, doc.orgid, doc.timezone, doc.data_json]).ctx(what)?;
    Ok(if changed == 1 { Stored::Inserted } else { Stored::AlreadyPresent })
}

impl ArchiveStore for SqliteStore {
    fn describe(&self) -> String {
        SqliteStore::describe(self)
    }

    fn store_batch(&self, docs: &[RawDocument]) -> Result<Vec<Stored>, StoreError> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        // One transaction, one fsync for the whole batch (`store`, a batch of
        // one, too): durable (synchronous=FULL) when this returns, before the
        // pipeline records the outcome.
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx("storing documents")?;
        let stored = docs.iter().map(|doc| insert(&tx, doc)).collect::<Result<Vec<_>, _>>()?;
        tx.commit().ctx("storing documents")?;
        Ok(stored)
    }

    fn count(&self) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        let n: i64 =
            conn.query_row("SELECT count(*) FROM documents", [], |row| row.get(0)).ctx("counting documents")?;
        Ok(count(n))
    }

    fn ping(&self) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)).ctx("pinging the archive")?;
        Ok(())
    }

    fn for_each_document(&self, visit: &mut dyn FnMut(RawDocument) -> ControlFlow<()>) -> Result<(), StoreError> {
        let what = "listing documents";
        let conn = self.conn()?;
        let mut select = conn
            .prepare_cached("SELECT sub_type, data_json, orgid, timezone, hash FROM documents ORDER BY seq")
            .ctx(what)?;
        let rows = select
            .query_map([], |row| {
                Ok(RawDocument {
                    sub_type: row.get(0)?,
                    data_json: row.get(1)?,
                    orgid: row.get(2)?,
                    timezone: row.get(3)?,
                    hash: row.get(4)?,
                })
            })
            .ctx(what)?;
        for row in rows {
            if visit(row.ctx(what)?).is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// Documents and outcomes in one transaction: one durable commit (one
/// fsync) per group where two separate writes would cost two. Atomic, so
/// a crash leaves either both or neither, which keeps the rule that no
/// entry is marked before its document is stored.
impl GroupWriter for SqliteStore {
    fn write_group(&self, group: &[(EntryId, Finished)]) -> Result<Vec<Outcome>, StoreError> {
        let what = "writing a group of documents and outcomes";
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(what)?;
        let mut stored = Vec::new();
        for (_, finished) in group {
            if let Finished::Store(doc) = finished {
                stored.push(insert(&tx, doc)?);
            }
        }
        let outcomes = cybexp_lake::outcomes_of(group, stored)?;
        for ((id, _), outcome) in group.iter().zip(&outcomes) {
            apply_in(&tx, id, outcome)?;
        }
        tx.commit().ctx(what)?;
        Ok(outcomes)
    }
}
