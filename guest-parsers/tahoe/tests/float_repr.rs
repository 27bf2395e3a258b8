//! Floats as CPython 3.11 writes them (`repr`, and `json.dumps` for the
//! non-finite ones): boundaries, layout thresholds, and the exact ties
//! between two shortest candidates where Python takes the even digit and
//! Rust's `{:e}` does not. `tests/data/python_float_repr.txt` comes from the
//! generator beside it; `TAHOE_FLOAT_CORPUS` points at a bigger one.

use cybexp_tahoe::canonical::python_float_repr;
use cybexp_tahoe::{Value, canonical};

#[test]
// Some literals spell exact binary values on purpose.
#[allow(clippy::excessive_precision)]
fn boundaries_and_ties_match_python() {
    // Expected strings are CPython 3.11 `repr()` output.
    let cases: &[(f64, &str)] = &[
        (5e-324, "5e-324"),
        (-5e-324, "-5e-324"),
        (1.5e-323, "1.5e-323"),
        (2.225073858507201e-308, "2.225073858507201e-308"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (1e16, "1e+16"),
        (9999999999999998.0, "9999999999999998.0"),
        (1e-5, "1e-05"),
        (1e-4, "0.0001"),
        (0.1 + 0.2, "0.30000000000000004"),
        (0.3, "0.3"),
        // 2**53 + 1 rounds to 2**53; 2**53 + 3 to 2**53 + 4.
        (9007199254740993.0, "9007199254740992.0"),
        (9007199254740995.0, "9007199254740996.0"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (1e22, "1e+22"),
        (1e23, "1e+23"),
        (1.23e-18, "1.23e-18"),
        // Exact ties: Python's even lower digit, where `{:e}` rounds up...
        (1113178120592002.25, "1113178120592002.2"),
        (2152548015248394.25, "2152548015248394.2"),
        (-1318105815848852.25, "-1318105815848852.2"),
        // ...and the upper one when the even one would not read back.
        (2f64.powi(-24), "5.960464477539063e-08"),
    ];
    for (f, want) in cases {
        assert_eq!(python_float_repr(*f), *want, "{f:?}");
        assert_eq!(canonical(&Value::Float(*f), 1 << 10).unwrap(), *want, "{f:?}");
        assert_eq!(Value::Float(*f).to_json(), *want, "{f:?}");
    }
    for (f, want) in [(f64::NAN, "NaN"), (f64::INFINITY, "Infinity"), (f64::NEG_INFINITY, "-Infinity")] {
        assert_eq!(python_float_repr(f), want);
        assert_eq!(canonical(&Value::Float(f), 1 << 10).unwrap(), want);
    }
}

#[test]
fn agrees_with_cpython_repr() {
    let path = std::env::var("TAHOE_FLOAT_CORPUS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/python_float_repr.txt").into());
    let corpus = std::fs::read_to_string(&path).unwrap();
    let (mut cases, mut ties, mut differ, mut examples) = (0, 0, 0, Vec::new());
    for line in corpus.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut fields = line.split(' ');
        let (Some(bits), Some(want), Some(tag)) = (fields.next(), fields.next(), fields.next()) else {
            panic!("{path}: bad line {line:?}");
        };
        let f = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        cases += 1;
        ties += usize::from(matches!(tag, "T" | "t" | "U"));
        let got = python_float_repr(f);
        if got != want {
            differ += 1;
            if examples.len() < 20 {
                examples.push(format!("{bits} ({tag}): got {got}, Python {want}"));
            }
        }
    }
    assert_eq!(differ, 0, "{differ} of {cases} differ, e.g.:\n{}", examples.join("\n"));
    assert!(cases >= 3000 && ties >= 1000, "{cases} cases, {ties} ties: not the corpus");
}
