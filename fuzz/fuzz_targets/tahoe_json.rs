#![no_main]
//! Python-compatible JSON, canonical form and `_hash` (see `src/tahoe.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| cybexp_archive_fuzz::tahoe::check(data));
