//! Shared test helpers: the shared vectors and keys generated once per test binary.
#![allow(dead_code)]

use std::sync::OnceLock;

use base64::Engine;
pub use cybexp_keys::Backend;
use cybexp_keys::{DecryptError, ErrorClass, PrivateKey};

pub fn vector_path(name: &str) -> std::path::PathBuf {
    cybexp_test_kit::shared("vectors/envelope_rsa2048").join(name)
}

pub fn read_vector(name: &str) -> String {
    std::fs::read_to_string(vector_path(name)).expect("shared vectors present beside the repo")
}

/// Every backend compiled into this test build, the active one first.
pub fn backends() -> &'static [Backend] {
    Backend::COMPILED
}

fn slot(b: Backend) -> usize {
    backends().iter().position(|x| *x == b).unwrap()
}

/// The shared RSA-2048 key (PKCS#1 PEM), on the active backend.
pub fn shared_key() -> &'static PrivateKey {
    shared_key_in(Backend::ACTIVE)
}

/// The shared RSA-2048 key (PKCS#1 PEM) on backend `b`.
pub fn shared_key_in(b: Backend) -> &'static PrivateKey {
    static K: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    &K.get_or_init(|| {
        backends().iter().map(|b| PrivateKey::from_pem_in(*b, &read_vector("priv.pem")).unwrap()).collect()
    })[slot(b)]
}

/// Three 2048-bit keys generated once per test binary (2048 is the floor
/// AWS-LC accepts), on the active backend.
pub fn small_key(i: usize) -> &'static PrivateKey {
    key_in(Backend::ACTIVE, i)
}

/// `small_key(i)`, the same key material, loaded on backend `b`.
pub fn key_in(b: Backend, i: usize) -> &'static PrivateKey {
    static K: OnceLock<Vec<Vec<PrivateKey>>> = OnceLock::new();
    let all = K.get_or_init(|| {
        let pems: Vec<_> = (0..3).map(|_| PrivateKey::generate(2048).unwrap().to_pkcs8_pem().unwrap()).collect();
        backends().iter().map(|b| pems.iter().map(|p| PrivateKey::from_pem_in(*b, p).unwrap()).collect()).collect()
    });
    &all[slot(b)][i]
}

/// One 3072-bit key (a second modulus size), loaded on backend `b`.
pub fn big_key_in(b: Backend) -> &'static PrivateKey {
    static K: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    &K.get_or_init(|| {
        let pem = PrivateKey::generate(3072).unwrap().to_pkcs8_pem().unwrap();
        backends().iter().map(|b| PrivateKey::from_pem_in(*b, &pem).unwrap()).collect()
    })[slot(b)]
}

pub struct Case {
    pub name: String,
    pub blob: Vec<u8>,
    /// `Ok(plaintext)` or `Err(class)`.
    pub expect: Result<Vec<u8>, ErrorClass>,
}

/// The shared legacy cases.
pub fn cases() -> Vec<Case> {
    cases_from(&read_vector("cases.json"))
}

/// Cases in the shared vectors' JSON shape.
pub fn cases_from(text: &str) -> Vec<Case> {
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap();
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_owned(),
            blob: b64(&c["blob_b64"]),
            expect: match c["expect"].as_str().unwrap() {
                "ok" => Ok(b64(&c["plaintext_b64"])),
                "error" => Err(class(c["error_class"].as_str().unwrap())),
                other => panic!("unknown expect {other}"),
            },
        })
        .collect()
}

pub fn class(s: &str) -> ErrorClass {
    [ErrorClass::Format, ErrorClass::Key, ErrorClass::Auth, ErrorClass::Utf8]
        .into_iter()
        .find(|c| c.as_str() == s)
        .unwrap_or_else(|| panic!("unknown class {s}"))
}

/// The class of a decryption that must fail.
#[track_caller]
pub fn err_class(r: Result<String, DecryptError>) -> ErrorClass {
    match r {
        Ok(p) => panic!("decrypted unexpectedly ({} bytes)", p.len()),
        Err(e) => {
            let line = e.to_string();
            assert!(line.starts_with(e.class().as_str()), "{line}");
            assert!(!line.contains('\n'), "{line}");
            e.class()
        }
    }
}

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(FIXTURES).join(name)).unwrap()
}

/// The X-Wing draft's example key (seed 00 01 .. 1f; "Example of use in
/// X.509"), the v3 test key: `fixtures/xwing_draft_example_priv.pem`.
#[cfg(feature = "aws-lc")]
pub fn xwing_key() -> &'static PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    K.get_or_init(|| PrivateKey::from_pem(&fixture("xwing_draft_example_priv.pem")).unwrap())
}

/// Two more X-Wing keys, generated once per test binary.
#[cfg(feature = "aws-lc")]
pub fn xwing_key_n(i: usize) -> &'static PrivateKey {
    static K: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    &K.get_or_init(|| (0..2).map(|_| PrivateKey::generate_xwing().unwrap()).collect())[i]
}

/// A copy of a key (keys are not `Clone`), through its PEM.
pub fn copy_key(k: &PrivateKey) -> PrivateKey {
    PrivateKey::from_pem_in(k.backend(), &k.to_pkcs8_pem().unwrap()).unwrap()
}

/// The round-trip cases every envelope fixture starts with (the fixture
/// writers of `vectors.rs` and `v3.rs`), sealed by `seal`; `base` is the
/// plaintext its tampered cases start from.
pub fn ok_fixture_cases(seal: &dyn Fn(&[u8]) -> Vec<u8>, base: &[u8]) -> Vec<serde_json::Value> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let unicode = "{\"π\": \"3.14\", \"emoji\": \"🛡\"}";
    let sixteen_kib = "x".repeat(16 * 1024);
    [
        ("small_json", &b"{\"a\": [1, 2, 3]}"[..]),
        ("empty_plaintext", b""),
        ("unicode", unicode.as_bytes()),
        ("sixteen_kib", sixteen_kib.as_bytes()),
        ("untampered_base", base),
    ]
    .into_iter()
    .map(|(name, plain)| serde_json::json!({"name": name, "blob_b64": b64(&seal(plain)), "expect": "ok", "plaintext_b64": b64(plain)}))
    .collect()
}
