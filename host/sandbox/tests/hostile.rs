//! The hostile corpus: each case must end as a classified error within its
//! budget, and the sandbox must go on serving good events afterwards.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use cybexp_sandbox::{EngineOptions, Limits, ParseError, ParseInput, Sandbox};

const GOOD_COWRIE: &str =
    r#"{"message": "{\"eventid\": \"cowrie.session.closed\", \"session\": \"a1\"}", "agent": {"type": "filebeat"}}"#;

/// Tight budgets so the hostile cases end fast.
fn tight() -> Limits {
    Limits { fuel: 200_000_000, deadline_ms: 2_000, max_memory_bytes: 32 << 20, ..Limits::default() }
}

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap();
        for (name, bytes) in cybexp_sandbox::BUILTIN_PARSERS {
            sandbox.load(name, bytes, tight()).unwrap();
        }
        let hostile = Path::new(cybexp_sandbox::TEST_GUESTS_DIR).join("hostile.component.wasm");
        sandbox.load_file("hostile", &hostile, tight()).unwrap();
        // Same guest, but a budget only the wall clock can enforce.
        let deadline_only = Limits { fuel: u64::MAX / 2, deadline_ms: 300, ..tight() };
        sandbox.load_file("hostile-deadline", &hostile, deadline_only).unwrap();
        let json = cybexp_sandbox::BUILTIN_PARSERS.iter().find(|(name, _)| *name == "json").unwrap().1;
        sandbox.load("json-default-limits", json, Limits::default()).unwrap();
        sandbox
    })
}

fn event<'a>(sub_type: &'a str, plaintext: &'a str) -> ParseInput<'a> {
    ParseInput { typtag: "t", orgid: "o", timezone: "UTC", sub_type, plaintext }
}

/// Runs a hostile call, then checks the sandbox still parses a good event.
fn contained(parser: &str, sub_type: &str, plaintext: &str, max: Duration) -> ParseError {
    let sandbox = sandbox();
    let (result, stats) = sandbox.parse(parser, &event(sub_type, plaintext));
    let error = result.expect_err("hostile input must not produce a document");
    assert!(stats.elapsed < max, "{parser}/{sub_type} took {:?} (budget {max:?})", stats.elapsed);
    let (good, _) = sandbox.parse("cowrie", &event("unr_honeypot", GOOD_COWRIE));
    good.expect("the next good event is served");
    error
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let error = contained("hostile", "loop", "", Duration::from_secs(5));
    assert!(matches!(error, ParseError::Fuel(_)), "{error:?}");
    assert_eq!(error.reason(), "fuel");
}

#[test]
fn infinite_loop_hits_the_deadline_when_fuel_is_plenty() {
    let error = contained("hostile-deadline", "loop", "", Duration::from_secs(5));
    assert!(matches!(error, ParseError::Deadline(300)), "{error:?}");
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let error = contained("hostile", "alloc", "", Duration::from_secs(5));
    assert!(matches!(error, ParseError::Memory(_)), "{error:?}");
}

#[test]
fn unbounded_recursion_traps_on_stack_overflow() {
    let error = contained("hostile", "recurse", "", Duration::from_secs(5));
    assert!(matches!(&error, ParseError::Trap(msg) if msg.contains("stack")), "{error:?}");
}

#[test]
fn guest_panic_is_a_trap() {
    let error = contained("hostile", "panic", "", Duration::from_secs(5));
    assert!(matches!(&error, ParseError::Trap(msg) if msg.contains("unreachable")), "{error:?}");
}

#[test]
fn giant_output_is_refused() {
    let limits = tight();
    // 1 MiB per input byte: 48 bytes → 48 MiB, beyond the 32 MiB memory cap.
    let error = contained("hostile", "giant-output", &"x".repeat(48), Duration::from_secs(5));
    assert!(matches!(error, ParseError::Memory(_) | ParseError::OutputTooLarge { .. }), "{error:?}");
    // Within memory but over the output cap.
    let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap();
    let hostile = Path::new(cybexp_sandbox::TEST_GUESTS_DIR).join("hostile.component.wasm");
    sandbox.load_file("small-output", &hostile, Limits { max_output_bytes: 1 << 20, ..limits }).unwrap();
    let (result, _) = sandbox.parse("small-output", &event("giant-output", "xx"));
    assert!(matches!(result, Err(ParseError::OutputTooLarge { limit: 1_048_576, .. })), "{result:?}");
}

#[test]
fn counts_a_parser_cannot_have_read_are_bad_output() {
    let error = contained("hostile", "bad-counts", "x", Duration::from_secs(5));
    assert!(matches!(&error, ParseError::BadOutput(why) if why == "4 malformed records of 3 read"), "{error:?}");
}

#[test]
fn a_note_on_a_malformed_record_is_cut_whatever_the_guest_sends() {
    let long = "é".repeat(100_000);
    let (result, stats) = sandbox().parse("hostile", &event("long-note", &long));
    let doc = result.unwrap();
    assert_eq!(stats.counts, cybexp_sandbox::RecordCounts { records: 3, malformed: 1 });
    let note = doc.first_malformed.unwrap();
    assert_eq!(note.chars().count(), cybexp_tahoe::MAX_NOTE_CHARS);
    assert!(long.starts_with(note.trim_end_matches('…')));
}

#[test]
fn oversized_input_is_refused_before_the_call() {
    let huge = "a".repeat(tight().max_input_bytes + 1);
    let error = contained("json", "x", &huge, Duration::from_secs(5));
    assert!(matches!(error, ParseError::InputTooLarge { .. }), "{error:?}");
}

