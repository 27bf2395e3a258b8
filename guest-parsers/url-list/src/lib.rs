//! The `url-list` parser (typtags `openphish_feed`, `phishtank_feed`): the
//! phishing URL feeds in the formats their publishers actually ship.
//!
//! # Formats
//!
//! | feed | format | where it is described | stored `data` (reference §3) |
//! |---|---|---|---|
//! | OpenPhish Community (free) | plain text, one URL per line (`feed.txt`) | openphish.com and its `openphish/public_feed` repository; e.g. SpamAssassin's `Mail::SpamAssassin::Plugin::Phishing` reads it | `{"data": text}` |
//! | OpenPhish Premium (paid) | JSON lines: one object per line with `url`, `brand`, `ip`, `asn`, `host`, `isotime`, `discover_time`, … | the field list of IntelMQ's `OpenPhishCommercialParserBot` (`intelmq/bots/parsers/openphish/parser_commercial.py`), which reads the feed line by line | `{"data": text}`; a file of one record is JSON, so the parsed object |
//! | OpenPhish Premium (paid) | CSV with a header row that names a `url` column | no public column list found; accepted by the same rule as PhishTank's CSV | `{"data": text}` |
//! | PhishTank | `online-valid.json`: a JSON array of objects with `phish_id`, `url`, `phish_detail_url`, `submission_time`, `verified`, `verification_time`, `online`, `details`, `target` | PhishTank "Developer Information" (`developer_info.php`), "Formats Definitions" | the parsed array |
//! | PhishTank | `online-valid.csv`: header `phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target`, fields quoted as RFC 4180 when they hold a comma | the same page | `{"data": text}` |
//! | PhishTank | `online-valid.xml`: `<output><meta>…</meta><entries><entry><url><![CDATA[…]]></url>…</entry>…</entries></output>` | the same page | `{"data": text}` |
//! | PhishTank, or either feed re-exported | plain text, one URL per line: the `url` column alone, as feed tools export it | the shape of `shared/samples/openphish_feed.txt`, as CYBEX-P inputs submit it | `{"data": text}` |
//!
//! Not accepted: PhishTank's serialized-PHP dump (`online-valid.php_serialized`,
//! made for PHP's `unserialize`; it ends ERROR here, where the reference
//! would store it wrapped), and the compressed downloads (`.gz`, `.bz2`).
//! Those, like any plaintext that is not UTF-8, never reach a parser: the
//! host refuses them as `decrypt.utf8`, as the reference fails on them too.
//!
//! # What is refused, and what is tolerated
//!
//! A refusal is for text that is not a URL feed at all: a wrong file,
//! garbage, another format. A genuine export with some messy records is the
//! feed. It is stored exactly as the reference stores it, and the messy
//! records are counted as malformed ([`RawDoc::counts`], the first one
//! named in [`RawDoc::first_malformed`]), so an operator sees a feed degrade
//! without losing it.
//!
//! The format is told apart by the content, not by the typtag:
//! - JSON (read as Python's `json.loads` would): an array with at least one
//!   element (PhishTank), each element one record; or one object (a
//!   one-record OpenPhish JSON file), which is the only record.
//! - Text whose first non-blank line starts with `<`: PhishTank XML. It must
//!   be well-formed in the subset PhishTank writes (declaration, elements,
//!   attributes, text, CDATA, comments, the five predefined and numeric
//!   character references; no DTD), with the root `output`; each
//!   `output/entries/entry` is one record.
//! - Text whose first non-blank line starts with `{`: JSON lines, each
//!   non-blank line one record.
//! - Text whose first non-blank line is not a URL but a CSV header naming a
//!   `url` column (any case): CSV (RFC 4180, LF or CRLF), each record after
//!   the header one record.
//! - Any other text: one URL per line, each non-blank line one record.
//!
//! A record is well-formed when it holds a URL where its format puts it (an
//! object's string `url`, the `url` column, an entry's `url` element, the
//! line itself). It is malformed otherwise: a URL with whitespace or a
//! control character inside (every full PhishTank export holds a few dozen,
//! such as `http://absolutesintube.com/natwest online/`), a value that is no
//! URL, an element that is not an object with a `url`, a JSON line that is
//! not JSON, a CSV record with another number of fields than its header.
//!
//! The text is the feed when at least one record is well-formed and the
//! well-formed records outnumber the malformed ones ([`Tally::is_feed`]). A
//! record cut off where the text ends (the last JSON line, or a CSV record
//! inside an unclosed quote, of a file copied while it was written) counts
//! as malformed but not against the feed. Refused outright: a broken
//! structure (XML that is not well-formed or not rooted at `output`, a CSV
//! field with text after its closing quote, a JSON document that is neither
//! an array nor an object), an empty array, and text with no record at all.
//!
//! A URL here is absolute: scheme `http`, `https`, `ftp`, or the defanged
//! `hxxp`/`hxxps` that threat feeds use (any letter case), then `://`; a
//! non-empty host (after any `user@`; an IPv6 literal in brackets), then
//! optionally `:port` (digits, at most 65535) and a path, query or fragment;
//! no whitespace or control characters anywhere.
//!
//! A leading byte-order mark is ignored by the checks. A refusal is
//! [`ParseFailure::InvalidInput`] naming the format it was taken for, the
//! first malformed record (1-based line or entry) and how many there were.
//!
//! The document is always the reference's for the plaintext: the parsed JSON,
//! or the text exactly as received wrapped as `{"data": text}` (no trimming),
//! so the `_hash` is the reference's: the checks only decide between a
//! document and an error, and what the counts say.
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
//!         typtag: "openphish_feed", orgid: "org", timezone: "UTC",
//!         sub_type: "openphish_feed", plaintext,
//!     };
//!     let _ = cybexp_parser_url_list::parse(&input);
//! });
//! ```
//!
//! and `cargo +nightly fuzz run <target>`, seeding the corpus with every file
//! of this crate's `tests/samples/` (one per format above) and
//! `shared/samples/openphish_feed.txt`. A panic or a hang is a bug; an `Err`
//! is an answer.

