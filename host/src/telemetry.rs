//! Thin glue between the archiver and its telemetry (`cybexp-telemetry`):
//! the hooks the pipeline calls, the daemon's status socket and metrics
//! listener, and the `top` and `status` commands (`cybexp-tui`).
//!
//! The pipeline's hooks go through one process-wide [`Probe`], installed by
//! `run` only: elsewhere (`once`, `demo`, tests) every hook is a single
//! atomic load that finds nothing. They never block, never take a lock and
//! never touch a database.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cybexp_lake::{CacheEntry, ErrorCause, Outcome};
use cybexp_sandbox::CallStats;
use cybexp_status::{Identity, ParserIdentity};
use cybexp_telemetry::prometheus::MetricsServer;
use cybexp_telemetry::server::{SocketOptions, StatusServer};
use cybexp_telemetry::{Busy, Options, Probe, QueueDepth, Setup, Telemetry};
use serde::{Deserialize, Serialize};

use crate::commands::Context;
use crate::config::Config;
use crate::pipeline::{EntryResult, LoopState, Pipeline, Processor, Step};

/// `[status]` in the config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusConfig {
    /// Serve the status socket while `run` runs.
    pub enabled: bool,
    /// Default: `$RUNTIME_DIRECTORY/status.sock` under systemd, else
    /// `<data_dir>/status.sock`.
    pub socket: Option<PathBuf>,
    /// Permission bits of the socket: `0o660` (owner and group may connect).
    /// TOML takes `0o660`; a string of octal digits (`"0660"`) works too.
    #[serde(deserialize_with = "deserialize_mode")]
    pub mode: u32,
    /// Give the socket to this group (the daemon must be a member).
    pub group: Option<String>,
    /// How often the lake's queue depth is sampled, in milliseconds.
    pub queue_interval_ms: u64,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig { enabled: true, socket: None, mode: 0o660, group: None, queue_interval_ms: 5_000 }
    }
}

/// `[metrics]` in the config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve Prometheus metrics here, e.g. `127.0.0.1:9464`; absent = off.
    pub listen: Option<SocketAddr>,
    /// Allow an address other than loopback (it has no authentication).
    pub allow_non_loopback: bool,
}

fn deserialize_mode<'de, D: serde::Deserializer<'de>>(de: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Mode {
        Number(u32),
        Octal(String),
    }
    let mode = match Mode::deserialize(de)? {
        Mode::Number(n) => n,
        Mode::Octal(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .map_err(|_| serde::de::Error::custom(format!("mode {s:?} is not octal digits")))?,
    };
    if mode > 0o777 {
        return Err(serde::de::Error::custom(format!(
            "mode {mode} is above 0o777 (written in decimal?): write 0o660 or \"0660\""
        )));
    }
    Ok(mode)
}

static PROBE: OnceLock<Probe> = OnceLock::new();
static DISABLED: Probe = Probe::disabled();

fn probe() -> &'static Probe {
    PROBE.get().unwrap_or(&DISABLED)
}

/// Hook: a worker is busy on an entry until the guard drops.
pub fn busy() -> Busy<'static> {
    probe().busy()
}

/// Hook: records the sandbox's cost of one processed entry (when the
/// sandbox ran) and hands the step on.
pub fn parsed(processor: &Processor, entry: &CacheEntry, (step, stats): (Step, CallStats)) -> Step {
    let probe = probe();
    if probe.is_enabled()
        && stats != CallStats::default()
        && let Some(route) = processor.route(&entry.typtag)
    {
        probe.parsed(&route.parser, stats.fuel_used, stats.elapsed);
    }
    step
}

/// Hook: an entry is marked with its outcome.
pub fn outcome(entry: &CacheEntry, outcome: &Outcome) {
    let probe = probe();
    if !probe.is_enabled() {
        return;
    }
    let (typtag, id) = (&entry.typtag, &entry.id.0);
    match outcome {
        Outcome::Success { .. } => probe.outcome(typtag, id, cybexp_telemetry::Outcome::Success),
        Outcome::NotSupported => probe.outcome(typtag, id, cybexp_telemetry::Outcome::NotSupported),
        Outcome::Error { cause, message } => {
            // A parser's reason may quote feed content: like the log, the
            // dashboard gets its cause only.
            let message = (!matches!(cause, ErrorCause::Parser(_))).then_some(message.as_str());
            probe.outcome(typtag, id, cybexp_telemetry::Outcome::Error { cause: &cause.code(), message });
        }
    }
}

