//! The two storage seams of the archiver (reference §1, §4, §5) and the types
//! that cross them: the cache data lake, as the pipeline uses it
//! ([`CacheLake`]) and as the operator's tools do ([`LakeAdmin`]), and the
//! archive ([`ArchiveStore`]). Backends: `cybexp-store-sqlite` (embedded
//! default) and `cybexp-store-mongo`; both run the conformance suite in
//! `test_support`. The pipeline only ever talks to these traits.
//!
//! The traits are synchronous: the pipeline runs on OS threads because its
//! cost is RSA, and a backend that is async inside (MongoDB) blocks on its
//! own runtime.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

pub mod backoff;
mod changes;
pub mod clock;
mod entry;
mod error;
mod owner;
mod redact;
mod writer;
// Always compiled, not behind a feature: a feature that only tests turn on
// would give `cargo test` and `cargo run` two builds of every crate above
// this one. It is generic code: none of it is linked unless a test calls it.
pub mod test_support;

pub use crate::changes::{ChangeFeed, NoChangeFeed};
pub use crate::entry::EntryState;
pub use crate::error::{BlobError, StoreError, StoreErrorKind};
pub use crate::owner::{NotAnOwner, Owner};
pub use crate::redact::{redact_credentials, url_password};
pub use crate::writer::{Finished, GroupWriter, SeparateStores, outcomes_of, write_separately};

/// How long a claim holds an entry unless renewed or resolved, on every
/// store. A live archiver renews its claims every third of the lease
/// (the pipeline's heartbeat follows from it), so two renewals may fail
/// before one runs out; a crashed archiver's claims come back after it
/// (at once, on its own host).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

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
    /// `_requeued`: what each `requeue` cleared, oldest first, the last
    /// [`Requeued::KEEP`]. A field of the archiver's own, beside the
    /// reference's: `skip`, `state`, `error` and `cause` keep their meaning
    /// (a requeued entry waits like a new one).
    #[serde(default)]
    pub requeued: Vec<Requeued>,
}

/// One `requeue` of an entry: when, and the `state`, `cause` and `error` it
/// cleared. Written by the store in the same update that clears them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Requeued {
    /// Epoch seconds, by the store's clock (MongoDB: the server's; SQLite:
    /// the requeuing process's).
    pub at: f64,
    pub state: Option<String>,
    pub cause: Option<String>,
    pub error: Option<String>,
}

impl Requeued {
    /// Requeues an entry remembers: the history stays bounded however often
    /// an operator requeues it, and the newest are the ones that explain it.
    pub const KEEP: usize = 10;

    /// What requeuing `entry` at `at` clears.
    pub fn of(entry: &CacheEntry, at: f64) -> Requeued {
        Requeued { at, state: entry.state.clone(), cause: entry.cause.clone(), error: entry.error.clone() }
    }

    /// Appends `record`, dropping the oldest beyond [`Self::KEEP`].
    pub fn push(history: &mut Vec<Requeued>, record: Requeued) {
        history.push(record);
        let excess = history.len().saturating_sub(Self::KEEP);
        history.drain(..excess);
    }
}

impl CacheEntry {
    /// Why a skipped entry waits, as `requeue` and `skipped` name it: the
    /// ERROR's cause (`parser.fuel`), else the state (`not_supported`).
    pub fn skip_reason(&self) -> Option<&str> {
        self.cause.as_deref().or(self.state.as_deref())
    }
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

impl NewEntry {
    /// What every store refuses to take (each wraps the reason in
    /// [`StoreError::refused`]): a timestamp that is not finite. SQLite would
    /// store a NaN as NULL, MongoDB would sort it before every entry, and
    /// "oldest first" would mean nothing for it.
    pub fn validate(&self) -> Result<(), String> {
        if !self.timestamp.is_finite() {
            return Err(format!("timestamp {} is not finite", self.timestamp));
        }
        Ok(())
    }
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
    /// The blob is longer than its parser may take in (plus the envelope):
    /// refused before it is read, so large files cannot exhaust memory.
    OversizedBlob,
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
            ErrorCause::MissingBlob | ErrorCause::CorruptBlob | ErrorCause::OversizedBlob | ErrorCause::Unstorable => {
                "bad_data"
            }
            ErrorCause::Decrypt(_) => "decrypt_failed",
            ErrorCause::Parser(_) => "parse_failed",
        }
    }

    /// A short machine-readable cause, e.g. `decrypt.auth`, `parser.fuel`.
    pub fn code(&self) -> String {
        match self {
            ErrorCause::MissingBlob => "blob.missing".into(),
            ErrorCause::CorruptBlob => "blob.corrupt".into(),
            ErrorCause::OversizedBlob => "blob.too_large".into(),
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueDepth {
    /// Not processed and not skipped.
    pub waiting: u64,
    /// Skipped (NOT_SUPPORTED or ERROR), waiting for an operator.
    pub skipped: u64,
    /// Upload time (epoch seconds, the entry's `timestamp`) of the oldest
    /// waiting entry, claimed or not; `None` when nothing waits. A count
    /// cannot tell a stuck queue from a busy one; this age can. Read from the
    /// claim index's first waiting key, so it costs what the count costs.
    #[serde(default)]
    pub oldest_waiting_at: Option<f64>,
}

/// Which entries `dump cache` lists (see [`EntryState`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryFilter {
    /// `None`: every entry.
    pub state: Option<EntryState>,
    /// Only this entry (`replay`); an id the store could never have handed
    /// out matches nothing.
    pub id: Option<EntryId>,
}

/// Which skipped entries `requeue` queues again; every condition given
/// must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequeueFilter {
    /// The cause starts with this (`parser.` for every parser failure).
    pub cause_prefix: Option<String>,
    /// The `state` value, e.g. `parse_failed`, `not_supported`.
    pub state: Option<String>,
    pub typtag: Option<String>,
    /// Uploaded at or after (epoch seconds).
    pub since: Option<f64>,
    /// Uploaded before (epoch seconds).
    pub until: Option<f64>,
}