mod csv;
mod xml;

use cybexp_tahoe::{
    Limits, Line, ParseFailure, ParseInput, Plaintext, RawDoc, Tally, Value, excerpt, lines, parse_python_json,
    raw_document, read_plaintext, wrap_text,
};

/// Schemes accepted, compared without regard to case.
const SCHEMES: [&str; 5] = ["http", "https", "ftp", "hxxp", "hxxps"];

/// What a text that fits no format was expected to be.
const EXPECTED: &str = "expected one URL per line, a CSV whose header names a `url` column, \
     JSON lines with a `url`, or PhishTank XML";

/// The reference document for a URL feed, or why this is not one.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    let limits = Limits::default().for_input(input.plaintext.len());
    let (data, tally) = match read_plaintext(input.plaintext, &limits)? {
        Plaintext::Json(value) => {
            let tally = check_json_document(&value)?;
            (value, tally)
        }
        Plaintext::Text => (wrap_text(input.plaintext), check_text(input.plaintext, &limits)?),
    };
    Ok(raw_document(input.sub_type, &data, &limits)?.counted(tally))
}

fn invalid(reason: String) -> ParseFailure {
    ParseFailure::InvalidInput(reason)
}

/// A PhishTank JSON array of entries, or one OpenPhish JSON record.
fn check_json_document(value: &Value) -> Result<Tally, ParseFailure> {
    let expected = "expected a PhishTank JSON array of entries with a `url`, or an OpenPhish JSON record";
    let mut tally = Tally::default();
    match value {
        Value::Array(entries) if entries.is_empty() => {
            Err(invalid(format!("a JSON array document with no entries: {expected}")))
        }
        Value::Array(entries) => {
            for (index, entry) in entries.iter().enumerate() {
                match check_record(entry) {
                    Ok(()) => tally.well_formed(),
                    Err(why) => tally.malformed(|| format!("entry {}: {why}", index + 1)),
                }
            }
            if !tally.is_feed() {
                return Err(invalid(format!("a JSON array document: {}: {expected}", tally.not_the_feed("entries"))));
            }
            Ok(tally)
        }
        Value::Object(_) => {
            check_record(value).map_err(|why| invalid(format!("a JSON object document: {why}")))?;
            tally.well_formed();
            Ok(tally)
        }
        other => Err(invalid(format!("a JSON {} document, not a URL feed: {expected}", other.kind()))),
    }
}

