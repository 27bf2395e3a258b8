//! GridFS blobs: written through the driver's bucket (as the API's `put`),
//! read back here for a whole batch at once.
//!
//! Reading follows the GridFS spec (a `files` document with `length` and
//! `chunkSize`, chunks `n = 0..N-1` of exactly `chunkSize` bytes but the
//! last) and checks every rule, so a damaged file is `Corrupt`, a vanished
//! one `Missing`, and nothing in a files document can make the reader
//! panic or allocate more than the chunks actually hold.
//!
//! Hand-written on purpose; why not the driver's
//! `GridFsBucket::open_download_stream`: it costs two round trips per file
//! (its files document, then its chunks), so a 64-entry batch would take 128
//! sequential queries where this reader takes two (one for the files
//! documents of the whole batch, one for the chunks of its small files).
//! Writing stays with the driver (`put`), as the API writes.

use std::collections::HashMap;

use cybexp_lake::StoreError;
use futures_util::{AsyncWriteExt, TryStreamExt};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};
use mongodb::gridfs::GridFsBucket;
use mongodb::{Client, Collection};

use crate::Connection;

/// Why a blob cannot be read (all are ERROR outcomes, `bad_data`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BlobFailure {
    Missing(String),
    Corrupt(String),
    TooLarge { size: u64, limit: u64 },
}

pub(crate) type BlobResult = Result<Vec<u8>, BlobFailure>;

/// A files document that passed the checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileInfo {
    pub(crate) id: ObjectId,
    pub(crate) length: u64,
    chunk_size: u64,
}

impl FileInfo {
    pub(crate) fn chunk_count(&self) -> u64 {
        self.length.div_ceil(self.chunk_size)
    }

    fn chunk_len(&self, n: u64) -> u64 {
        let last = self.chunk_count() - 1;
        if n == last { self.length - last * self.chunk_size } else { self.chunk_size }
    }
}

/// A GridFS bucket by name; its collections come from the client each
/// operation runs on (the connection may replace the client).
#[derive(Clone)]
pub(crate) struct Bucket {
    db: String,
    pub(crate) name: String,
}

impl Bucket {
    pub(crate) fn new(db: &str, name: &str) -> Bucket {
        Bucket { db: db.to_owned(), name: name.to_owned() }
    }

    fn files_coll(&self, client: &Client) -> Collection<Document> {
        client.database(&self.db).collection(&format!("{}.files", self.name))
    }

    fn chunks_coll(&self, client: &Client) -> Collection<Document> {
        client.database(&self.db).collection(&format!("{}.chunks", self.name))
    }

    fn gridfs(&self, client: &Client) -> GridFsBucket {
        let options = mongodb::options::GridFsBucketOptions::builder().bucket_name(self.name.clone()).build();
        client.database(&self.db).gridfs_bucket(options)
    }

    /// Makes sure the chunks have the GridFS spec's index `{files_id: 1,
    /// n: 1}` (unique), unless an index on those keys exists already.
    pub(crate) fn ensure_chunks_index(&self, conn: &Connection) -> Result<(), StoreError> {
        let keys = doc! { "files_id": 1, "n": 1 };
        let existing: Vec<mongodb::IndexModel> = match conn
            .call_raw("listing the GridFS chunks indexes", async |client| {
                self.chunks_coll(client).list_indexes().await?.try_collect().await
            })? {
            Ok(indexes) => indexes,
            // No chunks collection yet: nothing to list.
            Err(e) if crate::has_code(&e, crate::NAMESPACE_NOT_FOUND) => Vec::new(),
            Err(e) => return Err(crate::store_error("listing the GridFS chunks indexes", &e)),
        };
        let same_keys = |index: &mongodb::IndexModel| {
            index.keys.len() == 2 && index.keys.keys().zip(keys.keys()).all(|(a, b)| a == b)
        };
        if existing.iter().any(same_keys) {
            return Ok(());
        }
        let index = mongodb::IndexModel::builder()
            .keys(keys)
            .options(mongodb::options::IndexOptions::builder().unique(true).build())
            .build();
        conn.call("creating the GridFS chunks index", async |client| {
            self.chunks_coll(client).create_index(index).await
        })?;
        tracing::info!(bucket = %self.name, "created the GridFS chunks index (files_id, n)");
        Ok(())
    }

    /// Uploads a blob as a new GridFS file, as the API does.
    pub(crate) fn put(&self, conn: &Connection, filename: &str, blob: &[u8]) -> Result<ObjectId, StoreError> {
        conn.call("uploading a blob to GridFS", async |client| {
            let mut stream = self.gridfs(client).open_upload_stream(filename).await?;
            let written = match stream.write_all(blob).await {
                Ok(()) => stream.close().await,
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                let _ = stream.abort().await;
                return Err(e.into());
            }
            match stream.id() {
                Bson::ObjectId(id) => Ok(*id),
                other => Err(mongodb::error::Error::custom(format!("GridFS gave the file id {other}"))),
            }
        })
    }

