//! No key material in Debug, Display or errors.

mod common;

use common::*;
use cybexp_keys::{Keyring, PrivateKey, PublicKey, v2};
use der::Decode;

/// Longest run of characters matching `f`.
fn longest_run(s: &str, f: impl Fn(char) -> bool) -> usize {
    s.split(|c: char| !f(c)).map(str::len).max().unwrap_or(0)
}

fn assert_clean(s: &str, pem: &str) {
    // The key id short form is 16 hex digits; anything much longer is suspect.
    assert!(longest_run(s, |c| c.is_ascii_hexdigit()) <= 16, "{s}");
    assert!(longest_run(s, |c| c.is_ascii_digit()) <= 16, "{s}");
    assert!(longest_run(s, |c| c.is_ascii_alphanumeric() || c == '+' || c == '/') <= 24, "{s}");
    assert!(!s.contains("BEGIN"), "{s}");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        for chunk in line.as_bytes().chunks(12) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(chunk.len() < 12 || !s.contains(chunk), "{chunk} leaked in {s}");
        }
    }
}

#[test]
fn debug_shows_no_key_material() {
    let pem = read_vector("priv.pem");
    // The modulus and the secret exponent, in hex, must not appear either.
    let (_, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
    let parsed = pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(&der).unwrap();
    let to_hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let n_hex = to_hex(parsed.modulus.as_bytes());
    let d_hex = to_hex(parsed.private_exponent.as_bytes());
    for &b in backends() {
        debug_clean(b, &pem, &n_hex, &d_hex);
    }
}

fn debug_clean(b: cybexp_keys::Backend, pem: &str, n_hex: &str, d_hex: &str) {
    let key = PrivateKey::from_pem_in(b, pem).unwrap();
    let public = PublicKey::from_pem_in(b, &read_vector("pub.pem")).unwrap();
    let ring = Keyring::from(vec![key, PrivateKey::from_pem_in(b, &read_vector("priv_pkcs8.pem")).unwrap()]);
    let opened = ring.open(&v2::encrypt(&public, b"secret text").unwrap()).unwrap();

    for s in [
        format!("{:?}", ring.keys()[0]),
        format!("{:#?}", ring.keys()[0]),
        format!("{ring:?}"),
        format!("{ring:#?}"),
        format!("{public:?}"),
        format!("{opened:?}"),
    ] {
        assert_clean(&s, pem);
        assert!(!s.contains(&n_hex[..16]) && !s.contains(&d_hex[..16]), "{s}");
        assert!(!s.contains("secret text"), "{s}");
    }
    assert!(format!("{:?}", ring.keys()[0]).contains("bits: 2048"));
}

#[test]
fn errors_do_not_echo_input() {
    let pem = read_vector("priv.pem");
    // A corrupted key: the parse error must not quote it.
    let broken = pem.replace("MII", "AAA");
    let e = PrivateKey::from_pem(&broken).unwrap_err();
    assert_clean(&e.to_string(), &pem);
    assert_clean(&format!("{e:?}"), &pem);
    // Junk label: echoed only if short and printable.
    let long_label = format!("-----BEGIN {}-----", "Q".repeat(200));
    let e = PrivateKey::from_pem(&long_label).unwrap_err();
    assert!(!e.to_string().contains("QQQQQQQQ"), "{e}");

    for &b in backends() {
        for case in cases() {
            if let Err(e) = shared_key_in(b).decrypt(&case.blob) {
                assert_clean(&e.to_string(), &pem);
            }
        }
        let e = PrivateKey::from_pem_in(b, &broken).unwrap_err();
        assert_clean(&e.to_string(), &pem);
    }
}
