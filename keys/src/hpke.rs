//! HPKE (RFC 9180), what the v3 envelope needs of it: base mode (no PSK, no
//! sender authentication), single shot (one message per `enc`, sequence
//! number 0, empty AAD), the key schedule over HKDF-SHA256, AES-256-GCM.
//! The KEM (X-Wing) is `xwing.rs`; this file turns its 32-byte shared secret
//! into the AEAD key and nonce. AWS-LC builds only.
//!
//! aws-lc-rs has no HPKE (its issue 738) and its HKDF cannot hand out the
//! extracted PRK that `LabeledExtract` returns, so `Extract` and `Expand`
//! are written here on AWS-LC's HMAC-SHA256 (RFC 5869; every output here is
//! at most one hash long, so `Expand` is one HMAC). The suite id is a
//! parameter of the key schedule, which the vectors of draft-ietf-hpke-pq
//! check for `0x647a` (tests in this file).

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::backend::{Backend, gcm};
use crate::error::EncryptError;

/// AES-256-GCM's tag length.
pub(crate) const TAG_LEN: usize = gcm::TAG_LEN;

/// `Nk` and `Nn` of AES-256-GCM.
const NK: usize = 32;
const NN: usize = gcm::NONCE_LEN;
/// `Nh` of HKDF-SHA256.
const NH: usize = 32;

/// The suite v3 uses: X-Wing, HKDF-SHA256, AES-256-GCM (the ids its header carries).
const SUITE: [u16; 3] = crate::v3::SUITE;
const _: () = assert!(SUITE[1] == crate::v3::KDF_HKDF_SHA256 && SUITE[2] == crate::v3::AEAD_AES_256_GCM);

/// `suite_id = "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)` (§5.1).
fn suite_id([kem, kdf, aead]: [u16; 3]) -> [u8; 10] {
    let mut id = *b"HPKE\0\0\0\0\0\0";
    id[4..6].copy_from_slice(&kem.to_be_bytes());
    id[6..8].copy_from_slice(&kdf.to_be_bytes());
    id[8..10].copy_from_slice(&aead.to_be_bytes());
    id
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; NH]> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for part in parts {
        ctx.update(part);
    }
    let mut out = Zeroizing::new([0u8; NH]);
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// `LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm)` (§4).
fn labeled_extract(suite: &[u8; 10], salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; NH]> {
    hmac(salt, &[b"HPKE-v1", suite, label, ikm])
}

/// `LabeledExpand(prk, label, info, L)` with `L <= Nh`: `T(1)` of HKDF-Expand
/// over `I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info` (§4).
fn labeled_expand<const L: usize>(suite: &[u8; 10], prk: &[u8; NH], label: &[u8], info: &[u8]) -> Zeroizing<[u8; L]> {
    const { assert!(L <= NH) };
    let length = (L as u16).to_be_bytes();
    let t1 = hmac(prk, &[&length, b"HPKE-v1", suite, label, info, &[1]]);
    let mut out = Zeroizing::new([0u8; L]);
    out.copy_from_slice(&t1[..L]);
    out
}

