//! The `email` parser (typtag `email`): one Internet message (RFC 5322) as
//! text, e.g. a reported phishing mail.
//!
//! Accepted plaintext:
//! - is not JSON (a JSON document is some other feed);
//! - may start with an mbox `From ` separator line, which is skipped;
//! - then has a header block that runs to the first empty line (or the end):
//!   every line is a field `Name: value` or a folded continuation of the
//!   field above it (starting with a space or tab). A name is printable
//!   US-ASCII other than `:` (optionally followed by spaces or tabs, the
//!   obsolete syntax). Values may hold UTF-8 (RFC 6532) and tabs but no
//!   other control characters;
//! - has at least one field that marks a message: `From`, `Sender`, `To`,
//!   `Subject`, `Date`, `Message-ID`, `Received` or `Return-Path` (any case).
//!   RFC 5322 requires `From` and `Date`, but reported mail is often a
//!   partial copy, so one of these is enough;
//! - then optionally an empty line and a body, which is not checked.
//!
//! Lines end in LF or CRLF. Anything else is [`ParseFailure::InvalidInput`]
//! naming the first bad line (1-based). The document is the reference's for
//! non-JSON text, `{"data": text}`, with the text exactly as received, so the
//! `_hash` is the reference's: validation only decides between a document
//! and an error.
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
//!         typtag: "email", orgid: "org", timezone: "UTC", sub_type: "email", plaintext,
//!     };
//!     let _ = cybexp_parser_email::parse(&input);
//! });
//! ```
//!
//! and `cargo +nightly fuzz run <target>`, seeding the corpus with a few
//! `.eml` files. A panic or a hang is a bug; an `Err` is an answer.

use cybexp_tahoe::{
    Limits, ParseFailure, ParseInput, Plaintext, RawDoc, excerpt, raw_document, read_plaintext, wrap_text,
};

/// Header fields that mark a text as a message (compared without case).
const MESSAGE_FIELDS: [&str; 8] = ["from", "sender", "to", "subject", "date", "message-id", "received", "return-path"];

/// The reference document for an email message, or why this is not one.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    let limits = Limits::default();
    if let Plaintext::Json(value) = read_plaintext(input.plaintext, &limits)? {
        return Err(invalid(format!("a JSON {} document, not an email message", value.kind())));
    }
    check_message(input.plaintext)?;
    raw_document(input.sub_type, &wrap_text(input.plaintext), &limits)
}

fn invalid(reason: String) -> ParseFailure {
    ParseFailure::InvalidInput(reason)
}

/// Checks the header block; the body is free-form.
fn check_message(text: &str) -> Result<(), ParseFailure> {
    let mut lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).enumerate().peekable();
    // An mbox export starts with "From sender date", which is no field.
    lines.next_if(|(_, line)| line.starts_with("From "));
    let mut fields = 0usize;
    let mut marks_message = false;
    for (index, line) in lines {
        if line.is_empty() {
            break;
        }
        let bad = |why: &str| invalid(format!("line {}: {why}: {}", index + 1, excerpt(line, 80)));
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad("control character in the header"));
        }
        if line.starts_with([' ', '\t']) {
            if fields == 0 {
                return Err(bad("continuation line before any header field"));
            }
            continue;
        }
        let name = field_name(line).ok_or_else(|| bad("not a header field (Name: value)"))?;
        fields += 1;
        marks_message |= MESSAGE_FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f));
    }
    if fields == 0 {
        return Err(invalid("no header fields: an email message starts with its header".into()));
    }
    if !marks_message {
        return Err(invalid(
            "no From, Sender, To, Subject, Date, Message-ID, Received or Return-Path field in the header".into(),
        ));
    }
    Ok(())
}

