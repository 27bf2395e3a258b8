//! Envelope v2, for new producers: RSA-OAEP-SHA-256 key wrap + AES-256-GCM
//! under a self-describing, authenticated header.
//!
//! Byte layout (integers big-endian):
//!
//! ```text
//! offset      size  field
//! 0           4     magic "CXPE" (43 58 50 45)
//! 4           1     version = 0x02
//! 5           32    key id = SHA-256 of the recipient's SubjectPublicKeyInfo DER
//! 37          2     w = wrapped-key length (u16) = recipient modulus bytes
//! 39          12    GCM nonce
//! 51          w     wrapped key = RSA-OAEP(SHA-256, MGF1-SHA-256, empty label) of a
//!                   fresh 32-byte AES-256 key
//! 51+w        n     AES-256-GCM ciphertext of the plaintext (n = plaintext length)
//! 51+w+n      16    GCM tag
//! ```
//!
//! The GCM associated data is bytes `0 .. 51+w`: the whole header *and* the
//! wrapped key, so swapping, truncating or editing any of them fails closed.
//! A decrypter picks the private key by key id and requires `w` to equal that
//! key's modulus size.
//!
//! The RSA unwrap and AES-GCM run on the key's backend (AWS-LC's GCM is
//! about 4x RustCrypto's here, 7.2 vs 2.0 GiB/s: `cargo bench -p cybexp-keys`);
//! the bytes are the same on both (`tests/fixtures/v2_cases.json`, `tests/differential.rs`).
//!
//! A legacy blob starts with an RSA ciphertext, which begins with "CXPE" with
//! probability about 2^-32. [`crate::Keyring`] therefore treats a blob with the
//! magic but a bad version, a short header or an unknown key id as possibly
//! legacy and tries the legacy keys before reporting the v2 error. The v3
//! envelope ([`crate::v3`]) shares the magic, with version 3.

use zeroize::Zeroizing;

use crate::backend::{Oaep, gcm};
use crate::error::{DecryptError, EncryptError};
use crate::key::{KeyId, PrivateKey, PublicKey};
use crate::session;

/// First four bytes of every v2 blob.
pub const MAGIC: [u8; 4] = *b"CXPE";
/// The version byte after the magic.
pub const VERSION: u8 = 2;
/// Magic and version: the prefix that marks a v2 blob.
const PREFIX: [u8; 5] = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], VERSION];

const KEY_ID_AT: usize = 5;
const WLEN_AT: usize = KEY_ID_AT + 32;
const NONCE_AT: usize = WLEN_AT + 2;
const NONCE_LEN: usize = gcm::NONCE_LEN;
/// Fixed header length before the wrapped key.
pub const HEADER_LEN: usize = NONCE_AT + NONCE_LEN;
const TAG_LEN: usize = gcm::TAG_LEN;

/// The fixed-size part of a v2 header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub key_id: KeyId,
    pub wrapped_len: usize,
    nonce: [u8; NONCE_LEN],
}

/// Parse the fixed header of a blob that starts with the magic and version 2
/// (the keyring has checked both).
pub(crate) fn parse_header(blob: &[u8]) -> Result<Header, DecryptError> {
    if blob.len() < HEADER_LEN {
        return Err(DecryptError::format(format!("v2 header truncated ({} of {HEADER_LEN} bytes)", blob.len())));
    }
    let mut key_id = [0u8; 32];
    key_id.copy_from_slice(&blob[KEY_ID_AT..WLEN_AT]);
    let wrapped_len = usize::from(u16::from_be_bytes([blob[WLEN_AT], blob[WLEN_AT + 1]]));
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&blob[NONCE_AT..HEADER_LEN]);
    Ok(Header { key_id: KeyId(key_id), wrapped_len, nonce })
}

/// Open a v2 blob whose header names `key`, an RSA key of `size` bytes.
pub(crate) fn open(key: &PrivateKey, size: usize, header: &Header, blob: &[u8]) -> Result<String, DecryptError> {
    let w = header.wrapped_len;
    if w != size {
        return Err(DecryptError::format(format!(
            "wrapped-key length {w} does not match the {size}-byte key {}",
            key.key_id().short()
        )));
    }
    let aad_end = HEADER_LEN + w;
    if blob.len() < aad_end + TAG_LEN {
        return Err(DecryptError::format(format!(
            "v2 blob truncated ({} bytes, need at least {})",
            blob.len(),
            aad_end + TAG_LEN
        )));
    }
    let (aad, body) = blob.split_at(aad_end);
    let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);

    let session_key = session::unwrap(key, Oaep::Sha256, &aad[HEADER_LEN..])
        .ok_or_else(|| DecryptError::key(format!("key {} does not unwrap the session key", key.key_id().short())))?;
    let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| DecryptError::format("bad tag length"))?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    gcm::open(key.backend(), &session_key, &header.nonce, aad, &mut buf, tag)
        .ok_or_else(|| DecryptError::auth("GCM tag does not verify"))?;
    session::into_string(buf)
}

/// Seal `plaintext` for `recipient` as a v2 envelope.
pub fn encrypt(recipient: &PublicKey, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
    let session_key = session::new_session_key()?;
    let nonce: [u8; NONCE_LEN] = session::random()?;
    let wrapped = session::wrap(recipient, "v2", Oaep::Sha256, session_key.as_ref())?;
    let w = u16::try_from(wrapped.len()).map_err(|_| EncryptError::Wrap { bits: wrapped.len() * 8 })?;

    let mut blob = Vec::with_capacity(HEADER_LEN + wrapped.len() + plaintext.len() + TAG_LEN);
    blob.extend_from_slice(&PREFIX);
    blob.extend_from_slice(&recipient.key_id().0);
    blob.extend_from_slice(&w.to_be_bytes());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&wrapped);
    let aad_end = blob.len();
    blob.extend_from_slice(plaintext);
    let (aad, body) = blob.split_at_mut(aad_end);
    let tag = gcm::seal(recipient.backend(), &session_key, &nonce, aad, body).ok_or(EncryptError::TooLong)?;
    blob.extend_from_slice(&tag);
    Ok(blob)
}
