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

    /// Maps the `cache`/`archive` sections of a CYBEX-P `config.json`.
    pub fn from_cybexp_json(text: &str) -> Result<Config> {
        let json: serde_json::Value = serde_json::from_str(text).context("not valid JSON")?;
        for section in ["cache", "archive"] {
            if json.get(section).and_then(|s| s.get("mongo_url")).is_none() {
                bail!("section `{section}` with `mongo_url` is missing");
            }
        }
        bail!(
            "this CYBEX-P config names MongoDB stores, and this build has only the embedded SQLite store; \
             use a TOML config with [store] backend = \"sqlite\""
        )
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
    fn cybexp_json_needs_its_sections() {
        let err = Config::from_cybexp_json(r#"{"cache": {}}"#).unwrap_err();
        assert!(format!("{err:#}").contains("cache"), "{err:#}");
    }
}
