//! The `cowrie` parser (typtag `unr-honeypot`): Cowrie SSH/Telnet honeypot
//! events, as shipped by Filebeat or directly.
//!
//! # Formats
//!
//! | format | where it is described | stored `data` (reference §3) |
//! |---|---|---|
//! | one Cowrie event: a JSON object with `eventid` (`cowrie.login.failed`, `cowrie.session.connect`, …), `timestamp`, `src_ip`, `session`, `sensor`, `message`, … | Cowrie's "Output Event Code Reference" (docs.cowrie.org, `OUTPUT.html`): the event ids and the attributes shared by all events | the parsed object |
//! | a Filebeat record carrying one event: `{"host": …, "message": "{\"eventid\": \"cowrie.login.failed\", …}", "agent": {"type": "filebeat", …}, "log": …, "@timestamp": …}` | the production documents in `shared/samples/cowrie_raw_documents.jsonl` (all 16 have this shape) | the parsed object |
//! | Cowrie's JSON log, `cowrie.json`: one event (or Filebeat record) per line | Cowrie's `output_jsonlog` module (`[output_jsonlog] logfile = …/cowrie.json` in `cowrie.cfg.dist`), which writes each event as one JSON line; the same reference page | `{"data": text}` (it is not one JSON document); one line is JSON, so the parsed object |
//!
//! # What is refused, and what is tolerated
//!
//! A refusal is for text that is not Cowrie's at all: a wrong file, garbage,
//! another format. A genuine log with some messy lines is the feed: it is
//! stored exactly as the reference stores it, and the messy lines are
//! counted as malformed ([`RawDoc::counts`], the first one named by its line
//! in [`RawDoc::first_malformed`]), so an operator sees a sensor's log
//! degrade without losing it.
//!
//! JSON (read as Python's `json.loads` would) is one event and must be one
//! of:
//! - a Filebeat record: an object whose `message` is a string holding a JSON
//!   object with a string `eventid` starting with `cowrie.`;
//! - a Cowrie event itself: an object whose own `eventid` is such a string.
//!
//! Text that is not one JSON document is Cowrie's JSON log: each non-blank
//! line (LF or CRLF) is one record, well-formed when it is one of the two
//! above, malformed otherwise (not JSON, or JSON that is no Cowrie event). A
//! leading byte-order mark is ignored by the checks. The log is the feed
//! when at least one line is an event and the events outnumber the
//! malformed lines ([`Tally::is_feed`]), wherever the malformed lines are:
//! a line mangled in the middle of the log does not sink the events around
//! it. The last line, when no line break follows it and it starts like an
//! event but is not JSON, is a log copied while it was being written: it
//! counts as malformed but not against the log, so a torn copy of a log of
//! one event is still stored.
//!
//! Anything else is [`ParseFailure::InvalidInput`] with the reason, the first
//! malformed line (1-based) and the formats expected. A plaintext that is not
//! UTF-8 never reaches the parser: the host refuses it as `decrypt.utf8`, as
//! the reference fails on it too. For accepted input the document is exactly
//! the reference's (same data, same `_hash`; text wrapped exactly as
//! received): the checks only decide between a document and an error, and
//! what the counts say.
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
//!         typtag: "unr-honeypot", orgid: "org", timezone: "UTC",
//!         sub_type: "unr_honeypot", plaintext,
//!     };
//!     let _ = cybexp_parser_cowrie::parse(&input);
//! });
//! ```
//!
//! and `cargo +nightly fuzz run <target>`, seeding the corpus with every file
//! of this crate's `tests/samples/` (one per format above) and the `message`
//! objects and records of `shared/samples/cowrie_raw_documents.jsonl`.
//! A panic or a hang is a bug; an `Err` is an answer.

use cybexp_tahoe::{
    Limits, Line, ParseFailure, ParseInput, Plaintext, RawDoc, Tally, Value, excerpt, lines, parse_python_json,
    raw_document, read_plaintext, wrap_text,
};

/// The formats a plaintext that is none of them was expected to be.
const EXPECTED: &str = "expected a Cowrie event, a Filebeat record carrying one, or Cowrie's JSON log (one per line)";

/// The reference document for Cowrie events, or why this is not one.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    let limits = Limits::default().for_input(input.plaintext.len());
    let (data, tally) = match read_plaintext(input.plaintext, &limits)? {
        Plaintext::Json(value) => {
            let tally = one_event(&value, &limits)?;
            (value, tally)
        }
        Plaintext::Text => (wrap_text(input.plaintext), check_json_lines(input.plaintext, &limits)?),
    };
    Ok(raw_document(input.sub_type, &data, &limits)?.counted(tally))
}

