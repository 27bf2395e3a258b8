//! X-Wing (draft-connolly-cfrg-xwing-kem): the hybrid KEM of ML-KEM-768 and
//! X25519, secure while either half holds, as HPKE KEM `0x647a`. The v3
//! envelope's key type; AWS-LC builds only (without it, `xwing_unsupported.rs`
//! stands in and every X-Wing key is refused at load).
//!
//! - Private key: the 32-byte seed. It is expanded once, when the key is loaded
//!   ([`Secret::from_seed`]): SHAKE256(seed) gives 96 bytes, ML-KEM-768's
//!   `(d, z)` and the X25519 private key. ML-KEM's key generation from `(d, z)`
//!   is RustCrypto `ml-kem`'s (aws-lc-rs cannot import a seed); its expanded
//!   2,400-byte decapsulation key goes straight into AWS-LC and our copy is
//!   wiped. The draft forbids moving expanded keys between implementations
//!   because the binding properties rest on the seed: `ml-kem` and AWS-LC run
//!   in one process on bytes FIPS 203 fixes (`dk_PKE || ek || H(ek) || z`), and
//!   the draft's vectors check the pair (tests/xwing_vectors.rs).
//! - Per entry ([`Secret::open`]): AWS-LC's ML-KEM-768 decapsulation and
//!   X25519, then the combiner, SHA3-256 over `ss_M || ss_X || ct_X || pk_X ||
//!   "\.//^\"` (RustCrypto `sha3`, which wipes its state). Nothing of the
//!   expansion is redone. An all-zero X25519 result is refused (AWS-LC refuses
//!   it too; the check here does not depend on that).
//! - ML-KEM's implicit rejection: a tampered ciphertext decapsulates to a
//!   pseudo-random secret, not an error. So [`Secret::open`] answers only
//!   "opened" or "did not", and the caller reports every such failure as one
//!   class (`auth`); a refused X25519 point goes through the key schedule and
//!   the AEAD like a tampered tag before it is refused.
//!
//! Where the secrets live: AWS-LC holds the ML-KEM and X25519 keys in
//! `EVP_PKEY`s in its C heap and cleanses them when freed. Ours: the seed
//! (kept to write the key file back), boxed in a `Zeroizing` buffer; the
//! expansion and the expanded ML-KEM key, wiped before `from_seed` returns;
//! every shared secret and derived key, `Zeroizing`. `ml-kem`'s key is wiped on
//! drop (its `zeroize` feature). Copies a compiler makes on the stack while
//! moving values are not in reach of any of this.

use aws_lc_rs::{agreement, kem};
// The FIPS 203 expanded form is what AWS-LC imports; `ml-kem` marks it
// deprecated only to steer callers towards seeds, which we do keep.
#[allow(deprecated)]
use ml_kem::ExpandedKeyEncoding as _;
use sha3::Digest;
use shake::digest::{ExtendableOutput as _, Update as _, XofReader as _};
use zeroize::{Zeroize as _, Zeroizing};

use crate::backend::{Backend, Refusal};
use crate::encoding::{XWING_PUBLIC_LEN, XWING_SEED_LEN};
use crate::error::EncryptError;
use crate::hpke;

/// The X-Wing ciphertext, HPKE's `enc`: ML-KEM-768's 1,088 bytes, then X25519's 32.
pub(crate) const ENC_LEN: usize = MLKEM_CT_LEN + X25519_LEN;
const MLKEM_PUBLIC_LEN: usize = 1184;
const MLKEM_CT_LEN: usize = 1088;
const X25519_LEN: usize = 32;
/// `XWingLabel`, hex 5c2e2f2f5e5c.
const LABEL: &[u8; 6] = b"\\.//^\\";

const _: () = assert!(MLKEM_PUBLIC_LEN + X25519_LEN == XWING_PUBLIC_LEN);

/// A shared secret and the `enc` that carries it.
type Encapsulated = (Zeroizing<[u8; 32]>, Box<[u8; ENC_LEN]>);

