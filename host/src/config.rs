//! Configuration: a TOML file of our own, or a CYBEX-P `config.json` so an
//! existing deployment keeps its file. Everything has a default, so the
//! archiver runs with no file at all on the embedded store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cybexp_sandbox::Limits;
use serde::{Deserialize, Serialize};

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
    pub status: crate::telemetry::StatusConfig,
    /// The Prometheus listener; off unless `listen` is set.
    pub metrics: crate::telemetry::MetricsConfig,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Private key files, tried in this order for legacy blobs.
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
    Mongodb {
        /// Connection string for both (TLS, auth, replica set, timeouts go in
        /// it); `cache_uri` / `archive_uri` override it per side.
        #[serde(default)]
        uri: Option<String>,
        #[serde(default)]
        cache_uri: Option<String>,
        #[serde(default = "mongo_defaults::cache_db")]
        cache_db: String,
        #[serde(default = "mongo_defaults::cache_coll")]
        cache_coll: String,
        /// The GridFS bucket of the blobs.
        #[serde(default = "mongo_defaults::cache_bucket")]
        cache_bucket: String,
        #[serde(default)]
        archive_uri: Option<String>,
        #[serde(default = "mongo_defaults::archive_db")]
        archive_db: String,
        #[serde(default = "mongo_defaults::archive_coll")]
        archive_coll: String,
        /// Write concern `w` ("majority", a node count or a tag set); absent:
        /// the URI's, else the server's default.
        #[serde(default)]
        write_concern: Option<String>,
        /// Write concern `j`; absent: the URI's.
        #[serde(default)]
        journal: Option<bool>,
        /// Create the claim index on the entries collection if missing.
        #[serde(default = "mongo_defaults::yes")]
        create_claim_index: bool,
    },
}

mod mongo_defaults {
    pub fn cache_db() -> String {
        "cache_db".into()
    }
    pub fn cache_coll() -> String {
        "file_entries".into()
    }
    pub fn cache_bucket() -> String {
        "fs".into()
    }
    pub fn archive_db() -> String {
        "tahoe_db".into()
    }
    pub fn archive_coll() -> String {
        "instance".into()
    }
    pub fn yes() -> bool {
        true
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Sqlite { path: None }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Entries claimed per poll.
    pub batch_size: usize,
    /// Worker threads for decrypt + parse; 0 = one per core.
    pub workers: usize,
    /// How long a claim holds an entry; a crashed archiver's claims come
    /// back after this.
    pub lease_secs: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { batch_size: 256, workers: 0, lease_secs: 300 }
    }
}

impl PipelineConfig {
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 { self.workers } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParserConfig {
    /// A component file; absent for the built-in parsers.
    pub file: Option<PathBuf>,
    pub limits: Limits,
}

/// Which parser handles a typtag, and the raw `sub_type` it produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub parser: String,
    pub sub_type: String,
}

/// The routes every archiver has unless config says otherwise.
pub fn builtin_routes() -> BTreeMap<String, Route> {
    let route = |parser: &str, sub_type: &str| Route { parser: parser.into(), sub_type: sub_type.into() };
    BTreeMap::from([
        ("unr-honeypot".to_owned(), route("cowrie", "unr_honeypot")),
        ("openphish_feed".to_owned(), route("url-list", "openphish_feed")),
        ("phishtank_feed".to_owned(), route("url-list", "phishtank_feed")),
        ("email".to_owned(), route("email", "email")),
    ])
}

impl Config {
    /// Reads `path`: `.json` is a CYBEX-P `config.json`, anything else TOML.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            Config::from_cybexp_json(&text).with_context(|| format!("in CYBEX-P config {}", path.display()))
        } else {
            toml::from_str(&text).with_context(|| format!("in config {}", path.display()))
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
        let archive = section("archive")
            .or_else(|| section("tahoe"))
            .context("section `archive` (or `tahoe`) with `mongo_url` is missing")?;
        let field = |section: &serde_json::Value, name: &str, key: &str, default: String| -> Result<String> {
            match section.get(key) {
                None | Some(serde_json::Value::Null) => Ok(default),
                Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(other) => bail!("`{name}.{key}` must be a non-empty string, not {other}"),
            }
        };
        let archive_name =
            if json.get("archive").is_some_and(|s| s.get("mongo_url").is_some()) { "archive" } else { "tahoe" };
        Ok(Config {
            store: StoreConfig::Mongodb {
                uri: None,
                cache_uri: Some(field(cache, "cache", "mongo_url", String::new())?),
                cache_db: field(cache, "cache", "db", mongo_defaults::cache_db())?,
                cache_coll: field(cache, "cache", "coll", mongo_defaults::cache_coll())?,
                cache_bucket: field(cache, "cache", "bucket", mongo_defaults::cache_bucket())?,
                archive_uri: Some(field(archive, archive_name, "mongo_url", String::new())?),
                archive_db: field(archive, archive_name, "db", mongo_defaults::archive_db())?,
                archive_coll: field(archive, archive_name, "coll", mongo_defaults::archive_coll())?,
                write_concern: None,
                journal: None,
                create_claim_index: true,
            },
            ..Config::default()
        })
    }

    /// The typtag routes: built-in ones with config's on top.
    pub fn routes(&self) -> BTreeMap<String, Route> {
        let mut routes = builtin_routes();
        routes.extend(self.typtags.clone());
        routes
    }
}

/// The data directory: `--data-dir`, then config, then systemd's
/// `$STATE_DIRECTORY`, then `$XDG_DATA_HOME/cybexp-archive` (or
/// `~/.local/share/cybexp-archive`).
pub fn data_dir(cli: Option<&Path>, config: &Config) -> PathBuf {
    if let Some(dir) = cli.or(config.data_dir.as_deref()) {
        return dir.to_owned();
    }
    if let Some(state) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may list several, colon-separated; the first is ours.
        let first = state.to_string_lossy().split(':').next().unwrap_or_default().to_owned();
        return PathBuf::from(first);
    }
    let base = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")).unwrap_or_else(|| PathBuf::from("."))
    });
    base.join("cybexp-archive")
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
        let StoreConfig::Mongodb {
            uri,
            cache_uri,
            cache_db,
            cache_coll,
            cache_bucket,
            archive_uri,
            archive_db,
            archive_coll,
            ..
        } = config.store
        else {
            panic!("not the MongoDB store: {:?}", config.store)
        };
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
        let StoreConfig::Mongodb { cache_bucket, archive_uri, archive_db, archive_coll, cache_db, .. } = config.store
        else {
            panic!()
        };
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
        let StoreConfig::Mongodb { uri, cache_db, archive_coll, write_concern, create_claim_index, .. } = config.store
        else {
            panic!()
        };
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
}
