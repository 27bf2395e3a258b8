//! Every feed format the built-in parsers accept (the samples in each parser
//! crate's `tests/samples/`), through the real, sandboxed components under
//! the built-in routes and default limits: each must end SUCCESS with exactly
//! the document that the `json` component (the reference's behaviour,
//! reference §3) makes of the same plaintext, so the same `_hash`. Text that
//! cannot be the feed must still end ERROR, saying what was expected.

use std::path::PathBuf;

use cybexp_sandbox::{ParseError, ParseInput, RecordCounts, Sandbox};
use cybexp_tahoe::test_support::{files_in, real_samples, reference_hashes};

/// The built-in routes (`builtin_routes` in the archiver's config; the
/// binary crate is not a dependency of this one): typtag, parser, sub_type,
/// and the parser crate whose samples are that feed's formats.
const ROUTES: [(&str, &str, &str, &str); 4] = [
    ("unr-honeypot", "cowrie", "unr_honeypot", "cowrie"),
    ("openphish_feed", "url-list", "openphish_feed", "url-list"),
    ("phishtank_feed", "url-list", "phishtank_feed", "url-list"),
    ("email", "email", "email", "email"),
];

fn crate_dir(krate: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../guest-parsers").join(krate)
}

/// The sample files of one parser crate (not `real/`), sorted, with their text.
fn samples(krate: &str) -> Vec<(String, String)> {
    files_in(&crate_dir(krate).join("tests/samples"), |path| path.is_file())
}

fn event<'a>(typtag: &'a str, sub_type: &'a str, plaintext: &'a str) -> ParseInput<'a> {
    ParseInput { typtag, orgid: "f27df111-ca31-4700-99d4-2635b6c37851", timezone: "US/Pacific", sub_type, plaintext }
}

#[test]
fn every_published_format_is_stored_as_the_reference_stores_it() {
    let sandbox = Sandbox::with_builtin_parsers().unwrap();
    let mut checked = Vec::new();
    for (typtag, parser, sub_type, krate) in ROUTES {
        for (name, text) in samples(krate) {
            let input = event(typtag, sub_type, &text);
            let (oracle, _) = sandbox.parse("json", &input);
            let oracle = oracle.unwrap_or_else(|e| panic!("json on {name}: {e}"));
            let (result, stats) = sandbox.parse(parser, &input);
            let doc = result.unwrap_or_else(|e| panic!("{typtag} ({parser}) on {name}: {e}"));
            assert_eq!(doc.stored(), oracle.stored(), "{typtag} ({parser}) on {name}");
            assert!(doc.counts.records > 0 && doc.counts.malformed == 0, "{name}: {:?}", doc.counts);
            assert_eq!(stats.counts, doc.counts);
            assert_eq!(doc.sub_type, sub_type);
            assert!(stats.fuel_used > 0);
            checked.push(format!("{typtag}/{name}"));
        }
    }
    // 4 Cowrie formats, 8 URL feed formats under each of two typtags, 3 mail formats.
    assert_eq!(checked.len(), 4 + 2 * 8 + 3, "{checked:#?}");
}

#[test]
fn real_published_files_are_stored_sandboxed_with_the_hash_python_gives_them_and_counted_as_natively() {
    let sandbox = Sandbox::with_builtin_parsers().unwrap();
    let mut checked = 0;
    for (krate, parser, native) in [
        ("url-list", "url-list", cybexp_parser_url_list::parse as fn(&ParseInput<'_>) -> _),
        ("cowrie", "cowrie", cybexp_parser_cowrie::parse),
        ("email", "email", cybexp_parser_email::parse),
    ] {
        let dir = crate_dir(krate).to_string_lossy().into_owned();
        let samples: std::collections::BTreeMap<String, String> = real_samples(&dir).into_iter().collect();
        for pin in reference_hashes(&dir) {
            let text = &samples[&pin.file];
            let input = event(&pin.sub_type, &pin.sub_type, text);
            let (result, stats) = sandbox.parse(parser, &input);
            let doc = result.unwrap_or_else(|e| panic!("{parser} on {}: {e}", pin.file));
            assert_eq!(doc.hash, pin.hash, "{parser} on {} as {}", pin.file, pin.sub_type);
            assert_eq!(doc, native(&input).unwrap(), "{parser} on {}: sandboxed and native differ", pin.file);
            assert_eq!(stats.counts, doc.counts);
            checked += 1;
        }
    }
    // 3 URL feed files under two sub_types, 2 Cowrie logs, 4 mail files.
    assert_eq!(checked, 3 * 2 + 2 + 4);
}

#[test]
fn a_real_log_torn_by_a_copy_is_stored_sandboxed_as_natively() {
    let log = std::fs::read_to_string(crate_dir("cowrie").join("tests/samples/real/cowrie.json.2018-05-06")).unwrap();
    // Cut in the middle of its last line (the cowrie crate pins Python's
    // hash of this cut natively).
    let body = log.trim_end_matches('\n');
    let start = body.rfind('\n').unwrap() + 1;
    let torn = &log[..start + (body.len() - start) / 2];
    let input = event("unr-honeypot", "unr_honeypot", torn);
    let (result, stats) = Sandbox::with_builtin_parsers().unwrap().parse("cowrie", &input);
    let doc = result.unwrap_or_else(|e| panic!("torn log: {e}"));
    assert_eq!(doc, cybexp_parser_cowrie::parse(&input).unwrap());
    assert_eq!(stats.counts, RecordCounts { records: 211, malformed: 1 });
    assert!(doc.first_malformed.unwrap_or_default().starts_with("line 211: the last line is cut off"));
}

#[test]
fn what_cannot_be_the_feed_still_ends_error() {
    let sandbox = Sandbox::with_builtin_parsers().unwrap();
    let cases = [
        ("unr-honeypot", "hello, honeypot", "expected a Cowrie event"),
        ("unr-honeypot", "{\"eventid\": \"cowrie.login.failed\"}\nsshd[812]: Failed password", "line 2: not JSON"),
        ("unr-honeypot", "{\"eventid\": \"cowrie.login.fai", "line 1: the last line is cut off"),
        ("openphish_feed", "not a url list", "expected one URL per line"),
        ("openphish_feed", "[{\"phish_id\": 1}]", "entry 1: an object with no `url`"),
        ("phishtank_feed", "phish_id,url\n1,http://a.example/\n2,n/a\n", "CSV: line 3: `url` not an absolute URL"),
        ("phishtank_feed", "<output><entries/></output>", "PhishTank XML with no `output/entries/entry`"),
        ("email", "hello, inbox", "expected an RFC 5322 message or an mbox of them"),
        ("email", "{\"From\": \"a@b.example\"}", "a JSON object document, not an email message"),
    ];
    for (typtag, plaintext, want) in cases {
        let (_, parser, sub_type, _) = ROUTES.iter().find(|route| route.0 == typtag).unwrap();
        let (result, _) = sandbox.parse(parser, &event(typtag, sub_type, plaintext));
        match result {
            Err(ParseError::InvalidInput(why)) => assert!(why.contains(want), "{typtag} {plaintext:?}: {why:?}"),
            other => panic!("{typtag} {plaintext:?}: expected ERROR invalid input, got {other:?}"),
        }
    }
}
