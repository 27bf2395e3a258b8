//! The `cowrie` parser (typtag `unr-honeypot`): Cowrie SSH/Telnet honeypot
//! events, as shipped by Filebeat or directly.
//!
//! Accepted plaintext is JSON (read as Python's `json.loads` would) of one of
//! two shapes:
//! - a Filebeat record: an object whose `message` is a string holding a JSON
//!   object with a string `eventid` starting with `cowrie.` (the shape of all
//!   production samples: `{"host": …, "message": "{\"eventid\":
//!   \"cowrie.login.failed\", …}", "agent": …, …}`);
//! - a Cowrie event itself: an object whose own `eventid` is such a string.
//!
//! Anything else is [`ParseFailure::InvalidInput`] with the reason. For
//! accepted input the document is exactly the reference's (same data, same
//! `_hash`): validation only decides between a document and an error.
//!
//! # Fuzzing
//!
//! [`parse`] is a plain function of its input, so any native fuzzer can drive
//! it. With cargo-fuzz, in a scratch crate outside this workspace
//! (`cargo fuzz init`, then depend on this crate by path):
//!
//! ```text
//! #![no_main]
//! libfuzzer_sys::fuzz_target!(|plaintext: &str| {
//!     let input = cybexp_tahoe::ParseInput {
//!         typtag: "unr-honeypot", orgid: "org", timezone: "UTC",
//!         sub_type: "unr_honeypot", plaintext,
//!     };
//!     let _ = cybexp_parser_cowrie::parse(&input);
//! });
//! ```
//!
//! and `cargo +nightly fuzz run <target>`, seeding the corpus with the
//! `message` objects and records of `shared/samples/cowrie_raw_documents.jsonl`.
//! A panic or a hang is a bug; an `Err` is an answer.

use cybexp_tahoe::{
    Limits, ParseFailure, ParseInput, Plaintext, RawDoc, Value, excerpt, parse_python_json, raw_document,
    read_plaintext,
};

/// The reference document for a Cowrie event, or why this is not one.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    let limits = Limits::default();
    let data = match read_plaintext(input.plaintext, &limits)? {
        Plaintext::Json(value) => value,
        Plaintext::Text => return Err(invalid("not JSON: a Cowrie event is a JSON object".into())),
    };
    check_event(&data, &limits)?;
    raw_document(input.sub_type, &data, &limits)
}

fn invalid(reason: String) -> ParseFailure {
    ParseFailure::InvalidInput(reason)
}

/// Accepts a Cowrie event object or a Filebeat record carrying one.
fn check_event(data: &Value, limits: &Limits) -> Result<(), ParseFailure> {
    if !matches!(data, Value::Object(_)) {
        return Err(invalid(format!("a JSON {}, not an object", data.kind())));
    }
    // A direct Cowrie event has its own `eventid` (its `message` is prose).
    if let Some(eventid) = data.get("eventid") {
        return check_eventid(eventid, "eventid");
    }
    let Some(message) = data.get("message") else {
        return Err(invalid("neither a Cowrie event (no `eventid`) nor a Filebeat record (no `message`)".into()));
    };
    let Value::String(message) = message else {
        return Err(invalid(format!("`message` is a JSON {}, not a string", message.kind())));
    };
    let event = parse_python_json(message, limits)
        .map_err(|e| invalid(format!("`message` is not JSON ({e}): {}", excerpt(message, 60))))?;
    if !matches!(event, Value::Object(_)) {
        return Err(invalid(format!("`message` holds a JSON {}, not an object", event.kind())));
    }
    match event.get("eventid") {
        Some(eventid) => check_eventid(eventid, "message.eventid"),
        None => Err(invalid("the event in `message` has no `eventid`".into())),
    }
}

