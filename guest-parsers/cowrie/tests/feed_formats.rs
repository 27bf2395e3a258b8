//! Every format Cowrie events are shipped in (see the crate docs), as a
//! realistic sample in `tests/samples/`: the parser must store exactly what
//! the reference stores for it, which is what the `json` parser (the
//! reference's behaviour, reference §3) makes of the same plaintext. And
//! real logs (`tests/samples/real/`, sources in `SOURCES.md`), whole, torn
//! and mangled, stored with the `_hash` Python gives them.

use cybexp_tahoe::test_support::pinned_real_samples;
use cybexp_tahoe::{ParseInput, RawDoc, RecordCounts};

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
        assert_eq!(doc.stored(), oracle.stored(), "{name}");
        assert_eq!(doc.counts.malformed, 0, "{name}: {:?}", doc.first_malformed);
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
            assert_eq!(doc.stored(), oracle.stored(), "{name}");
        }
    }
}

/// The real logs: (file, events in it).
const REAL: [(&str, u64); 2] = [("cowrie.json.2018-05-06", 211), ("cowrie.json.2020-03-19", 301)];

fn stored_as_python_stores_it(doc: &RawDoc, text: &str, hash: &str, what: &str) {
    assert_eq!(doc.hash, hash, "{what}");
    assert_eq!(doc.stored(), cybexp_parser_json::parse(&input(text)).unwrap().stored(), "{what}");
    let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
    assert_eq!(data, serde_json::json!({ "data": text }), "{what}: a log is stored as text");
}

#[test]
fn real_logs_are_stored_with_the_hash_python_gives_them() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let pins = pinned_real_samples(dir, &REAL.map(|(name, _)| name));
    assert_eq!(pins.len(), REAL.len());
    for (pin, text) in &pins {
        assert_eq!((pin.sub_type.as_str(), pin.stored.as_str()), ("unr_honeypot", "text"));
        let doc = cybexp_parser_cowrie::parse(&input(text)).unwrap_or_else(|e| panic!("{}: {e}", pin.file));
        stored_as_python_stores_it(&doc, text, &pin.hash, &pin.file);
        let events = REAL.iter().find(|(name, _)| *name == pin.file).unwrap().1;
        assert_eq!((doc.counts, doc.first_malformed), (RecordCounts { records: events, malformed: 0 }, None));
    }
}

/// The 2018 log cut in the middle of its last line, as a copy taken while
/// Cowrie was writing it ends. Python's hash of exactly this text
/// (`reference_hash.py` on the same cut).
const TORN_HASH: &str = "b938bc6450eaec60a8711f77f01cc86ebea56645bada3204ebb76363700da090";

/// The 2018 log with line 100 cut in half and line 101 appended to it, as
/// when a writer dies mid-line and a restarted one appends; Python's hash.
const MANGLED_HASH: &str = "a07d74041e4843748dc55c9e0af1a6288bec06a7d3441137d5d068549a99d2e2";

/// `log` cut in the middle of its last line.
fn torn(log: &str) -> &str {
    let body = log.trim_end_matches('\n');
    let start = body.rfind('\n').map_or(0, |i| i + 1);
    &log[..start + (body.len() - start) / 2]
}

/// `log` with line `number` (1-based) cut in half and the next line
/// appended to it.
fn mangled(log: &str, number: usize) -> String {
    let mut lines: Vec<String> = log.split('\n').map(str::to_owned).collect();
    let next = lines.remove(number);
    let line = &mut lines[number - 1];
    line.truncate(line.len() / 2);
    line.push_str(&next);
    lines.join("\n")
}

#[test]
fn a_real_log_torn_or_mangled_keeps_all_its_events() {
    let log = cybexp_tahoe::test_support::sample(env!("CARGO_MANIFEST_DIR"), "real/cowrie.json.2018-05-06");
    // The cuts are in bytes, Python's in characters: the same on ASCII.
    assert!(log.is_ascii());

    let text = torn(&log);
    assert!(!text.ends_with('\n') && text.len() < log.len());
    let doc = cybexp_parser_cowrie::parse(&input(text)).unwrap_or_else(|e| panic!("torn: {e}"));
    stored_as_python_stores_it(&doc, text, TORN_HASH, "torn");
    assert_eq!(doc.counts, RecordCounts { records: 211, malformed: 1 });
    assert!(doc.first_malformed.as_deref().unwrap().starts_with("line 211: the last line is cut off"));

    let text = mangled(&log, 100);
    let doc = cybexp_parser_cowrie::parse(&input(&text)).unwrap_or_else(|e| panic!("mangled: {e}"));
    stored_as_python_stores_it(&doc, &text, MANGLED_HASH, "mangled");
    assert_eq!(doc.counts, RecordCounts { records: 210, malformed: 1 });
    assert!(doc.first_malformed.as_deref().unwrap().starts_with("line 100: not JSON"), "{:?}", doc.first_malformed);
}

#[test]
fn other_feeds_and_garbage_stay_refused() {
    let parsers = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let others = [
        cybexp_tahoe::test_support::sample(&format!("{parsers}/url-list"), "real/openphish_feed_2026-08-22.txt"),
        cybexp_tahoe::test_support::sample(&format!("{parsers}/url-list"), "openphish_premium.jsonl"),
        cybexp_tahoe::test_support::sample(&format!("{parsers}/email"), "real/phishing0_first12.mbox"),
        "\u{0}\u{1}\u{2}\u{fffd}binary\u{7f}".to_owned(),
        "[1, 2, 3]".to_owned(),
    ];
    for text in &others {
        match cybexp_parser_cowrie::parse(&input(text)) {
            Err(cybexp_tahoe::ParseFailure::InvalidInput(_)) => {}
            other => panic!("{}: {other:?}", cybexp_tahoe::excerpt(text, 60)),
        }
    }
}
