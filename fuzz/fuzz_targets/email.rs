#![no_main]
//! The `email` parser (see `src/parsers.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| cybexp_archive_fuzz::parsers::check(
    &cybexp_archive_fuzz::parsers::EMAIL,
    data
));
