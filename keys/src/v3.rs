//! Envelope v3: post-quantum. HPKE (RFC 9180) base mode, single shot, with the
//! X-Wing hybrid KEM (ML-KEM-768 + X25519), HKDF-SHA256 and AES-256-GCM,
//! sealed to an X-Wing key; the header is bound in through HPKE's `info`.
//!
//! Byte layout (integers big-endian):
//!
//! ```text
//! offset  size   field
//! 0       4      magic "CXPE" (43 58 50 45), as v2
//! 4       1      version = 0x03
//! 5       2      HPKE KEM id  = 0x647a (X-Wing, MLKEM768-X25519)
//! 7       2      HPKE KDF id  = 0x0001 (HKDF-SHA256)
//! 9       2      HPKE AEAD id = 0x0002 (AES-256-GCM)
//! 11      32     key id = SHA-256 of the recipient's SubjectPublicKeyInfo DER
//!                (id-XWing, 1.3.6.1.4.1.62253.25722, as the X-Wing draft encodes it)
//! 43      1120   enc: the X-Wing ciphertext (ML-KEM-768's 1,088 bytes, then X25519's 32)
//! 1163    n      AES-256-GCM ciphertext of the plaintext (n = plaintext length)
//! 1163+n  16     GCM tag
//! ```
//!
//! That is `header || enc || ct`, where `(enc, ct) = SealBase(pkR, info =
//! header, aad = "", plaintext)`: what any HPKE library's single-shot seal
//! returns (Python's `cryptography` ≥ 48: `Suite(KEM.MLKEM768_X25519,
//! KDF.HKDF_SHA256, AEAD.AES_256_GCM).encrypt(plaintext, public_key,
//! info=header)` returns `enc || ct`; producers/python/ has the whole
//! producer). `info` rather than AAD because that is what such APIs take, and
//! it binds the header as well: the key schedule hashes it, so a changed
//! version, suite or key id gives another AEAD key and the tag fails.
//!
//! Opening, and how it fails ([`crate::ErrorClass`]):
//! - `format`: shorter than the header, an unknown suite, or shorter than
//!   header + `enc` + tag; (in the keyring) an unknown version;
//! - `key`: no loaded X-Wing key has the header's key id;
//! - `auth`: everything after that. X-Wing decapsulation never fails on a
//!   tampered `enc` (ML-KEM's implicit rejection yields a wrong secret), so
//!   a refused X25519 point, a wrong `enc`, a changed header, ciphertext or
//!   tag all end in the one error, with the one text: nothing tells one
//!   cause from another;
//! - `utf8`: it authenticated but is not UTF-8.
//!
//! The suite ids in the header are what lets a later version follow the final
//! RFCs: X-Wing and the HPKE post-quantum code points are still drafts
//! (draft-connolly-cfrg-xwing-kem, draft-ietf-hpke-pq). A change of KEM,
//! KDF or AEAD gets new ids in the same place; a decrypter that does not know
//! a suite says `format` ("unsupported suite") rather than guessing. Only
//! the suite above is written and read today.
//!
//! Needs the `aws-lc` backend: in the pure-Rust fallback build no X-Wing key
//! loads, so a v3 blob finds no key (`key`), and [`encrypt`] has no key to
//! seal to.

use crate::error::{DecryptError, EncryptError};
use crate::key::{KeyId, PublicKey};
use crate::{session, v2, xwing};

/// HPKE KEM id of X-Wing (MLKEM768-X25519: draft-connolly-cfrg-xwing-kem, draft-ietf-hpke-pq).
pub const KEM_XWING: u16 = 0x647a;
/// HPKE KDF id of HKDF-SHA256 (RFC 9180).
pub const KDF_HKDF_SHA256: u16 = 0x0001;
/// HPKE AEAD id of AES-256-GCM (RFC 9180).
pub const AEAD_AES_256_GCM: u16 = 0x0002;

/// First four bytes of every v3 blob (shared with v2).
pub const MAGIC: [u8; 4] = v2::MAGIC;
/// The version byte after the magic.
pub const VERSION: u8 = 3;
/// The suite in the header: HPKE KEM, KDF and AEAD ids.
pub const SUITE: [u16; 3] = [KEM_XWING, KDF_HKDF_SHA256, AEAD_AES_256_GCM];
/// Header length: magic, version, suite, key id. All of it is HPKE's `info`.
pub const HEADER_LEN: usize = KEY_ID_AT + 32;
/// Length of `enc`, the X-Wing ciphertext.
pub const ENC_LEN: usize = xwing::ENC_LEN;
/// AES-256-GCM's tag length.
pub const TAG_LEN: usize = 16;
/// The smallest v3 blob (an empty plaintext).
pub const MIN_LEN: usize = HEADER_LEN + ENC_LEN + TAG_LEN;

