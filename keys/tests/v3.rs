//! The v3 envelope (HPKE with X-Wing): round trips, the layout, every
//! truncation, bit flips in each field, swaps between blobs, a refused
//! X25519 point, unknown versions and suites, keyrings mixing RSA and
//! X-Wing keys, and the key kinds each envelope needs. AWS-LC builds only
//! (the fallback's refusal: tests/fallback.rs).
#![cfg(feature = "aws-lc")]

mod common;

use common::*;
use cybexp_keys::{EncryptError, Envelope, ErrorClass, KeyKind, Keyring, PrivateKey, legacy, v2, v3};

const MSG: &[u8] = "{\"event\": \"cowrie.login\", \"π\": 3.14, \"pad\": \"0123456789\"}".as_bytes();

/// The draft's example key and an RSA key, as a rotating deployment has them.
fn mixed_ring() -> Keyring {
    Keyring::from(vec![copy_key(shared_key()), copy_key(xwing_key())])
}

fn flip(blob: &[u8], byte: usize, bit: u8) -> Vec<u8> {
    let mut b = blob.to_vec();
    b[byte] ^= 1 << bit;
    b
}

#[test]
fn round_trips_and_layout() {
    let key = xwing_key();
    assert_eq!(key.kind(), KeyKind::XWing);
    assert_eq!((key.bits(), key.size()), (None, None));
    for plain in [MSG, b"" as &[u8], &[b'x'; 100_000]] {
        let blob = v3::encrypt(key.public_key(), plain).unwrap();
        assert_eq!(blob.len(), v3::HEADER_LEN + v3::ENC_LEN + plain.len() + v3::TAG_LEN);
        assert_eq!(blob[..v3::HEADER_LEN], v3::header(key.key_id()));
        assert_eq!(&blob[..11], &[b'C', b'X', b'P', b'E', 3, 0x64, 0x7a, 0x00, 0x01, 0x00, 0x02]);
        assert_eq!(&blob[11..43], &key.key_id().0);
        for ring in [mixed_ring(), Keyring::from(vec![copy_key(key)])] {
            let opened = ring.open(&blob).unwrap();
            assert_eq!(opened.plaintext.as_bytes(), plain);
            assert_eq!((opened.envelope, opened.key_id), (Envelope::V3, key.key_id()));
        }
        assert_eq!(key.decrypt(&blob).unwrap().as_bytes(), plain);
    }
}

#[test]
fn blobs_are_randomised() {
    let x = v3::encrypt(xwing_key().public_key(), MSG).unwrap();
    let y = v3::encrypt(xwing_key().public_key(), MSG).unwrap();
    assert_eq!(x[..v3::HEADER_LEN], y[..v3::HEADER_LEN]);
    assert_ne!(x[v3::HEADER_LEN..v3::HEADER_LEN + 1088], y[v3::HEADER_LEN..v3::HEADER_LEN + 1088]); // ML-KEM
    assert_ne!(x[v3::HEADER_LEN + 1088..v3::HEADER_LEN + 1120], y[v3::HEADER_LEN + 1088..v3::HEADER_LEN + 1120]); // X25519
    assert_ne!(x[v3::HEADER_LEN + v3::ENC_LEN..], y[v3::HEADER_LEN + v3::ENC_LEN..]);
}

#[test]
fn every_truncation_fails_format_until_a_tag_fits_then_auth() {
    let blob = v3::encrypt(xwing_key().public_key(), MSG).unwrap();
    for ring in [mixed_ring(), Keyring::from(vec![copy_key(xwing_key())])] {
        for len in 0..blob.len() {
            let want = if len < v3::MIN_LEN { ErrorClass::Format } else { ErrorClass::Auth };
            assert_eq!(err_class(ring.decrypt(&blob[..len])), want, "len {len}");
        }
    }
}

