//! The log on stderr: text for people (colour only at a terminal), or one
//! JSON object per line for log shippers, with the same fields.
//!
//! Submissions are hostile, and their typtag, name, orgid and timezone
//! reach log fields. The text format is the one boundary where they are
//! made harmless: every field value and message passes through
//! [`cybexp_status::untrusted::escape`], so a typtag holding a newline cannot forge a log
//! line and one holding an escape sequence cannot drive the operator's
//! terminal. (The JSON format escapes control characters by itself.)
//!
//! The filter comes from `--log`/`CYBEXP_LOG`, else the config's `log`,
//! else `info`; a reload puts a changed `log` in effect unless the command
//! line set it ([`Log::reload`]).

use std::io::IsTerminal;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::LogFormat;

/// The filter in effect and how to change it (SIGHUP).
pub struct Log {
    handle: reload::Handle<EnvFilter, Registry>,
    /// `--log` or `CYBEXP_LOG` chose the filter: the config's `log` does
    /// not move it, at start or on reload.
    pinned: bool,
    /// The filter text in effect.
    current: String,
    default: &'static str,
}

/// Where the filter comes from: `--log`/`CYBEXP_LOG` (an operator asking
/// for this run, so it pins the filter), else the config's `log`, else
/// `default`.
fn choose<'a>(cli: Option<&'a str>, config: Option<&'a str>, default: &'a str) -> (&'a str, bool) {
    match (cli, config) {
        (Some(cli), _) => (cli, true),
        (None, Some(config)) => (config, false),
        (None, None) => (default, false),
    }
}

/// Installs the global subscriber (once per process; later calls keep the
/// first). Filters are tracing's EnvFilter syntax; a bad one from the
/// command line falls back to `default` (the config's is checked when the
/// config loads).
pub fn init(cli: Option<&str>, config: Option<&str>, default: &'static str, format: LogFormat) -> Log {
    let (text, pinned) = choose(cli, config, default);
    let filter = EnvFilter::try_new(text).unwrap_or_else(|_| default.into());
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (the library driven twice in one process) is a no-op.
    let _ = match format {
        LogFormat::Text => {
            // Colour only for a person at a terminal: log files and journald get plain text.
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
                let text = format!("{value:?}");
                let text = cybexp_status::untrusted::escape(&text);
                match field.name() {
                    "message" => write!(writer, "{text}"),
                    name => write!(writer, "{name}={text}"),
                }
            })
            .delimited(" ");
            let layer =
                tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi).fmt_fields(fields);
            registry.with(layer).try_init()
        }
        // Flattened: `message` and the event's fields at the top level,
        // beside `timestamp`, `level` and `target`.
        LogFormat::Json => {
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .json()
                .flatten_event(true)
                .with_current_span(false);
            registry.with(layer).try_init()
        }
    };
    Log { handle, pinned, current: text.to_owned(), default }
}

impl Log {
    /// A reloaded config's `log`: put in effect, unless the command line
    /// pinned the filter (then a change is logged, not applied).
    pub fn reload(&mut self, config: Option<&str>) {
        let wanted = config.unwrap_or(self.default);
        if wanted == self.current {
            return;
        }
        if self.pinned {
            tracing::warn!(
                config = %wanted,
                filter = %self.current,
                "the config's `log` changed, but --log or CYBEXP_LOG set the filter: restart without them to apply it"
            );
            return;
        }
        // Checked when the config loaded; a filter that still fails keeps the old one.
        match EnvFilter::try_new(wanted)
            .map_err(anyhow::Error::from)
            .and_then(|filter| self.handle.reload(filter).map_err(anyhow::Error::from))
        {
            Ok(()) => {
                let previous = std::mem::replace(&mut self.current, wanted.to_owned());
                tracing::info!(filter = %wanted, previous = %previous, "log filter changed");
            }
            Err(error) => tracing::warn!(%error, filter = %wanted, "log filter unchanged"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::choose;

    #[test]
    fn the_command_line_pins_the_filter_else_the_config_else_the_default() {
        assert_eq!(choose(Some("debug"), Some("warn"), "info"), ("debug", true));
        assert_eq!(choose(None, Some("warn"), "info"), ("warn", false));
        assert_eq!(choose(None, None, "info"), ("info", false));
    }
}
