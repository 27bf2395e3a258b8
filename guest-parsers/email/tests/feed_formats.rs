//! Every format reported mail comes in (see the crate docs), as a realistic
//! sample in `tests/samples/`: the parser must store exactly what the
//! reference stores for it, which is what the `json` parser (the
//! reference's behaviour, reference §3) makes of the same plaintext. And
//! real phishing mail (`tests/samples/real/`, sources in `SOURCES.md`),
//! stored with the `_hash` Python gives it.

use cybexp_tahoe::test_support::pinned_real_samples;
use cybexp_tahoe::{ParseInput, RecordCounts};

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
            assert_eq!(doc.stored(), oracle.stored(), "{name}");
            assert_eq!(doc.counts.malformed, 0, "{name}: {:?}", doc.first_malformed);
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, serde_json::json!({ "data": variant }), "{name}");
        }
    }
}

#[test]
fn a_broken_message_in_an_mbox_is_counted_and_two_in_three_are_refused() {
    let mbox = sample("reported.mbox");
    // Break the header of the third message (the one after MAILER-DAEMON).
    let broken = mbox.replacen("Subject: =?UTF-8?Q?Your_parcel", "Subject =?UTF-8?Q?Your_parcel", 1);
    assert_ne!(broken, mbox);
    let doc = cybexp_parser_email::parse(&input(&broken)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc.stored(), cybexp_parser_json::parse(&input(&broken)).unwrap().stored());
    assert_eq!(doc.counts, RecordCounts { records: 3, malformed: 1 });
    let note = doc.first_malformed.unwrap_or_default();
    assert!(note.starts_with("mbox message 3: line ") && note.contains("not a header field"), "{note}");
    // And the first one too: no longer mostly mail.
    let first_line_of_first_header = mbox.lines().nth(1).unwrap();
    let (name, _) = first_line_of_first_header.split_once(':').unwrap();
    let worse = broken.replacen(&format!("{name}:"), &format!("{name} "), 1);
    match cybexp_parser_email::parse(&input(&worse)) {
        Err(cybexp_tahoe::ParseFailure::InvalidInput(why)) => {
            assert!(why.starts_with("mbox message 1: line 2: not a header field"), "{why}");
            assert!(why.contains("expected an RFC 5322 message or an mbox of them"), "{why}");
            assert!(why.ends_with("2 of 3 messages malformed"), "{why}");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

/// The real mail: (file, messages in it).
const REAL: [(&str, u64); 4] =
    [("phishing0_first12.mbox", 12), ("sample-1161.eml", 1), ("sample-5330.eml", 1), ("sample-584.eml", 1)];

#[test]
fn real_phishing_mail_is_stored_with_the_hash_python_gives_it() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let pins = pinned_real_samples(dir, &REAL.map(|(name, _)| name));
    assert_eq!(pins.len(), REAL.len());
    for (pin, text) in &pins {
        assert_eq!((pin.sub_type.as_str(), pin.stored.as_str()), ("email", "text"));
        let doc = cybexp_parser_email::parse(&input(text)).unwrap_or_else(|e| panic!("{}: {e}", pin.file));
        assert_eq!(doc.hash, pin.hash, "{}", pin.file);
        assert_eq!(doc.stored(), cybexp_parser_json::parse(&input(text)).unwrap().stored(), "{}", pin.file);
        let messages = REAL.iter().find(|(name, _)| *name == pin.file).unwrap().1;
        assert_eq!((doc.counts, doc.first_malformed), (RecordCounts { records: messages, malformed: 0 }, None));
    }
}

#[test]
fn other_feeds_and_garbage_stay_refused() {
    let parsers = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let others = [
        cybexp_tahoe::test_support::sample(&format!("{parsers}/url-list"), "real/openphish_feed_2026-08-22.txt"),
        cybexp_tahoe::test_support::sample(
            &format!("{parsers}/url-list"),
            "real/phishtank_online-valid_2019-05-15_excerpt.csv",
        ),
        cybexp_tahoe::test_support::sample(&format!("{parsers}/cowrie"), "real/cowrie.json.2020-03-19"),
        "\u{0}\u{1}\u{2}\u{fffd}binary\u{7f}".to_owned(),
        "Hello Bob,\nhow are you?".to_owned(),
    ];
    for text in &others {
        match cybexp_parser_email::parse(&input(text)) {
            Err(cybexp_tahoe::ParseFailure::InvalidInput(_)) => {}
            other => panic!("{}: {other:?}", cybexp_tahoe::excerpt(text, 60)),
        }
    }
}
