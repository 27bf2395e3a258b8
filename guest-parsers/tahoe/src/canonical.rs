//! The TAHOE canonical form and `_hash` (reference §3).
//!
//! `canonical(value)`:
//! - object: every value canonicalized to a string, then the object of those
//!   strings written as JSON, keys sorted by code point, separators `", "` and
//!   `": "`;
//! - array: elements canonicalized, deduplicated, sorted, written as a JSON
//!   array of strings;
//! - string: Python `str.strip()`, then a JSON string;
//! - numbers, booleans, null: their JSON text (floats in Python `repr` form).
//!
//! JSON strings are ASCII-only as with Python's `json.dumps(ensure_ascii=True)`.
//!
//! Every level JSON-encodes the level below, so the length at least doubles
//! per level of nesting: a 60-byte document nested 30 deep has a 4 GiB
//! canonical form. What keeps hostile input cheap:
//! - a lower-bound pass over the value rejects deep nesting before anything
//!   is built (and bounds the recursion of everything after it);
//! - array elements with equal canonical forms are recognised from the
//!   input (see `equality_key`) and built once, not once per copy;
//! - no string built may exceed `max_bytes`, checked before each append;
//! - all strings built together may not exceed [`WORK_FACTOR`] times that
//!   (a backstop: each level of nesting copies its content once more).

use crate::json::Value;
pub use crate::python_float::python_float_repr;
use crate::python_float::write_python_float;
use crate::{Limits, digest, scan};

/// All strings built while canonicalizing one value may total at most this
/// many times `max_bytes`.
pub const WORK_FACTOR: usize = 8;

/// Why no canonical form was produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CanonicalError {
    /// The canonical form (or a part of it) is longer than `max_bytes`.
    TooLarge { max_bytes: usize },
    /// Building it would take more than `WORK_FACTOR * max_bytes` bytes of
    /// intermediate strings (e.g. a long string nested many levels deep:
    /// every level holds a copy).
    TooMuchWork { max_bytes: usize },
}

impl std::fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CanonicalError::TooLarge { max_bytes } => {
                write!(f, "canonical form larger than {max_bytes} bytes")
            }
            CanonicalError::TooMuchWork { max_bytes } => write!(
                f,
                "canonical form needs more than {} bytes of intermediate strings",
                max_bytes.saturating_mul(WORK_FACTOR)
            ),
        }
    }
}

impl std::error::Error for CanonicalError {}

/// The canonical string of `value`, or an error once it (or the work to
/// build it) exceeds the budget derived from `max_bytes`.
pub fn canonical(value: &Value, max_bytes: usize) -> Result<String, CanonicalError> {
    if lower_bound(value, 0).len > max_bytes {
        return Err(CanonicalError::TooLarge { max_bytes });
    }
    let mut budget = Budget { max_bytes, work_left: max_bytes.saturating_mul(WORK_FACTOR) };
    build(value, &mut budget)
}

/// Lowercase hex SHA-256 of `itype + sub_type + canonical(data)`.
pub fn tahoe_hash(itype: &str, sub_type: &str, data: &Value, limits: &Limits) -> Result<String, CanonicalError> {
    let canon = canonical(data, limits.max_canonical_bytes)?;
    Ok(digest::sha256_hex(&[itype.as_bytes(), sub_type.as_bytes(), canon.as_bytes()]))
}

/// Python's `str.strip()` with no argument: `str.isspace()` characters,
/// which are Unicode White_Space plus U+001C..U+001F.
pub fn python_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Size and work budget for one `canonical` call.
struct Budget {
    max_bytes: usize,
    /// Bytes still allowed in intermediate canonical strings.
    work_left: usize,
}

impl Budget {
    const UNLIMITED: Budget = Budget { max_bytes: usize::MAX, work_left: usize::MAX };

    /// Fails before `out` would grow past `max_bytes` by `extra` bytes.
    fn reserve(&self, out: &str, extra: usize) -> Result<(), CanonicalError> {
        match out.len().checked_add(extra) {
            Some(len) if len <= self.max_bytes => Ok(()),
            _ => Err(CanonicalError::TooLarge { max_bytes: self.max_bytes }),
        }
    }

    /// Charges a finished intermediate string to the work budget.
    fn charge(&mut self, built: &str) -> Result<(), CanonicalError> {
        self.reserve(built, 0)?;
        match self.work_left.checked_sub(built.len()) {
            Some(left) => {
                self.work_left = left;
                Ok(())
            }
            None => Err(CanonicalError::TooMuchWork { max_bytes: self.max_bytes }),
        }
    }
}