/// Cowrie event ids are `cowrie.<area>.<what>`, e.g. `cowrie.login.failed`.
fn check_eventid(eventid: &Value, path: &str) -> Result<(), ParseFailure> {
    match eventid {
        Value::String(id) if id.len() > "cowrie.".len() && id.starts_with("cowrie.") => Ok(()),
        Value::String(id) => Err(invalid(format!("`{path}` {} is not a cowrie.* event id", excerpt(id, 60)))),
        other => Err(invalid(format!("`{path}` is a JSON {}, not a string", other.kind()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cybexp_tahoe::test_support::{invalid_input_reason, shared};
    use proptest::prelude::*;

    fn input(plaintext: &str) -> ParseInput<'_> {
        ParseInput { typtag: "unr-honeypot", orgid: "org", timezone: "UTC", sub_type: "unr_honeypot", plaintext }
    }

    fn reason(plaintext: &str) -> String {
        invalid_input_reason(parse(&input(plaintext)), plaintext)
    }

    #[test]
    fn production_samples_give_the_stored_documents() {
        let samples = shared("samples/cowrie_raw_documents.jsonl");
        let mut n = 0;
        for line in samples.lines().filter(|l| !l.trim().is_empty()) {
            let stored: serde_json::Value = serde_json::from_str(line).unwrap();
            let plaintext = serde_json::to_string(&stored["data"]).unwrap();
            let doc = parse(&input(&plaintext)).unwrap();
            assert_eq!(doc.hash, stored["_hash"].as_str().unwrap());
            assert_eq!(doc.sub_type, "unr_honeypot");
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, stored["data"]);
            n += 1;
        }
        assert_eq!(n, 16);
    }

    #[test]
    fn raw_document_vectors() {
        let vectors: serde_json::Value = serde_json::from_str(&shared("vectors/raw_documents.json")).unwrap();
        let mut n = 0;
        for case in vectors["cases"].as_array().unwrap().iter().filter(|c| c["typtag"] == "unr-honeypot") {
            let doc = parse(&input(case["plaintext"].as_str().unwrap())).unwrap();
            assert_eq!(doc.hash, case["expect"]["_hash"].as_str().unwrap());
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, case["expect"]["data"]);
            n += 1;
        }
        assert_eq!(n, 12);
    }

    #[test]
    fn direct_cowrie_events_are_accepted() {
        let event = r#"{"eventid": "cowrie.session.connect", "src_ip": "1.2.3.4", "message": "New connection"}"#;
        let doc = parse(&input(event)).unwrap();
        let reference = cybexp_tahoe::reference_data(event, &Limits::default()).unwrap();
        assert_eq!(doc, raw_document("unr_honeypot", &reference, &Limits::default()).unwrap());
    }

    #[test]
    fn everything_else_is_invalid_with_a_reason() {
        let cases = [
            ("", "not JSON"),
            ("login attempt [root/root] failed", "not JSON"),
            ("\u{0}\u{1}\u{2}\u{fffd}binary\u{7f}", "not JSON"),
            ("[1, 2]", "a JSON array, not an object"),
            ("\"cowrie.login.failed\"", "a JSON string, not an object"),
            ("{}", "neither a Cowrie event"),
            (r#"{"host": {"name": "cybex"}}"#, "neither a Cowrie event"),
            (r#"{"message": 5}"#, "`message` is a JSON integer"),
            (r#"{"message": "login attempt failed"}"#, "`message` is not JSON"),
            (r#"{"message": "[1]"}"#, "`message` holds a JSON array"),
            (r#"{"message": "{\"username\": \"root\"}"}"#, "has no `eventid`"),
            (r#"{"message": "{\"eventid\": \"dionaea.connection\"}"}"#, "is not a cowrie.* event id"),
            (r#"{"message": "{\"eventid\": \"cowrie.\"}"}"#, "is not a cowrie.* event id"),
            (r#"{"message": "{\"eventid\": 7}"}"#, "`message.eventid` is a JSON integer"),
            (r#"{"eventid": "COWRIE.login"}"#, "`eventid` \"COWRIE.login\" is not"),
            (r#"{"eventid": null, "message": "{\"eventid\": \"cowrie.x\"}"}"#, "`eventid` is a JSON null"),
        ];
        for (plaintext, want) in cases {
            let got = reason(plaintext);
            assert!(got.contains(want), "{plaintext:?}: {got:?} lacks {want:?}");
        }
        // Budgets the reference could not meet either.
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(reason(&deep), "nesting deeper than 128");
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse(&input(&s));
        }

        #[test]
        fn never_panics_on_record_like_text(
            eventid in ".{0,12}",
            message in r#"([{}\[\]:,"\\ ]|eventid|cowrie\.|[a-z0-9]){0,40}"#,
        ) {
            let record = serde_json::json!({ "eventid": eventid }).to_string();
            let _ = parse(&input(&record));
            let record = serde_json::json!({ "message": message }).to_string();
            let _ = parse(&input(&record));
        }
    }
}

#[cfg(target_arch = "wasm32")]
cybexp_guest_glue::parser_component!(name: "cowrie", parse: crate::parse);
