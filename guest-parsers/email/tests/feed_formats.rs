//! Every format reported mail comes in (see the crate docs), as a realistic
//! sample in `tests/samples/`: the parser must store exactly what the
//! reference stores for it, which is what the `json` parser (the
//! reference's behaviour, reference §3) makes of the same plaintext.

use cybexp_tahoe::ParseInput;

/// Every sample is text, so the reference stores it wrapped as `{"data": text}`.
/// `reported.mbox` holds three messages; the first has a body line starting
/// with "From " that its writer did not quote (mboxcl2 writers do not), the
/// second one that it did (`>From`).
const SAMPLES: [&str; 3] = ["phish_plain.eml", "phish_multipart.eml", "reported.mbox"];

fn sample(name: &str) -> String {
    cybexp_tahoe::test_support::sample(env!("CARGO_MANIFEST_DIR"), name)
}

fn input(plaintext: &str) -> ParseInput<'_> {
    ParseInput { typtag: "email", orgid: "org", timezone: "UTC", sub_type: "email", plaintext }
}

#[test]
fn every_sample_is_stored_as_the_reference_stores_it() {
    let on_disk = cybexp_tahoe::test_support::sample_count(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(on_disk, SAMPLES.len(), "every sample is listed here");
    for name in SAMPLES {
        let text = sample(name);
        // Line endings as written: CRLF for the messages, LF for the mbox.
        assert_eq!(text.contains("\r\n"), name.ends_with(".eml"), "{name}");
        for variant in [text.clone(), text.replace("\r\n", "\n"), text.replace("\r\n", "\n").replace('\n', "\r\n")] {
            let oracle = cybexp_parser_json::parse(&input(&variant)).unwrap();
            let doc = cybexp_parser_email::parse(&input(&variant)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(doc, oracle, "{name}");
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, serde_json::json!({ "data": variant }), "{name}");
        }
    }
}

#[test]
fn a_broken_message_anywhere_in_the_mbox_is_refused() {
    let mbox = sample("reported.mbox");
    // Break the header of the third message (the one after MAILER-DAEMON).
    let broken = mbox.replacen("Subject: =?UTF-8?Q?Your_parcel", "Subject =?UTF-8?Q?Your_parcel", 1);
    assert_ne!(broken, mbox);
    match cybexp_parser_email::parse(&input(&broken)) {
        Err(cybexp_tahoe::ParseFailure::InvalidInput(why)) => {
            assert!(why.starts_with("mbox message 3: line "), "{why}");
            assert!(why.contains("not a header field"), "{why}");
            assert!(why.contains("expected an RFC 5322 message or an mbox of them"), "{why}");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}
