//! The log on stderr: text for people (colour only at a terminal), or one
//! JSON object per line for log shippers, with the same fields.
//!
//! Submissions are hostile, and their typtag, name, orgid and timezone
//! reach log fields. The text format is the one boundary where they are
//! made harmless: every field value and message passes through
//! [`cybexp_status::untrusted::escape`], so a typtag holding a newline cannot forge a log
//! line and one holding an escape sequence cannot drive the operator's
//! terminal. (The JSON format escapes control characters by itself.)

use std::io::IsTerminal;

use tracing_subscriber::field::MakeExt;

use crate::config::LogFormat;

/// Installs the global subscriber (once per process; later calls keep the
/// first). `filter` is tracing's EnvFilter syntax; a bad one falls back to
/// `default`.
pub fn init(filter: Option<&str>, default: &str, format: LogFormat) {
    let filter = filter.unwrap_or(default);
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| default.into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
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
            builder.with_ansi(ansi).fmt_fields(fields).try_init()
        }
        // Flattened: `message` and the event's fields at the top level,
        // beside `timestamp`, `level` and `target`.
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
