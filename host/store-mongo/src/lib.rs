//! MongoDB storage: the CYBEX-P cache data lake and the TAHOE archive on the
//! very collections the Python API and analytics use (reference §1, §4, §5).
//!
//! - [`MongoLake`] implements [`CacheLake`](cybexp_lake::CacheLake) and
//!   [`LakeAdmin`](cybexp_lake::LakeAdmin) on `cache_db.file_entries` and the
//!   GridFS bucket `fs` beside it.
//! - [`MongoArchive`] implements [`ArchiveStore`](cybexp_lake::ArchiveStore)
//!   on `tahoe_db.instance`, unique by `_hash`.
//!
//! [`MongoConfig`] is the `[store]` section that names them; its
//! [`open`](MongoConfig::open) opens both.
//!
//! # Entries (reference §1)
//! The API writes `{name, orgid, typetag, timezone, timestamp, processed:
//! false, fid}`; older entries spell `typtag`, both are read. An entry's id
//! is its ObjectId in hex. The archiver adds only the reference's outcome
//! fields (`processed`, `_ref`, `skip`, `state`, `error`), a machine-readable
//! `cause`, while it holds an entry a `_claim` sub-document, and once an
//! operator requeues it a bounded `_requeued` history (what each requeue
//! cleared).
//!
//! # Claims and scale-out
//! A claim is a lease: `_claim: {owner, token, until}`, where `until` is
//! the lease's end in milliseconds since the epoch **by the server's
//! clock**. Every lease decision is the server's: a claim sets `until` to
//! `$$NOW` plus the lease in an update pipeline, a renewal does the same,
//! and "no live claim" is `$expr` against `$$NOW`. Archivers on hosts
//! whose clocks differ by minutes still agree on every lease; only their
//! durations (the lease, the timeouts) come from their own clocks.
//!
//! A poll finds the oldest claimable entries with one aggregation
//! (`processed: false`, `skip` not true, oldest first, then the lease
//! check), then claims them with one update whose pipeline sets the claim
//! only where the entry holds no live claim, atomically per document.
//! When several archivers race for the same entries each entry goes to
//! exactly one of them; one that got fewer than it asked for reads back
//! which ones it got (by its batch token) and tries the next ones. A
//! crashed archiver's claims come back when their lease runs out. An
//! outcome or a release removes the claim; a release only removes the
//! caller's own claim (by token), never one another archiver took after a
//! lease ran out. Claims written by earlier versions (`_claim.expires`, a
//! date from the archiver's clock) count as expired.
//!
//! # The claim index and its plan
//! `cybexp_archive_claim_v2` is `{processed: 1, skip: 1, timestamp: 1,
//! _id: 1}`, and a claim asks for `processed: false, skip: {$in: [null,
//! false]}` sorted by `{timestamp, _id}`. On a real `mongod` the planner
//! explodes the `skip` points (missing, null, false) into index scans each
//! already in `timestamp` order and merges them (`SORT_MERGE`), the lease
//! check is a residual filter on the fetched documents, and the limit
//! stops the walk: a claim examines about as many keys as it returns, and
//! skipped entries (`skip: true`) lie in another part of the index that it
//! never reads, however many years of them the lake holds. The earlier
//! index, `{processed, timestamp, _id}` (`cybexp_archive_claim`), made every
//! claim walk every skipped entry; it is no longer created, and an
//! operator may drop it once no older archiver runs.
//!
//! # Durability, consistency, timeouts
//! - Writes use the write concern `{w: "majority", j: true}` unless the URI
//!   or the config names another: a document is on a majority of the
//!   replica set, journaled, before its entry is marked, so a failover
//!   cannot roll back a document whose entry says it is stored.
//! - Every read (claims, blob reads, read-backs) goes to the primary,
//!   whatever `readPreference` the URI names: a lagging secondary would
//!   show a blob as missing (a false, permanent ERROR) or a claim as free.
//! - Every operation is bounded by [`Options::timeout`] (the driver has no
//!   socket timeout): a connection that silently stops answering fails the
//!   call as `Unavailable`, and the pipeline releases the work for a retry
//!   instead of waiting until the watchdog kills it.
//!
//! # Batching
//! Per claim: one aggregation and one update (plus one read-back when
//! another archiver took some), then two reads for the blobs of the whole
//! batch (GridFS `files` and `chunks`), each sized so no `getMore` is
//! needed. One `insert` per group of documents, one `update` command per
//! group of outcomes, one `update` per group of releases.
//!
//! "Waiting" (`queue_depth`, `dump cache --state unprocessed`) means what a
//! poll takes: `processed: false` and not skipped.
//!
//! # New entries
//! [`MongoLake::changes`](cybexp_lake::CacheLake::changes) is a change
//! stream on the entries collection: inserts, requeues and releases wake
//! an idle archiver at once. A server without change streams (a standalone
//! `mongod`) leaves it on the backoff, with a note in the log.
//!
//! # Outages
//! A failure of the server (unreachable, timed out, not primary, a write
//! concern error...) is a [`StoreError`]: nothing is marked and the pipeline
//! retries with back-off. One that means the server could not be reached is
//! of kind [`Unavailable`](cybexp_lake::StoreErrorKind::Unavailable); server
//! errors are told apart by their codes, never by their messages. After a network-level
//! failure the store fails fast for a moment (module `health`) instead of
//! letting every call of a batch wait out the server selection timeout, and
//! claims it could not release are released once the server answers again.
//! A client that can no longer find the server by itself (the driver drops
//! a replica set member that answers as a standalone, as after a maintenance
//! restart) is replaced by a fresh one from the URI; so is the client after
//! each [`RECONNECT_AFTER`] of an unbroken outage.
//! Nothing is created at open: indexes are ensured on first use, so an
//! archiver started while MongoDB is down starts, waits and resumes.
//!
//! The driver's asynchronous API runs on this crate's own small runtime;
//! the seams stay synchronous (the pipeline runs on OS threads because its
//! cost is RSA) and block on it with each operation's timeout.

