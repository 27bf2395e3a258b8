//! The schema, its version (`PRAGMA user_version`) and the checks on open.

use std::path::Path;

use cybexp_lake::StoreError;
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::{BACKEND, Ctx, sql_error};

/// `PRAGMA user_version` of the schema this build writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

/// `PRAGMA application_id` marking a cybexp store ("CYBX"), so `open` can
/// tell our file from another application's SQLite database.
pub const APPLICATION_ID: i64 = 0x4359_4258;

/// The current version (2). STRICT tables: a value of the wrong type is refused on write
/// rather than read back as something else.
const SCHEMA: &str = "
-- Encrypted blobs as the API submitted them. `size` is checked on read so a
-- truncated value shows up as a corrupt blob.
CREATE TABLE blobs (
    id    INTEGER PRIMARY KEY,
    size  INTEGER NOT NULL,
    bytes BLOB NOT NULL
) STRICT;

-- Cache entries (reference §1) and what the archiver recorded (§5).
-- AUTOINCREMENT: an entry id is never reused, it appears in logs.
-- blob_id is deliberately not a foreign key: a blob that is gone is the
-- entry's MissingBlob outcome, not a constraint error.
CREATE TABLE entries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    orgid         TEXT NOT NULL,
    typtag        TEXT NOT NULL,
    timezone      TEXT NOT NULL,
    timestamp     REAL NOT NULL,
    blob_id       INTEGER,
    processed     INTEGER NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    skip          INTEGER NOT NULL DEFAULT 0 CHECK (skip IN (0, 1)),
    state         TEXT,
    error         TEXT,
    cause         TEXT,                       -- ErrorCause::code(), e.g. decrypt.auth
    refs          TEXT NOT NULL DEFAULT '[]', -- `_ref`: JSON array of hashes
    requeued      TEXT NOT NULL DEFAULT '[]', -- `_requeued`: JSON array of {at, state, cause, error} (version 2)
    claim_owner   TEXT,                       -- worker holding the lease
    claim_expires INTEGER                     -- lease end, Unix ms
) STRICT;

-- The claim query walks this in order: processed = 0, skip = 0, oldest first.
CREATE INDEX entries_queue ON entries (processed, skip, timestamp, id);

-- TAHOE raw documents (reference §4), unique by hash; seq is insertion order.
CREATE TABLE documents (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    hash      TEXT NOT NULL UNIQUE,
    sub_type  TEXT NOT NULL,
    orgid     TEXT NOT NULL,
    timezone  TEXT NOT NULL,
    data_json TEXT NOT NULL
) STRICT;
";

/// Version 1 to 2: the requeue history. Additive, so a version 1 file is
/// upgraded in place on open; its entries start with no history.
const MIGRATE_V1_TO_V2: &str = "ALTER TABLE entries ADD COLUMN requeued TEXT NOT NULL DEFAULT '[]';";

/// Checks the file, switches it to WAL and creates the schema if the file is
/// new. Runs once per `open`, on the first connection.
pub(crate) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let shown = path.display();
    let what = format!("opening {shown}");

    // The first statement that reads the header: a file that is not SQLite
    // fails here.
    let journal: String =
        conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).map_err(|e| open_error(path, &what, e))?;
    // WAL is persistent in the file; only switch once (switching needs a
    // lock that does not wait on the busy handler).
    if !journal.eq_ignore_ascii_case("wal") {
        let journal: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .ctx(&format!("switching {shown} to WAL"))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(StoreError::refused(
                BACKEND,
                format!(
                    "{shown}: SQLite could not use WAL mode here (journal mode is {journal}); is it on a network file system?"
                ),
            ));
        }
    }

    // IMMEDIATE: two processes opening a new (or version 1) file at once
    // create (or upgrade) the schema once; the second sees the version.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&what)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0)).ctx(&what)?;
    let app_id: i64 = tx.pragma_query_value(None, "application_id", |row| row.get(0)).ctx(&what)?;
    if version == 0 && app_id == 0 {
        let tables: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                [],
                |row| row.get(0),
            )
            .ctx(&what)?;
        if tables > 0 {
            return Err(StoreError::refused(
                BACKEND,
                format!("{shown} is an SQLite database of another application (it has tables but no cybexp schema)"),
            ));
        }
        let create = format!("creating the schema in {shown}");
        tx.execute_batch(SCHEMA).ctx(&create)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID).ctx(&create)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION).ctx(&create)?;
    } else if app_id != APPLICATION_ID {
        return Err(StoreError::refused(
            BACKEND,
            format!("{shown} is an SQLite database of another application (application_id {app_id:#x})"),
        ));
    } else if version > SCHEMA_VERSION {
        return Err(StoreError::refused(
            BACKEND,
            format!(
                "{shown} has schema version {version}, newer than this build knows ({SCHEMA_VERSION}); \
                 use a newer cybexp-archive"
            ),
        ));
    } else if version == 1 {
        tx.execute_batch(MIGRATE_V1_TO_V2).ctx(&format!("upgrading {shown} to schema version 2"))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION).ctx(&what)?;
    } else if version != SCHEMA_VERSION {
        return Err(StoreError::refused(BACKEND, format!("{shown} has unknown schema version {version}")));
    }
    tx.commit().ctx(&what)
}

/// A clear message for a file that is not SQLite (or is damaged).
fn open_error(path: &Path, what: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            StoreError::refused(BACKEND, format!("{} is not an SQLite database", path.display())).caused_by(e)
        }
        Some(ErrorCode::DatabaseCorrupt) => {
            StoreError::other(BACKEND, format!("{} is a damaged SQLite database: {e}", path.display())).caused_by(e)
        }
        _ => sql_error(what, e),
    }
}