/// What a flip of each bit of the header, and of one bit in every byte
/// after it, does. After the header parses and names our key, every failure
/// is `auth`, with one detail text whatever was changed.
#[test]
fn bit_flips_in_every_header_bit_and_each_field() {
    let blob = v3::encrypt(xwing_key().public_key(), MSG).unwrap();
    let mut auth_details = std::collections::BTreeSet::new();
    for ring in [mixed_ring(), Keyring::from(vec![copy_key(xwing_key())])] {
        for byte in 0..blob.len() {
            let bits: &[u8] = if byte < v3::HEADER_LEN { &[0, 1, 2, 3, 4, 5, 6, 7] } else { &[(byte % 8) as u8] };
            for &bit in bits {
                let want = match byte {
                    // No magic: read as legacy, which no RSA key unwraps (or
                    // there is no RSA key).
                    0..4 => ErrorClass::Key,
                    // Version 3 -> 2: read as v2, whose key id names no key.
                    4 if bit == 0 => ErrorClass::Key,
                    4 => ErrorClass::Format,     // unknown version
                    5..11 => ErrorClass::Format, // suite
                    11..43 => ErrorClass::Key,   // key id: no such key
                    _ => ErrorClass::Auth,       // enc, ciphertext, tag
                };
                let result = ring.decrypt(&flip(&blob, byte, bit));
                if let Err(e) = &result
                    && e.class() == ErrorClass::Auth
                {
                    auth_details.insert(e.detail().to_owned());
                }
                assert_eq!(err_class(result), want, "byte {byte} bit {bit}");
            }
        }
    }
    assert_eq!(auth_details.len(), 1, "one text for every failure after parsing: {auth_details:?}");
}

#[test]
fn an_all_zero_x25519_point_is_auth_like_any_other_failure() {
    let blob = v3::encrypt(xwing_key().public_key(), MSG).unwrap();
    let x25519 = v3::HEADER_LEN + 1088..v3::HEADER_LEN + v3::ENC_LEN;
    for point in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let mut bad = blob.clone();
        bad[x25519.clone()].copy_from_slice(&point);
        let e = mixed_ring().decrypt(&bad).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Auth, "{e}");
        let other = mixed_ring().decrypt(&flip(&blob, blob.len() - 1, 0)).unwrap_err();
        assert_eq!(e, other, "the same error as a flipped tag");
    }
}

#[test]
fn unknown_versions_and_suites_are_format() {
    let blob = v3::encrypt(xwing_key().public_key(), MSG).unwrap();
    for version in [0u8, 1, 4, 0x13, 0xff] {
        let mut x = blob.clone();
        x[4] = version;
        let e = mixed_ring().decrypt(&x).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Format, "version {version}: {e}");
        assert!(e.detail().contains(&format!("unsupported envelope version {version}")), "{e}");
    }
    // Another KEM (ML-KEM-768 alone), KDF (HKDF-SHA384) or AEAD (ChaCha20-Poly1305).
    for (at, id) in [(5, 0x0041u16), (7, 0x0002), (9, 0x0003)] {
        let mut x = blob.clone();
        x[at..at + 2].copy_from_slice(&id.to_be_bytes());
        let e = mixed_ring().decrypt(&x).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Format, "{e}");
        assert!(e.detail().contains("unsupported v3 suite"), "{e}");
    }
}

