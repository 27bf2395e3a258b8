//! Helpers for the parsers' own tests.

use crate::{ParseFailure, RawDoc};

/// A file of the shared reference data (`shared/`, beside the repository).
pub fn shared(path: &str) -> String {
    let full = format!("{}/../../../shared/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A parser crate's sample `tests/samples/NAME`; `manifest_dir` is that
/// crate's `CARGO_MANIFEST_DIR`.
pub fn sample(manifest_dir: &str, name: &str) -> String {
    let path = format!("{manifest_dir}/tests/samples/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// How many files a parser crate's `tests/samples/` holds (its tests check
/// that every one is listed).
pub fn sample_count(manifest_dir: &str) -> usize {
    let dir = format!("{manifest_dir}/tests/samples");
    std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")).count()
}

/// The reason of an `InvalidInput` failure; panics on any other result.
pub fn invalid_input_reason(result: Result<RawDoc, ParseFailure>, plaintext: &str) -> String {
    match result {
        Err(ParseFailure::InvalidInput(reason)) => reason,
        other => panic!("{plaintext:?}: expected InvalidInput, got {other:?}"),
    }
}
