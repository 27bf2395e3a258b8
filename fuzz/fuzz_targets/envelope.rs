#![no_main]
//! Legacy and v2 decryption on both RSA backends (see `src/envelope.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| cybexp_archive_fuzz::envelope::check(data));