/// One feed record: a JSON object whose `url` is a URL.
fn check_record(record: &Value) -> Result<(), String> {
    if !matches!(record, Value::Object(_)) {
        return Err(format!("a JSON {}, not an object with a `url`", record.kind()));
    }
    match record.get("url") {
        Some(Value::String(url)) => check_url(url.trim()).map_err(|why| format!("`url` {why}: {}", excerpt(url, 80))),
        Some(other) => Err(format!("`url` is a JSON {}, not a string", other.kind())),
        None => Err("an object with no `url`".into()),
    }
}

/// Text that is not JSON: XML, JSON lines, CSV or one URL per line, told
/// apart by the first non-blank line.
fn check_text(text: &str, limits: &Limits) -> Result<Tally, ParseFailure> {
    if let Some(text) = text.strip_prefix('\u{feff}') {
        // Python's json.loads refuses a BOM, so the reference stores such a
        // JSON file as text; it is still the JSON format.
        if let Plaintext::Json(value) = read_plaintext(text, limits)? {
            return check_json_document(&value);
        }
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.split('\n').map(str::trim).find(|line| !line.is_empty()).unwrap_or_default();
    let mut tally = Tally::default();
    if first.starts_with('<') {
        let entries = xml::check_phishtank_xml(text, check_url, &mut tally)
            .map_err(|why| invalid(format!("PhishTank XML: {why}")))?;
        if entries == 0 {
            return Err(invalid("PhishTank XML with no `output/entries/entry`".into()));
        }
        return feed_or_refusal(tally, "PhishTank XML: ", "entries", "expected PhishTank XML entries with a `url`");
    }
    if first.starts_with('{') {
        check_json_lines(text, limits, &mut tally);
        return feed_or_refusal(tally, "JSON lines: ", "lines", "expected one JSON record with a `url` per line");
    }
    if check_url(first).is_err() && csv::header_names_url(first) {
        csv::check_url_csv(text, check_url, &mut tally).map_err(|why| invalid(format!("CSV: {why}")))?;
        if tally.counts().records == 0 {
            return Err(invalid("CSV: a header but no records (expected one record per URL)".into()));
        }
        return feed_or_refusal(tally, "CSV: ", "records", "expected a URL in the `url` column of most records");
    }
    check_url_list(text, &mut tally);
    if tally.counts().records == 0 {
        return Err(invalid(format!("no URLs: the text is empty or blank ({EXPECTED})")));
    }
    feed_or_refusal(tally, "", "lines", EXPECTED)
}

/// `tally` if its records make the text the feed, else the refusal naming the
/// first malformed record.
fn feed_or_refusal(tally: Tally, format: &str, unit: &str, expected: &str) -> Result<Tally, ParseFailure> {
    if tally.is_feed() { Ok(tally) } else { Err(invalid(format!("{format}{} ({expected})", tally.not_the_feed(unit)))) }
}

/// JSON lines (the OpenPhish Premium JSON feed): every non-blank line a record.
fn check_json_lines(text: &str, limits: &Limits, tally: &mut Tally) {
    for Line { number, text: line, unterminated } in lines(text) {
        match parse_python_json(line, limits) {
            Ok(record) => match check_record(&record) {
                Ok(()) => tally.well_formed(),
                Err(why) => tally.malformed(|| format!("line {number}: {why}")),
            },
            // The start of a record where the text ends: cut off by a copy.
            Err(e) if unterminated && line.starts_with('{') => {
                tally.torn_tail(|| format!("line {number}: the last line is cut off ({e})"))
            }
            Err(e) => tally.malformed(|| format!("line {number}: not JSON ({e}): {}", excerpt(line, 60))),
        }
    }
}

/// Every non-blank line a record: well-formed when it is a URL.
fn check_url_list(text: &str, tally: &mut Tally) {
    for Line { number, text: line, .. } in lines(text) {
        match check_url(line) {
            Ok(()) => tally.well_formed(),
            Err(why) => tally.malformed(|| format!("line {number}: {why}: {}", excerpt(line, 80))),
        }
    }
}

/// Checks one trimmed line; the error says what is wrong with it.
fn check_url(line: &str) -> Result<(), &'static str> {
    if line.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("whitespace or a control character inside a URL");
    }
    let Some((scheme, rest)) = line.split_once("://") else {
        return Err("not an absolute URL (no scheme://)");
    };
    if !SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s)) {
        return Err("scheme is not http, https, ftp, hxxp or hxxps");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Userinfo may contain ':' and '@'; the host follows the last '@'.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port);
    let (host, port) = split_host_port(host_port)?;
    if host.is_empty() {
        return Err("empty host");
    }
    match port {
        Some(port) if !port.bytes().all(|b| b.is_ascii_digit()) => Err("port is not a number"),
        Some(port) if !port.is_empty() && port.parse::<u32>().map_or(true, |p| p > 65535) => Err("port out of range"),
        _ => Ok(()),
    }
}

