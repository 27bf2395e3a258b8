//! X-Wing in a build without AWS-LC (the pure-Rust fallback): not supported.
//! An X-Wing key file is refused at load with [`UNSUPPORTED`], and a v3 blob
//! finds no key to open it. The key types are uninhabited, so the code that
//! would use one compiles to nothing.

use zeroize::Zeroizing;

use crate::backend::{Backend, Refusal};
use crate::encoding::{XWING_PUBLIC_LEN, XWING_SEED_LEN};
use crate::error::EncryptError;

/// Why: the one sentence every refusal carries.
pub(crate) const UNSUPPORTED: &str = "X-Wing keys and the v3 envelope need the `aws-lc` backend; \
     this build has the pure-Rust fallback only (cybexp-keys crate docs, \"Backends\")";

pub(crate) const ENC_LEN: usize = 1120;

/// No X-Wing private key exists in this build.
pub(crate) enum Secret {}

/// No X-Wing public key exists in this build.
#[derive(Clone)]
pub(crate) enum Public {}

impl Secret {
    pub(crate) fn generate() -> Result<(Secret, Public), Refusal> {
        Err(UNSUPPORTED.to_owned())
    }

    pub(crate) fn from_seed(_seed: &[u8; XWING_SEED_LEN]) -> Result<(Secret, Public), Refusal> {
        Err(UNSUPPORTED.to_owned())
    }

    pub(crate) fn seed(&self) -> &[u8; XWING_SEED_LEN] {
        match *self {}
    }

    pub(crate) fn backend(&self) -> Backend {
        match *self {}
    }

    pub(crate) fn open(&self, _enc: &[u8; ENC_LEN], _info: &[u8], _ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        match *self {}
    }
}

impl Public {
    pub(crate) fn from_bytes(_bytes: &[u8; XWING_PUBLIC_LEN]) -> Result<Public, Refusal> {
        Err(UNSUPPORTED.to_owned())
    }

    pub(crate) fn bytes(&self) -> &[u8; XWING_PUBLIC_LEN] {
        match *self {}
    }

    pub(crate) fn backend(&self) -> Backend {
        match *self {}
    }

    pub(crate) fn seal_into(&self, _info: &[u8], _plaintext: &[u8], _out: &mut Vec<u8>) -> Result<(), EncryptError> {
        match *self {}
    }
}
