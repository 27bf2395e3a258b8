//! The shared test vectors (reference §3): exact canonical strings, hashes
//! and stored documents, including documents from a production archive.

use cybexp_tahoe::{Limits, Value, canonical, parse_python_json, raw_document, reference_data, tahoe_hash};
use serde::Deserialize;

use cybexp_test_kit::shared_text as shared;

#[derive(Deserialize)]
struct Cases<T> {
    cases: Vec<T>,
}

#[derive(Deserialize)]
struct HashCase {
    name: String,
    itype: String,
    sub_type: String,
    data_json: String,
    canonical: String,
    hash: String,
}

#[derive(Deserialize)]
struct RawCase {
    typtag: String,
    orgid: String,
    timezone: String,
    plaintext: String,
    expect: StoredDoc,
}

#[derive(Deserialize)]
struct StoredDoc {
    itype: String,
    sub_type: String,
    data: serde_json::Value,
    orgid: String,
    timezone: String,
    #[serde(rename = "_hash")]
    hash: String,
}

/// The archiver's typtag → sub_type configuration for these vectors.
fn sub_type_for(typtag: &str) -> &str {
    match typtag {
        "unr-honeypot" => "unr_honeypot",
        other => other,
    }
}

/// `data_json` read back by an independent parser, for structural comparison.
fn as_serde(value: &Value) -> serde_json::Value {
    serde_json::from_str(&value.to_json()).expect("to_json is JSON")
}

#[test]
fn tahoe_hash_vectors() {
    let cases: Cases<HashCase> = serde_json::from_str(&shared("vectors/tahoe_hash.json")).unwrap();
    assert_eq!(cases.cases.len(), 31);
    assert_eq!(cases.cases.iter().filter(|c| c.name.starts_with("production_")).count(), 16);
    let limits = Limits::default();
    for case in &cases.cases {
        let data = parse_python_json(&case.data_json, &limits).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let canon = canonical(&data, limits.max_canonical_bytes).unwrap();
        assert_eq!(canon, case.canonical, "{}: canonical", case.name);
        let hash = tahoe_hash(&case.itype, &case.sub_type, &data, &limits).unwrap();
        assert_eq!(hash, case.hash, "{}: hash", case.name);
    }
}

#[test]
fn raw_document_vectors() {
    let cases: Cases<RawCase> = serde_json::from_str(&shared("vectors/raw_documents.json")).unwrap();
    assert_eq!(cases.cases.len(), 13);
    let limits = Limits::default();
    for (i, case) in cases.cases.iter().enumerate() {
        let sub_type = sub_type_for(&case.typtag);
        let data = reference_data(&case.plaintext, &limits).unwrap();
        let doc = raw_document(sub_type, &data, &limits).unwrap();
        let expect = &case.expect;
        assert_eq!((expect.itype.as_str(), expect.orgid.as_str()), ("raw", case.orgid.as_str()), "case {i}");
        assert_eq!(expect.timezone, case.timezone, "case {i}");
        assert_eq!(doc.sub_type, expect.sub_type, "case {i}");
        assert_eq!(as_serde(&data), expect.data, "case {i}: data");
        let reread: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
        assert_eq!(reread, expect.data, "case {i}: data_json");
        assert_eq!(doc.hash, expect.hash, "case {i}: _hash");
    }
}

#[test]
fn production_cowrie_samples() {
    let limits = Limits::default();
    let samples = shared("samples/cowrie_raw_documents.jsonl");
    let mut n = 0;
    for line in samples.lines().filter(|l| !l.trim().is_empty()) {
        let stored: serde_json::Value = serde_json::from_str(line).unwrap();
        // The plaintext the API received is the data object as JSON text.
        let plaintext = serde_json::to_string(&stored["data"]).unwrap();
        let data = reference_data(&plaintext, &limits).unwrap();
        assert_eq!(as_serde(&data), stored["data"]);
        let doc = raw_document(stored["sub_type"].as_str().unwrap(), &data, &limits).unwrap();
        assert_eq!(doc.hash, stored["_hash"].as_str().unwrap());
        n += 1;
    }
    assert_eq!(n, 16);
}