#[test]
fn huge_string_within_limits_still_parses() {
    let text = format!("{{\"k\": \"{}\"}}", "y".repeat(4 << 20));
    let (result, _) = sandbox().parse("json-default-limits", &event("x", &text));
    result.expect("a 4 MiB string is a normal document");
}

#[test]
fn nesting_bomb_ends_as_error_within_budget() {
    // About 60 bytes nested 30 deep: the canonical form would be ~4 GiB.
    let bomb = format!("{}1{}", "{\"a\": ".repeat(30), "}".repeat(30));
    let error = contained("json", "x", &bomb, Duration::from_secs(5));
    assert!(matches!(error, ParseError::InvalidInput(_) | ParseError::Memory(_) | ParseError::Fuel(_)), "{error:?}");
}

#[test]
fn ten_thousand_brackets_end_as_error() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let error = contained("json", "x", &deep, Duration::from_secs(5));
    assert!(matches!(error, ParseError::InvalidInput(_)), "{error:?}");
}

#[test]
fn unknown_hostile_behaviour_is_not_supported() {
    let (result, _) = sandbox().parse("hostile", &event("nothing", ""));
    assert!(matches!(result, Err(ParseError::NotSupported(_))), "{result:?}");
}

#[test]
fn unknown_parser_is_reported() {
    let (result, _) = sandbox().parse("nope", &event("x", ""));
    assert!(matches!(result, Err(ParseError::UnknownParser(_))), "{result:?}");
}

#[test]
fn a_component_that_imports_anything_is_refused() {
    // A core module is not a component; and a component importing anything
    // but the digest is refused by the linker. Build the latter from WAT.
    let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap();
    let err = sandbox.load("core", b"\0asm\x01\0\0\0", Limits::default()).unwrap_err();
    assert!(err.to_string().contains("not a valid component"), "{err}");
    let importing = wat_component_importing_a_function();
    let err = sandbox.load("importer", &importing, Limits::default()).unwrap_err();
    assert!(err.to_string().contains("must import nothing"), "{err}");
    // The digest interface offers `sha256` and nothing more, in one shape.
    for (what, text) in [
        (
            "another function of it",
            r#"(component (import "cybexp:parser/digest@0.2.0" (instance (export "now" (func)))))"#,
        ),
        (
            "sha256 of another type",
            r#"(component (import "cybexp:parser/digest@0.2.0" (instance (export "sha256" (func (param "data" string))))))"#,
        ),
    ] {
        let component = wat::parse_str(text).expect("valid component text");
        let err = sandbox.load("importer", &component, Limits::default()).unwrap_err();
        assert!(err.to_string().contains("must import nothing but cybexp:parser/digest"), "{what}: {err}");
    }
}

#[test]
fn the_guests_memcmp_agrees_with_a_byte_loop() {
    let (result, _) = sandbox().parse("hostile", &event("memcmp-selftest", ""));
    let doc = result.expect("the self-test returns a document");
    let counts: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
    assert!(counts["checked"].as_u64().unwrap() > 30_000, "{counts}");
    assert_eq!(counts["wrong"], 0, "{counts}");
}

#[test]
fn hashing_through_the_host_costs_fuel() {
    // Each call hashes 1 MiB natively. Uncharged, the loop would run until
    // the 2 s deadline; charged, 200 M fuel lasts about 200 calls.
    let error = contained("hostile", "digest-flood", "", Duration::from_secs(5));
    assert!(matches!(error, ParseError::Fuel(_)), "{error:?}");
}

/// The smallest component that imports a function (binary, hand-assembled
/// with the `wat` text format compiled by wasmtime's own parser).
fn wat_component_importing_a_function() -> Vec<u8> {
    wat::parse_str(r#"(component (import "now" (func)))"#).expect("valid component text")
}

/// A recycled pool slot is reset before the next instance runs: no byte of
/// an earlier event (finished, trapped, or larger than what stays resident)
/// is readable by the next one.
#[test]
fn no_event_data_survives_into_the_next_instance() {
    // One slot, so every call reuses the memory the previous one dirtied.
    let options = EngineOptions { max_live_instances: 1, ..EngineOptions::default() };
    let mut sandbox = Sandbox::new(options).unwrap();
    let hostile = Path::new(cybexp_sandbox::TEST_GUESTS_DIR).join("hostile.component.wasm");
    sandbox.load_file("hostile", &hostile, Limits::default()).unwrap();
    let marker = "cybexp-plaintext-marker-7d41c09e";
    let reversed: String = marker.chars().rev().collect();
    let copies = |sandbox: &Sandbox| {
        let (result, _) = sandbox.parse("hostile", &event("snoop", &reversed));
        let doc = result.expect("snoop returns a document");
        let value: serde_json::Value = serde_json::from_str(&doc.data_json).unwrap();
        value["copies"].as_u64().unwrap()
    };
    assert_eq!(copies(&sandbox), 1, "the scan finds the guest's own copy, and only it");

    let small = format!("{marker} {marker}");
    let large = marker.repeat((8 << 20) / marker.len()); // beyond what stays resident
    for (sub_type, plaintext) in [("echo", &small), ("echo", &large), ("panic", &small), ("alloc", &small)] {
        let _ = sandbox.parse("hostile", &event(sub_type, plaintext));
        assert_eq!(copies(&sandbox), 1, "data of a {sub_type} event ({} bytes) leaked", plaintext.len());
    }
}