mod archive;
mod blobs;
mod changes;
mod config;
mod convert;
mod health;
mod lake;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use cybexp_lake::{StoreError, StoreErrorKind};
use mongodb::Client;
use mongodb::bson::Document;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::event::sdam::SdamEvent;
use mongodb::options::{Acknowledgment, ClientOptions, ReadPreference, SelectionCriteria, WriteConcern};

pub use crate::archive::MongoArchive;
pub use crate::config::MongoConfig;
pub use crate::convert::{data_from_json, data_to_json};
pub use crate::lake::{CLAIM_INDEX, MongoLake};
pub use mongodb;

pub(crate) const BACKEND: &str = "mongodb";

/// Server error code DuplicateKey (E11000).
pub(crate) const DUPLICATE_KEY: i32 = 11000;
/// Server error code NamespaceNotFound: e.g. listing the indexes of a
/// collection that does not exist yet.
pub(crate) const NAMESPACE_NOT_FOUND: i32 = 26;

/// How long one operation may take before it fails as `Unavailable`,
/// unless the config says otherwise: well past any healthy round trip or
/// group write, well short of the watchdog (60 s) and of a lease.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Groups of documents and outcomes worth writing at once: each group waits
/// on two round trips, so at a distance one group in flight would leave the
/// workers waiting (see the pipeline's writing stage).
pub const WRITE_GROUPS_IN_FLIGHT: usize = 4;

/// The batch size that returns `n` documents in the first reply and closes
/// the cursor there: one more than expected, since a server that filled a
/// batch of exactly `n` cannot tell whether more follow and would leave a
/// `getMore` (a round trip) to find out.
pub(crate) fn one_reply(n: usize) -> u32 {
    u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX)
}

/// The runtime the driver's operations run on. Two threads: the driver's
/// own work (monitoring, connection pools) is light, and each caller
/// blocks on its operation from its own thread.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cybexp-mongo")
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("starting the MongoDB client's runtime: {e}"))
});

/// How long an operation waits for a usable server when the URI does not say
/// (`serverSelectionTimeoutMS`); the driver's own default is 30 s.
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the cache data lake lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LakeTarget {
    /// A MongoDB connection string; TLS, auth, replica set, timeouts and
    /// write concern options go in it as usual.
    pub uri: String,
    pub db: String,
    pub coll: String,
    /// The GridFS bucket holding the blobs (`<bucket>.files`, `<bucket>.chunks`).
    pub bucket: String,
}