/// An X-Wing private key, expanded. Not `Clone`, no `Debug`.
pub(crate) struct Secret {
    /// The seed, for writing the key file back (`to_pkcs8_pem`).
    seed: Box<Zeroizing<[u8; XWING_SEED_LEN]>>,
    mlkem: kem::DecapsulationKey,
    x25519: agreement::PrivateKey,
    /// X25519 public key (the combiner's `pk_X`).
    pk_x: [u8; X25519_LEN],
}

/// An X-Wing public key: its 1,216 bytes.
#[derive(Clone)]
pub(crate) struct Public(Box<[u8; XWING_PUBLIC_LEN]>);

impl Secret {
    /// A fresh key from the OS RNG.
    pub(crate) fn generate() -> Result<(Secret, Public), Refusal> {
        let mut seed = Zeroizing::new([0u8; XWING_SEED_LEN]);
        getrandom::fill(seed.as_mut()).map_err(|_| "system random number generator failed".to_owned())?;
        Secret::from_seed(&seed)
    }

    /// `expandDecapsulationKey` of the draft, once: the key and its public half.
    pub(crate) fn from_seed(seed: &[u8; XWING_SEED_LEN]) -> Result<(Secret, Public), Refusal> {
        let mut expanded = Zeroizing::new([0u8; 96]);
        let mut xof = shake::Shake256::default();
        xof.update(seed);
        xof.finalize_xof().read(expanded.as_mut());

        let mut d_z = ml_kem::Seed::default();
        d_z.copy_from_slice(&expanded[..64]);
        let mlkem_key = ml_kem::DecapsulationKey768::from_seed(d_z);
        d_z.zeroize();
        #[allow(deprecated)]
        let mut dk = mlkem_key.to_expanded_bytes();
        let mlkem = kem::DecapsulationKey::new(&kem::ML_KEM_768, dk.as_slice());
        dk.as_mut_slice().zeroize();
        let mlkem = mlkem.map_err(|e| format!("AWS-LC refused the expanded ML-KEM-768 key: {e}"))?;

        let x25519 = agreement::PrivateKey::from_private_key(&agreement::X25519, &expanded[64..])
            .map_err(|e| format!("AWS-LC refused the X25519 key: {e}"))?;
        let pk_x: [u8; X25519_LEN] = x25519
            .compute_public_key()
            .ok()
            .and_then(|p| p.as_ref().try_into().ok())
            .ok_or_else(|| "AWS-LC could not compute the X25519 public key".to_owned())?;

        let mut public = Box::new([0u8; XWING_PUBLIC_LEN]);
        use ml_kem::kem::KeyExport as _;
        public[..MLKEM_PUBLIC_LEN].copy_from_slice(mlkem_key.encapsulation_key().to_bytes().as_slice());
        public[MLKEM_PUBLIC_LEN..].copy_from_slice(&pk_x);
        let seed = Box::new(Zeroizing::new(*seed));
        Ok((Secret { seed, mlkem, x25519, pk_x }, Public(public)))
    }

    /// The seed (the private key file's content).
    pub(crate) fn seed(&self) -> &[u8; XWING_SEED_LEN] {
        &self.seed
    }

    /// X-Wing keys run on AWS-LC only.
    pub(crate) fn backend(&self) -> Backend {
        Backend::AwsLc
    }

    /// `Decapsulate` of the draft; `None` for an all-zero X25519 result (or
    /// an internal failure). A tampered `enc` gives a wrong secret, not `None`.
    /// (The vectors' tests; the envelope calls [`Self::open`].)
    #[cfg(test)]
    pub(crate) fn decapsulate(&self, enc: &[u8; ENC_LEN]) -> Option<Zeroizing<[u8; 32]>> {
        let (shared_secret, accepted) = self.decapsulate_uniformly(enc)?;
        accepted.then_some(shared_secret)
    }

