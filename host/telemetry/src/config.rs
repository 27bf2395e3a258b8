//! The telemetry's own config sections, `[status]` and `[metrics]`: their
//! keys, defaults and rules live here, beside what they configure, and the
//! daemon hands them over whole (as the MongoDB store takes `MongoConfig`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::server::{SocketOptions, group_id};

/// `[status]`: the status socket `top` and `status` read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusConfig {
    /// Serve the status socket while `run` runs.
    pub enabled: bool,
    /// Default: `$RUNTIME_DIRECTORY/status.sock` under systemd, else
    /// `<data_dir>/status.sock` (the daemon resolves it: it knows the data dir).
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

/// Queue samples come at most this often, whatever the config says: each is a query.
const MIN_QUEUE_INTERVAL: Duration = Duration::from_millis(100);

impl StatusConfig {
    /// How often the queue depth is sampled.
    pub fn queue_interval(&self) -> Duration {
        Duration::from_millis(self.queue_interval_ms).max(MIN_QUEUE_INTERVAL)
    }

    /// The socket's options at `path`: its mode, and its group looked up by
    /// name (an error names the group).
    pub fn socket_options(&self, path: &Path) -> std::io::Result<SocketOptions> {
        let mut options = SocketOptions::new(path);
        options.mode = self.mode;
        options.group = self.group.as_deref().map(group_id).transpose()?;
        Ok(options)
    }
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve Prometheus metrics here, e.g. `127.0.0.1:9464`; absent = off.
    pub listen: Option<SocketAddr>,
    /// Allow an address other than loopback (it has no authentication).
    pub allow_non_loopback: bool,
}

/// A metrics address the config may not use.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "metrics.listen = {0} is not a loopback address; the endpoint has no authentication \
     (set metrics.allow_non_loopback = true to serve it anyway)"
)]
pub struct NotLoopback(pub SocketAddr);

impl MetricsConfig {
    /// Where to serve the metrics, if anywhere: a non-loopback address only
    /// when the config allows it, since anyone who reaches it may read it.
    pub fn address(&self) -> Result<Option<SocketAddr>, NotLoopback> {
        match self.listen {
            Some(addr) if !addr.ip().is_loopback() && !self.allow_non_loopback => Err(NotLoopback(addr)),
            listen => Ok(listen),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_stay_on_loopback_unless_allowed() {
        let at = |listen: &str, allow_non_loopback| MetricsConfig {
            listen: Some(listen.parse().unwrap()),
            allow_non_loopback,
        };
        assert_eq!(MetricsConfig::default().address(), Ok(None));
        assert_eq!(at("127.0.0.1:9464", false).address(), Ok(Some("127.0.0.1:9464".parse().unwrap())));
        assert_eq!(at("[::1]:9464", false).address(), Ok(Some("[::1]:9464".parse().unwrap())));
        let open: SocketAddr = "0.0.0.0:9464".parse().unwrap();
        assert_eq!(at("0.0.0.0:9464", false).address(), Err(NotLoopback(open)));
        assert_eq!(at("0.0.0.0:9464", true).address(), Ok(Some(open)));
    }

    #[test]
    fn the_queue_is_sampled_at_most_every_100_ms() {
        let every = |ms| StatusConfig { queue_interval_ms: ms, ..StatusConfig::default() }.queue_interval();
        assert_eq!(every(5_000), Duration::from_secs(5));
        assert_eq!(every(0), Duration::from_millis(100));
    }

    #[test]
    fn socket_options_carry_the_mode_and_name_a_missing_group() {
        let config = StatusConfig { mode: 0o600, ..StatusConfig::default() };
        let options = config.socket_options(Path::new("/run/x.sock")).unwrap();
        assert_eq!((options.mode, options.group), (0o600, None));
        let config = StatusConfig { group: Some("no-such-group-cybexp".into()), ..StatusConfig::default() };
        let error = config.socket_options(Path::new("/run/x.sock")).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound, "{error}");
    }
}
