//! `config` (feature `config`): the archiver's own config parsing,
//! `cybexp_archive::config`, on both of the formats `Config::load` reads
//! (it reads the file and picks by extension; the fuzzer calls the two
//! parsers it picks between, without the file). The first byte picks the
//! format: even, TOML (`archiver.toml`, `toml::from_str::<Config>`); odd, a
//! CYBEX-P `config.json` (`Config::from_cybexp_json`). The rest is the text.
//! Checks: no panic; an error has a non-empty message, bounded by the
//! size of the input; a TOML config that loads serialises back to TOML that
//! loads as the same config, and a `config.json` maps to the MongoDB store.

use cybexp_archive::config::{Config, StoreConfig};

pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let text = crate::text(rest);
    if selector % 2 == 0 {
        match toml::from_str::<Config>(&text) {
            Ok(config) => {
                let again = toml::to_string(&config).expect("a loaded config serialises");
                let back: Config = toml::from_str(&again)
                    .unwrap_or_else(|e| panic!("re-serialised config does not load: {e}\n{again}"));
                assert_eq!(back, config, "TOML round trip changed the config");
                let _ = config.routes();
                let _ = config.pipeline.lease();
            }
            Err(e) => clear(&e.to_string(), text.len()),
        }
    } else {
        match Config::from_cybexp_json(&text) {
            Ok(config) => assert!(matches!(config.store, StoreConfig::Mongodb(_)), "config.json maps to MongoDB"),
            Err(e) => clear(&format!("{e:#}"), text.len()),
        }
    }
}

/// A clear error: something is said, and it is bounded by the input (TOML
/// errors quote the offending line, which may be the whole input).
fn clear(message: &str, input_len: usize) {
    assert!(!message.trim().is_empty(), "an empty error");
    assert!(
        message.len() <= 1024 + 2 * input_len,
        "an error of {} bytes for {input_len} bytes of input",
        message.len()
    );
}