/// `KeyScheduleS`/`KeyScheduleR` in base mode (§5.1): the AEAD key and base nonce.
fn key_schedule<const NK: usize>(
    suite: [u16; 3],
    shared_secret: &[u8],
    info: &[u8],
) -> (Zeroizing<[u8; NK]>, Zeroizing<[u8; NN]>) {
    const MODE_BASE: u8 = 0x00;
    let suite = suite_id(suite);
    // psk_id and psk are empty in base mode.
    let psk_id_hash = labeled_extract(&suite, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(&suite, b"", b"info_hash", info);
    let mut context = [0u8; 1 + 2 * NH];
    context[0] = MODE_BASE;
    context[1..1 + NH].copy_from_slice(&psk_id_hash[..]);
    context[1 + NH..].copy_from_slice(&info_hash[..]);
    let secret = labeled_extract(&suite, shared_secret, b"secret", b"");
    let key = labeled_expand::<NK>(&suite, &secret, b"key", &context);
    let base_nonce = labeled_expand::<NN>(&suite, &secret, b"base_nonce", &context);
    (key, base_nonce)
}

/// Single-shot seal (§6.1, empty AAD): appends `ciphertext || tag` to `out`.
pub(crate) fn seal_into(
    shared_secret: &[u8; 32],
    info: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncryptError> {
    let (key, nonce) = key_schedule::<NK>(SUITE, shared_secret, info);
    let at = out.len();
    out.extend_from_slice(plaintext);
    // Sequence number 0: the nonce is the base nonce.
    let tag = gcm::seal(Backend::AwsLc, &key, &nonce, &[], &mut out[at..]).ok_or(EncryptError::TooLong)?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// Single-shot open (§6.1, empty AAD) of `ciphertext || tag`; `None` if it
/// does not authenticate (or is shorter than a tag).
pub(crate) fn open(shared_secret: &[u8; 32], info: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (ciphertext, tag) = sealed.split_at_checked(sealed.len().checked_sub(TAG_LEN)?)?;
    let tag: &[u8; TAG_LEN] = tag.try_into().ok()?;
    let (key, nonce) = key_schedule::<NK>(SUITE, shared_secret, info);
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    gcm::open(Backend::AwsLc, &key, &nonce, &[], &mut buf, tag)?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    //! The key schedule against the published vectors: RFC 9180 A.1.1
    //! (DHKEM(X25519), HKDF-SHA256, AES-128-GCM) and, for X-Wing itself,
    //! draft-ietf-hpke-pq's `0x647a` suite with HKDF-SHA256 (its AEAD there is
    //! ChaCha20-Poly1305, whose `Nk` and `Nn` are AES-256-GCM's). Whole
    //! envelopes against the vectors are in tests/xwing_vectors.rs.
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc9180_a_1_1_key_schedule() {
        let ss = hex("fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc");
        let info = hex("4f6465206f6e2061204772656369616e2055726e");
        let (key, nonce) = key_schedule::<16>([0x0020, 0x0001, 0x0001], &ss, &info);
        assert_eq!(key.to_vec(), hex("4531685d41d65f03dc48f6b8302c05b0"));
        assert_eq!(nonce.to_vec(), hex("56d890e5accaaf011cff4b7d"));
    }

    #[test]
    fn hpke_pq_xwing_key_schedule() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hpke_pq_0x647a.json"))
            .expect("tests/fixtures/hpke_pq_0x647a.json");
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for v in doc["vectors"].as_array().unwrap() {
            if v["kdf_id"] != 1 {
                continue;
            }
            let h = |k: &str| hex(v[k].as_str().unwrap());
            assert_eq!(h("suite_id"), suite_id([0x647a, 1, v["aead_id"].as_u64().unwrap() as u16]));
            let (key, nonce) =
                key_schedule::<32>([0x647a, 1, v["aead_id"].as_u64().unwrap() as u16], &h("shared_secret"), &h("info"));
            assert_eq!(key.to_vec(), h("key"));
            assert_eq!(nonce.to_vec(), h("base_nonce"));
            // And its ciphertexts (ChaCha20-Poly1305, AWS-LC's), sequence
            // numbers included: the nonce is base_nonce XOR seq.
            assert_eq!(v["aead_id"], 3);
            use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
            let aead = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key[..]).unwrap());
            for (seq, e) in v["encryptions"].as_array().unwrap().iter().enumerate() {
                let g = |k: &str| hex(e[k].as_str().unwrap());
                let mut n = *nonce;
                n[NN - 8..].iter_mut().zip((seq as u64).to_be_bytes()).for_each(|(b, s)| *b ^= s);
                assert_eq!(n.to_vec(), g("nonce"), "seq {seq}");
                let mut ct = g("ct");
                let pt = aead.open_in_place(Nonce::assume_unique_for_key(n), Aad::from(g("aad")), &mut ct).unwrap();
                assert_eq!(pt.to_vec(), g("pt"), "seq {seq}");
            }
            checked += 1;
        }
        assert!(checked >= 1, "no HKDF-SHA256 vector for 0x647a");
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let ss = [7u8; 32];
        let mut sealed = Vec::new();
        seal_into(&ss, b"info", b"plaintext", &mut sealed).unwrap();
        assert_eq!(sealed.len(), 9 + TAG_LEN);
        assert_eq!(&open(&ss, b"info", &sealed).unwrap()[..], b"plaintext");
        assert!(open(&ss, b"infO", &sealed).is_none());
        assert!(open(&[8u8; 32], b"info", &sealed).is_none());
        assert!(open(&ss, b"info", &sealed[..TAG_LEN - 1]).is_none());
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert!(open(&ss, b"info", &bad).is_none());
    }
}
