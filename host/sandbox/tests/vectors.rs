//! The shared vectors through the real, sandboxed parser components (not
//! only natively): every `_hash` and every stored document must match the
//! reference implementation's to the byte.

use cybexp_sandbox::{ParseInput, Sandbox};
use serde_json::Value;

fn shared(path: &str) -> Value {
    serde_json::from_str(&cybexp_test_kit::shared_text(path)).unwrap()
}

fn str_field<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key].as_str().unwrap_or_else(|| panic!("field {key} in {case}"))
}

#[test]
fn tahoe_hash_vectors_through_the_json_component() {
    let sandbox = Sandbox::with_builtin_parsers().unwrap();
    let vectors = shared("vectors/tahoe_hash.json");
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "expected the full vector set, got {}", cases.len());
    for case in cases {
        let name = str_field(case, "name");
        let event = ParseInput {
            typtag: "t",
            orgid: "o",
            timezone: "UTC",
            sub_type: str_field(case, "sub_type"),
            plaintext: str_field(case, "data_json"),
        };
        let (result, _) = sandbox.parse("json", &event);
        let doc = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.hash, str_field(case, "hash"), "case {name}");
        assert_eq!(doc.sub_type, str_field(case, "sub_type"), "case {name}");
    }
}

#[test]
fn raw_document_vectors_through_the_routed_components() {
    let sandbox = Sandbox::with_builtin_parsers().unwrap();
    let vectors = shared("vectors/raw_documents.json");
    for case in vectors["cases"].as_array().unwrap() {
        let typtag = str_field(case, "typtag");
        let (parser, sub_type) = match typtag {
            "unr-honeypot" => ("cowrie", "unr_honeypot"),
            "openphish_feed" => ("url-list", "openphish_feed"),
            other => panic!("no route for vector typtag {other}"),
        };
        let event = ParseInput {
            typtag,
            orgid: str_field(case, "orgid"),
            timezone: str_field(case, "timezone"),
            sub_type,
            plaintext: str_field(case, "plaintext"),
        };
        let (result, stats) = sandbox.parse(parser, &event);
        let doc = result.unwrap_or_else(|e| panic!("{typtag}: {e}"));
        let expect = &case["expect"];
        assert_eq!(doc.hash, str_field(expect, "_hash"));
        assert_eq!(doc.sub_type, str_field(expect, "sub_type"));
        let data: Value = serde_json::from_str(&doc.data_json).unwrap();
        // Same values and the same key order as the reference stored.
        assert_eq!(serde_json::to_string(&data).unwrap(), serde_json::to_string(&expect["data"]).unwrap());
        assert!(stats.fuel_used > 0);
    }
}

#[test]
fn production_samples_keep_their_hashes() {
    let sandbox = Sandbox::with_builtin_parsers().unwrap();
    let text = cybexp_test_kit::shared_text("samples/cowrie_raw_documents.jsonl");
    let mut count = 0;
    for line in text.lines() {
        let stored: Value = serde_json::from_str(line).unwrap();
        let plaintext = serde_json::to_string(&stored["data"]).unwrap();
        let event = ParseInput {
            typtag: "unr-honeypot",
            orgid: str_field(&stored, "orgid"),
            timezone: str_field(&stored, "timezone"),
            sub_type: "unr_honeypot",
            plaintext: &plaintext,
        };
        let (result, _) = sandbox.parse("cowrie", &event);
        assert_eq!(result.unwrap().hash, str_field(&stored, "_hash"));
        count += 1;
    }
    assert_eq!(count, 16);
}

#[test]
fn builtin_parsers_identify_themselves() {
    let sandbox = Sandbox::with_builtin_parsers().unwrap();
    let names: Vec<_> = sandbox.parsers().map(|p| (p.name.as_str(), p.component_name.as_str())).collect();
    assert_eq!(names, [("cowrie", "cowrie"), ("email", "email"), ("json", "json"), ("url-list", "url-list")]);
    assert!(sandbox.parsers().all(|p| p.version == env!("CARGO_PKG_VERSION")));
}
