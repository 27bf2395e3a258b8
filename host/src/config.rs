//! Configuration: a TOML file of our own, or a CYBEX-P `config.json` so an
//! existing deployment keeps its file. Everything has a default, so the
//! archiver runs with no file at all on the embedded store. Also where
//! things live when the config does not say: the data dir and the status
//! socket.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cybexp_sandbox::Limits;
use cybexp_store_mongo::MongoConfig;
use serde::{Deserialize, Serialize};

pub use crate::pipeline::{Route, builtin_routes};
// Each section's type lives with what it configures.
pub use cybexp_sandbox::SandboxConfig;
pub use cybexp_telemetry::config::{MetricsConfig, StatusConfig};

/// Environment variable naming the config file when `--config` is absent.
pub const CONFIG_ENV: &str = "CYBEXP_ARCHIVE_CONFIG";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store and the default keys live.
    pub data_dir: Option<PathBuf>,
    pub keys: KeysConfig,
    pub store: StoreConfig,
    pub pipeline: PipelineConfig,
    /// Limits for built-in parsers, and extra parser components from files.
    pub parsers: BTreeMap<String, ParserConfig>,
    /// typtag → parser and sub_type; merged over the built-in routes.
    pub typtags: BTreeMap<String, Route>,
    /// The status socket that `top` and `status` read.
    pub status: StatusConfig,
    /// The Prometheus listener; off unless `listen` is set.
    pub metrics: MetricsConfig,
    /// The parser sandbox's compiled-artifact cache.
    pub sandbox: SandboxConfig,
    /// `text` or `json`; `--log-format` wins.
    pub log_format: Option<LogFormat>,
    /// The log filter (tracing's EnvFilter syntax: `info`,
    /// `warn,cybexp_archive=debug`); `--log` and `CYBEXP_LOG` win and pin
    /// it. SIGHUP puts a change in effect.
    pub log: Option<String>,
}

/// How the log on stderr is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Private key files, RSA and X-Wing in any mix; the RSA ones are tried
    /// in this order for legacy blobs.
    pub private: Vec<PathBuf>,
    /// Names of systemd credentials (`$CREDENTIALS_DIRECTORY/NAME`) holding
    /// private keys, loaded after `private`.
    pub credentials: Vec<String>,
    /// The public key `submit` encrypts with.
    pub public: Option<PathBuf>,
    /// Accept key files readable by group or others (not recommended).
    pub allow_insecure_permissions: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
pub enum StoreConfig {
    /// One SQLite file holding both the lake and the archive.
    Sqlite {
        /// Defaults to `<data_dir>/archive.db`.
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// MongoDB: the collections a CYBEX-P deployment already has (the API's
    /// `cache_db.file_entries` + GridFS, analytics' `tahoe_db.instance`).
    /// The store crate owns its settings and their defaults.
    Mongodb(Box<MongoConfig>),
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Sqlite { path: None }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// The least a claim asks for; claims grow when they take long (a
    /// lake across the network), up to half of `max_in_flight`.
    pub batch_size: usize,
    /// Worker threads for decrypt + parse; 0 = one per core.
    pub workers: usize,
    /// How long a claim holds an entry unless renewed. A live archiver
    /// renews the leases of what it holds every third of this; a crashed
    /// one's claims come back after it (at once on the same host).
    pub lease_secs: u64,
    /// Entries claimed and not yet written at once; 0 = 16 batches.
    pub max_in_flight: usize,
    /// MiB of blobs read and not yet written at once.
    pub max_in_flight_mib: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_size: 256,
            workers: 0,
            lease_secs: cybexp_lake::DEFAULT_LEASE.as_secs(),
            max_in_flight: 0,
            max_in_flight_mib: 256,
        }
    }
}

