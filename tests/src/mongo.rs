//! Everything MongoDB-specific the tests need, in one place: which server to
//! use, a database pair of its own per test, skipping or failing when there
//! is no server, and private servers for the tests that stop one.
//!
//! `scripts/test.sh` (through `scripts/mongo-server.sh`) starts a SecantusDB
//! server and sets [`URI_ENV`]; to test against a real mongod, set
//! `CYBEXP_TEST_MONGODB_URI=mongodb://host:port/` yourself. Without a server
//! the MongoDB tests print a loud SKIPPED line and pass, except under
//! `CI=true`, where they fail.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cybexp_store_mongo::mongodb::bson::oid::ObjectId;
use cybexp_store_mongo::mongodb::bson::spec::BinarySubtype;
use cybexp_store_mongo::mongodb::bson::{Binary, DateTime, Document, doc};
use cybexp_store_mongo::mongodb::options::ClientOptions;
use cybexp_store_mongo::mongodb::sync::{Client, Database};
use cybexp_store_mongo::{ArchiveTarget, LakeTarget, MongoArchive, MongoConfig, MongoLake};

/// The server the MongoDB tests use.
pub const URI_ENV: &str = "CYBEXP_TEST_MONGODB_URI";
/// The SecantusDB server command, for tests that start (and stop) their own.
pub const SERVER_ENV: &str = "CYBEXP_TEST_SECANTUSD";
/// A Python with pymongo, gridfs and pycryptodome (the interop test).
pub const PYTHON_ENV: &str = "CYBEXP_TEST_PYTHON";

/// Gives up on a MongoDB test for want of `what`: a loud SKIPPED line
/// outside CI, a failure under `CI=true`.
pub fn skip<T>(test: &str, what: &str) -> Option<T> {
    cybexp_test_kit::skip(
        test,
        &format!("no MongoDB: {what} (see {URI_ENV} in tests/src/mongo.rs; scripts/test.sh starts a server)"),
    )
}

/// The test server's URI, checked to answer; `None` (skipped) without one.
pub fn server_uri(test: &str) -> Option<String> {
    let Ok(uri) = std::env::var(URI_ENV) else {
        return skip(test, &format!("{URI_ENV} is not set"));
    };
    let client = Client::with_uri_str(with_timeout(&uri)).unwrap_or_else(|e| panic!("{URI_ENV}={uri}: {e}"));
    if let Err(e) = client.database("admin").run_command(doc! { "ping": 1 }).run() {
        // A server was named but does not answer: a broken setup, not a skip.
        panic!("{URI_ENV}={uri} does not answer: {e}");
    }
    Some(uri)
}

/// `uri` with a short server selection timeout unless it sets one.
fn with_timeout(uri: &str) -> String {
    if uri.contains("serverSelectionTimeoutMS") {
        return uri.to_owned();
    }
    // A path (`/` or `/db`) takes `?` directly; a bare host list needs `/?`.
    let has_path = uri.ends_with('/') || uri.trim_end_matches('/').matches('/').count() > 2;
    let sep = if uri.contains('?') {
        "&"
    } else if has_path {
        "?"
    } else {
        "/?"
    };
    format!("{uri}{sep}serverSelectionTimeoutMS=5000")
}

