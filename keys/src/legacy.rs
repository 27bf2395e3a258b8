//! The legacy envelope written by the CYBEX-P API (reference §2):
//!
//! ```text
//! blob = wrapped_key (k bytes) || nonce (16) || tag (16) || ciphertext
//! ```
//!
//! `k` is the recipient modulus size in bytes (256 for RSA-2048); the blob does
//! not say which key it is for, so the split point comes from the key tried.
//! `wrapped_key` is RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) of a 32-byte key
//! for AES-256-EAX with a 16-byte nonce and tag and no associated data.
//!
//! AWS-LC has no EAX, so EAX is the RustCrypto `eax` crate on every backend;
//! only the RSA unwrap goes to the key's backend.

use aes::Aes256;
use eax::aead::{AeadInOut, KeyInit};
use eax::{Eax, Nonce, Tag};
use zeroize::Zeroizing;

use crate::backend::Oaep;
use crate::error::{DecryptError, EncryptError};
use crate::key::{PrivateKey, PublicKey};
use crate::session;

pub(crate) const NONCE_LEN: usize = 16;
pub(crate) const TAG_LEN: usize = 16;

type Aes256Eax = Eax<Aes256>;

/// `eax::Eax` keeps a copy of the raw key and does not wipe it on drop.
/// This wrapper zeroes it.
struct WipedEax(Aes256Eax);

// The zeroing below is sound only while `Eax<Aes256>` is exactly its 32 key
// bytes (no pointers, no drop glue): fail the build if that ever changes.
const _: () = assert!(size_of::<Aes256Eax>() == 32);
const _: () = assert!(!std::mem::needs_drop::<Aes256Eax>());

impl WipedEax {
    fn new(key: &[u8]) -> Option<Self> {
        Aes256Eax::new_from_slice(key).ok().map(Self)
    }
}

impl Drop for WipedEax {
    fn drop(&mut self) {
        // SAFETY: `Aes256Eax` is plain bytes (asserted above: 32 bytes, no drop
        // glue), so all-zero is a valid value and nothing else owns this memory.
        #[allow(unsafe_code)]
        unsafe {
            zeroize::zeroize_flat_type(&mut self.0);
        }
    }
}

/// The four fields of a legacy blob, split for a `k`-byte modulus.
pub(crate) struct Parts<'a> {
    pub wrapped: &'a [u8],
    nonce: &'a [u8],
    tag: &'a [u8],
    ciphertext: &'a [u8],
}

/// Split `blob` for a key of `k` bytes; `None` if it is too short.
pub(crate) fn split(blob: &[u8], k: usize) -> Option<Parts<'_>> {
    let (wrapped, rest) = blob.split_at_checked(k)?;
    let (nonce, rest) = rest.split_at_checked(NONCE_LEN)?;
    let (tag, ciphertext) = rest.split_at_checked(TAG_LEN)?;
    Some(Parts { wrapped, nonce, tag, ciphertext })
}

/// Smallest blob a `k`-byte key can open.
pub(crate) fn min_len(k: usize) -> usize {
    k + NONCE_LEN + TAG_LEN
}

/// OAEP-SHA1 unwrap of the session key; `None` if this key does not unwrap it.
pub(crate) fn unwrap(key: &PrivateKey, parts: &Parts<'_>) -> Option<Zeroizing<[u8; session::SESSION_KEY_LEN]>> {
    session::unwrap(key, Oaep::Sha1, parts.wrapped)
}

/// EAX-decrypt with an unwrapped session key and check UTF-8.
pub(crate) fn open(session_key: &[u8], parts: &Parts<'_>) -> Result<String, DecryptError> {
    let eax = WipedEax::new(session_key).ok_or_else(|| DecryptError::key("bad session key"))?;
    let (Ok(nonce), Ok(tag)) = (Nonce::try_from(parts.nonce), Tag::<eax::aead::consts::U16>::try_from(parts.tag))
    else {
        return Err(DecryptError::format("bad nonce or tag length"));
    };
    let mut buf = Zeroizing::new(parts.ciphertext.to_vec());
    eax.0
        .decrypt_inout_detached(&nonce, &[], buf.as_mut_slice().into(), &tag)
        .map_err(|_| DecryptError::auth("EAX tag does not verify"))?;
    session::into_string(buf)
}

/// Seal `plaintext` for `recipient` in the legacy format, as the API does.
/// New producers should use [`crate::v2::encrypt`].
pub fn encrypt(recipient: &PublicKey, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
    let session_key = session::new_session_key()?;
    let nonce: [u8; NONCE_LEN] = session::random()?;
    let wrapped = session::wrap(recipient, "legacy", Oaep::Sha1, session_key.as_ref())?;
    let eax = WipedEax::new(session_key.as_ref()).ok_or(EncryptError::Rng)?;

    let mut blob = Vec::with_capacity(min_len(wrapped.len()) + plaintext.len());
    blob.extend_from_slice(&wrapped);
    blob.extend_from_slice(&nonce);
    let tag_at = blob.len();
    blob.extend_from_slice(&[0u8; TAG_LEN]);
    blob.extend_from_slice(plaintext);
    let tag = eax
        .0
        .encrypt_inout_detached(&Nonce::from(nonce), &[], blob[tag_at + TAG_LEN..].as_mut().into())
        .map_err(|_| EncryptError::TooLong)?;
    blob[tag_at..tag_at + TAG_LEN].copy_from_slice(&tag);
    Ok(blob)
}
