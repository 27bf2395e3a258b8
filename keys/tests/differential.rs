//! Differential property test: the same key on both backends; random
//! plaintexts sealed by either open identically with the other, in both
//! envelopes (and non-UTF-8 ones fail with the same class on both).
#![cfg(all(feature = "aws-lc", feature = "rust-crypto"))]

mod common;

use common::*;
use cybexp_keys::{Backend, PrivateKey, legacy, v2};
use proptest::prelude::*;

fn seal(legacy_format: bool, key: &PrivateKey, plain: &[u8]) -> Vec<u8> {
    if legacy_format { legacy::encrypt(key.public_key(), plain) } else { v2::encrypt(key.public_key(), plain) }.unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sealed_by_one_opens_identically_with_the_other(
        plain in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2048),
            "\\PC{0,400}".prop_map(String::into_bytes),
        ],
        legacy_format in any::<bool>(),
        sealer in 0usize..2,
    ) {
        let sealer = [Backend::AwsLc, Backend::RustCrypto][sealer];
        let blob = seal(legacy_format, key_in(sealer, 0), &plain);
        let want = std::str::from_utf8(&plain).ok();
        let mut results = Vec::new();
        for &opener in backends() {
            let got = key_in(opener, 0).decrypt(&blob);
            match (want, &got) {
                (Some(w), Ok(g)) => prop_assert_eq!(w, g.as_str()),
                (None, Err(e)) => prop_assert_eq!(e.class(), cybexp_keys::ErrorClass::Utf8),
                _ => prop_assert!(false, "{sealer} -> {opener}: {:?}", got.as_ref().map(|s| s.len())),
            }
            results.push(got.map_err(|e| e.class()));
        }
        prop_assert_eq!(&results[0], &results[1]);
    }
}