/// The tests' own client (set-up and checks). With one host and no
/// replica set named, it talks to that server directly, whatever the server
/// says it is: SecantusDB answers as a standalone for a moment while it
/// shuts down, and a client that saw it as a replica set would then drop it
/// for good (the archiver's stores recover from that; see
/// `cybexp_store_mongo`'s outage notes).
fn helper_client(uri: &str) -> Client {
    let mut options = ClientOptions::parse(with_timeout(uri)).run().unwrap_or_else(|e| panic!("{uri}: {e}"));
    if options.hosts.len() == 1 && options.repl_set_name.is_none() && options.direct_connection.is_none() {
        options.direct_connection = Some(true);
    }
    Client::with_options(options).unwrap()
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A cache and an archive database of this test's own on the server
/// (`cache_db`/`tahoe_db` renamed so tests run in parallel), dropped at the
/// end. Collection and bucket names are the production ones.
pub struct TestDbs {
    pub uri: String,
    pub cache_db: String,
    pub archive_db: String,
    pub client: Client,
}

impl TestDbs {
    pub fn new(uri: &str) -> TestDbs {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let stem = format!("cxt{}_{n}", std::process::id());
        TestDbs {
            uri: uri.to_owned(),
            cache_db: format!("{stem}_cache"),
            archive_db: format!("{stem}_tahoe"),
            client: helper_client(uri),
        }
    }

    /// For a test that needs a server: `None` (skipped) without one.
    pub fn for_test(test: &str) -> Option<TestDbs> {
        server_uri(test).map(|uri| TestDbs::new(&uri))
    }

    pub fn lake_target(&self) -> LakeTarget {
        LakeTarget { db: self.cache_db.clone(), ..LakeTarget::new(&self.uri) }
    }

    pub fn archive_target(&self) -> ArchiveTarget {
        ArchiveTarget { db: self.archive_db.clone(), ..ArchiveTarget::new(&self.uri) }
    }

    /// The `[store]` settings naming these databases.
    pub fn config(&self) -> MongoConfig {
        MongoConfig {
            uri: Some(self.uri.clone()),
            cache_db: self.cache_db.clone(),
            archive_db: self.archive_db.clone(),
            ..MongoConfig::default()
        }
    }

    /// The stores, opened as the archiver opens them.
    pub fn open(&self, lease: Duration) -> (MongoLake, MongoArchive) {
        self.config().open(lease).unwrap()
    }

    pub fn cache(&self) -> Database {
        self.client.database(&self.cache_db)
    }

    pub fn archive(&self) -> Database {
        self.client.database(&self.archive_db)
    }

    /// Adds many entries at once, written as the API's `fs.put` and
    /// `file_entries.insert_one` write them (files document, one chunk of
    /// at most 255 KiB, entry), but in three bulk inserts instead of three
    /// round trips per entry. Returns the entry ids.
    pub fn bulk_submit(&self, entries: &[(cybexp_lake::NewEntry, Vec<u8>)]) -> Vec<ObjectId> {
        const CHUNK_SIZE: usize = 255 * 1024;
        let (mut files, mut chunks, mut docs, mut ids) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (entry, blob) in entries {
            assert!(blob.len() <= CHUNK_SIZE, "bulk_submit writes one chunk per blob");
            let (fid, id) = (ObjectId::new(), ObjectId::new());
            files.push(doc! { "_id": fid, "length": blob.len() as i64, "chunkSize": CHUNK_SIZE as i32, "uploadDate": DateTime::now() });
            if !blob.is_empty() {
                let data = Binary { subtype: BinarySubtype::Generic, bytes: blob.clone() };
                chunks.push(doc! { "files_id": fid, "n": 0, "data": data });
            }
            docs.push(doc! {
                "_id": id, "name": &entry.name, "orgid": &entry.orgid, "typetag": &entry.typtag,
                "timezone": &entry.timezone, "timestamp": entry.timestamp, "processed": false, "fid": fid,
            });
            ids.push(id);
        }
        let db = self.cache();
        for (coll, batch) in [("fs.files", files), ("fs.chunks", chunks), ("file_entries", docs)] {
            if !batch.is_empty() {
                db.collection::<Document>(coll).insert_many(batch).run().unwrap();
            }
        }
        ids
    }

    /// The `[store]` section of an archiver config using these databases.
    pub fn store_toml(&self) -> String {
        format!(
            "[store]\nbackend = \"mongodb\"\nuri = {uri:?}\ncache_db = {cache:?}\narchive_db = {archive:?}\n",
            uri = with_timeout(&self.uri),
            cache = self.cache_db,
            archive = self.archive_db
        )
    }
}

impl Drop for TestDbs {
    fn drop(&mut self) {
        if std::env::var_os("CYBEXP_TEST_KEEP_DBS").is_none() {
            let _ = self.cache().drop().run();
            let _ = self.archive().drop().run();
        }
    }
}

/// A SecantusDB server of the test's own, for tests that stop and restart
/// it: its own loopback port and data dir. Killed on drop.
pub struct PrivateServer {
    command: PathBuf,
    pub port: u16,
    data: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateServer {
    /// `None` (skipped) when `scripts/mongo-server.sh` did not say where
    /// the server command is (e.g. with a real mongod by URI).
    pub fn start(test: &str) -> Option<PrivateServer> {
        let Some(command) = std::env::var_os(SERVER_ENV).map(PathBuf::from) else {
            return skip(test, &format!("{SERVER_ENV} is not set (this test starts and stops a server of its own)"));
        };
        let port = free_port_below_ephemeral_range();
        let mut server = PrivateServer { command, port, data: tempfile::tempdir().unwrap(), child: None };
        server.restart();
        Some(server)
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again, on the same port and data) and waits until
    /// it answers: a single-node replica set, as SecantusDB runs by default.
    pub fn restart(&mut self) {
        self.launch(&[]);
    }

    /// [`Self::restart`], but as a standalone server, the way an operator
    /// restarts a replica set member for maintenance.
    pub fn restart_standalone(&mut self) {
        self.launch(&["--standalone"]);
    }

    fn launch(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "server already running");
        let log = std::fs::File::create(self.data.path().join("server.log")).unwrap();
        let child = Command::new(&self.command)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string(), "--log-level", "WARNING"])
            .args(extra)
            .arg("--storage-path")
            .arg(self.data.path().join("db"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.command.display()));
        self.child = Some(child);
        let client = Client::with_uri_str(format!("{}?serverSelectionTimeoutMS=500", self.uri())).unwrap();
        let what = format!("the private server on port {} to answer", self.port);
        cybexp_test_kit::wait_for(&what, Duration::from_secs(60), |seen| {
            let ping = client.database("admin").run_command(doc! { "ping": 1 }).run();
            *seen = self.log();
            ping.ok().map(|_| ())
        });
    }

    /// Stops the server (SIGTERM, as an operator or a restart would; SIGKILL
    /// after 20 s) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }
}

