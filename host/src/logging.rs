//! The log on stderr: text for people (colour only at a terminal), or one
//! JSON object per line for log shippers, with the same fields.
//!
//! Submissions are hostile, and their typtag, name, orgid and timezone
//! reach log fields. The text format is the one boundary where they are
//! made harmless: every field value and message passes through
//! [`escape_controls`], so a typtag holding a newline cannot forge a log
//! line and one holding an escape sequence cannot drive the operator's
//! terminal. (The JSON format escapes control characters by itself.)

use std::borrow::Cow;
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
                let text = escape_controls(&text);
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

/// `text` with every control character (C0, DEL, C1: newlines and escape
/// sequences among them) and every bidirectional formatting character
/// (which can make a line read other than it is) written as a Rust escape,
/// `\n` or `\u{1b}`. Text without them comes back borrowed.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let harmful = |c: char| c.is_control() || is_bidi_control(c);
    if !text.chars().any(harmful) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if harmful(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// The Unicode bidirectional formatting characters (the "Trojan Source"
/// ones): embeddings, overrides, isolates and the implicit marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_the_rest_kept() {
        assert!(matches!(escape_controls("unr-honeypot, Zürich"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(escape_controls("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape_controls("x\u{7f}\u{85}\u{9b}y"), "x\\u{7f}\\u{85}\\u{9b}y");
        assert_eq!(escape_controls("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
    }
}
