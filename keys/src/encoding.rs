//! The PEM/DER front end both backends share, so that what loads, what is
//! refused and why is decided in one place:
//!
//! - PEM text → DER, into a [`Zeroizing`] buffer sized once (no reallocation copies);
//! - PKCS#1 private keys are wrapped into PKCS#8 v1 and PKCS#1 public keys into
//!   SubjectPublicKeyInfo, because AWS-LC takes only those; the wrapped copy is
//!   a [`Zeroizing`] buffer sized once too;
//! - the modulus size is read from the DER before any backend sees the key, so
//!   a key under [`MIN_BITS`] gets an error naming its size on every backend;
//! - X-Wing keys (draft-connolly-cfrg-xwing-kem, "Use in X.509"): the same
//!   PKCS#8 and SubjectPublicKeyInfo structures under the OID
//!   1.3.6.1.4.1.62253.25722 with absent parameters, the private key being the
//!   raw 32-byte seed and the public key the raw 1,216 bytes.
//!
//! Parsing uses the RustCrypto `der`/`pkcs1`/`pkcs8` crates: structure only, no
//! big-integer arithmetic and no copy of the secret integers.

use der::Decode;
use der::asn1::UintRef;
use pkcs8::{PrivateKeyInfoRef, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

/// Smallest modulus loaded or generated: AWS-LC refuses smaller RSA keys, and
/// the pure-Rust backend applies the same floor so both behave the same.
pub const MIN_BITS: usize = 2048;
/// Largest modulus loaded or generated (AWS-LC's ceiling).
pub const MAX_BITS: usize = 8192;

/// Why a DER key was refused. Never quotes the input.
#[derive(Debug)]
pub(crate) enum DerError {
    /// Structure does not parse (the decoder's text names tags and offsets only).
    Parse(String),
    /// Neither an RSA nor an X-Wing key (another PKCS#8/SPKI algorithm).
    Algorithm,
    /// An X-Wing key whose structure is not the draft's (what is wrong; no content).
    XWing(&'static str),
    /// The modulus size is outside `MIN_BITS..=MAX_BITS`.
    Size(usize),
}

/// `rsaEncryption` (1.2.840.113549.1.1.1) with NULL parameters, DER-encoded:
/// the AlgorithmIdentifier of both wrappers below.
const RSA_ALGORITHM_ID: [u8; 15] =
    [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];

/// `id-XWing`, 1.3.6.1.4.1.62253.25722 (draft-connolly-cfrg-xwing-kem, "Use in X.509").
pub(crate) const XWING_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.62253.25722");

/// The AlgorithmIdentifier of an X-Wing key, DER: `SEQUENCE { OID id-XWing }` (no parameters).
const XWING_ALGORITHM_ID: [u8; 15] =
    [0x30, 0x0d, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xe6, 0x2d, 0x81, 0xc8, 0x7a];

/// An X-Wing private key seed's length.
pub(crate) const XWING_SEED_LEN: usize = 32;
/// An X-Wing public key's length (ML-KEM-768's 1,184 bytes, then X25519's 32).
pub(crate) const XWING_PUBLIC_LEN: usize = 1216;

/// What a PKCS#8 private key holds.
pub(crate) enum PrivateDer<'a> {
    /// An RSA key (its size checked against the range).
    Rsa,
    /// An X-Wing key: its 32-byte seed.
    XWing(&'a [u8; XWING_SEED_LEN]),
}

/// What a SubjectPublicKeyInfo holds.
pub(crate) enum PublicDer<'a> {
    /// An RSA key (size checked).
    Rsa,
    /// An X-Wing key: its 1,216 bytes.
    XWing(&'a [u8; XWING_PUBLIC_LEN]),
}

/// Decode one PEM block (as found by `key::pem_block`) whose label must be
/// `label`. The DER lands in a buffer that is wiped on drop.
pub(crate) fn pem_to_der(block: &str, label: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    // Base64 is never shorter than what it encodes: the block length bounds the DER.
    let mut buf = Zeroizing::new(vec![0u8; block.len()]);
    let (found, der) = pem_rfc7468::decode(block.as_bytes(), &mut buf).map_err(|e| format!("PEM: {e}"))?;
    if found != label {
        return Err("PEM label mismatch".to_owned());
    }
    let len = der.len();
    buf.truncate(len); // the tail stays in capacity and is wiped on drop too
    Ok(buf)
}

/// PEM-encode `der` under `label` (LF line endings, 64 columns) into a buffer
/// wiped on drop.
pub(crate) fn der_to_pem(label: &str, der: &[u8]) -> Result<Zeroizing<String>, String> {
    let le = pem_rfc7468::LineEnding::LF;
    let len = pem_rfc7468::encoded_len(label, le, der).map_err(|e| format!("PEM: {e}"))?;
    let mut buf = Zeroizing::new(vec![0u8; len]);
    let written = pem_rfc7468::encode(label, le, der, &mut buf).map_err(|e| format!("PEM: {e}"))?.len();
    buf.truncate(written);
    // Move the bytes (no copy) into a String; PEM is ASCII.
    let bytes = std::mem::take(&mut *buf);
    String::from_utf8(bytes).map(Zeroizing::new).map_err(|e| {
        drop(Zeroizing::new(e.into_bytes()));
        "PEM: encoder produced non-ASCII".to_owned()
    })
}

fn modulus_bits(n: UintRef<'_>) -> usize {
    // `UintRef` strips leading zero bytes.
    let b = n.as_bytes();
    match b.first() {
        Some(first) => b.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

fn check_bits(bits: usize) -> Result<usize, DerError> {
    if (MIN_BITS..=MAX_BITS).contains(&bits) { Ok(bits) } else { Err(DerError::Size(bits)) }
}

fn parse_err(e: der::Error) -> DerError {
    DerError::Parse(e.to_string())
}

/// Modulus size of a PKCS#1 `RSAPrivateKey`, checked against the size range.
pub(crate) fn pkcs1_private_bits(der: &[u8]) -> Result<usize, DerError> {
    let key = pkcs1::RsaPrivateKey::<UintRef<'_>>::from_der(der).map_err(parse_err)?;
    check_bits(modulus_bits(key.modulus))
}

/// A PKCS#8 `PrivateKeyInfo`: an RSA key (its size checked) or an X-Wing seed.
pub(crate) fn pkcs8_private(der: &[u8]) -> Result<PrivateDer<'_>, DerError> {
    let info = PrivateKeyInfoRef::from_der(der).map_err(parse_err)?;
    if info.algorithm.oid == XWING_OID {
        if info.algorithm.parameters.is_some() {
            return Err(DerError::XWing("X-Wing key with algorithm parameters (they must be absent)"));
        }
        if info.public_key.is_some() {
            return Err(DerError::XWing("X-Wing private key with a public key field (it must be absent)"));
        }
        let seed = info.private_key.as_bytes().try_into();
        return seed.map(PrivateDer::XWing).map_err(|_| DerError::XWing("X-Wing private key is not 32 bytes"));
    }
    if info.algorithm.oid != pkcs1::ALGORITHM_OID {
        return Err(DerError::Algorithm);
    }
    pkcs1_private_bits(info.private_key.as_bytes()).map(|_| PrivateDer::Rsa)
}

/// Modulus size of a PKCS#1 `RSAPublicKey`, checked.
pub(crate) fn pkcs1_public_bits(der: &[u8]) -> Result<usize, DerError> {
    let key = pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(der).map_err(parse_err)?;
    check_bits(modulus_bits(key.modulus))
}

/// A SubjectPublicKeyInfo: an RSA key (its size checked) or an X-Wing key.
pub(crate) fn spki(der: &[u8]) -> Result<PublicDer<'_>, DerError> {
    let info = SubjectPublicKeyInfoRef::from_der(der).map_err(parse_err)?;
    let key = info.subject_public_key.as_bytes().ok_or(DerError::Parse("BIT STRING has unused bits".to_owned()))?;
    if info.algorithm.oid == XWING_OID {
        if info.algorithm.parameters.is_some() {
            return Err(DerError::XWing("X-Wing key with algorithm parameters (they must be absent)"));
        }
        let key = key.try_into();
        return key.map(PublicDer::XWing).map_err(|_| DerError::XWing("X-Wing public key is not 1216 bytes"));
    }
    if info.algorithm.oid != pkcs1::ALGORITHM_OID {
        return Err(DerError::Algorithm);
    }
    pkcs1_public_bits(key).map(|_| PublicDer::Rsa)
}

/// PKCS#8 v1 of an X-Wing seed, as the draft encodes it:
/// `SEQUENCE { INTEGER 0, SEQUENCE { id-XWing }, OCTET STRING seed }`, 54 bytes.
pub(crate) fn xwing_pkcs8(seed: &[u8; XWING_SEED_LEN]) -> Zeroizing<Vec<u8>> {
    let inner = 3 + XWING_ALGORITHM_ID.len() + 2 + XWING_SEED_LEN;
    let mut out = Zeroizing::new(Vec::with_capacity(2 + inner));
    out.extend_from_slice(&[0x30, inner as u8, 0x02, 0x01, 0x00]);
    out.extend_from_slice(&XWING_ALGORITHM_ID);
    out.extend_from_slice(&[0x04, XWING_SEED_LEN as u8]);
    out.extend_from_slice(seed);
    debug_assert_eq!(out.len(), out.capacity());
    out
}

/// SubjectPublicKeyInfo of an X-Wing public key:
/// `SEQUENCE { SEQUENCE { id-XWing }, BIT STRING (0 unused) key }`, 1,240 bytes.
/// The key id is its SHA-256, as for RSA keys.
pub(crate) fn xwing_spki(key: &[u8; XWING_PUBLIC_LEN]) -> Vec<u8> {
    let bits = 1 + key.len();
    let inner = XWING_ALGORITHM_ID.len() + 1 + len_len(bits) + bits;
    let mut out = Vec::with_capacity(1 + len_len(inner) + inner);
    out.push(0x30);
    push_len(&mut out, inner);
    out.extend_from_slice(&XWING_ALGORITHM_ID);
    out.push(0x03);
    push_len(&mut out, bits);
    out.push(0x00);
    out.extend_from_slice(key);
    out
}

/// DER length octets.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn len_len(len: usize) -> usize {
    if len < 0x80 { 1 } else { 1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize }
}

/// PKCS#8 v1 around a PKCS#1 private key (RFC 5208):
/// `SEQUENCE { INTEGER 0, AlgorithmIdentifier rsaEncryption NULL, OCTET STRING pkcs1 }`.
/// The result is what `openssl pkey` writes for the same key.
pub(crate) fn wrap_pkcs1_private(pkcs1: &[u8]) -> Zeroizing<Vec<u8>> {
    let octets = 1 + len_len(pkcs1.len()) + pkcs1.len();
    let inner = 3 + RSA_ALGORITHM_ID.len() + octets;
    // Sized exactly, so the secret bytes are never left behind by a reallocation.
    let mut out = Zeroizing::new(Vec::with_capacity(1 + len_len(inner) + inner));
    out.push(0x30);
    push_len(&mut out, inner);
    out.extend_from_slice(&[0x02, 0x01, 0x00]);
    out.extend_from_slice(&RSA_ALGORITHM_ID);
    out.push(0x04);
    push_len(&mut out, pkcs1.len());
    out.extend_from_slice(pkcs1);
    debug_assert_eq!(out.len(), out.capacity());
    out
}

/// SubjectPublicKeyInfo around a PKCS#1 public key (RFC 5280):
/// `SEQUENCE { AlgorithmIdentifier rsaEncryption NULL, BIT STRING (0 unused) pkcs1 }`.
pub(crate) fn wrap_pkcs1_public(pkcs1: &[u8]) -> Vec<u8> {
    let bits = 1 + pkcs1.len();
    let inner = RSA_ALGORITHM_ID.len() + 1 + len_len(bits) + bits;
    let mut out = Vec::with_capacity(1 + len_len(inner) + inner);
    out.push(0x30);
    push_len(&mut out, inner);
    out.extend_from_slice(&RSA_ALGORITHM_ID);
    out.push(0x03);
    push_len(&mut out, bits);
    out.push(0x00);
    out.extend_from_slice(pkcs1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000] {
            let mut v = Vec::new();
            push_len(&mut v, len);
            assert_eq!(v.len(), len_len(len), "{len}");
        }
        let mut v = Vec::new();
        push_len(&mut v, 0x4a7);
        assert_eq!(v, [0x82, 0x04, 0xa7]);
    }

    #[test]
    fn wrappers_parse_back() {
        // A PKCS#1 public key structure with a 2048-bit modulus.
        let mut n = vec![0x00, 0xc0];
        n.extend_from_slice(&[0x11; 255]);
        let mut pkcs1 = vec![0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01];
        pkcs1.extend_from_slice(&n);
        pkcs1.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(pkcs1_public_bits(&pkcs1).unwrap(), 2048);
        let spki_der = wrap_pkcs1_public(&pkcs1);
        assert!(matches!(spki(&spki_der), Ok(PublicDer::Rsa)));
        assert_eq!(spki_der.len(), spki_der.capacity());
        // A 16-bit modulus is refused with its size.
        let small = [0x30, 0x0a, 0x02, 0x03, 0x00, 0x80, 0x01, 0x02, 0x03, 0x01, 0x00, 0x01];
        assert!(matches!(pkcs1_public_bits(&small), Err(DerError::Size(16))));
    }

    #[test]
    fn xwing_structures_parse_back() {
        let seed = [7u8; XWING_SEED_LEN];
        let der = xwing_pkcs8(&seed);
        assert_eq!(der.len(), 54);
        assert!(matches!(pkcs8_private(&der), Ok(PrivateDer::XWing(s)) if *s == seed));
        let key = [9u8; XWING_PUBLIC_LEN];
        let spki_der = xwing_spki(&key);
        assert_eq!(spki_der.len(), 1240);
        assert!(matches!(spki(&spki_der), Ok(PublicDer::XWing(k)) if *k == key));
        // The OID's encoding is the constant's.
        assert_eq!(&XWING_ALGORITHM_ID[4..], XWING_OID.as_bytes());
        // A seed of another length is refused, naming what is wrong.
        let mut short = der.to_vec();
        short.pop();
        short[1] -= 1;
        short[21] -= 1;
        assert!(matches!(pkcs8_private(&short), Err(DerError::XWing(w)) if w.contains("32 bytes")));
    }
}
