//! Every format the URL feeds are published in (see the crate docs), as a
//! realistic sample in `tests/samples/`: the parser must store exactly what
//! the reference stores for it, which is what the `json` parser (the
//! reference's behaviour, reference §3) makes of the same plaintext. And
//! real published files (`tests/samples/real/`, sources in `SOURCES.md`),
//! stored with the `_hash` Python gives them.

use cybexp_tahoe::test_support::pinned_real_samples;
use cybexp_tahoe::{ParseInput, RecordCounts};

/// (sample file, whether the reference stores it parsed as JSON rather than
/// wrapped as `{"data": text}`).
const SAMPLES: [(&str, bool); 8] = [
    ("openphish_community_feed.txt", false),
    ("openphish_premium.jsonl", false),
    ("openphish_premium_one_record.json", true),
    ("openphish_premium.csv", false),
    ("phishtank_online-valid.json", true),
    ("phishtank_online-valid.csv", false),
    ("phishtank_online-valid.xml", false),
    ("phishtank_urls.txt", false),
];

fn sample(name: &str) -> String {
    cybexp_tahoe::test_support::sample(env!("CARGO_MANIFEST_DIR"), name)
}

#[test]
fn every_sample_is_stored_as_the_reference_stores_it() {
    let on_disk = cybexp_tahoe::test_support::sample_count(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(on_disk, SAMPLES.len(), "every sample is listed here");
    for (name, parsed) in SAMPLES {
        let text = sample(name);
        for feed in ["openphish_feed", "phishtank_feed"] {
            let input = ParseInput { typtag: feed, orgid: "org", timezone: "UTC", sub_type: feed, plaintext: &text };
            let oracle = cybexp_parser_json::parse(&input).unwrap();
            let doc = cybexp_parser_url_list::parse(&input).unwrap_or_else(|e| panic!("{name} as {feed}: {e}"));
            assert_eq!(doc.stored(), oracle.stored(), "{name} as {feed}");
            assert_eq!(doc.counts.malformed, 0, "{name}: {:?}", doc.first_malformed);
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            let wrapped = data == serde_json::json!({ "data": text });
            assert_eq!(!wrapped, parsed, "{name}: stored parsed: {}", !wrapped);
        }
    }
}

#[test]
fn crlf_and_bom_variants_are_accepted_too() {
    for (name, _) in SAMPLES {
        let text = sample(name);
        for variant in [text.replace('\n', "\r\n"), format!("\u{feff}{text}")] {
            let input = ParseInput {
                typtag: "phishtank_feed",
                orgid: "org",
                timezone: "UTC",
                sub_type: "phishtank_feed",
                plaintext: &variant,
            };
            let oracle = cybexp_parser_json::parse(&input).unwrap();
            // A BOM makes any JSON sample text (Python's json.loads refuses it),
            // which the checks still read as the same feed.
            let doc = cybexp_parser_url_list::parse(&input).unwrap_or_else(|e| panic!("{name} {variant:?}: {e}"));
            assert_eq!(doc.stored(), oracle.stored(), "{name}");
        }
    }
}

/// The real samples: (file, records in it, how many of them are malformed).
/// The PhishTank excerpt holds four URLs as PhishTank published them: one
/// with mis-encoded C1 control characters, three with a space inside.
const REAL: [(&str, u64, u64); 3] = [
    ("openphish_feed_2024-10-12.txt", 500, 0),
    ("openphish_feed_2026-08-22.txt", 300, 0),
    ("phishtank_online-valid_2019-05-15_excerpt.csv", 57, 4),
];

#[test]
fn real_published_files_are_stored_with_the_hash_python_gives_them() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let pins = pinned_real_samples(dir, &REAL.map(|(name, ..)| name));
    assert_eq!(pins.len(), 2 * REAL.len(), "each sample under both typtags' sub_types");
    for (pin, text) in &pins {
        let (_, records, malformed) = REAL.iter().find(|(name, ..)| *name == pin.file).unwrap();
        let input = ParseInput {
            typtag: &pin.sub_type,
            orgid: "org",
            timezone: "UTC",
            sub_type: &pin.sub_type,
            plaintext: text,
        };
        let doc = cybexp_parser_url_list::parse(&input).unwrap_or_else(|e| panic!("{}: {e}", pin.file));
        assert_eq!(doc.hash, pin.hash, "{} as {}", pin.file, pin.sub_type);
        assert_eq!(doc.stored(), cybexp_parser_json::parse(&input).unwrap().stored(), "{}", pin.file);
        let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
        assert_eq!(data == serde_json::json!({ "data": text }), pin.stored == "text", "{}", pin.file);
        assert_eq!(doc.counts, RecordCounts { records: *records, malformed: *malformed }, "{}", pin.file);
        assert_eq!(doc.first_malformed.is_some(), *malformed > 0, "{}: {:?}", pin.file, doc.first_malformed);
    }
}

#[test]
fn garbage_and_other_feeds_stay_refused() {
    let cowrie =
        cybexp_tahoe::test_support::sample(&format!("{}/../cowrie", env!("CARGO_MANIFEST_DIR")), "cowrie.json");
    for text in [
        "",
        "hello, world",
        "\u{0}\u{1}\u{2}\u{fffd}binary\u{7f}",
        &cowrie,
        "Return-Path: <a@b.example>\nSubject: hi\n\nsee http://a.example/\n",
        "[1, 2, 3]",
    ] {
        let input = ParseInput {
            typtag: "phishtank_feed",
            orgid: "org",
            timezone: "UTC",
            sub_type: "phishtank_feed",
            plaintext: text,
        };
        match cybexp_parser_url_list::parse(&input) {
            Err(cybexp_tahoe::ParseFailure::InvalidInput(_)) => {}
            other => panic!("{text:?}: {other:?}"),
        }
    }
}
