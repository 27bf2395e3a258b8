//! X-Wing key files: the draft's own example encodings, the seeds of its
//! vectors, keygen, loading from files and credentials with the usual
//! permission checks, and malformed keys. AWS-LC builds only (the
//! fallback's refusal: tests/fallback.rs).
#![cfg(feature = "aws-lc")]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;
use cybexp_keys::{
    KeyFileError, KeyKind, Keyring, Perms, PrivateKey, PublicKey, load_credential_from, load_keyring, load_private_key,
    load_public_key, v3, write_keypair, write_xwing_keypair,
};
use sha2::Digest;

/// SPKI header before the 1,216 key bytes: SEQUENCE, AlgorithmIdentifier
/// (id-XWing, no parameters), BIT STRING with 0 unused bits.
const SPKI_PREFIX: [u8; 24] = [
    0x30, 0x82, 0x04, 0xd4, 0x30, 0x0d, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xe6, 0x2d, 0x81, 0xc8, 0x7a,
    0x03, 0x82, 0x04, 0xc1, 0x00,
];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn the_drafts_example_encodings_load_and_are_what_we_write() {
    let private = fixture("xwing_draft_example_priv.pem");
    let public = fixture("xwing_draft_example_pub.pem");
    let key = PrivateKey::from_pem(&private).unwrap();
    assert_eq!(key.kind(), KeyKind::XWing);
    assert_eq!(key.kind().to_string(), "x-wing");
    assert_eq!(key.backend(), cybexp_keys::Backend::AwsLc);
    // What we write is byte for byte the draft's PEM.
    assert_eq!(key.to_pkcs8_pem().unwrap().trim_end(), private.trim_end());
    assert_eq!(key.public_key().to_pem().trim_end(), public.trim_end());
    let loaded = PublicKey::from_pem(&public).unwrap();
    assert_eq!(loaded, *key.public_key());
    assert_eq!(loaded.key_id(), key.key_id());
    // The key id: SHA-256 of the SPKI DER, as for RSA keys.
    let der = key.public_key().to_spki_der();
    assert_eq!(der.len(), 1240);
    assert_eq!(der[..24], SPKI_PREFIX);
    assert_eq!(key.key_id().0, <[u8; 32]>::from(sha2::Sha256::digest(der)));
    // The seed is 00 01 .. 1f.
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    assert_eq!(PrivateKey::from_xwing_seed(&seed).unwrap().key_id(), key.key_id());
}

#[test]
fn the_draft_vectors_seeds_give_their_public_keys() {
    let doc: serde_json::Value = serde_json::from_str(&fixture("xwing_draft_vectors.json")).unwrap();
    for v in doc["vectors"].as_array().unwrap() {
        let seed: [u8; 32] = hex(v["seed"].as_str().unwrap()).try_into().unwrap();
        let key = PrivateKey::from_xwing_seed(&seed).unwrap();
        assert_eq!(key.public_key().to_spki_der()[24..], hex(v["pk"].as_str().unwrap()));
        // And it seals to itself through a file round trip.
        let again = PrivateKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
        let blob = v3::encrypt(key.public_key(), b"vector key").unwrap();
        assert_eq!(again.decrypt(&blob).unwrap(), "vector key");
    }
}

#[test]
fn keygen_writes_a_private_seed_0600_and_a_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_xwing_keypair(dir.path()).unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&written.private_path), 0o600);
    assert_eq!(mode(&written.public_path), 0o644);
    let text = fs::read_to_string(&written.private_path).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{text}");
    assert_eq!(text.lines().count(), 4, "54 bytes of DER: two lines of base64");
    let key = load_private_key(&written.private_path, Perms::Strict).unwrap();
    let public = load_public_key(&written.public_path).unwrap();
    assert_eq!((key.key_id(), public.key_id()), (written.public.key_id(), written.public.key_id()));
    assert_eq!(public.kind(), KeyKind::XWing);
    let blob = v3::encrypt(&public, b"{\"new\": true}").unwrap();
    assert_eq!(key.decrypt(&blob).unwrap(), "{\"new\": true}");
    // Never over an existing pair, of either kind.
    assert!(matches!(write_xwing_keypair(dir.path()), Err(KeyFileError::Exists { .. })));
    assert!(matches!(write_keypair(dir.path(), 2048), Err(KeyFileError::Exists { .. })));
    // Two keys are two seeds.
    let other = tempfile::tempdir().unwrap();
    assert_ne!(write_xwing_keypair(other.path()).unwrap().public.key_id(), key.key_id());
}