/// Builds `canonical(value)` as a new string, charged to the work budget.
///
/// Only containers and array elements get strings of their own; scalars
/// inside objects are written straight into the parent. So the work is the
/// total length of the canonical forms of all containers and array elements.
fn build(value: &Value, budget: &mut Budget) -> Result<String, CanonicalError> {
    let mut out = String::new();
    match value {
        Value::String(s) => {
            let s = python_strip(s);
            reserve_escaped(s, Level::Json, &out, budget)?;
            out.push('"');
            write_escaped(s, Level::Json, &mut out);
            out.push('"');
        }
        Value::Array(items) => write_array(items, &mut out, budget)?,
        Value::Object(members) => write_object(members, &mut out, budget)?,
        scalar => write_scalar(scalar, &mut out, budget)?,
    }
    budget.charge(&out)?;
    Ok(out)
}

/// Null, booleans and numbers: their canonical text never needs escaping.
fn write_scalar(value: &Value, out: &mut String, budget: &Budget) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(digits) => {
            budget.reserve(out, digits.len())?;
            out.push_str(digits);
        }
        Value::Float(f) => write_python_float(*f, out),
        Value::String(_) | Value::Array(_) | Value::Object(_) => {}
    }
    Ok(())
}

/// Appends `canonical(value)` written as a JSON string literal: what an
/// object member or array element contributes to its parent.
fn write_quoted_canonical(value: &Value, out: &mut String, budget: &mut Budget) -> Result<(), CanonicalError> {
    match value {
        // The literal of a string's canonical form `"…"`, in one pass.
        Value::String(s) => {
            let s = python_strip(s);
            reserve_escaped(s, Level::JsonInJson, out, budget)?;
            out.push_str("\"\\\"");
            write_escaped(s, Level::JsonInJson, out);
            out.push_str("\\\"\"");
        }
        Value::Array(_) | Value::Object(_) => {
            let inner = build(value, budget)?;
            write_quoted_ascii(&inner, out, budget)?;
        }
        scalar => {
            out.push('"');
            write_scalar(scalar, out, budget)?;
            out.push('"');
        }
    }
    Ok(())
}

fn write_object(members: &[(String, Value)], out: &mut String, budget: &mut Budget) -> Result<(), CanonicalError> {
    // Sorting only needs the keys, so values are canonicalized straight into
    // `out` in key order. The sort is stable, so for a hand-built object with
    // a repeated key the last member of each run is the one a Python dict
    // would hold.
    let mut sorted: Vec<&(String, Value)> = members.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    out.push('{');
    let mut first = true;
    for (i, (key, value)) in sorted.iter().enumerate() {
        if sorted.get(i + 1).is_some_and(|next| next.0 == *key) {
            continue;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        reserve_escaped(key, Level::Json, out, budget)?;
        out.push('"');
        write_escaped(key, Level::Json, out);
        out.push_str("\": ");
        write_quoted_canonical(value, out, budget)?;
    }
    out.push('}');
    Ok(())
}

fn write_array(items: &[Value], out: &mut String, budget: &mut Budget) -> Result<(), CanonicalError> {
    // Elements sort by their canonical strings, so those must exist first;
    // equal ones are found beforehand so that each is built only once.
    let mut parts = Vec::with_capacity(items.len());
    // Distinct containers all end up in `out`: fail as soon as they cannot
    // fit, rather than after building every one.
    let mut at_least = out.len() + 2;
    for item in distinct_elements(items) {
        let part = build(item, budget)?;
        if matches!(item, Value::Array(_) | Value::Object(_)) {
            at_least = at_least.saturating_add(part.len() + 4);
            budget.reserve("", at_least - 2)?;
        }
        parts.push(part);
    }
    // All canonical strings are ASCII: byte order is code point order.
    parts.sort_unstable();
    parts.dedup();
    out.push('[');
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_quoted_ascii(part, out, budget)?;
    }
    out.push(']');
    Ok(())
}

/// The elements of an array with those of equal canonical form left out
/// (input order otherwise); when there are two containers or more, the
/// containers left are canonically distinct.
///
/// Canonical forms of nested containers can be exponentially larger than
/// the input, so `[X, X, X, …]` would cost the size of `canonical(X)` per
/// copy, though dedup keeps one. Comparing [`equality_key`]s instead costs
/// the size of the input. Arrays with fewer than two containers skip this:
/// scalars are cheap to build twice.
fn distinct_elements(items: &[Value]) -> Vec<&Value> {
    let containers = items.iter().filter(|v| matches!(v, Value::Array(_) | Value::Object(_))).count();
    if containers < 2 {
        return items.iter().collect();
    }
    let keys = equality_keys(items);
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
    order.dedup_by(|a, b| keys[*a] == keys[*b]);
    order.sort_unstable();
    order.into_iter().map(|i| &items[i]).collect()
}

