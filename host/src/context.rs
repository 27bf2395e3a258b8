//! From config to working parts: the stores, the keyring, the sandbox and
//! the pipeline, built the same way for every command.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use anyhow::{Context as _, Result, bail};
use cybexp_keys::{Keyring, Perms};
use cybexp_lake::{ArchiveStore, GroupWriter, LakeAdmin, SeparateStores};
use cybexp_sandbox::{ArtifactCache, CacheProblemKind, EngineOptions, Sandbox};
use cybexp_store_sqlite::SqliteStore;
use cybexp_telemetry::Probe;

use crate::config::{self, Config, StoreConfig};
use crate::pipeline::{Pipeline, Processor};

/// The two seams, as the configured backend provides them. The lake is its
/// admin face (tooling and the dashboard's queue depth); the pipeline gets
/// its hot-path face.
#[derive(Clone)]
pub struct Stores {
    pub lake: Arc<dyn LakeAdmin>,
    pub archive: Arc<dyn ArchiveStore>,
    /// How the pipeline writes what it finished to both.
    pub writer: Arc<dyn GroupWriter>,
}

/// The config and where the data dir is, resolved once per invocation.
pub struct Settings {
    pub config: Config,
    /// Where `config` came from (re-read on reload); `None`: the defaults.
    config_file: Option<PathBuf>,
    /// `--data-dir` or the config's; else resolved from the environment
    /// when a command needs it ([`Settings::data_dir`]).
    data_dir: Option<PathBuf>,
}

