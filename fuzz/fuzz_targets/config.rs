#![no_main]
//! TOML config and CYBEX-P `config.json` loading (see `src/config.rs`; feature `config`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| cybexp_archive_fuzz::config::check(data));
