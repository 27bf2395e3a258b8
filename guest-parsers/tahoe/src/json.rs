//! JSON exactly as the reference reads it: Python's `json.loads(str)`.
//!
//! Python accepts more than RFC 8259 (`NaN`, `Infinity`, `-Infinity`,
//! integers of any size, duplicate keys where the last value wins) and its
//! `str` can hold things a Rust `String` cannot (lone surrogates). This module
//! reproduces the accepted language byte for byte and reports the few places
//! where the reference could not have produced a document either
//! ([`JsonError::TooDeep`], [`JsonError::LoneSurrogate`]).
//!
//! The parser is iterative: nesting costs heap, never native stack, so hostile
//! input cannot overflow the (small) WebAssembly stack.

use crate::{Limits, ParseFailure, scan};

/// A JSON value as Python's `json.loads` builds it.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    /// An integer in full precision, as normalized decimal text: optional
    /// `-`, no leading zeros, never `-0` (Python's `int` has no negative zero).
    Int(String),
    Float(f64),
    String(String),
    Array(Vec<Value>),
    /// Members in input order with unique keys (Python `dict` semantics: a
    /// repeated key keeps its first position and takes the last value).
    Object(Vec<(String, Value)>),
}

/// Values compare as Python would compare the parsed objects, except that
/// floats compare by bit pattern (so `NaN == NaN` and `-0.0 != 0.0`): two
/// equal values always have the same canonical form and `to_json`.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

/// Why a text is not a document the reference could have stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Python raises `JSONDecodeError`: the text is not JSON. `offset` is a
    /// byte offset (Python reports a character index).
    Syntax { offset: usize, reason: &'static str },
    /// Valid JSON nested deeper than [`Limits::max_depth`]. Python raises
    /// `RecursionError` (at its own, higher limit), which the reference does
    /// not treat as "not JSON"; and any document nested this deep would have
    /// an astronomically large canonical form anyway.
    TooDeep { max_depth: usize },
    /// Valid JSON whose value holds a string with a `\uD800`-`\uDFFF` escape
    /// that is not half of a surrogate pair. Python's `str` can hold it, but
    /// pymongo cannot encode it to BSON, so the reference stored no document
    /// either; a Rust `String` cannot hold it at all. (A lone surrogate in a
    /// member that a later duplicate key replaces does not count: Python
    /// drops it too.)
    LoneSurrogate,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonError::Syntax { offset, reason } => write!(f, "{reason} at byte {offset}"),
            JsonError::TooDeep { max_depth } => write!(f, "nesting deeper than {max_depth}"),
            JsonError::LoneSurrogate => {
                f.write_str("a string holds a lone surrogate \\u escape (not storable: pymongo rejects it too)")
            }
        }
    }
}

impl std::error::Error for JsonError {}

/// How the reference reads a plaintext (reference §3 step 2).
#[derive(Clone, Debug, PartialEq)]
pub enum Plaintext {
    /// `json.loads` succeeded.
    Json(Value),
    /// `json.loads` raised a decode error: the data is the wrapped text.
    Text,
}

/// Classifies `plaintext` as the reference does; budgets that Python would
/// have exceeded in other ways become [`ParseFailure::InvalidInput`].
pub fn read_plaintext(plaintext: &str, limits: &Limits) -> Result<Plaintext, ParseFailure> {
    match parse_python_json(plaintext, limits) {
        Ok(value) => Ok(Plaintext::Json(value)),
        Err(JsonError::Syntax { .. }) => Ok(Plaintext::Text),
        Err(e) => Err(ParseFailure::InvalidInput(e.to_string())),
    }
}

/// The reference's wrapping of non-JSON plaintext: `{"data": text}`.
pub fn wrap_text(plaintext: &str) -> Value {
    Value::Object(vec![("data".to_owned(), Value::String(plaintext.to_owned()))])
}