impl Settings {
    pub fn load(config_file: Option<&Path>, data_dir: Option<&Path>) -> Result<Settings> {
        let config = match config_file {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        Ok(Settings { config, config_file: config_file.map(Path::to_owned), data_dir: data_dir.map(Path::to_owned) })
    }

    /// The same files read again (a reload): the config file, and the
    /// same `--data-dir`.
    pub fn reread(&self) -> Result<Settings> {
        Settings::load(self.config_file.as_deref(), self.data_dir.as_deref())
    }

    /// A setup with this config and data dir (the demo's).
    pub fn new(config: Config, data_dir: PathBuf) -> Settings {
        Settings { config, config_file: None, data_dir: Some(data_dir) }
    }

    /// The data dir (see [`config::data_dir`]).
    pub fn data_dir(&self) -> Result<PathBuf> {
        config::data_dir(self.data_dir.as_deref(), &self.config)
    }

    pub fn keys_dir(&self) -> Result<PathBuf> {
        Ok(self.data_dir()?.join("keys"))
    }

    /// The status socket (see [`config::socket_path`]).
    pub fn socket_path(&self, cli: Option<&Path>) -> Result<PathBuf> {
        config::socket_path(cli, &self.config, || self.data_dir())
    }

    /// Opens the configured backend: the cache lake and the archive store.
    pub fn open_stores(&self) -> Result<Stores> {
        let lease = self.config.pipeline.lease();
        match &self.config.store {
            StoreConfig::Sqlite { path } => {
                let path = match path {
                    Some(path) => path.clone(),
                    None => self.data_dir()?.join("archive.db"),
                };
                if let Some(parent) = path.parent() {
                    create_private_dir(parent)?;
                }
                let store = Arc::new(SqliteStore::open(&path)?.with_lease(lease));
                Ok(Stores { lake: store.clone(), archive: store.clone(), writer: store })
            }
            StoreConfig::Mongodb(mongo) => {
                let (lake, archive) = mongo.open(lease)?;
                let (lake, archive) = (Arc::new(lake), Arc::new(archive));
                let writer = SeparateStores {
                    lake: lake.clone(),
                    archive: archive.clone(),
                    groups_in_flight: cybexp_store_mongo::WRITE_GROUPS_IN_FLIGHT,
                };
                Ok(Stores { lake, archive, writer: Arc::new(writer) })
            }
        }
    }

    /// The private keys: config's files and credentials, else the key that
    /// `keygen` put in the data dir.
    pub fn keyring(&self, allow_insecure: bool) -> Result<Keyring> {
        crate::hardening::protect_key_material();
        let keys = &self.config.keys;
        let perms =
            if allow_insecure || keys.allow_insecure_permissions { Perms::AllowInsecure } else { Perms::Strict };
        let mut ring = cybexp_keys::load_keyring(&keys.private, perms)?;
        for name in &keys.credentials {
            ring.push(cybexp_keys::load_credential(name, perms)?);
        }
        if ring.is_empty() {
            let default = self.keys_dir()?.join("priv.pem");
            if !default.exists() {
                bail!(
                    "no private key configured and none at {}: run `cybexp-archive keygen` or set keys.private",
                    default.display()
                );
            }
            ring.push(cybexp_keys::load_private_key(&default, perms)?);
        }
        for key in ring.keys() {
            // `bits` as before for RSA keys (log consumers may read it); `kind` for every key.
            match key.bits() {
                Some(bits) => {
                    tracing::info!(key_id = %key.fingerprint(), kind = %key.kind(), bits, "private key loaded")
                }
                None => tracing::info!(key_id = %key.fingerprint(), kind = %key.kind(), "private key loaded"),
            }
        }
        Ok(ring)
    }

    pub fn public_key(&self) -> Result<cybexp_keys::PublicKey> {
        let path = match &self.config.keys.public {
            Some(path) => path.clone(),
            None => self.keys_dir()?.join("pub.pem"),
        };
        Ok(cybexp_keys::load_public_key(&path)?)
    }

    /// Built-in parsers (with config's limits) plus the configured files,
    /// through the artifact cache unless it is off or unusable. The first
    /// problem [`Settings::load_sandbox`] finds fails it.
    pub fn sandbox(&self) -> Result<Sandbox> {
        let (sandbox, problems) = self.load_sandbox()?;
        match problems.into_iter().next() {
            Some(problem) => Err(problem.into()),
            None => Ok(sandbox),
        }
    }

    /// The sandbox with every parser that loaded, and each problem: a
    /// configured component that does not load (its file, its budgets, its
    /// world), a route to a parser that is not loaded. `check-config` lists
    /// them all; [`Settings::sandbox`] refuses the first. `Err` only when
    /// the engine or a built-in parser cannot be had.
    pub fn load_sandbox(&self) -> Result<(Sandbox, Vec<SandboxProblem>)> {
        let parsers = &self.config.parsers;
        // The instance pool grows with the workers, so no worker ever waits
        // for a slot (an exhausted pool would only cost retries).
        let mut sandbox = Sandbox::new(EngineOptions::for_workers(self.config.pipeline.worker_count()))?;
        sandbox.set_cache(self.artifact_cache());
        sandbox.load_builtin_parsers(|name| parsers.get(name).map(|p| p.limits).unwrap_or_default())?;
        let mut problems = Vec::new();
        for (name, parser) in parsers {
            if let Some(file) = &parser.file
                && let Err(e) = sandbox.load_file(name, file, parser.limits)
            {
                problems.push(SandboxProblem::Parser(e));
            }
        }
        log_cache_outcome(&sandbox);
        for (typtag, route) in self.config.routes() {
            if sandbox.parser(&route.parser).is_none() {
                problems.push(SandboxProblem::Route { typtag, parser: route.parser });
            }
        }
        Ok((sandbox, problems))
    }

    /// The artifact cache, if on and usable: a cache that cannot be had is
    /// a warning and a compile, never a failed start.
    fn artifact_cache(&self) -> Option<ArtifactCache> {
        if !self.config.sandbox.cache {
            return None;
        }
        let Some(dir) = config::cache_dir(&self.config) else {
            tracing::warn!(
                "no directory for the parser artifact cache (no CACHE_DIRECTORY, XDG_CACHE_HOME or absolute HOME): \
                 compiling the parsers; set [sandbox] cache_dir, or cache = false"
            );
            return None;
        };
        match ArtifactCache::open(&dir) {
            Ok(cache) => Some(cache),
            Err(error) => {
                tracing::warn!(%error, "not using the parser artifact cache: compiling the parsers");
                None
            }
        }
    }

    /// Keys, parsers and routes, each checked: every key loads, every
    /// component compiles and exports the parser world, every route names
    /// a loaded parser. What a reload swaps.
    pub fn processor(&self) -> Result<Processor> {
        Ok(Processor { keyring: self.keyring(false)?, sandbox: self.sandbox()?, routes: self.config.routes() })
    }

    /// The pipeline over `stores`, with telemetry off (the daemon hands it a
    /// probe once its telemetry runs).
    pub fn pipeline(&self, stores: &Stores, shutdown: Arc<AtomicBool>) -> Result<Pipeline> {
        Ok(Pipeline {
            lake: stores.lake.clone(),
            archive: stores.archive.clone(),
            writer: stores.writer.clone(),
            processor: RwLock::new(Arc::new(self.processor()?)),
            workers: self.config.pipeline.worker_count(),
            batch_size: self.config.pipeline.batch_size.max(1),
            limits: self.config.pipeline.limits(),
            worker_id: cybexp_lake::Owner::this_process().to_string(),
            heartbeat: self.config.pipeline.lease() / 3,
            shutdown,
            probe: Probe::disabled(),
            stages: None,
            liveness: Arc::default(),
        })
    }
}

/// Why a configured parser or route cannot be used (see
/// [`Settings::load_sandbox`]).
#[derive(Debug, thiserror::Error)]
pub enum SandboxProblem {
    /// A component from a file that did not load (missing, not a parser,
    /// budgets above the engine's).
    #[error(transparent)]
    Parser(#[from] cybexp_sandbox::LoadError),
    /// A route to a parser that is not loaded.
    #[error("typtag {typtag:?} routes to parser {parser:?}, which is not loaded")]
    Route { typtag: String, parser: String },
}

/// What the artifact cache did, for the log: a count, and a warning for
/// each artifact that was damaged or could not be written.
fn log_cache_outcome(sandbox: &Sandbox) {
    let Some(cache) = sandbox.cache() else { return };
    for problem in sandbox.cache_problems() {
        match problem.kind {
            CacheProblemKind::Rejected => tracing::warn!(%problem, "parser artifact recompiled"),
            CacheProblemKind::WriteFailed => tracing::warn!(%problem, "parser artifact not cached"),
        }
    }
    let stats = sandbox.cache_stats();
    tracing::debug!(
        dir = %cache.dir().display(),
        compiled = stats.compiled,
        cache_hits = stats.cache_hits,
        rejected = stats.rejected,
        write_failures = stats.write_failures,
        "parser artifact cache"
    );
}

/// Creates a directory (and parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}
