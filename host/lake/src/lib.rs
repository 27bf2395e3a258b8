//! The two storage seams of the archiver (reference §1, §4, §5) and the types
//! that cross them. Backends: `cybexp-store-sqlite` (embedded default) and
//! MongoDB. The pipeline only ever talks to these traits.
//!
//! The traits are synchronous: the pipeline runs on OS threads because its
//! cost is RSA, and a backend that is async inside (MongoDB) blocks on its
//! own runtime.

use serde::{Deserialize, Serialize};

pub mod backoff;
#[cfg(feature = "test-support")]
pub mod test_support;

/// Opaque identity of a cache entry (ObjectId hex on MongoDB, row id on SQLite).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(pub String);

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A cache entry as the API wrote it (reference §1), plus what the archiver
/// has recorded on it so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub id: EntryId,
    pub name: String,
    pub orgid: String,
    /// `typetag` (or the older `typtag`) field.
    pub typtag: String,
    pub timezone: String,
    /// Upload time, epoch seconds.
    pub timestamp: f64,
    /// Reference to the blob (GridFS file id, or the SQLite blob row); `None`
    /// when the entry has none, which is an ERROR (`bad_data`).
    pub blob_ref: Option<String>,
    pub processed: bool,
    pub skip: bool,
    pub state: Option<String>,
    pub error: Option<String>,
    /// Machine-readable cause of an ERROR ([`ErrorCause::code`]), e.g. `decrypt.auth`.
    #[serde(default)]
    pub cause: Option<String>,
    /// `_ref`: hashes of the raw documents made from this entry.
    pub refs: Vec<String>,
}

/// What the API hands in when it submits a feed (the `submit` command).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEntry {
    pub name: String,
    pub orgid: String,
    pub typtag: String,
    pub timezone: String,
    pub timestamp: f64,
}

/// A TAHOE raw document as stored in the archive (reference §3, §4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawDocument {
    pub sub_type: String,
    /// `data` as JSON text in input key order. It may hold Python's
    /// `NaN`/`Infinity` literals and integers beyond 64 bits, so backends
    /// parse it with `cybexp_tahoe`, not with serde_json.
    pub data_json: String,
    pub orgid: String,
    pub timezone: String,
    /// `_hash`: lowercase hex SHA-256.
    pub hash: String,
}

impl RawDocument {
    pub const ITYPE: &'static str = "raw";
}

/// Why an entry ended as ERROR. `state()` is what is written to the entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum ErrorCause {
    /// No blob reference, or the blob it names does not exist.
    MissingBlob,
    /// The blob exists but cannot be read back whole.
    CorruptBlob,
    /// The archive refused the document for good ([`Stored::Refused`]).
    Unstorable,
    /// Decryption failed; the class is `format`, `key`, `auth` or `utf8`.
    Decrypt(String),
    /// The parser refused the input or was stopped: `invalid_input`, `fuel`,
    /// `deadline`, `memory`, `trap`, `output_too_large`, `input_too_large`.
    Parser(String),
}

impl ErrorCause {
    /// The `state` value written to the cache entry.
    pub fn state(&self) -> &'static str {
        match self {
            ErrorCause::MissingBlob | ErrorCause::CorruptBlob | ErrorCause::Unstorable => "bad_data",
            ErrorCause::Decrypt(_) => "decrypt_failed",
            ErrorCause::Parser(_) => "parse_failed",
        }
    }

    /// A short machine-readable cause, e.g. `decrypt.auth`, `parser.fuel`.
    pub fn code(&self) -> String {
        match self {
            ErrorCause::MissingBlob => "blob.missing".into(),
            ErrorCause::CorruptBlob => "blob.corrupt".into(),
            ErrorCause::Unstorable => "archive.refused".into(),
            ErrorCause::Decrypt(class) => format!("decrypt.{class}"),
            ErrorCause::Parser(reason) => format!("parser.{reason}"),
        }
    }
}

/// What happened to one entry (reference §5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "outcome")]
pub enum Outcome {
    /// Stored (or already there): `processed: true`, `_hash` added to `_ref`.
    Success { hash: String },
    /// No parser for the typtag: `skip: true`, `state: "not_supported"`.
    NotSupported,
    /// `skip: true`, `state: cause.state()`, `error: message` (short).
    Error { cause: ErrorCause, message: String },
}

impl Outcome {
    pub const NOT_SUPPORTED_STATE: &'static str = "not_supported";
    /// Longest error text written to an entry; longer ones are cut.
    pub const MAX_ERROR_CHARS: usize = 200;

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Success { .. } => "SUCCESS",
            Outcome::NotSupported => "NOT_SUPPORTED",
            Outcome::Error { .. } => "ERROR",
        }
    }

    /// The error text to store, cut to [`Self::MAX_ERROR_CHARS`] on a char boundary.
    pub fn short_error(&self) -> Option<String> {
        match self {
            Outcome::Error { message, .. } => Some(message.chars().take(Self::MAX_ERROR_CHARS).collect()),
            _ => None,
        }
    }
}

