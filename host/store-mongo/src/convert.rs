//! `data` between the parser's JSON text and BSON, as pymongo converts the
//! Python objects `json.loads` makes.
//!
//! | JSON (Python) | BSON |
//! |---|---|
//! | integer fitting int32 | int32 |
//! | integer fitting int64 | int64 |
//! | integer beyond int64, at most 34 digits | decimal128, exact |
//! | integer of more than 34 digits | string of its digits |
//! | float, incl. `NaN`, `Infinity`, `-Infinity` | double |
//! | string, true/false, null | string, bool, null |
//! | array, object (key order kept) | array, document |
//!
//! pymongo refuses integers beyond int64 (`OverflowError`), so the
//! reference archiver never stored a document holding one. This archiver
//! stores it rather than retrying it for ever: as an exact decimal128 (still
//! a number to MongoDB's comparisons and sorts; pymongo reads a
//! `Decimal128`), or beyond decimal128's 34 digits as a string. `_hash` is
//! always the hash of the full-precision integer.
//!
//! A key holding U+0000 cannot be a BSON field name (pymongo refuses it
//! too): such a document is an error here.

use std::str::FromStr;

use cybexp_tahoe::{Limits, Value};
use mongodb::bson::{Bson, Decimal128, Document};

/// Most digits a decimal128 holds exactly.
const DECIMAL128_DIGITS: usize = 34;

/// The BSON for a document's `data`, from its JSON text (which may hold
/// `NaN`/`Infinity` and integers of any size, so it is read the way Python
/// reads it).
pub fn data_from_json(data_json: &str) -> Result<Bson, String> {
    let value = cybexp_tahoe::parse_python_json(data_json, &Limits::default())
        .map_err(|e| format!("document data is not readable JSON: {e}"))?;
    to_bson(&value)
}

/// The JSON text of stored `data`, as the parser wrote it (key order kept,
/// integers as digits, floats in Python's `repr`).
pub fn data_to_json(data: &Bson) -> String {
    from_bson(data).to_json()
}

// Recursion is bounded by the parser's nesting limit.
fn to_bson(value: &Value) -> Result<Bson, String> {
    Ok(match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Int(digits) => int_to_bson(digits),
        Value::Float(f) => Bson::Double(*f),
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect::<Result<_, _>>()?),
        Value::Object(members) => {
            let mut doc = Document::new();
            for (key, value) in members {
                if key.contains('\0') {
                    return Err("a key holds U+0000, which BSON cannot store (pymongo refuses it too)".into());
                }
                doc.insert(key.clone(), to_bson(value)?);
            }
            Bson::Document(doc)
        }
    })
}

fn int_to_bson(digits: &str) -> Bson {
    if let Ok(n) = digits.parse::<i64>() {
        return match i32::try_from(n) {
            Ok(small) => Bson::Int32(small),
            Err(_) => Bson::Int64(n),
        };
    }
    let magnitude = digits.trim_start_matches('-').len();
    if magnitude <= DECIMAL128_DIGITS
        && let Ok(decimal) = Decimal128::from_str(digits)
    {
        return Bson::Decimal128(decimal);
    }
    Bson::String(digits.to_owned())
}

fn from_bson(bson: &Bson) -> Value {
    match bson {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(n) => Value::Int(n.to_string()),
        Bson::Int64(n) => Value::Int(n.to_string()),
        Bson::Double(f) => Value::Float(*f),
        Bson::Decimal128(d) => {
            let text = d.to_string();
            if is_integer_literal(&text) { Value::Int(text) } else { Value::String(text) }
        }
        Bson::String(s) => Value::String(s.clone()),
        Bson::Array(items) => Value::Array(items.iter().map(from_bson).collect()),
        Bson::Document(doc) => Value::Object(doc.iter().map(|(k, v)| (k.clone(), from_bson(v))).collect()),
        // Not written by the archiver; shown as text.
        Bson::ObjectId(oid) => Value::String(oid.to_hex()),
        other => Value::String(other.to_string()),
    }
}

