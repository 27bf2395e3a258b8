//! TAHOE raw documents as the CYBEX-P reference builds them (reference §3):
//! Python-compatible JSON parsing, the canonical form, and `_hash`.
//!
//! Used inside the WebAssembly parsers and natively (tests, fuzzing, host).
//! Everything that depends on untrusted input runs under [`Limits`].
//!
//! # Where this differs from the Python reference
//!
//! For every text the reference turns into a document, this crate makes the
//! same document (same data, same `_hash`), with these exceptions, all of
//! them budgets or things the reference could not store either:
//! - nesting deeper than [`Limits::max_depth`] (128) is an error. Python
//!   parses up to its recursion limit (~1000), but the canonical form of
//!   anything nested that deep has more than 2^128 bytes, so the reference
//!   never finished hashing such a document;
//! - a canonical form above [`Limits::max_canonical_bytes`] is an error where
//!   Python would grind through it: 32 MiB, or [`CANONICAL_BYTES_PER_INPUT_BYTE`]
//!   (3) times the plaintext's size when that is more ([`Limits::for_input`]);
//! - a string with a lone surrogate escape (`"\ud800"`) is an error: Python
//!   parses it but pymongo cannot encode it, so no document was stored;
//! - integers keep full precision at any length. CPython 3.11+ (and the
//!   late 3.7-3.10 security releases) refuse int literals over 4300 digits
//!   with a `ValueError` that is not a `JSONDecodeError`, so the outcome
//!   there depends on the reference's Python version.
//!
//! Syntax errors report byte offsets where Python reports character indices.

pub mod canonical;
pub mod digest;
pub mod json;
mod python_float;
mod records;
mod scan;
// Always compiled natively (not behind a test-only feature), so `cargo test`
// and `cargo run` share one build; nothing of it is linked unless a test
// calls it. Never in the wasm guests.
#[cfg(not(target_arch = "wasm32"))]
pub mod test_support;

pub use canonical::{CanonicalError, canonical, tahoe_hash};
pub use json::{JsonError, Plaintext, Value, parse_python_json, read_plaintext, wrap_text};
pub use records::{Line, MAX_NOTE_CHARS, RecordCounts, Tally, cut_note, lines};

/// Budgets for work that depends on untrusted input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of arrays/objects accepted by the JSON parser. The
    /// parser itself is iterative, but dropping, serializing and hashing a
    /// [`Value`] recurse, so keep this in the hundreds at most. (Nothing nested
    /// deeper than ~25 levels fits the default canonical budget anyway.)
    pub max_depth: usize,
    /// Largest canonical string built while hashing (it grows 2x per level).
    /// All intermediate strings together may take
    /// [`canonical::WORK_FACTOR`] times this.
    pub max_canonical_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 128, max_canonical_bytes: 32 << 20 }
    }
}

/// Canonical bytes allowed per byte of plaintext, above the base
/// [`Limits::max_canonical_bytes`].
///
/// What real feeds need, with the reference's own canonical form
/// (`tests/data/reference_hash.py`): the 16 production Cowrie documents 1.3
/// to 1.5 times their JSON, OpenPhish text 1.1, a 15.9 MB `{"events":
/// [{"id", "msg", "tags"}, …]}` feed 2.25 (35.7 MB: the contract escapes
/// each nesting level again). What fits: a 16 MiB feed one level deeper
/// (3.07 times, 51.6 MB) needs between 224 and 256 MiB of a sandboxed
/// parser's memory (measured by lowering `max_memory_bytes`), so three times
/// the largest input the sandbox takes (16 MiB) stays within its default
/// 256 MiB memory cap. A nesting bomb grows exponentially from a few bytes:
/// the allowance for it is nothing, and the base stops it.
pub const CANONICAL_BYTES_PER_INPUT_BYTE: usize = 3;

impl Limits {
    /// These limits for a plaintext of `input_bytes`: the canonical form may
    /// be [`CANONICAL_BYTES_PER_INPUT_BYTE`] times the input when that is more
    /// than the base, as the sandbox's fuel and deadline grow with the input.
    pub fn for_input(&self, input_bytes: usize) -> Limits {
        let allowance = input_bytes.saturating_mul(CANONICAL_BYTES_PER_INPUT_BYTE);
        Limits { max_canonical_bytes: self.max_canonical_bytes.max(allowance), ..*self }
    }
}

/// The event handed to a parser (the WIT `event` record, natively).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseInput<'a> {
    pub typtag: &'a str,
    pub orgid: &'a str,
    pub timezone: &'a str,
    pub sub_type: &'a str,
    pub plaintext: &'a str,
}

/// What a parser produces (the WIT `raw-document` record, natively).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawDoc {
    pub sub_type: String,
    /// `data` as JSON text in input key order (see [`Value::to_json`]).
    pub data_json: String,
    /// Lowercase hex SHA-256 of `"raw" + sub_type + canonical(data)`.
    pub hash: String,
    /// The records the parser read and how many were malformed (all zero
    /// for a parser that does not count, such as `json`). Not stored: the
    /// host shows them to the operator.
    pub counts: RecordCounts,
    /// Where the first malformed record is and what is wrong with it, e.g.
    /// `line 812: whitespace or a control character inside a URL: "…"`; at
    /// most [`MAX_NOTE_CHARS`]. It may quote the feed, so it goes where a
    /// parser's error text goes (the operator's tools), not into logs.
    pub first_malformed: Option<String>,
}

impl RawDoc {
    /// This document with what `tally` counted.
    pub fn counted(self, tally: Tally) -> RawDoc {
        let (counts, first_malformed) = tally.finish();
        RawDoc { counts, first_malformed, ..self }
    }

    /// What is stored: sub_type, data JSON and `_hash`, without the counts.
    /// Two parsers store the same document when these are equal.
    pub fn stored(&self) -> (&str, &str, &str) {
        (&self.sub_type, &self.data_json, &self.hash)
    }
}

/// Why a parser made no document (the WIT `failure` variant, natively).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseFailure {
    InvalidInput(String),
    NotSupported(String),
}

impl std::fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseFailure::InvalidInput(r) => write!(f, "invalid input: {r}"),
            ParseFailure::NotSupported(r) => write!(f, "not supported: {r}"),
        }
    }
}

/// `text` quoted for an error message: escaped like Rust's `{:?}` (so control
/// characters show) and cut to `max_chars` characters with `…`.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// The reference data step (reference §3 step 2): the plaintext parsed as
/// Python's `json.loads` would, or wrapped as `{"data": text}` when it is not
/// JSON.
pub fn reference_data(plaintext: &str, limits: &Limits) -> Result<Value, ParseFailure> {
    json::reference_data(plaintext, limits)
}

/// Builds the raw document for already-parsed `data` under `sub_type`.
pub fn raw_document(sub_type: &str, data: &Value, limits: &Limits) -> Result<RawDoc, ParseFailure> {
    let hash = tahoe_hash("raw", sub_type, data, limits).map_err(|e| ParseFailure::InvalidInput(e.to_string()))?;
    Ok(RawDoc { sub_type: sub_type.to_owned(), data_json: data.to_json(), hash, ..RawDoc::default() })
}
