//! Helpers for the parsers' own tests.

use crate::{ParseFailure, RawDoc};

/// A file of the shared reference data (`shared/`, beside the repository).
pub use cybexp_test_kit::shared_text as shared;

/// A parser crate's sample `tests/samples/NAME`; `manifest_dir` is that
/// crate's `CARGO_MANIFEST_DIR`.
pub fn sample(manifest_dir: &str, name: &str) -> String {
    let path = format!("{manifest_dir}/tests/samples/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// How many files a parser crate's `tests/samples/` holds, not counting
/// `real/` (its tests check that every one is listed).
pub fn sample_count(manifest_dir: &str) -> usize {
    let dir = format!("{manifest_dir}/tests/samples");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    entries.filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_file())).count()
}

/// Files in `tests/samples/real/` that describe the samples.
const ABOUT_REAL_SAMPLES: [&str; 2] = ["SOURCES.md", "reference_hashes.tsv"];

/// The real published samples of a parser crate, `tests/samples/real/*`
/// but the files about them (`SOURCES.md`, where each comes from, and
/// `reference_hashes.tsv`): (file name, text), by name.
pub fn real_samples(manifest_dir: &str) -> Vec<(String, String)> {
    let dir = std::path::PathBuf::from(format!("{manifest_dir}/tests/samples/real"));
    files_in(&dir, |path| path.file_name().is_some_and(|name| !ABOUT_REAL_SAMPLES.iter().any(|about| name == *about)))
}

/// The files of `dir` that `keep` keeps: (file name, text), by name.
pub fn files_in(dir: &std::path::Path, keep: impl Fn(&std::path::Path) -> bool) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path())
        .filter(|path| keep(path))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_name().unwrap_or_default().to_string_lossy().into_owned(), text)
        })
        .collect()
}

/// Each line of a parser crate's `reference_hashes.tsv` with the text of
/// the real sample it pins, having checked that the samples are exactly
/// `listed` (by name): a sample added without a test, or a listed one
/// gone, fails.
pub fn pinned_real_samples(manifest_dir: &str, listed: &[&str]) -> Vec<(ReferenceHash, String)> {
    let samples: std::collections::BTreeMap<String, String> = real_samples(manifest_dir).into_iter().collect();
    let names: Vec<&str> = samples.keys().map(String::as_str).collect();
    assert_eq!(names, listed, "every real sample is listed here");
    reference_hashes(manifest_dir)
        .into_iter()
        .map(|pin| {
            let text = samples.get(&pin.file).unwrap_or_else(|| panic!("{}: pinned but not a sample", pin.file));
            let text = text.clone();
            (pin, text)
        })
        .collect()
}

/// The reason of an `InvalidInput` failure; panics on any other result.
pub fn invalid_input_reason(result: Result<RawDoc, ParseFailure>, plaintext: &str) -> String {
    match result {
        Err(ParseFailure::InvalidInput(reason)) => reason,
        other => panic!("{plaintext:?}: expected InvalidInput, got {other:?}"),
    }
}

/// What the reference computes for a real sample under a sub_type: one line
/// of `tests/samples/real/reference_hashes.tsv`, as
/// `guest-parsers/tahoe/tests/data/reference_hash.py` printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceHash {
    pub sub_type: String,
    pub file: String,
    /// `json` (the parsed JSON is stored) or `text` (`{"data": text}`).
    pub stored: String,
    pub hash: String,
}

/// Every line of a parser crate's `tests/samples/real/reference_hashes.tsv`.
pub fn reference_hashes(manifest_dir: &str) -> Vec<ReferenceHash> {
    let path = format!("{manifest_dir}/tests/samples/real/reference_hashes.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split('\t').collect::<Vec<_>>()[..] {
            [sub_type, file, stored, hash] => {
                ReferenceHash { sub_type: sub_type.into(), file: file.into(), stored: stored.into(), hash: hash.into() }
            }
            _ => panic!("{path}: not sub_type, file, stored, hash: {line:?}"),
        })
        .collect()
}
