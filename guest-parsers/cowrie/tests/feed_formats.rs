//! Every format Cowrie events are shipped in (see the crate docs), as a
//! realistic sample in `tests/samples/`: the parser must store exactly what
//! the reference stores for it, which is what the `json` parser (the
//! reference's behaviour, reference §3) makes of the same plaintext.

use cybexp_tahoe::ParseInput;

/// (sample file, whether the reference stores it parsed as JSON rather than
/// wrapped as `{"data": text}`).
const SAMPLES: [(&str, bool); 4] = [
    ("cowrie_event.json", true),
    ("filebeat_record.json", true),
    ("cowrie.json", false),
    ("filebeat_records.jsonl", false),
];

fn sample(name: &str) -> String {
    cybexp_tahoe::test_support::sample(env!("CARGO_MANIFEST_DIR"), name)
}

fn input(plaintext: &str) -> ParseInput<'_> {
    ParseInput { typtag: "unr-honeypot", orgid: "org", timezone: "UTC", sub_type: "unr_honeypot", plaintext }
}

#[test]
fn every_sample_is_stored_as_the_reference_stores_it() {
    let on_disk = cybexp_tahoe::test_support::sample_count(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(on_disk, SAMPLES.len(), "every sample is listed here");
    for (name, parsed) in SAMPLES {
        let text = sample(name);
        let oracle = cybexp_parser_json::parse(&input(&text)).unwrap();
        let doc = cybexp_parser_cowrie::parse(&input(&text)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc, oracle, "{name}");
        let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
        let wrapped = data == serde_json::json!({ "data": text });
        assert_eq!(!wrapped, parsed, "{name}: stored parsed: {}", !wrapped);
    }
}

#[test]
fn crlf_bom_and_pretty_printed_variants_are_accepted_too() {
    for (name, parsed) in SAMPLES {
        let text = sample(name);
        let mut variants = vec![text.replace('\n', "\r\n"), format!("\u{feff}{text}")];
        if parsed {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            variants.push(format!("\u{feff}{pretty}"));
            variants.push(pretty);
        }
        for variant in variants {
            let oracle = cybexp_parser_json::parse(&input(&variant)).unwrap();
            let doc =
                cybexp_parser_cowrie::parse(&input(&variant)).unwrap_or_else(|e| panic!("{name} {variant:?}: {e}"));
            assert_eq!(doc, oracle, "{name}");
        }
    }
}
