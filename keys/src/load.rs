//! Reading keys from files and systemd credentials, and writing new key pairs.
//!
//! Permission policy (checked on the opened file, so no check/open race):
//! - a key file (`load_private_key`) must have no group or other bits:
//!   `mode & 0o077 == 0`, i.e. 0600 or 0400;
//! - a systemd credential (`load_credential*`) must have no bits for others and
//!   no write bit for group: `mode & 0o027 == 0`. systemd makes credentials
//!   0400 for the service user, but root-owned 0440 files whose group is the
//!   service's exist too, and the credentials directory itself is private to the
//!   unit, so group-read is accepted there;
//! - [`Perms::AllowInsecure`] skips the check (an explicit operator override).
//!
//! PEM bytes are read into a pre-sized [`Zeroizing`] buffer (no reallocation
//! copies) and wiped once parsed.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::backend::Backend;
use crate::error::KeyFileError;
use crate::key::{PrivateKey, PublicKey};

/// Largest PEM file we read (an RSA-8192 PKCS#1 PEM is about 6.3 KiB, an
/// X-Wing public key 1.7 KiB).
pub const MAX_PEM_BYTES: usize = 64 * 1024;

/// Whether to enforce the key-file permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Perms {
    /// Refuse files accessible by group or others (the default).
    #[default]
    Strict,
    /// Load regardless of mode. For an explicit operator override only.
    AllowInsecure,
}

/// Bits a private key file must not have.
const KEY_FILE_FORBIDDEN: u32 = 0o077;
/// Bits a systemd credential must not have (group-read is allowed).
const CREDENTIAL_FORBIDDEN: u32 = 0o027;

/// Load a PEM private key from `path` (RSA: PKCS#1 or PKCS#8; X-Wing:
/// PKCS#8), refusing a file with group/other permission bits unless `perms`
/// is [`Perms::AllowInsecure`].
pub fn load_private_key(path: &Path, perms: Perms) -> Result<PrivateKey, KeyFileError> {
    load_checked(path, perms, KEY_FILE_FORBIDDEN)
}

/// Load several key files into a [`crate::Keyring`], in the order given
/// (the legacy trial order).
pub fn load_keyring<P: AsRef<Path>>(paths: &[P], perms: Perms) -> Result<crate::Keyring, KeyFileError> {
    paths.iter().map(|p| load_private_key(p.as_ref(), perms)).collect()
}

/// Load the private key credential `name` from `$CREDENTIALS_DIRECTORY`
/// (systemd `LoadCredential=name:/path/to/key.pem`).
pub fn load_credential(name: &str, perms: Perms) -> Result<PrivateKey, KeyFileError> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")
        .filter(|d| !d.is_empty())
        .ok_or(KeyFileError::NoCredentialsDirectory)?;
    load_credential_from(Path::new(&dir), name, perms)
}

/// Load the credential `name` from an explicit credentials directory.
pub fn load_credential_from(dir: &Path, name: &str, perms: Perms) -> Result<PrivateKey, KeyFileError> {
    let plain = !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0');
    if !plain {
        return Err(KeyFileError::BadCredentialName(name.to_owned()));
    }
    load_checked(&dir.join(name), perms, CREDENTIAL_FORBIDDEN)
}

/// Load an SPKI (`BEGIN PUBLIC KEY`: RSA or X-Wing) or PKCS#1 (`BEGIN RSA
/// PUBLIC KEY`) PEM public key. No permission check: it is public.
pub fn load_public_key(path: &Path) -> Result<PublicKey, KeyFileError> {
    let mut file = open_regular(path)?;
    let pem = read_capped(&mut file, path)?;
    let text = pem_str(&pem, path)?;
    PublicKey::from_pem_named(Backend::ACTIVE, text, &path.display().to_string())
}

fn load_checked(path: &Path, perms: Perms, forbidden: u32) -> Result<PrivateKey, KeyFileError> {
    let mut file = open_regular(path)?;
    if perms == Perms::Strict {
        let mode = file.metadata().map_err(|e| io_err(path, e))?.mode() & 0o7777;
        check_mode(path, mode, forbidden)?;
    }
    let pem = read_capped(&mut file, path)?;
    let text = pem_str(&pem, path)?;
    PrivateKey::from_pem_named(Backend::ACTIVE, text, &path.display().to_string())
    // `pem` is wiped here.
}

fn check_mode(path: &Path, mode: u32, forbidden: u32) -> Result<(), KeyFileError> {
    let bad = mode & forbidden;
    if bad == 0 {
        return Ok(());
    }
    let who = match (bad & 0o070 != 0, bad & 0o007 != 0) {
        (true, true) => "group and others",
        (true, false) => "group",
        _ => "others",
    };
    Err(KeyFileError::Permissions { path: path.to_owned(), mode, who })
}

fn open_regular(path: &Path) -> Result<File, KeyFileError> {
    // O_NONBLOCK so a FIFO planted at the path cannot hang the open; the
    // regular-file check below then refuses it.
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| io_err(path, e))?;
    let meta = file.metadata().map_err(|e| io_err(path, e))?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile { path: path.to_owned() });
    }
    Ok(file)
}