    /// `Decapsulate` of the draft that, on a refused X25519 result, goes on with
    /// an all-zero `ss_X` and says so in the flag, so that the caller can do
    /// the same work either way and refuse at the end.
    fn decapsulate_uniformly(&self, enc: &[u8; ENC_LEN]) -> Option<(Zeroizing<[u8; 32]>, bool)> {
        let (ct_m, ct_x) = enc.split_at(MLKEM_CT_LEN);
        // Fails only on a ciphertext of the wrong length, which `enc`'s type excludes.
        let ss_m = self.mlkem.decapsulate(kem::Ciphertext::from(ct_m)).ok()?;
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, ct_x);
        let (ss_x, accepted) = match agreement::agree(&self.x25519, peer, (), x25519_secret) {
            Ok(ss_x) => (ss_x, true),
            Err(()) => (Zeroizing::new([0u8; X25519_LEN]), false),
        };
        Some((combine(ss_m.as_ref(), &ss_x[..], ct_x, &self.pk_x), accepted))
    }

    /// HPKE base-mode single-shot open (RFC 9180 §6.1) of `ciphertext` (the
    /// AEAD output, tag last) under this key, `enc` and `info`. `None` on
    /// every failure, whatever its cause; a refused X25519 point runs the key
    /// schedule and the AEAD like any other before it is refused, so the
    /// time taken does not single it out either.
    pub(crate) fn open(&self, enc: &[u8; ENC_LEN], info: &[u8], ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (shared_secret, accepted) = self.decapsulate_uniformly(enc)?;
        let opened = hpke::open(&shared_secret, info, ciphertext);
        if accepted { opened } else { None }
    }
}

impl Public {
    /// From the 1,216 raw bytes; refused if ML-KEM's encapsulation key check fails.
    pub(crate) fn from_bytes(bytes: &[u8; XWING_PUBLIC_LEN]) -> Result<Public, Refusal> {
        kem::EncapsulationKey::new(&kem::ML_KEM_768, &bytes[..MLKEM_PUBLIC_LEN])
            .map_err(|e| format!("AWS-LC refused the ML-KEM-768 public key: {e}"))?;
        Ok(Public(Box::new(*bytes)))
    }

    /// The 1,216 bytes.
    pub(crate) fn bytes(&self) -> &[u8; XWING_PUBLIC_LEN] {
        &self.0
    }

    /// X-Wing keys run on AWS-LC only.
    pub(crate) fn backend(&self) -> Backend {
        Backend::AwsLc
    }

    /// `Encapsulate` of the draft: the shared secret and `enc`.
    pub(crate) fn encapsulate(&self) -> Result<Encapsulated, EncryptError> {
        let (pk_m, pk_x) = self.0.split_at(MLKEM_PUBLIC_LEN);
        let ek = kem::EncapsulationKey::new(&kem::ML_KEM_768, pk_m).map_err(|_| EncryptError::Encapsulate)?;
        let (ct_m, ss_m) = ek.encapsulate().map_err(|_| EncryptError::Encapsulate)?;
        let ephemeral = agreement::PrivateKey::generate(&agreement::X25519).map_err(|_| EncryptError::Rng)?;
        let ct_x = ephemeral.compute_public_key().map_err(|_| EncryptError::Encapsulate)?;
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, pk_x);
        let ss_x = agreement::agree(&ephemeral, peer, (), x25519_secret).map_err(|_| EncryptError::Encapsulate)?;
        let shared_secret = combine(ss_m.as_ref(), &ss_x[..], ct_x.as_ref(), pk_x);
        let mut enc = Box::new([0u8; ENC_LEN]);
        enc[..MLKEM_CT_LEN].copy_from_slice(ct_m.as_ref());
        enc[MLKEM_CT_LEN..].copy_from_slice(ct_x.as_ref());
        Ok((shared_secret, enc))
    }

    /// HPKE base-mode single-shot seal (RFC 9180 §6.1): appends
    /// `enc || ciphertext || tag` to `out`.
    pub(crate) fn seal_into(&self, info: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        let (shared_secret, enc) = self.encapsulate()?;
        out.extend_from_slice(&enc[..]);
        hpke::seal_into(&shared_secret, info, plaintext, out)
    }
}

/// The X25519 shared secret, refused when all zero (a low-order point: RFC 7748 §6.1).
fn x25519_secret(secret: &[u8]) -> Result<Zeroizing<[u8; X25519_LEN]>, ()> {
    let secret: &[u8; X25519_LEN] = secret.try_into().map_err(|_| ())?;
    // Constant time: OR every byte, then one comparison.
    if secret.iter().fold(0u8, |acc, b| acc | b) == 0 {
        return Err(());
    }
    Ok(Zeroizing::new(*secret))
}