impl RequeueFilter {
    pub fn matches(&self, entry: &CacheEntry) -> bool {
        let cause = |prefix: &String| entry.cause.as_deref().is_some_and(|c| c.starts_with(prefix.as_str()));
        entry.skip
            && !entry.processed
            && self.cause_prefix.as_ref().is_none_or(cause)
            && self.state.as_ref().is_none_or(|s| entry.state.as_ref() == Some(s))
            && self.typtag.as_ref().is_none_or(|t| &entry.typtag == t)
            && self.since.is_none_or(|since| entry.timestamp >= since)
            && self.until.is_none_or(|until| entry.timestamp < until)
    }
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

impl Stored {
    /// The outcome for the entry this document came from (reference §5):
    /// stored or already there is SUCCESS; a document the archive can
    /// never hold is that entry's ERROR.
    pub fn outcome(self, hash: &str) -> Outcome {
        match self {
            Stored::Inserted | Stored::AlreadyPresent => Outcome::Success { hash: hash.to_owned() },
            Stored::Refused(why) => Outcome::Error { cause: ErrorCause::Unstorable, message: why },
        }
    }
}

/// The cache data lake as the pipeline uses it: its hot path (reference §1,
/// §5). Tooling (`submit`, `dump cache`, `reprocess`, the dashboard's queue)
/// goes through [`LakeAdmin`].
pub trait CacheLake: Send + Sync {
    /// A short name for logs and the dashboard, e.g. `sqlite:/var/lib/x.db`.
    fn describe(&self) -> String;

    /// Claims up to `query.limit` entries that are not processed (and not
    /// skipped unless `include_skipped`), oldest first. A claim is a lease
    /// held by `worker`: until it expires, or is released, or an outcome is
    /// applied, no other claim returns the entry. Expired leases (a crashed
    /// archiver) come back.
    fn claim_batch(&self, worker: &str, query: &BatchQuery) -> Result<Vec<CacheEntry>, StoreError>;

    /// The encrypted blob of an entry. A blob longer than `max_bytes` is
    /// [`BlobError::TooLarge`], decided from its recorded length before any
    /// of its bytes are fetched.
    fn read_blob(&self, entry: &CacheEntry, max_bytes: u64) -> Result<Vec<u8>, BlobError>;

    /// Records the outcomes on their entries and drops their claims, in one
    /// transaction or bulk write. On error, some may have been applied (each
    /// is idempotent, so the caller may simply retry the entries).
    fn apply_outcomes(&self, outcomes: &[(EntryId, Outcome)]) -> Result<(), StoreError>;

    /// Gives claimed entries back untouched (shutdown, or the archiver's own
    /// trouble), in one write. Entries not claimed, or gone, are no error.
    fn release(&self, ids: &[EntryId]) -> Result<(), StoreError>;

    /// Extends the leases of those of `ids` that `worker` still holds, to a
    /// full lease from now: the heartbeat of a batch being worked, so a
    /// short lease never runs out under a live archiver. Entries finished,
    /// released or taken over meanwhile are left alone.
    fn renew(&self, worker: &str, ids: &[EntryId]) -> Result<(), StoreError>;

    /// The live claims of other owners on entries `query` could claim: who
    /// holds them and when the first of them runs out.
    fn foreign_claims(&self, worker: &str, query: &BatchQuery) -> Result<ForeignClaims, StoreError>;

    /// Ends at once every claim of these owners on unprocessed entries (their
    /// processes are gone); returns how many entries were freed.
    fn expire_claims(&self, owners: &[String]) -> Result<u64, StoreError>;

    /// A feed that tells an idle archiver when entries may have become
    /// claimable (a submission, a requeue, another archiver's release), so
    /// it polls at once rather than at the end of its backoff. Each call
    /// opens a feed of its own.
    fn changes(&self) -> Box<dyn ChangeFeed>;

    /// Records one outcome: [`Self::apply_outcomes`] of one.
    fn apply_outcome(&self, id: &EntryId, outcome: &Outcome) -> Result<(), StoreError> {
        self.apply_outcomes(&[(id.clone(), outcome.clone())])
    }
}

/// What [`CacheLake::foreign_claims`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForeignClaims {
    /// Each owner holding a live claim, once, sorted.
    pub owners: Vec<String>,
    /// How long until the first of those claims runs out, by the store's
    /// clock (the lake's server on MongoDB), never the archiver's.
    pub next_expiry_in: Option<std::time::Duration>,
}

