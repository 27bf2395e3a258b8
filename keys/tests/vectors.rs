//! The shared legacy vectors, with both PEM forms of the shared key.

mod common;

use common::*;
use cybexp_keys::{ErrorClass, Keyring, Perms, PrivateKey, PublicKey, legacy, load_private_key, load_public_key};

const SHARED_KEY_ID: &str = "0bec77048712eafd4f80090c0eafe478210a5e3c914d107ec5fcd63a905d23a8";

fn check_all(key: &PrivateKey) {
    let cases = cases();
    assert!(cases.len() >= 13);
    for case in cases {
        let got = key.decrypt(&case.blob);
        match &case.expect {
            Ok(plain) => {
                let got = got.unwrap_or_else(|e| panic!("{}: {e}", case.name));
                assert_eq!(got.as_bytes(), plain.as_slice(), "{}", case.name);
            }
            Err(class) => assert_eq!(err_class(got), *class, "{}", case.name),
        }
    }
}

#[test]
fn pkcs1_pem_opens_every_case() {
    check_all(&PrivateKey::from_pem(&read_vector("priv.pem")).unwrap());
}

#[test]
fn pkcs8_pem_opens_every_case() {
    check_all(&PrivateKey::from_pem(&read_vector("priv_pkcs8.pem")).unwrap());
}

#[test]
fn keyring_with_other_keys_first_opens_every_case() {
    let ring = Keyring::from(vec![
        // Same size as the shared key, so the `format` cases stay `format`.
        PrivateKey::generate(2048).unwrap(),
        PrivateKey::from_pem(&read_vector("priv_pkcs8.pem")).unwrap(),
    ]);
    for case in cases() {
        match (&case.expect, ring.decrypt(&case.blob)) {
            (Ok(p), Ok(got)) => assert_eq!(got.as_bytes(), p.as_slice()),
            (Err(c), Err(e)) => assert_eq!(e.class(), *c, "{}: {e}", case.name),
            (want, got) => panic!("{}: want {want:?}, got {got:?}", case.name),
        }
    }
}

#[test]
fn key_ids_match_openssl_spki_fingerprint() {
    let pkcs1 = PrivateKey::from_pem(&read_vector("priv.pem")).unwrap();
    let pkcs8 = PrivateKey::from_pem(&read_vector("priv_pkcs8.pem")).unwrap();
    let public = PublicKey::from_pem(&read_vector("pub.pem")).unwrap();
    assert_eq!(pkcs1.fingerprint(), SHARED_KEY_ID);
    assert_eq!(pkcs8.key_id(), pkcs1.key_id());
    assert_eq!(public.key_id(), pkcs1.key_id());
    assert_eq!(public.bits(), 2048);
    assert_eq!(public.size(), 256);
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