/// See [`crate::reference_data`].
pub fn reference_data(plaintext: &str, limits: &Limits) -> Result<Value, ParseFailure> {
    Ok(match read_plaintext(plaintext, limits)? {
        Plaintext::Json(value) => value,
        Plaintext::Text => wrap_text(plaintext),
    })
}

/// Parses `text` exactly as Python's `json.loads(text)` would.
///
/// A syntax error anywhere wins over [`JsonError::TooDeep`] and
/// [`JsonError::LoneSurrogate`]: for a text that is not JSON at all Python
/// raises `JSONDecodeError` (and the reference wraps it as text), whatever
/// else is odd about it. So nesting past `max_depth` is still scanned for
/// syntax, in a cheap mode that keeps one byte per level and builds nothing.
pub fn parse_python_json(text: &str, limits: &Limits) -> Result<Value, JsonError> {
    let mut parser = Parser::new(text, limits.max_depth);
    let mut value = parser.document()?;
    if parser.too_deep {
        return Err(JsonError::TooDeep { max_depth: limits.max_depth });
    }
    if parser.marker_seen {
        unmark_value(&mut value)?;
    }
    Ok(value)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Object,
}

/// An open container whose members are being collected.
enum Frame {
    Array(Vec<Value>),
    /// Members so far and the key whose value is being parsed.
    Object(Vec<(String, Value)>, String),
}

impl Frame {
    fn kind(&self) -> Kind {
        match self {
            Frame::Array(_) => Kind::Array,
            Frame::Object(..) => Kind::Object,
        }
    }

    fn push(&mut self, value: Value) {
        match self {
            Frame::Array(items) => items.push(value),
            Frame::Object(members, key) => members.push((std::mem::take(key), value)),
        }
    }

    fn finish(self) -> Value {
        match self {
            Frame::Array(items) => Value::Array(items),
            Frame::Object(members, _) => Value::Object(dedupe_keys(members)),
        }
    }
}