impl LakeTarget {
    pub fn new(uri: impl Into<String>) -> LakeTarget {
        LakeTarget {
            uri: uri.into(),
            db: config::DEFAULT_CACHE_DB.into(),
            coll: config::DEFAULT_CACHE_COLL.into(),
            bucket: config::DEFAULT_CACHE_BUCKET.into(),
        }
    }
}

/// Where the archive lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveTarget {
    pub uri: String,
    pub db: String,
    pub coll: String,
}

impl ArchiveTarget {
    pub fn new(uri: impl Into<String>) -> ArchiveTarget {
        ArchiveTarget {
            uri: uri.into(),
            db: config::DEFAULT_ARCHIVE_DB.into(),
            coll: config::DEFAULT_ARCHIVE_COLL.into(),
        }
    }
}

/// Options common to both stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// How long a claim holds an entry (by the server's clock).
    pub lease: Duration,
    /// Write concern `w`: `"majority"`, a number of nodes, or a tag set
    /// name. `None` keeps the URI's, else `"majority"`.
    /// Unacknowledged writes (`0`) are refused: a duplicate must be seen.
    pub write_concern: Option<String>,
    /// Write concern `j`; `None` keeps the URI's, else `true`.
    pub journal: Option<bool>,
    /// Create the claim index on the entries collection (named
    /// [`CLAIM_INDEX`](crate::lake::CLAIM_INDEX)) if it is missing.
    pub create_claim_index: bool,
    /// How long one operation may take ([`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lease: cybexp_lake::DEFAULT_LEASE,
            write_concern: None,
            journal: None,
            create_claim_index: config::DEFAULT_CREATE_CLAIM_INDEX,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Opens both stores, sharing one client (one connection pool) when they
/// use the same URI. No I/O happens here beyond parsing the URIs (and the
/// DNS look-up of a `mongodb+srv://` URI).
pub fn open(
    lake: &LakeTarget,
    archive: &ArchiveTarget,
    options: &Options,
) -> Result<(MongoLake, MongoArchive), StoreError> {
    open_observed(lake, archive, options, None)
}

/// [`open`], with every command the stores send reported to `events` (the
/// tests check what goes over the wire with it, e.g. the read preference).
pub fn open_observed(
    lake: &LakeTarget,
    archive: &ArchiveTarget,
    options: &Options,
    events: Option<EventHandler<CommandEvent>>,
) -> Result<(MongoLake, MongoArchive), StoreError> {
    let lake_conn = Connection::open(&lake.uri, options, events.clone())?;
    let archive_conn =
        if archive.uri == lake.uri { lake_conn.clone() } else { Connection::open(&archive.uri, options, events)? };
    Ok((MongoLake::new(lake_conn, lake, options), MongoArchive::new(archive_conn, archive)))
}

/// A client, the effective write concern, and the health tracker of one server.
#[derive(Clone)]
pub(crate) struct Connection {
    client: Arc<ClientSlot>,
    pub(crate) write_concern: WriteConcern,
    pub(crate) health: Arc<health::Health>,
    /// `host:port` list for `describe` (never the credentials).
    pub(crate) hosts: String,
    /// How long one operation may take.
    pub(crate) timeout: Duration,
}

/// The driver client, replaced by a fresh one built from the same options
/// when it can no longer find the server by itself.
///
/// The driver drops a server from its view of a replica set when the server
/// answers as something else, e.g. a member restarted as a standalone for
/// maintenance (or a test server that answers so while shutting down). With
/// no other member to name it again, that client never finds the server any
/// more, even once it is back as it was. A fresh client starts from the URI.
struct ClientSlot {
    options: ClientOptions,
    current: RwLock<CurrentClient>,
}

struct CurrentClient {
    client: Client,
    /// Set (by the driver's monitoring) when no server is left in this client's view.
    lost_every_server: Arc<AtomicBool>,
    built: Instant,
    generation: u64,
}