#[test]
fn files_and_credentials_load_with_the_usual_checks_beside_rsa_keys() {
    let dir = tempfile::tempdir().unwrap();
    let xw = dir.path().join("xwing.pem");
    let rsa = dir.path().join("rsa.pem");
    fs::write(&xw, fixture("xwing_draft_example_priv.pem")).unwrap();
    fs::write(&rsa, read_vector("priv.pem")).unwrap();
    for p in [&xw, &rsa] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
    }
    let e = load_private_key(&xw, Perms::Strict).unwrap_err();
    assert!(matches!(e, KeyFileError::Permissions { mode: 0o644, .. }), "{e}");
    for p in [&xw, &rsa] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let ring: Keyring = load_keyring(&[&rsa, &xw], Perms::Strict).unwrap();
    let kinds: Vec<_> = ring.keys().iter().map(PrivateKey::kind).collect();
    assert_eq!(kinds, [KeyKind::Rsa { bits: 2048 }, KeyKind::XWing]);
    fs::set_permissions(&xw, fs::Permissions::from_mode(0o440)).unwrap();
    let key = load_credential_from(dir.path(), "xwing.pem", Perms::Strict).unwrap();
    assert_eq!(key.key_id(), xwing_key().key_id());
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn der_of(pem_text: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem_text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

#[test]
fn malformed_xwing_keys_are_refused_saying_what_is_wrong() {
    let private = der_of(&fixture("xwing_draft_example_priv.pem"));
    assert_eq!(private.len(), 54);
    // A 31-byte seed.
    let mut short = private[..53].to_vec();
    short[1] -= 1;
    short[21] -= 1;
    let e = PrivateKey::from_pem(&pem("PRIVATE KEY", &short)).unwrap_err().to_string();
    assert!(e.contains("X-Wing private key is not 32 bytes"), "{e}");
    // Algorithm parameters (NULL), which must be absent.
    let mut with_null = vec![0x30, 0x36, 0x02, 0x01, 0x00, 0x30, 0x0f];
    with_null.extend_from_slice(&private[7..20]);
    with_null.extend_from_slice(&[0x05, 0x00]);
    with_null.extend_from_slice(&private[20..]);
    let e = PrivateKey::from_pem(&pem("PRIVATE KEY", &with_null)).unwrap_err().to_string();
    assert!(e.contains("parameters"), "{e}");
    // A public key one byte short.
    let public = der_of(&fixture("xwing_draft_example_pub.pem"));
    let mut cut = public[..public.len() - 1].to_vec();
    cut[3] -= 1;
    cut[22] -= 1;
    let e = PublicKey::from_pem(&pem("PUBLIC KEY", &cut)).unwrap_err().to_string();
    assert!(e.contains("X-Wing public key is not 1216 bytes"), "{e}");
    // Another algorithm altogether (an Ed25519 key).
    let ed25519 =
        hex("302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
    let e = PrivateKey::from_pem(&pem("PRIVATE KEY", &ed25519)).unwrap_err().to_string();
    assert!(e.contains("neither an RSA nor an X-Wing key"), "{e}");
}

/// With both backends compiled, an X-Wing key asked for on the pure-Rust
/// one is refused (X-Wing runs on AWS-LC only).
#[cfg(feature = "rust-crypto")]
#[test]
fn xwing_keys_are_refused_on_the_pure_rust_backend() {
    let rc = cybexp_keys::Backend::RustCrypto;
    let e = PrivateKey::from_pem_in(rc, &fixture("xwing_draft_example_priv.pem")).unwrap_err();
    assert!(matches!(e, KeyFileError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("aws-lc backend only"), "{e}");
    let e = PublicKey::from_pem_in(rc, &fixture("xwing_draft_example_pub.pem")).unwrap_err();
    assert!(matches!(e, KeyFileError::Unsupported { .. }), "{e}");
}