impl PipelineConfig {
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 { self.workers } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) }
    }

    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs.max(1))
    }

    /// What may be in flight (see [`crate::pipeline::FlowLimits`]).
    pub fn limits(&self) -> crate::pipeline::FlowLimits {
        let default = crate::pipeline::FlowLimits::for_batch_size(self.batch_size);
        crate::pipeline::FlowLimits {
            max_entries: if self.max_in_flight > 0 {
                self.max_in_flight.max(self.batch_size)
            } else {
                default.max_entries
            },
            max_bytes: self.max_in_flight_mib.max(1) << 20,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParserConfig {
    /// A component file; absent for the built-in parsers.
    pub file: Option<PathBuf>,
    pub limits: Limits,
}

impl Config {
    /// Reads `path`: `.json` is a CYBEX-P `config.json`, anything else TOML.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            Config::from_cybexp_json(&text).with_context(|| format!("in CYBEX-P config {}", path.display()))
        } else {
            let config: Config = toml::from_str(&text).with_context(|| format!("in config {}", path.display()))?;
            // Checked here, so a reload with a bad filter is refused like
            // any config that does not load.
            if let Some(filter) = &config.log {
                tracing_subscriber::EnvFilter::try_new(filter)
                    .with_context(|| format!("in config {}: `log = {filter:?}` is not a log filter", path.display()))?;
            }
            Ok(config)
        }
    }

    /// Maps a CYBEX-P `config.json` to the MongoDB store: `cache` is the
    /// data lake (`mongo_url`, `db`, `coll`, optional `bucket`), `archive`
    /// (or, without one, `tahoe`, as the API's config names it) the archive.
    /// Everything else keeps its default.
    pub fn from_cybexp_json(text: &str) -> Result<Config> {
        let json: serde_json::Value = serde_json::from_str(text).context("not valid JSON")?;
        let section = |name: &str| json.get(name).filter(|s| s.get("mongo_url").is_some());
        let cache = section("cache").context("section `cache` with `mongo_url` is missing")?;
        let (archive_name, archive) = match section("archive") {
            Some(archive) => ("archive", archive),
            None => ("tahoe", section("tahoe").context("section `archive` (or `tahoe`) with `mongo_url` is missing")?),
        };
        let field = |section: &serde_json::Value, name: &str, key: &str, default: &str| -> Result<String> {
            match section.get(key) {
                None | Some(serde_json::Value::Null) => Ok(default.to_owned()),
                Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(other) => bail!("`{name}.{key}` must be a non-empty string, not {other}"),
            }
        };
        let defaults = MongoConfig::default();
        let mongo = MongoConfig {
            cache_uri: Some(field(cache, "cache", "mongo_url", "")?),
            cache_db: field(cache, "cache", "db", &defaults.cache_db)?,
            cache_coll: field(cache, "cache", "coll", &defaults.cache_coll)?,
            cache_bucket: field(cache, "cache", "bucket", &defaults.cache_bucket)?,
            archive_uri: Some(field(archive, archive_name, "mongo_url", "")?),
            archive_db: field(archive, archive_name, "db", &defaults.archive_db)?,
            archive_coll: field(archive, archive_name, "coll", &defaults.archive_coll)?,
            ..defaults.clone()
        };
        Ok(Config { store: StoreConfig::Mongodb(Box::new(mongo)), ..Config::default() })
    }

    /// The typtag routes: built-in ones with config's on top.
    pub fn routes(&self) -> BTreeMap<String, Route> {
        let mut routes = builtin_routes();
        routes.extend(self.typtags.clone());
        routes
    }
}

/// The data directory: `--data-dir`, then config, then systemd's
/// `$STATE_DIRECTORY`, then `$XDG_DATA_HOME/cybexp-archive`, then
/// `~/.local/share/cybexp-archive`. Empty or relative environment values
/// are ignored (as the XDG rules say), so the store never lands relative to
/// whatever the working directory happens to be.
pub fn data_dir(cli: Option<&Path>, config: &Config) -> Result<PathBuf> {
    data_dir_from(cli, config, |name| std::env::var_os(name))
}

fn data_dir_from(cli: Option<&Path>, config: &Config, env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    if let Some(dir) = cli.or(config.data_dir.as_deref()) {
        return Ok(dir.to_owned());
    }
    if let Some(dir) = systemd_directory("STATE_DIRECTORY", env("STATE_DIRECTORY")) {
        return Ok(dir);
    }
    if let Some(base) = absolute_dir("XDG_DATA_HOME", env("XDG_DATA_HOME")) {
        return Ok(base.join("cybexp-archive"));
    }
    match absolute_dir("HOME", env("HOME")) {
        Some(home) => Ok(home.join(".local/share/cybexp-archive")),
        None => bail!(
            "no data directory: HOME is unset or not an absolute path; \
             pass --data-dir DIR or set data_dir in the config"
        ),
    }
}

