//! Budgets that scale with the input: a large linear document passes under
//! the default limits, a small exponential one is still stopped by the base.

use cybexp_sandbox::{EngineOptions, Limits, ParseError, ParseInput, Sandbox};

/// A JSON array of small events, at least `bytes` long (~130 bytes each).
fn feed_of_small_events(bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 256);
    text.push('[');
    let mut i = 0u64;
    while text.len() < bytes {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(&format!(
            r#"{{"src_ip": "10.{}.{}.{}", "port": {}, "ts": {}.5, "msg": "login attempt user{i}", "tags": ["ssh", "brute"], "ok": {}}}"#,
            i % 256,
            (i / 256) % 256,
            i % 7,
            i % 65_536,
            1_700_000_000 + i,
            i.is_multiple_of(3)
        ));
        i += 1;
    }
    text.push(']');
    text
}

fn json_sandbox(limits: Limits) -> Sandbox {
    let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap();
    let json = cybexp_sandbox::BUILTIN_PARSERS.iter().find(|(name, _)| *name == "json").unwrap().1;
    sandbox.load("json", json, limits).unwrap();
    sandbox
}

fn input(plaintext: &str) -> ParseInput<'_> {
    ParseInput { typtag: "generic-json", orgid: "o", timezone: "UTC", sub_type: "json", plaintext }
}

#[test]
fn a_15_mb_feed_of_small_events_passes_under_the_default_budgets_and_needs_the_allowance() {
    let feed = feed_of_small_events(15_000_000);
    let sandbox = json_sandbox(Limits::default());
    let (result, stats) = sandbox.parse("json", &input(&feed));
    let doc = result.expect("a 15 MB feed is a normal document");
    assert!(doc.data_json.len() > 13_000_000, "the whole feed is in the document");
    // The base alone would not have been enough: the allowance is what let it through.
    assert!(stats.fuel_used > Limits::default().fuel, "used {} fuel", stats.fuel_used);
    assert!(stats.fuel_used < Limits::default().for_input(feed.len()).fuel);

    let base_only = Limits { fuel_per_input_byte: 0, ..Limits::default() };
    let (result, _) = json_sandbox(base_only).parse("json", &input(&feed));
    assert!(matches!(result, Err(ParseError::Fuel(f)) if f == base_only.fuel), "{result:?}");
}

/// `{"events": [...]}` of 100,000 small events, 15.9 MB: the nesting makes
/// its canonical form 35.7 MB, above the fixed 32 MiB a flat cap allowed.
fn object_of_100_000_events() -> String {
    let events: Vec<String> = (0..100_000u32)
        .map(|i| {
            format!(
                r#"{{"id": {i}, "msg": "failed password for user{i} from 10.{}.{}.{} port {} ssh2 (attempt {} of the session)", "tags": ["ssh", "brute-force", "sensor-{}"]}}"#,
                i % 256,
                (i / 256) % 256,
                i % 7,
                1024 + i % 60_000,
                i % 9,
                i % 13
            )
        })
        .collect();
    format!(r#"{{"events": [{}]}}"#, events.join(", "))
}

/// What the reference computes for [`object_of_100_000_events`] under
/// sub_type `json`: the same loop written in Python (`%d` for each `{}`),
/// its output through `guest-parsers/tahoe/tests/data/reference_hash.py`.
const EVENTS_HASH: &str = "540db69de8c7336a53198226f8c7f5ebaedb7471ecce6f859757940004dcfecb";

#[test]
fn a_large_honest_feed_whose_canonical_form_passes_32_mib_is_stored_with_the_reference_hash() {
    let feed = object_of_100_000_events();
    assert_eq!(feed.len(), 15_883_586);
    let (result, stats) = json_sandbox(Limits::default()).parse("json", &input(&feed));
    let doc = result.unwrap_or_else(|e| panic!("a 15.9 MB feed of small events is a normal document: {e}"));
    assert_eq!(doc.hash, EVENTS_HASH);
    assert!(stats.fuel_used < Limits::default().for_input(feed.len()).fuel);
}

#[test]
fn a_largest_input_whose_canonical_form_would_not_fit_in_memory_is_refused_as_such() {
    // 16 MiB of events one level deeper than above: canonical form 3.07
    // times the input, past the allowance (3 times), which is what keeps
    // the canonical form of the largest input within the memory cap.
    let mut events = Vec::new();
    let mut len = 0;
    for i in 0u32.. {
        let event = format!(
            r#"{{"id": {i}, "msg": "failed password for user{i}", "src": {{"ip": "10.{}.{}.{}", "port": {}}}, "tags": ["ssh", "t{}"]}}"#,
            i % 256,
            (i / 256) % 256,
            i % 7,
            i % 65_536,
            i % 13
        );
        if len + event.len() + 2 > (16 << 20) - 100 {
            break;
        }
        len += event.len() + 2;
        events.push(event);
    }
    let feed = format!(r#"{{"events": [{}]}}"#, events.join(", "));
    let (result, _) = json_sandbox(Limits::default()).parse("json", &input(&feed));
    match result {
        Err(ParseError::InvalidInput(why)) => assert!(why.starts_with("canonical form larger than 50331"), "{why}"),
        other => panic!("expected the canonical budget to refuse it, got {other:?}"),
    }
}

#[test]
fn a_nesting_bomb_is_stopped_within_the_base_budget() {
    // 60 bytes, lists nested 30 deep: the canonical form (each level
    // quotes the one inside it) would grow exponentially.
    let bomb = format!("{}{}", "[".repeat(30), "]".repeat(30));
    assert_eq!(bomb.len(), 60);
    let (result, stats) = json_sandbox(Limits::default()).parse("json", &input(&bomb));
    assert!(matches!(result, Err(ParseError::InvalidInput(_) | ParseError::Fuel(_))), "{result:?}");
    assert!(stats.fuel_used <= Limits::default().fuel, "used {} fuel", stats.fuel_used);
}