/// Read at most `MAX_PEM_BYTES` into a buffer allocated once and wiped on drop.
fn read_capped(file: &mut File, path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let mut buf = Zeroizing::new(vec![0u8; MAX_PEM_BYTES + 1]);
    let mut len = 0;
    loop {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len > MAX_PEM_BYTES {
                    return Err(KeyFileError::TooLarge { path: path.to_owned(), max: MAX_PEM_BYTES });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(path, e)),
        }
    }
    buf.truncate(len); // the tail stays in capacity and is wiped on drop too
    Ok(buf)
}

fn pem_str<'a>(pem: &'a [u8], path: &Path) -> Result<&'a str, KeyFileError> {
    std::str::from_utf8(pem).map_err(|_| KeyFileError::Parse {
        origin: path.display().to_string(),
        what: "not PEM: the file is not text".to_owned(),
    })
}

fn io_err(path: &Path, source: std::io::Error) -> KeyFileError {
    KeyFileError::Io { path: path.to_owned(), source }
}

/// What [`write_keypair`] or [`write_xwing_keypair`] wrote.
#[derive(Debug)]
pub struct WrittenKeypair {
    /// `dir/priv.pem`: PKCS#8 PEM, mode 0600 (for X-Wing, the 32-byte seed).
    pub private_path: PathBuf,
    /// `dir/pub.pem`: SPKI PEM, mode 0644.
    pub public_path: PathBuf,
    /// The new public key (for its fingerprint).
    pub public: PublicKey,
}

/// Smallest modulus `write_keypair` accepts: it writes real keys.
pub const MIN_WRITE_BITS: usize = 2048;

/// Generate a `bits`-bit RSA key and write `dir/priv.pem` (PKCS#8, created
/// 0600 with `O_EXCL`, so never readable by others and never overwriting) and
/// `dir/pub.pem` (SPKI). Refuses if either file exists. `dir` must exist.
pub fn write_keypair(dir: &Path, bits: usize) -> Result<WrittenKeypair, KeyFileError> {
    if bits < MIN_WRITE_BITS {
        return Err(KeyFileError::Generate(format!(
            "{bits} bits is too small for a stored key (minimum {MIN_WRITE_BITS})"
        )));
    }
    write_generated(dir, || PrivateKey::generate(bits))
}

/// Generate an X-Wing key and write `dir/priv.pem` (PKCS#8 holding the
/// 32-byte seed, as the X-Wing draft encodes it; 0600, `O_EXCL`) and
/// `dir/pub.pem` (SPKI holding the 1,216-byte public key). Refuses if either
/// file exists, and in a build without the `aws-lc` backend.
pub fn write_xwing_keypair(dir: &Path) -> Result<WrittenKeypair, KeyFileError> {
    write_generated(dir, PrivateKey::generate_xwing)
}

fn write_generated(
    dir: &Path,
    generate: impl FnOnce() -> Result<PrivateKey, KeyFileError>,
) -> Result<WrittenKeypair, KeyFileError> {
    let private_path = dir.join("priv.pem");
    let public_path = dir.join("pub.pem");
    // Fail fast before the slow generation; O_EXCL below is the real guard.
    for p in [&private_path, &public_path] {
        if fs::symlink_metadata(p).is_ok() {
            return Err(KeyFileError::Exists { path: p.clone() });
        }
    }
    let key = generate()?;
    let private_pem = key.to_pkcs8_pem()?;
    let public = key.public_key().clone();

    write_new(&private_path, 0o600, private_pem.as_bytes())?;
    if let Err(e) = write_new(&public_path, 0o644, public.to_pem().as_bytes()) {
        // Do not leave a private key without its public half.
        let _ = fs::remove_file(&private_path);
        return Err(e);
    }
    // Make the new directory entries durable; a failure here is not fatal.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(WrittenKeypair { private_path, public_path, public })
}

/// Create `path` exclusively with `mode` (umask can only narrow it) and write it.
fn write_new(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), KeyFileError> {
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFileError::Exists { path: path.to_owned() },
            _ => io_err(path, e),
        })?;
    let res = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = res {
        let _ = fs::remove_file(path);
        return Err(io_err(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_policy() {
        let p = Path::new("/k.pem");
        for ok in [0o600, 0o400, 0o700, 0o4600] {
            check_mode(p, ok & 0o7777, KEY_FILE_FORBIDDEN).unwrap();
        }
        for bad in [0o644, 0o640, 0o604, 0o660, 0o610, 0o601] {
            assert!(check_mode(p, bad, KEY_FILE_FORBIDDEN).is_err(), "{bad:o}");
        }
        for ok in [0o400, 0o440, 0o600, 0o640] {
            check_mode(p, ok, CREDENTIAL_FORBIDDEN).unwrap();
        }
        for bad in [0o444, 0o460, 0o404, 0o402] {
            assert!(check_mode(p, bad, CREDENTIAL_FORBIDDEN).is_err(), "{bad:o}");
        }
        let msg = check_mode(p, 0o644, KEY_FILE_FORBIDDEN).unwrap_err().to_string();
        assert!(msg.contains("0644") && msg.contains("chmod 600 /k.pem"), "{msg}");
        assert!(msg.contains("group and others"), "{msg}");
    }
}