fn invalid(reason: String) -> ParseFailure {
    ParseFailure::InvalidInput(reason)
}

/// One JSON document: it must be an event, the one record.
fn one_event(value: &Value, limits: &Limits) -> Result<Tally, ParseFailure> {
    check_event(value, limits)?;
    let mut tally = Tally::default();
    tally.well_formed();
    Ok(tally)
}

/// Cowrie's JSON log: each non-blank line an event or a Filebeat record, or
/// a malformed line; see the crate docs for when it is the feed.
fn check_json_lines(text: &str, limits: &Limits) -> Result<Tally, ParseFailure> {
    let text = match text.strip_prefix('\u{feff}') {
        // Python's json.loads refuses a BOM, so the reference stores such a
        // file as text; a (pretty-printed) event after it is still an event.
        Some(text) => match read_plaintext(text, limits)? {
            Plaintext::Json(value) => return one_event(&value, limits),
            Plaintext::Text => text,
        },
        None => text,
    };
    let mut tally = Tally::default();
    for Line { number, text: line, unterminated } in lines(text) {
        match parse_python_json(line, limits) {
            Ok(value) => match check_event(&value, limits) {
                Ok(()) => tally.well_formed(),
                Err(ParseFailure::InvalidInput(why) | ParseFailure::NotSupported(why)) => {
                    tally.malformed(|| format!("line {number}: {why}"))
                }
            },
            // The start of an event where the text ends: cut off by a copy.
            Err(e) if unterminated && line.starts_with('{') => {
                tally.torn_tail(|| format!("line {number}: the last line is cut off ({e})"))
            }
            Err(e) => tally.malformed(|| {
                format!("line {number}: not JSON ({e}): {}: a Cowrie event is a JSON object", excerpt(line, 60))
            }),
        }
    }
    if tally.counts().records == 0 {
        return Err(invalid(format!("not JSON: the text is empty or blank; {EXPECTED}")));
    }
    if !tally.is_feed() {
        return Err(invalid(format!("{}; {EXPECTED}", tally.not_the_feed("lines"))));
    }
    Ok(tally)
}

/// Accepts a Cowrie event object or a Filebeat record carrying one.
fn check_event(data: &Value, limits: &Limits) -> Result<(), ParseFailure> {
    if !matches!(data, Value::Object(_)) {
        return Err(invalid(format!("a JSON {}, not an object: {EXPECTED}", data.kind())));
    }
    // A direct Cowrie event has its own `eventid` (its `message` is prose).
    if let Some(eventid) = data.get("eventid") {
        return check_eventid(eventid, "eventid");
    }
    let Some(message) = data.get("message") else {
        return Err(invalid(format!(
            "neither a Cowrie event (no `eventid`) nor a Filebeat record (no `message`): {EXPECTED}"
        )));
    };
    let Value::String(message) = message else {
        return Err(invalid(format!("`message` is a JSON {}, not a string", message.kind())));
    };
    let event = parse_python_json(message, limits)
        .map_err(|e| invalid(format!("`message` is not JSON ({e}): {}", excerpt(message, 60))))?;
    if !matches!(event, Value::Object(_)) {
        return Err(invalid(format!("`message` holds a JSON {}, not an object", event.kind())));
    }
    match event.get("eventid") {
        Some(eventid) => check_eventid(eventid, "message.eventid"),
        None => Err(invalid("the event in `message` has no `eventid`".into())),
    }
}

