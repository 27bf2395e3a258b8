//! Keyring rotation: v2 picks by key id, legacy tries keys in load order.

mod common;

use common::*;
use cybexp_keys::{Envelope, ErrorClass, Keyring, PrivateKey, legacy, v2};

fn copy(k: &PrivateKey) -> PrivateKey {
    PrivateKey::from_pem(&k.to_pkcs8_pem().unwrap()).unwrap()
}

#[test]
fn rotation() {
    let (old, new) = (small_key(0), small_key(1));
    let ring = Keyring::from(vec![copy(new), copy(old)]);
    assert_eq!(ring.len(), 2);

    for key in [old, new] {
        let opened = ring.open(&v2::encrypt(key.public_key(), b"v2").unwrap()).unwrap();
        assert_eq!((opened.envelope, opened.key_id), (Envelope::V2, key.key_id()));

        // Legacy: tried in load order; `old` is second and still found.
        let opened = ring.open(&legacy::encrypt(key.public_key(), b"legacy").unwrap()).unwrap();
        assert_eq!(opened.plaintext, "legacy");
        assert_eq!((opened.envelope, opened.key_id), (Envelope::Legacy, key.key_id()));
    }
    let ids: Vec<_> = ring.keys().iter().map(|k| k.key_id()).collect();
    assert_eq!(ids, [new.key_id(), old.key_id()]);
}

#[test]
fn no_key_fits_is_key() {
    let ring = Keyring::from(vec![copy(small_key(0)), copy(small_key(1))]);
    let stranger = small_key(2);
    for blob in
        [legacy::encrypt(stranger.public_key(), b"x").unwrap(), v2::encrypt(stranger.public_key(), b"x").unwrap()]
    {
        let e = ring.decrypt(&blob).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Key, "{e}");
    }
}

#[test]
fn mixed_sizes_legacy() {
    // 2048-bit key first, 1024-bit second: a 1024-bit legacy blob shorter than
    // the 2048 split is skipped for that key and opened by the second.
    let ring = Keyring::from(vec![PrivateKey::from_pem(&read_vector("priv.pem")).unwrap(), copy(small_key(0))]);
    let blob = legacy::encrypt(small_key(0).public_key(), b"short").unwrap();
    assert!(blob.len() < 256 + 32);
    assert_eq!(ring.decrypt(&blob).unwrap(), "short");
    // Shorter than every split: format.
    assert_eq!(ring.decrypt(&blob[..100]).unwrap_err().class(), ErrorClass::Format);
    // Long enough for the 1024 key only, and it does not unwrap: key.
    let mut bad = blob.clone();
    bad[0] ^= 1;
    assert_eq!(ring.decrypt(&bad).unwrap_err().class(), ErrorClass::Key);
}

#[test]
fn empty_keyring_is_key() {
    let ring = Keyring::new();
    assert!(ring.is_empty());
    assert_eq!(ring.decrypt(b"anything").unwrap_err().class(), ErrorClass::Key);
}

#[test]
fn shared_vectors_through_a_rotated_ring() {
    let ring = Keyring::from(vec![copy(small_key(0)), copy(shared_key())]);
    for case in cases() {
        if let Ok(plain) = &case.expect {
            let opened = ring.open(&case.blob).unwrap();
            assert_eq!(opened.plaintext.as_bytes(), plain.as_slice());
            assert_eq!(opened.key_id, shared_key().key_id());
        }
    }
}