#[test]
fn swaps_and_readdressing_fail_closed() {
    let (a, b) = (xwing_key(), xwing_key_n(0));
    let ring = Keyring::from(vec![copy_key(a), copy_key(b), copy_key(shared_key())]);
    let x = v3::encrypt(a.public_key(), b"first message, longer than a tag").unwrap();
    let y = v3::encrypt(a.public_key(), b"other message").unwrap();
    let (h, e) = (v3::HEADER_LEN, v3::HEADER_LEN + v3::ENC_LEN);

    // x's enc on y's ciphertext, and x's ciphertext on y's enc.
    let mut swapped = x[..e].to_vec();
    swapped.extend_from_slice(&y[e..]);
    assert_eq!(err_class(ring.decrypt(&swapped)), ErrorClass::Auth);
    let mut swapped = y[..e].to_vec();
    swapped.extend_from_slice(&x[e..]);
    assert_eq!(err_class(ring.decrypt(&swapped)), ErrorClass::Auth);

    // Re-addressed to the other loaded X-Wing key: its decapsulation gives
    // another secret (and the header is in `info`).
    let mut readdressed = x.clone();
    readdressed[11..h].copy_from_slice(&b.key_id().0);
    assert_eq!(err_class(ring.decrypt(&readdressed)), ErrorClass::Auth);
    // Re-addressed to the RSA key: no X-Wing key has that id.
    readdressed[11..h].copy_from_slice(&shared_key().key_id().0);
    assert_eq!(err_class(ring.decrypt(&readdressed)), ErrorClass::Key);

    // A byte appended, the tag dropped.
    let mut longer = x.clone();
    longer.push(0);
    assert_eq!(err_class(ring.decrypt(&longer)), ErrorClass::Auth);
    assert_eq!(err_class(ring.decrypt(&x[..x.len() - 16])), ErrorClass::Auth);
    assert_eq!(ring.decrypt(&x).unwrap(), "first message, longer than a tag");
}

#[test]
fn wrong_and_missing_keys_are_key() {
    let blob = v3::encrypt(xwing_key().public_key(), MSG).unwrap();
    // Another X-Wing key only; RSA keys only.
    let e = xwing_key_n(1).decrypt(&blob).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Key, "{e}");
    assert!(e.detail().contains("no loaded X-Wing key has id"), "{e}");
    assert_eq!(err_class(shared_key().decrypt(&blob)), ErrorClass::Key);
    // RSA envelopes against X-Wing keys only.
    let l = legacy::encrypt(shared_key().public_key(), MSG).unwrap();
    let x = v2::encrypt(shared_key().public_key(), MSG).unwrap();
    let e = xwing_key().decrypt(&l).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Key, "{e}");
    assert!(e.detail().contains("no RSA key"), "{e}");
    let e = xwing_key().decrypt(&x).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Key, "{e}");
    assert!(e.detail().contains("no loaded RSA key has id"), "{e}");
    // Too short to be anything: format, with or without RSA keys.
    assert_eq!(err_class(xwing_key().decrypt(b"tiny")), ErrorClass::Format);
    assert_eq!(err_class(xwing_key().decrypt(&[])), ErrorClass::Format);
}

#[test]
fn non_utf8_plaintext_is_utf8() {
    for bad in [&b"\xff"[..], b"ok then \xc3\x28"] {
        let blob = v3::encrypt(xwing_key().public_key(), bad).unwrap();
        assert_eq!(err_class(mixed_ring().decrypt(&blob)), ErrorClass::Utf8);
    }
}

#[test]
fn a_rotating_keyring_opens_every_envelope_with_the_right_key() {
    let (old, new) = (key_in(Backend::ACTIVE, 0), key_in(Backend::ACTIVE, 1));
    let ring = Keyring::from(vec![copy_key(new), copy_key(xwing_key()), copy_key(old), copy_key(xwing_key_n(0))]);
    for rsa in [old, new] {
        let opened = ring.open(&legacy::encrypt(rsa.public_key(), b"l").unwrap()).unwrap();
        assert_eq!((opened.envelope, opened.key_id), (Envelope::Legacy, rsa.key_id()));
        let opened = ring.open(&v2::encrypt(rsa.public_key(), b"2").unwrap()).unwrap();
        assert_eq!((opened.envelope, opened.key_id), (Envelope::V2, rsa.key_id()));
    }
    for xw in [xwing_key(), xwing_key_n(0)] {
        let opened = ring.open(&v3::encrypt(xw.public_key(), b"3").unwrap()).unwrap();
        assert_eq!((opened.plaintext.as_str(), opened.envelope, opened.key_id), ("3", Envelope::V3, xw.key_id()));
    }
    let kinds: Vec<_> = ring.keys().iter().map(|k| k.kind().to_string()).collect();
    assert_eq!(kinds, ["rsa-2048", "x-wing", "rsa-2048", "x-wing"]);
}

