//! `envelope`: legacy and v2 decryption with the shared RSA-2048 test key
//! (`../shared/vectors/envelope_rsa2048/priv.pem`, read at run time) on both
//! RSA backends.
//!
//! The first byte picks the mode: even, the rest is a blob as is; odd, it
//! picks one of the valid blobs of the shared and the v2 vectors and the rest
//! is a list of edits to it. Checks: no panic; a failure is one of the four
//! documented classes and says so first; both backends agree (same plaintext
//! or same class); an edited valid blob opens to its own plaintext or not
//! at all, and an unedited one opens.

use std::path::PathBuf;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine;
use cybexp_keys::{Backend, ErrorClass, Keyring, PrivateKey};

/// Valid blobs above this size are not used as bases (the 1 MiB vector
/// would make every run a megabyte copy and decryption).
const MAX_BASE_BYTES: usize = 8 << 10;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository, or `$CYBEXP_SHARED`: the one rule
/// every test uses.
pub use cybexp_test_kit::shared_dir;

pub struct Fixture {
    /// One keyring per backend, each holding the same key.
    pub rings: Vec<(Backend, Keyring)>,
    /// Valid blobs and their plaintexts.
    pub bases: Vec<(Vec<u8>, String)>,
}

/// The valid cases (`expect: ok`) of a vectors file: (name, blob, plaintext).
pub fn ok_cases(path: &std::path::Path) -> Vec<(String, Vec<u8>, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("vectors are JSON");
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or("")).expect("base64")
    };
    json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["expect"] == "ok")
        .map(|c| {
            let plain = String::from_utf8(b64(&c["plaintext_b64"])).expect("UTF-8 plaintext");
            (c["name"].as_str().unwrap_or("").to_owned(), b64(&c["blob_b64"]), plain)
        })
        .collect()
}

/// Every blob of a vectors file, good and bad (the raw mode's seeds).
pub fn all_blobs(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let blob =
                base64::engine::general_purpose::STANDARD.decode(c["blob_b64"].as_str().unwrap_or("")).expect("base64");
            (c["name"].as_str().unwrap_or("").to_owned(), blob)
        })
        .collect()
}

pub fn vector_files() -> [PathBuf; 2] {
    [
        shared_dir().join("vectors/envelope_rsa2048/cases.json"),
        manifest_dir().join("../keys/tests/fixtures/v2_cases.json"),
    ]
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let path = shared_dir().join("vectors/envelope_rsa2048/priv.pem");
        let pem =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (set CYBEXP_SHARED)", path.display()));
        let rings = Backend::COMPILED
            .iter()
            .map(|&b| (b, Keyring::from(vec![PrivateKey::from_pem_in(b, &pem).expect("the test key loads")])))
            .collect();
        let bases = vector_files()
            .iter()
            .flat_map(|p| ok_cases(p))
            .filter(|(_, blob, _)| blob.len() <= MAX_BASE_BYTES)
            .map(|(_, blob, plain)| (blob, plain))
            .collect();
        Fixture { rings, bases }
    })
}

#[derive(Arbitrary, Debug)]
pub enum Edit {
    Flip(u16, u8),
    Set(u16, u8),
    Truncate(u16),
    Insert(u16, u8),
    Remove(u16),
    Append(Vec<u8>),
}

pub fn apply(blob: &mut Vec<u8>, edit: &Edit) {
    let at = |i: &u16, len: usize| usize::from(*i) % len.max(1);
    match edit {
        Edit::Flip(i, bit) => {
            let i = at(i, blob.len());
            if let Some(b) = blob.get_mut(i) {
                *b ^= 1 << (bit % 8);
            }
        }
        Edit::Set(i, v) => {
            let i = at(i, blob.len());
            if let Some(b) = blob.get_mut(i) {
                *b = *v;
            }
        }
        Edit::Truncate(n) => blob.truncate(usize::from(*n) % (blob.len() + 1)),
        Edit::Insert(i, v) => {
            let i = usize::from(*i) % (blob.len() + 1);
            blob.insert(i, *v);
        }
        Edit::Remove(i) => {
            if !blob.is_empty() {
                let i = at(i, blob.len());
                blob.remove(i);
            }
        }
        Edit::Append(bytes) => blob.extend_from_slice(bytes),
    }
}

/// What every backend makes of `blob`; panics if they disagree.
fn open_everywhere(blob: &[u8]) -> Result<String, ErrorClass> {
    let mut first: Option<Result<String, ErrorClass>> = None;
    for (backend, ring) in &fixture().rings {
        let outcome = ring.open(blob).map(|o| o.plaintext).map_err(|e| {
            let class = e.class();
            assert!(matches!(class, ErrorClass::Format | ErrorClass::Key | ErrorClass::Auth | ErrorClass::Utf8));
            assert!(e.to_string().starts_with(&format!("{}: ", class.as_str())), "{backend:?}: {e}");
            assert!(!e.detail().is_empty(), "{backend:?}: an error without detail");
            class
        });
        match &first {
            None => first = Some(outcome),
            Some(seen) => assert_eq!(seen, &outcome, "backends disagree ({backend:?} differs from the first)"),
        }
    }
    first.expect("a backend")
}

pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let _ = open_everywhere(rest);
        return;
    }
    check_edited(&fixture().bases, mode, rest, open_everywhere);
}

/// One of `bases` (picked by `mode`) with the edits `rest` describes: it
/// opens to its own plaintext or fails, and an unedited base never fails.
/// Shared by the envelope targets.
pub fn check_edited(
    bases: &[(Vec<u8>, String)],
    mode: u8,
    rest: &[u8],
    open: impl Fn(&[u8]) -> Result<String, ErrorClass>,
) {
    let (base, plaintext) = &bases[usize::from(mode >> 1) % bases.len()];
    let mut u = Unstructured::new(rest);
    let edits: Vec<Edit> =
        u.arbitrary_iter::<Edit>().map(|it| it.take(64).filter_map(Result::ok).collect()).unwrap_or_default();
    let mut blob = base.clone();
    for edit in &edits {
        apply(&mut blob, edit);
    }
    match open(&blob) {
        Ok(opened) => assert_eq!(&opened, plaintext, "an edited blob opened to another plaintext"),
        Err(class) => assert!(blob != *base, "a valid blob failed ({class:?})"),
    }
}