const SUITE_AT: usize = 5;
const KEY_ID_AT: usize = SUITE_AT + 6;

/// The one error of every failure after parsing (see the module docs).
const DOES_NOT_OPEN: &str = "v3 envelope does not open (enc, header, ciphertext or tag)";

/// A parsed v3 header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub key_id: KeyId,
}

/// Parse the header of a blob that starts with the magic and version 3 (the
/// keyring has checked both).
pub(crate) fn parse_header(blob: &[u8]) -> Result<Header, DecryptError> {
    let header = blob
        .get(..HEADER_LEN)
        .ok_or_else(|| DecryptError::format(format!("v3 header truncated ({} of {HEADER_LEN} bytes)", blob.len())))?;
    let id = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let suite = [id(SUITE_AT), id(SUITE_AT + 2), id(SUITE_AT + 4)];
    if suite != SUITE {
        let [kem, kdf, aead] = suite;
        return Err(DecryptError::format(format!(
            "unsupported v3 suite: KEM {kem:#06x}, KDF {kdf:#06x}, AEAD {aead:#06x} \
             (supported: KEM 0x647a, KDF 0x0001, AEAD 0x0002)"
        )));
    }
    let mut key_id = [0u8; 32];
    key_id.copy_from_slice(&header[KEY_ID_AT..]);
    Ok(Header { key_id: KeyId(key_id) })
}

/// Open a v3 blob whose header names `key`, an X-Wing key.
pub(crate) fn open(key: &xwing::Secret, blob: &[u8]) -> Result<String, DecryptError> {
    if blob.len() < MIN_LEN {
        return Err(DecryptError::format(format!(
            "v3 blob truncated ({} bytes, need at least {MIN_LEN}: header, enc and tag)",
            blob.len()
        )));
    }
    let (info, rest) = blob.split_at(HEADER_LEN);
    let (enc, sealed) = rest.split_at(ENC_LEN);
    let enc: &[u8; ENC_LEN] = enc.try_into().map_err(|_| DecryptError::format("bad enc length"))?;
    let plaintext = key.open(enc, info, sealed).ok_or_else(|| DecryptError::auth(DOES_NOT_OPEN))?;
    session::into_string(plaintext)
}

/// Seal `plaintext` for `recipient`, an X-Wing public key, as a v3 envelope.
pub fn encrypt(recipient: &PublicKey, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
    let key = recipient.xwing().ok_or(EncryptError::KeyKind {
        envelope: "v3",
        needs: "an X-Wing",
        kind: recipient.kind(),
    })?;
    let header = header(recipient.key_id());
    let mut blob = Vec::with_capacity(MIN_LEN + plaintext.len());
    blob.extend_from_slice(&header);
    key.seal_into(&header, plaintext, &mut blob)?;
    Ok(blob)
}

/// The header for a key id.
pub fn header(key_id: KeyId) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4] = VERSION;
    for (i, id) in SUITE.iter().enumerate() {
        header[SUITE_AT + 2 * i..SUITE_AT + 2 * i + 2].copy_from_slice(&id.to_be_bytes());
    }
    header[KEY_ID_AT..].copy_from_slice(&key_id.0);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let h = header(KeyId([0xab; 32]));
        assert_eq!(HEADER_LEN, 43);
        assert_eq!(&h[..11], &[0x43, 0x58, 0x50, 0x45, 3, 0x64, 0x7a, 0, 1, 0, 2]);
        assert_eq!(&h[11..], &[0xab; 32]);
        assert_eq!(parse_header(&h).unwrap().key_id, KeyId([0xab; 32]));
        assert_eq!(MIN_LEN, 43 + 1120 + 16);
        for at in 5..11 {
            let mut bad = h;
            bad[at] ^= 0x10;
            assert!(parse_header(&bad).unwrap_err().detail().contains("unsupported v3 suite"), "byte {at}");
        }
        assert!(parse_header(&h[..42]).unwrap_err().detail().contains("truncated"));
    }
}
