//! Session-key plumbing shared by the two RSA envelopes: randomness, RSA-OAEP
//! wrap/unwrap (blinded, on the key's backend), and turning wiped buffers
//! into plaintext.

use zeroize::Zeroizing;

use crate::backend::Oaep;
use crate::error::{DecryptError, EncryptError};
use crate::key::{PrivateKey, PublicKey};

/// AES-256 key length, for both envelopes.
pub(crate) const SESSION_KEY_LEN: usize = 32;

/// A fresh AES-256 key, wiped on drop.
pub(crate) fn new_session_key() -> Result<Zeroizing<[u8; SESSION_KEY_LEN]>, EncryptError> {
    let mut key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    getrandom::fill(key.as_mut()).map_err(|_| EncryptError::Rng)?;
    Ok(key)
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], EncryptError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| EncryptError::Rng)?;
    Ok(out)
}

/// RSA-OAEP with the same digest for OAEP and MGF1, empty label, for the
/// `envelope` named ("legacy" or "v2"): an X-Wing key is refused.
pub(crate) fn wrap(
    recipient: &PublicKey,
    envelope: &'static str,
    oaep: Oaep,
    session_key: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let rsa = recipient.rsa().ok_or(EncryptError::KeyKind { envelope, needs: "an RSA", kind: recipient.kind() })?;
    rsa.oaep_wrap(oaep, session_key).ok_or(EncryptError::Wrap { bits: rsa.bits() })
}

/// Blinded RSA-OAEP unwrap. `None` on any failure, including a result that is
/// not exactly 32 bytes, or an X-Wing key: the caller reports it as a key
/// error and must not learn more (no padding oracle beyond "did not unwrap").
pub(crate) fn unwrap(key: &PrivateKey, oaep: Oaep, wrapped: &[u8]) -> Option<Zeroizing<[u8; SESSION_KEY_LEN]>> {
    let (rsa, _) = key.rsa()?;
    let out = rsa.oaep_unwrap(oaep, wrapped)?;
    if out.len() != SESSION_KEY_LEN {
        return None;
    }
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    session_key.copy_from_slice(&out);
    Some(session_key)
}

/// Hand an authenticated plaintext buffer to the caller as a `String`; a
/// non-UTF-8 buffer is wiped before the error is returned.
pub(crate) fn into_string(mut buf: Zeroizing<Vec<u8>>) -> Result<String, DecryptError> {
    let bytes = std::mem::take(&mut *buf);
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        drop(Zeroizing::new(e.into_bytes()));
        DecryptError::utf8(format!("plaintext is not UTF-8 (invalid byte at offset {at})"))
    })
}