impl CurrentClient {
    fn build(options: &ClientOptions, generation: u64) -> Result<CurrentClient, mongodb::error::Error> {
        // The client starts its monitoring tasks on the runtime it is made in.
        let _runtime = RUNTIME.enter();
        let lost_every_server = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&lost_every_server);
        let mut options = options.clone();
        options.sdam_event_handler = Some(EventHandler::callback(move |event: SdamEvent| {
            if let SdamEvent::TopologyDescriptionChanged(change) = event
                && change.new_description.servers().is_empty()
            {
                flag.store(true, Ordering::Release);
            }
        }));
        Ok(CurrentClient {
            client: Client::with_options(options)?,
            lost_every_server,
            built: Instant::now(),
            generation,
        })
    }

    /// Why this client should be replaced, if it should.
    fn stuck(&self, unreachable_for: Option<Duration>) -> Option<&'static str> {
        reconnect_reason(self.lost_every_server.load(Ordering::Acquire), unreachable_for, self.built.elapsed())
    }
}

/// Why a client should be replaced: it has no server left to find, or the
/// server has been unreachable for [`RECONNECT_AFTER`] and the client is at
/// least that old (so a long outage gets one fresh client per period).
fn reconnect_reason(
    lost_every_server: bool,
    unreachable_for: Option<Duration>,
    client_age: Duration,
) -> Option<&'static str> {
    if lost_every_server {
        Some("the driver has no server left in its view of the deployment")
    } else if unreachable_for.is_some_and(|d| d >= RECONNECT_AFTER) && client_age >= RECONNECT_AFTER {
        Some("the server has been unreachable for a while")
    } else {
        None
    }
}

/// How long the server may stay unreachable before the store tries a fresh
/// client (and again after each such period).
pub const RECONNECT_AFTER: Duration = Duration::from_secs(60);

impl Connection {
    fn open(
        uri: &str,
        options: &Options,
        events: Option<EventHandler<CommandEvent>>,
    ) -> Result<Connection, StoreError> {
        let mut client_options = RUNTIME.block_on(ClientOptions::parse(uri).into_future()).map_err(|e| {
            StoreError::refused(BACKEND, format!("invalid MongoDB URI: {}", redact(&e.to_string(), uri)))
        })?;
        if client_options.server_selection_timeout.is_none() {
            client_options.server_selection_timeout = Some(DEFAULT_SERVER_SELECTION_TIMEOUT);
        }
        if client_options.app_name.is_none() {
            client_options.app_name = Some("cybexp-archive".into());
        }
        // The primary, whatever the URI asks: see the crate docs.
        if let Some(asked) = client_options.selection_criteria.as_ref().filter(|c| !is_primary(c)) {
            tracing::info!(read_preference = ?asked, "reading from the primary whatever the URI's readPreference says");
        }
        client_options.selection_criteria = Some(SelectionCriteria::ReadPreference(ReadPreference::Primary));
        client_options.command_event_handler = events;
        let write_concern = effective_write_concern(client_options.write_concern.clone(), options)?;
        client_options.write_concern = Some(write_concern.clone());
        let hosts = client_options.hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(",");
        let current = CurrentClient::build(&client_options, 0)
            .map_err(|e| StoreError::other(BACKEND, format!("creating the MongoDB client: {e}")))?;
        Ok(Connection {
            client: Arc::new(ClientSlot { options: client_options, current: RwLock::new(current) }),
            write_concern,
            health: Arc::new(health::Health::default()),
            hosts,
            timeout: options.timeout,
        })
    }

    /// The client operations use now.
    pub(crate) fn client(&self) -> Client {
        self.client.current.read().unwrap_or_else(PoisonError::into_inner).client.clone()
    }

    /// Replaces the client with a fresh one if it is stuck (see [`ClientSlot`]).
    fn reconnect_if_stuck(&self) {
        let unreachable_for = self.health.down_for();
        let generation = {
            let current = self.client.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.stuck(unreachable_for).is_none() {
                return;
            }
            current.generation
        };
        let mut current = self.client.current.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have replaced it meanwhile.
        let Some(why) = current.stuck(unreachable_for).filter(|_| current.generation == generation) else {
            return;
        };
        match CurrentClient::build(&self.client.options, generation + 1) {
            Ok(fresh) => {
                tracing::warn!(hosts = %self.hosts, reason = why, "starting a fresh MongoDB client");
                // The old client shuts down once the last operation holding it ends.
                *current = fresh;
            }
            Err(e) => tracing::warn!(error = %e, "could not start a fresh MongoDB client"),
        }
    }

