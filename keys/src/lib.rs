//! RSA keys and the two CYBEX-P envelopes.
//!
//! - [`legacy`]: what the CYBEX-P API writes today — RSA-OAEP(SHA-1) wrapping
//!   a 32-byte key for AES-256-EAX (reference §2).
//! - [`v2`]: for new producers — RSA-OAEP(SHA-256) + AES-256-GCM under an
//!   authenticated header that names the key (layout in the module doc).
//! - [`Keyring`]: several private keys; [`Keyring::decrypt`] tells the two
//!   formats apart by the v2 magic, with a legacy fallback for collisions.
//!
//! Decryption errors carry an [`ErrorClass`] (`format`, `key`, `auth`,
//! `utf8`); key loading errors are [`KeyFileError`]. Secrets (private keys,
//! PEM text, session keys, plaintext buffers that fail) are wiped when
//! dropped and never appear in `Debug`, `Display` or errors.
//!
//! Unix only: key files are permission-checked with `st_mode`.
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

mod error;
mod key;
mod keyring;
pub mod legacy;
mod load;
mod session;
pub mod v2;

pub use error::{DecryptError, EncryptError, ErrorClass, KeyFileError};
pub use key::{DEFAULT_BITS, KeyId, MAX_BITS, MIN_BITS, PrivateKey, PublicKey};
pub use keyring::{Envelope, Keyring, Opened};
pub use load::{
    MAX_PEM_BYTES, MIN_WRITE_BITS, Perms, WrittenKeypair, load_credential, load_credential_from, load_keyring,
    load_private_key, load_public_key, write_keypair,
};

/// Generate a new private key of `bits` bits (see [`PrivateKey::generate`]).
pub fn generate(bits: usize) -> Result<PrivateKey, KeyFileError> {
    PrivateKey::generate(bits)
}
