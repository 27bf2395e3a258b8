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
