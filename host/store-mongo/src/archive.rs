//! `ArchiveStore` on `tahoe_db.instance` (reference §4).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cybexp_lake::{ArchiveStore, RawDocument, StoreError, Stored};
use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, RawDocumentBuf, doc};
use mongodb::error::ErrorKind;
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection, IndexModel};

use crate::convert::{data_from_json, data_to_json};
use crate::{ArchiveTarget, BACKEND, Connection, DUPLICATE_KEY, NAMESPACE_NOT_FOUND, has_code, store_error};

/// Largest document MongoDB stores (`maxBsonObjectSize`).
const MAX_BSON_BYTES: usize = 16 << 20;

/// The archive on MongoDB. Clones share one client.
#[derive(Clone)]
pub struct MongoArchive {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Connection,
    target: ArchiveTarget,
    index_ready: AtomicBool,
}

impl MongoArchive {
    pub(crate) fn new(conn: Connection, target: &ArchiveTarget) -> MongoArchive {
        MongoArchive { inner: Arc::new(Inner { conn, target: target.clone(), index_ready: AtomicBool::new(false) }) }
    }

    #[cfg(test)]
    pub(crate) fn connection(&self) -> &crate::Connection {
        &self.inner.conn
    }
}

/// Documents per round trip when walking the archive (`dump archive`).
const WALK_BATCH: u32 = 1000;

/// The document as the reference stores it, fields in its order (a
/// production `tahoe_db.instance` document reads `itype, data, orgid,
/// timezone, sub_type, _hash`), with `_id` first as pymongo puts it.
pub(crate) fn to_document(doc: &RawDocument) -> Result<RawDocumentBuf, String> {
    let data = data_from_json(&doc.data_json)?;
    let document = doc! {
        "_id": ObjectId::new(),
        "itype": RawDocument::ITYPE,
        "data": data,
        "orgid": &doc.orgid,
        "timezone": &doc.timezone,
        "sub_type": &doc.sub_type,
        "_hash": &doc.hash,
    };
    let raw = RawDocumentBuf::from_document(&document).map_err(|e| format!("not encodable as BSON: {e}"))?;
    if raw.as_bytes().len() > MAX_BSON_BYTES {
        return Err(format!("{} bytes of BSON, above MongoDB's 16 MiB document limit", raw.as_bytes().len()));
    }
    Ok(raw)
}

fn from_document(doc: &Document) -> RawDocument {
    let text = |key: &str| doc.get_str(key).unwrap_or_default().to_owned();
    RawDocument {
        sub_type: text("sub_type"),
        data_json: doc.get("data").map(data_to_json).unwrap_or_else(|| "null".into()),
        orgid: text("orgid"),
        timezone: text("timezone"),
        hash: text("_hash"),
    }
}

fn is_hash_key(keys: &Document) -> bool {
    keys.len() == 1
        && matches!(keys.get("_hash"), Some(Bson::Int32(1 | -1) | Bson::Int64(1 | -1)) | Some(Bson::Double(_)))
}

impl Inner {
    /// The archive collection on the client an operation runs on.
    fn coll<T: Send + Sync>(&self, client: &Client) -> Collection<T> {
        client.database(&self.target.db).collection(&self.target.coll)
    }

    /// Makes sure `_hash` is unique: finds the unique index, or creates it.
    fn ensure_hash_index(&self) -> Result<(), StoreError> {
        if self.index_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let what = "checking the unique index on _hash";
        let indexes: Vec<IndexModel> = match self
            .conn
            .call_raw(what, async |client| self.coll::<Document>(client).list_indexes().await?.try_collect().await)?
        {
            Ok(indexes) => indexes,
            // A collection that does not exist yet has no indexes.
            Err(e) if has_code(&e, NAMESPACE_NOT_FOUND) => Vec::new(),
            Err(e) => return Err(store_error(what, &e)),
        };
        let on_hash: Vec<&IndexModel> = indexes.iter().filter(|i| is_hash_key(&i.keys)).collect();
        if on_hash.iter().any(|i| i.options.as_ref().and_then(|o| o.unique) == Some(true)) {
            self.index_ready.store(true, Ordering::Release);
            return Ok(());
        }
        if let Some(index) = on_hash.first() {
            let name = index.options.as_ref().and_then(|o| o.name.clone()).unwrap_or_default();
            return Err(StoreError::refused(
                BACKEND,
                format!(
                    "{}.{} has an index on _hash ({name}) that is not unique; the archiver relies on a unique one \
                     (remove duplicate _hash documents, drop that index, and the archiver creates it)",
                    self.target.db, self.target.coll
                ),
            ));
        }
        let index = IndexModel::builder()
            .keys(doc! { "_hash": 1 })
            .options(IndexOptions::builder().unique(true).name("_hash_1".to_owned()).build())
            .build();
        let what = "creating the unique index on _hash";
        if let Err(e) =
            self.conn.call_raw(what, async |client| self.coll::<Document>(client).create_index(index).await)?
        {
            let error = store_error(what, &e);
            if has_code(&e, DUPLICATE_KEY) {
                return Err(StoreError::refused(
                    BACKEND,
                    format!("{} (documents with the same _hash exist: remove the duplicates first)", error.message),
                ));
            }
            return Err(error);
        }
        tracing::info!(db = %self.target.db, coll = %self.target.coll, "created the unique index on _hash");
        self.index_ready.store(true, Ordering::Release);
        Ok(())
    }
}

