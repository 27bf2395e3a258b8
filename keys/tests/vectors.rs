//! The shared legacy vectors and our v2 vectors (`fixtures/v2_cases.json`),
//! with both PEM forms of the shared key, on every compiled backend.

mod common;

use common::*;
use cybexp_keys::{ErrorClass, Keyring, Perms, PrivateKey, PublicKey, legacy, load_private_key, load_public_key};

const V2_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v2_cases.json");

const SHARED_KEY_ID: &str = "0bec77048712eafd4f80090c0eafe478210a5e3c914d107ec5fcd63a905d23a8";

fn check_all(key: &PrivateKey) {
    let cases = cases();
    assert!(cases.len() >= 13);
    check_cases(key, cases);
    let v2 = cases_from(&std::fs::read_to_string(V2_CASES).unwrap());
    assert!(v2.len() >= 10);
    check_cases(key, v2);
}

fn check_cases(key: &PrivateKey, cases: Vec<Case>) {
    for case in cases {
        let got = key.decrypt(&case.blob);
        match &case.expect {
            Ok(plain) => {
                let got = got.unwrap_or_else(|e| panic!("{} on {}: {e}", case.name, key.backend()));
                assert_eq!(got.as_bytes(), plain.as_slice(), "{} on {}", case.name, key.backend());
            }
            Err(class) => assert_eq!(err_class(got), *class, "{} on {}", case.name, key.backend()),
        }
    }
}

#[test]
fn pkcs1_pem_opens_every_case() {
    for &b in backends() {
        check_all(&PrivateKey::from_pem_in(b, &read_vector("priv.pem")).unwrap());
    }
}

#[test]
fn pkcs8_pem_opens_every_case() {
    for &b in backends() {
        check_all(&PrivateKey::from_pem_in(b, &read_vector("priv_pkcs8.pem")).unwrap());
    }
}

#[test]
fn keyring_with_other_keys_first_opens_every_case() {
    for &b in backends() {
        let ring = Keyring::from(vec![
            // Same size as the shared key, so the `format` cases stay `format`.
            PrivateKey::from_pem_in(b, &key_in(b, 0).to_pkcs8_pem().unwrap()).unwrap(),
            PrivateKey::from_pem_in(b, &read_vector("priv_pkcs8.pem")).unwrap(),
        ]);
        let v2 = cases_from(&std::fs::read_to_string(V2_CASES).unwrap());
        for case in cases().into_iter().chain(v2) {
            match (&case.expect, ring.decrypt(&case.blob)) {
                (Ok(p), Ok(got)) => assert_eq!(got.as_bytes(), p.as_slice()),
                (Err(c), Err(e)) => assert_eq!(e.class(), *c, "{} on {b}: {e}", case.name),
                (want, got) => panic!("{} on {b}: want {want:?}, got {got:?}", case.name),
            }
        }
    }
}

#[test]
fn key_ids_match_openssl_spki_fingerprint() {
    for &b in backends() {
        let pkcs1 = PrivateKey::from_pem_in(b, &read_vector("priv.pem")).unwrap();
        let pkcs8 = PrivateKey::from_pem_in(b, &read_vector("priv_pkcs8.pem")).unwrap();
        let public = PublicKey::from_pem_in(b, &read_vector("pub.pem")).unwrap();
        assert_eq!(pkcs1.fingerprint(), SHARED_KEY_ID, "{b}");
        assert_eq!(pkcs8.key_id(), pkcs1.key_id());
        assert_eq!(public.key_id(), pkcs1.key_id());
        assert_eq!(public.bits().unwrap(), 2048);
        assert_eq!(public.size().unwrap(), 256);
        assert_eq!((pkcs1.backend(), public.backend()), (b, b));
    }
}

#[test]
fn shared_files_load_only_with_override() {
    // The shared files are 0444: world-readable, as test keys may be.
    let err = load_private_key(&vector_path("priv.pem"), Perms::Strict).unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
    let key = load_private_key(&vector_path("priv.pem"), Perms::AllowInsecure).unwrap();
    let pubkey = load_public_key(&vector_path("pub.pem")).unwrap();
    let blob = legacy::encrypt(&pubkey, b"{\"k\": 1}").unwrap();
    assert_eq!(key.decrypt(&blob).unwrap(), "{\"k\": 1}");
}

#[test]
fn error_display_is_one_classed_line() {
    let case = cases().into_iter().find(|c| c.name == "wrong_key").unwrap();
    let e = shared_key().decrypt(&case.blob).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Key);
    assert!(e.to_string().starts_with("key: "), "{e}");
}

/// Regenerates `fixtures/v2_cases.json` (v2 blobs for the shared key, made by
/// the pure-Rust backend when compiled, i.e. the implementation that wrote v2
/// before AWS-LC). Run by hand only:
/// `cargo test -p cybexp-keys --features rust-crypto --test vectors -- --ignored write_v2_fixture`
#[test]
#[ignore = "writes tests/fixtures/v2_cases.json"]
fn write_v2_fixture() {
    use base64::Engine;
    use cybexp_keys::v2;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let maker = *backends().last().unwrap();
    let key = PrivateKey::from_pem_in(maker, &read_vector("priv.pem")).unwrap();
    let stranger = PrivateKey::from_pem_in(maker, &key_in(maker, 0).to_pkcs8_pem().unwrap()).unwrap();
    let seal = |p: &[u8]| v2::encrypt(key.public_key(), p).unwrap();
    let base = seal(b"{\"v\": 2, \"text\": \"tampered below\"}");
    let flipped = |at: usize| {
        let mut b = base.clone();
        b[at] ^= 0x04;
        b
    };
    let mut cases = ok_fixture_cases(&seal, b"{\"v\": 2, \"text\": \"tampered below\"}");
    let mut err = |name: &str, blob: Vec<u8>, class: &str| {
        cases.push(serde_json::json!({"name": name, "blob_b64": b64(&blob), "expect": "error", "error_class": class}));
    };
    let w = key.size().unwrap();
    err("tampered_magic", flipped(0), "key");
    err("tampered_version", flipped(4), "format");
    err("tampered_key_id", flipped(20), "key");
    err("tampered_wrapped_len", flipped(38), "format");
    err("tampered_nonce", flipped(45), "auth");
    err("tampered_wrapped_key", flipped(v2::HEADER_LEN + 7), "key");
    err("tampered_ciphertext", flipped(v2::HEADER_LEN + w + 3), "auth");
    err("tampered_tag", flipped(base.len() - 1), "auth");
    err("truncated_header", base[..v2::HEADER_LEN - 1].to_vec(), "format");
    err("truncated_body", base[..v2::HEADER_LEN + w + 8].to_vec(), "format");
    err("tag_dropped", base[..base.len() - 16].to_vec(), "auth");
    err("empty", Vec::new(), "format");
    err("not_utf8_plaintext", seal(b"ok then \xc3\x28"), "utf8");
    err("wrong_key", v2::encrypt(stranger.public_key(), b"{}").unwrap(), "key");
    let doc = serde_json::json!({
        "about": format!("v2 envelopes (see keys/src/v2.rs) for ../../shared/vectors/envelope_rsa2048/priv.pem, made by the {maker} backend; error_class as in the shared cases. Regenerate: see write_v2_fixture in tests/vectors.rs."),
        "cases": cases,
    });
    std::fs::write(V2_CASES, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
}