// Hand-written, not serde_json: it accepts exactly what `json.loads` does
// (`NaN`/`Infinity` literals, `1e400` as inf, ints of any length kept as
// digits), tells a lone surrogate escape apart, and never recurses (wasm stack).
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
    /// Open containers within `max_depth`, outermost first.
    frames: Vec<Frame>,
    /// Open containers beyond `max_depth` (syntax-only mode), outermost first.
    skipped: Vec<Kind>,
    /// Nesting went past `max_depth`; reported if the text is valid JSON.
    too_deep: bool,
    /// Some string holds [`MARK`] (see there).
    marker_seen: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, max_depth: usize) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            max_depth,
            frames: Vec::new(),
            skipped: Vec::new(),
            too_deep: false,
            marker_seen: false,
        }
    }

    fn err<T>(&self, reason: &'static str) -> Result<T, JsonError> {
        Err(JsonError::Syntax { offset: self.pos, reason })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Python's `WHITESPACE = r'[ \t\n\r]*'`: nothing else is skipped.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// `json.loads`: one value, surrounded by optional whitespace.
    fn document(&mut self) -> Result<Value, JsonError> {
        if self.text.starts_with('\u{feff}') {
            // Python: "Unexpected UTF-8 BOM (decode using utf-8-sig)".
            return self.err("unexpected UTF-8 BOM");
        }
        let value = self.value_tree()?;
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return self.err("extra data");
        }
        Ok(value)
    }

    /// Parses one complete value (with everything nested in it) iteratively.
    fn value_tree(&mut self) -> Result<Value, JsonError> {
        'value: loop {
            self.skip_ws();
            let mut value = match self.peek() {
                Some(b'[') => match self.open(Kind::Array)? {
                    Some(empty) => empty,
                    None => continue 'value,
                },
                Some(b'{') => match self.open(Kind::Object)? {
                    Some(empty) => empty,
                    None => continue 'value,
                },
                _ => self.scalar()?,
            };
            // Hand the finished value to its container; close containers
            // whose last member it was.
            loop {
                let Some(kind) = self.innermost() else {
                    return Ok(value);
                };
                if self.skipped.is_empty()
                    && let Some(frame) = self.frames.last_mut()
                {
                    frame.push(value);
                }
                self.skip_ws();
                match (kind, self.peek()) {
                    (_, Some(b',')) => {
                        self.pos += 1;
                        if kind == Kind::Object {
                            self.skip_ws();
                            self.member_key()?;
                        }
                        continue 'value;
                    }
                    (Kind::Array, Some(b']')) | (Kind::Object, Some(b'}')) => {
                        self.pos += 1;
                        value = self.close();
                    }
                    _ => return self.err("expecting ',' delimiter"),
                }
            }
        }
    }

    fn innermost(&self) -> Option<Kind> {
        self.skipped.last().copied().or_else(|| self.frames.last().map(Frame::kind))
    }

    /// Consumes `[` or `{`. Returns the value if the container is empty;
    /// otherwise opens a frame (positioned at its first value) and returns
    /// `None`.
    fn open(&mut self, kind: Kind) -> Result<Option<Value>, JsonError> {
        self.pos += 1;
        let depth = self.frames.len() + self.skipped.len() + 1;
        let materialize = depth <= self.max_depth;
        if !materialize {
            self.too_deep = true;
        }
        self.skip_ws();
        let close = if kind == Kind::Array { b']' } else { b'}' };
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(Some(match kind {
                Kind::Array => Value::Array(Vec::new()),
                Kind::Object => Value::Object(Vec::new()),
            }));
        }
        match (materialize, kind) {
            (true, Kind::Array) => self.frames.push(Frame::Array(Vec::new())),
            (true, Kind::Object) => self.frames.push(Frame::Object(Vec::new(), String::new())),
            (false, _) => self.skipped.push(kind),
        }
        if kind == Kind::Object {
            self.member_key()?;
        }
        Ok(None)
    }

    /// Closes the innermost container and returns it as a value. In
    /// syntax-only mode that is a placeholder: it may land in a materialized
    /// frame, but then `TooDeep` is deferred and the whole tree discarded.
    fn close(&mut self) -> Value {
        if self.skipped.pop().is_some() {
            return Value::Null;
        }
        self.frames.pop().map_or(Value::Null, Frame::finish)
    }

    /// Parses `"key" :` and stores the key in the innermost frame.
    fn member_key(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'"') {
            return self.err("expecting property name enclosed in double quotes");
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return self.err("expecting ':' delimiter");
        }
        self.pos += 1;
        if self.skipped.is_empty()
            && let Some(Frame::Object(_, slot)) = self.frames.last_mut()
        {
            *slot = key;
        }
        Ok(())
    }

    /// A value that is not a container.
    fn scalar(&mut self) -> Result<Value, JsonError> {
        let rest = &self.text[self.pos..];
        let (word, value) = match self.peek() {
            Some(b'"') => return Ok(Value::String(self.string()?)),
            Some(b'n') => ("null", Value::Null),
            Some(b't') => ("true", Value::Bool(true)),
            Some(b'f') => ("false", Value::Bool(false)),
            Some(b'N') => ("NaN", Value::Float(f64::NAN)),
            Some(b'I') => ("Infinity", Value::Float(f64::INFINITY)),
            Some(b'-') if rest.starts_with("-I") => ("-Infinity", Value::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => return self.number(),
            _ => return self.err("expecting value"),
        };
        if !rest.starts_with(word) {
            return self.err("expecting value");
        }
        self.pos += word.len();
        Ok(value)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Python's `NUMBER_RE`: `(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?`,
    /// matched greedily; what does not match is left for the caller (and is
    /// then a syntax error there, as in Python).
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => {
                self.pos = start;
                return self.err("expecting value");
            }
        }
        let int_end = self.pos;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            let before_exp = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = before_exp;
            }
        }
        let lexeme = &self.text[start..self.pos];
        if self.pos == int_end {
            // Python's int(): "-0" is 0; the grammar allows no other
            // non-canonical spelling.
            let digits = if lexeme == "-0" { "0" } else { lexeme };
            return Ok(Value::Int(digits.to_owned()));
        }
        // Rust's parser is correctly rounded like Python's float() and also
        // overflows to ±inf (float('1e400') == inf).
        match lexeme.parse::<f64>() {
            Ok(f) => Ok(Value::Float(f)),
            Err(_) => {
                self.pos = start;
                self.err("invalid number")
            }
        }
    }

    /// Parses a string literal starting at the opening quote (strict mode:
    /// raw control characters are errors).
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            // 0xF3 leads the UTF-8 of MARK (and of other U+Cxxxx-U+FFFFF).
            self.pos = scan::find(
                self.bytes,
                self.pos,
                |w| scan::equal(w, b'"') | scan::equal(w, b'\\') | scan::below(w, 0x20) | scan::equal(w, 0xF3),
                |b| b == b'"' || b == b'\\' || b < 0x20 || b == 0xF3,
            );
            // Every stop byte starts a char, so the run ends on a boundary.
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(0xF3) => {
                    let c = self.text[self.pos..].chars().next().unwrap_or(MARK);
                    self.pos += c.len_utf8();
                    self.push_char(c as u32, &mut out);
                }
                Some(_) => return self.err("invalid control character"),
                None => return self.err("unterminated string"),
            }
        }
    }

    /// Decodes one backslash escape into `out`.
    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let at = self.pos;
        let decoded = match self.bytes.get(self.pos + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(out),
            _ => {
                self.pos = at + 1;
                return self.err("invalid \\escape");
            }
        };
        self.pos += 2;
        out.push(decoded);
        Ok(())
    }

    /// Four hex digits after `\u` at byte `at`, as Python reads them.
    fn hex4(&self, at: usize) -> Option<u32> {
        let hex = self.bytes.get(at..at + 4)?;
        hex.iter().try_fold(0u32, |acc, &b| Some(acc * 16 + (b as char).to_digit(16)?))
    }

    /// `\uXXXX`, combining a high surrogate with an immediately following
    /// `\uDC00`-`\uDFFF` escape as Python does.
    fn unicode_escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let at = self.pos;
        let Some(unit) = self.hex4(at + 2) else {
            self.pos = at + 1;
            return self.err("invalid \\uXXXX escape");
        };
        self.pos = at + 6;
        let code = match unit {
            0xD800..=0xDBFF if self.text[self.pos..].starts_with("\\u") => {
                let Some(low) = self.hex4(self.pos + 2) else {
                    self.pos += 1;
                    return self.err("invalid \\uXXXX escape");
                };
                if (0xDC00..=0xDFFF).contains(&low) {
                    self.pos += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                }
            }
            _ => unit,
        };
        self.push_char(code, out);
        Ok(())
    }

    /// Appends a decoded code point, or a lone surrogate, in marked form.
    fn push_char(&mut self, code: u32, out: &mut String) {
        match char::from_u32(code) {
            Some(MARK) => {
                self.marker_seen = true;
                out.push(MARK);
                out.push(MARK);
            }
            Some(c) => out.push(c),
            None => {
                self.marker_seen = true;
                out.push(MARK);
                out.push(surrogate_mark(code));
            }
        }
    }
}