    /// Deletes a file and its chunks (a blob whose entry could not be added).
    pub(crate) fn delete(&self, conn: &Connection, id: ObjectId) -> Result<(), StoreError> {
        conn.call("deleting a GridFS file", async |client| self.gridfs(client).delete(Bson::ObjectId(id)).await)
    }

    /// The files documents of `ids`, checked.
    pub(crate) fn files(
        &self,
        conn: &Connection,
        ids: &[ObjectId],
    ) -> Result<HashMap<ObjectId, Result<FileInfo, BlobFailure>>, StoreError> {
        let found: Vec<Document> = conn.call("reading GridFS files", async |client| {
            self.files_coll(client)
                .find(doc! { "_id": { "$in": ids } })
                .projection(doc! { "length": 1, "chunkSize": 1 })
                .batch_size(crate::one_reply(ids.len()))
                .await?
                .try_collect()
                .await
        })?;
        let mut out: HashMap<ObjectId, Result<FileInfo, BlobFailure>> = ids
            .iter()
            .map(|id| (*id, Err(BlobFailure::Missing(format!("no file {id} in GridFS bucket {:?}", self.name)))))
            .collect();
        for file in found {
            if let Ok(id) = file.get_object_id("_id") {
                out.insert(id, check_file(id, &file));
            }
        }
        Ok(out)
    }

    /// The contents of checked files (all in one query: mind the sizes).
    pub(crate) fn read(
        &self,
        conn: &Connection,
        files: &[FileInfo],
    ) -> Result<HashMap<ObjectId, BlobResult>, StoreError> {
        let mut parts: HashMap<ObjectId, Parts> = files.iter().map(|f| (f.id, Parts::new(*f))).collect();
        let wanted: Vec<ObjectId> = files.iter().filter(|f| f.length > 0).map(|f| f.id).collect();
        if !wanted.is_empty() {
            // Sized for the whole read, so it needs no getMore: a few chunks per
            // small file (the server still caps a reply at 16 MiB).
            let chunks: u64 = files.iter().map(FileInfo::chunk_count).sum();
            let batch = crate::one_reply(usize::try_from(chunks).unwrap_or(usize::MAX));
            conn.call("reading GridFS chunks", async |client| {
                let mut cursor = self
                    .chunks_coll(client)
                    .find(doc! { "files_id": { "$in": &wanted } })
                    .sort(doc! { "files_id": 1, "n": 1 })
                    .projection(doc! { "files_id": 1, "n": 1, "data": 1 })
                    .batch_size(batch)
                    .await?;
                while let Some(chunk) = cursor.try_next().await? {
                    if let Some(parts) = chunk.get_object_id("files_id").ok().and_then(|id| parts.get_mut(&id)) {
                        parts.add(&chunk);
                    }
                }
                Ok(())
            })?;
        }
        Ok(parts.into_iter().map(|(id, parts)| (id, parts.finish())).collect())
    }

    /// Reads one file: files document, then chunks, unless the files
    /// document says it is longer than `max_bytes`.
    pub(crate) fn read_one(&self, conn: &Connection, id: ObjectId, max_bytes: u64) -> Result<BlobResult, StoreError> {
        let info = match self.files(conn, &[id])?.remove(&id) {
            Some(Ok(info)) if info.length > max_bytes => {
                return Ok(Err(BlobFailure::TooLarge { size: info.length, limit: max_bytes }));
            }
            Some(Ok(info)) => info,
            Some(Err(failure)) => return Ok(Err(failure)),
            None => return Ok(Err(BlobFailure::Missing(format!("no file {id}")))),
        };
        Ok(self.read(conn, &[info])?.remove(&id).unwrap_or_else(|| Err(BlobFailure::Missing(format!("no file {id}")))))
    }
}

