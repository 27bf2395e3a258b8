//! Random and mutated blobs never panic and always fail with a class
//! (or, for a no-op mutation, yield the original plaintext), with the same
//! outcome on every compiled backend.

mod common;

use base64::Engine;
use common::*;
use cybexp_keys::{Keyring, PrivateKey, PublicKey, legacy, v2};
use proptest::prelude::*;
use std::sync::OnceLock;

const PLAIN: &str = "{\"fuzz\": true}";

/// One ring per compiled backend, each holding the same key.
fn rings() -> &'static [Keyring] {
    static R: OnceLock<Vec<Keyring>> = OnceLock::new();
    R.get_or_init(|| {
        let pem = small_key(0).to_pkcs8_pem().unwrap();
        backends().iter().map(|b| Keyring::from(vec![PrivateKey::from_pem_in(*b, &pem).unwrap()])).collect()
    })
}

fn seeds() -> &'static [Vec<u8>; 2] {
    static S: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    S.get_or_init(|| {
        let pk = small_key(0).public_key();
        [legacy::encrypt(pk, PLAIN.as_bytes()).unwrap(), v2::encrypt(pk, PLAIN.as_bytes()).unwrap()]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Insert(i, v)),
        any::<usize>().prop_map(Mutation::Remove),
        proptest::collection::vec(any::<u8>(), 1..32).prop_map(Mutation::Append),
    ]
}

fn apply(blob: &mut Vec<u8>, m: &Mutation) {
    let n = blob.len().max(1);
    match m {
        Mutation::Flip(i, b) => {
            if let Some(x) = blob.get_mut(i % n) {
                *x ^= 1 << b;
            }
        }
        Mutation::Set(i, v) => {
            if let Some(x) = blob.get_mut(i % n) {
                *x = *v;
            }
        }
        Mutation::Truncate(i) => blob.truncate(i % n),
        Mutation::Insert(i, v) => blob.insert(i % (blob.len() + 1), *v),
        Mutation::Remove(i) => {
            if !blob.is_empty() {
                blob.remove(i % n);
            }
        }
        Mutation::Append(v) => blob.extend_from_slice(v),
    }
}

fn check(blob: &[u8]) {
    let mut outcomes = Vec::new();
    for (ring, b) in rings().iter().zip(backends()) {
        match ring.decrypt(blob) {
            Ok(p) => {
                assert_eq!(p, PLAIN, "forged plaintext on {b}");
                outcomes.push(Ok(()));
            }
            Err(e) => {
                let line = e.to_string();
                assert!(line.starts_with(&format!("{}: ", e.class().as_str())), "{line}");
                outcomes.push(Err(e.class()));
            }
        }
    }
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "backends disagree: {outcomes:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_blobs(blob in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&blob);
    }

    #[test]
    fn random_v2_looking_blobs(tail in proptest::collection::vec(any::<u8>(), 0..300), claim_key in any::<bool>()) {
        let mut blob = seeds()[1][..5].to_vec();
        if claim_key {
            blob.extend_from_slice(&small_key(0).key_id().0);
        }
        blob.extend_from_slice(&tail);
        check(&blob);
    }

    #[test]
    fn mutated_blobs(which in 0usize..2, muts in proptest::collection::vec(mutation(), 1..4)) {
        let mut blob = seeds()[which].clone();
        for m in &muts {
            apply(&mut blob, m);
        }
        check(&blob);
    }
}

/// The shared key's PKCS#1 DER.
fn key_der() -> &'static [u8] {
    static D: OnceLock<Vec<u8>> = OnceLock::new();
    D.get_or_init(|| {
        let pem = read_vector("priv.pem");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(body).unwrap()
    })
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Corrupted key files are refused, never a panic.
    #[test]
    fn mutated_key_der(muts in proptest::collection::vec(mutation(), 1..4), label in 0usize..3) {
        let mut der = key_der().to_vec();
        for m in &muts {
            apply(&mut der, m);
        }
        let label = ["RSA PRIVATE KEY", "PRIVATE KEY", "PUBLIC KEY"][label];
        let pem = to_pem(label, &der);
        same_on_every_backend(&pem);
    }

    #[test]
    fn random_pem_text(text in "(-----BEGIN [A-Z ]{0,20}-----\n)?[A-Za-z0-9+/=\n-]{0,300}") {
        same_on_every_backend(&text);
    }
}

/// Loading never panics; a public key loads on every backend (the same key)
/// or on none; a private key that loads on several has the same key id on
/// each, and any private key that loads works (its own blobs open). Backends
/// may differ on refusing a corrupted private key whose structure parses:
/// AWS-LC checks the CRT values, the `rsa` crate recomputes them.
fn same_on_every_backend(pem: &str) {
    let public: Vec<_> = backends().iter().map(|b| PublicKey::from_pem_in(*b, pem).ok().map(|k| k.key_id())).collect();
    assert!(public.windows(2).all(|w| w[0] == w[1]), "public: {public:?}");
    let private: Vec<_> = backends().iter().filter_map(|b| PrivateKey::from_pem_in(*b, pem).ok()).collect();
    for key in &private {
        assert_eq!(key.key_id(), private[0].key_id());
        let blob = v2::encrypt(key.public_key(), b"x").unwrap();
        assert_eq!(key.decrypt(&blob).unwrap(), "x", "{}", key.backend());
    }
}
