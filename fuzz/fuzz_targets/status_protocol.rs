#![no_main]
//! Both directions of the status socket (see `src/status.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| cybexp_archive_fuzz::status::check(data));
