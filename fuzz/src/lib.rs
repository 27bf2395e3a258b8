//! The checks behind every fuzz target, as plain functions of the input
//! bytes: `fuzz_targets/*.rs` hand them to libFuzzer, and `tests/replay.rs`
//! runs the seeds and every saved crash through them on plain stable
//! `cargo test`, so a fixed crash stays fixed without cargo-fuzz.
//!
//! Each check panics (with what was violated) on a bug; returning is a pass.

pub mod envelope;
pub mod envelope_v3;
pub mod parsers;
pub mod status;
pub mod tahoe;

/// Parsers only ever see UTF-8 (the host refuses other plaintext as
/// `decrypt.utf8` before any parser runs), so the fuzzers' bytes are read
/// lossily: every mutation still reaches the parser, as some UTF-8 text.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}
#[cfg(feature = "config")]
pub mod config;
