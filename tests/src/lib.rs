//! Helpers for the end-to-end tests in `tests/tests/`: the shared vectors,
//! the real `cybexp-archive` binary, and a throwaway archiver setup (keys,
//! config, and a store on either backend) per test. MongoDB specifics live
//! in [`mongo`].

pub mod mongo;
pub mod procs;
pub mod producer;
pub mod proxy;
pub mod wrap;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

pub use cybexp_test_kit::{shared_dir, tool_or_skip, under_ci, wait_for};

pub fn shared_json(path: &str) -> Value {
    let file = shared_dir().join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap()
}

/// The `cases` array of a shared vector file.
pub fn vector_cases(path: &str) -> Vec<Value> {
    shared_json(path)["cases"].as_array().expect("cases").clone()
}

/// The real binary: `target/<profile>/cybexp-archive`, beside this test's
/// own executable. `cargo test --workspace` builds it (the host package has
/// integration tests, so cargo builds its binary with the same features);
/// building it from here with `cargo build` would resolve features without
/// the dev-dependencies and compile wasmtime a second time.
pub fn archiver_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/<test> → target/<profile>/cybexp-archive
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().and_then(Path::parent).unwrap().join("cybexp-archive");
        assert!(
            bin.exists(),
            "{} is missing: run these tests with `cargo test --workspace` (or `-p cybexp-archive -p cybexp-tests`)",
            bin.display()
        );
        bin
    })
}

/// The binary the benchmarks run: `CYBEXP_BENCH_BIN` (relative to the
/// workspace root, e.g. `target/release/cybexp-archive`), else the dev binary.
pub fn bench_bin() -> PathBuf {
    match std::env::var_os("CYBEXP_BENCH_BIN") {
        Some(path) => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path),
        None => archiver_bin().to_owned(),
    }
}

/// Which store an [`Archiver`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file in the data dir.
    Sqlite,
    /// Databases of the test's own on the MongoDB test server.
    Mongo,
}

/// A throwaway archiver: temp dir, the shared test key (copied 0600), a
/// config with test routes, and its store (embedded by default).
pub struct Archiver {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub backend: Backend,
    /// The MongoDB databases, for [`Backend::Mongo`].
    pub mongo: Option<mongo::TestDbs>,
}

impl Archiver {
    /// Routes every test needs, on top of the built-in ones.
    pub const TEST_ROUTES: &'static str = r#"
[typtags.generic-json]
parser = "json"
sub_type = "generic"

[typtags.hostile-loop]
parser = "hostile"
sub_type = "loop"

[typtags.hostile-alloc]
parser = "hostile"
sub_type = "alloc"

[typtags.hostile-panic]
parser = "hostile"
sub_type = "panic"

[typtags.hostile-output]
parser = "hostile"
sub_type = "giant-output"
"#;

    pub fn new() -> Archiver {
        Archiver::with_extra_config("")
    }

    /// `extra` is TOML appended to the generated config.
    pub fn with_extra_config(extra: &str) -> Archiver {
        Archiver::build(None, extra)
    }

    /// An archiver on `backend`; `None` when that backend is not available
    /// here (MongoDB without a server: skipped loudly, or failed under CI).
    pub fn on(backend: Backend, test: &str) -> Option<Archiver> {
        Archiver::on_with(backend, test, "")
    }

    /// [`Archiver::on`] with extra TOML appended to the config.
    pub fn on_with(backend: Backend, test: &str, extra: &str) -> Option<Archiver> {
        match backend {
            Backend::Sqlite => Some(Archiver::build(None, extra)),
            Backend::Mongo => mongo::TestDbs::for_test(test).map(|dbs| Archiver::build(Some(dbs), extra)),
        }
    }

    /// An archiver on databases of its own on the MongoDB server at `uri`.
    pub fn on_mongo_uri(uri: &str, extra: &str) -> Archiver {
        Archiver::build(Some(mongo::TestDbs::new(uri)), extra)
    }

    fn build(mongo: Option<mongo::TestDbs>, extra: &str) -> Archiver {
        let store = mongo.as_ref().map(mongo::TestDbs::store_toml).unwrap_or_default();
        let dir = tempfile::tempdir().unwrap();
        let key_src = shared_dir().join("vectors/envelope_rsa2048");
        let private = dir.path().join("priv.pem");
        std::fs::write(&private, std::fs::read(key_src.join("priv.pem")).unwrap()).unwrap();
        set_mode(&private, 0o600);
        let public = dir.path().join("pub.pem");
        std::fs::copy(key_src.join("pub.pem"), &public).unwrap();
        let hostile = Path::new(cybexp_sandbox::TEST_GUESTS_DIR).join("hostile.component.wasm");
        let config = dir.path().join("archiver.toml");
        let text = format!(
            r#"data_dir = {data:?}

[keys]
private = [{private:?}]
public = {public:?}

{store}
[pipeline]
workers = 2
batch_size = 64

[parsers.hostile]
file = {hostile:?}

[parsers.hostile.limits]
fuel = 100000000
deadline_ms = 3000
max_memory_bytes = 33554432
max_output_bytes = 4194304
{routes}
{extra}
"#,
            data = dir.path().join("data"),
            routes = Self::TEST_ROUTES,
        );
        std::fs::write(&config, text).unwrap();
        let backend = if mongo.is_some() { Backend::Mongo } else { Backend::Sqlite };
        Archiver { dir, config, backend, mongo }
    }

