//! Floats as Python's `json.dumps` writes them (its `repr`): the one
//! float format of both the JSON output and the canonical form. A leaf:
//! `json` and `canonical` both use it, and it uses neither.

use std::fmt::Write as _;

/// Python's `repr(float)` (and `json.dumps` for non-finite values).
pub fn python_float_repr(f: f64) -> String {
    let mut out = String::new();
    write_python_float(f, &mut out);
    out
}

/// Appends `f` as Python's `json.dumps` writes it: `repr` for finite values
/// (shortest round-trip digits; exponent form when the decimal exponent is
/// below -4 or at least 16), `NaN`, `Infinity`, `-Infinity` otherwise.
pub(crate) fn write_python_float(f: f64, out: &mut String) {
    if f.is_nan() {
        return out.push_str("NaN");
    }
    if f.is_infinite() {
        return out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    }
    let (digits, exp) = shortest_digits(f);
    let digits = digits.as_str();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    out.push_str(sign);
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let exp_sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{exp_sign}{:02}", exp.unsigned_abs());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(digits);
    }
}

/// At most 17 significant digits, on the stack.
struct Digits {
    bytes: [u8; 17],
    len: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("0")
    }
}

/// The shortest decimal digits that read back as `f` (no sign, no point, no
/// leading or trailing zeros; `"0"` for zero) and the decimal exponent of
/// the first digit, chosen as Python's `repr` chooses: closest to `f`, and on
/// an exact tie the even last digit if it reads back.
///
/// The digits are Ryu's, read back out of its own layout (`"1e16"`,
/// `"0.0001"`, `"1234.5"`, `"1.5e-7"`) so that only Python's layout is ours.
/// Not `{:e}`: it breaks some exact ties upward (`1113178120592002.25`
/// gives `...2.3` where Python says `...2.2`); Ryu rounds them to even as
/// CPython's dtoa does. `tests/float_repr.rs` checks it against CPython
/// 3.11 `repr()`; with the generator's big corpus, 2.3 million doubles of
/// which 647,000 are exact ties (half of them where `{:e}` disagrees).
fn shortest_digits(f: f64) -> (Digits, i32) {
    let mut ryu = ryu::Buffer::new();
    let text = ryu.format_finite(f.abs());
    let (mantissa, exp) = text.split_once('e').map_or((text, 0), |(m, e)| (m, e.parse().unwrap_or(0)));
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = Digits { bytes: [b'0'; 17], len: 0 };
    let mut leading_zeros = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        if digits.len == 0 && b == b'0' {
            leading_zeros += 1;
        } else if digits.len < digits.bytes.len() {
            // Never full: Ryu writes at most 17 digits past the leading
            // zeros (at most 16 before a point, then `.0`).
            digits.bytes[digits.len] = b;
            digits.len += 1;
        }
    }
    while digits.len > 0 && digits.bytes[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    if digits.len == 0 {
        return (Digits { bytes: [b'0'; 17], len: 1 }, 0);
    }
    (digits, int_part.len() as i32 - 1 - leading_zeros + exp)
}
