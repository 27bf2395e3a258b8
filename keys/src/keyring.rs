//! A set of private keys, RSA and X-Wing together, that opens every envelope.
//!
//! How a blob finds its key:
//! - no "CXPE" magic: legacy; the RSA keys are tried in load order;
//! - magic, version 2: v2; the RSA key whose id the header names;
//! - magic, version 3: v3; the X-Wing key whose id the header names;
//! - magic, another version: `format` (unless legacy after all, below).
//!
//! A legacy blob starts with an RSA ciphertext, which begins with the magic
//! with probability about 2^-32. So a blob with the magic whose header does
//! not parse, or names no loaded key of the right kind, may be legacy: the
//! RSA keys are tried on it before the v2/v3 error is reported.

use std::fmt;

use crate::encoding::MIN_BITS;
use crate::error::{DecryptError, ErrorClass};
use crate::key::{KeyId, PrivateKey};
use crate::{legacy, v2, v3};

/// Which envelope format a blob was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Envelope {
    /// RSA-OAEP-SHA1 + AES-EAX, as written by the CYBEX-P API.
    Legacy,
    /// RSA-OAEP-SHA256 + AES-GCM with an authenticated header.
    V2,
    /// HPKE with X-Wing (post-quantum), HKDF-SHA256, AES-256-GCM.
    V3,
}

impl Envelope {
    /// "legacy", "v2" or "v3".
    pub fn as_str(self) -> &'static str {
        match self {
            Envelope::Legacy => "legacy",
            Envelope::V2 => "v2",
            Envelope::V3 => "v3",
        }
    }
}

/// A decrypted blob and how it was opened.
pub struct Opened {
    /// The UTF-8 plaintext.
    pub plaintext: String,
    /// The envelope format detected.
    pub envelope: Envelope,
    /// The key that opened it.
    pub key_id: KeyId,
}

