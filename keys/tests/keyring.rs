//! Keyring rotation: v2 picks by key id, legacy tries keys in load order
//! (on every compiled backend).

mod common;

use common::*;
use cybexp_keys::{Backend, Envelope, ErrorClass, Keyring, PrivateKey, legacy, v2};

fn copy(b: Backend, k: &PrivateKey) -> PrivateKey {
    PrivateKey::from_pem_in(b, &k.to_pkcs8_pem().unwrap()).unwrap()
}

#[test]
fn rotation() {
    for &b in backends() {
        let (old, new) = (key_in(b, 0), key_in(b, 1));
        let ring = Keyring::from(vec![copy(b, new), copy(b, old)]);
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
}

#[test]
fn no_key_fits_is_key() {
    for &b in backends() {
        let ring = Keyring::from(vec![copy(b, key_in(b, 0)), copy(b, key_in(b, 1))]);
        let stranger = key_in(b, 2);
        for blob in
            [legacy::encrypt(stranger.public_key(), b"x").unwrap(), v2::encrypt(stranger.public_key(), b"x").unwrap()]
        {
            let e = ring.decrypt(&blob).unwrap_err();
            assert_eq!(e.class(), ErrorClass::Key, "{b}: {e}");
        }
    }
}

#[test]
fn mixed_sizes_legacy() {
    for &b in backends() {
        // 3072-bit key first, 2048-bit second: a 2048-bit legacy blob shorter
        // than the 3072 split is skipped for that key and opened by the second.
        let ring = Keyring::from(vec![copy(b, big_key_in(b)), copy(b, key_in(b, 0))]);
        let blob = legacy::encrypt(key_in(b, 0).public_key(), b"short").unwrap();
        assert!(blob.len() < 384 + 32);
        assert_eq!(ring.decrypt(&blob).unwrap(), "short");
        // Shorter than every split: format.
        assert_eq!(ring.decrypt(&blob[..200]).unwrap_err().class(), ErrorClass::Format);
        // Long enough for the 2048 key only, and it does not unwrap: key.
        let mut bad = blob.clone();
        bad[0] ^= 1;
        assert_eq!(ring.decrypt(&bad).unwrap_err().class(), ErrorClass::Key);
    }
}

#[test]
fn empty_keyring_is_key() {
    let ring = Keyring::new();
    assert!(ring.is_empty());
    assert_eq!(ring.decrypt(b"anything").unwrap_err().class(), ErrorClass::Key);
}

#[test]
fn shared_vectors_through_a_rotated_ring() {
    for &b in backends() {
        let ring = Keyring::from(vec![copy(b, key_in(b, 0)), copy(b, shared_key_in(b))]);
        for case in cases() {
            if let Ok(plain) = &case.expect {
                let opened = ring.open(&case.blob).unwrap();
                assert_eq!(opened.plaintext.as_bytes(), plain.as_slice());
                assert_eq!(opened.key_id, shared_key().key_id());
            }
        }
    }
}