impl ArchiveStore for MongoArchive {
    fn describe(&self) -> String {
        format!("mongodb://{}/{}.{}", self.inner.conn.hosts, self.inner.target.db, self.inner.target.coll)
    }

    fn store_batch(&self, docs: &[RawDocument]) -> Result<Vec<Stored>, StoreError> {
        let inner = &self.inner;
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        inner.ensure_hash_index()?;
        let mut encoded = Vec::with_capacity(docs.len());
        let mut positions = Vec::with_capacity(docs.len());
        let mut stored = vec![Stored::Inserted; docs.len()];
        for (i, doc) in docs.iter().enumerate() {
            match to_document(doc) {
                Ok(raw) => {
                    encoded.push(raw);
                    positions.push(i);
                }
                Err(why) => stored[i] = Stored::Refused(format!("MongoDB cannot store this document: {why}")),
            }
        }
        if !encoded.is_empty() {
            // Unordered: one duplicate does not stop the others.
            let what = "storing documents";
            let result = inner.conn.call_raw(what, async |client| {
                inner.coll::<RawDocumentBuf>(client).insert_many(encoded).ordered(false).await
            })?;
            match result {
                Ok(_) => {}
                Err(e) => {
                    let ErrorKind::InsertMany(failure) = e.kind.as_ref() else {
                        return Err(store_error(what, &e));
                    };
                    if failure.write_concern_error.is_some() {
                        return Err(store_error(what, &e));
                    }
                    for error in failure.write_errors.iter().flatten() {
                        if error.code != DUPLICATE_KEY {
                            return Err(store_error(what, &e));
                        }
                        if let Some(&i) = positions.get(error.index) {
                            stored[i] = Stored::AlreadyPresent;
                        }
                    }
                }
            }
        }
        Ok(stored)
    }

    fn count(&self) -> Result<u64, StoreError> {
        let inner = &self.inner;
        inner.conn.call("counting documents", async |client| {
            inner.coll::<Document>(client).count_documents(doc! { "itype": RawDocument::ITYPE }).await
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        inner.conn.call("pinging the archive", async |client| {
            client.database(&inner.target.db).run_command(doc! { "ping": 1 }).await
        })?;
        Ok(())
    }

    fn for_each_document(&self, visit: &mut dyn FnMut(RawDocument) -> ControlFlow<()>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let coll = inner.coll::<Document>(&inner.conn.client());
        let find = coll.find(doc! { "itype": RawDocument::ITYPE }).sort(doc! { "_id": 1 }).batch_size(WALK_BATCH);
        inner.conn.walk("listing documents", find.into_future(), WALK_BATCH, &mut |doc| visit(from_document(&doc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(data_json: &str) -> RawDocument {
        RawDocument {
            sub_type: "generic".into(),
            data_json: data_json.into(),
            orgid: "org".into(),
            timezone: "UTC".into(),
            hash: "ab".into(),
        }
    }

    #[test]
    fn documents_in_the_reference_field_order() {
        let raw_doc = to_document(&raw(r#"{"a": 1, "b": [NaN]}"#)).unwrap();
        let doc = raw_doc.to_document().unwrap();
        let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
        assert_eq!(keys, ["_id", "itype", "data", "orgid", "timezone", "sub_type", "_hash"]);
        assert_eq!(doc.get_str("itype").unwrap(), "raw");
        let back = from_document(&doc);
        assert_eq!(back.data_json, r#"{"a":1,"b":[NaN]}"#);
        assert_eq!((back.sub_type.as_str(), back.hash.as_str()), ("generic", "ab"));
    }

    #[test]
    fn unstorable_documents_say_why() {
        assert!(to_document(&raw(r#"{"k\u0000": 1}"#)).unwrap_err().contains("U+0000"));
        let big = format!("[{}0]", "0,".repeat(3 << 20));
        assert!(to_document(&raw(&big)).unwrap_err().contains("16 MiB"));
    }

    #[test]
    fn hash_index_keys() {
        assert!(is_hash_key(&doc! { "_hash": 1 }));
        assert!(is_hash_key(&doc! { "_hash": -1i64 }));
        assert!(!is_hash_key(&doc! { "_hash": 1, "x": 1 }));
        assert!(!is_hash_key(&doc! { "_hash": "hashed" }));
    }
}