/// The artifact cache directory, `None` when `[sandbox] cache = false` or
/// nothing resolves: config's `cache_dir`, then systemd's
/// `$CACHE_DIRECTORY`, then `$XDG_CACHE_HOME/cybexp-archive`, then
/// `~/.cache/cybexp-archive`. Empty or relative environment values are
/// ignored, as for the data dir.
pub fn cache_dir(config: &Config) -> Option<PathBuf> {
    cache_dir_from(config, |name| std::env::var_os(name)).map(|(dir, source)| real_cache_dir(dir, source))
}

/// With DynamicUser=, systemd's `/var/cache/NAME` is a symlink (made by
/// systemd, in root's `/var/cache`) to `/var/cache/private/NAME`. The cache
/// refuses a symlink, so for `$CACHE_DIRECTORY` take systemd's word and use
/// the directory it points to. Any other symlink stays refused.
fn real_cache_dir(dir: PathBuf, source: &str) -> PathBuf {
    if source == "CACHE_DIRECTORY" && dir.is_symlink() {
        return std::fs::canonicalize(&dir).unwrap_or(dir);
    }
    dir
}

/// The cache directory and what named it (`config` or the variable).
fn cache_dir_from(config: &Config, env: impl Fn(&str) -> Option<OsString>) -> Option<(PathBuf, &'static str)> {
    if !config.sandbox.cache {
        return None;
    }
    if let Some(dir) = &config.sandbox.cache_dir {
        return Some((dir.clone(), "config"));
    }
    if let Some(dir) = systemd_directory("CACHE_DIRECTORY", env("CACHE_DIRECTORY")) {
        return Some((dir, "CACHE_DIRECTORY"));
    }
    if let Some(base) = absolute_dir("XDG_CACHE_HOME", env("XDG_CACHE_HOME")) {
        return Some((base.join("cybexp-archive"), "XDG_CACHE_HOME"));
    }
    absolute_dir("HOME", env("HOME")).map(|home| (home.join(".cache/cybexp-archive"), "HOME"))
}

/// The first directory of a systemd `$X_DIRECTORY` variable (it may list
/// several, colon-separated), if it is absolute.
fn systemd_directory(name: &str, value: Option<OsString>) -> Option<PathBuf> {
    let value = value?;
    let first = value.to_string_lossy().split(':').next().unwrap_or_default().to_owned();
    absolute_dir(name, Some(first.into()))
}

/// `value` as a directory if it is an absolute path; an empty or relative
/// one is ignored, with a warning when it was set at all.
fn absolute_dir(name: &str, value: Option<OsString>) -> Option<PathBuf> {
    let path = PathBuf::from(value?);
    if path.is_absolute() {
        return Some(path);
    }
    if !path.as_os_str().is_empty() {
        tracing::warn!(variable = name, value = %path.display(), "ignoring a relative path in the environment");
    }
    None
}

/// The status socket's path: `--socket`, else config, else
/// `$RUNTIME_DIRECTORY/status.sock` (systemd), else `<data_dir>/status.sock`.
pub fn socket_path(cli: Option<&Path>, config: &Config, data_dir: impl FnOnce() -> Result<PathBuf>) -> Result<PathBuf> {
    socket_path_from(cli, config, std::env::var_os("RUNTIME_DIRECTORY"), data_dir)
}

