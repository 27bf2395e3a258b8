//! The embedded store's change feed: `PRAGMA data_version` on a connection
//! of its own. SQLite changes that number whenever another connection (of
//! this process or any other) commits to the file, so a look costs one
//! statement and no read of the data.

use std::path::Path;
use std::time::{Duration, Instant};

use cybexp_lake::{ChangeFeed, StoreError};
use rusqlite::{Connection, OpenFlags};

use crate::Ctx;

/// How often an idle archiver looks: well within the second a new entry
/// may wait, for one cheap statement each time.
const LOOK_EVERY: Duration = Duration::from_millis(100);

pub(crate) struct DataVersionFeed {
    conn: Connection,
    /// `data_version` at the last mark.
    marked: Option<i64>,
}

impl DataVersionFeed {
    pub(crate) fn open(path: &Path) -> Result<DataVersionFeed, StoreError> {
        let what = format!("opening {} for its change feed", path.display());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).ctx(&what)?;
        Ok(DataVersionFeed { conn, marked: None })
    }

    fn version(&self) -> Option<i64> {
        self.conn.pragma_query_value(None, "data_version", |row| row.get(0)).ok()
    }
}

impl ChangeFeed for DataVersionFeed {
    fn mark(&mut self) {
        self.marked = self.version();
    }

    fn wait(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            // Unreadable for a moment (a lock, a vanished file): the next look may do.
            let now = self.version();
            if now.is_some() && self.marked.is_some() && now != self.marked {
                return true;
            }
            if self.marked.is_none() {
                self.marked = now;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(LOOK_EVERY));
        }
    }

    fn describe(&self) -> String {
        "SQLite data_version".into()
    }
}
