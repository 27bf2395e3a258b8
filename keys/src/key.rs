//! Key wrappers (RSA or X-Wing), key ids and PEM (de)serialisation.
//!
//! PEM and DER are handled here and in `encoding` for every backend alike;
//! the RSA backend (`backend::Private`/`Public`) only sees PKCS#8 v1 and SPKI
//! DER, the X-Wing code (`xwing`) only the raw seed and public key bytes.
//! Both kinds use the same PEM labels (`PRIVATE KEY`, `PUBLIC KEY`): the
//! algorithm OID inside says which.

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::backend::{self, Backend};
use crate::encoding::{self, DerError, MAX_BITS, MIN_BITS, PrivateDer, PublicDer};
use crate::error::KeyFileError;
use crate::xwing;

/// Default modulus size for new keys (NIST SP 800-57: ~128-bit strength).
pub const DEFAULT_BITS: usize = 3072;
/// The sizes [`PrivateKey::generate`] makes: those AWS-LC can generate,
/// on every backend.
pub const GENERATE_BITS: [usize; 4] = [2048, 3072, 4096, 8192];

/// What kind of key: an RSA key of some size, or an X-Wing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA; opens and seals the legacy and v2 envelopes.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// X-Wing (ML-KEM-768 + X25519); opens and seals the v3 envelope.
    XWing,
}

impl fmt::Display for KeyKind {
    /// `rsa-3072`, `x-wing`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa { bits } => write!(f, "rsa-{bits}"),
            KeyKind::XWing => f.write_str("x-wing"),
        }
    }
}

/// SHA-256 of the public key's SubjectPublicKeyInfo DER (for X-Wing, the
/// SPKI of draft-connolly-cfrg-xwing-kem, "Use in X.509").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 32]);

impl KeyId {
    /// Full lower-case hex (64 chars).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
    /// First 8 bytes as hex: enough to tell keys apart in logs and errors.
    pub fn short(&self) -> String {
        hex(&self.0[..8])
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.short())
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A public key, RSA or X-Wing (the recipient of new envelopes).
#[derive(Clone)]
pub struct PublicKey {
    inner: Public,
    /// SubjectPublicKeyInfo DER (RSA: as the backend encodes it, identical on both).
    spki: Vec<u8>,
    id: KeyId,
}

#[derive(Clone)]
enum Public {
    Rsa(backend::Public),
    XWing(xwing::Public),
}

impl PartialEq for PublicKey {
    /// The same key, whichever backend holds it.
    fn eq(&self, other: &Self) -> bool {
        self.spki == other.spki
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    fn from_backend(inner: backend::Public, origin: &str) -> Result<Self, KeyFileError> {
        let spki = inner.to_spki().map_err(|what| KeyFileError::Parse { origin: origin.to_owned(), what })?;
        Ok(Self::with_spki(Public::Rsa(inner), spki))
    }

    fn from_xwing(inner: xwing::Public) -> Self {
        let spki = encoding::xwing_spki(inner.bytes());
        Self::with_spki(Public::XWing(inner), spki)
    }

    fn with_spki(inner: Public, spki: Vec<u8>) -> Self {
        let id = KeyId(Sha256::digest(&spki).into());
        Self { inner, spki, id }
    }

    /// Parse SPKI (`BEGIN PUBLIC KEY`: RSA or X-Wing) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyFileError> {
        Self::from_pem_in(Backend::ACTIVE, pem)
    }

    /// [`PublicKey::from_pem`] on an explicit backend (tests and benches
    /// compare them when both are compiled).
    pub fn from_pem_in(backend: Backend, pem: &str) -> Result<Self, KeyFileError> {
        Self::from_pem_named(backend, pem, "PEM input")
    }

    pub(crate) fn from_pem_named(backend: Backend, pem: &str, origin: &str) -> Result<Self, KeyFileError> {
        const LABELS: [&str; 2] = ["PUBLIC KEY", "RSA PUBLIC KEY"];
        let (label, block) =
            pem_block(pem, &LABELS).map_err(|first| label_err(origin, first, "PUBLIC KEY or RSA PUBLIC KEY"))?;
        let der = encoding::pem_to_der(block, label).map_err(|e| parse_err(origin, kind_of(label), e))?;
        let spki = if label == "PUBLIC KEY" {
            match encoding::spki(&der).map_err(|e| der_err(origin, label, e))? {
                PublicDer::Rsa => der.to_vec(),
                PublicDer::XWing(bytes) => {
                    check_xwing_backend(backend, origin)?;
                    let inner = xwing::Public::from_bytes(bytes).map_err(|what| xwing_refused(origin, what))?;
                    return Ok(Self::from_xwing(inner));
                }
            }
        } else {
            encoding::pkcs1_public_bits(&der).map_err(|e| der_err(origin, label, e))?;
            encoding::wrap_pkcs1_public(&der)
        };
        let inner = backend::Public::from_spki(backend, &spki)
            .map_err(|what| KeyFileError::Parse { origin: origin.to_owned(), what })?;
        Self::from_backend(inner, origin)
    }

