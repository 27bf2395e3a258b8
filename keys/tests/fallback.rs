//! The pure-Rust fallback build (`--no-default-features --features
//! rust-crypto`) refuses X-Wing keys and so the v3 envelope, saying why:
//! a key file fails to load, keygen fails, and a v3 blob finds no key.
#![cfg(not(feature = "aws-lc"))]

mod common;

use common::*;
use cybexp_keys::{ErrorClass, KeyFileError, Keyring, PrivateKey, PublicKey, XWING_SUPPORTED, write_xwing_keypair};

fn assert_refused(e: KeyFileError) {
    let text = e.to_string();
    assert!(text.contains("need the `aws-lc` backend") && text.contains("pure-Rust fallback only"), "{text}");
}

#[test]
fn xwing_keys_are_refused_with_a_clear_error() {
    const { assert!(!XWING_SUPPORTED) };
    let e = PrivateKey::from_pem(&fixture("xwing_draft_example_priv.pem")).unwrap_err();
    assert!(matches!(e, KeyFileError::Unsupported { .. }), "{e}");
    assert_refused(e);
    assert_refused(PublicKey::from_pem(&fixture("xwing_draft_example_pub.pem")).unwrap_err());
    assert_refused(PrivateKey::generate_xwing().unwrap_err());
    assert_refused(PrivateKey::from_xwing_seed(&[1; 32]).unwrap_err());
    let dir = tempfile::tempdir().unwrap();
    assert_refused(write_xwing_keypair(dir.path()).unwrap_err());
    assert!(!dir.path().join("priv.pem").exists());
}

#[test]
fn a_v3_blob_finds_no_key() {
    let ring = Keyring::from(vec![copy_key(shared_key())]);
    for case in cases_from(&fixture("v3_cases.json")) {
        let e = ring.decrypt(&case.blob).unwrap_err();
        assert!(matches!(e.class(), ErrorClass::Key | ErrorClass::Format), "{}: {e}", case.name);
        if case.expect.is_ok() {
            assert!(e.detail().contains("no loaded X-Wing key has id"), "{}: {e}", case.name);
        }
    }
}