    /// Appends TOML (e.g. a `[typtags.X]` table) to the config.
    pub fn append_config(&self, toml: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(&self.config, format!("{text}\n{toml}\n")).unwrap();
    }

    /// The cache data lake this archiver uses, opened directly.
    pub fn lake(&self) -> Box<dyn cybexp_lake::LakeAdmin> {
        match &self.mongo {
            None => Box::new(self.store()),
            Some(dbs) => Box::new(dbs.open(Duration::from_secs(300)).0),
        }
    }

    /// The archive this archiver uses, opened directly.
    pub fn archive(&self) -> Box<dyn cybexp_lake::ArchiveStore> {
        match &self.mongo {
            None => Box::new(self.store()),
            Some(dbs) => Box::new(dbs.open(Duration::from_secs(300)).1),
        }
    }

    /// Adds many entries: one by one through the store on SQLite, in bulk
    /// (written as the API writes them) on MongoDB.
    pub fn submit_many(&self, entries: &[(cybexp_lake::NewEntry, Vec<u8>)]) {
        match &self.mongo {
            None => {
                let lake = self.store();
                for (entry, blob) in entries {
                    cybexp_lake::LakeAdmin::submit(&lake, entry, blob).unwrap();
                }
            }
            Some(dbs) => {
                dbs.bulk_submit(entries);
            }
        }
    }

    /// Removes every blob behind the archiver's back (entries stay).
    pub fn delete_blobs(&self) {
        match &self.mongo {
            None => {
                sqlite(&self.db_path()).execute("DELETE FROM blobs", []).unwrap();
            }
            Some(dbs) => {
                use cybexp_store_mongo::mongodb::bson::{Document, doc};
                for coll in ["fs.files", "fs.chunks"] {
                    dbs.cache().collection::<Document>(coll).delete_many(doc! {}).run().unwrap();
                }
            }
        }
    }

    /// Cuts every blob short behind the archiver's back.
    pub fn truncate_blobs(&self) {
        match &self.mongo {
            None => {
                sqlite(&self.db_path()).execute("UPDATE blobs SET bytes = substr(bytes, 1, 10)", []).unwrap();
            }
            Some(dbs) => {
                use cybexp_store_mongo::mongodb::bson::{Binary, Document, doc, spec::BinarySubtype};
                let short = Binary { subtype: BinarySubtype::Generic, bytes: b"0123456789".to_vec() };
                dbs.cache()
                    .collection::<Document>("fs.chunks")
                    .update_many(doc! {}, doc! { "$set": { "data": short } })
                    .run()
                    .unwrap();
            }
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir().join("archive.db")
    }

    /// The real binary with this archiver's config.
    pub fn command(&self) -> Command {
        self.command_wrapped(&[])
    }

    /// [`Self::command`] started through `wrapper` (the words before the
    /// binary, e.g. from [`wrap`]): a skewed clock, another host.
    pub fn command_wrapped(&self, wrapper: &[String]) -> Command {
        let mut cmd = match wrapper.split_first() {
            None => Command::new(archiver_bin()),
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(archiver_bin());
                cmd
            }
        };
        cmd.arg("--config").arg(&self.config).env("CYBEXP_LOG", "warn").env_remove("CYBEXP_ARCHIVE_CONFIG");
        // Each archiver's status socket is in its own data dir, even where systemd's variable is set.
        cmd.env_remove("RUNTIME_DIRECTORY");
        cmd
    }

    /// Runs the binary and returns its output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("running cybexp-archive")
    }

    /// Runs the binary and insists on exit 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "cybexp-archive {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The store, opened directly (the same file the binary uses).
    pub fn store(&self) -> cybexp_store_sqlite::SqliteStore {
        assert_eq!(self.backend, Backend::Sqlite, "store() is the embedded store; use lake() / archive()");
        std::fs::create_dir_all(self.data_dir()).unwrap();
        cybexp_store_sqlite::SqliteStore::open(self.db_path()).unwrap()
    }

    /// `dump cache` / `dump archive` parsed as JSON lines.
    pub fn dump(&self, what: &str) -> Vec<Value> {
        self.ok(&["dump", what]).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The shared test public key.
    pub fn public_key(&self) -> cybexp_keys::PublicKey {
        cybexp_keys::load_public_key(&self.dir.path().join("pub.pem")).unwrap()
    }
}

impl Default for Archiver {
    fn default() -> Self {
        Self::new()
    }
}