/// Escape character of the marked string form the parser builds internally,
/// so that strings holding lone surrogates keep their exact identity (two
/// keys are duplicates exactly when Python would say so): a genuine MARK is
/// written twice, a lone surrogate `u` as MARK + `surrogate_mark(u)`. MARK is
/// the first Supplementary Private Use code point, so real text rarely pays
/// for this; [`unmark_value`] undoes it after parsing.
const MARK: char = '\u{F0000}';

/// The code point standing for lone surrogate `unit` after a [`MARK`]:
/// U+F0001..=U+F0800, never MARK itself.
fn surrogate_mark(unit: u32) -> char {
    char::from_u32(0xF0001 + (unit - 0xD800)).unwrap_or(MARK)
}

/// Turns marked strings back into plain ones, failing if a lone surrogate
/// survived into the final value. Recursion is bounded by `max_depth`.
fn unmark_value(value: &mut Value) -> Result<(), JsonError> {
    match value {
        Value::String(s) => unmark(s),
        Value::Array(items) => items.iter_mut().try_for_each(unmark_value),
        Value::Object(members) => members.iter_mut().try_for_each(|(key, v)| {
            unmark(key)?;
            unmark_value(v)
        }),
        _ => Ok(()),
    }
}

fn unmark(s: &mut String) -> Result<(), JsonError> {
    if !s.contains(MARK) {
        return Ok(());
    }
    let mut plain = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != MARK {
            plain.push(c);
        } else if chars.next() == Some(MARK) {
            plain.push(MARK);
        } else {
            return Err(JsonError::LoneSurrogate);
        }
    }
    *s = plain;
    Ok(())
}