fn socket_path_from(
    cli: Option<&Path>,
    config: &Config,
    runtime_directory: Option<OsString>,
    data_dir: impl FnOnce() -> Result<PathBuf>,
) -> Result<PathBuf> {
    if let Some(path) = cli.or(config.status.socket.as_deref()) {
        return Ok(path.to_owned());
    }
    if let Some(runtime) = systemd_directory("RUNTIME_DIRECTORY", runtime_directory) {
        return Ok(runtime.join("status.sock"));
    }
    Ok(data_dir()?.join("status.sock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_is_all_defaults() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.routes()["unr-honeypot"].sub_type, "unr_honeypot");
    }

    #[test]
    fn toml_overrides_routes_and_limits() {
        let config: Config = toml::from_str(
            r#"
            [typtags.misp]
            parser = "json"
            sub_type = "misp_event"

            [parsers.cowrie.limits]
            fuel = 1000
            "#,
        )
        .unwrap();
        assert_eq!(config.routes()["misp"], Route { parser: "json".into(), sub_type: "misp_event".into() });
        assert_eq!(config.parsers["cowrie"].limits.fuel, 1000);
        assert_eq!(config.parsers["cowrie"].limits.deadline_ms, Limits::default().deadline_ms);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("[pipeline]\nbatchsize = 3\n").unwrap_err();
        assert!(err.to_string().contains("batchsize"), "{err}");
    }

    #[test]
    fn shipped_example_config_parses() {
        let config: Config = toml::from_str(include_str!("../../dist/archiver.toml")).unwrap();
        assert_eq!(config.keys.credentials, ["archive-key.pem"]);
        assert_eq!(config.pipeline, PipelineConfig::default());
        assert_eq!(config.sandbox, SandboxConfig::default());
    }

    #[test]
    fn cybexp_json_maps_to_the_mongodb_store() {
        // The API's own config.json: `cache` and `tahoe`.
        let config = Config::from_cybexp_json(
            r#"{"api": {"url": "http://api:5001/"},
                "cache": {"mongo_url": "mongodb://cache-host/", "db": "cache_db", "coll": "file_entries"},
                "tahoe": {"mongo_url": "mongodb://m1,m2/?replicaSet=rs0", "db": "tahoe_db", "coll": "instance"}}"#,
        )
        .unwrap();
        let StoreConfig::Mongodb(mongo) = config.store else { panic!("not the MongoDB store: {:?}", config.store) };
        let MongoConfig {
            uri,
            cache_uri,
            cache_db,
            cache_coll,
            cache_bucket,
            archive_uri,
            archive_db,
            archive_coll,
            ..
        } = *mongo;
        assert_eq!(uri, None);
        assert_eq!(cache_uri.as_deref(), Some("mongodb://cache-host/"));
        assert_eq!((cache_db.as_str(), cache_coll.as_str(), cache_bucket.as_str()), ("cache_db", "file_entries", "fs"));
        assert_eq!(archive_uri.as_deref(), Some("mongodb://m1,m2/?replicaSet=rs0"));
        assert_eq!((archive_db.as_str(), archive_coll.as_str()), ("tahoe_db", "instance"));
        assert_eq!(config.pipeline, PipelineConfig::default());

        // An `archive` section wins over `tahoe`; names default.
        let config = Config::from_cybexp_json(
            r#"{"cache": {"mongo_url": "mongodb://c/", "bucket": "blobs"},
                "archive": {"mongo_url": "mongodb://a/", "db": "arch"},
                "tahoe": {"mongo_url": "mongodb://t/"}}"#,
        )
        .unwrap();
        let StoreConfig::Mongodb(mongo) = config.store else { panic!() };
        let MongoConfig { cache_bucket, archive_uri, archive_db, archive_coll, cache_db, .. } = *mongo;
        assert_eq!((cache_bucket.as_str(), cache_db.as_str()), ("blobs", "cache_db"));
        assert_eq!(
            (archive_uri.as_deref(), archive_db.as_str(), archive_coll.as_str()),
            (Some("mongodb://a/"), "arch", "instance")
        );

        let err = Config::from_cybexp_json(
            r#"{"cache": {"mongo_url": "mongodb://c/", "db": 3}, "tahoe": {"mongo_url": "x"}}"#,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("cache.db"), "{err:#}");
        let err = Config::from_cybexp_json(r#"{"cache": {"mongo_url": "mongodb://c/"}}"#).unwrap_err();
        assert!(format!("{err:#}").contains("tahoe"), "{err:#}");
    }

    #[test]
    fn toml_mongodb_store_with_defaults() {
        let config: Config =
            toml::from_str("[store]\nbackend = \"mongodb\"\nuri = \"mongodb://h/\"\nwrite_concern = \"majority\"\n")
                .unwrap();
        let StoreConfig::Mongodb(mongo) = config.store else { panic!() };
        let MongoConfig { uri, cache_db, archive_coll, write_concern, create_claim_index, .. } = *mongo;
        assert_eq!(
            (uri.as_deref(), cache_db.as_str(), archive_coll.as_str()),
            (Some("mongodb://h/"), "cache_db", "instance")
        );
        assert_eq!((write_concern.as_deref(), create_claim_index), (Some("majority"), true));
        assert!(toml::from_str::<Config>("[store]\nbackend = \"mongodb\"\nurl = \"x\"\n").is_err());
    }

    #[test]
    fn cybexp_json_needs_its_sections() {
        let err = Config::from_cybexp_json(r#"{"cache": {}}"#).unwrap_err();
        assert!(format!("{err:#}").contains("cache"), "{err:#}");
    }

    #[test]
    fn status_and_metrics_config() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config.status, StatusConfig::default());
        assert_eq!(config.status.mode, 0o660);
        assert_eq!(config.metrics.listen, None, "metrics are off by default");
        let config: Config = toml::from_str(
            "[status]\nsocket = \"/run/x/status.sock\"\nmode = 0o600\ngroup = \"ops\"\n\
             [metrics]\nlisten = \"127.0.0.1:9464\"\n",
        )
        .unwrap();
        assert_eq!(config.status.mode, 0o600);
        assert_eq!(config.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
        let config: Config = toml::from_str("[status]\nmode = \"0640\"\n").unwrap();
        assert_eq!(config.status.mode, 0o640);
        let err = toml::from_str::<Config>("[status]\nmode = 660\n").unwrap_err();
        assert!(err.to_string().contains("decimal"), "{err}");
        assert!(toml::from_str::<Config>("[status]\nmode = \"rw\"\n").is_err());
        assert!(toml::from_str::<Config>("[metrics]\nport = 1\n").is_err());
    }

    #[test]
    fn shipped_example_config_names_the_runtime_socket() {
        let config: Config = toml::from_str(include_str!("../../dist/archiver.toml")).unwrap();
        assert_eq!(config.status.socket.as_deref(), Some(Path::new("/run/cybexp-archive/status.sock")));
        assert_eq!(config.status.mode, 0o660);
        assert_eq!(config.metrics, MetricsConfig::default(), "metrics stay off in the example");
    }

    #[test]
    fn socket_path_precedence() {
        let mut config = Config::default();
        let data = || Ok(PathBuf::from("/data"));
        let cli = Some(Path::new("/cli.sock"));
        assert_eq!(socket_path_from(cli, &config, None, data).unwrap(), Path::new("/cli.sock"));
        assert_eq!(socket_path_from(None, &config, None, data).unwrap(), Path::new("/data/status.sock"));
        let runtime = Some(OsString::from("/run/a:/run/b"));
        assert_eq!(socket_path_from(None, &config, runtime.clone(), data).unwrap(), Path::new("/run/a/status.sock"));
        assert_eq!(
            socket_path_from(None, &config, Some("relative".into()), data).unwrap(),
            Path::new("/data/status.sock"),
            "a relative RUNTIME_DIRECTORY is ignored"
        );
        config.status.socket = Some("/conf.sock".into());
        assert_eq!(socket_path_from(None, &config, runtime, data).unwrap(), Path::new("/conf.sock"));
        assert_eq!(socket_path_from(cli, &config, None, data).unwrap(), Path::new("/cli.sock"));
    }

    #[test]
    fn sandbox_section_defaults_and_refuses_unknown_keys() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config.sandbox, SandboxConfig { cache: true, cache_dir: None });
        let config: Config = toml::from_str("[sandbox]\ncache = false\n").unwrap();
        assert!(!config.sandbox.cache);
        let config: Config = toml::from_str("[sandbox]\ncache_dir = \"/var/cache/x\"\n").unwrap();
        assert_eq!(config.sandbox, SandboxConfig { cache: true, cache_dir: Some("/var/cache/x".into()) });
        let err = toml::from_str::<Config>("[sandbox]\ncache_directory = \"/x\"\n").unwrap_err();
        assert!(err.to_string().contains("cache_directory"), "{err}");
    }

    #[test]
    fn cache_dir_precedence_ignores_empty_and_relative_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
        };
        let config = Config::default();
        let dir = |vars| cache_dir_from(&config, env(vars));
        let found = |path: &str, source| Some((PathBuf::from(path), source));
        let all = &[("CACHE_DIRECTORY", "/var/cache/a:/var/cache/b"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(dir(all), found("/var/cache/a", "CACHE_DIRECTORY"), "systemd's first directory");
        assert_eq!(dir(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]), found("/x/cybexp-archive", "XDG_CACHE_HOME"));
        assert_eq!(dir(&[("HOME", "/h")]), found("/h/.cache/cybexp-archive", "HOME"));
        assert_eq!(
            dir(&[("CACHE_DIRECTORY", ""), ("XDG_CACHE_HOME", "rel"), ("HOME", "/h")]),
            found("/h/.cache/cybexp-archive", "HOME"),
            "empty and relative values are ignored"
        );
        assert_eq!(
            dir(&[("CACHE_DIRECTORY", "cache:/var/cache/b"), ("XDG_CACHE_HOME", "")]),
            None,
            "a relative first CACHE_DIRECTORY entry is not used, nor an empty XDG_CACHE_HOME"
        );
        assert_eq!(dir(&[]), None, "nothing resolvable: no cache, not an error");
        assert_eq!(dir(&[("HOME", "relative/home")]), None, "a relative HOME is not used");

        let configured = Config {
            sandbox: SandboxConfig { cache: true, cache_dir: Some("/conf/cache".into()) },
            ..Config::default()
        };
        assert_eq!(cache_dir_from(&configured, env(all)), found("/conf/cache", "config"));
        let off = Config {
            sandbox: SandboxConfig { cache: false, cache_dir: Some("/conf/cache".into()) },
            ..Config::default()
        };
        assert_eq!(cache_dir_from(&off, env(all)), None, "cache = false wins over everything");
        assert_eq!(cache_dir(&off), None);
    }

    #[test]
    fn a_log_filter_that_does_not_parse_fails_the_load() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.toml");
        std::fs::write(&path, "log = \"warn,cybexp_archive=debug\"\n").unwrap();
        assert_eq!(Config::load(&path).unwrap().log.as_deref(), Some("warn,cybexp_archive=debug"));
        std::fs::write(&path, "log = \"cybexp_archive=loud\"\n").unwrap();
        let error = format!("{:#}", Config::load(&path).unwrap_err());
        assert!(error.contains("is not a log filter"), "{error}");
    }

    #[test]
    fn systemds_cache_directory_symlink_is_resolved_and_no_other() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("private/cybexp-archive");
        std::fs::create_dir_all(&real).unwrap();
        let link = tmp.path().join("cybexp-archive");
        std::os::unix::fs::symlink("private/cybexp-archive", &link).unwrap();
        assert_eq!(real_cache_dir(link.clone(), "CACHE_DIRECTORY"), real.canonicalize().unwrap());
        assert_eq!(real_cache_dir(link.clone(), "config"), link, "left for the cache to refuse");
        assert_eq!(real_cache_dir(link.clone(), "HOME"), link);
        assert_eq!(real_cache_dir(real.clone(), "CACHE_DIRECTORY"), real);
    }

    #[test]
    fn data_dir_precedence_ignores_empty_and_relative_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
        };
        let config = Config::default();
        let dir = |vars| data_dir_from(None, &config, env(vars));
        assert_eq!(
            data_dir_from(Some(Path::new("/cli")), &config, env(&[("STATE_DIRECTORY", "/s")])).unwrap(),
            Path::new("/cli")
        );
        let with_config = Config { data_dir: Some("/conf".into()), ..Config::default() };
        assert_eq!(data_dir_from(None, &with_config, env(&[("STATE_DIRECTORY", "/s")])).unwrap(), Path::new("/conf"));
        assert_eq!(dir(&[("STATE_DIRECTORY", "/var/lib/a:/var/lib/b")]).unwrap(), Path::new("/var/lib/a"));
        assert_eq!(dir(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]).unwrap(), Path::new("/x/cybexp-archive"));
        assert_eq!(dir(&[("HOME", "/h")]).unwrap(), Path::new("/h/.local/share/cybexp-archive"));
        assert_eq!(
            dir(&[("STATE_DIRECTORY", ""), ("XDG_DATA_HOME", "rel"), ("HOME", "/h")]).unwrap(),
            Path::new("/h/.local/share/cybexp-archive"),
            "empty and relative values are ignored"
        );
        assert!(dir(&[("STATE_DIRECTORY", "state")]).is_err(), "a relative STATE_DIRECTORY is not used");
        let err = dir(&[]).unwrap_err().to_string();
        assert!(err.contains("HOME is unset") && err.contains("--data-dir"), "{err}");
        assert!(dir(&[("HOME", "relative/home")]).is_err(), "a relative HOME is not used");
    }
}