#[test]
fn each_envelope_refuses_the_other_kind_of_key() {
    let e = v3::encrypt(shared_key().public_key(), MSG).unwrap_err();
    assert!(matches!(e, EncryptError::KeyKind { envelope: "v3", kind: KeyKind::Rsa { bits: 2048 }, .. }), "{e}");
    assert_eq!(e.to_string(), "encrypt: the v3 envelope needs an X-Wing public key, and this one is rsa-2048");
    for e in [legacy::encrypt(xwing_key().public_key(), MSG), v2::encrypt(xwing_key().public_key(), MSG)] {
        let e = e.unwrap_err();
        assert!(matches!(e, EncryptError::KeyKind { kind: KeyKind::XWing, .. }), "{e}");
        assert!(e.to_string().contains("needs an RSA public key, and this one is x-wing"), "{e}");
    }
}

/// The v3 vectors made by this crate (`fixtures/v3_cases.json`, for the
/// draft's example key): each opens, or fails with its class. Python's
/// `cryptography` opens the same blobs (tests/tests/v3.rs in the tests crate).
#[test]
fn v3_fixture_cases() {
    let cases = cases_from(&fixture("v3_cases.json"));
    assert!(cases.len() >= 15);
    for ring in [mixed_ring(), Keyring::from(vec![copy_key(xwing_key())])] {
        for case in &cases {
            match (&case.expect, ring.decrypt(&case.blob)) {
                (Ok(p), Ok(got)) => assert_eq!(got.as_bytes(), p.as_slice(), "{}", case.name),
                (Err(c), Err(e)) => assert_eq!(e.class(), *c, "{}: {e}", case.name),
                (want, got) => panic!("{}: want {want:?}, got {:?}", case.name, got.map(|s| s.len())),
            }
        }
    }
}

/// Regenerates `fixtures/v3_cases.json`. Run by hand only:
/// `cargo test -p cybexp-keys --test v3 -- --ignored write_v3_fixture`
#[test]
#[ignore = "writes tests/fixtures/v3_cases.json"]
fn write_v3_fixture() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let key = xwing_key();
    let seal = |p: &[u8]| v3::encrypt(key.public_key(), p).unwrap();
    let base = seal(b"{\"v\": 3, \"text\": \"tampered below\"}");
    let flipped = |at: usize| flip(&base, at, 2);
    let mut cases = ok_fixture_cases(&seal, b"{\"v\": 3, \"text\": \"tampered below\"}");
    let mut err = |name: &str, blob: Vec<u8>, class: &str| {
        cases.push(serde_json::json!({"name": name, "blob_b64": b64(&blob), "expect": "error", "error_class": class}));
    };
    let (h, e) = (v3::HEADER_LEN, v3::HEADER_LEN + v3::ENC_LEN);
    let mut zero_point = base.clone();
    zero_point[h + 1088..e].fill(0);
    err("tampered_magic", flipped(0), "key");
    err("unknown_version", flipped(4), "format");
    err("unknown_kem", flipped(6), "format");
    err("unknown_aead", flipped(10), "format");
    err("tampered_key_id", flipped(20), "key");
    err("tampered_enc_mlkem", flipped(h + 100), "auth");
    err("tampered_enc_x25519", flipped(h + 1100), "auth");
    err("all_zero_x25519_point", zero_point, "auth");
    err("tampered_ciphertext", flipped(e + 3), "auth");
    err("tampered_tag", flipped(base.len() - 1), "auth");
    err("truncated_header", base[..h - 1].to_vec(), "format");
    err("truncated_enc", base[..h + 1000].to_vec(), "format");
    err("tag_dropped", base[..base.len() - 16].to_vec(), "auth");
    err("empty", Vec::new(), "format");
    err("not_utf8_plaintext", seal(b"ok then \xc3\x28"), "utf8");
    err("wrong_key", v3::encrypt(xwing_key_n(0).public_key(), b"{}").unwrap(), "key");
    let doc = serde_json::json!({
        "about": "v3 envelopes (see keys/src/v3.rs) for the X-Wing draft's example key, tests/fixtures/xwing_draft_example_priv.pem (seed 00 01 .. 1f), made by this crate; error_class as in the shared cases (with RSA keys loaded beside it or not). Regenerate: write_v3_fixture in tests/v3.rs.",
        "key_id": key.fingerprint(),
        "cases": cases,
    });
    std::fs::write(
        std::path::Path::new(FIXTURES).join("v3_cases.json"),
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    )
    .unwrap();
}