/// Applies Python `dict` semantics to members in input order: a repeated key
/// keeps its first position and takes its last value.
fn dedupe_keys(members: Vec<(String, Value)>) -> Vec<(String, Value)> {
    if !has_duplicate_keys(&members) {
        return members;
    }
    let mut first_index: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut out: Vec<(String, Value)> = Vec::with_capacity(members.len());
    for (key, value) in members {
        match first_index.get(&key) {
            Some(&i) => out[i].1 = value,
            None => {
                first_index.insert(key.clone(), out.len());
                out.push((key, value));
            }
        }
    }
    out
}

fn has_duplicate_keys(members: &[(String, Value)]) -> bool {
    // Pairwise for the common small object; sorting beyond that keeps a
    // hostile 100k-key object O(n log n).
    if members.len() <= 16 {
        return members.iter().enumerate().any(|(i, (k, _))| members[..i].iter().any(|(j, _)| j == k));
    }
    let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

impl Value {
    /// The member `key` of an object (`None` for other values).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The JSON kind of this value, for messages: "null", "boolean",
    /// "integer", "float", "string", "array" or "object".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Compact JSON (no spaces) in input key order, non-ASCII as UTF-8,
    /// non-finite floats as Python's `NaN`/`Infinity`/`-Infinity`, integers
    /// as their digits and floats in Python `repr` form: exactly Python's
    /// `json.dumps(data, separators=(",", ":"), ensure_ascii=False)`, which
    /// [`parse_python_json`] reads back as an equal value.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    // Recursion is bounded by the nesting the parser accepted
    // (`Limits::max_depth`).
    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(digits) => out.push_str(digits),
            Value::Float(f) => crate::python_float::write_python_float(*f, out),
            Value::String(s) => write_utf8_json_string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_utf8_json_string(key, out);
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string literal as Python's `json.dumps(ensure_ascii=False)` writes
/// it: non-ASCII as UTF-8, and escapes only for `"`, `\` and the control
/// characters below U+0020.
fn write_utf8_json_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    loop {
        let i = scan::find(
            bytes,
            run_start,
            |w| scan::equal(w, b'"') | scan::equal(w, b'\\') | scan::below(w, 0x20),
            |b| b == b'"' || b == b'\\' || b < 0x20,
        );
        let Some(&b) = bytes.get(i) else { break };
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        out.push_str(&s[run_start..i]);
        if escaped.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escaped);
        }
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Value, JsonError> {
        parse_python_json(text, &Limits::default())
    }

    fn is_syntax(r: Result<Value, JsonError>) -> bool {
        matches!(r, Err(JsonError::Syntax { .. }))
    }

    fn int(s: &str) -> Value {
        Value::Int(s.to_owned())
    }

    #[test]
    fn python_literals_and_numbers() {
        assert_eq!(parse("NaN"), Ok(Value::Float(f64::NAN)));
        assert_eq!(parse(" Infinity"), Ok(Value::Float(f64::INFINITY)));
        assert_eq!(parse("-Infinity\n"), Ok(Value::Float(f64::NEG_INFINITY)));
        assert_eq!(parse("-0"), Ok(int("0")));
        assert_eq!(parse("-0.0"), Ok(Value::Float(-0.0)));
        assert_eq!(parse("123456789012345678901234567890"), Ok(int("123456789012345678901234567890")));
        assert_eq!(parse("1e400"), Ok(Value::Float(f64::INFINITY)));
        assert_eq!(parse("-1e400"), Ok(Value::Float(f64::NEG_INFINITY)));
        assert_eq!(parse("1e-400"), Ok(Value::Float(0.0)));
        assert_eq!(parse("1E+2"), Ok(Value::Float(100.0)));
        assert_eq!(parse("0.1"), Ok(Value::Float(0.1)));
        // Correct rounding at a halfway case (2^53 + 1).
        assert_eq!(parse("9007199254740993.0"), Ok(Value::Float(9007199254740992.0)));
        for bad in ["01", "+1", ".5", "1.", "1e", "1e+", "-", "--1", "0x10", "nan", "inf", "-NaN", "Infinityx", "1 2"] {
            assert!(is_syntax(parse(bad)), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn whitespace_is_only_json_whitespace() {
        assert_eq!(parse(" \t\r\n1 \t\r\n"), Ok(int("1")));
        for bad in ["\u{b}1", "1\u{c}", "\u{a0}1", "\u{feff}1", "\u{feff}{}", "", "   "] {
            assert!(is_syntax(parse(bad)), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn strings_strict_mode_and_escapes() {
        assert_eq!(parse(r#""a\"\\\/\b\f\n\r\t""#), Ok(Value::String("a\"\\/\u{8}\u{c}\n\r\t".into())));
        assert_eq!(parse(r#""\u00e9\u65E5""#), Ok(Value::String("é日".into())));
        assert_eq!(parse(r#""\ud83d\ude00""#), Ok(Value::String("😀".into())));
        assert_eq!(parse("\"\u{7f}é😀\""), Ok(Value::String("\u{7f}é😀".into())));
        for bad in [
            "\"a\nb\"",
            "\"\u{0}\"",
            "\"\u{1f}\"",
            r#""\x""#,
            r#""\u12""#,
            r#""\u12g4""#,
            "\"abc",
            r#""\"#,
            r#""\ud800\u12""#,
        ] {
            assert!(is_syntax(parse(bad)), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn lone_surrogates_cannot_be_stored() {
        for text in [r#""\ud800""#, r#""\udc00""#, r#"["\ud800\u0041"]"#, r#"{"\udfff": 1}"#, r#""\ude00\ud83d""#] {
            assert_eq!(parse(text), Err(JsonError::LoneSurrogate), "{text}");
        }
        // Python drops a member that a later duplicate key replaces, and with
        // it the surrogate; keys stay distinct exactly as in Python.
        let v = parse(r#"{"a": "\ud800", "a": "ok"}"#).unwrap();
        assert_eq!(v, Value::Object(vec![("a".into(), Value::String("ok".into()))]));
        assert_eq!(parse(r#"{"\ud800": 1, "\udc00": 2, "\ud800": 3}"#), Err(JsonError::LoneSurrogate));
        // The marker character itself, raw or escaped, is ordinary text.
        let v = parse("[\"\u{F0000}\\udb80\\udc00\u{F0001}\"]").unwrap();
        assert_eq!(v, Value::Array(vec![Value::String("\u{F0000}\u{F0000}\u{F0001}".into())]));
        assert_eq!(parse("{\"\u{F0000}\": 1, \"\\udb80\\udc00\": 2}").unwrap().to_json(), "{\"\u{F0000}\":2}");
        // ...but a text that is not JSON at all is Python's decode error.
        assert!(is_syntax(parse(r#"["\ud800", oops]"#)));
    }

    #[test]
    fn containers_and_duplicate_keys() {
        assert_eq!(parse(" [ ] "), Ok(Value::Array(vec![])));
        assert_eq!(parse("{ }"), Ok(Value::Object(vec![])));
        let v = parse(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(v, Value::Object(vec![("a".into(), int("3")), ("b".into(), int("2"))]));
        for bad in
            ["[1,]", "[,1]", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{\"a\":}", "[1 2]", "[", "{", "]", "{\"a\":1]", "[1}"]
        {
            assert!(is_syntax(parse(bad)), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn many_duplicate_keys_stay_fast_and_correct() {
        let mut text = String::from("{");
        for i in 0..20_000 {
            text.push_str(&format!("\"k{}\": {i},", i % 100));
        }
        text.push_str("\"k0\": -1}");
        let Value::Object(members) = parse(&text).unwrap() else { panic!() };
        assert_eq!(members.len(), 100);
        assert_eq!(members[0], ("k0".into(), int("-1")));
        assert_eq!(members[99], ("k99".into(), int("19999")));
    }

    #[test]
    fn depth_limit() {
        let limits = Limits { max_depth: 3, ..Limits::default() };
        assert!(parse_python_json("[[[1]]]", &limits).is_ok());
        assert!(parse_python_json("[[{}]]", &limits).is_ok());
        assert_eq!(parse_python_json("[[[[]]]]", &limits), Err(JsonError::TooDeep { max_depth: 3 }));
        assert_eq!(parse_python_json(r#"{"a":[{"b":[1]}]}"#, &limits), Err(JsonError::TooDeep { max_depth: 3 }));
        // Not JSON at all: Python's decode error, whatever the depth.
        assert!(is_syntax(parse_python_json("[[[[[[x", &limits)));
        assert!(is_syntax(parse_python_json("[[[[1]]]", &limits)));
        // Deep input costs heap, not stack.
        let deep = "[".repeat(1_000_000) + &"]".repeat(1_000_000);
        assert_eq!(parse(&deep), Err(JsonError::TooDeep { max_depth: 128 }));
        let unbalanced = "[".repeat(1_000_000);
        assert!(is_syntax(parse(&unbalanced)));
    }

    #[test]
    fn reference_data_wraps_only_decode_errors() {
        let limits = Limits::default();
        assert_eq!(reference_data("not json", &limits), Ok(wrap_text("not json")));
        assert_eq!(reference_data("", &limits), Ok(wrap_text("")));
        assert_eq!(reference_data("\u{feff}{}", &limits), Ok(wrap_text("\u{feff}{}")));
        assert_eq!(reference_data("[1]", &limits), Ok(Value::Array(vec![int("1")])));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(reference_data(&deep, &limits), Err(ParseFailure::InvalidInput("nesting deeper than 128".into())));
        assert!(matches!(reference_data(r#""\ud800""#, &limits), Err(ParseFailure::InvalidInput(_))));
    }

    #[test]
    fn to_json_is_compact_and_round_trips() {
        let text = r#"{"a": [1, -2.5, 1e16, NaN, -Infinity, true, null], "b": "x\"\\\n\u0001\u007fé😀", "a": {}}"#;
        let v = parse(text).unwrap();
        let json = v.to_json();
        assert_eq!(json, "{\"a\":{},\"b\":\"x\\\"\\\\\\n\\u0001\u{7f}é😀\"}");
        assert_eq!(parse(&json), Ok(v));
        let v = parse("[1, -2.5, 1e16, 1e-7, NaN, -Infinity, 0.0, -0.0]").unwrap();
        assert_eq!(v.to_json(), "[1,-2.5,1e+16,1e-07,NaN,-Infinity,0.0,-0.0]");
        assert_eq!(parse(&v.to_json()), Ok(v));
    }
}
