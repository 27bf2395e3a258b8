//! SIGHUP: read the config again and put new keys, parsers, budgets,
//! routes and the log filter in effect without a restart. Everything is checked before
//! anything changes (every key loads, every component compiles and exports
//! the parser world, every route names a loaded parser); on any failure the
//! daemon keeps running on the set it has, and says why in the log, in
//! `status`/`top` and in the metrics. Batches being worked finish with the
//! set they began with; the next claim uses the new one.

use anyhow::Result;
use cybexp_lake::redact_credentials;

use crate::config::Config;
use crate::context::Settings;
use crate::logging::Log;
use crate::pipeline::Processor;
use crate::telemetry::Running;

pub struct Reloader<'a> {
    settings: &'a Settings,
    telemetry: &'a Running,
    log: Log,
    /// The config in effect (the last one that loaded).
    current: Config,
    generation: u64,
}

impl<'a> Reloader<'a> {
    pub fn new(settings: &'a Settings, telemetry: &'a Running, log: Log) -> Self {
        Reloader { settings, telemetry, log, current: settings.config.clone(), generation: 1 }
    }

    /// One reload: the next processor, or `None` (refused; logged and shown).
    pub fn reload(&mut self) -> Option<Processor> {
        crate::systemd::reloading();
        tracing::info!("SIGHUP: reloading the config");
        match self.next() {
            Ok((config, processor)) => {
                for part in fixed_until_restart(&self.current, &config) {
                    tracing::warn!(
                        setting = part,
                        "this setting changed in the config but cannot change on reload: restart to apply it"
                    );
                }
                // First, so what the reload logs is at the new level.
                self.log.reload(config.log.as_deref());
                self.generation += 1;
                self.current = config;
                self.telemetry.reloaded(Ok((&processor, self.generation)));
                let parsers: Vec<String> = processor
                    .sandbox
                    .parsers()
                    .map(|p| format!("{}@{} sha256:{}", p.name, p.version, &p.component_sha256[..12]))
                    .collect();
                tracing::info!(
                    generation = self.generation,
                    keys = processor.keyring.len(),
                    routes = processor.routes.len(),
                    parsers = ?parsers,
                    "config reloaded; the next batch uses it"
                );
                crate::systemd::ready(&format!("config generation {} loaded", self.generation));
                Some(processor)
            }
            Err(error) => {
                let message = redact_credentials(&format!("{error:#}"));
                tracing::error!(error = %message, generation = self.generation, "reload refused; still running on the previous config");
                self.telemetry.reloaded(Err(&message));
                crate::systemd::ready(&format!("reload refused, running on generation {}: {message}", self.generation));
                None
            }
        }
    }

    fn next(&self) -> Result<(Config, Processor)> {
        let next = self.settings.reread()?;
        let processor = next.processor()?;
        Ok((next.config, processor))
    }
}

/// What a reload cannot change (the stores are open, the pool and the
/// servers running): named so the log can say which.
fn fixed_until_restart(running: &Config, loaded: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if running.store != loaded.store || running.data_dir != loaded.data_dir {
        changed.push("store");
    }
    if running.pipeline != loaded.pipeline {
        changed.push("pipeline");
    }
    if running.status != loaded.status {
        changed.push("status");
    }
    if running.metrics != loaded.metrics {
        changed.push("metrics");
    }
    if running.log_format != loaded.log_format {
        changed.push("log_format");
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelineConfig, StoreConfig};

    #[test]
    fn store_and_pipeline_changes_are_named_routes_and_parsers_are_not() {
        let running = Config::default();
        let mut loaded = Config::default();
        loaded.typtags.insert("x".into(), crate::pipeline::Route { parser: "json".into(), sub_type: "x".into() });
        loaded.parsers.insert("json".into(), Default::default());
        assert!(fixed_until_restart(&running, &loaded).is_empty());
        loaded.store = StoreConfig::Sqlite { path: Some("/elsewhere.db".into()) };
        loaded.pipeline = PipelineConfig { workers: 9, ..PipelineConfig::default() };
        assert_eq!(fixed_until_restart(&running, &loaded), ["store", "pipeline"]);
    }
}
