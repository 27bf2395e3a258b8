//! Key files: permission checks, credentials, PEM forms, key generation.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use cybexp_keys::{
    KeyFileError, Perms, PrivateKey, PublicKey, legacy, load_credential, load_credential_from, load_keyring,
    load_private_key, load_public_key, v2, write_keypair,
};

fn write_mode(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn key_file_modes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("priv.pem");
    let pem = read_vector("priv.pem");

    write_mode(&path, &pem, 0o644);
    let err = load_private_key(&path, Perms::Strict).unwrap_err();
    assert!(matches!(err, KeyFileError::Permissions { mode: 0o644, .. }));
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("0644") && msg.contains("chmod 600"), "{msg}");
    assert!(!msg.contains('\n'));

    // The explicit override loads it.
    let key = load_private_key(&path, Perms::AllowInsecure).unwrap();
    assert_eq!(key.key_id(), shared_key().key_id());

    for bad in [0o640, 0o604, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        assert!(load_private_key(&path, Perms::Strict).is_err(), "{bad:o}");
    }
    for ok in [0o600, 0o400] {
        fs::set_permissions(&path, fs::Permissions::from_mode(ok)).unwrap();
        load_private_key(&path, Perms::Strict).unwrap();
    }
}

#[test]
fn credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    let pem = read_vector("priv_pkcs8.pem");
    write_mode(&dir.path().join("archive-key"), &pem, 0o400);
    let key = load_credential_from(dir.path(), "archive-key", Perms::Strict).unwrap();
    assert_eq!(key.key_id(), shared_key().key_id());

    // Root-owned, group-readable credentials are accepted...
    fs::set_permissions(dir.path().join("archive-key"), fs::Permissions::from_mode(0o440)).unwrap();
    load_credential_from(dir.path(), "archive-key", Perms::Strict).unwrap();
    // ...but not other-readable or group-writable ones.
    for bad in [0o444, 0o460] {
        fs::set_permissions(dir.path().join("archive-key"), fs::Permissions::from_mode(bad)).unwrap();
        let e = load_credential_from(dir.path(), "archive-key", Perms::Strict).unwrap_err();
        assert!(matches!(e, KeyFileError::Permissions { .. }), "{e}");
    }

    for name in ["", ".", "..", "../archive-key", "a/b"] {
        let e = load_credential_from(dir.path(), name, Perms::Strict).unwrap_err();
        assert!(matches!(e, KeyFileError::BadCredentialName(_)), "{name:?}: {e}");
    }
    let e = load_credential_from(dir.path(), "missing", Perms::Strict).unwrap_err();
    assert!(matches!(e, KeyFileError::Io { .. }), "{e}");
}

#[test]
fn credential_wrapper_without_env() {
    // Env vars are process-global: only observe, never set.
    if std::env::var_os("CREDENTIALS_DIRECTORY").is_none() {
        let e = load_credential("archive-key", Perms::Strict).unwrap_err();
        assert!(matches!(e, KeyFileError::NoCredentialsDirectory), "{e}");
    }
}

