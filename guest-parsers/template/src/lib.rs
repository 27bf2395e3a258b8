//! A template parser: indicator records, one JSON object per submission
//! with an `"indicator"` field, e.g. `{"indicator": "198.51.100.7", "kind":
//! "ip"}`. Copy this crate to start a parser of your own
//! (guest-parsers/README.md says how to build, check, fuzz and replay it).
//!
//! What a parser decides, and how the archiver records it:
//! - `Ok(RawDoc)`: SUCCESS; the document is stored and `_hash` added to the entry.
//! - `Err(ParseFailure::NotSupported)`: NOT_SUPPORTED; the entry is skipped
//!   (`state: "not_supported"`) until an operator requeues it.
//! - `Err(ParseFailure::InvalidInput)`: ERROR `parser.invalid_input`
//!   (`state: "parse_failed"`) with the reason as the entry's error text.
//! - A panic, running out of fuel, time or memory: ERROR `parser.trap`,
//!   `parser.fuel`, `parser.deadline`, `parser.memory`. The sandbox stops
//!   the parser; nothing else is affected.

use cybexp_tahoe::{Limits, ParseFailure, ParseInput, RawDoc, Value, excerpt, raw_document, reference_data};

pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    // The canonical-form budget grows with the input, as the sandbox's fuel
    // and deadline do; a small, exponentially nested input keeps the base.
    let limits = Limits::default().for_input(input.plaintext.len());
    // Python-compatible JSON (the reference's rules), or `{"data": text}`.
    let data = reference_data(input.plaintext, &limits)?;
    let Value::Object(fields) = &data else {
        return Err(ParseFailure::NotSupported("not a JSON object".into()));
    };
    match fields.iter().find(|(key, _)| key == "indicator") {
        Some((_, Value::String(indicator))) if !indicator.is_empty() => raw_document(input.sub_type, &data, &limits),
        Some((_, other)) => Err(ParseFailure::InvalidInput(format!(
            "\"indicator\" must be a non-empty string, not {}",
            excerpt(&other.to_json(), 40)
        ))),
        // Wrapped text lands here too: `{"data": ...}` has no indicator.
        None => Err(ParseFailure::NotSupported("no \"indicator\" field".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(plaintext: &str) -> ParseInput<'_> {
        ParseInput { typtag: "indicators", orgid: "org", timezone: "UTC", sub_type: "indicators", plaintext }
    }

    #[test]
    fn an_indicator_record_is_stored_with_its_reference_hash() {
        let text = r#"{"indicator": "198.51.100.7", "kind": "ip"}"#;
        let doc = parse(&input(text)).unwrap();
        assert_eq!(doc.data_json, r#"{"indicator":"198.51.100.7","kind":"ip"}"#);
        // The hash is the reference's: SHA-256 of "raw" + sub_type + canonical(data).
        let data = reference_data(text, &Limits::default()).unwrap();
        assert_eq!(doc.hash, cybexp_tahoe::tahoe_hash("raw", "indicators", &data, &Limits::default()).unwrap());
    }

    #[test]
    fn other_input_is_not_supported_or_invalid() {
        for text in ["[1, 2]", "plain text", r#"{"kind": "ip"}"#] {
            assert!(matches!(parse(&input(text)), Err(ParseFailure::NotSupported(_))), "{text}");
        }
        for text in [r#"{"indicator": 7}"#, r#"{"indicator": ""}"#] {
            assert!(matches!(parse(&input(text)), Err(ParseFailure::InvalidInput(_))), "{text}");
        }
    }

    #[test]
    fn the_sample_parses() {
        let sample = include_str!("../tests/samples/indicator.json");
        assert!(parse(&input(sample)).is_ok());
    }
}

#[cfg(target_arch = "wasm32")]
cybexp_guest_glue::parser_component!(name: "template", parse: crate::parse);