    /// SPKI PEM (`BEGIN PUBLIC KEY`), LF line endings.
    pub fn to_pem(&self) -> String {
        // Cannot fail for a DER of this size; public, so no need to wipe.
        encoding::der_to_pem("PUBLIC KEY", &self.spki).map(|p| p.as_str().to_owned()).unwrap_or_default()
    }

    /// The SubjectPublicKeyInfo DER (the key id is its SHA-256).
    pub fn to_spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key id: SHA-256 of the SubjectPublicKeyInfo DER.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// Same as `key_id().to_hex()`, for display.
    pub fn fingerprint(&self) -> String {
        self.id.to_hex()
    }

    /// RSA or X-Wing, and an RSA key's size.
    pub fn kind(&self) -> KeyKind {
        match &self.inner {
            Public::Rsa(k) => KeyKind::Rsa { bits: k.bits() },
            Public::XWing(_) => KeyKind::XWing,
        }
    }

    /// RSA modulus size in bits; `None` for an X-Wing key.
    pub fn bits(&self) -> Option<usize> {
        self.rsa().map(backend::Public::bits)
    }

    /// RSA modulus size in bytes (the length of an RSA ciphertext under this
    /// key); `None` for an X-Wing key.
    pub fn size(&self) -> Option<usize> {
        self.rsa().map(backend::Public::size)
    }

    /// The backend holding this key (X-Wing keys: always AWS-LC).
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Public::Rsa(k) => k.backend(),
            Public::XWing(k) => k.backend(),
        }
    }

    /// For the RSA envelopes.
    pub(crate) fn rsa(&self) -> Option<&backend::Public> {
        match &self.inner {
            Public::Rsa(k) => Some(k),
            Public::XWing(_) => None,
        }
    }

    /// For the v3 envelope.
    pub(crate) fn xwing(&self) -> Option<&xwing::Public> {
        match &self.inner {
            Public::XWing(k) => Some(k),
            Public::Rsa(_) => None,
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("kind", &self.kind()).field("id", &self.id).finish()
    }
}

/// A private key, RSA or X-Wing. Not `Clone`; `Debug` shows only kind, key
/// id and backend. Where each backend keeps the secret and how it is wiped:
/// crate docs, "Backends", and `xwing.rs`.
pub struct PrivateKey {
    inner: Secret,
    public: PublicKey,
}

enum Secret {
    Rsa(backend::Private),
    XWing(xwing::Secret),
}

impl PrivateKey {
    fn from_backend(inner: backend::Private, origin: &str) -> Result<Self, KeyFileError> {
        let public = PublicKey::from_backend(inner.public(), origin)?;
        Ok(Self { inner: Secret::Rsa(inner), public })
    }

    fn from_xwing((secret, public): (xwing::Secret, xwing::Public)) -> Self {
        Self { inner: Secret::XWing(secret), public: PublicKey::from_xwing(public) }
    }

    /// Generate a fresh X-Wing key (a 32-byte seed from the OS RNG). Needs
    /// the `aws-lc` backend; the fallback build refuses.
    pub fn generate_xwing() -> Result<Self, KeyFileError> {
        xwing::Secret::generate().map(Self::from_xwing).map_err(KeyFileError::Generate)
    }

    /// The X-Wing key with this 32-byte seed (the content of its key file;
    /// the draft's test vectors give seeds). Needs the `aws-lc` backend.
    pub fn from_xwing_seed(seed: &[u8; 32]) -> Result<Self, KeyFileError> {
        xwing::Secret::from_seed(seed).map(Self::from_xwing).map_err(|what| xwing_refused("X-Wing seed", what))
    }

    /// Generate a fresh key with public exponent 65537 from the OS RNG.
    /// `bits` must be one of [`GENERATE_BITS`] (2048, 3072, 4096, 8192); use
    /// `DEFAULT_BITS` (3072) for real keys.
    pub fn generate(bits: usize) -> Result<Self, KeyFileError> {
        Self::generate_in(Backend::ACTIVE, bits)
    }

    /// [`PrivateKey::generate`] on an explicit backend.
    pub fn generate_in(backend: Backend, bits: usize) -> Result<Self, KeyFileError> {
        if !GENERATE_BITS.contains(&bits) {
            return Err(KeyFileError::Generate(format!(
                "{bits} bits is not a supported size (one of 2048, 3072, 4096, 8192)"
            )));
        }
        let inner = backend::Private::generate(backend, bits).map_err(KeyFileError::Generate)?;
        Self::from_backend(inner, "generated key")
    }

