//! Error types. None of them ever carries key material or plaintext.

use std::fmt;
use std::path::PathBuf;

/// Why a blob could not be opened; the archive records this as the entry's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The blob is malformed: too short to split, bad header, bad lengths.
    Format,
    /// No loaded key unwraps the session key (wrong key, tampered wrapped key).
    Key,
    /// The AEAD tag does not verify (tampered nonce, tag or ciphertext).
    Auth,
    /// The plaintext authenticated but is not UTF-8.
    Utf8,
}

impl ErrorClass {
    /// The stable lower-case name used in logs and the archive DB.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Format => "format",
            ErrorClass::Key => "key",
            ErrorClass::Auth => "auth",
            ErrorClass::Utf8 => "utf8",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A blob failed to decrypt. `Display` is one line: `"<class>: <detail>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptError {
    class: ErrorClass,
    detail: String,
}

impl DecryptError {
    pub(crate) fn new(class: ErrorClass, detail: impl Into<String>) -> Self {
        Self { class, detail: detail.into() }
    }
    pub(crate) fn format(detail: impl Into<String>) -> Self {
        Self::new(ErrorClass::Format, detail)
    }
    pub(crate) fn key(detail: impl Into<String>) -> Self {
        Self::new(ErrorClass::Key, detail)
    }
    pub(crate) fn auth(detail: impl Into<String>) -> Self {
        Self::new(ErrorClass::Auth, detail)
    }
    pub(crate) fn utf8(detail: impl Into<String>) -> Self {
        Self::new(ErrorClass::Utf8, detail)
    }

    /// The class of failure.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The human detail after the class (no secrets, no blob content).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.detail)
    }
}

impl std::error::Error for DecryptError {}

/// Encryption failed. Practically only on a broken system RNG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptError {
    /// The operating system RNG failed.
    #[error("encrypt: system random number generator failed")]
    Rng,
    /// RSA-OAEP wrapping failed (key too small for the padding).
    #[error("encrypt: RSA-OAEP wrap failed for a {bits}-bit key")]
    Wrap {
        /// Modulus size of the recipient key.
        bits: usize,
    },
    /// The plaintext is beyond the AEAD's length limit.
    #[error("encrypt: plaintext too long for the AEAD")]
    TooLong,
    /// The envelope needs another kind of key (legacy and v2: RSA; v3: X-Wing).
    #[error("encrypt: the {envelope} envelope needs {needs} public key, and this one is {kind}")]
    KeyKind {
        /// "legacy", "v2" or "v3".
        envelope: &'static str,
        /// "an RSA" or "an X-Wing".
        needs: &'static str,
        /// The key given.
        kind: crate::KeyKind,
    },
    /// X-Wing encapsulation failed (ML-KEM's public key check, or the RNG).
    #[error("encrypt: X-Wing encapsulation failed (a bad public key or a failed RNG)")]
    Encapsulate,
}

/// Loading, parsing, generating or writing a key failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A private key file is accessible by group or others.
    #[error(
        "{}: private key file has mode {mode:04o}, readable or writable by {who}; \
         run `chmod 600 {}` (or pass the explicit insecure-permissions override)",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The file concerned.
        path: PathBuf,
        /// Its permission bits (`st_mode & 0o7777`).
        mode: u32,
        /// "group and others", "others" or "group".
        who: &'static str,
    },
    /// Not a regular file (directory, FIFO, device...).
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The path concerned.
        path: PathBuf,
    },
    /// Larger than any sane PEM key.
    #[error("{}: larger than {max} bytes, not a PEM key", path.display())]
    TooLarge {
        /// The file concerned.
        path: PathBuf,
        /// The limit.
        max: usize,
    },
    /// The text is not a PEM key of a supported kind, or its DER does not parse.
    /// `what` never quotes the input.
    #[error("{origin}: {what}")]
    Parse {
        /// File path or "PEM input".
        origin: String,
        /// What went wrong, e.g. "PKCS#8 private key does not parse".
        what: String,
    },
    /// A kind of key this build does not support (X-Wing without AWS-LC), or
    /// a backend that cannot hold it.
    #[error("{origin}: {what}")]
    Unsupported {
        /// File path or "PEM input".
        origin: String,
        /// Why, and what would support it.
        what: String,
    },
    /// The key parses but its modulus size is outside `MIN_BITS..=MAX_BITS`
    /// (2048..=8192, AWS-LC's range, applied on every backend).
    #[error("{origin}: RSA key of {bits} bits is not supported (must be {min} to {max} bits)")]
    KeySize {
        /// File path or "PEM input".
        origin: String,
        /// The key's modulus size.
        bits: usize,
        /// `MIN_BITS`.
        min: usize,
        /// `MAX_BITS`.
        max: usize,
    },
    /// `$CREDENTIALS_DIRECTORY` is not set (not started by systemd with a credential).
    #[error(
        "CREDENTIALS_DIRECTORY is not set: load the key with systemd's LoadCredential= \
         or give a key file path"
    )]
    NoCredentialsDirectory,
    /// A credential name that is not a plain file name.
    #[error("invalid credential name {0:?}: must be a plain file name")]
    BadCredentialName(String),
    /// Key generation refused the size or failed.
    #[error("key generation: {0}")]
    Generate(String),
    /// `write_keypair` would overwrite an existing file.
    #[error("{}: already exists, refusing to overwrite", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
}
