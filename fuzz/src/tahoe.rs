//! `tahoe_json`: Python-compatible JSON, the canonical form and `_hash`.

use cybexp_tahoe::canonical::{CanonicalError, python_float_repr};
use cybexp_tahoe::{JsonError, Limits, Value, canonical, parse_python_json, read_plaintext, tahoe_hash};

/// The first byte picks the budgets: mostly the production ones, sometimes
/// small ones, so that small inputs reach the depth and size limits.
pub fn limits_for(selector: u8) -> Limits {
    match selector % 4 {
        0 | 1 => Limits::default(),
        2 => Limits { max_depth: 1 + usize::from(selector >> 2) % 16, ..Limits::default() },
        _ => Limits { max_depth: 1 + usize::from(selector >> 2) % 32, max_canonical_bytes: 16 << (selector >> 5) },
    }
}

/// Nesting depth as the parser counts it (`[]` is 1, a scalar 0), without recursion.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, outer)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(outer + 1);
                stack.extend(items.iter().map(|i| (i, outer + 1)));
            }
            Value::Object(members) => {
                deepest = deepest.max(outer + 1);
                stack.extend(members.iter().map(|(_, i)| (i, outer + 1)));
            }
            _ => {}
        }
    }
    deepest
}

pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let limits = limits_for(selector);
    let text = crate::text(rest);
    check_float_repr(rest);

    let parsed = parse_python_json(&text, &limits);
    // read_plaintext is the same parse, classified.
    match (&parsed, read_plaintext(&text, &limits)) {
        (Ok(v), Ok(cybexp_tahoe::Plaintext::Json(w))) => assert_eq!(v, &w, "read_plaintext parses differently"),
        (Err(JsonError::Syntax { .. }), Ok(cybexp_tahoe::Plaintext::Text)) => {}
        (Err(JsonError::TooDeep { .. } | JsonError::LoneSurrogate), Err(_)) => {}
        (p, r) => panic!("parse_python_json {p:?} but read_plaintext {r:?}"),
    }
    let value = match parsed {
        Ok(value) => value,
        Err(JsonError::Syntax { offset, reason }) => {
            assert!(offset <= text.len(), "syntax error offset {offset} past the end ({})", text.len());
            assert!(!reason.is_empty());
            return;
        }
        Err(JsonError::TooDeep { max_depth }) => {
            assert_eq!(max_depth, limits.max_depth);
            return;
        }
        Err(JsonError::LoneSurrogate) => return,
    };
    // Budgets: what parsed is within the depth limit.
    assert!(depth(&value) <= limits.max_depth, "depth {} > {}", depth(&value), limits.max_depth);

    // The canonical form is deterministic and within its budget.
    let canon = canonical(&value, limits.max_canonical_bytes);
    assert_eq!(canon, canonical(&value.clone(), limits.max_canonical_bytes), "canonical form not deterministic");
    if let Ok(c) = &canon {
        assert!(c.len() <= limits.max_canonical_bytes, "canonical {} > budget {}", c.len(), limits.max_canonical_bytes);
    }
    let hash = tahoe_hash("raw", "fuzz", &value, &limits);
    match (&canon, &hash) {
        (Ok(_), Ok(h)) => assert!(h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (c, h) => panic!("canonical {c:?} but hash {h:?}"),
    }

    // Its own serialisation re-parses to the same value, hash and text.
    let json = value.to_json();
    let again = parse_python_json(&json, &limits).unwrap_or_else(|e| panic!("to_json output does not re-parse: {e}"));
    assert_eq!(again, value, "to_json round trip changed the value");
    assert_eq!(again.to_json(), json, "to_json is not a fixed point");
    assert_eq!(tahoe_hash("raw", "fuzz", &again, &limits), hash, "re-parsed value hashes differently");
    // With the production budgets it is a document whenever the small ones made one.
    if hash.is_ok() {
        let prod = Limits::default();
        if limits.max_canonical_bytes <= prod.max_canonical_bytes && limits.max_depth <= prod.max_depth {
            assert_eq!(tahoe_hash("raw", "fuzz", &value, &prod), hash, "hash depends on the budget");
        }
    }
    if let Err(CanonicalError::TooLarge { max_bytes } | CanonicalError::TooMuchWork { max_bytes }) = hash {
        assert_eq!(max_bytes, limits.max_canonical_bytes);
    }
}

/// `repr(float)` reads back as the same float (Python's guarantee).
fn check_float_repr(data: &[u8]) {
    let Some(bytes) = data.get(..8) else { return };
    let f = f64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    let repr = python_float_repr(f);
    if f.is_finite() {
        let back: f64 = repr.parse().unwrap_or_else(|e| panic!("repr {repr:?} of {f:e} does not parse: {e}"));
        assert_eq!(back.to_bits(), f.to_bits(), "repr {repr:?} reads back as {back:e}, not {f:e}");
    }
}
