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
//! would store it wrapped), and the compressed downloads (`.gz`, `.bz2`),
//! which are not UTF-8, so the host refuses them before any parser runs
//! (`decrypt.utf8`), as the reference does.
//!
//! # What is checked
//!
//! The format is told apart by the content, not by the typtag, and then the
//! whole content must be that format:
//! - JSON (read as Python's `json.loads` would): an array with at least one
//!   element, every element an object whose `url` is a URL (PhishTank); or
//!   one object whose `url` is a URL (a one-record OpenPhish JSON file).
//! - Text whose first non-blank line starts with `<`: PhishTank XML. It must
//!   be well-formed in the subset PhishTank writes (declaration, elements,
//!   attributes, text, CDATA, comments, the five predefined and numeric
//!   character references; no DTD), with the root `output`, and at least one
//!   `output/entries/entry`, each with a `url` that is a URL.
//! - Text whose first non-blank line starts with `{`: JSON lines; every
//!   non-blank line is a JSON object whose `url` is a URL.
//! - Text whose first non-blank line is not a URL but a CSV header naming a
//!   `url` column (any case): CSV (RFC 4180, LF or CRLF). Every record has
//!   the header's number of fields and a URL in the `url` column; there is
//!   at least one record.
//! - Any other text: one URL per line. Every line, trimmed, is blank or a
//!   URL, and there is at least one.
//!
//! A URL here is absolute: scheme `http`, `https`, `ftp`, or the defanged
//! `hxxp`/`hxxps` that threat feeds use (any letter case), then `://`; a
//! non-empty host (after any `user@`; an IPv6 literal in brackets), then
//! optionally `:port` (digits, at most 65535) and a path, query or fragment;
//! no whitespace or control characters anywhere.
//!
//! A leading byte-order mark is ignored by the checks. Anything else is
//! [`ParseFailure::InvalidInput`] naming the format it was taken for, the
//! first bad line (1-based) or entry, and what was expected.
//!
//! The document is always the reference's for the plaintext: the parsed JSON,
//! or the text exactly as received wrapped as `{"data": text}` (no trimming),
//! so the `_hash` is the reference's: validation only decides between a
//! document and an error.
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
    Limits, ParseFailure, ParseInput, Plaintext, RawDoc, Value, excerpt, parse_python_json, raw_document,
    read_plaintext, wrap_text,
};

/// Schemes accepted, compared without regard to case.
const SCHEMES: [&str; 5] = ["http", "https", "ftp", "hxxp", "hxxps"];

/// What a text that fits no format was expected to be.
const EXPECTED: &str = "expected one URL per line, a CSV whose header names a `url` column, \
     JSON lines with a `url`, or PhishTank XML";

/// The reference document for a URL feed, or why this is not one.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    let limits = Limits::default();
    let data = match read_plaintext(input.plaintext, &limits)? {
        Plaintext::Json(value) => {
            check_json_document(&value)?;
            value
        }
        Plaintext::Text => {
            check_text(input.plaintext, &limits)?;
            wrap_text(input.plaintext)
        }
    };
    raw_document(input.sub_type, &data, &limits)
}

fn invalid(reason: String) -> ParseFailure {
    ParseFailure::InvalidInput(reason)
}

/// A PhishTank JSON array of entries, or one OpenPhish JSON record.
fn check_json_document(value: &Value) -> Result<(), ParseFailure> {
    let expected = "expected a PhishTank JSON array of entries with a `url`, or an OpenPhish JSON record";
    match value {
        Value::Array(entries) if entries.is_empty() => {
            Err(invalid(format!("a JSON array document with no entries: {expected}")))
        }
        Value::Array(entries) => {
            for (index, entry) in entries.iter().enumerate() {
                check_record(entry)
                    .map_err(|why| invalid(format!("a JSON array document: entry {}: {why}", index + 1)))?;
            }
            Ok(())
        }
        Value::Object(_) => check_record(value).map_err(|why| invalid(format!("a JSON object document: {why}"))),
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
fn check_text(text: &str, limits: &Limits) -> Result<(), ParseFailure> {
    if let Some(text) = text.strip_prefix('\u{feff}') {
        // Python's json.loads refuses a BOM, so the reference stores such a
        // JSON file as text; it is still the JSON format.
        if let Plaintext::Json(value) = read_plaintext(text, limits)? {
            return check_json_document(&value);
        }
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.split('\n').map(str::trim).find(|line| !line.is_empty()).unwrap_or_default();
    if first.starts_with('<') {
        let entries =
            xml::check_phishtank_xml(text, check_url).map_err(|why| invalid(format!("PhishTank XML: {why}")))?;
        return if entries == 0 { Err(invalid("PhishTank XML with no `output/entries/entry`".into())) } else { Ok(()) };
    }
    if first.starts_with('{') {
        return check_json_lines(text, limits);
    }
    if check_url(first).is_err() && csv::header_names_url(first) {
        return csv::check_url_csv(text, check_url).map_err(|why| invalid(format!("CSV: {why}")));
    }
    check_url_list(text)
}

/// JSON lines (the OpenPhish Premium JSON feed): every non-blank line a record.
fn check_json_lines(text: &str, limits: &Limits) -> Result<(), ParseFailure> {
    for (index, line) in text.split('\n').enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: String| invalid(format!("JSON lines: line {}: {why}", index + 1));
        let record = parse_python_json(line, limits)
            .map_err(|e| bad(format!("not JSON ({e}): {}; expected one JSON record per line", excerpt(line, 60))))?;
        check_record(&record).map_err(bad)?;
    }
    Ok(())
}

/// Every non-blank line must be a URL, and there must be one at least.
fn check_url_list(text: &str) -> Result<(), ParseFailure> {
    let mut urls = 0usize;
    for (index, line) in text.split('\n').enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        check_url(line)
            .map_err(|why| invalid(format!("line {}: {why}: {} ({EXPECTED})", index + 1, excerpt(line, 80))))?;
        urls += 1;
    }
    if urls == 0 {
        return Err(invalid(format!("no URLs: the text is empty or blank ({EXPECTED})")));
    }
    Ok(())
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
        for text in [
            r#"[{"phish_id": 1, "url": "http://a.example/"}, {"url": "hxxps://b.example/x"}]"#,
            r#"{"url": "https://a.example/", "brand": "Example"}"#,
            "phish_id,url,target\n1,http://a.example/,Other\n2,\"http://b.example/?a=1,2\",\"Bank, \"\"N.A.\"\"\"\n",
            "URL\r\nhttp://a.example/\r\n\r\n",
            "{\"url\": \"http://a.example/\"}\n\n{\"url\": \"http://b.example/\", \"ip\": \"192.0.2.1\"}\n",
            "<output><entries><entry><url>http://a.example/?a=1&amp;b=&#50;&#x33;</url></entry></entries></output>",
            "<?xml version='1.0'?><!-- c --><output a=\"x>y\"><meta/><entries><entry>\
             <url>\n <![CDATA[http://a.example/]]> </url></entry></entries></output>\n",
        ] {
            let doc = parse(&input(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let oracle = cybexp_tahoe::reference_data(text, &Limits::default()).unwrap();
            assert_eq!(doc, raw_document("openphish_feed", &oracle, &Limits::default()).unwrap());
        }
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
