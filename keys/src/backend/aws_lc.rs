//! AWS-LC through `aws-lc-rs` (the default backend).
//!
//! Where the key lives: `PrivateDecryptingKey` owns an `EVP_PKEY` (an `RSA`
//! struct and its `BIGNUM`s: n, e, d, p, q, the CRT values and, once used, the
//! Montgomery contexts of p and q) in AWS-LC's C heap, reference-counted.
//! `Clone` adds a reference and copies nothing. When the last reference goes,
//! `RSA_free` frees every bignum through `OPENSSL_free`, which overwrites the
//! whole allocation with `OPENSSL_cleanse` before handing it back to the
//! allocator. Private operations are blinded and constant-time inside AWS-LC.
//! The DER that goes in (`from_pkcs8`) and comes out (`to_pkcs8`) is ours and
//! sits in `Zeroizing` buffers; `Pkcs8V1Der` wipes its own buffer on drop.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use zeroize::Zeroizing;

use super::{Oaep, Refusal};

fn algorithm(oaep: Oaep) -> &'static OaepAlgorithm {
    match oaep {
        Oaep::Sha1 => &OAEP_SHA1_MGF1SHA1,
        Oaep::Sha256 => &OAEP_SHA256_MGF1SHA256,
    }
}

pub(crate) struct Private {
    /// For `public()` and `to_pkcs8()`.
    key: PrivateDecryptingKey,
    /// The same `EVP_PKEY` (one more reference), for decryption.
    oaep: OaepPrivateDecryptingKey,
}

impl Private {
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self, Refusal> {
        let key = PrivateDecryptingKey::from_pkcs8(der).map_err(|e| format!("AWS-LC refused the key: {e}"))?;
        Self::new(key)
    }

    pub(crate) fn generate(bits: usize) -> Result<Self, Refusal> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            8192 => KeySize::Rsa8192,
            _ => return Err(format!("AWS-LC does not generate {bits}-bit keys")),
        };
        let key = PrivateDecryptingKey::generate(size).map_err(|_| "AWS-LC key generation failed".to_owned())?;
        Self::new(key)
    }

    fn new(key: PrivateDecryptingKey) -> Result<Self, Refusal> {
        let oaep = OaepPrivateDecryptingKey::new(key.clone()).map_err(|_| "AWS-LC refused the key for OAEP")?;
        Ok(Self { key, oaep })
    }

    pub(crate) fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, Refusal> {
        let der: Pkcs8V1Der<'static> = self.key.as_der().map_err(|_| "AWS-LC PKCS#8 encoding failed".to_owned())?;
        // `der` wipes its own buffer when dropped; the copy is ours to wipe.
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    pub(crate) fn public(&self) -> Public {
        Public(self.key.public_key())
    }

    pub(crate) fn oaep_unwrap(&self, oaep: Oaep, wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.oaep.min_output_size()]);
        let len = self.oaep.decrypt(algorithm(oaep), wrapped, &mut out, None).ok()?.len();
        out.truncate(len);
        Some(out)
    }
}

#[derive(Clone)]
pub(crate) struct Public(PublicEncryptingKey);

impl Public {
    pub(crate) fn from_spki(der: &[u8]) -> Result<Self, Refusal> {
        PublicEncryptingKey::from_der(der).map(Self).map_err(|e| format!("AWS-LC refused the public key: {e}"))
    }

    pub(crate) fn to_spki(&self) -> Result<Vec<u8>, Refusal> {
        let der: PublicKeyX509Der<'static> = self.0.as_der().map_err(|_| "AWS-LC SPKI encoding failed".to_owned())?;
        Ok(der.as_ref().to_vec())
    }

    pub(crate) fn bits(&self) -> usize {
        self.0.key_size_bits()
    }

    pub(crate) fn size(&self) -> usize {
        self.0.key_size_bytes()
    }

    pub(crate) fn oaep_wrap(&self, oaep: Oaep, message: &[u8]) -> Option<Vec<u8>> {
        // A reference-count bump, not a key copy.
        let key = OaepPublicEncryptingKey::new(self.0.clone()).ok()?;
        let mut out = vec![0u8; key.ciphertext_size()];
        let len = key.encrypt(algorithm(oaep), message, &mut out, None).ok()?.len();
        out.truncate(len);
        Some(out)
    }
}

/// `LessSafeKey` because the envelope supplies its own random nonce per key
/// (one nonce per fresh session key). Freeing it cleanses the AES key schedule.
fn gcm_key(key: &[u8; 32]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key).ok().map(LessSafeKey::new)
}

pub(crate) fn gcm_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], in_out: &mut [u8]) -> Option<[u8; 16]> {
    let tag = gcm_key(key)?.seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), in_out);
    tag.ok()?.as_ref().try_into().ok()
}

pub(crate) fn gcm_open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], in_out: &mut [u8], tag: &[u8; 16]) -> Option<()> {
    let key = gcm_key(key)?;
    key.open_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), tag, in_out).ok().map(|_| ())
}
