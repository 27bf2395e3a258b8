//! The pure-Rust backend: `rsa` 0.10 (crypto-bigint, constant-time modular
//! exponentiation, blinded decryption) and RustCrypto AES-GCM. For platforms
//! where AWS-LC does not build; see SECURITY.md ("RUSTSEC status") for RUSTSEC-2023-0071.
//!
//! `rsa::PrivateKey` zeroizes its components on drop; the box keeps them at one
//! heap address for the key's lifetime.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Tag};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{Oaep, Refusal};

pub(crate) struct Private(Box<rsa::PrivateKey>);

impl Private {
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self, Refusal> {
        // The decoder works on borrowed DER; the key's integers are zeroized on drop.
        rsa::PrivateKey::from_pkcs8_der(der)
            .map(|k| Self(Box::new(k)))
            .map_err(|e| format!("the rsa crate refused the key: {e}"))
    }

    pub(crate) fn generate(bits: usize) -> Result<Self, Refusal> {
        rsa::PrivateKey::new(&mut getrandom::SysRng, bits).map(|k| Self(Box::new(k))).map_err(|e| e.to_string())
    }

    pub(crate) fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, Refusal> {
        // `SecretDocument` wipes itself on drop; the copy is ours to wipe.
        let doc = self.0.to_pkcs8_der().map_err(|e| format!("PKCS#8 encoding failed: {e}"))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    pub(crate) fn public(&self) -> Public {
        Public(self.0.to_public_key())
    }

    pub(crate) fn oaep_unwrap(&self, oaep: Oaep, wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let rng = &mut getrandom::SysRng;
        let out = match oaep {
            Oaep::Sha1 => self.0.oaep_decrypt_with_rng::<Sha1, _>(rng, wrapped),
            Oaep::Sha256 => self.0.oaep_decrypt_with_rng::<Sha256, _>(rng, wrapped),
        };
        out.ok().map(Zeroizing::new)
    }
}

#[derive(Clone)]
pub(crate) struct Public(rsa::PublicKey);

impl Public {
    pub(crate) fn from_spki(der: &[u8]) -> Result<Self, Refusal> {
        rsa::PublicKey::from_public_key_der(der).map(Self).map_err(|e| format!("the rsa crate refused the key: {e}"))
    }

    pub(crate) fn to_spki(&self) -> Result<Vec<u8>, Refusal> {
        self.0.to_public_key_der().map(|d| d.as_bytes().to_vec()).map_err(|e| format!("SPKI encoding failed: {e}"))
    }

    pub(crate) fn bits(&self) -> usize {
        self.0.n().bit_width_vartime() as usize
    }

    pub(crate) fn size(&self) -> usize {
        self.0.size()
    }

    pub(crate) fn oaep_wrap(&self, oaep: Oaep, message: &[u8]) -> Option<Vec<u8>> {
        let rng = &mut getrandom::SysRng;
        match oaep {
            Oaep::Sha1 => self.0.oaep_encrypt_with_rng::<Sha1, _>(rng, message),
            Oaep::Sha256 => self.0.oaep_encrypt_with_rng::<Sha256, _>(rng, message),
        }
        .ok()
    }
}

pub(crate) fn gcm_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], in_out: &mut [u8]) -> Option<[u8; 16]> {
    // The "zeroize" feature wipes the AES key schedule on drop.
    let gcm = Aes256Gcm::new_from_slice(key).ok()?;
    let tag = gcm.encrypt_inout_detached(&(*nonce).into(), aad, in_out.into()).ok()?;
    Some(tag.into())
}

pub(crate) fn gcm_open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], in_out: &mut [u8], tag: &[u8; 16]) -> Option<()> {
    let gcm = Aes256Gcm::new_from_slice(key).ok()?;
    gcm.decrypt_inout_detached(&(*nonce).into(), aad, in_out.into(), &Tag::from(*tag)).ok()
}