/// Hook: an entry was released; a retry if the store failed.
pub fn released(entry: &CacheEntry, result: &EntryResult) {
    if let EntryResult::Retry(_) = result {
        probe().retried(&entry.typtag);
    }
}

/// Hook: the daemon loop finished a poll.
pub fn polled(state: &LoopState) {
    probe().polled(state.failures, state.sleep, state.last_error.as_deref());
}

/// The status socket's path: `--socket`, else config, else
/// `$RUNTIME_DIRECTORY/status.sock` (systemd), else `<data_dir>/status.sock`.
pub fn socket_path(cli: Option<&Path>, config: &Config, data_dir: &Path) -> PathBuf {
    if let Some(path) = cli.or(config.status.socket.as_deref()) {
        return path.to_owned();
    }
    if let Some(runtime) = std::env::var_os("RUNTIME_DIRECTORY") {
        let first = runtime.to_string_lossy().split(':').next().unwrap_or_default().to_owned();
        if !first.is_empty() {
            return PathBuf::from(first).join("status.sock");
        }
    }
    data_dir.join("status.sock")
}

/// `scheme://user:secret@host/...` → `scheme://***@host/...`: a backend's
/// description must never carry credentials to the dashboard.
pub fn redact_credentials(description: &str) -> String {
    let Some(start) = description.find("://").map(|i| i + 3) else { return description.to_owned() };
    let end = description[start..].find(['/', ' ']).map_or(description.len(), |i| start + i);
    match description[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &description[..start], &description[start + at..]),
        None => description.to_owned(),
    }
}

/// The daemon's telemetry, running; dropping it stops the servers.
pub struct Running {
    // Field order is drop order: stop serving before the collector stops.
    _status: Option<StatusServer>,
    _metrics: Option<MetricsServer>,
    _telemetry: Telemetry,
}

/// Starts the telemetry for `run`: the collector, the queue sampler, the
/// status socket and, if configured, the metrics listener. A socket or
/// listener that cannot be opened is logged, not fatal: the archiver's job
/// is archiving.
pub fn start(ctx: &Context, pipeline: &Pipeline) -> Result<Running> {
    let config = &ctx.config;
    let processor = &pipeline.processor;
    let identity = Identity {
        name: "cybexp-archive".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        instance: pipeline.worker_id.clone(),
        pid: std::process::id(),
        started_at_ms: cybexp_telemetry::now_ms(),
        lake: redact_credentials(&pipeline.lake.describe()),
        archive: redact_credentials(&pipeline.archive.describe()),
        key_fingerprints: processor.keyring.keys().iter().map(|k| k.fingerprint()).collect(),
        parsers: processor
            .sandbox
            .parsers()
            .map(|p| ParserIdentity {
                name: p.name.clone(),
                component: p.component_name.clone(),
                version: p.version.clone(),
            })
            .collect(),
        workers: pipeline.workers as u32,
        batch_size: pipeline.batch_size as u32,
        status_socket: None,
        metrics_listen: None,
    };
    let lake = pipeline.lake.clone();
    let sampler = Box::new(move || {
        lake.queue_depth().map(|d| QueueDepth { waiting: d.waiting, skipped: d.skipped }).map_err(|e| e.to_string())
    });
    let setup = Setup {
        identity,
        routes: processor.routes.iter().map(|(typtag, route)| (typtag.clone(), route.parser.clone())).collect(),
        queue: Some(sampler),
        stopping: Some(pipeline.shutdown.clone()),
        options: Options {
            queue_interval: Duration::from_millis(config.status.queue_interval_ms.max(100)),
            ..Options::default()
        },
    };
    let telemetry = Telemetry::start(setup).context("starting the telemetry threads")?;
    if PROBE.set(telemetry.probe()).is_err() {
        tracing::warn!("telemetry already installed in this process; the pipeline reports to the first one");
    }
    let hub = telemetry.hub();

    let status = if config.status.enabled {
        let path = socket_path(None, config, &ctx.data_dir);
        let mut options = SocketOptions::new(&path);
        options.mode = config.status.mode;
        options.group = match &config.status.group {
            Some(name) => Some(group_id(name)?),
            None => None,
        };
        match StatusServer::start(hub.clone(), &options) {
            Ok(server) => {
                tracing::info!(socket = %path.display(), mode = format!("{:04o}", options.mode), "status socket open");
                hub.update_identity(|id| id.status_socket = Some(path.display().to_string()));
                Some(server)
            }
            Err(e) => {
                tracing::warn!(socket = %path.display(), error = %e, "no status socket: `top` and `status` cannot connect");
                None
            }
        }
    } else {
        None
    };

    let metrics = match config.metrics.listen {
        Some(addr) if !addr.ip().is_loopback() && !config.metrics.allow_non_loopback => bail!(
            "metrics.listen = {addr} is not a loopback address; the endpoint has no authentication \
             (set metrics.allow_non_loopback = true to serve it anyway)"
        ),
        Some(addr) => match MetricsServer::start(hub.clone(), addr) {
            Ok(server) => {
                let addr = server.local_addr();
                tracing::info!(listen = %addr, "Prometheus metrics at http://{addr}/metrics");
                hub.update_identity(|id| id.metrics_listen = Some(addr.to_string()));
                Some(server)
            }
            Err(e) => {
                tracing::warn!(listen = %addr, error = %e, "no metrics listener");
                None
            }
        },
        None => None,
    };
    Ok(Running { _status: status, _metrics: metrics, _telemetry: telemetry })
}

