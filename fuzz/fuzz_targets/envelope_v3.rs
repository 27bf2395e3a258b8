#![no_main]
//! v3 decryption (HPKE with X-Wing) on AWS-LC (see `src/envelope_v3.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| cybexp_archive_fuzz::envelope_v3::check(data));