impl fmt::Debug for Opened {
    // The plaintext is the caller's data; keep it out of casual logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("plaintext_len", &self.plaintext.len())
            .field("envelope", &self.envelope)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Private keys in load order, RSA and X-Wing mixed. v2 and v3 blobs pick
/// their key by id; legacy blobs (which name no key) try the RSA keys in load
/// order, so put the current RSA key first.
#[derive(Default)]
pub struct Keyring {
    keys: Vec<PrivateKey>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a key after those already loaded.
    pub fn push(&mut self, key: PrivateKey) {
        self.keys.push(key);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if no key is loaded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in load order.
    pub fn keys(&self) -> &[PrivateKey] {
        &self.keys
    }

    /// Decrypt a legacy, v2 or v3 blob to its UTF-8 plaintext.
    pub fn decrypt(&self, blob: &[u8]) -> Result<String, DecryptError> {
        self.open(blob).map(|o| o.plaintext)
    }

    /// Decrypt and also report the format and the key used.
    pub fn open(&self, blob: &[u8]) -> Result<Opened, DecryptError> {
        open_with(&self.keys, blob, &v2::MAGIC)
    }
}

impl From<Vec<PrivateKey>> for Keyring {
    fn from(keys: Vec<PrivateKey>) -> Self {
        Self { keys }
    }
}

impl FromIterator<PrivateKey> for Keyring {
    fn from_iter<I: IntoIterator<Item = PrivateKey>>(iter: I) -> Self {
        Self { keys: iter.into_iter().collect() }
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.keys).finish()
    }
}

impl PrivateKey {
    /// Decrypt a blob with this one key (any envelope its kind opens).
    pub fn decrypt(&self, blob: &[u8]) -> Result<String, DecryptError> {
        open_with(std::slice::from_ref(self), blob, &v2::MAGIC).map(|o| o.plaintext)
    }
}

/// Dispatch on the magic (a parameter so tests can fake a collision) and
/// the version byte after it.
pub(crate) fn open_with(keys: &[PrivateKey], blob: &[u8], magic: &[u8; 4]) -> Result<Opened, DecryptError> {
    if keys.is_empty() {
        return Err(DecryptError::key("no private key loaded"));
    }
    if !blob.starts_with(magic) {
        return open_legacy(keys, blob);
    }
    let attempt = match blob.get(4) {
        Some(&v2::VERSION) => open_v2(keys, blob),
        Some(&v3::VERSION) => open_v3(keys, blob),
        Some(version) => Err(Unclaimed(DecryptError::format(format!("unsupported envelope version {version}")))),
        None => Err(Unclaimed(DecryptError::format("envelope header truncated (no version byte)"))),
    };
    let header_err = match attempt {
        Ok(opened) => return Ok(opened),
        Err(Named(e)) => return Err(e),
        Err(Unclaimed(e)) => e,
    };
    // Magic matched but no key claims the blob: it may be a legacy blob whose
    // RSA ciphertext starts with the magic by chance.
    match open_legacy(keys, blob) {
        Ok(opened) => Ok(opened),
        // A legacy key unwrapped it, so it is legacy: its error is the real one.
        Err(e) if matches!(e.class(), ErrorClass::Auth | ErrorClass::Utf8) => Err(e),
        Err(_) => Err(header_err),
    }
}

/// Why a blob with the magic did not open.
enum Failure {
    /// The header names one of our keys: the blob is v2/v3 and this is final.
    Named(DecryptError),
    /// Bad header or unknown key id: possibly a legacy blob after all.
    Unclaimed(DecryptError),
}
use Failure::{Named, Unclaimed};

fn open_v2(keys: &[PrivateKey], blob: &[u8]) -> Result<Opened, Failure> {
    let header = v2::parse_header(blob).map_err(Unclaimed)?;
    let (key, size) = keys
        .iter()
        .filter(|k| k.key_id() == header.key_id)
        .find_map(|k| k.rsa().map(|(_, size)| (k, size)))
        .ok_or_else(|| Unclaimed(DecryptError::key(format!("no loaded RSA key has id {}", header.key_id.short()))))?;
    let plaintext = v2::open(key, size, &header, blob).map_err(Named)?;
    Ok(Opened { plaintext, envelope: Envelope::V2, key_id: key.key_id() })
}

fn open_v3(keys: &[PrivateKey], blob: &[u8]) -> Result<Opened, Failure> {
    let header = v3::parse_header(blob).map_err(Unclaimed)?;
    let (key, secret) = keys
        .iter()
        .filter(|k| k.key_id() == header.key_id)
        .find_map(|k| k.xwing().map(|secret| (k, secret)))
        .ok_or_else(|| {
            Unclaimed(DecryptError::key(format!("no loaded X-Wing key has id {}", header.key_id.short())))
        })?;
    let plaintext = v3::open(secret, blob).map_err(Named)?;
    Ok(Opened { plaintext, envelope: Envelope::V3, key_id: key.key_id() })
}

fn open_legacy(keys: &[PrivateKey], blob: &[u8]) -> Result<Opened, DecryptError> {
    let rsa_keys = || keys.iter().filter_map(|k| k.rsa().map(|(_, size)| (k, size)));
    let (mut tried, mut too_short) = (0usize, 0usize);
    for (key, size) in rsa_keys() {
        let Some(parts) = legacy::split(blob, size) else {
            too_short += 1;
            continue;
        };
        tried += 1;
        // OAEP's 20-byte label hash makes a false unwrap with the wrong key
        // negligible, so the first key that unwraps owns the blob.
        if let Some(session_key) = legacy::unwrap(key, &parts) {
            let plaintext = legacy::open(&session_key[..], &parts)?;
            return Ok(Opened { plaintext, envelope: Envelope::Legacy, key_id: key.key_id() });
        }
    }
    if tried == 0 && too_short == 0 {
        // No RSA key: sized as if the smallest one were there, so that what
        // is `format` with RSA keys is `format` without them.
        let need = legacy::min_len(MIN_BITS / 8);
        if blob.len() < need {
            return Err(DecryptError::format(format!(
                "blob of {} bytes is neither a v2/v3 envelope nor as long as a legacy one ({need})",
                blob.len()
            )));
        }
        return Err(DecryptError::key("not a v2 or v3 envelope, and no RSA key is loaded to open a legacy one"));
    }
    if tried == 0 {
        let need = rsa_keys().map(|(_, size)| legacy::min_len(size)).min().unwrap_or(0);
        return Err(DecryptError::format(format!(
            "blob of {} bytes is shorter than wrapped key + nonce + tag ({need})",
            blob.len()
        )));
    }
    // Some keys tried, none unwrapped: `key`, even if the blob was too short
    // for other (larger) keys, which the detail says.
    let also = if too_short > 0 { format!("; too short for {too_short} other key(s)") } else { String::new() };
    Err(DecryptError::key(format!("none of {tried} key(s) unwraps the session key{also}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn key() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::generate(2048).unwrap())
    }

    /// A legacy blob whose first byte after the magic is `version`. A legacy
    /// blob that starts with the real magic cannot be made on demand
    /// (2^-32), so the tests pretend the magic is whatever the blob starts
    /// with; the version byte is real: blobs are made until one has it
    /// (1 in 256).
    fn legacy_blob_with_version(version: u8) -> Vec<u8> {
        loop {
            let blob = legacy::encrypt(key().public_key(), b"collide").unwrap();
            if blob[4] == version {
                return blob;
            }
        }
    }

    #[test]
    fn legacy_blob_colliding_with_magic_falls_back() {
        let keys = std::slice::from_ref(key());
        // Version 2 or 3: the header parses (or not), names no key; version
        // 7: unknown. Each falls back to legacy and opens.
        for version in [v2::VERSION, v3::VERSION, 7] {
            let blob = legacy_blob_with_version(version);
            let magic: [u8; 4] = blob[..4].try_into().unwrap();
            let opened = open_with(keys, &blob, &magic).unwrap();
            assert_eq!(opened.plaintext, "collide");
            assert_eq!(opened.envelope, Envelope::Legacy);
        }
    }

    #[test]
    fn colliding_legacy_blob_keeps_legacy_auth_error() {
        for version in [v2::VERSION, v3::VERSION] {
            let mut blob = legacy_blob_with_version(version);
            let last = blob.len() - 1;
            blob[last] ^= 1;
            let magic: [u8; 4] = blob[..4].try_into().unwrap();
            let err = open_with(std::slice::from_ref(key()), &blob, &magic).err().unwrap();
            assert_eq!(err.class(), ErrorClass::Auth, "{err}");
        }
    }

    #[test]
    fn unclaimed_v2_reports_v2_error_when_legacy_also_fails() {
        let mut blob = v2::encrypt(key().public_key(), b"x").unwrap();
        blob[10] ^= 1; // key id no longer ours
        let err = key().decrypt(&blob).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Key);
        assert!(err.detail().contains("no loaded RSA key has id"), "{err}");
    }
}