/// A `cybexp-archive run` child. Its log is appended to `daemon.log` in
/// the archiver's dir (a file: a pipe nobody reads until the end could fill
/// up and block the daemon). SIGKILLed if the test panics, so a failed test
/// leaves no daemon behind.
pub struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `run` with the log filter `log_filter` (e.g. `warn`, `info`).
    pub fn spawn(archiver: &Archiver, log_filter: &str) -> Daemon {
        Daemon::spawn_wrapped(archiver, &[], log_filter)
    }

    /// [`Self::spawn`] through `wrapper` (see [`Archiver::command_wrapped`]).
    pub fn spawn_wrapped(archiver: &Archiver, wrapper: &[String], log_filter: &str) -> Daemon {
        let mut command = archiver.command_wrapped(wrapper);
        command.env("CYBEXP_LOG", log_filter);
        Daemon::spawn_command(archiver, command)
    }

    /// Starts `run` with no `CYBEXP_LOG`: the config's `log` sets the filter.
    pub fn spawn_logging_as_configured(archiver: &Archiver) -> Daemon {
        let mut command = archiver.command();
        command.env_remove("CYBEXP_LOG");
        Daemon::spawn_command(archiver, command)
    }

    fn spawn_command(archiver: &Archiver, mut command: Command) -> Daemon {
        let log = archiver.dir.path().join("daemon.log");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let child = command.arg("run").stdout(Stdio::null()).stderr(file).spawn().unwrap();
        Daemon { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (e.g. `-TERM`).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill").args([signal, &self.pid().to_string()]).status().unwrap().success();
        assert!(ok, "kill {signal} {}", self.pid());
    }

    /// Sends `signal`, insists on a clean exit within 30 s, and returns the log.
    pub fn stop(mut self, signal: &str) -> String {
        self.signal(signal);
        let exit = self.wait(Duration::from_secs(30), signal);
        let log = self.log();
        assert!(exit.success(), "exit {exit} after {signal}:\n{log}");
        log
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn wait(&mut self, limit: Duration, after: &str) -> ExitStatus {
        wait_for(&format!("the daemon to stop after {after}"), limit, |_| self.child.try_wait().unwrap())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A new cache entry as the API would make it.
pub fn new_entry(typtag: &str, name: &str) -> cybexp_lake::NewEntry {
    cybexp_lake::NewEntry {
        name: name.into(),
        orgid: "org-test".into(),
        typtag: typtag.into(),
        timezone: "UTC".into(),
        timestamp: 1_700_000_000.0,
    }
}

/// A direct connection to an embedded store file, for tests that must break
/// it in ways the archiver's API does not allow (a vanished blob).
pub fn sqlite(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// One `#[test]` per backend for each test body
/// `fn name(backend: Backend, test: &str)`, in modules `sqlite` and `mongodb`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name($crate::Backend::Sqlite, stringify!($name));
            })*
        }
        mod mongodb {
            $(#[test]
            fn $name() {
                super::$name($crate::Backend::Mongo, stringify!($name));
            })*
        }
    };
}

/// Every entry processed once with exactly one `_ref`, and exactly one
/// stored document per entry: nothing lost, nothing stored twice.
pub fn assert_all_processed_once(archiver: &Archiver, n: usize) {
    let entries = archiver.dump("cache");
    assert_eq!(entries.len(), n);
    let mut hashes = std::collections::BTreeSet::new();
    for entry in &entries {
        assert_eq!(entry["processed"], true, "{entry}");
        assert_eq!(entry["skip"], false, "{entry}");
        let refs = entry["refs"].as_array().unwrap();
        assert_eq!(refs.len(), 1, "exactly one document per entry: {entry}");
        assert!(hashes.insert(refs[0].as_str().unwrap().to_owned()), "two entries share a hash: {entry}");
    }
    let archive = archiver.archive();
    assert_eq!(archive.count().unwrap(), n as u64, "no document stored twice, none lost");
    let stored: std::collections::BTreeSet<String> = archive.documents().unwrap().into_iter().map(|d| d.hash).collect();
    assert_eq!(stored, hashes);
}

/// `n` distinct cowrie events (the first vector with its offset changed),
/// sealed with the shared test key as the API seals them.
pub fn cowrie_entries(archiver: &Archiver, n: usize) -> Vec<(cybexp_lake::NewEntry, Vec<u8>)> {
    let key = archiver.public_key();
    let template = vector_cases("vectors/raw_documents.json")[0]["plaintext"].as_str().unwrap().to_owned();
    assert!(template.contains("\"offset\": 8187"));
    (0..n)
        .map(|i| {
            let plaintext = template.replace("\"offset\": 8187", &format!("\"offset\": {i}"));
            let blob = cybexp_keys::legacy::encrypt(&key, plaintext.as_bytes()).unwrap();
            let entry = cybexp_lake::NewEntry {
                timestamp: 1_700_000_000.0 + i as f64,
                ..new_entry("unr-honeypot", &format!("event-{i}"))
            };
            (entry, blob)
        })
        .collect()
}
