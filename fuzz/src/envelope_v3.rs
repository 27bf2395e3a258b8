//! `envelope_v3`: v3 decryption (HPKE with X-Wing) with the X-Wing draft's
//! example key (`../keys/tests/fixtures/xwing_draft_example_priv.pem`) in a
//! keyring beside the shared RSA-2048 test key, on AWS-LC (X-Wing's only
//! backend).
//!
//! The first byte picks the mode: `0 mod 4`, the rest is a blob as is;
//! `2 mod 4`, the rest follows a v3 header that names the key (so every
//! input reaches decapsulation and the AEAD); odd, it picks one of the valid
//! blobs of `../keys/tests/fixtures/v3_cases.json` and the rest is a list of
//! edits to it (as `envelope`). Checks: no panic; a failure is one of the
//! four documented classes and says so first; an edited valid blob opens to
//! its own plaintext or not at all, and an unedited one opens; and once the
//! header is the valid one and the blob is long enough for `enc` and a tag,
//! every failure is `auth` with the one detail text (implicit rejection:
//! nothing tells a bad `enc` from a bad tag), or `utf8` for a blob that
//! authenticates.

use std::path::PathBuf;
use std::sync::OnceLock;

use cybexp_keys::{ErrorClass, Keyring, PrivateKey, v3};

use crate::envelope::{check_edited, ok_cases, shared_dir};

struct Fixture {
    ring: Keyring,
    header: [u8; v3::HEADER_LEN],
    bases: Vec<(Vec<u8>, String)>,
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keys/tests/fixtures")
}

pub fn vector_file() -> PathBuf {
    fixtures_dir().join("v3_cases.json")
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let xwing =
            PrivateKey::from_pem(&read(fixtures_dir().join("xwing_draft_example_priv.pem"))).expect("X-Wing key");
        let rsa = PrivateKey::from_pem(&read(shared_dir().join("vectors/envelope_rsa2048/priv.pem"))).expect("RSA key");
        let header = v3::header(xwing.key_id());
        let bases = ok_cases(&vector_file()).into_iter().map(|(_, blob, plain)| (blob, plain)).collect();
        Fixture { ring: Keyring::from(vec![rsa, xwing]), header, bases }
    })
}

/// What the keyring makes of `blob`, with the checks every answer must pass.
fn open(blob: &[u8]) -> Result<String, ErrorClass> {
    let f = fixture();
    f.ring.open(blob).map(|o| o.plaintext).map_err(|e| {
        let class = e.class();
        assert!(matches!(class, ErrorClass::Format | ErrorClass::Key | ErrorClass::Auth | ErrorClass::Utf8));
        assert!(e.to_string().starts_with(&format!("{}: ", class.as_str())), "{e}");
        assert!(!e.detail().is_empty(), "an error without detail");
        let parsed = blob.len() >= v3::MIN_LEN && blob[..v3::HEADER_LEN] == f.header;
        if parsed {
            // `utf8` only for a blob that authenticates (the vectors' own
            // non-UTF-8 case): every other failure is `auth`, with one text.
            assert!(matches!(class, ErrorClass::Auth | ErrorClass::Utf8), "after parsing, a failure is auth: {e}");
            if class == ErrorClass::Auth {
                static DETAIL: OnceLock<String> = OnceLock::new();
                assert_eq!(DETAIL.get_or_init(|| e.detail().to_owned()), e.detail(), "one text for every cause");
            }
        }
        class
    })
}

pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        if mode % 4 == 0 {
            let _ = open(rest);
        } else {
            let mut blob = fixture().header.to_vec();
            blob.extend_from_slice(rest);
            let _ = open(&blob);
        }
        return;
    }
    check_edited(&fixture().bases, mode, rest, open);
}
