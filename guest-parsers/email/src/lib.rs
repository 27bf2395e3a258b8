//! The `email` parser (typtag `email`): reported mail, e.g. phishing, as
//! the text of the message or of a mailbox export.
//!
//! # Formats
//!
//! | format | where it is described | stored `data` (reference §3) |
//! |---|---|---|
//! | one Internet message (`.eml`): header fields, an empty line, a body | RFC 5322 (syntax), RFC 6532 (UTF-8 in header values) | `{"data": text}` |
//! | the same with MIME parts: `MIME-Version`, `Content-Type: multipart/…; boundary=…`, parts in `quoted-printable` or `base64`, encoded words in the header | RFC 2045, RFC 2046, RFC 2047 | `{"data": text}` |
//! | an mbox of one or more messages, each after a `From sender date` line, body lines that start with `From ` quoted as `>From ` | RFC 4155 (`application/mbox`, the default format of its Appendix A) | `{"data": text}` |
//!
//! # What is refused, and what is tolerated
//!
//! A refusal is for text that is not mail at all: a wrong file, garbage,
//! another format. The header is what tells mail apart, so it is checked;
//! the body is not.
//!
//! - The plaintext is not JSON (a JSON document is some other feed).
//! - If it starts with a `From ` line, it is an mbox: that line and every
//!   later From_ line (`From `, the envelope sender, then a date holding a
//!   time `hh:mm`) that follows an empty line starts a message. Otherwise
//!   the whole text is one message.
//! - A message's header block runs to its first empty line (or its end):
//!   every line is a field `Name: value` or a folded continuation of the
//!   field above it (starting with a space or tab). A name is printable
//!   US-ASCII other than `:` (optionally followed by spaces or tabs, the
//!   obsolete syntax). Values may hold UTF-8 (RFC 6532) and tabs but no
//!   other control characters.
//! - The header has at least one field that marks a message: `From`,
//!   `Sender`, `To`, `Subject`, `Date`, `Message-ID`, `Received` or
//!   `Return-Path` (any case). RFC 5322 requires `From` and `Date`, but
//!   reported mail is often a partial copy, so one of these is enough.
//! - Bodies, MIME structure included, are not checked: a reported message
//!   is often cut short, and the reference stores the text whatever it is.
//!
//! Each message is one record ([`RawDoc::counts`]). A single message must
//! pass. In an mbox, a message whose header does not pass is malformed and
//! counted (the first one named in [`RawDoc::first_malformed`]); the mbox is
//! the feed when at least one message passes and they outnumber the
//! malformed ones ([`Tally::is_feed`]), so one mangled message does not sink
//! a mailbox export. Run over the 7,850 UTF-8 messages of a public phishing
//! collection (`tests/samples/real/SOURCES.md`), the checks refused only an
//! empty file and a three-line stub with no message field.
//!
//! Lines end in LF or CRLF. A refusal is [`ParseFailure::InvalidInput`]
//! naming the first bad line (1-based), the mbox message it is in, and the
//! formats expected. Mail that is not UTF-8 (a legacy charset in raw 8-bit
//! form, common in older mailboxes) never reaches the parser: the host
//! refuses it as `decrypt.utf8`, as the reference fails on it too. The
//! document is the reference's for non-JSON text, `{"data": text}`, with the
//! text exactly as received, so the `_hash` is the reference's: the checks
//! only decide between a document and an error, and what the counts say.
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
//! and `cargo +nightly fuzz run <target>`, seeding the corpus with every file
//! of this crate's `tests/samples/` (one per format above). A panic or a
//! hang is a bug; an `Err` is an answer.

use cybexp_tahoe::{
    Limits, ParseFailure, ParseInput, Plaintext, RawDoc, Tally, excerpt, raw_document, read_plaintext, wrap_text,
};

/// Header fields that mark a text as a message (compared without case).
const MESSAGE_FIELDS: [&str; 8] = ["from", "sender", "to", "subject", "date", "message-id", "received", "return-path"];

/// The reference document for an email message, or why this is not one.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    let limits = Limits::default().for_input(input.plaintext.len());
    if let Plaintext::Json(value) = read_plaintext(input.plaintext, &limits)? {
        return Err(invalid(format!("a JSON {} document, not an email message", value.kind())));
    }
    let tally = check_messages(input.plaintext)?;
    Ok(raw_document(input.sub_type, &wrap_text(input.plaintext), &limits)?.counted(tally))
}

fn invalid(reason: String) -> ParseFailure {
    ParseFailure::InvalidInput(reason)
}

/// What a text that is no message was expected to be.
const EXPECTED: &str = "expected an RFC 5322 message or an mbox of them";