    /// Runs one database operation on the current client, within the
    /// operation timeout: fails fast while the server is known to be down,
    /// replaces a stuck client first, and records whether the server
    /// answered.
    pub(crate) fn call<T>(
        &self,
        what: &str,
        op: impl AsyncFnOnce(&Client) -> mongodb::error::Result<T>,
    ) -> Result<T, StoreError> {
        self.call_raw(what, op)?.map_err(|e| store_error(what, &e))
    }

    /// [`Self::call`], handing back the driver's own result (for callers
    /// that look into its error); `Err` only when the call was not made or
    /// did not finish within the timeout.
    pub(crate) fn call_raw<T>(
        &self,
        what: &str,
        op: impl AsyncFnOnce(&Client) -> mongodb::error::Result<T>,
    ) -> Result<mongodb::error::Result<T>, StoreError> {
        self.health.admit(what)?;
        self.reconnect_if_stuck();
        let client = self.client();
        RUNTIME.block_on(self.within_raw(what, op(&client)))
    }

    /// Walks the documents a `find` returns, handing each to `visit`: a
    /// round trip (and at most `batch` documents in memory) at a time, each
    /// within the timeout. `visit` runs outside the runtime, so it may call
    /// the stores again (`requeue` queues entries as it walks them).
    pub(crate) fn walk(
        &self,
        what: &str,
        find: impl Future<Output = mongodb::error::Result<mongodb::Cursor<Document>>>,
        batch: u32,
        visit: &mut dyn FnMut(Document) -> std::ops::ControlFlow<()>,
    ) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        self.health.admit(what)?;
        let mut cursor = RUNTIME.block_on(self.within(what, find))?;
        loop {
            let page: Vec<Document> = RUNTIME.block_on(async {
                let mut page = Vec::new();
                while page.len() < batch as usize {
                    match self.within(what, cursor.try_next()).await? {
                        Some(doc) => page.push(doc),
                        None => break,
                    }
                }
                Ok::<_, StoreError>(page)
            })?;
            let last = page.len() < batch as usize;
            for doc in page {
                if visit(doc).is_break() {
                    return Ok(());
                }
            }
            if last {
                return Ok(());
            }
        }
    }

    /// Runs `work` on the store's runtime, where it bounds each of its own
    /// round trips with [`Self::within`] (the change feed's thread).
    pub(crate) fn run<T>(&self, work: impl Future<Output = T>) -> T {
        RUNTIME.block_on(work)
    }

    /// One round trip of a longer walk ([`Self::run`]), within the timeout.
    pub(crate) async fn within<T>(
        &self,
        what: &str,
        op: impl Future<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StoreError> {
        self.within_raw(what, op).await?.map_err(|e| store_error(what, &e))
    }

    /// [`Self::within`], handing back the driver's own result; `Err` only
    /// when the timeout ran out. Dropping the operation at the deadline
    /// drops its connection too: the pool opens a fresh one for the next.
    pub(crate) async fn within_raw<T>(
        &self,
        what: &str,
        op: impl Future<Output = mongodb::error::Result<T>>,
    ) -> Result<mongodb::error::Result<T>, StoreError> {
        let Ok(result) = tokio::time::timeout(self.timeout, op).await else {
            self.health.record_error(true);
            return Err(self.timed_out(what));
        };
        match &result {
            Ok(_) => self.health.record_ok(),
            Err(e) => self.health.record_error(health::is_outage(e)),
        }
        Ok(result)
    }

    fn timed_out(&self, what: &str) -> StoreError {
        StoreError::unavailable(
            BACKEND,
            format!("{what}: no answer from MongoDB within {:?} (the operation timeout); will retry", self.timeout),
        )
    }

    /// The write concern as a command field, for commands sent with
    /// `run_command` (which does not add the client's).
    pub(crate) fn write_concern_doc(&self) -> Option<Document> {
        mongodb::bson::to_document(&self.write_concern).ok()
    }
}

