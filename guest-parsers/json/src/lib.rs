//! The `json` parser: the reference archiver's behaviour for any feed
//! (reference §3), with no validation of its own. The plaintext is parsed as
//! Python's `json.loads` would; text that is not JSON is stored wrapped as
//! `{"data": text}`. The only failures are the budgets the reference could
//! not have met either (nesting deeper than `Limits::max_depth`, a lone
//! surrogate that MongoDB cannot store, a canonical form too large to hash:
//! above 32 MiB and three times the plaintext, see `Limits::for_input`). It
//! has no notion of records, so it reports none (`RawDoc::counts` is zero).
//! A plaintext that is not UTF-8 never reaches it: the host refuses it as
//! `decrypt.utf8`, as the reference fails on it too.
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
//!         typtag: "any", orgid: "org", timezone: "UTC", sub_type: "any", plaintext,
//!     };
//!     let _ = cybexp_parser_json::parse(&input);
//! });
//! ```
//!
//! and `cargo +nightly fuzz run <target>`. A panic or a hang is a bug; an
//! `Err` is an answer.

use cybexp_tahoe::{Limits, ParseFailure, ParseInput, RawDoc, raw_document, reference_data};

/// The reference document for `input.plaintext` under `input.sub_type`.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    // The canonical budget grows with the input (a large feed of small
    // events), while a small nesting bomb is held to the base.
    let limits = Limits::default().for_input(input.plaintext.len());
    let data = reference_data(input.plaintext, &limits)?;
    raw_document(input.sub_type, &data, &limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(plaintext: &str) -> ParseInput<'_> {
        ParseInput { typtag: "any", orgid: "org", timezone: "UTC", sub_type: "any_feed", plaintext }
    }

    #[test]
    fn json_is_kept_and_text_is_wrapped() {
        let doc = parse(&input(r#"{"b": 1, "a": [NaN, 1e400, 12345678901234567890123]}"#)).unwrap();
        assert_eq!(doc.sub_type, "any_feed");
        assert_eq!(doc.data_json, r#"{"b":1,"a":[NaN,Infinity,12345678901234567890123]}"#);
        for text in ["", "plain text", "\u{feff}{}", "{\"a\":", "\u{0}\u{1}binary\u{7f}", "[1,]"] {
            let doc = parse(&input(text)).unwrap();
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, serde_json::json!({ "data": text }), "{text:?}");
        }
    }

    #[test]
    fn matches_the_reference_hash() {
        // tahoe_hash.json "object_flat" and "wrapped_text", under sub_type "x"
        // and "openphish_feed".
        let doc = parse(&ParseInput { sub_type: "x", ..input(r#"{"b": 1, "a": "two"}"#) }).unwrap();
        assert_eq!(doc.hash, "956912bd599ad7145426d01a70efb4d33ef60b8ff2c81c2acd537e98cf1362a5");
        let feed = "http://a.example/\nhttps://b.example/x?y=1\n";
        let doc = parse(&ParseInput { sub_type: "openphish_feed", ..input(feed) }).unwrap();
        let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
        assert_eq!(data, serde_json::json!({ "data": feed }));
        assert_eq!(doc.hash, "c435dc3936c369cc4f11d1490c9039157facc0b90db129c7237e73d876535c75");
    }

    #[test]
    fn budgets_are_errors() {
        let deep = "[".repeat(129) + &"]".repeat(129);
        assert_eq!(parse(&input(&deep)), Err(ParseFailure::InvalidInput("nesting deeper than 128".into())));
        let hostile = "{\"a\":".repeat(40) + "1" + &"}".repeat(40);
        assert!(matches!(parse(&input(&hostile)), Err(ParseFailure::InvalidInput(_))));
        assert!(matches!(parse(&input(r#"["\udc00"]"#)), Err(ParseFailure::InvalidInput(_))));
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse(&input(&s));
        }

        #[test]
        fn never_panics_on_json_like_text(s in r#"([\[\]{}:,"\\ ]|-?[0-9.eE+-]{1,5}|true|NaN|\\u[0-9a-fA-F]{0,4}|a)*"#) {
            let _ = parse(&input(&s));
        }
    }
}

#[cfg(target_arch = "wasm32")]
cybexp_guest_glue::parser_component!(name: "json", parse: crate::parse);