/// One message, or an mbox (the text starts with a `From ` line) of one or
/// more; each message's header is checked, bodies are free-form.
fn check_messages(text: &str) -> Result<Tally, ParseFailure> {
    let lines: Vec<(usize, &str)> =
        text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).enumerate().collect();
    let mut tally = Tally::default();
    // An mbox export starts with "From sender date", which is no field.
    if !lines.first().is_some_and(|(_, line)| line.starts_with("From ")) {
        check_header(&lines).map_err(invalid)?;
        tally.well_formed();
        return Ok(tally);
    }
    // RFC 4155: a message starts at a From_ line at the start or after an
    // empty line.
    let mut starts = vec![0];
    starts.extend((1..lines.len()).filter(|&i| lines[i - 1].1.is_empty() && is_from_line(lines[i].1)));
    if starts.len() == 1 {
        check_header(&lines[1..]).map_err(invalid)?;
        tally.well_formed();
        return Ok(tally);
    }
    for (number, &start) in starts.iter().enumerate() {
        let end = starts.get(number + 1).copied().unwrap_or(lines.len());
        match check_header(&lines[start + 1..end]) {
            Ok(()) => tally.well_formed(),
            Err(why) => tally.malformed(|| format!("mbox message {}: {why}", number + 1)),
        }
    }
    if !tally.is_feed() {
        return Err(invalid(tally.not_the_feed("messages")));
    }
    Ok(tally)
}

/// A From_ line after the first message of an mbox: `From `, the envelope
/// sender, then a date with a time (`From a@b.example Mon Apr 27 23:59:01
/// 2020`). Asking for the time keeps body text that starts with "From " and
/// was not quoted (as RFC 4155 asks writers to) from splitting a message.
fn is_from_line(line: &str) -> bool {
    let Some((sender, date)) = line.strip_prefix("From ").and_then(|rest| rest.split_once(' ')) else {
        return false;
    };
    let has_time = date.as_bytes().windows(5).any(|w| {
        w[0].is_ascii_digit() && w[1].is_ascii_digit() && w[2] == b':' && w[3].is_ascii_digit() && w[4].is_ascii_digit()
    });
    !sender.is_empty() && has_time
}

/// Checks the header block of one message (its lines with their 0-based
/// index in the whole text); the body is free-form.
fn check_header(lines: &[(usize, &str)]) -> Result<(), String> {
    let mut fields = 0usize;
    let mut marks_message = false;
    for &(index, line) in lines {
        if line.is_empty() {
            break;
        }
        let bad = |why: &str| format!("line {}: {why}: {} ({EXPECTED})", index + 1, excerpt(line, 80));
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
        return Err(format!("no header fields: an email message starts with its header ({EXPECTED})"));
    }
    if !marks_message {
        return Err(format!(
            "no From, Sender, To, Subject, Date, Message-ID, Received or Return-Path field in the header ({EXPECTED})"
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
    use cybexp_tahoe::RecordCounts;
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
            assert_eq!(doc.stored(), raw_document("email", &reference, &Limits::default()).unwrap().stored());
            assert_eq!((doc.counts, doc.first_malformed), (RecordCounts { records: 1, malformed: 0 }, None));
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

    #[test]
    fn every_message_of_an_mbox_is_checked() {
        let first = "From a@b.example Mon Nov 30 23:59:01 2026\nFrom: a@b.example\nSubject: one\n\nbody\n\n";
        let ok = [
            format!("{first}From c@d.example Tue Dec  1 02:10:04 2026\nFrom: c@d.example\n\nbody\n"),
            // Unquoted body text starting with "From " but with no time is no separator.
            format!("{first}From there on, all was fine.\n"),
            format!("{first}From c@d.example Tue Dec  1 02:10:04 2026\r\nDate: x\r\n"),
        ];
        for (text, messages) in ok.iter().zip([2, 1, 2]) {
            let doc = parse(&input(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let reference = cybexp_tahoe::reference_data(text, &Limits::default()).unwrap();
            assert_eq!(doc.stored(), raw_document("email", &reference, &Limits::default()).unwrap().stored());
            assert_eq!(doc.counts, RecordCounts { records: messages, malformed: 0 }, "{text:?}");
        }
        // One mangled message among more good ones is counted, not fatal.
        let second = "From c@d.example Tue Dec  1 02:10:04 2026\nFrom: c@d.example\n\nbody\n\n";
        let text = format!("{first}From x@y.example Tue Dec  1 02:10:04 2026\nnot a header\n\n{second}");
        let doc = parse(&input(&text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(doc.counts, RecordCounts { records: 3, malformed: 1 });
        let note = doc.first_malformed.unwrap_or_default();
        assert!(note.starts_with("mbox message 2: line 8: not a header field"), "{note}");
        let cases = [
            (
                format!("{first}From c@d.example Tue Dec  1 02:10:04 2026\nnot a header\n"),
                "mbox message 2: line 8: not a header field",
            ),
            (
                format!("{first}From c@d.example Tue Dec  1 02:10:04 2026\nX-Foo: bar\n\nbody"),
                "mbox message 2: no From, Sender",
            ),
            (format!("{first}From c@d.example Tue Dec  1 02:10:04 2026\n\nbody"), "mbox message 2: no header fields"),
            (
                format!("{first}From MAILER-DAEMON Tue Dec  1 02:10:04 2026\n From: x\n"),
                "mbox message 2: line 8: continuation line",
            ),
        ];
        for (text, want) in &cases {
            let got = reason(text);
            assert!(got.contains(want), "{text:?}: {got:?} lacks {want:?}");
            assert!(got.contains("expected an RFC 5322 message or an mbox of them"), "{got:?}");
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