/// Whether a read preference is the primary's (what the stores use).
fn is_primary(criteria: &SelectionCriteria) -> bool {
    matches!(criteria, SelectionCriteria::ReadPreference(ReadPreference::Primary))
}

/// The write concern the stores use: the config's, else the URI's, else
/// majority with journaling (see the crate docs for why).
fn effective_write_concern(from_uri: Option<WriteConcern>, options: &Options) -> Result<WriteConcern, StoreError> {
    let mut wc = from_uri.unwrap_or_default();
    if let Some(w) = options.write_concern.as_deref() {
        wc.w = Some(match w.trim() {
            "majority" => Acknowledgment::Majority,
            n if n.parse::<u32>().is_ok() => Acknowledgment::Nodes(n.parse().unwrap_or(1)),
            tag if !tag.is_empty() => Acknowledgment::Custom(tag.to_owned()),
            _ => return Err(StoreError::refused(BACKEND, "write_concern is empty")),
        });
    }
    if options.journal.is_some() {
        wc.journal = options.journal;
    }
    if matches!(wc.w, Some(Acknowledgment::Nodes(0))) {
        return Err(StoreError::refused(
            BACKEND,
            "unacknowledged writes (w=0) are not supported: the archiver must see each write succeed",
        ));
    }
    wc.w.get_or_insert(Acknowledgment::Majority);
    wc.journal.get_or_insert(true);
    Ok(wc)
}

/// A driver error as a [`StoreError`], with what was being done:
/// [`Unavailable`](cybexp_lake::StoreErrorKind::Unavailable) when the server
/// could not be reached, else [`Other`](cybexp_lake::StoreErrorKind::Other).
pub(crate) fn store_error(what: &str, e: &mongodb::error::Error) -> StoreError {
    let kind = if health::is_outage(e) { StoreErrorKind::Unavailable } else { StoreErrorKind::Other };
    StoreError::of(BACKEND, kind, format!("{what}: {e}")).caused_by(e.clone())
}

/// Whether the server answered `e` with the error `code` (a command error,
/// a write error, or a write concern error).
pub(crate) fn has_code(e: &mongodb::error::Error, code: i32) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Command(command) => command.code == code,
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == code,
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => concern.code == code,
        _ => false,
    }
}

