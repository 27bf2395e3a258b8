//! Text a submission wrote, made harmless where it leaves the archiver as
//! text: one decision for the log, `status` and `top`.
//!
//! A submission's typtag, name, orgid and timezone come from the same
//! submitters as its content, and reach log fields, the status text and the
//! dashboard. A control character in them (a newline, an escape sequence)
//! could forge a log line or drive the operator's terminal; a bidirectional
//! formatting character can make a line read other than it is. [`escape`]
//! writes each such character as a Rust escape (`\n`, `\u{1b}`), so what was
//! sent stays visible and nothing acts on the terminal. [`Escaped`] is a
//! value that has been through it, the only form the views accept.

use std::borrow::Cow;
use std::ops::Deref;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Whether `c` may act on a terminal or a reader rather than be read: every
/// control character (C0, DEL, C1) and the Unicode bidirectional formatting
/// characters (embeddings, overrides, isolates and the implicit marks, the
/// "Trojan Source" set).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [`is_unsafe`] character written as a Rust escape
/// (`\n`, `\u{1b}`, `\u{202e}`). Text without them comes back borrowed.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// A value whose every string (map keys too) has been through [`escape`].
/// The dashboard and the status text take only this, so a field added
/// later cannot reach the terminal raw: the walk is over the value's serde
/// form, not a list of fields someone must remember to extend.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Escaped<T>(T);

impl<T: Serialize + DeserializeOwned + Default> Escaped<T> {
    pub fn new(value: T) -> Escaped<T> {
        // Escaping changes only free text (no field of these types limits
        // its strings to a set that holds a control character), so the
        // value reads back; if it ever did not, nothing raw is shown.
        let escaped = serde_json::to_value(&value).map(escape_value).and_then(serde_json::from_value);
        Escaped(escaped.unwrap_or_default())
    }
}

impl<T> Escaped<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Escaped<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// The lines of multi-line text that has been through [`escape`] (a
/// refused reload's TOML error, say): split where the escaped text reads
/// `\n`, a trailing `\r` dropped; a final newline ends the last line
/// rather than starting an empty one.
///
/// Why split the escaped text rather than the raw one: the views hold only
/// the [`Escaped`] snapshot, and splitting the raw text first would need a
/// second path by which unescaped text reaches them. Splitting escaped text
/// can only cut it, never unescape it, so every piece stays safe. The cost:
/// a literal backslash-n that someone wrote also breaks the line, which
/// changes the layout and nothing else.
pub fn lines(escaped: &str) -> impl Iterator<Item = &str> {
    let escaped = escaped.strip_suffix("\\n").unwrap_or(escaped);
    escaped.split("\\n").map(|line| line.strip_suffix("\\r").unwrap_or(line))
}

fn escape_value(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(escape(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(escape_value).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (escape(&k).into_owned(), escape_value(v))).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorRecord, Snapshot, TyptagStats};

    #[test]
    fn control_and_bidi_characters_are_escaped_and_the_rest_kept() {
        assert!(matches!(escape("unr-honeypot, Zürich"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(escape("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("x\u{7f}\u{85}\u{9b}y"), "x\\u{7f}\\u{85}\\u{9b}y");
        assert_eq!(escape("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
    }

    #[test]
    fn escaped_text_splits_into_escaped_lines() {
        let error = "in config c.toml: TOML parse error\r\n  |\n1 | [[x\u{1b}]\n";
        let escaped = escape(error);
        let split: Vec<&str> = lines(&escaped).collect();
        assert_eq!(split, ["in config c.toml: TOML parse error", "  |", "1 | [[x\\u{1b}]"]);
        assert!(split.iter().all(|line| !line.chars().any(is_unsafe)));
        assert_eq!(lines("one line").collect::<Vec<_>>(), ["one line"]);
    }

    #[test]
    fn an_escaped_snapshot_has_no_unsafe_character_anywhere_and_keeps_the_numbers() {
        let mut s = Snapshot { taken_at_ms: 7, ..Default::default() };
        s.identity.instance = "host\u{1b}]0;pwned\u{7}:1".into();
        s.typtags.push(TyptagStats { typtag: "evil\u{1b}[2J\n".into(), ..Default::default() });
        s.typtags[0].counts.error = 3;
        s.typtags[0].causes.insert("cause\u{202e}".into(), 3);
        s.causes.insert("x\ny".into(), 2);
        s.recent_errors.push(ErrorRecord {
            typtag: "\u{9b}31m".into(),
            message: Some("a\rb".into()),
            ..Default::default()
        });
        let escaped = Escaped::new(s.clone());
        let text = serde_json::to_string(&*escaped).unwrap();
        let decoded: Value = serde_json::from_str(&text).unwrap();
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                Value::Object(m) => m.iter().for_each(|(k, v)| {
                    out.push(k.clone());
                    walk(v, out)
                }),
                _ => {}
            }
        }
        let mut strings = Vec::new();
        walk(&decoded, &mut strings);
        assert!(strings.iter().all(|s| !s.chars().any(is_unsafe)), "{strings:?}");
        assert_eq!(escaped.identity.instance, "host\\u{1b}]0;pwned\\u{7}:1");
        assert_eq!(escaped.typtags[0].typtag, "evil\\u{1b}[2J\\n");
        assert_eq!(escaped.typtags[0].causes["cause\\u{202e}"], 3);
        assert_eq!(escaped.causes["x\\ny"], 2);
        assert_eq!((escaped.taken_at_ms, escaped.typtags[0].counts.error), (7, 3));
        // Plain text is untouched.
        let plain = Snapshot { taken_at_ms: 9, ..Default::default() };
        assert_eq!(Escaped::new(plain.clone()).into_inner(), plain);
    }
}