/// The name of a `Name: value` field line, if it is one.
fn field_name(line: &str) -> Option<&str> {
    let (name, _value) = line.split_once(':')?;
    let name = name.trim_end_matches([' ', '\t']);
    let valid = !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b));
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cybexp_tahoe::test_support::invalid_input_reason;
    use proptest::prelude::*;

    fn input(plaintext: &str) -> ParseInput<'_> {
        ParseInput { typtag: "email", orgid: "org", timezone: "UTC", sub_type: "email", plaintext }
    }

    fn reason(plaintext: &str) -> String {
        invalid_input_reason(parse(&input(plaintext)), plaintext)
    }

    const PHISH: &str = "Return-Path: <billing@paypa1.example>\r\n\
        Received: from mail.paypa1.example (mail.paypa1.example [203.0.113.9])\r\n\
        \tby mx.victim.example with ESMTP id 4F2A1;\r\n\
        \tMon, 27 Apr 2020 23:59:01 +0000\r\n\
        From: \"PayPal\" <billing@paypa1.example>\r\n\
        To: victim@victim.example\r\n\
        Subject: =?UTF-8?B?WW91ciBhY2NvdW50IGlzIGxpbWl0ZWQ=?=\r\n\
        Date: Mon, 27 Apr 2020 23:58:59 +0000\r\n\
        Message-ID: <20200427235859.4F2A1@paypa1.example>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        \r\n\
        Dear customer, verify your account: http://paypa1.example/login\r\n\
        \r\n\
        From: this line is body text, not a header\r\n";

    #[test]
    fn messages_give_the_wrapped_reference_document() {
        let lf = PHISH.replace("\r\n", "\n");
        let mbox = format!("From billing@paypa1.example Mon Apr 27 23:59:01 2020\n{lf}");
        for text in [
            PHISH,
            &lf,
            &mbox,
            "Subject: header only",
            "from: a@b.example\n\n",
            "X-Note: Résumé ü\nDate: x\n\n\u{0}body\u{1}",
        ] {
            let doc = parse(&input(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(doc.sub_type, "email");
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, serde_json::json!({ "data": text }));
            let reference = cybexp_tahoe::reference_data(text, &Limits::default()).unwrap();
            assert_eq!(doc, raw_document("email", &reference, &Limits::default()).unwrap());
        }
    }

    #[test]
    fn everything_else_is_invalid_with_a_reason() {
        let cases = [
            ("", "no header fields"),
            ("Résumé: x\nFrom: a@b.example", "line 1: not a header field"),
            ("\n\nFrom: a@b.example", "no header fields"),
            (r#"{"From": "a@b.example"}"#, "a JSON object document"),
            (r#""From: a@b.example""#, "a JSON string document"),
            // Syntactically fields named "http" and "https", but no message.
            ("http://a.example/\nhttps://b.example/", "no From, Sender"),
            ("Hello Bob,\nhow are you?", "line 1: not a header field"),
            ("Subject hi\n\nbody", "line 1: not a header field"),
            ("Subject: hi\nthis is not a field\n\nbody", "line 2: not a header field"),
            (" folded: first\nFrom: a@b.example", "line 1: continuation line before"),
            ("Bad Name: x\nFrom: a@b.example", "line 1: not a header field"),
            (": no name\nFrom: a@b.example", "line 1: not a header field"),
            ("X-Mailer: x\nX-Spam: y\n\nbody", "no From, Sender"),
            ("From: a@b.example\nSubject: a\u{0}b\n\n", "line 2: control character"),
            ("From: a@b.example\rSubject: x\n\n", "line 1: control character"),
            ("\u{1}\u{2}\u{fffd}\u{7f}binary: x", "line 1: control character"),
            ("From a@b.example Mon Apr 27 2020\n\nbody", "no header fields"),
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
        fn never_panics_on_header_like_text(s in r"((From |From|Subject|X-[a-z]{0,3}|[ \t])?(:)?[ a-z@<>\t\u{e9}\r\u{0}]{0,12}\r?\n?){0,8}") {
            let _ = parse(&input(&s));
        }
    }
}

#[cfg(target_arch = "wasm32")]
cybexp_guest_glue::parser_component!(name: "email", parse: crate::parse);
