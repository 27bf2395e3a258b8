//! Properties: `to_json` round-trips, `canonical` matches a naive
//! transcription of the reference and never panics, the parser never panics,
//! and hostile nesting fails fast.

use cybexp_tahoe::canonical::{python_float_repr, python_strip};
use cybexp_tahoe::{CanonicalError, Limits, ParseFailure, Value, canonical, parse_python_json, raw_document};
use proptest::prelude::*;

fn int_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<i64>().prop_map(|i| i.to_string()), ("-?[1-9][0-9]{0,60}").prop_map(|s| s), Just("0".to_owned()),]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        (-1e6f64..1e6).prop_map(|f| (f * 100.0).round() / 100.0),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t\n\u{b}\u{c}\r\u{1c}-\u{1f}\u{85}\u{a0}\u{2028}\u{3000}a\"\\\\/\u{0}-\u{1f}\u{7f}é😀\u{F0000}]{0,8}",
    ]
}

/// Values as the parser can produce them: objects have unique keys.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        int_text().prop_map(Value::Int),
        float().prop_map(Value::Float),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            // Duplicated elements exercise the array dedup.
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| {
                let mut doubled = v.clone();
                doubled.extend(v);
                Value::Array(doubled)
            }),
            prop::collection::vec((text(), inner), 0..6).prop_map(|members| {
                let mut seen = std::collections::HashSet::new();
                Value::Object(members.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect())
            }),
        ]
    })
}

/// `json.dumps(s)`, the obvious way.
fn naive_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// The reference's `canonical`, transcribed without any cleverness.
fn naive_canonical(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(digits) => digits.clone(),
        Value::Float(f) => python_float_repr(*f),
        Value::String(s) => naive_json_string(python_strip(s)),
        Value::Array(items) => {
            let mut parts: Vec<String> = items.iter().map(naive_canonical).collect();
            parts.sort();
            parts.dedup();
            let quoted: Vec<String> = parts.iter().map(|p| naive_json_string(p)).collect();
            format!("[{}]", quoted.join(", "))
        }
        Value::Object(members) => {
            let mut sorted: Vec<_> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            let items: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}: {}", naive_json_string(k), naive_json_string(&naive_canonical(v))))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A value with the same canonical form as `v` but a different shape:
/// members reversed, strings padded, array elements reversed and repeated.
fn variant(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(format!(" \t{s}\u{3000}\n")),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().rev().map(variant).collect();
            if let Some(first) = items.first().cloned() {
                items.push(first);
            }
            Value::Array(items)
        }
        Value::Object(members) => Value::Object(members.iter().rev().map(|(k, v)| (k.clone(), variant(v))).collect()),
        scalar => scalar.clone(),
    }
}

proptest! {
    #[test]
    fn arrays_dedupe_canonically_equal_elements(a in value(), b in value()) {
        let v = variant(&a);
        prop_assert_eq!(canonical(&v, usize::MAX / 16), Ok(naive_canonical(&a)));
        let array = Value::Array(vec![a.clone(), Value::Array(vec![]), v, b, a]);
        prop_assert_eq!(canonical(&array, usize::MAX / 16), Ok(naive_canonical(&array)));
    }

    #[test]
    fn to_json_round_trips(v in value()) {
        let json = v.to_json();
        prop_assert_eq!(parse_python_json(&json, &Limits::default()), Ok(v));
    }

    #[test]
    fn canonical_matches_naive_transcription(v in value()) {
        let want = naive_canonical(&v);
        prop_assert_eq!(canonical(&v, usize::MAX / 16), Ok(want));
    }

    #[test]
    fn canonical_never_panics_and_respects_the_budget(v in value(), max_bytes in 0usize..4096) {
        match canonical(&v, max_bytes) {
            Ok(canon) => {
                prop_assert!(canon.len() <= max_bytes);
                prop_assert_eq!(canon, naive_canonical(&v));
            }
            Err(CanonicalError::TooLarge { .. }) => prop_assert!(naive_canonical(&v).len() > max_bytes),
            Err(CanonicalError::TooMuchWork { .. }) => {}
        }
    }

    #[test]
    fn parser_never_panics_on_any_text(s in any::<String>()) {
        let _ = parse_python_json(&s, &Limits::default());
    }

    #[test]
    fn parser_never_panics_on_json_like_text(
        s in r#"([\[\]{}:,"\\ \t\n]|-?[0-9.eE+-]{1,6}|true|null|NaN|-Infinity|\\u[0-9a-fA-F]{0,4}|[a-z\u{e9}\u{F0000}])*"#,
        max_depth in 0usize..6,
    ) {
        let _ = parse_python_json(&s, &Limits { max_depth, ..Limits::default() });
    }
}

