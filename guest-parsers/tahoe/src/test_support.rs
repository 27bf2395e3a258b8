//! Helpers for the parsers' own tests.

use crate::{ParseFailure, RawDoc};

/// A file of the shared reference data (`shared/`, beside the repository).
pub fn shared(path: &str) -> String {
    let full = format!("{}/../../../shared/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The reason of an `InvalidInput` failure; panics on any other result.
pub fn invalid_input_reason(result: Result<RawDoc, ParseFailure>, plaintext: &str) -> String {
    match result {
        Err(ParseFailure::InvalidInput(reason)) => reason,
        other => panic!("{plaintext:?}: expected InvalidInput, got {other:?}"),
    }
}