/// Removes the password of `uri` from a message, should the driver quote it
/// (found by the rule that hides it in descriptions,
/// [`cybexp_lake::redact_credentials`]).
fn redact(message: &str, uri: &str) -> String {
    match cybexp_lake::url_password(uri) {
        Some(password) => message.replace(password, "***"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_concern_from_options_overrides_the_uri() {
        let options = Options { write_concern: Some("2".into()), journal: Some(false), ..Options::default() };
        let wc = effective_write_concern(None, &options).unwrap();
        assert_eq!((wc.w, wc.journal), (Some(Acknowledgment::Nodes(2)), Some(false)));
        let options = Options { write_concern: Some("0".into()), ..Options::default() };
        let err = effective_write_concern(None, &options).unwrap_err();
        assert_eq!((err.backend, err.kind), (BACKEND, cybexp_lake::StoreErrorKind::Refused), "{err}");
    }

    #[test]
    fn durable_by_default_the_uri_is_kept_and_w0_refused() {
        let wc = effective_write_concern(None, &Options::default()).unwrap();
        assert_eq!((wc.w, wc.journal), (Some(Acknowledgment::Majority), Some(true)), "majority, journaled");
        let parse = |uri: &str| RUNTIME.block_on(ClientOptions::parse(uri).into_future()).unwrap();
        let wc = effective_write_concern(parse("mongodb://h/?w=1").write_concern, &Options::default()).unwrap();
        assert_eq!((wc.w, wc.journal), (Some(Acknowledgment::Nodes(1)), Some(true)), "the URI's w, journaled");
        let wc =
            effective_write_concern(parse("mongodb://h/?journal=false").write_concern, &Options::default()).unwrap();
        assert_eq!((wc.w, wc.journal), (Some(Acknowledgment::Majority), Some(false)));
        assert!(effective_write_concern(parse("mongodb://h/?w=0").write_concern, &Options::default()).is_err());
    }

    #[test]
    fn reads_go_to_the_primary_whatever_the_uri_says() {
        let (lake, archive) = open(
            &LakeTarget::new("mongodb://127.0.0.1:1/?readPreference=secondaryPreferred&serverSelectionTimeoutMS=100"),
            &ArchiveTarget::new("mongodb://127.0.0.1:1/?readPreference=nearest"),
            &Options::default(),
        )
        .unwrap();
        for conn in [lake.connection(), archive.connection()] {
            assert!(conn.client.options.selection_criteria.as_ref().is_some_and(is_primary));
        }
    }

    #[test]
    fn a_client_is_replaced_when_it_lost_every_server_or_after_a_long_outage() {
        let (minute, second) = (RECONNECT_AFTER, Duration::from_secs(1));
        assert!(reconnect_reason(false, None, minute * 10).is_none(), "a working client stays");
        assert!(reconnect_reason(false, Some(minute - second), minute * 10).is_none(), "a short outage");
        assert!(reconnect_reason(false, Some(minute), minute).is_some(), "a long outage");
        assert!(reconnect_reason(false, Some(minute * 3), minute - second).is_none(), "replaced recently");
        assert!(reconnect_reason(true, None, Duration::ZERO).is_some(), "lost every server: at once");
    }

    #[test]
    fn server_errors_are_told_apart_by_code() {
        use mongodb::error::{CommandError, Error, WriteError};
        let command: CommandError = mongodb::bson::from_document(mongodb::bson::doc! {
            "code": NAMESPACE_NOT_FOUND, "codeName": "NamespaceNotFound", "errmsg": "no such thing",
        })
        .unwrap();
        let e: Error = ErrorKind::Command(command).into();
        assert!(has_code(&e, NAMESPACE_NOT_FOUND));
        assert!(!has_code(&e, DUPLICATE_KEY));
        assert_eq!(store_error("listing", &e).kind, cybexp_lake::StoreErrorKind::Other);
        let write: WriteError =
            mongodb::bson::from_document(mongodb::bson::doc! { "code": DUPLICATE_KEY, "errmsg": "dup" }).unwrap();
        let e: Error = ErrorKind::Write(WriteFailure::WriteError(write)).into();
        assert!(has_code(&e, DUPLICATE_KEY));
        // A message that merely mentions a code is not that code.
        assert!(!has_code(&Error::custom("E11000 duplicate key"), DUPLICATE_KEY));
        let io: Error = std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into();
        assert_eq!(store_error("claiming", &io).kind, cybexp_lake::StoreErrorKind::Unavailable);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("bad s3cret here", "mongodb://u:s3cret@h/"), "bad *** here");
        assert_eq!(redact("no secret", "mongodb://h/"), "no secret");
        // The userinfo ends at the last `@`, as `redact_credentials` has it.
        assert_eq!(redact("bad p@w here", "mongodb://a%40b:p@w@h/db"), "bad *** here");
        assert_eq!(redact("bad pw", "mongodb://u@h/"), "bad pw");
    }

    #[test]
    fn open_does_no_io_and_describes_without_credentials() {
        let (lake, archive) = open(
            &LakeTarget::new("mongodb://user:pw@127.0.0.1:1/?serverSelectionTimeoutMS=100"),
            &ArchiveTarget::new("mongodb://127.0.0.1:1/"),
            &Options::default(),
        )
        .unwrap();
        use cybexp_lake::{ArchiveStore, CacheLake};
        assert_eq!(lake.describe(), "mongodb://127.0.0.1:1/cache_db.file_entries (GridFS fs)");
        assert_eq!(archive.describe(), "mongodb://127.0.0.1:1/tahoe_db.instance");
        let err = open(&LakeTarget::new("postgres://x"), &ArchiveTarget::new("mongodb://h"), &Options::default())
            .err()
            .unwrap();
        assert_eq!(err.kind, cybexp_lake::StoreErrorKind::Refused);
        assert!(err.message.starts_with("invalid MongoDB URI"), "{err}");
    }
}