/// Splits `host[:port]`, where the host may be a bracketed IPv6 literal.
fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(literal) = host_port.strip_prefix('[') {
        let Some((address, after)) = literal.split_once(']') else {
            return Err("unclosed [ in host");
        };
        return match after.strip_prefix(':') {
            Some(port) => Ok((address, Some(port))),
            None if after.is_empty() => Ok((address, None)),
            None => Err("junk after ] in host"),
        };
    }
    Ok(match host_port.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cybexp_tahoe::RecordCounts;
    use cybexp_tahoe::test_support::{invalid_input_reason, shared};
    use proptest::prelude::*;

    fn input(plaintext: &str) -> ParseInput<'_> {
        ParseInput { typtag: "openphish_feed", orgid: "org", timezone: "UTC", sub_type: "openphish_feed", plaintext }
    }

    fn reason(plaintext: &str) -> String {
        invalid_input_reason(parse(&input(plaintext)), plaintext)
    }

    #[test]
    fn openphish_sample_gives_the_reference_document() {
        let vectors: serde_json::Value = serde_json::from_str(&shared("vectors/raw_documents.json")).unwrap();
        let case = vectors["cases"].as_array().unwrap().iter().find(|c| c["typtag"] == "openphish_feed").unwrap();
        let sample = shared("samples/openphish_feed.txt");
        assert_eq!(case["plaintext"].as_str(), Some(sample.as_str()));
        let doc = parse(&input(&sample)).unwrap();
        assert_eq!(doc.hash, case["expect"]["_hash"].as_str().unwrap());
        let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
        assert_eq!(data, case["expect"]["data"]);
    }

    #[test]
    fn phishtank_uses_its_own_sub_type() {
        // tahoe_hash.json "wrapped_text" is the same text under openphish_feed.
        let text = "http://a.example/\nhttps://b.example/x?y=1\n";
        let doc = parse(&input(text)).unwrap();
        assert_eq!(doc.hash, "c435dc3936c369cc4f11d1490c9039157facc0b90db129c7237e73d876535c75");
        let phishtank = ParseInput { typtag: "phishtank_feed", sub_type: "phishtank_feed", ..input(text) };
        let doc = parse(&phishtank).unwrap();
        assert_eq!(doc.sub_type, "phishtank_feed");
        assert_ne!(doc.hash, "c435dc3936c369cc4f11d1490c9039157facc0b90db129c7237e73d876535c75");
    }

    #[test]
    fn accepted_shapes() {
        for text in [
            "http://a.example",
            "\u{feff}https://a.example/\r\n\r\n  ftp://files.example/x  \r\n",
            "HTTPS://A.EXAMPLE/Path?q=1#frag",
            "hxxp://defanged.example/login\nhxxps://x.example",
            "http://user:pass@host.example:8080/",
            "http://[2001:db8::1]:443/x\nhttp://[::1]",
            "http://35.199.84.117/it4_identificacao.php",
            "http://bücher.example/ü",
            "http://host:/empty-port-is-legal",
        ] {
            let doc = parse(&input(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, serde_json::json!({ "data": text }));
        }
    }

    #[test]
    fn rejected_shapes_name_the_line() {
        let cases = [
            ("", "no URLs"),
            ("  \n\r\n\t", "no URLs"),
            (r#"["http://a.example/"]"#, "a JSON array document"),
            (r#"{"link": "http://a.example/"}"#, "a JSON object document: an object with no `url`"),
            ("42", "a JSON integer document"),
            ("http://ok.example/\nnot a url", "line 2: whitespace"),
            ("http://ok.example/\n\nexample.com/path", "line 3: not an absolute URL"),
            ("javascript:alert(1)", "line 1: not an absolute URL"),
            ("file:///etc/passwd", "line 1: scheme is not"),
            ("gopher://x.example/", "line 1: scheme is not"),
            ("http://", "line 1: empty host"),
            ("http:///path", "line 1: empty host"),
            ("http://user@/x", "line 1: empty host"),
            ("http://a.example:80x/", "port is not a number"),
            ("http://a.example:99999/", "port out of range"),
            ("http://[::1/x", "unclosed ["),
            ("http://[::1]x/", "junk after ]"),
            ("http://a.example/\u{0}x", "control character"),
            ("\u{1}\u{2}\u{fffd}\u{7f}binary", "line 1"),
            ("http://a.example/ b", "line 1: whitespace"),
        ];
        for (text, want) in cases {
            let got = reason(text);
            assert!(got.contains(want), "{text:?}: {got:?} lacks {want:?}");
        }
    }

    #[test]
    fn other_feed_formats_are_accepted() {
        for (text, records) in [
            (r#"[{"phish_id": 1, "url": "http://a.example/"}, {"url": "hxxps://b.example/x"}]"#, 2),
            (r#"{"url": "https://a.example/", "brand": "Example"}"#, 1),
            (
                "phish_id,url,target\n1,http://a.example/,Other\n2,\"http://b.example/?a=1,2\",\"Bank, \"\"N.A.\"\"\"\n",
                2,
            ),
            ("URL\r\nhttp://a.example/\r\n\r\n", 1),
            ("{\"url\": \"http://a.example/\"}\n\n{\"url\": \"http://b.example/\", \"ip\": \"192.0.2.1\"}\n", 2),
            (
                "<output><entries><entry><url>http://a.example/?a=1&amp;b=&#50;&#x33;</url></entry></entries></output>",
                1,
            ),
            (
                "<?xml version='1.0'?><!-- c --><output a=\"x>y\"><meta/><entries><entry>\
                 <url>\n <![CDATA[http://a.example/]]> </url></entry></entries></output>\n",
                1,
            ),
        ] {
            let doc = parse(&input(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(doc.stored(), oracle(text).stored());
            assert_eq!((doc.counts, doc.first_malformed), (RecordCounts { records, malformed: 0 }, None), "{text:?}");
        }
    }

    /// The reference's document for `text` (reference §3).
    fn oracle(text: &str) -> RawDoc {
        let data = cybexp_tahoe::reference_data(text, &Limits::default()).unwrap();
        raw_document("openphish_feed", &data, &Limits::default()).unwrap()
    }

    /// Parses `text`, which must be stored as the reference stores it, and
    /// returns its counts and first note.
    fn counted(text: &str) -> (RecordCounts, String) {
        let doc = parse(&input(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(doc.stored(), oracle(text).stored(), "{text:?}");
        (doc.counts, doc.first_malformed.unwrap_or_default())
    }

    #[test]
    fn messy_records_are_counted_and_stored_as_the_reference_stores_them() {
        let cases = [
            // PhishTank's own data: a space, and a mis-encoded C1 control character.
            (
                "http://a.example/\nhttp://absolutesintube.com/natwest online/\nhttp://b.example/x\n",
                (3, 1),
                "line 2: whitespace or a control character inside a URL: \"http://absolutesintube.com/natwest online/\"",
            ),
            (
                r#"[{"url": "http://a.example/"}, {"url": "http://b.example/?sec=R\u00c3\u0083"}, {"url": "http://c.example/"}]"#,
                (3, 1),
                "entry 2: `url` whitespace or a control character inside a URL",
            ),
            (
                "phish_id,url,target\n1,http://a.example/,Other\n2,\"http://b.example/#/ ?\",Other\n3,http://c.example/\n\
                 4,http://d.example/,Other\n5,http://e.example/,Other\n",
                (5, 2),
                "line 3: `url` whitespace",
            ),
            (
                "<output><entries><entry><url>http://a.example/</url></entry><entry><id>2</id></entry>\
                 <entry><url><![CDATA[http://b.example/a b]]></url></entry><entry><url>http://c.example/</url></entry>\
                 <entry><url>http://d.example/</url></entry></entries></output>",
                (5, 2),
                "line 1: entry 2 has no `url`",
            ),
            (
                "{\"url\": \"http://a.example/\"}\n{\"url\": \"ftp://b.example/\", \"ip\": \"192.0.2.1\"}\nnot json\n{\"url\": \"http://c.example/\"}\n",
                (4, 1),
                "line 3: not JSON",
            ),
            // The scheme is what a list line is judged by, too: no scheme is
            // malformed, and a few such lines do not sink a list.
            ("http://a.example/\nexample.com/path\nhttps://b.example/\n", (3, 1), "line 2: not an absolute URL"),
        ];
        for (text, (records, malformed), note) in cases {
            let (counts, first) = counted(text);
            assert_eq!(counts, RecordCounts { records, malformed }, "{text:?}");
            assert!(first.starts_with(note), "{text:?}: {first:?} does not start with {note:?}");
        }
        // Nothing malformed: nothing to say.
        assert_eq!(counted("http://a.example/\n"), (RecordCounts { records: 1, malformed: 0 }, String::new()));
    }

    #[test]
    fn a_record_cut_off_where_the_text_ends_is_tolerated() {
        // The last JSON line, or a CSV record inside an open quote, of a file
        // copied while it was written: counted, but not held against the feed.
        let cases = [
            ("{\"url\": \"http://a.example/\"}\n{\"url\": \"http://b.exa", "line 2: the last line is cut off"),
            ("url,target\nhttp://a.example/,Other\n\"http://b.example/,Oth", "line 3: a quoted field is not closed"),
        ];
        for (text, note) in cases {
            let (counts, first) = counted(text);
            assert_eq!(counts, RecordCounts { records: 2, malformed: 1 }, "{text:?}");
            assert!(first.starts_with(note), "{text:?}: {first:?}");
        }
        // Followed by a line break it is an ordinary malformed line, one in two.
        let why = reason("{\"url\": \"http://a.example/\"}\n{\"url\": \"http://b.exa\n");
        assert!(why.contains("line 2: not JSON"), "{why}");
        // A cut-off line alone is not a feed.
        assert!(reason("{\"url\": \"http://b.exa").contains("line 1: the last line is cut off"));
    }

    #[test]
    fn text_whose_malformed_records_are_not_outnumbered_is_not_the_feed() {
        let cases = [
            ("http://a.example/\nhello\nworld", "line 2: not an absolute URL (no scheme://): \"hello\"; 2 of 3 lines"),
            ("Hi,\nsee http://a.example/ today", "line 1: not an absolute URL (no scheme://): \"Hi,\"; 2 of 2 lines"),
            (r#"[{"url": "http://a.example/"}, {"url": "n/a"}]"#, "entry 2: `url` not an absolute URL"),
            (
                "phish_id,url\n1,http://a.example/\n2,n/a\n",
                "CSV: line 3: `url` not an absolute URL (no scheme://): \"n/a\"; 1 of 2 records",
            ),
        ];
        for (text, want) in cases {
            let got = reason(text);
            assert!(got.contains(want), "{text:?}: {got:?} lacks {want:?}");
        }
    }

    #[test]
    fn a_full_export_with_a_few_dozen_messy_urls_is_stored() {
        // The shape of every full PhishTank CSV export: thousands of records,
        // a few dozen of them with a space or a control character inside.
        let mut text =
            String::from("phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target\n");
        for id in 0..7_000 {
            let url = if id % 200 == 7 {
                format!("http://p{id}.example/secure login/")
            } else {
                format!("http://p{id}.example/")
            };
            text.push_str(&format!(
                "{id},{url},http://www.phishtank.com/phish_detail.php?phish_id={id},t,yes,t,yes,Other\n"
            ));
        }
        let (counts, first) = counted(&text);
        assert_eq!(counts, RecordCounts { records: 7_000, malformed: 35 });
        assert!(first.starts_with("line 9: `url` whitespace"), "{first}");
    }

    #[test]
    fn what_cannot_be_the_feed_names_the_format_expected() {
        let cases = [
            ("[]", "a JSON array document with no entries: expected a PhishTank JSON array"),
            (r#"[{"phish_id": 1}]"#, "a JSON array document: entry 1: an object with no `url`"),
            (r#"[{"url": "http://a.example/"}, {"url": 5}]"#, "entry 2: `url` is a JSON integer"),
            (r#"[{"url": "example.com/x"}]"#, "entry 1: `url` not an absolute URL"),
            (r#"{"url": "javascript:alert(1)"}"#, "a JSON object document: `url` not an absolute URL"),
            ("true", "a JSON boolean document, not a URL feed: expected a PhishTank JSON array"),
            ("phish_id,url\n1,http://a.example/\n2,not-a-url\n", "CSV: line 3: `url` not an absolute URL"),
            ("phish_id,url\n1,http://a.example/,extra\n", "CSV: line 2: 3 fields where the header has 2"),
            ("phish_id,url\n\n", "CSV: a header but no records"),
            ("url\n\"http://a.example/\n", "CSV: line 2: a quoted field is not closed"),
            ("url\n\"http://a.example/\"x\n", "CSV: line 2: text after a closing quote"),
            ("phish_id,link\n1,http://a.example/", "line 1: not an absolute URL"),
            ("phish_id,link\n1,http://a.example/", "a CSV whose header names a `url` column"),
            ("{\"url\": \"http://a.example/\"}\n{\"url\": \"http://b.example/\"\n", "JSON lines: line 2: not JSON"),
            ("{\"url\": \"http://a.example/\"}\n[1]\n", "JSON lines: line 2: a JSON array, not an object"),
            ("{\"url\": \"http://a.example/\"}\n{\"brand\": \"x\"}", "JSON lines: line 2: an object with no `url`"),
            ("<html><body>hi</body></html>", "PhishTank XML: line 1: the root element is <html>, not <output>"),
            ("<output><entries><entry><id>1</id></entry></entries></output>", "XML: line 1: entry 1 has no `url`"),
            ("<output><entries><entry><url>a b</url></entry></entries></output>", "entry 1: `url` whitespace"),
            ("<output>\n<entries>\n</entries>\n</output>", "PhishTank XML with no `output/entries/entry`"),
            ("<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY a \"b\">]>\n<output/>", "XML: line 2: a DTD"),
            ("<output><entries><entry><url>http://a.example/</url></entry></entries>", "<output> is not closed"),
            ("<output></output><output/>", "XML: line 1: a second root element"),
            ("<output>\n</outpt>", "XML: line 2: </outpt> closes <output>"),
            ("<output>&bogus;</output>", "undeclared entity"),
            ("<output>a & b</output>", "an `&` that starts no reference"),
            ("<output></output>trailing", "text outside the root element"),
            ("<output><![CDATA[x</output>", "a CDATA section is not closed"),
            ("<output><!-- x </output>", "a comment is not closed"),
            ("<output><url", "a start tag is not closed"),
            ("< output/>", "not an element name"),
            ("<", "a start tag is not closed"),
        ];
        for (text, want) in cases {
            let got = reason(text);
            assert!(got.contains(want), "{text:?}: {got:?} lacks {want:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse(&input(&s));
        }

        #[test]
        fn never_panics_on_feed_like_text(s in r#"(<\??/?(output|entries|entry|url|!--|!\[CDATA\[)?[ >/"'&;#x0-9a-z:,{}\]\[\r\n-]{0,6}){0,12}"#) {
            let _ = parse(&input(&s));
        }

        #[test]
        fn never_panics_on_url_like_text(s in r"((https?|hxxp|ftp|[a-z]{0,5})(://)?[\[\]@:/?#a-z0-9.\u{e9} \t\r\n]{0,20}\n?){0,5}") {
            let _ = parse(&input(&s));
        }
    }
}

#[cfg(target_arch = "wasm32")]
cybexp_guest_glue::parser_component!(name: "url-list", parse: crate::parse);