/// Which entries a poll claims.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchQuery {
    pub limit: usize,
    /// Also take entries marked `skip` (the `--force` mode), but never ones
    /// already `processed`.
    pub include_skipped: bool,
    pub typtag: Option<String>,
}

/// Entries waiting, for the dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    /// Not processed and not skipped.
    pub waiting: u64,
    /// Skipped (NOT_SUPPORTED or ERROR), waiting for an operator.
    pub skipped: u64,
}

/// Filter for `dump cache`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryFilter {
    /// `processed`; `unprocessed` (not processed and not skipped: waiting);
    /// `skipped` (not processed, skipped); or a literal `state` value. The
    /// first three split the entries as [`QueueDepth`] counts them.
    pub state: Option<String>,
}

/// A failure of the database itself: never an outcome, nothing is marked and
/// the entry is retried later (reference §5).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{backend} store unavailable: {message}")]
pub struct StoreError {
    pub backend: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(backend: &'static str, message: impl std::fmt::Display) -> Self {
        StoreError { backend, message: message.to_string() }
    }
}

/// Reading an entry's blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob missing: {0}")]
    Missing(String),
    #[error("blob corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether [`ArchiveStore::store`] inserted the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    Inserted,
    AlreadyPresent,
    /// The backend can never hold this document (e.g. a key with U+0000, or
    /// over MongoDB's 16 MiB): an ERROR outcome for its entry, not a retry.
    Refused(String),
}

/// The cache data lake (reference §1, §5).
pub trait CacheLake: Send + Sync {
    /// A short name for logs and the dashboard, e.g. `sqlite:/var/lib/x.db`.
    fn describe(&self) -> String;

    /// Claims up to `query.limit` entries that are not processed (and not
    /// skipped unless `include_skipped`), oldest first. A claim is a lease
    /// held by `worker`: until it expires, or is released, or an outcome is
    /// applied, no other claim returns the entry. Expired leases (a crashed
    /// archiver) come back.
    fn claim_batch(&self, worker: &str, query: &BatchQuery) -> Result<Vec<CacheEntry>, StoreError>;

    /// The encrypted blob of an entry.
    fn read_blob(&self, entry: &CacheEntry) -> Result<Vec<u8>, BlobError>;

    /// Records the outcome on the entry and drops its claim.
    fn apply_outcome(&self, id: &EntryId, outcome: &Outcome) -> Result<(), StoreError>;

    /// Records several outcomes; backends override this to use one
    /// transaction or bulk write. On error, some may have been applied (each
    /// is idempotent, so the caller may simply retry the entries).
    fn apply_outcomes(&self, outcomes: &[(EntryId, Outcome)]) -> Result<(), StoreError> {
        outcomes.iter().try_for_each(|(id, outcome)| self.apply_outcome(id, outcome))
    }

    /// Gives a claimed entry back untouched (shutdown, or a store failure).
    fn release(&self, id: &EntryId) -> Result<(), StoreError>;

    /// Queues skipped, unprocessed entries again (optionally of one typtag):
    /// clears `skip`, `state`, `error` and `cause`. The operator's
    /// "reprocess" after deploying a parser; returns how many.
    fn unskip(&self, typtag: Option<&str>) -> Result<u64, StoreError>;

    fn queue_depth(&self) -> Result<QueueDepth, StoreError>;

    /// Adds an entry with its blob, as the CYBEX-P API does.
    fn submit(&self, entry: &NewEntry, blob: &[u8]) -> Result<EntryId, StoreError>;

    /// Entries for `dump cache`, oldest first.
    fn entries(&self, filter: &EntryFilter) -> Result<Vec<CacheEntry>, StoreError>;
}

/// The archive database (reference §4).
pub trait ArchiveStore: Send + Sync {
    fn describe(&self) -> String;

    /// Stores a document unique by `_hash`; storing one that exists already
    /// is a no-op that reports [`Stored::AlreadyPresent`].
    fn store(&self, doc: &RawDocument) -> Result<Stored, StoreError>;

    /// Stores several at once (same semantics as `store`, one result each).
    fn store_batch(&self, docs: &[RawDocument]) -> Result<Vec<Stored>, StoreError> {
        docs.iter().map(|d| self.store(d)).collect()
    }

    fn count(&self) -> Result<u64, StoreError>;

    /// Every document, in insertion order, for `dump archive`.
    fn documents(&self) -> Result<Vec<RawDocument>, StoreError>;
}