#[test]
fn private_key_debug_and_errors_show_no_seed() {
    let key = xwing_key();
    let debug = format!("{key:?} {:?} {:#?}", key.public_key(), mixed_ring());
    assert!(debug.contains("XWing"), "{debug}");
    // The seed is 00 01 .. 1f: neither as hex nor as base64 (the PEM body).
    let pem = key.to_pkcs8_pem().unwrap();
    let seed_hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    assert!(!debug.contains(&seed_hex[..16]), "{debug}");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!debug.contains(&line[..12.min(line.len())]), "{debug}");
    }
    let e = PrivateKey::from_pem(&pem.replace("MDQC", "MDUC")).unwrap_err().to_string();
    assert!(!e.contains("AAECAwQF") && !e.contains(&seed_hex[..8]), "{e}");
}

mod mutations {
    use super::*;
    use proptest::prelude::*;

    const PLAIN: &str = "{\"fuzz\": 3}";

    fn seed_blob() -> &'static [u8] {
        static B: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        B.get_or_init(|| v3::encrypt(xwing_key().public_key(), PLAIN.as_bytes()).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Edited v3 blobs never panic, never open to anything but their own
        /// plaintext, and once the header parses and names our key, every
        /// failure is `auth` (or `format` when too short).
        #[test]
        fn edited_blobs(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4)) {
            let mut blob = seed_blob().to_vec();
            for (at, value, op) in &edits {
                match op {
                    0 => { let i = at.index(blob.len()); blob[i] ^= value | 1; }
                    1 => { let n = at.index(blob.len() + 1); blob.truncate(n); }
                    _ => { let i = at.index(blob.len() + 1); blob.insert(i, *value); }
                }
                if blob.is_empty() { break; }
            }
            let header_ok = blob.len() >= v3::HEADER_LEN && blob[..v3::HEADER_LEN] == seed_blob()[..v3::HEADER_LEN];
            match mixed_ring().decrypt(&blob) {
                Ok(p) => prop_assert_eq!(p, PLAIN),
                Err(e) if header_ok && blob.len() >= v3::MIN_LEN => prop_assert_eq!(e.class(), ErrorClass::Auth, "{}", e),
                Err(e) if header_ok => prop_assert_eq!(e.class(), ErrorClass::Format, "{}", e),
                Err(_) => {}
            }
        }

        /// Random bytes after a v3 header that names our key: `auth` or `format`.
        #[test]
        fn random_bodies(body in proptest::collection::vec(any::<u8>(), 0..1400)) {
            let mut blob = v3::header(xwing_key().key_id()).to_vec();
            blob.extend_from_slice(&body);
            let want = if blob.len() < v3::MIN_LEN { ErrorClass::Format } else { ErrorClass::Auth };
            prop_assert_eq!(err_class(mixed_ring().decrypt(&blob)), want);
        }
    }
}
