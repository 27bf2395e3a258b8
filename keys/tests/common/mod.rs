//! Shared test helpers: the shared vectors and keys generated once per test binary.
#![allow(dead_code)]

use std::sync::OnceLock;

use base64::Engine;
use cybexp_keys::{DecryptError, ErrorClass, PrivateKey};

pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/envelope_rsa2048");

pub fn vector_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(VECTORS).join(name)
}

pub fn read_vector(name: &str) -> String {
    std::fs::read_to_string(vector_path(name)).expect("shared vectors present beside the repo")
}

/// The shared RSA-2048 key (PKCS#1 PEM).
pub fn shared_key() -> &'static PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    K.get_or_init(|| PrivateKey::from_pem(&read_vector("priv.pem")).unwrap())
}

/// Keys generated once per test binary (1024 bits: fast, size irrelevant).
pub fn small_key(i: usize) -> &'static PrivateKey {
    static K: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    &K.get_or_init(|| (0..3).map(|_| PrivateKey::generate(1024).unwrap()).collect())[i]
}

pub struct Case {
    pub name: String,
    pub blob: Vec<u8>,
    /// `Ok(plaintext)` or `Err(class)`.
    pub expect: Result<Vec<u8>, ErrorClass>,
}

pub fn cases() -> Vec<Case> {
    let json: serde_json::Value = serde_json::from_str(&read_vector("cases.json")).unwrap();
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