/// A free loopback port below the kernel's ephemeral range (32768 and up
/// on Linux). While the server is down, clients keep connecting to its
/// port; were it an ephemeral port, one such connection could be given it as
/// its own source port and connect to itself (TCP simultaneous open),
/// holding the port the restarted server needs.
fn free_port_below_ephemeral_range() -> u16 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seed = u64::from(std::process::id()) ^ now.as_nanos() as u64;
    let start = 20_000 + (seed.wrapping_mul(2_654_435_761) % 10_000) as u16;
    (start..32_000)
        .chain(20_000..start)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("no free loopback port in 20000..32000")
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Python that plays the CYBEX-P API; `None` (skipped) without one.
pub fn python(test: &str) -> Option<PathBuf> {
    match std::env::var_os(PYTHON_ENV) {
        Some(python) => Some(PathBuf::from(python)),
        None => skip(test, &format!("{PYTHON_ENV} (python with pymongo and pycryptodome) is not set")),
    }
}

#[cfg(test)]
mod tests {
    use super::with_timeout;

    #[test]
    fn timeouts_are_added_to_any_uri_shape() {
        assert_eq!(with_timeout("mongodb://h:1/"), "mongodb://h:1/?serverSelectionTimeoutMS=5000");
        assert_eq!(with_timeout("mongodb://h:1"), "mongodb://h:1/?serverSelectionTimeoutMS=5000");
        assert_eq!(with_timeout("mongodb://h/?tls=true"), "mongodb://h/?tls=true&serverSelectionTimeoutMS=5000");
        assert_eq!(with_timeout("mongodb://h/db"), "mongodb://h/db?serverSelectionTimeoutMS=5000");
        assert_eq!(with_timeout("mongodb://h/?serverSelectionTimeoutMS=1"), "mongodb://h/?serverSelectionTimeoutMS=1");
    }
}