/// The [`equality_key`] of each item, in order.
fn equality_keys(items: &[Value]) -> Vec<Vec<u8>> {
    items
        .iter()
        .map(|item| {
            let mut key = Vec::new();
            equality_key(item, &mut key);
            key
        })
        .collect()
}

/// Appends a linear-size encoding of everything `canonical(value)` depends
/// on: two values get the same key exactly when they have the same
/// canonical string. Length prefixes make it unambiguous; objects list their
/// members by key (the last of a repeated key), arrays their distinct
/// element keys in sorted order.
fn equality_key(value: &Value, out: &mut Vec<u8>) {
    fn chunk(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
        out.push(tag);
        out.extend_from_slice(&bytes.len().to_le_bytes());
        out.extend_from_slice(bytes);
    }
    match value {
        Value::String(s) => chunk(b's', python_strip(s).as_bytes(), out),
        Value::Array(items) => {
            let mut keys = equality_keys(items);
            keys.sort_unstable();
            keys.dedup();
            out.push(b'a');
            out.extend_from_slice(&keys.len().to_le_bytes());
            for key in &keys {
                chunk(b'e', key, out);
            }
        }
        Value::Object(members) => {
            let mut sorted: Vec<&(String, Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push(b'o');
            for (i, (key, member)) in sorted.iter().enumerate() {
                if sorted.get(i + 1).is_some_and(|next| next.0 == *key) {
                    continue;
                }
                chunk(b'k', key.as_bytes(), out);
                // The value's key in place, its length patched in after.
                out.push(b'v');
                let len_at = out.len();
                out.extend_from_slice(&0usize.to_le_bytes());
                equality_key(member, out);
                let len = out.len() - len_at - size_of::<usize>();
                out[len_at..len_at + size_of::<usize>()].copy_from_slice(&len.to_le_bytes());
            }
            out.push(b'O');
        }
        // Null, booleans and numbers: their canonical text is short.
        scalar => {
            let mut text = String::new();
            let _ = write_scalar(scalar, &mut text, &Budget::UNLIMITED);
            chunk(b'x', text.as_bytes(), out);
        }
    }
}

/// Appends `s` (printable ASCII: a canonical string) as a JSON string
/// literal; only `"` and `\` need escaping.
fn write_quoted_ascii(s: &str, out: &mut String, budget: &Budget) -> Result<(), CanonicalError> {
    let quote_or_backslash = |w| scan::equal(w, b'"') | scan::equal(w, b'\\');
    let is_quote_or_backslash = |b| matches!(b, b'"' | b'\\');
    let specials = scan::count(s.as_bytes(), quote_or_backslash, is_quote_or_backslash);
    let len = s.len() + specials + 2;
    budget.reserve(out, len)?;
    out.reserve(len);
    out.push('"');
    if specials * 8 < s.len() {
        // Sparse: copy the runs between specials.
        let mut run_start = 0;
        let mut from = 0;
        loop {
            let i = scan::find(s.as_bytes(), from, quote_or_backslash, is_quote_or_backslash);
            if i == s.len() {
                break;
            }
            out.push_str(&s[run_start..i]);
            out.push('\\');
            run_start = i;
            from = i + 1;
        }
        out.push_str(&s[run_start..]);
    } else if s.is_ascii() {
        // Dense (deeply nested forms are mostly backslashes): per byte, as
        // the runs between specials are too short to copy as slices.
        for b in s.bytes() {
            if matches!(b, b'"' | b'\\') {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    } else {
        for c in s.chars() {
            if matches!(c, '"' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    Ok(())
}

/// How many times a string is JSON-encoded.
#[derive(Clone, Copy)]
enum Level {
    /// `json.dumps(s)` content.
    Json,
    /// The content of `json.dumps(json.dumps(s))`, minus the inner quotes.
    JsonInJson,
}

impl Level {
    /// How a backslash and a quote produced by the first encoding come out.
    fn backslash(self) -> &'static str {
        match self {
            Level::Json => "\\",
            Level::JsonInJson => "\\\\",
        }
    }

    fn quote(self) -> &'static str {
        match self {
            Level::Json => "\"",
            Level::JsonInJson => "\\\"",
        }
    }
}

/// Fails if escaping `s` at `level` would push `out` past the size budget.
/// The crude bound (12 output bytes per input byte at most) avoids counting
/// in the common case.
fn reserve_escaped(s: &str, level: Level, out: &str, budget: &Budget) -> Result<(), CanonicalError> {
    if budget.reserve(out, s.len().saturating_mul(12).saturating_add(6)).is_ok() {
        return Ok(());
    }
    let bs = level.backslash().len();
    let len: usize = s
        .chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' if c != '"' && c != '\\' => 1,
            '"' => bs + level.quote().len(),
            '\\' => 2 * bs,
            '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => bs + 1,
            '\u{10000}'.. => 2 * (bs + 5),
            _ => bs + 5,
        })
        .sum();
    budget.reserve(out, len + 6)
}

/// Appends the ensure-ASCII JSON escaping of `s` (without quotes), encoded
/// once more for [`Level::JsonInJson`].
fn write_escaped(s: &str, level: Level, out: &mut String) {
    let bs = level.backslash();
    let bytes = s.as_bytes();
    let mut run_start = 0;
    let mut i = 0;
    loop {
        i = scan::find(
            bytes,
            i,
            |w| scan::below(w, 0x20) | scan::at_least(w, 0x7f) | scan::equal(w, b'"') | scan::equal(w, b'\\'),
            |b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\',
        );
        if i == bytes.len() {
            break;
        }
        // `i` is on a char boundary: it only ever skips ASCII or whole chars.
        out.push_str(&s[run_start..i]);
        let c = s[i..].chars().next().unwrap_or('\u{fffd}');
        i += c.len_utf8();
        run_start = i;
        out.push_str(bs);
        match c {
            '"' => out.push_str(level.quote()),
            '\\' => out.push_str(bs),
            '\n' => out.push('n'),
            '\r' => out.push('r'),
            '\t' => out.push('t'),
            '\u{8}' => out.push('b'),
            '\u{c}' => out.push('f'),
            _ => {
                let mut units = [0u16; 2];
                for (k, unit) in c.encode_utf16(&mut units).iter().enumerate() {
                    if k > 0 {
                        out.push_str(bs);
                    }
                    out.push('u');
                    for shift in [12, 8, 4, 0] {
                        out.push(char::from(b"0123456789abcdef"[usize::from((unit >> shift) & 0xf)]));
                    }
                }
            }
        }
    }
    out.push_str(&s[run_start..]);
}

/// Lower bounds of a canonical string's length and of how many `"` and `\`
/// it holds (each such character doubles when the parent escapes it).
#[derive(Clone, Copy)]
struct Bound {
    len: usize,
    specials: usize,
}

impl Bound {
    const HUGE: Bound = Bound { len: usize::MAX, specials: usize::MAX };

    /// The bound of this canonical string written as a JSON string literal.
    fn quoted(self) -> Bound {
        Bound {
            len: self.len.saturating_add(self.specials).saturating_add(2),
            specials: self.specials.saturating_mul(2).saturating_add(2),
        }
    }
}

/// Cheap lower bounds of `canonical(value)`, computed without building it.
///
/// Escaped text is never shorter than the UTF-8 it encodes, and each level
/// of containers at least doubles the `"`/`\` count (n -> 2n + 2), so
/// nesting deeper than the bits of `usize` (plus slack) exceeds any budget:
/// the walk stops there, which also bounds its recursion.
fn lower_bound(value: &Value, depth: u32) -> Bound {
    if depth > usize::BITS + 2 {
        return Bound::HUGE;
    }
    match value {
        Value::Null => Bound { len: 4, specials: 0 },
        Value::Bool(b) => Bound { len: if *b { 4 } else { 5 }, specials: 0 },
        Value::Int(digits) => Bound { len: digits.len(), specials: 0 },
        // "0.0", "NaN" and "1e+16" are the shortest shapes.
        Value::Float(_) => Bound { len: 3, specials: 0 },
        Value::String(s) => Bound { len: python_strip(s).len().saturating_add(2), specials: 2 },
        Value::Array(items) => {
            // Duplicates vanish, so only the largest element is sure to stay.
            let largest = items.iter().map(|item| lower_bound(item, depth + 1).quoted()).fold(
                Bound { len: 0, specials: 0 },
                |a, b| Bound { len: a.len.max(b.len), specials: a.specials.max(b.specials) },
            );
            Bound { len: largest.len.saturating_add(2), specials: largest.specials }
        }
        Value::Object(members) => {
            // The largest member alone is a lower bound even for a hand-built
            // object whose repeated keys collapse.
            let largest = members.iter().fold(Bound { len: 0, specials: 0 }, |acc, (key, v)| {
                let v = lower_bound(v, depth + 1).quoted();
                // `"key": ` and the quoted value.
                let len = v.len.saturating_add(key.len() + 4);
                let specials = v.specials.saturating_add(2);
                Bound { len: acc.len.max(len), specials: acc.specials.max(specials) }
            });
            Bound { len: largest.len.saturating_add(2), specials: largest.specials }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    #[test]
    // Some literals spell exact binary values on purpose.
    #[allow(clippy::excessive_precision)]
    fn float_repr_matches_python() {
        // Expected strings are Python 3 `repr(float)` output.
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (100000.0, "100000.0"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e22, "1e+22"),
            (2.5e300, "2.5e+300"),
            (1e-4, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123456789.123456789, "123456789.12345679"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (-1234.5, "-1234.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (2f64.powi(53), "9007199254740992.0"),
            // Exact ties between two shortest candidates: Python takes the
            // even digit if it reads back (Rust's `{:e}` may not)...
            (-1318105815848852.25, "-1318105815848852.2"),
            // ...but below a power of two only the upper one does.
            (2f64.powi(-24), "5.960464477539063e-08"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(*f), *want, "{f:?}");
        }
    }

    #[test]
    fn strip_matches_python_isspace() {
        let spaces = "\t\n\u{b}\u{c}\r\u{1c}\u{1d}\u{1e}\u{1f} \u{85}\u{a0}\u{1680}\u{2000}\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}";
        assert_eq!(python_strip(&format!("{spaces}x y{spaces}")), "x y");
        // Not whitespace for Python: NUL, ZWSP, BOM, U+180E.
        for kept in ["\u{0}", "\u{200b}", "\u{feff}", "\u{180e}"] {
            assert_eq!(python_strip(kept), kept);
        }
    }

    #[test]
    fn strings_are_ascii_json() {
        let v = s("a\"b\\c/\n\r\t\u{8}\u{c}\u{0}\u{7f}é\u{2028}😀");
        assert_eq!(canonical(&v, 1 << 20).unwrap(), r#""a\"b\\c/\n\r\t\b\f\u0000\u007f\u00e9\u2028\ud83d\ude00""#);
        // Inside an object the same text is encoded once more.
        let obj = Value::Object(vec![("k".into(), v)]);
        assert_eq!(
            canonical(&obj, 1 << 20).unwrap(),
            r#"{"k": "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0000\\u007f\\u00e9\\u2028\\ud83d\\ude00\""}"#
        );
    }

    #[test]
    fn hand_built_repeated_keys_keep_the_last_value() {
        let obj = Value::Object(vec![("a".into(), s("1")), ("b".into(), s("x")), ("a".into(), s("2"))]);
        assert_eq!(canonical(&obj, 1 << 20).unwrap(), r#"{"a": "\"2\"", "b": "\"x\""}"#);
    }

    #[test]
    fn budget_is_exact_at_the_edge() {
        let v = Value::Array(vec![s("ab"), s("ab")]);
        let canon = canonical(&v, 1 << 20).unwrap();
        assert_eq!(canon, r#"["\"ab\""]"#);
        assert_eq!(canonical(&v, canon.len()), Ok(canon.clone()));
        assert!(canonical(&v, canon.len() - 1).is_err());
    }

    #[test]
    fn duplicate_heavy_arrays_build_each_element_once() {
        // Each element is small in the input but 2^k in canonical form; the
        // copies differ as values (key order, padding) but not canonically.
        let nest = |inner: Value, pad: &str| {
            let mut v = Value::Object(vec![("x".into(), s(pad)), ("y".into(), inner)]);
            for _ in 0..16 {
                v = Value::Object(vec![("a".into(), v)]);
            }
            v
        };
        let one = nest(Value::Int("1".into()), "p");
        let other = nest(Value::Int("1".into()), " p ");
        let one_canon = canonical(&Value::Array(vec![one.clone()]), 1 << 30).unwrap();
        let mut many = vec![one.clone(), other, Value::Null];
        many.extend(std::iter::repeat_n(one, 5000));
        // A few times the size of one copy, not 5000 times.
        let max_bytes = 4 * one_canon.len();
        let canon = canonical(&Value::Array(many), max_bytes).unwrap();
        assert_eq!(canon, format!("[\"null\", {}]", &one_canon[1..one_canon.len() - 1]));
    }

    #[test]
    fn work_budget_counts_every_built_string() {
        let mut budget = Budget { max_bytes: 10, work_left: 25 };
        assert_eq!(budget.charge("0123456789"), Ok(()));
        assert_eq!(budget.charge("0123456789"), Ok(()));
        assert_eq!(budget.charge("0123456789"), Err(CanonicalError::TooMuchWork { max_bytes: 10 }));
        assert_eq!(budget.charge("0123456789x"), Err(CanonicalError::TooLarge { max_bytes: 10 }));
    }
}