/// Cowrie event ids are `cowrie.<area>.<what>`, e.g. `cowrie.login.failed`.
fn check_eventid(eventid: &Value, path: &str) -> Result<(), ParseFailure> {
    match eventid {
        Value::String(id) if id.len() > "cowrie.".len() && id.starts_with("cowrie.") => Ok(()),
        Value::String(id) => Err(invalid(format!("`{path}` {} is not a cowrie.* event id", excerpt(id, 60)))),
        other => Err(invalid(format!("`{path}` is a JSON {}, not a string", other.kind()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cybexp_tahoe::RecordCounts;
    use cybexp_tahoe::test_support::{invalid_input_reason, shared};
    use proptest::prelude::*;

    fn input(plaintext: &str) -> ParseInput<'_> {
        ParseInput { typtag: "unr-honeypot", orgid: "org", timezone: "UTC", sub_type: "unr_honeypot", plaintext }
    }

    fn reason(plaintext: &str) -> String {
        invalid_input_reason(parse(&input(plaintext)), plaintext)
    }

    #[test]
    fn production_samples_give_the_stored_documents() {
        let samples = shared("samples/cowrie_raw_documents.jsonl");
        let mut n = 0;
        for line in samples.lines().filter(|l| !l.trim().is_empty()) {
            let stored: serde_json::Value = serde_json::from_str(line).unwrap();
            let plaintext = serde_json::to_string(&stored["data"]).unwrap();
            let doc = parse(&input(&plaintext)).unwrap();
            assert_eq!(doc.hash, stored["_hash"].as_str().unwrap());
            assert_eq!(doc.sub_type, "unr_honeypot");
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, stored["data"]);
            n += 1;
        }
        assert_eq!(n, 16);
    }

    #[test]
    fn raw_document_vectors() {
        let vectors: serde_json::Value = serde_json::from_str(&shared("vectors/raw_documents.json")).unwrap();
        let mut n = 0;
        for case in vectors["cases"].as_array().unwrap().iter().filter(|c| c["typtag"] == "unr-honeypot") {
            let doc = parse(&input(case["plaintext"].as_str().unwrap())).unwrap();
            assert_eq!(doc.hash, case["expect"]["_hash"].as_str().unwrap());
            let data: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
            assert_eq!(data, case["expect"]["data"]);
            n += 1;
        }
        assert_eq!(n, 12);
    }

    #[test]
    fn direct_cowrie_events_are_accepted() {
        let event = r#"{"eventid": "cowrie.session.connect", "src_ip": "1.2.3.4", "message": "New connection"}"#;
        let doc = parse(&input(event)).unwrap();
        let reference = cybexp_tahoe::reference_data(event, &Limits::default()).unwrap();
        assert_eq!(doc.stored(), raw_document("unr_honeypot", &reference, &Limits::default()).unwrap().stored());
        assert_eq!((doc.counts, doc.first_malformed), (RecordCounts { records: 1, malformed: 0 }, None));
    }

    fn event(i: u32) -> String {
        format!(r#"{{"eventid": "cowrie.session.connect", "src_ip": "192.0.2.{i}", "session": "s{i}"}}"#)
    }

    /// Parses `log`, which must be stored as the reference stores it, and
    /// returns its counts and first note.
    fn counted(log: &str) -> (RecordCounts, String) {
        let doc = parse(&input(log)).unwrap_or_else(|e| panic!("{log:?}: {e}"));
        let reference = cybexp_tahoe::reference_data(log, &Limits::default()).unwrap();
        assert_eq!(doc.stored(), raw_document("unr_honeypot", &reference, &Limits::default()).unwrap().stored());
        (doc.counts, doc.first_malformed.unwrap_or_default())
    }

    #[test]
    fn a_log_copied_while_it_was_written_is_stored_whole() {
        let log: String = (1..=5).map(|i| event(i) + "\n").collect();
        let whole = counted(&log);
        assert_eq!(whole, (RecordCounts { records: 5, malformed: 0 }, String::new()));
        for torn in [format!("{log}{}", &event(6)[..30]), format!("{}{}", log.replace('\n', "\r\n"), &event(6)[..30])] {
            let (counts, note) = counted(&torn);
            assert_eq!(counts, RecordCounts { records: 6, malformed: 1 });
            assert!(note.starts_with("line 6: the last line is cut off"), "{note}");
        }
        // However short the log: one event and the torn start of the next.
        let (counts, _) = counted(&format!("{}\n{}", event(1), &event(2)[..25]));
        assert_eq!(counts, RecordCounts { records: 2, malformed: 1 });
    }

    #[test]
    fn a_mangled_line_in_the_middle_is_counted_and_named() {
        // A writer that died mid-line and a restarted one appending to it:
        // one line holds half an event and a whole one.
        let log = format!("{}\n{}{}\n{}\n{}\n", event(1), &event(2)[..20], event(3), event(4), event(5));
        let (counts, note) = counted(&log);
        assert_eq!(counts, RecordCounts { records: 4, malformed: 1 });
        assert!(note.starts_with("line 2: not JSON"), "{note}");
        // A stray line of something else, among events.
        let log = format!("{}\n{{\"eventid\": \"dionaea.connection\"}}\n{}\n", event(1), event(2));
        let (counts, note) = counted(&log);
        assert_eq!(counts, RecordCounts { records: 3, malformed: 1 });
        assert!(note.starts_with("line 2: `eventid` \"dionaea.connection\" is not a cowrie.* event id"), "{note}");
    }

    #[test]
    fn what_is_not_mostly_events_is_not_the_log() {
        let cases = [
            // A torn line alone is no log, nor is one line in two an event.
            (event(1)[..30].to_owned(), "line 1: the last line is cut off"),
            (format!("{}\nsshd[812]: Failed password\n", event(1)), "line 2: not JSON"),
            (format!("{}\n{}\nhello\nworld\n{{}}\n", event(1), event(2)), "line 3: not JSON"),
            // A log line followed by a line break is not torn.
            (format!("{}\n{}\n", event(1), &event(2)[..30]), "line 2: not JSON"),
        ];
        for (log, want) in &cases {
            let got = reason(log);
            assert!(got.contains(want), "{log:?}: {got:?} lacks {want:?}");
            assert!(got.contains("lines malformed") && got.ends_with(EXPECTED), "{got}");
        }
    }

    #[test]
    fn everything_else_is_invalid_with_a_reason() {
        let cases = [
            ("", "not JSON"),
            ("login attempt [root/root] failed", "not JSON"),
            ("\u{0}\u{1}\u{2}\u{fffd}binary\u{7f}", "not JSON"),
            ("[1, 2]", "a JSON array, not an object"),
            ("\"cowrie.login.failed\"", "a JSON string, not an object"),
            ("{}", "neither a Cowrie event"),
            (r#"{"host": {"name": "cybex"}}"#, "neither a Cowrie event"),
            (r#"{"message": 5}"#, "`message` is a JSON integer"),
            (r#"{"message": "login attempt failed"}"#, "`message` is not JSON"),
            (r#"{"message": "[1]"}"#, "`message` holds a JSON array"),
            (r#"{"message": "{\"username\": \"root\"}"}"#, "has no `eventid`"),
            (r#"{"message": "{\"eventid\": \"dionaea.connection\"}"}"#, "is not a cowrie.* event id"),
            (r#"{"message": "{\"eventid\": \"cowrie.\"}"}"#, "is not a cowrie.* event id"),
            (r#"{"message": "{\"eventid\": 7}"}"#, "`message.eventid` is a JSON integer"),
            (r#"{"eventid": "COWRIE.login"}"#, "`eventid` \"COWRIE.login\" is not"),
            (r#"{"eventid": null, "message": "{\"eventid\": \"cowrie.x\"}"}"#, "`eventid` is a JSON null"),
        ];
        for (plaintext, want) in cases {
            let got = reason(plaintext);
            assert!(got.contains(want), "{plaintext:?}: {got:?} lacks {want:?}");
        }
        // Budgets the reference could not meet either.
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(reason(&deep), "nesting deeper than 128");
    }

    #[test]
    fn json_lines_that_are_not_all_cowrie_events_are_invalid() {
        let event = r#"{"eventid": "cowrie.session.connect", "src_ip": "192.0.2.1"}"#;
        let cases = [
            (
                format!("{event}\n{{\"eventid\": \"dionaea.connection\"}}\n"),
                "line 2: `eventid` \"dionaea.connection\" is not",
            ),
            (format!("{event}\r\n\r\nsshd[812]: Failed password for root\r\n"), "line 3: not JSON"),
            (format!("{event}\n[1]"), "line 2: a JSON array, not an object"),
            (format!("{event}\n{{\"message\": \"hi\"}}"), "line 2: `message` is not JSON"),
            (format!("{event}\n{{\"host\": 1}}"), "line 2: neither a Cowrie event"),
            ("Nov 30 23:12:05 hp sshd[812]: Failed password\nNov 30 23:12:06 x".into(), "line 1: not JSON"),
            ("[1, 2]\n[3]".into(), "line 1: a JSON array, not an object"),
            ("\n  \r\n\t".into(), "empty or blank"),
            ("\u{feff}[1]".into(), "a JSON array, not an object"),
        ];
        for (plaintext, want) in &cases {
            let got = reason(plaintext);
            assert!(got.contains(want), "{plaintext:?}: {got:?} lacks {want:?}");
            assert!(
                got.contains("expected a Cowrie event")
                    || got.contains("is not a cowrie.* event id")
                    || got.contains("`message` is not JSON"),
                "{got:?} says what was expected"
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse(&input(&s));
        }

        #[test]
        fn never_panics_on_record_like_text(
            eventid in ".{0,12}",
            message in r#"([{}\[\]:,"\\ ]|eventid|cowrie\.|[a-z0-9]){0,40}"#,
        ) {
            let record = serde_json::json!({ "eventid": eventid }).to_string();
            let _ = parse(&input(&record));
            let record = serde_json::json!({ "message": message }).to_string();
            let _ = parse(&input(&record));
        }
    }
}

#[cfg(target_arch = "wasm32")]
cybexp_guest_glue::parser_component!(name: "cowrie", parse: crate::parse);
