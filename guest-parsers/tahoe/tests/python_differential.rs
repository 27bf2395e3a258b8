//! Differential check against CPython: `tests/data/python_differential.json`
//! holds random (often mangled) JSON texts with what CPython's `json.loads`,
//! `json.dumps` and the reference canonical form made of them (see the
//! generator script beside it).

use cybexp_tahoe::{Limits, Plaintext, raw_document, read_plaintext, wrap_text};
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    outcome: String,
    data_json: Option<String>,
    hash: Option<String>,
}

#[test]
fn agrees_with_cpython() {
    // TAHOE_DIFF_CORPUS: a bigger corpus made by the generator, for local runs.
    let path = std::env::var("TAHOE_DIFF_CORPUS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/python_differential.json").into());
    let corpus: Corpus = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(corpus.cases.len() >= 400);
    let limits = Limits::default();
    for (i, case) in corpus.cases.iter().enumerate() {
        let ctx = format!("case {i}: {:?}", case.text);
        let data = match (read_plaintext(&case.text, &limits), case.outcome.as_str()) {
            (Ok(Plaintext::Json(value)), "json") => value,
            (Ok(Plaintext::Text), "text") => wrap_text(&case.text),
            (Err(_), "error") => continue,
            (got, want) => panic!("{ctx}: expected {want}, got {got:?}"),
        };
        assert_eq!(Some(data.to_json()), case.data_json, "{ctx}: data_json");
        let doc = raw_document("x", &data, &limits).unwrap();
        assert_eq!(Some(doc.hash), case.hash, "{ctx}: hash");
    }
}
