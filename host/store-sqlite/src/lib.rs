//! The embedded default storage backend: the cache data lake (reference §1,
//! §5) and the archive (reference §4) in one SQLite file.
//!
//! One [`SqliteStore`] implements [`CacheLake`](cybexp_lake::CacheLake),
//! [`LakeAdmin`](cybexp_lake::LakeAdmin) and
//! [`ArchiveStore`](cybexp_lake::ArchiveStore); clones share one small
//! connection pool, and several processes may open the same file (SQLite's
//! own locking keeps them apart).
//!
//! # Durability
//! The file runs in WAL mode with `synchronous=FULL`: every commit is fsynced
//! before it returns. `NORMAL` would keep the file consistent, but a power
//! loss could take back the last commits. Within this one file that would
//! still be safe (the WAL replays a prefix, so an outcome never survives
//! without the document committed before it), but the archive may live here
//! while the cache lake lives elsewhere (or the other way round), and then
//! only `FULL` guarantees that a document is on disk before the pipeline
//! records its outcome. `store_batch` shares one fsync across a batch.
//!
//! # Claims
//! A claim is a lease: `claim_owner` and `claim_expires` (Unix milliseconds)
//! on the entry, set inside a `BEGIN IMMEDIATE` transaction so two claimers,
//! in this process or another, never get the same entry. A crashed archiver's
//! claims come back once their lease (default [`cybexp_lake::DEFAULT_LEASE`])
//! runs out. The lease is by this host's clock: processes sharing one
//! file share one clock.
//!
//! # Locks
//! SQLite allows one writer at a time. A call waits for another connection's
//! lock up to the busy timeout (default [`DEFAULT_BUSY_TIMEOUT`]), trying
//! every few milliseconds (see `pool::busy_handler` for why not SQLite's own
//! back-off), then fails with a [`StoreError`] of kind
//! [`Unavailable`](cybexp_lake::StoreErrorKind::Unavailable): a database
//! failure, which the pipeline retries. Readers never wait for writers (WAL).
//!
//! # Outcomes (reference §5)
//! - SUCCESS: `processed = 1`, the hash added to `refs` once ($addToSet), and
//!   `skip`, `state`, `error` and `cause` cleared. Clearing matters for a
//!   forced reprocess of a skipped entry that now succeeds: a stale
//!   `decrypt_failed` on a processed entry would mislead `dump cache`.
//! - NOT_SUPPORTED: `skip = 1`, `state = 'not_supported'`, `error` and `cause`
//!   cleared.
//! - ERROR: `skip = 1`, `state = cause.state()`, `error = short_error()`,
//!   `cause = cause.code()` (e.g. `decrypt.auth`).
//!
//! A NOT_SUPPORTED or ERROR for an entry that is already processed (a late
//! worker whose lease had run out while another one succeeded) only drops
//! the claim: a success is never downgraded. Every outcome drops the claim.
//!
//! A requeue (`unskip`, `unskip_ids`) clears `skip`, `state`, `error` and
//! `cause` and appends what it cleared to `requeued` (a JSON array, the last
//! [`Requeued::KEEP`](cybexp_lake::Requeued::KEEP)), reading and writing each
//! row under one write transaction; outcomes leave `requeued` alone. The
//! column came with schema version 2; a version 1 file gains it on open.

mod archive;
mod changes;
mod lake;
mod pool;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cybexp_lake::{StoreError, StoreErrorKind};
use rusqlite::ErrorCode;

use crate::pool::{Conn, Pool};

pub use crate::schema::{APPLICATION_ID, SCHEMA_VERSION};

/// The `backend` of every [`StoreError`] this crate returns.
pub const BACKEND: &str = "sqlite";

/// How long one statement waits for another connection's lock before the
/// call fails with a [`StoreError`] (which the pipeline retries).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Knobs for [`SqliteStore::open_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    pub lease: Duration,
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { lease: cybexp_lake::DEFAULT_LEASE, busy_timeout: DEFAULT_BUSY_TIMEOUT }
    }
}

/// The cache lake and the archive in one SQLite file. Cheap to clone; clones
/// share the connection pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Arc<Pool>,
    lease: Duration,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.pool.path()).field("lease", &self.lease).finish()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the store at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, &StoreOptions::default())
    }

    /// Opens the store at `path`. A missing file is created with mode 0600
    /// (it holds feed data); a missing parent directory is an error, not
    /// created, so a typo in a path does not silently start an empty store.
    /// An existing file must be an SQLite database that is empty or carries
    /// this crate's schema at a version it knows.
    pub fn open_with(path: impl AsRef<Path>, options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_file(&path)?;
        let pool = Pool::new(path, options.busy_timeout);
        {
            let mut conn = pool.get()?;
            schema::prepare(&mut conn, pool.path())?;
        }
        Ok(SqliteStore { pool: Arc::new(pool), lease: options.lease })
    }

    /// The same store with claims leased for `lease` (tests use short ones).
    pub fn with_lease(mut self, lease: Duration) -> SqliteStore {
        self.lease = lease;
        self
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub fn path(&self) -> &Path {
        self.pool.path()
    }

    fn conn(&self) -> Result<Conn<'_>, StoreError> {
        self.pool.get()
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.pool.path().display())
    }
}

/// Creates the database file with mode 0600 if it does not exist yet, so
/// SQLite never creates it with the umask's wider default. SQLite gives the
/// `-wal` and `-shm` files the mode of the database file.
fn create_file(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(StoreError::refused(
            BACKEND,
            format!("cannot open {}: directory {} does not exist", path.display(), parent.display()),
        ));
    }
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            return Err(StoreError::refused(BACKEND, format!("cannot open {}: not a regular file", path.display())));
        }
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        // Another process created it in between: fine, SQLite opens it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::other(BACKEND, format!("cannot create {}: {e}", path.display()))),
    }
}

/// Adds what was being done, and a hint for the errors an operator can act
/// on, to a SQLite error. A lock still held after the busy timeout is
/// [`Unavailable`](cybexp_lake::StoreErrorKind::Unavailable) (the next try
/// may get it); a file that is not a database is refused; the rest are
/// other failures.
pub(crate) fn sql_error(what: &str, e: rusqlite::Error) -> StoreError {
    let (kind, hint) = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => (
            StoreErrorKind::Unavailable,
            " (still locked by another connection after the busy timeout; will be retried)",
        ),
        Some(ErrorCode::DiskFull) => (StoreErrorKind::Other, " (disk full)"),
        Some(ErrorCode::ReadOnly) => (StoreErrorKind::Other, " (database file or directory is read-only)"),
        Some(ErrorCode::NotADatabase) => (StoreErrorKind::Refused, " (the file is not an SQLite database)"),
        Some(ErrorCode::DatabaseCorrupt) => (StoreErrorKind::Other, " (the database file is damaged)"),
        _ => (StoreErrorKind::Other, ""),
    };
    StoreError::of(BACKEND, kind, format!("{what}: {e}{hint}")).caused_by(e)
}

/// `.ctx("doing x")` on a rusqlite result.
pub(crate) trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| sql_error(what, e))
    }
}

/// Wall-clock Unix milliseconds: leases must mean the same across processes.
pub(crate) fn now_ms() -> i64 {
    cybexp_lake::clock::now_epoch_ms()
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