    /// Parse PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`:
    /// RSA, or X-Wing's seed as the draft encodes it) PEM. Encrypted PKCS#8
    /// is refused. The caller owns (and should wipe) `pem`.
    pub fn from_pem(pem: &str) -> Result<Self, KeyFileError> {
        Self::from_pem_in(Backend::ACTIVE, pem)
    }

    /// [`PrivateKey::from_pem`] on an explicit backend (tests and benches
    /// compare them when both are compiled).
    pub fn from_pem_in(backend: Backend, pem: &str) -> Result<Self, KeyFileError> {
        Self::from_pem_named(backend, pem, "PEM input")
    }

    pub(crate) fn from_pem_named(backend: Backend, pem: &str, origin: &str) -> Result<Self, KeyFileError> {
        const LABELS: [&str; 3] = ["RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"];
        let label = match pem_block(pem, &LABELS) {
            Ok(("ENCRYPTED PRIVATE KEY", _)) => {
                return Err(KeyFileError::Parse {
                    origin: origin.to_owned(),
                    what: "encrypted PKCS#8 keys are not supported; store the key \
                           unencrypted with mode 0600 or as a systemd credential"
                        .to_owned(),
                });
            }
            Ok(found) => found,
            Err(first) => return Err(label_err(origin, first, "RSA PRIVATE KEY or PRIVATE KEY")),
        };
        let (label, block) = label;
        // Every buffer holding key bytes below is `Zeroizing`: the DER, and the
        // PKCS#8 wrapping of a PKCS#1 key.
        let der = encoding::pem_to_der(block, label).map_err(|e| parse_err(origin, kind_of(label), e))?;
        let wrapped;
        let pkcs8: &[u8] = if label == "RSA PRIVATE KEY" {
            encoding::pkcs1_private_bits(&der).map_err(|e| der_err(origin, label, e))?;
            wrapped = encoding::wrap_pkcs1_private(&der);
            &wrapped
        } else {
            match encoding::pkcs8_private(&der).map_err(|e| der_err(origin, label, e))? {
                PrivateDer::Rsa => &der,
                PrivateDer::XWing(seed) => {
                    check_xwing_backend(backend, origin)?;
                    let pair = xwing::Secret::from_seed(seed).map_err(|what| xwing_refused(origin, what))?;
                    return Ok(Self::from_xwing(pair));
                }
            }
        };
        let inner = backend::Private::from_pkcs8(backend, pkcs8)
            .map_err(|what| KeyFileError::Parse { origin: origin.to_owned(), what })?;
        Self::from_backend(inner, origin)
    }

    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`), in a buffer wiped on drop. For an
    /// X-Wing key the PKCS#8 holds the 32-byte seed (54 bytes of DER).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyFileError> {
        let der = match &self.inner {
            Secret::Rsa(k) => k.to_pkcs8().map_err(KeyFileError::Generate)?,
            Secret::XWing(k) => encoding::xwing_pkcs8(k.seed()),
        };
        encoding::der_to_pem("PRIVATE KEY", &der).map_err(KeyFileError::Generate)
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key id of the public half.
    pub fn key_id(&self) -> KeyId {
        self.public.id
    }

    /// Hex key id, for display.
    pub fn fingerprint(&self) -> String {
        self.public.fingerprint()
    }

    /// RSA or X-Wing, and an RSA key's size.
    pub fn kind(&self) -> KeyKind {
        self.public.kind()
    }

    /// RSA modulus size in bits; `None` for an X-Wing key.
    pub fn bits(&self) -> Option<usize> {
        self.public.bits()
    }

    /// RSA modulus size in bytes; `None` for an X-Wing key.
    pub fn size(&self) -> Option<usize> {
        self.public.size()
    }

    /// The backend holding this key (X-Wing keys: always AWS-LC).
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Secret::Rsa(k) => k.backend(),
            Secret::XWing(k) => k.backend(),
        }
    }

    /// For the RSA envelopes: the key and its modulus size in bytes.
    pub(crate) fn rsa(&self) -> Option<(&backend::Private, usize)> {
        match (&self.inner, self.public.size()) {
            (Secret::Rsa(k), Some(size)) => Some((k, size)),
            _ => None,
        }
    }

    /// For the v3 envelope.
    pub(crate) fn xwing(&self) -> Option<&xwing::Secret> {
        match &self.inner {
            Secret::XWing(k) => Some(k),
            Secret::Rsa(_) => None,
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind())
            .field("id", &self.public.id)
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

fn kind_of(label: &str) -> &'static str {
    match label {
        "RSA PRIVATE KEY" => "PKCS#1 private key",
        "PRIVATE KEY" => "PKCS#8 private key",
        "RSA PUBLIC KEY" => "PKCS#1 public key",
        _ => "SPKI public key",
    }
}

fn der_err(origin: &str, label: &str, e: DerError) -> KeyFileError {
    match e {
        DerError::Parse(detail) => parse_err(origin, kind_of(label), detail),
        DerError::Algorithm => KeyFileError::Parse {
            origin: origin.to_owned(),
            what: format!("{} is neither an RSA nor an X-Wing key", kind_of(label)),
        },
        DerError::XWing(what) => KeyFileError::Parse { origin: origin.to_owned(), what: what.to_owned() },
        DerError::Size(bits) => KeyFileError::KeySize { origin: origin.to_owned(), bits, min: MIN_BITS, max: MAX_BITS },
    }
}

/// X-Wing keys run on AWS-LC only: refuse one asked for on another backend.
/// (Without AWS-LC in the build, `xwing` refuses every key itself, saying so.)
fn check_xwing_backend(backend: Backend, origin: &str) -> Result<(), KeyFileError> {
    #[cfg(feature = "aws-lc")]
    if backend != Backend::AwsLc {
        return Err(unsupported(origin, format!("X-Wing keys run on the aws-lc backend only, not on {backend}")));
    }
    let _ = (backend, origin);
    Ok(())
}

fn unsupported(origin: &str, what: String) -> KeyFileError {
    KeyFileError::Unsupported { origin: origin.to_owned(), what }
}

/// An X-Wing key `xwing` refused: in the fallback build because it has no
/// X-Wing at all, with AWS-LC only if AWS-LC refused the key's parts.
fn xwing_refused(origin: &str, what: String) -> KeyFileError {
    if cfg!(feature = "aws-lc") {
        KeyFileError::Parse { origin: origin.to_owned(), what }
    } else {
        unsupported(origin, what)
    }
}

/// The first PEM block whose label is in `labels`, as `(label, block text)`.
/// Text around it (openssl "Bag Attributes", a certificate before it) is
/// skipped. Otherwise `Err` with the first label seen, if any.
fn pem_block<'a>(pem: &'a str, labels: &[&'static str]) -> Result<(&'static str, &'a str), Option<&'a str>> {
    const BEGIN: &str = "-----BEGIN ";
    let mut first = None;
    let mut from = 0;
    while let Some(at) = pem[from..].find(BEGIN).map(|i| from + i) {
        let label_at = at + BEGIN.len();
        let Some(label_len) = pem[label_at..].find("-----") else {
            break;
        };
        let label = &pem[label_at..label_at + label_len];
        first.get_or_insert(label);
        if let Some(&known) = labels.iter().find(|l| **l == label) {
            let end_line = format!("-----END {known}-----");
            return match pem[at..].find(&end_line) {
                Some(e) => Ok((known, &pem[at..at + e + end_line.len()])),
                // Unterminated: let the decoder report it.
                None => Ok((known, &pem[at..])),
            };
        }
        from = label_at + label_len;
    }
    Err(first)
}

fn label_err(origin: &str, found: Option<&str>, wanted: &str) -> KeyFileError {
    let what = match found {
        // Labels are short ASCII in real PEM; cap the echo in case of junk.
        Some(l) if l.len() <= 40 && l.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => {
            format!("PEM label {l:?} is not supported (expected {wanted})")
        }
        Some(_) => format!("unrecognised PEM label (expected {wanted})"),
        None => format!("not PEM: no -----BEGIN line (expected {wanted})"),
    };
    KeyFileError::Parse { origin: origin.to_owned(), what }
}

/// Decoder errors (`der`/`pkcs1`/`pkcs8`) describe tags and offsets, never content.
fn parse_err(origin: &str, kind: &str, e: impl fmt::Display) -> KeyFileError {
    KeyFileError::Parse { origin: origin.to_owned(), what: format!("{kind} does not parse: {e}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let l = ["PRIVATE KEY"];
        assert_eq!(
            pem_block("x\n-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\ny", &l),
            Ok(("PRIVATE KEY", "-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----"))
        );
        let two = "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n\
                   -----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_block(two, &l).unwrap().1.lines().nth(1), Some("B"));
        assert_eq!(pem_block("-----BEGIN X-----\n", &l), Err(Some("X")));
        assert_eq!(pem_block("junk", &l), Err(None));
        assert_eq!(pem_block("-----BEGIN ", &l), Err(None));
        let e = PrivateKey::from_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"CERTIFICATE\" is not supported"), "{e}");
    }

    #[test]
    fn key_id_hex() {
        let id = KeyId([0xab; 32]);
        assert_eq!(id.to_hex().len(), 64);
        assert_eq!(id.short(), "abababababababab");
        assert_eq!(format!("{id:?}"), "KeyId(abababababababab)");
    }
}
