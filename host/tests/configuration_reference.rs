//! Every key the archiver's config accepts is in the configuration
//! reference (`docs/operating/configuration.md`), written in full as
//! `` `section.key` ``, and every store backend is named there.
//!
//! The keys come from the real [`Config`], not from a list kept by hand.
//! Which keys a table takes comes from its `Deserialize` (the fields
//! `deny_unknown_fields` names when a key is unknown, so an `Option` that is
//! skipped when serialized is found too); where the tables are comes from a
//! populated example, serialized: every section, both store backends, one
//! parser and one route (maps keyed by a name the operator chooses, written
//! `NAME`). A new key, section or backend fails this test until the
//! reference names it.

use std::collections::BTreeSet;
use std::path::Path;

use cybexp_archive::config::{Config, ParserConfig, Route, StoreConfig};
use cybexp_store_mongo::MongoConfig;
use serde_json::{Map, Value};

const REFERENCE: &str = "docs/operating/configuration.md";
/// A key no table has.
const PROBE: &str = "cybexp_probe_key";
/// The tag that picks a variant of a tagged section (`[store] backend`).
const TAG: &str = "backend";

/// The words serde lists after "expected" in `toml`'s error for `text`:
/// the fields of a table (or variants of a tag), or `None` when the error
/// is another (e.g. `text` reached a map, which takes any key).
fn expected(text: &str) -> Option<Vec<String>> {
    let error = toml::from_str::<Config>(text).expect_err(text).to_string();
    let line = error.lines().find(|line| line.contains(" expected "))?;
    let after = &line[line.find(" expected ")?..];
    let words: Vec<String> = after.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    (!words.is_empty()).then_some(words)
}

/// The TOML that opens the table at `path`, with its tag if it has one.
fn table(path: &[String], tag: Option<&str>) -> String {
    let mut text = if path.is_empty() { String::new() } else { format!("[{}]\n", path.join(".")) };
    if let Some(tag) = tag {
        text.push_str(&format!("{TAG} = \"{tag}\"\n"));
    }
    text
}

/// `path` and one more step.
fn below(path: &[String], name: &str) -> Vec<String> {
    let mut path = path.to_vec();
    path.push(name.to_owned());
    path
}

/// Every leaf key under `path` (`section.key`), walking the example
/// `value`; tags and their variants go to `variants`.
fn walk(path: &[String], value: &Map<String, Value>, keys: &mut BTreeSet<String>, variants: &mut BTreeSet<String>) {
    let tag = value.get(TAG).and_then(Value::as_str);
    let fields = expected(&format!("{}{PROBE} = 1\n", table(path, tag)));
    let Some(fields) = fields else {
        // A map: its keys are names, each a table of the same kind.
        assert!(!value.is_empty(), "{}: populate this map in the example", path.join("."));
        for (name, child) in value {
            let child = child.as_object().unwrap_or_else(|| panic!("{}.{name}: not a table", path.join(".")));
            walk(&below(path, name), child, keys, variants);
        }
        return;
    };
    if let Some(tag) = tag {
        variants.insert(tag.to_owned());
        keys.insert(below(path, TAG).join("."));
    }
    for field in fields {
        let here = below(path, &field);
        match value.get(&field) {
            Some(Value::Object(child)) => walk(&here, child, keys, variants),
            _ => {
                keys.insert(here.join("."));
            }
        }
    }
}

/// Configs that between them hold every section and every variant, with
/// every optional value set (so each table serializes).
fn examples() -> Vec<Config> {
    let mut config = Config::default();
    config.parsers.insert("NAME".into(), ParserConfig { file: Some("x.wasm".into()), ..Default::default() });
    config.typtags.insert("NAME".into(), Route { parser: "json".into(), sub_type: "x".into() });
    let sqlite = Config { store: StoreConfig::Sqlite { path: Some("x.db".into()) }, ..config.clone() };
    let mongo = MongoConfig {
        uri: Some("mongodb://x/".into()),
        cache_uri: Some("mongodb://x/".into()),
        archive_uri: Some("mongodb://x/".into()),
        write_concern: Some("majority".into()),
        journal: Some(true),
        ..Default::default()
    };
    let mongodb = Config { store: StoreConfig::Mongodb(Box::new(mongo)), ..config };
    vec![sqlite, mongodb]
}

/// (every key in full, every backend).
fn accepted() -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut keys, mut variants) = (BTreeSet::new(), BTreeSet::new());
    for config in examples() {
        let value = serde_json::to_value(&config).unwrap();
        walk(&[], value.as_object().unwrap(), &mut keys, &mut variants);
    }
    // The examples must show every backend the tag accepts.
    let backends = expected(&format!("[store]\n{TAG} = \"{PROBE}\"\n")).expect("the store's tag names its variants");
    assert_eq!(variants, backends.into_iter().collect(), "add an example config for each store backend");
    (keys, variants)
}

#[test]
fn the_keys_are_found_where_they_are() {
    let (keys, variants) = accepted();
    for key in [
        "data_dir",
        "log_format",
        "keys.private",
        "store.backend",
        "store.path",
        "store.uri",
        "store.journal",
        "pipeline.lease_secs",
        "parsers.NAME.file",
        "parsers.NAME.limits.fuel",
        "typtags.NAME.sub_type",
        "status.mode",
        "metrics.listen",
        "sandbox.cache_dir",
    ] {
        assert!(keys.contains(key), "{key} not found in {keys:?}");
    }
    assert!(!keys.iter().any(|key| key.contains(PROBE)), "{keys:?}");
    assert_eq!(variants, BTreeSet::from(["sqlite".to_owned(), "mongodb".to_owned()]));
    // Sections are not leaves.
    assert!(!keys.contains("pipeline") && !keys.contains("parsers.NAME.limits"), "{keys:?}");
}

#[test]
fn the_configuration_reference_names_every_key_and_backend() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(REFERENCE);
    let reference = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    let (keys, variants) = accepted();
    let missing: Vec<&String> = keys.iter().filter(|key| !reference.contains(&format!("`{key}`"))).collect();
    assert!(missing.is_empty(), "{REFERENCE} does not name these keys (as `section.key`): {missing:?}");
    let missing: Vec<&String> = variants.iter().filter(|v| !reference.contains(&format!("\"{v}\""))).collect();
    assert!(missing.is_empty(), "{REFERENCE} does not name these store backends: {missing:?}");
}
