//! Every format the URL feeds are published in (see the crate docs), as a
//! realistic sample in `tests/samples/`: the parser must store exactly what
//! the reference stores for it, which is what the `json` parser (the
//! reference's behaviour, reference §3) makes of the same plaintext.

use cybexp_tahoe::ParseInput;

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
            assert_eq!(doc, oracle, "{name} as {feed}");
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
            assert_eq!(doc, oracle, "{name}");
        }
    }
}
