//! Starts the daemon's telemetry (`cybexp-telemetry`): the collector, the
//! queue sampler, the status socket and, if configured, the Prometheus
//! listener. The pipeline reports through the [`Probe`] this hands out;
//! nothing here is global.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cybexp_lake::{LakeAdmin, redact_credentials};
use cybexp_status::{ConfigState, Identity, ParserIdentity};
use cybexp_telemetry::prometheus::MetricsServer;
use cybexp_telemetry::server::{SocketOptions, StatusServer, group_id};
use cybexp_telemetry::{Options, Probe, Setup, Telemetry};

use crate::config::Config;
use crate::pipeline::{Pipeline, Processor};

/// The daemon's telemetry, running; dropping it stops the servers.
pub struct Running {
    // Field order is drop order: stop serving before the collector stops.
    _status: Option<StatusServer>,
    _metrics: Option<MetricsServer>,
    telemetry: Telemetry,
}

impl Running {
    /// The handle the pipeline reports through.
    pub fn probe(&self) -> Probe {
        self.telemetry.probe()
    }

    /// Shows what a reload did: the new keys and parsers under config
    /// `generation`, or why the reload was refused.
    pub fn reloaded(&self, outcome: Result<(&Processor, u64), &str>) {
        let now = cybexp_status::now_ms();
        self.telemetry.hub().update_identity(|id| {
            id.config.last_reload_at_ms = Some(now);
            match outcome {
                Ok((processor, generation)) => {
                    id.config.generation = generation;
                    id.config.loaded_at_ms = now;
                    id.config.last_reload_error = None;
                    id.key_fingerprints = key_fingerprints(processor);
                    id.parsers = parser_identities(processor);
                }
                Err(error) => id.config.last_reload_error = Some(error.to_owned()),
            }
        });
    }
}

fn key_fingerprints(processor: &Processor) -> Vec<String> {
    processor.keyring.keys().iter().map(|k| k.fingerprint()).collect()
}

fn parser_identities(processor: &Processor) -> Vec<ParserIdentity> {
    processor
        .sandbox
        .parsers()
        .map(|p| ParserIdentity {
            name: p.name.clone(),
            component: p.component_name.clone(),
            version: p.version.clone(),
            sha256: p.component_sha256.clone(),
        })
        .collect()
}

/// Starts the telemetry of `pipeline`; `lake` answers the queue-depth
/// samples, on the telemetry's own thread. A socket or listener that cannot
/// be opened is logged, not fatal: the archiver's job is archiving.
pub fn start(config: &Config, socket: &Path, pipeline: &Pipeline, lake: Arc<dyn LakeAdmin>) -> Result<Running> {
    let processor = pipeline.processor();
    let started_at_ms = cybexp_status::now_ms();
    let identity = Identity {
        name: "cybexp-archive".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        instance: pipeline.worker_id.clone(),
        pid: std::process::id(),
        started_at_ms,
        lake: redact_credentials(&pipeline.lake.describe()),
        archive: redact_credentials(&pipeline.archive.describe()),
        key_fingerprints: key_fingerprints(&processor),
        parsers: parser_identities(&processor),
        workers: pipeline.workers as u32,
        batch_size: pipeline.batch_size as u32,
        status_socket: None,
        metrics_listen: None,
        config: ConfigState { generation: 1, loaded_at_ms: started_at_ms, ..ConfigState::default() },
    };
    let setup = Setup {
        identity,
        routes: processor.routes.iter().map(|(typtag, route)| (typtag.clone(), route.parser.clone())).collect(),
        queue: Some(Box::new(move || lake.queue_depth().map_err(|e| e.to_string()))),
        stopping: Some(pipeline.shutdown.clone()),
        options: Options {
            queue_interval: Duration::from_millis(config.status.queue_interval_ms.max(100)),
            ..Options::default()
        },
    };
    let telemetry = Telemetry::start(setup).context("starting the telemetry threads")?;
    let hub = telemetry.hub();

    let status = if config.status.enabled {
        let mut options = SocketOptions::new(socket);
        options.mode = config.status.mode;
        options.group = status_group(config)?;
        match StatusServer::start(hub.clone(), &options) {
            Ok(server) => {
                tracing::info!(socket = %socket.display(), mode = format!("{:04o}", options.mode), "status socket open");
                hub.update_identity(|id| id.status_socket = Some(socket.display().to_string()));
                Some(server)
            }
            Err(e) => {
                tracing::warn!(socket = %socket.display(), error = %e, "no status socket: `top` and `status` cannot connect");
                None
            }
        }
    } else {
        None
    };

    let metrics = match metrics_listen(config)? {
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
    Ok(Running { _status: status, _metrics: metrics, telemetry })
}

/// The group to give the status socket (`status.group`), looked up: a
/// group that does not exist fails the start (and `check-config`).
pub fn status_group(config: &Config) -> Result<Option<u32>> {
    match &config.status.group {
        Some(name) => Ok(Some(group_id(name).with_context(|| format!("status.group = {name:?}"))?)),
        None => Ok(None),
    }
}

/// Where to serve metrics (`metrics.listen`), if allowed: the endpoint has
/// no authentication, so an address other than loopback fails the start
/// (and `check-config`) unless `metrics.allow_non_loopback` says so.
pub fn metrics_listen(config: &Config) -> Result<Option<SocketAddr>> {
    match config.metrics.listen {
        Some(addr) if !addr.ip().is_loopback() && !config.metrics.allow_non_loopback => bail!(
            "metrics.listen = {addr} is not a loopback address; the endpoint has no authentication \
             (set metrics.allow_non_loopback = true to serve it anyway)"
        ),
        listen => Ok(listen),
    }
}