fn is_integer_literal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{bson, doc};

    #[test]
    fn numbers_as_pymongo_stores_them() {
        let data = data_from_json(
            r#"{"i32": 2147483647, "neg": -2147483648, "i64": 2147483648, "max": 9223372036854775807,
                "min": -9223372036854775808, "big": 9223372036854775808, "neg_big": -99999999999999999999,
                "d34": 9999999999999999999999999999999999, "d35": 99999999999999999999999999999999999,
                "f": 1.0, "e": 1e400, "nan": NaN, "ninf": -Infinity, "z": -0.0}"#,
        )
        .unwrap();
        let Bson::Document(doc) = &data else { panic!("{data:?}") };
        assert_eq!(doc.get("i32"), Some(&Bson::Int32(i32::MAX)));
        assert_eq!(doc.get("neg"), Some(&Bson::Int32(i32::MIN)));
        assert_eq!(doc.get("i64"), Some(&Bson::Int64(2147483648)));
        assert_eq!(doc.get("max"), Some(&Bson::Int64(i64::MAX)));
        assert_eq!(doc.get("min"), Some(&Bson::Int64(i64::MIN)));
        assert!(matches!(doc.get("big"), Some(Bson::Decimal128(_))));
        assert!(matches!(doc.get("neg_big"), Some(Bson::Decimal128(_))));
        assert!(matches!(doc.get("d34"), Some(Bson::Decimal128(_))));
        assert_eq!(doc.get("d35"), Some(&Bson::String("99999999999999999999999999999999999".into())));
        assert_eq!(doc.get("f"), Some(&Bson::Double(1.0)));
        assert_eq!(doc.get("e"), Some(&Bson::Double(f64::INFINITY)));
        assert!(matches!(doc.get("nan"), Some(Bson::Double(f)) if f.is_nan()));
        assert_eq!(doc.get("ninf"), Some(&Bson::Double(f64::NEG_INFINITY)));
        assert!(matches!(doc.get("z"), Some(Bson::Double(f)) if f.to_bits() == (-0.0f64).to_bits()));
        // And back, as the parser wrote it (the 35-digit one stays a string).
        assert_eq!(
            data_to_json(&data),
            r#"{"i32":2147483647,"neg":-2147483648,"i64":2147483648,"max":9223372036854775807,"min":-9223372036854775808,"big":9223372036854775808,"neg_big":-99999999999999999999,"d34":9999999999999999999999999999999999,"d35":"99999999999999999999999999999999999","f":1.0,"e":Infinity,"nan":NaN,"ninf":-Infinity,"z":-0.0}"#
        );
    }

    #[test]
    fn structure_and_key_order_are_kept() {
        let text = r#"{"z": [1, "a", null, true, {"y": 2, "b": []}], "a": {}, "é\n": "\u0000x"}"#;
        let data = data_from_json(text).unwrap();
        assert_eq!(data, bson!({"z": [1, "a", null, true, {"y": 2, "b": []}], "a": {}, "é\n": "\u{0}x"}));
        assert_eq!(
            data_to_json(&data),
            "{\"z\":[1,\"a\",null,true,{\"y\":2,\"b\":[]}],\"a\":{},\"é\\n\":\"\\u0000x\"}"
        );
        // A top-level array or scalar is data too.
        assert_eq!(data_from_json("[1, 2.5]").unwrap(), bson!([1, 2.5]));
    }

    #[test]
    fn nul_in_a_key_is_refused() {
        let err = data_from_json(r#"{"a\u0000b": 1}"#).unwrap_err();
        assert!(err.contains("U+0000"), "{err}");
        assert!(data_from_json("{not json").is_err());
    }

    #[test]
    fn foreign_types_read_as_text() {
        let oid = mongodb::bson::oid::ObjectId::new();
        let data = Bson::Document(doc! {"id": oid, "d": Bson::Decimal128("1.5".parse().unwrap())});
        assert_eq!(data_to_json(&data), format!("{{\"id\":\"{}\",\"d\":\"1.5\"}}", oid.to_hex()));
        assert!(is_integer_literal("-12") && is_integer_literal("0"));
        assert!(!is_integer_literal("01") && !is_integer_literal("1E+3") && !is_integer_literal("-"));
    }
}