/// The cache data lake as the operator's tools use it.
pub trait LakeAdmin: CacheLake {
    /// Adds an entry with its blob, as the CYBEX-P API does. Refuses an entry
    /// that fails [`NewEntry::validate`].
    fn submit(&self, entry: &NewEntry, blob: &[u8]) -> Result<EntryId, StoreError>;

    /// Hands the entries `filter` selects to `visit`, oldest first, one at a
    /// time (`dump cache`, `requeue`): memory stays flat however large the
    /// lake. `visit` stops the walk by returning [`ControlFlow::Break`], and
    /// may call the store meanwhile (`requeue` queues as it walks).
    fn for_each_entry(
        &self,
        filter: &EntryFilter,
        visit: &mut dyn FnMut(CacheEntry) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;

    /// The entries `filter` selects, oldest first, in memory: for small
    /// selections (one id, tests); [`Self::for_each_entry`] walks the rest.
    fn entries(&self, filter: &EntryFilter) -> Result<Vec<CacheEntry>, StoreError> {
        let mut found = Vec::new();
        self.for_each_entry(filter, &mut |entry| {
            found.push(entry);
            ControlFlow::Continue(())
        })?;
        Ok(found)
    }

    /// Queues skipped, unprocessed entries again (optionally of one typtag):
    /// clears `skip`, `state`, `error` and `cause`. The operator's
    /// "reprocess" after deploying a parser; returns how many.
    fn unskip(&self, typtag: Option<&str>) -> Result<u64, StoreError>;

    /// [`Self::unskip`] for exactly these entries: each is queued again
    /// only if it is still skipped and unprocessed when the store gets to
    /// it (one atomic update per entry), so a running daemon loses nothing.
    fn unskip_ids(&self, ids: &[EntryId]) -> Result<u64, StoreError>;

    /// Hands the skipped entries `filter` selects to `visit`, oldest first
    /// (`requeue`), as [`Self::for_each_entry`] does.
    fn for_each_skipped(
        &self,
        filter: &RequeueFilter,
        visit: &mut dyn FnMut(CacheEntry) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let skipped = EntryFilter { state: Some(EntryState::Skipped), id: None };
        self.for_each_entry(&skipped, &mut |entry| {
            if filter.matches(&entry) { visit(entry) } else { ControlFlow::Continue(()) }
        })
    }

    /// The skipped entries `filter` selects, oldest first, in memory.
    fn skipped_matching(&self, filter: &RequeueFilter) -> Result<Vec<CacheEntry>, StoreError> {
        let mut found = Vec::new();
        self.for_each_skipped(filter, &mut |entry| {
            found.push(entry);
            ControlFlow::Continue(())
        })?;
        Ok(found)
    }

    fn queue_depth(&self) -> Result<QueueDepth, StoreError>;
}

/// The archive database (reference §4).
pub trait ArchiveStore: Send + Sync {
    fn describe(&self) -> String;

    /// Stores documents unique by `_hash`, one result per document in order;
    /// storing one that exists already (in the archive, or earlier in the
    /// same batch) is a no-op that reports [`Stored::AlreadyPresent`].
    fn store_batch(&self, docs: &[RawDocument]) -> Result<Vec<Stored>, StoreError>;

    /// Stores one document: [`Self::store_batch`] of one.
    fn store(&self, doc: &RawDocument) -> Result<Stored, StoreError> {
        match self.store_batch(std::slice::from_ref(doc))?.pop() {
            Some(stored) => Ok(stored),
            // A backend bug (one result per document is the contract), not a retry.
            None => Err(StoreError::other("archive", "store_batch returned no result for the document")),
        }
    }

    fn count(&self) -> Result<u64, StoreError>;

    /// Has the archive's server answer one request that reads no document
    /// and changes nothing, within the store's timeout: the reachability
    /// check of `check-config` (`count` would scan a large archive).
    fn ping(&self) -> Result<(), StoreError>;

    /// Hands every document to `visit`, in insertion order, one at a time
    /// (`dump archive`): memory stays flat however large the archive.
    fn for_each_document(&self, visit: &mut dyn FnMut(RawDocument) -> ControlFlow<()>) -> Result<(), StoreError>;

    /// Every document, in insertion order, in memory (tests, small archives).
    fn documents(&self) -> Result<Vec<RawDocument>, StoreError> {
        let mut found = Vec::new();
        self.for_each_document(&mut |doc| {
            found.push(doc);
            ControlFlow::Continue(())
        })?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_need_a_finite_timestamp() {
        let entry = NewEntry {
            name: "n".into(),
            orgid: "o".into(),
            typtag: "t".into(),
            timezone: "UTC".into(),
            timestamp: 1.5,
        };
        assert_eq!(entry.validate(), Ok(()));
        for timestamp in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let why = NewEntry { timestamp, ..entry.clone() }.validate().unwrap_err();
            assert!(why.ends_with("is not finite"), "{why}");
        }
    }
}
