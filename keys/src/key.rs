//! RSA key wrappers, key ids and PEM (de)serialisation.

use std::fmt;

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::KeyFileError;

/// Default modulus size for new keys (NIST SP 800-57: ~128-bit strength).
pub const DEFAULT_BITS: usize = 3072;
/// Smallest modulus `generate` accepts (the `rsa` crate's floor; for tests only).
pub const MIN_BITS: usize = 1024;
/// Largest modulus the `rsa` crate accepts.
pub const MAX_BITS: usize = 8192;

/// SHA-256 of the public key's SubjectPublicKeyInfo DER.
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

fn key_id_of(key: &rsa::PublicKey) -> KeyId {
    // Encoding a key we already hold cannot fail short of OOM; fall back to a
    // digest of n || e so the function stays total.
    let digest = match key.to_public_key_der() {
        Ok(der) => Sha256::digest(der.as_bytes()),
        Err(_) => Sha256::new().chain_update(key.n_bytes()).chain_update(key.e_bytes()).finalize(),
    };
    KeyId(digest.into())
}

/// An RSA public key (recipient of new envelopes).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: rsa::PublicKey,
    id: KeyId,
}

impl PublicKey {
    pub(crate) fn from_rsa(inner: rsa::PublicKey) -> Self {
        let id = key_id_of(&inner);
        Self { inner, id }
    }

    /// Parse SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyFileError> {
        Self::from_pem_named(pem, "PEM input")
    }

    pub(crate) fn from_pem_named(pem: &str, origin: &str) -> Result<Self, KeyFileError> {
        const LABELS: [&str; 2] = ["PUBLIC KEY", "RSA PUBLIC KEY"];
        let inner = match pem_block(pem, &LABELS) {
            Ok(("PUBLIC KEY", block)) => {
                rsa::PublicKey::from_public_key_pem(block).map_err(|e| parse_err(origin, "SPKI public key", e))?
            }
            Ok((_, block)) => {
                rsa::PublicKey::from_pkcs1_pem(block).map_err(|e| parse_err(origin, "PKCS#1 public key", e))?
            }
            Err(first) => return Err(label_err(origin, first, "PUBLIC KEY or RSA PUBLIC KEY")),
        };
        Ok(Self::from_rsa(inner))
    }

    /// SPKI PEM (`BEGIN PUBLIC KEY`), LF line endings.
    pub fn to_pem(&self) -> String {
        // Cannot fail for a valid in-memory RSA key.
        self.inner.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// The key id: SHA-256 of the SubjectPublicKeyInfo DER.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// Same as `key_id().to_hex()`, for display.
    pub fn fingerprint(&self) -> String {
        self.id.to_hex()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.inner.n().bit_width_vartime() as usize
    }

    /// Modulus size in bytes: the length of an RSA ciphertext under this key.
    pub fn size(&self) -> usize {
        self.inner.size()
    }

    pub(crate) fn rsa(&self) -> &rsa::PublicKey {
        &self.inner
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("bits", &self.bits()).field("id", &self.id).finish()
    }
}

/// An RSA private key. Not `Clone`; `Debug` shows only size and key id; the
/// secret components are zeroized on drop by `rsa::PrivateKey` itself, and
/// the box keeps them at one heap address for the key's lifetime.
pub struct PrivateKey {
    inner: Box<rsa::PrivateKey>,
    public: PublicKey,
}

impl PrivateKey {
    fn from_rsa(inner: rsa::PrivateKey) -> Self {
        let public = PublicKey::from_rsa(inner.to_public_key());
        Self { inner: Box::new(inner), public }
    }

    /// Generate a fresh key with public exponent 65537 from the OS RNG.
    /// `bits` must be in `MIN_BITS..=MAX_BITS`; use `DEFAULT_BITS` (3072) for real keys.
    pub fn generate(bits: usize) -> Result<Self, KeyFileError> {
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(KeyFileError::Generate(format!("{bits} bits is outside {MIN_BITS}..={MAX_BITS}")));
        }
        let inner =
            rsa::PrivateKey::new(&mut getrandom::SysRng, bits).map_err(|e| KeyFileError::Generate(e.to_string()))?;
        Ok(Self::from_rsa(inner))
    }

    /// Parse PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`) PEM.
    /// Encrypted PKCS#8 is refused. The caller owns (and should wipe) `pem`.
    pub fn from_pem(pem: &str) -> Result<Self, KeyFileError> {
        Self::from_pem_named(pem, "PEM input")
    }

    pub(crate) fn from_pem_named(pem: &str, origin: &str) -> Result<Self, KeyFileError> {
        // The DER decoders hold the decoded bytes in zeroizing `SecretDocument`s.
        const LABELS: [&str; 3] = ["RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"];
        let inner = match pem_block(pem, &LABELS) {
            Ok(("RSA PRIVATE KEY", block)) => {
                rsa::PrivateKey::from_pkcs1_pem(block).map_err(|e| parse_err(origin, "PKCS#1 private key", e))?
            }
            Ok(("PRIVATE KEY", block)) => {
                rsa::PrivateKey::from_pkcs8_pem(block).map_err(|e| parse_err(origin, "PKCS#8 private key", e))?
            }
            Ok(_) => {
                return Err(KeyFileError::Parse {
                    origin: origin.to_owned(),
                    what: "encrypted PKCS#8 keys are not supported; store the key \
                           unencrypted with mode 0600 or as a systemd credential"
                        .to_owned(),
                });
            }
            Err(first) => return Err(label_err(origin, first, "RSA PRIVATE KEY or PRIVATE KEY")),
        };
        Ok(Self::from_rsa(inner))
    }

    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`), in a buffer wiped on drop.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyFileError> {
        self.inner
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyFileError::Generate(format!("PKCS#8 encoding failed: {e}")))
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

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.public.bits()
    }

    /// Modulus size in bytes.
    pub fn size(&self) -> usize {
        self.public.size()
    }

    pub(crate) fn rsa(&self) -> &rsa::PrivateKey {
        &self.inner
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey").field("bits", &self.bits()).field("id", &self.public.id).finish_non_exhaustive()
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