#[test]
fn pem_forms_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);

    // PKCS#1 public key (BEGIN RSA PUBLIC KEY).
    use der::Decode;
    let (_, spki) = pem_rfc7468::decode_vec(read_vector("pub.pem").as_bytes()).unwrap();
    let info = pkcs8::SubjectPublicKeyInfoRef::from_der(&spki).unwrap();
    let le = pem_rfc7468::LineEnding::LF;
    let pkcs1 = pem_rfc7468::encode_string("RSA PUBLIC KEY", le, info.subject_public_key.raw_bytes()).unwrap();
    fs::write(p("pub1.pem"), &pkcs1).unwrap();
    let public = load_public_key(&p("pub1.pem")).unwrap();
    assert_eq!(public.key_id(), shared_key().key_id());
    assert_eq!(PublicKey::from_pem(&public.to_pem()).unwrap(), public);
    assert_eq!(public.to_pem().trim_end(), read_vector("pub.pem").trim_end());
    for &b in backends() {
        assert_eq!(PublicKey::from_pem_in(b, &pkcs1).unwrap(), public, "{b}");
    }

    // openssl pkcs12 output: attributes before the block, text after it.
    let bagged = format!("Bag Attributes\n    localKeyID: 01\n{}trailer\n", read_vector("priv_pkcs8.pem"));
    assert_eq!(PrivateKey::from_pem(&bagged).unwrap().key_id(), shared_key().key_id());

    // CRLF line endings load too.
    let crlf = read_vector("priv.pem").replace('\n', "\r\n");
    for &b in backends() {
        assert_eq!(PrivateKey::from_pem_in(b, &crlf).unwrap().key_id(), shared_key().key_id());
        assert_eq!(PrivateKey::from_pem_in(b, &bagged).unwrap().key_id(), shared_key().key_id());
    }

    let refusals = [
        ("junk.pem", "not a key at all".to_owned()),
        ("cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned()),
        ("enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n".to_owned()),
        ("bad.pem", read_vector("priv.pem").replace("MII", "AAA")),
        ("pub-as-priv.pem", read_vector("pub.pem")),
    ];
    for (name, text) in refusals {
        write_mode(&p(name), &text, 0o600);
        let e = load_private_key(&p(name), Perms::Strict).unwrap_err();
        assert!(matches!(e, KeyFileError::Parse { .. }), "{name}: {e}");
        assert!(e.to_string().contains(name), "{e}");
    }
    fs::write(p("binary.pem"), [0xffu8, 0xfe, 0]).unwrap();
    fs::set_permissions(p("binary.pem"), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(load_private_key(&p("binary.pem"), Perms::Strict).is_err());

    write_mode(&p("big.pem"), &"A".repeat(cybexp_keys::MAX_PEM_BYTES + 1), 0o600);
    let e = load_private_key(&p("big.pem"), Perms::Strict).unwrap_err();
    assert!(matches!(e, KeyFileError::TooLarge { .. }), "{e}");

    let e = load_private_key(dir.path(), Perms::AllowInsecure).unwrap_err();
    assert!(matches!(e, KeyFileError::NotAFile { .. }), "{e}");
}

#[test]
fn keyring_from_files_keeps_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.pem");
    let b = dir.path().join("b.pem");
    write_mode(&a, &small_key(0).to_pkcs8_pem().unwrap(), 0o600);
    write_mode(&b, &read_vector("priv.pem"), 0o600);
    let ring = load_keyring(&[&a, &b], Perms::Strict).unwrap();
    let ids: Vec<_> = ring.keys().iter().map(|k| k.key_id()).collect();
    assert_eq!(ids, [small_key(0).key_id(), shared_key().key_id()]);
}

#[test]
fn write_keypair_creates_0600_and_refuses_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(write_keypair(dir.path(), 1024), Err(KeyFileError::Generate(_))));

    let written = write_keypair(dir.path(), 2048).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&written.private_path), 0o600);
    assert_eq!(mode(&written.public_path) & 0o077 & !0o044, 0);
    let priv_text = fs::read_to_string(&written.private_path).unwrap();
    assert!(priv_text.starts_with("-----BEGIN PRIVATE KEY-----"));

    let key = load_private_key(&written.private_path, Perms::Strict).unwrap();
    let public = load_public_key(&written.public_path).unwrap();
    assert_eq!(key.bits().unwrap(), 2048);
    assert_eq!(key.key_id(), public.key_id());
    assert_eq!(written.public.fingerprint(), key.fingerprint());
    let blob = v2::encrypt(&public, b"hi").unwrap();
    assert_eq!(key.decrypt(&blob).unwrap(), "hi");
    let blob = legacy::encrypt(&public, b"hi").unwrap();
    assert_eq!(key.decrypt(&blob).unwrap(), "hi");

    // A second run must not touch the existing files.
    let e = write_keypair(dir.path(), 2048).unwrap_err();
    assert!(matches!(e, KeyFileError::Exists { .. }), "{e}");
    assert_eq!(fs::read_to_string(&written.private_path).unwrap(), priv_text);

    // Only pub.pem present: still refused, and no priv.pem left behind.
    let dir2 = tempfile::tempdir().unwrap();
    fs::write(dir2.path().join("pub.pem"), "x").unwrap();
    assert!(matches!(write_keypair(dir2.path(), 2048), Err(KeyFileError::Exists { .. })));
    assert!(!dir2.path().join("priv.pem").exists());
}

#[test]
fn generate_bounds() {
    for bits in [512, 1024, 2047, 2049, 2560, 16384] {
        let e = cybexp_keys::generate(bits).unwrap_err();
        assert!(matches!(e, KeyFileError::Generate(_)), "{bits}: {e}");
        assert!(e.to_string().contains(&bits.to_string()), "{e}");
    }
    assert_eq!(cybexp_keys::DEFAULT_BITS, 3072);
    assert_eq!(cybexp_keys::MIN_BITS, 2048);
}
