//! The `url-list` parser (typtags `openphish_feed`, `phishtank_feed`): plain
//! text feeds of one URL per line.
//!
//! Accepted plaintext:
//! - is not JSON (a JSON document is some other feed, not a URL list), and
//!   holds at least one non-blank line;
//! - every line, trimmed of whitespace, is blank or an absolute URL:
//!   - scheme `http`, `https`, `ftp`, or the defanged `hxxp`/`hxxps` that
//!     threat feeds use (any letter case), then `://`;
//!   - a non-empty host (after any `user@`; an IPv6 literal in brackets),
//!     then optionally `:port` (digits, at most 65535) and a path, query or
//!     fragment;
//!   - no whitespace or control characters anywhere.
//!
//! Lines end in LF or CRLF; a leading byte-order mark is ignored. Anything
//! else is [`ParseFailure::InvalidInput`] naming the first bad line (1-based).
//! The document is the reference's for non-JSON text, `{"data": text}`, with
//! the text exactly as received (no trimming), so the `_hash` is the
//! reference's: validation only decides between a document and an error.
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
//! and `cargo +nightly fuzz run <target>`, seeding the corpus with
//! `shared/samples/openphish_feed.txt`. A panic or a hang is a bug; an `Err`
//! is an answer.

use cybexp_tahoe::{
    Limits, ParseFailure, ParseInput, Plaintext, RawDoc, excerpt, raw_document, read_plaintext, wrap_text,
};

/// Schemes accepted, compared without regard to case.
const SCHEMES: [&str; 5] = ["http", "https", "ftp", "hxxp", "hxxps"];

/// The reference document for a URL list, or why this is not one.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    let limits = Limits::default();
    if let Plaintext::Json(value) = read_plaintext(input.plaintext, &limits)? {
        return Err(invalid(format!("a JSON {} document, not a URL list", value.kind())));
    }
    check_url_list(input.plaintext)?;
    raw_document(input.sub_type, &wrap_text(input.plaintext), &limits)
}

fn invalid(reason: String) -> ParseFailure {
    ParseFailure::InvalidInput(reason)
}

/// Every non-blank line must be a URL, and there must be one at least.
fn check_url_list(text: &str) -> Result<(), ParseFailure> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut urls = 0usize;
    for (index, line) in text.split('\n').enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        check_url(line).map_err(|why| invalid(format!("line {}: {why}: {}", index + 1, excerpt(line, 80))))?;
        urls += 1;
    }
    if urls == 0 {
        return Err(invalid("no URLs: the text is empty or blank".into()));
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
            (r#"{"url": "http://a.example/"}"#, "a JSON object document"),
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

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
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