/// `Combiner` of the draft.
fn combine(ss_m: &[u8], ss_x: &[u8], ct_x: &[u8], pk_x: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut hash = sha3::Sha3_256::new();
    for part in [ss_m, ss_x, ct_x, pk_x, LABEL] {
        Digest::update(&mut hash, part);
    }
    let mut digest = hash.finalize();
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&digest);
    digest.as_mut_slice().zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).unwrap()
    }

    /// draft-connolly-cfrg-xwing-kem's vectors: the seed expands to the
    /// public key, and the ciphertext decapsulates to the shared secret.
    /// (Encapsulation is randomised inside AWS-LC, so `eseed` is not used;
    /// our encapsulations are checked by decapsulating them, here and against
    /// an independent implementation in tests/differential_hpke.rs.)
    #[test]
    fn draft_vectors() {
        let doc = fixture("xwing_draft_vectors.json");
        let vectors = doc["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 3);
        for v in vectors {
            let h = |k: &str| hex(v[k].as_str().unwrap());
            let seed: [u8; 32] = h("sk").try_into().unwrap();
            let (secret, public) = Secret::from_seed(&seed).unwrap();
            assert_eq!(public.bytes().to_vec(), h("pk"));
            let enc: [u8; ENC_LEN] = h("ct").try_into().unwrap();
            assert_eq!(secret.decapsulate(&enc).unwrap().to_vec(), h("ss"));
            assert_eq!(secret.seed().to_vec(), h("seed"));
        }
    }

    /// draft-ietf-hpke-pq's vectors for KEM 0x647a: `skRm` expands to
    /// `pkRm`, and `enc` decapsulates to `shared_secret` (the key schedule
    /// and AEAD from there on: hpke.rs).
    #[test]
    fn hpke_pq_vectors_decapsulate() {
        let doc = fixture("hpke_pq_0x647a.json");
        for v in doc["vectors"].as_array().unwrap() {
            assert_eq!(v["kem_id"], 0x647a);
            let h = |k: &str| hex(v[k].as_str().unwrap());
            let (secret, public) = Secret::from_seed(&h("skRm").try_into().unwrap()).unwrap();
            assert_eq!(public.bytes().to_vec(), h("pkRm"));
            let enc: [u8; ENC_LEN] = h("enc").try_into().unwrap();
            assert_eq!(secret.decapsulate(&enc).unwrap().to_vec(), h("shared_secret"));
        }
    }

    #[test]
    fn all_zero_x25519_results_are_refused() {
        assert!(x25519_secret(&[0; 32]).is_err());
        assert!(x25519_secret(&[0; 31]).is_err());
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(*x25519_secret(&one).unwrap(), one);
    }

    /// A low-order X25519 point in `enc` (here the all-zero one) fails to
    /// decapsulate, whatever the ML-KEM half.
    #[test]
    fn a_low_order_point_does_not_decapsulate() {
        let (secret, public) = Secret::from_seed(&[3; 32]).unwrap();
        let (_, enc) = public.encapsulate().unwrap();
        assert!(secret.decapsulate(&enc).is_some());
        let mut bad = enc.clone();
        bad[MLKEM_CT_LEN..].fill(0);
        assert!(secret.decapsulate(&bad).is_none());
        // The identity's other encoding (1), also low order.
        bad[MLKEM_CT_LEN] = 1;
        assert!(secret.decapsulate(&bad).is_none());
    }

    #[test]
    fn encapsulation_round_trips_and_a_wrong_ciphertext_gives_a_wrong_secret() {
        let (secret, public) = Secret::from_seed(&[5; 32]).unwrap();
        let (ss, enc) = public.encapsulate().unwrap();
        assert_eq!(*secret.decapsulate(&enc).unwrap(), *ss);
        let mut tampered = enc.clone();
        tampered[17] ^= 1; // ML-KEM half: implicit rejection
        assert_ne!(*secret.decapsulate(&tampered).unwrap(), *ss);
    }
}