fn non_negative(doc: &Document, key: &str) -> Option<u64> {
    match doc.get(key)? {
        Bson::Int32(n) => u64::try_from(*n).ok(),
        Bson::Int64(n) => u64::try_from(*n).ok(),
        // Some old drivers wrote lengths as doubles.
        Bson::Double(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15 => Some(*f as u64),
        _ => None,
    }
}

fn check_file(id: ObjectId, file: &Document) -> Result<FileInfo, BlobFailure> {
    let corrupt = |why: &str| Err(BlobFailure::Corrupt(format!("GridFS file {id}: {why}")));
    let Some(length) = non_negative(file, "length") else {
        return corrupt("no valid length");
    };
    match non_negative(file, "chunkSize") {
        Some(chunk_size) if chunk_size > 0 => Ok(FileInfo { id, length, chunk_size }),
        _ => corrupt("no valid chunkSize"),
    }
}

/// The chunks of one file as they arrive, checked one by one.
struct Parts {
    info: FileInfo,
    bytes: Vec<u8>,
    next: u64,
    failure: Option<String>,
}

impl Parts {
    fn new(info: FileInfo) -> Parts {
        Parts { info, bytes: Vec::new(), next: 0, failure: None }
    }

    fn add(&mut self, chunk: &Document) {
        if self.failure.is_some() {
            return;
        }
        let n = non_negative(chunk, "n");
        let data = match chunk.get("data") {
            Some(Bson::Binary(binary)) => Some(&binary.bytes),
            _ => None,
        };
        let (Some(n), Some(data)) = (n, data) else {
            self.failure = Some("a chunk without a valid n or data".into());
            return;
        };
        if n != self.next {
            self.failure = Some(if n < self.next {
                format!("chunk {n} appears twice")
            } else {
                format!("chunk {} is missing", self.next)
            });
            return;
        }
        if n >= self.info.chunk_count() {
            self.failure = Some(format!("extra chunk {n} beyond its length of {} bytes", self.info.length));
            return;
        }
        let expected = self.info.chunk_len(n);
        if data.len() as u64 != expected {
            self.failure = Some(format!("chunk {n} holds {} bytes, expected {expected}", data.len()));
            return;
        }
        self.bytes.extend_from_slice(data);
        self.next += 1;
    }

    fn finish(self) -> BlobResult {
        let id = self.info.id;
        if let Some(why) = self.failure {
            return Err(BlobFailure::Corrupt(format!("GridFS file {id}: {why}")));
        }
        if self.next != self.info.chunk_count() {
            return Err(BlobFailure::Corrupt(format!(
                "GridFS file {id}: chunk {} is missing ({} bytes expected)",
                self.next, self.info.length
            )));
        }
        Ok(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::Binary;
    use mongodb::bson::spec::BinarySubtype;

    fn chunk(n: i32, data: &[u8]) -> Document {
        doc! { "n": n, "data": Binary { subtype: BinarySubtype::Generic, bytes: data.to_vec() } }
    }

    fn info(length: u64, chunk_size: u64) -> FileInfo {
        FileInfo { id: ObjectId::new(), length, chunk_size }
    }

    #[test]
    fn chunks_reassemble_and_every_rule_is_checked() {
        let mut parts = Parts::new(info(5, 2));
        for (n, data) in [(0, b"ab".as_slice()), (1, b"cd"), (2, b"e")] {
            parts.add(&chunk(n, data));
        }
        assert_eq!(parts.finish().unwrap(), b"abcde");

        let corrupt = |chunks: &[(i32, &[u8])], length: u64| {
            let mut parts = Parts::new(info(length, 2));
            for (n, data) in chunks {
                parts.add(&chunk(*n, data));
            }
            match parts.finish() {
                Err(BlobFailure::Corrupt(why)) => why,
                other => panic!("expected Corrupt, got {other:?}"),
            }
        };
        assert!(corrupt(&[(0, b"ab"), (2, b"e")], 5).contains("chunk 1 is missing"));
        assert!(corrupt(&[(0, b"ab"), (1, b"cd")], 5).contains("chunk 2 is missing"));
        assert!(corrupt(&[(0, b"ab"), (1, b"c"), (2, b"e")], 5).contains("chunk 1 holds 1 bytes, expected 2"));
        assert!(corrupt(&[(0, b"ab"), (1, b"cd"), (2, b"e"), (3, b"x")], 5).contains("extra chunk 3"));
        assert!(corrupt(&[(0, b"ab"), (0, b"ab")], 4).contains("appears twice"));
        assert!(corrupt(&[], 1).contains("chunk 0 is missing"));

        let mut parts = Parts::new(info(2, 2));
        parts.add(&doc! { "n": 0, "data": "not binary" });
        assert!(matches!(parts.finish(), Err(BlobFailure::Corrupt(_))));
        // An empty file has no chunks.
        assert_eq!(Parts::new(info(0, 255)).finish().unwrap(), b"");
    }

    #[test]
    fn files_documents_are_checked() {
        let id = ObjectId::new();
        assert!(check_file(id, &doc! { "length": 10i64, "chunkSize": 4 }).is_ok());
        assert!(check_file(id, &doc! { "length": 10.0, "chunkSize": 4 }).is_ok());
        for bad in [
            doc! { "length": 10, "chunkSize": 0 },
            doc! { "length": -1, "chunkSize": 4 },
            doc! { "length": "10", "chunkSize": 4 },
            doc! { "chunkSize": 4 },
            doc! { "length": 10 },
        ] {
            assert!(matches!(check_file(id, &bad), Err(BlobFailure::Corrupt(_))), "{bad}");
        }
        // A huge claimed length allocates nothing up front.
        let mut parts = Parts::new(info(u64::MAX / 2, 1 << 20));
        parts.add(&chunk(0, b"short"));
        assert!(matches!(parts.finish(), Err(BlobFailure::Corrupt(_))));
    }
}
