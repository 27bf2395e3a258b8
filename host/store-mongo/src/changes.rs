//! The lake's change feed on MongoDB: a change stream on the entries
//! collection, read by a thread of its own, that wakes an idle archiver
//! when entries may have become claimable.
//!
//! What counts: an insert (the API's submission), and an update that only
//! removes `skip` or `_claim` (a requeue, another archiver's release). The
//! archivers' own claims, renewals and outcomes do not: they would wake
//! every idle archiver for every entry another one works.
//!
//! A server without change streams (a standalone `mongod` answers code
//! 40573) leaves the archiver on its backoff: said once in the log, and
//! tried again now and then, in case the deployment changes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cybexp_lake::ChangeFeed;
use mongodb::bson::{Document, doc};

use crate::{Connection, LakeTarget, has_code};

/// How long the server holds a `getMore` on the stream open when nothing
/// happens: how often the thread checks whether it should stop.
const AWAIT: Duration = Duration::from_secs(1);
/// Pause before reopening a stream that broke (an outage, a failover).
const REOPEN_AFTER: Duration = Duration::from_secs(5);
/// Pause before asking a server that refused change streams again.
const RETRY_UNSUPPORTED_AFTER: Duration = Duration::from_secs(600);
/// Server code: "The $changeStream stage is only supported on replica sets".
const CHANGE_STREAMS_UNSUPPORTED: i32 = 40573;

pub(crate) struct ChangeStreamFeed {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// A change came since the last mark.
    changed: Mutex<bool>,
    woken: Condvar,
    stop: AtomicBool,
    /// Whether the stream is open (for `describe`).
    open: AtomicBool,
}

impl Shared {
    fn signal(&self) {
        *self.changed.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.woken.notify_all();
    }

    /// Sleeps `d`, or less if the feed is dropped meanwhile.
    fn pause(&self, d: Duration) {
        let deadline = Instant::now() + d;
        while !self.stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The events that may make entries claimable (see the module docs).
fn wake_events() -> Vec<Document> {
    vec![doc! { "$match": { "$or": [
        { "operationType": { "$in": ["insert", "replace"] } },
        {
            "operationType": "update",
            "updateDescription.removedFields": { "$in": ["skip", "_claim"] },
            "updateDescription.updatedFields.processed": { "$exists": false },
            "updateDescription.updatedFields.skip": { "$exists": false },
        },
    ] } }]
}

impl ChangeStreamFeed {
    pub(crate) fn start(conn: Connection, target: LakeTarget) -> ChangeStreamFeed {
        let shared = Arc::new(Shared::default());
        let feed = ChangeStreamFeed { shared: shared.clone() };
        let spawned =
            std::thread::Builder::new().name("cybexp-changes".into()).spawn(move || follow(&conn, &target, &shared));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the change stream thread: polling on the backoff alone");
        }
        feed
    }
}

impl Drop for ChangeStreamFeed {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// Why a stream ended.
enum Ended {
    /// The feed was dropped.
    Stopped,
    /// The server has no change streams.
    Unsupported(String),
    /// An outage, a failover, a timeout: worth reopening.
    Broke(String),
}

/// The thread: keeps a stream open and signals each event, until the feed
/// is dropped.
fn follow(conn: &Connection, target: &LakeTarget, shared: &Shared) {
    let mut said_unsupported = false;
    loop {
        let ended = conn.run(stream_once(conn, target, shared));
        shared.open.store(false, Ordering::Relaxed);
        // Anything may have happened while the stream was down.
        shared.signal();
        match ended {
            Ended::Stopped => return,
            Ended::Unsupported(why) => {
                if !said_unsupported {
                    tracing::warn!(error = %why, "the lake's server has no change streams: new entries wait for the next poll");
                    said_unsupported = true;
                }
                shared.pause(RETRY_UNSUPPORTED_AFTER);
            }
            Ended::Broke(why) => {
                tracing::debug!(error = %why, "the change stream broke; reopening");
                shared.pause(REOPEN_AFTER);
            }
        }
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

/// Opens a stream and follows it until it ends.
async fn stream_once(conn: &Connection, target: &LakeTarget, shared: &Shared) -> Ended {
    let what = "following the entries' change stream";
    let ended = |result: Result<mongodb::error::Error, cybexp_lake::StoreError>| match result {
        Ok(e) if has_code(&e, CHANGE_STREAMS_UNSUPPORTED) => Ended::Unsupported(e.to_string()),
        Ok(e) => Ended::Broke(e.to_string()),
        Err(timeout) => Ended::Broke(timeout.to_string()),
    };
    let coll = conn.client().database(&target.db).collection::<Document>(&target.coll);
    let watch = coll.watch().pipeline(wake_events()).max_await_time(AWAIT);
    let mut stream = match conn.within_raw(what, async { watch.await }).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return ended(Ok(e)),
        Err(timeout) => return ended(Err(timeout)),
    };
    shared.open.store(true, Ordering::Relaxed);
    while !shared.stop.load(Ordering::Relaxed) {
        match conn.within_raw(what, stream.next_if_any()).await {
            Ok(Ok(Some(_))) => shared.signal(),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return ended(Ok(e)),
            Err(timeout) => return ended(Err(timeout)),
        }
    }
    Ended::Stopped
}

impl ChangeFeed for ChangeStreamFeed {
    fn mark(&mut self) {
        *self.shared.changed.lock().unwrap_or_else(PoisonError::into_inner) = false;
    }

    fn wait(&mut self, timeout: Duration) -> bool {
        let changed = self.shared.changed.lock().unwrap_or_else(PoisonError::into_inner);
        let (changed, _) = self
            .shared
            .woken
            .wait_timeout_while(changed, timeout, |changed| !*changed)
            .unwrap_or_else(PoisonError::into_inner);
        *changed
    }

    fn describe(&self) -> String {
        if self.shared.open.load(Ordering::Relaxed) {
            "MongoDB change stream".into()
        } else {
            "MongoDB change stream (not open: polling on the backoff meanwhile)".into()
        }
    }
}