/// A group's id by name.
fn group_id(name: &str) -> Result<u32> {
    let c_name = std::ffi::CString::new(name).context("group name")?;
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: valid pointers to a C string, a zeroed struct and a buffer of
    // the length passed; `found` is set to `&mut group` or null.
    let rc = unsafe { libc::getgrnam_r(c_name.as_ptr(), &mut group, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        bail!("status.group: no group named {name:?}");
    }
    Ok(group.gr_gid)
}

/// `cybexp-archive top`.
pub fn top(ctx: &Context, socket: Option<PathBuf>, interval_ms: u64) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        bail!("`top` needs a terminal; for scripts use `cybexp-archive status [--json]`");
    }
    let socket = socket_path(socket.as_deref(), &ctx.config, &ctx.data_dir);
    cybexp_tui::run(cybexp_tui::Options::new(socket, Duration::from_millis(interval_ms)))?;
    Ok(ExitCode::SUCCESS)
}

/// `cybexp-archive status`: exit 0 with the snapshot, 1 when the daemon is unreachable.
pub fn status(ctx: &Context, socket: Option<PathBuf>, json: bool) -> Result<ExitCode> {
    let socket = socket_path(socket.as_deref(), &ctx.config, &ctx.data_dir);
    let snapshot = match cybexp_status::Connection::connect(&socket, cybexp_tui::client::IO_TIMEOUT)
        .and_then(|mut conn| conn.snapshot())
    {
        Ok(snapshot) => snapshot,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if json {
        println!("{}", serde_json::to_string(&snapshot)?);
    } else {
        print!("{}", cybexp_tui::text::status_report(&snapshot));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let data = Path::new("/data");
        // RUNTIME_DIRECTORY may be set by the environment running the tests: only assert what it cannot change.
        assert_eq!(socket_path(Some(Path::new("/cli.sock")), &config, data), Path::new("/cli.sock"));
        config.status.socket = Some("/conf.sock".into());
        assert_eq!(socket_path(None, &config, data), Path::new("/conf.sock"));
        assert_eq!(socket_path(Some(Path::new("/cli.sock")), &config, data), Path::new("/cli.sock"));
        if std::env::var_os("RUNTIME_DIRECTORY").is_none() {
            assert_eq!(socket_path(None, &Config::default(), data), Path::new("/data/status.sock"));
        }
    }

    #[test]
    fn credentials_never_leave_a_description() {
        assert_eq!(redact_credentials("mongodb://u:p@h1,h2/db.c (GridFS fs)"), "mongodb://***@h1,h2/db.c (GridFS fs)");
        assert_eq!(redact_credentials("mongodb://h1/db.c"), "mongodb://h1/db.c");
        assert_eq!(redact_credentials("sqlite:/var/x@y/archive.db"), "sqlite:/var/x@y/archive.db");
        assert_eq!(redact_credentials("mongodb://a%40b:p@w@h/db"), "mongodb://***@h/db");
    }
}
