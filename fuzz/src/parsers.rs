//! `json`, `cowrie`, `url_list`, `email`: one target per parser.
//!
//! Every input ends in a document, NOT_SUPPORTED or an invalid-input reason
//! (the `Result` says so; the reason must not be empty); a document's
//! `_hash` is the one its `data` hashes to under its `sub_type`, and its
//! record counts are consistent (a note exactly when something was
//! malformed); and, as each parser's docs promise, validation only decides
//! between a document and an error: a document is exactly the reference's
//! (the `json` parser's) for the same plaintext.

use cybexp_tahoe::{Limits, ParseFailure, ParseInput, RawDoc, parse_python_json, tahoe_hash, wrap_text};

/// A parser under test: the typtag and sub_type it is routed with.
pub struct Parser {
    pub parse: fn(&ParseInput<'_>) -> Result<RawDoc, ParseFailure>,
    pub typtag: &'static str,
    pub sub_type: &'static str,
    /// Its documents are always `{"data": text}` (email).
    pub always_wrapped: bool,
}

pub const JSON: Parser =
    Parser { parse: cybexp_parser_json::parse, typtag: "any", sub_type: "any_feed", always_wrapped: false };
pub const COWRIE: Parser = Parser {
    parse: cybexp_parser_cowrie::parse,
    typtag: "unr-honeypot",
    sub_type: "unr_honeypot",
    always_wrapped: false,
};
pub const URL_LIST: Parser = Parser {
    parse: cybexp_parser_url_list::parse,
    typtag: "openphish_feed",
    sub_type: "openphish_feed",
    always_wrapped: false,
};
pub const EMAIL: Parser =
    Parser { parse: cybexp_parser_email::parse, typtag: "email", sub_type: "email", always_wrapped: true };

pub fn check(parser: &Parser, data: &[u8]) {
    let plaintext = crate::text(data);
    let input = ParseInput {
        typtag: parser.typtag,
        orgid: "org",
        timezone: "UTC",
        sub_type: parser.sub_type,
        plaintext: &plaintext,
    };
    let outcome = (parser.parse)(&input);
    assert_eq!(outcome, (parser.parse)(&input), "the same input parsed twice differently");
    let doc = match outcome {
        Ok(doc) => doc,
        Err(ParseFailure::InvalidInput(reason) | ParseFailure::NotSupported(reason)) => {
            assert!(!reason.trim().is_empty(), "a failure without a reason");
            return;
        }
    };
    assert_eq!(doc.sub_type, parser.sub_type);
    // Counts that cannot be: more malformed records than records, or a note
    // without a malformed record (or the other way round).
    assert!(doc.counts.malformed <= doc.counts.records, "{:?}", doc.counts);
    assert_eq!(doc.first_malformed.is_some(), doc.counts.malformed > 0, "{:?}", doc.first_malformed);
    // The hash is the data's (under the budget the parsers give this input).
    let limits = Limits::default().for_input(plaintext.len());
    let data = parse_python_json(&doc.data_json, &limits)
        .unwrap_or_else(|e| panic!("data_json does not parse ({e}): {}", cybexp_tahoe::excerpt(&doc.data_json, 200)));
    let hash = tahoe_hash("raw", &doc.sub_type, &data, &limits).expect("a stored document's data hashes");
    assert_eq!(doc.hash, hash, "_hash is not the hash of data");
    // The document is the reference's.
    if parser.always_wrapped {
        assert_eq!(data, wrap_text(&plaintext), "not the plaintext wrapped as {{\"data\": text}}");
    }
    if parser.typtag != JSON.typtag {
        let reference = (JSON.parse)(&ParseInput { sub_type: parser.sub_type, ..input })
            .expect("the json parser makes a document of anything another parser accepts");
        assert_eq!(doc.stored(), reference.stored(), "not the reference document");
    }
}
