//! A small pool of connections to the one database file. Workers call the
//! store from several threads; a `Connection` is `Send` but not `Sync`, so
//! each call checks one out. Readers then run in parallel (WAL), and SQLite
//! serialises the writers.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cybexp_lake::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::Ctx;

/// Connections kept open between calls; more are opened when more threads
/// call at once, and closed on return.
const MAX_IDLE: usize = 8;

pub(crate) struct Pool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub(crate) fn new(path: PathBuf, busy_timeout: Duration) -> Pool {
        Pool { path, busy_timeout, idle: Mutex::new(Vec::new()) }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn get(&self) -> Result<Conn<'_>, StoreError> {
        let reused = self.lock_idle().pop();
        let conn = match reused {
            Some(conn) => conn,
            None => self.connect()?,
        };
        Ok(Conn { pool: self, conn: Some(conn) })
    }

    // A panic elsewhere while the lock was held leaves a plain Vec behind,
    // still valid: keep going rather than panic in turn.
    fn lock_idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let what = format!("opening {}", self.path.display());
        // No CREATE: `SqliteStore::open_with` made the file with mode 0600.
        // No URI: a path is a path, even if it starts with `file:`.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&self.path, flags).ctx(&what)?;
        conn.busy_handler(Some(busy_handler(self.busy_timeout))).ctx(&what)?;
        // Per connection, not stored in the file. See the crate docs.
        conn.pragma_update(None, "synchronous", "FULL").ctx(&what)?;
        Ok(conn)
    }
}

/// Waits for another connection's lock for up to `timeout`, then lets the
/// statement fail with SQLITE_BUSY.
///
/// Why not SQLite's own `busy_timeout`: it backs off to one try per 100 ms,
/// and SQLite's locks are not fair. A process that commits in a tight loop
/// takes the write lock back microseconds after releasing it, so a waiter
/// trying ten times a second misses every gap about one time in three over
/// 5 s (seen in `claims_are_exclusive_across_processes`). Trying every
/// 1-4 ms, with jitter so two waiters do not move in step, gives it
/// thousands of chances for very little CPU.
fn busy_handler(timeout: Duration) -> impl FnMut(i32) -> bool + Send + 'static {
    use std::hash::{BuildHasher, Hasher};
    let mut started = Instant::now();
    // A random seed without a dependency; xorshift from there.
    let mut seed = std::collections::hash_map::RandomState::new().build_hasher().finish() | 1;
    move |count| {
        // `count` restarts at 0 for every new wait.
        if count == 0 {
            started = Instant::now();
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return false;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let base = Duration::from_millis(u64::from(count.clamp(0, 3).unsigned_abs()) + 1);
        std::thread::sleep((base + Duration::from_micros(seed % 1000)).min(left));
        true
    }
}

/// A checked-out connection; goes back to the pool on drop.
pub(crate) struct Conn<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection still inside a transaction (a failed rollback) is
            // not reused: closing it rolls back.
            if conn.is_autocommit() {
                let mut idle = self.pool.lock_idle();
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
        }
    }
}

impl Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only `drop` takes the connection out.
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}
