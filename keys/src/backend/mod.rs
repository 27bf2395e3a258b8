//! The backend seam: the RSA private-key operation (OAEP unwrap), the public
//! one (OAEP wrap), key generation and DER in/out, and AES-256-GCM for the v2
//! envelope. Everything else (PEM, size policy, key ids, EAX, the envelope
//! layouts, the keyring) is shared.
//!
//! The backend is chosen at build time. A key remembers the backend that made
//! it, so with both features compiled the tests and the bench can put the same
//! key on either one; every constructor that takes no [`Backend`] uses
//! [`Backend::ACTIVE`].

use zeroize::Zeroizing;

#[cfg(not(any(feature = "aws-lc", feature = "rust-crypto")))]
compile_error!(
    "cybexp-keys needs an RSA backend: enable the feature `aws-lc` (the default) \
     or `rust-crypto` (pure Rust, for platforms where AWS-LC does not build)"
);

#[cfg(feature = "aws-lc")]
mod aws_lc;
#[cfg(feature = "rust-crypto")]
mod rust_crypto;

/// An RSA backend compiled into this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// AWS-LC through `aws-lc-rs` (feature `aws-lc`, the default).
    #[cfg(feature = "aws-lc")]
    AwsLc,
    /// The pure-Rust `rsa` crate and RustCrypto AES-GCM (feature `rust-crypto`).
    #[cfg(feature = "rust-crypto")]
    RustCrypto,
}

impl Backend {
    /// The backend every constructor without an explicit [`Backend`] uses:
    /// AWS-LC when its feature is on, else the pure-Rust one.
    #[cfg(feature = "aws-lc")]
    pub const ACTIVE: Backend = Backend::AwsLc;
    /// The backend every constructor without an explicit [`Backend`] uses:
    /// AWS-LC when its feature is on, else the pure-Rust one.
    #[cfg(all(not(feature = "aws-lc"), feature = "rust-crypto"))]
    pub const ACTIVE: Backend = Backend::RustCrypto;

    /// Every backend compiled into this build, the active one first.
    pub const COMPILED: &'static [Backend] = &[
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc,
        #[cfg(feature = "rust-crypto")]
        Backend::RustCrypto,
    ];

    /// "aws-lc" or "rust-crypto" (the feature name).
    pub fn as_str(self) -> &'static str {
        match self {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => "aws-lc",
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => "rust-crypto",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The OAEP parameter sets of the two envelopes (same digest for OAEP and MGF1,
/// empty label): the only pairs AWS-LC offers, and the only ones we need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Oaep {
    /// Legacy envelope (reference §2).
    Sha1,
    /// v2 envelope.
    Sha256,
}

/// A private key held by one backend. No `Debug`: see `key::PrivateKey`.
pub(crate) enum Private {
    #[cfg(feature = "aws-lc")]
    AwsLc(aws_lc::Private),
    #[cfg(feature = "rust-crypto")]
    RustCrypto(rust_crypto::Private),
}

/// A public key held by one backend.
#[derive(Clone)]
pub(crate) enum Public {
    #[cfg(feature = "aws-lc")]
    AwsLc(aws_lc::Public),
    #[cfg(feature = "rust-crypto")]
    RustCrypto(rust_crypto::Public),
}

/// Backend refusals carry the backend's own reason (no key content).
pub(crate) type Refusal = String;

impl Private {
    /// From PKCS#8 v1 DER (the front end has checked structure and size).
    pub(crate) fn from_pkcs8(backend: Backend, der: &[u8]) -> Result<Self, Refusal> {
        match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => aws_lc::Private::from_pkcs8(der).map(Self::AwsLc),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::Private::from_pkcs8(der).map(Self::RustCrypto),
        }
    }

    /// A fresh key, e = 65537. `bits` is one of `key::GENERATE_BITS`.
    pub(crate) fn generate(backend: Backend, bits: usize) -> Result<Self, Refusal> {
        match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => aws_lc::Private::generate(bits).map(Self::AwsLc),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::Private::generate(bits).map(Self::RustCrypto),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(_) => Backend::AwsLc,
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(_) => Backend::RustCrypto,
        }
    }

    /// PKCS#8 v1 DER, wiped on drop.
    pub(crate) fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, Refusal> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => k.to_pkcs8(),
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(k) => k.to_pkcs8(),
        }
    }

    pub(crate) fn public(&self) -> Public {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => Public::AwsLc(k.public()),
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(k) => Public::RustCrypto(k.public()),
        }
    }

    /// OAEP-decrypt `wrapped`; `None` on any failure (no padding oracle
    /// beyond "did not unwrap").
    pub(crate) fn oaep_unwrap(&self, oaep: Oaep, wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => k.oaep_unwrap(oaep, wrapped),
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(k) => k.oaep_unwrap(oaep, wrapped),
        }
    }
}

impl Public {
    /// From SubjectPublicKeyInfo DER (the front end has checked structure and size).
    pub(crate) fn from_spki(backend: Backend, der: &[u8]) -> Result<Self, Refusal> {
        match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => aws_lc::Public::from_spki(der).map(Self::AwsLc),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::Public::from_spki(der).map(Self::RustCrypto),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(_) => Backend::AwsLc,
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(_) => Backend::RustCrypto,
        }
    }

    /// SubjectPublicKeyInfo DER: the key id is its SHA-256, so it must be
    /// byte-identical across backends (tests/backends.rs checks it).
    pub(crate) fn to_spki(&self) -> Result<Vec<u8>, Refusal> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => k.to_spki(),
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(k) => k.to_spki(),
        }
    }

    /// Modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => k.bits(),
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(k) => k.bits(),
        }
    }

    /// Modulus size in bytes.
    pub(crate) fn size(&self) -> usize {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => k.size(),
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(k) => k.size(),
        }
    }

    /// OAEP-encrypt `message` (a session key) with fresh randomness.
    pub(crate) fn oaep_wrap(&self, oaep: Oaep, message: &[u8]) -> Option<Vec<u8>> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => k.oaep_wrap(oaep, message),
            #[cfg(feature = "rust-crypto")]
            Self::RustCrypto(k) => k.oaep_wrap(oaep, message),
        }
    }
}

/// AES-256-GCM, detached tag, for the v2 envelope. Each backend uses its own
/// (AWS-LC's: faster here, see benches/envelope.rs); the bytes are identical.
pub(crate) mod gcm {
    use super::Backend;

    pub(crate) const NONCE_LEN: usize = 12;
    pub(crate) const TAG_LEN: usize = 16;

    /// Encrypt `in_out` in place; the tag.
    pub(crate) fn seal(
        backend: Backend,
        key: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Option<[u8; TAG_LEN]> {
        match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => super::aws_lc::gcm_seal(key, nonce, aad, in_out),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => super::rust_crypto::gcm_seal(key, nonce, aad, in_out),
        }
    }

    /// Decrypt `in_out` in place if `tag` verifies; `None` (and `in_out`
    /// unspecified) otherwise.
    pub(crate) fn open(
        backend: Backend,
        key: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Option<()> {
        match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => super::aws_lc::gcm_open(key, nonce, aad, in_out, tag),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => super::rust_crypto::gcm_open(key, nonce, aad, in_out, tag),
        }
    }
}
