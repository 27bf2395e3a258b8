//! Differential test of the v3 envelope against an independent HPKE: the
//! `hpke` crate (rozbb/rust-hpke 0.15.1: pure Rust, X-Wing through RustCrypto
//! `x-wing`), a dev-dependency only. Random plaintexts and keys:
//!
//! - what we seal, `hpke` opens (`info` = our header, `enc` and the
//!   ciphertext taken from the blob), with the same key from the same seed;
//! - what `hpke` seals to our public key's bytes, wrapped in our header, we open;
//! - one changed byte anywhere makes both refuse.
#![cfg(feature = "aws-lc")]

mod common;

use common::*;
use cybexp_keys::{PrivateKey, v3};
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::XWing;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use proptest::prelude::*;

type Kem = XWing;

fn their_keys(seed: &[u8; 32], ours: &PrivateKey) -> (<Kem as hpke::Kem>::PrivateKey, <Kem as hpke::Kem>::PublicKey) {
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(seed).unwrap();
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&ours.public_key().to_spki_der()[24..]).unwrap();
    (sk, pk)
}

fn their_open(sk: &<Kem as hpke::Kem>::PrivateKey, blob: &[u8]) -> Result<Vec<u8>, hpke::HpkeError> {
    let (info, rest) = blob.split_at(v3::HEADER_LEN);
    let (enc, sealed) = rest.split_at(v3::ENC_LEN);
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc)?;
    hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(&OpModeR::Base, sk, &enc, info, sealed, b"")
}

fn their_seal(pk: &<Kem as hpke::Kem>::PublicKey, header: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let (enc, sealed) =
        hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem>(&OpModeS::Base, pk, header, plaintext, b"").unwrap();
    let mut blob = header.to_vec();
    blob.extend_from_slice(&enc.to_bytes());
    blob.extend_from_slice(&sealed);
    blob
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sealed_by_either_opens_with_the_other(
        seed in any::<[u8; 32]>(),
        plain in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2048),
            "\\PC{0,400}".prop_map(String::into_bytes),
        ],
        tamper in any::<prop::sample::Index>(),
    ) {
        let ours = PrivateKey::from_xwing_seed(&seed).unwrap();
        let (sk, pk) = their_keys(&seed, &ours);
        // Same seed, same public key.
        prop_assert_eq!(&pk.to_bytes()[..], &ours.public_key().to_spki_der()[24..]);

        let utf8 = std::str::from_utf8(&plain).ok();
        let ours_sealed = v3::encrypt(ours.public_key(), &plain).unwrap();
        prop_assert_eq!(their_open(&sk, &ours_sealed).unwrap(), plain.clone());

        let theirs_sealed = their_seal(&pk, &v3::header(ours.key_id()), &plain);
        match (utf8, ours.decrypt(&theirs_sealed)) {
            (Some(want), Ok(got)) => prop_assert_eq!(want, got.as_str()),
            (None, Err(e)) => prop_assert_eq!(e.class(), cybexp_keys::ErrorClass::Utf8),
            (want, got) => prop_assert!(false, "{:?} vs {:?}", want.map(str::len), got.map(|s| s.len())),
        }

        // One changed byte after the key id: both refuse (ours with `auth`).
        for blob in [&ours_sealed, &theirs_sealed] {
            let mut bad = blob.clone();
            let at = 11 + tamper.index(bad.len() - 11);
            bad[at] ^= 0x20;
            if at < v3::HEADER_LEN {
                // A changed key id names no key of ours; theirs sees another `info`.
                prop_assert_eq!(ours.decrypt(&bad).unwrap_err().class(), cybexp_keys::ErrorClass::Key);
            } else {
                prop_assert_eq!(ours.decrypt(&bad).unwrap_err().class(), cybexp_keys::ErrorClass::Auth);
            }
            prop_assert!(their_open(&sk, &bad).is_err());
        }
    }
}

/// The fixture blobs (made by this crate for the draft's example key) open
/// with `hpke` too.
#[test]
fn the_v3_fixture_opens_with_hpke() {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let (sk, _) = their_keys(&seed, xwing_key());
    let mut opened = 0;
    for case in cases_from(&fixture("v3_cases.json")) {
        if let Ok(plain) = &case.expect {
            assert_eq!(&their_open(&sk, &case.blob).unwrap(), plain, "{}", case.name);
            opened += 1;
        }
    }
    assert_eq!(opened, 5);
}
