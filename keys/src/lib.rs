//! RSA and X-Wing keys and the three CYBEX-P envelopes.
//!
//! - [`legacy`]: what the CYBEX-P API writes today — RSA-OAEP(SHA-1) wrapping
//!   a 32-byte key for AES-256-EAX (reference §2).
//! - [`v2`]: RSA-OAEP(SHA-256) + AES-256-GCM under an authenticated header
//!   that names the key (layout in the module doc).
//! - [`v3`]: post-quantum — HPKE (RFC 9180) with the X-Wing hybrid KEM
//!   (ML-KEM-768 + X25519), HKDF-SHA256 and AES-256-GCM, sealed to an X-Wing
//!   key, the header bound in through `info` (layout in the module doc).
//! - [`Keyring`]: several private keys, RSA and X-Wing together;
//!   [`Keyring::decrypt`] tells the formats apart by magic and version, with a
//!   legacy fallback for collisions.
//!
//! Decryption errors carry an [`ErrorClass`] (`format`, `key`, `auth`,
//! `utf8`); key loading errors are [`KeyFileError`]. Secrets (private keys,
//! PEM text, session keys, plaintext buffers that fail) are wiped when
//! dropped and never appear in `Debug`, `Display` or errors.
//!
//! Unix only: key files are permission-checked with `st_mode`.
//!
//! # Keys
//!
//! [`PrivateKey`] and [`PublicKey`] are either kind ([`KeyKind`]); files use
//! the same PEM labels for both, the algorithm OID inside telling them apart:
//!
//! - RSA: PKCS#1 or PKCS#8 private keys, SPKI or PKCS#1 public keys.
//! - X-Wing (draft-connolly-cfrg-xwing-kem, "Use in X.509", OID
//!   1.3.6.1.4.1.62253.25722, no parameters): the private key is PKCS#8
//!   (`BEGIN PRIVATE KEY`) whose `privateKey` is the raw 32-byte seed, 54
//!   bytes of DER; the public key is SPKI (`BEGIN PUBLIC KEY`) holding the raw
//!   1,216 bytes (ML-KEM-768's 1,184, then X25519's 32), 1,240 bytes of DER.
//!   The seed is expanded once at load (`xwing.rs`), never per entry.
//!
//! A key id is the SHA-256 of the SPKI DER, for both kinds.
//!
//! # Backends
//!
//! The RSA operations and the v2 AES-GCM run on one of two backends, chosen
//! at build time by cargo feature:
//!
//! - `aws-lc` (the default): AWS-LC through `aws-lc-rs`. Needs a C compiler
//!   only (no cmake, no Go: aws-lc-sys ships its generated bindings).
//! - `rust-crypto`: the pure-Rust `rsa` 0.10 crate and RustCrypto `aes-gcm`,
//!   for platforms where AWS-LC does not build:
//!   `--no-default-features --features rust-crypto`.
//!
//! X-Wing keys and the v3 envelope need `aws-lc`: ML-KEM-768, X25519, HMAC
//! and AES-GCM are AWS-LC's (the seed's one-time expansion uses RustCrypto
//! `shake` and `ml-kem`). **The pure-Rust fallback refuses them**: an X-Wing
//! key file fails to load with an error saying the build lacks `aws-lc`
//! ([`KeyFileError::Unsupported`]), so an archiver built that way never starts
//! with a key it cannot use, and a v3 blob finds no key (`key` class).
//!
//! With neither, the build fails with a message saying so. With both, both
//! compile and [`Backend::ACTIVE`] is AWS-LC; [`Backend::COMPILED`] and the
//! `*_in` constructors ([`PrivateKey::from_pem_in`], [`PrivateKey::generate_in`],
//! [`PublicKey::from_pem_in`]) exist so tests and benches can run the same key on
//! each. A key stays on the backend that loaded it; blobs are byte-compatible
//! across backends (same OAEP, same GCM, same key id).
//!
//! Shared by both: PEM and DER parsing (RustCrypto `der`/`pkcs1`/`pkcs8`),
//! the size policy ([`MIN_BITS`]..=[`MAX_BITS`], 2048..=8192, AWS-LC's range,
//! so a 1024-bit key is refused on both backends with an error naming its size),
//! the key id, and AES-256-EAX (AWS-LC has no EAX: the RustCrypto `eax` crate).
//!
//! ## Where the private key lives, and how it is wiped
//!
//! - Our buffers: the PEM text read from a file, its DER, and the PKCS#8
//!   wrapping made for a PKCS#1 key (AWS-LC takes PKCS#8 only) are each a
//!   `Zeroizing` buffer allocated once at its final size, wiped on drop. So is
//!   the PKCS#8 DER and PEM written by `to_pkcs8_pem`.
//! - AWS-LC: the parsed key is an `EVP_PKEY` holding an `RSA` struct and its
//!   `BIGNUM`s (n, e, d, p, q, dmp1, dmq1, iqmp, and Montgomery contexts for p
//!   and q once used) in AWS-LC's C heap, reference-counted (`aws-lc-rs`
//!   `Clone` adds a reference, never a copy). AWS-LC's `OPENSSL_free`
//!   overwrites every allocation with `OPENSSL_cleanse` before freeing it, so
//!   dropping the last reference wipes the key. Private operations are blinded.
//! - `rust-crypto`: `rsa::PrivateKey` zeroizes its components on drop.
//! - Neither backend's key type is printed: [`PrivateKey`]'s `Debug` shows
//!   bits, key id and backend only, and no error quotes key text or DER.
//!
//! ```no_run
//! use cybexp_keys::{load_private_key, Keyring, Perms, v2};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = load_private_key("/etc/cybexp/priv.pem".as_ref(), Perms::Strict)?;
//! let blob = v2::encrypt(key.public_key(), b"{\"a\": 1}")?;
//! let ring = Keyring::from(vec![key]);
//! assert_eq!(ring.decrypt(&blob)?, "{\"a\": 1}");
//! # Ok(()) }
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod encoding;
mod error;
#[cfg(feature = "aws-lc")]
mod hpke;
mod key;
mod keyring;
pub mod legacy;
mod load;
mod session;
pub mod v2;
pub mod v3;
// X-Wing runs on AWS-LC; without it, uninhabited stand-ins refuse every key.
#[cfg(feature = "aws-lc")]
mod xwing;
#[cfg(not(feature = "aws-lc"))]
#[path = "xwing_unsupported.rs"]
mod xwing;

pub use backend::Backend;
pub use encoding::{MAX_BITS, MIN_BITS};
pub use error::{DecryptError, EncryptError, ErrorClass, KeyFileError};
pub use key::{DEFAULT_BITS, GENERATE_BITS, KeyId, KeyKind, PrivateKey, PublicKey};
pub use keyring::{Envelope, Keyring, Opened};
pub use load::{
    MAX_PEM_BYTES, MIN_WRITE_BITS, Perms, WrittenKeypair, load_credential, load_credential_from, load_keyring,
    load_private_key, load_public_key, write_keypair, write_xwing_keypair,
};

/// Whether this build has X-Wing keys and the v3 envelope (the `aws-lc` backend).
pub const XWING_SUPPORTED: bool = cfg!(feature = "aws-lc");

/// Generate a new private key of `bits` bits (see [`PrivateKey::generate`]).
pub fn generate(bits: usize) -> Result<PrivateKey, KeyFileError> {
    PrivateKey::generate(bits)
}