/// `{"a": {"a": … {"k": "<text>"}}}`, `depth` objects deep.
fn nested(depth: usize, text: &str) -> Value {
    let mut v = Value::Object(vec![("k".into(), Value::String(text.into()))]);
    for _ in 1..depth {
        v = Value::Object(vec![("a".into(), v)]);
    }
    v
}

#[test]
fn hostile_nesting_fails_fast() {
    // A 60-byte document nested 30 deep: its canonical form would be GiBs.
    let doc = nested(30, "0123456789012345678901234567890123");
    assert!(doc.to_json().len() < 250);
    let limits = Limits::default();
    let err = raw_document("x", &doc, &limits).unwrap_err();
    assert!(matches!(err, ParseFailure::InvalidInput(_)), "{err:?}");
    // Through the parser too, as text. (How fast the refusal is, is the
    // benchmark's to measure: examples/timing.rs.)
    let text = "{\"a\":".repeat(29) + "{\"k\":\"0123\"}" + &"}".repeat(29);
    let data = parse_python_json(&text, &limits).unwrap();
    assert!(canonical(&data, limits.max_canonical_bytes).is_err());
}

#[test]
fn moderate_nesting_still_hashes() {
    // Depth 15: about 300 KiB of canonical form, well inside the budget.
    let doc = nested(15, "x");
    let canon = canonical(&doc, Limits::default().max_canonical_bytes).unwrap();
    assert!(canon.len() > 50_000);
    assert_eq!(canon, naive_canonical(&doc));
}

#[test]
fn the_canonical_budget_grows_with_the_input_and_a_bomb_gets_nothing_from_it() {
    let base = Limits::default();
    assert_eq!(base.for_input(0), base, "a small input keeps the base");
    assert_eq!(base.for_input(1 << 20), base);
    assert_eq!(base.for_input(16 << 20).max_canonical_bytes, 48 << 20);
    assert_eq!(base.for_input(usize::MAX).max_canonical_bytes, usize::MAX, "saturates");
    assert_eq!(base.for_input(16 << 20).max_depth, base.max_depth);

    // The shape of the 15 MB feed the fixed cap refused, at a small base:
    // `{"events": [...]}` whose canonical form is above the base but within
    // the allowance for its size.
    let small = Limits { max_canonical_bytes: 4 << 10, ..base };
    let events: Vec<String> =
        (0..40).map(|i| format!(r#"{{"id": {i}, "msg": "failed password for user{i} from a sensor in the lab", "tags": ["ssh", "t{i}"]}}"#)).collect();
    let feed = format!(r#"{{"events": [{}]}}"#, events.join(", "));
    let data = parse_python_json(&feed, &base).unwrap();
    let canon = canonical(&data, usize::MAX).unwrap();
    assert!(canon.len() > small.max_canonical_bytes && canon.len() > 2 * feed.len(), "{} {}", canon.len(), feed.len());
    assert!(matches!(raw_document("x", &data, &small), Err(ParseFailure::InvalidInput(_))));
    let doc = raw_document("x", &data, &small.for_input(feed.len())).unwrap();
    assert_eq!(doc, raw_document("x", &data, &Limits { max_canonical_bytes: usize::MAX, ..base }).unwrap());

    // 60 bytes nested 30 deep: the allowance for 60 bytes is nothing.
    let bomb = format!("{}{}", "[".repeat(30), "]".repeat(30));
    let data = parse_python_json(&bomb, &base).unwrap();
    assert!(matches!(raw_document("x", &data, &base.for_input(bomb.len())), Err(ParseFailure::InvalidInput(_))));
}
