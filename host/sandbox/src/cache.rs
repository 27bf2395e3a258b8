//! The compiled-artifact cache: what Cranelift made of a parser component,
//! kept on disk so a process start deserializes it instead of compiling it
//! again (about a second of CPU for the built-in parsers, a few milliseconds
//! from the cache).
//!
//! A file is `<component-sha256>-<engine-key>.cwasm`: the hex SHA-256 of the
//! component bytes, and the hex SHA-256 of the engine's
//! [`Engine::precompile_compatibility_hash`] (wasmtime's version, the
//! engine's `Config`, the target and its CPU features), so another wasmtime,
//! another configuration or another CPU simply finds no file. Its content is
//! the SHA-256 of the artifact (32 bytes) followed by the artifact, the bytes
//! [`Engine::precompile_component`] produces (here [`Component::serialize`]
//! of the component just compiled, the same image).
//!
//! Trust: a deserialized artifact is native code that runs as the archiver,
//! unchecked, so only artifacts this archiver wrote are loaded. The directory
//! must be a real directory (no symlink), owned by the effective uid and not
//! writable by group or others ([`ArtifactCache::open`] creates it 0700); an
//! artifact must be a regular file owned by the same uid, not group/other
//! writable, and its digest must match. Anything else (damage, truncation,
//! a foreign file, an artifact wasmtime refuses) is recompiled and the file
//! rewritten; the cache can cost a compile, never a load. Files are written
//! to a 0600 temporary file in the same directory and renamed into place,
//! so concurrent processes sharing the directory only ever see whole files.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// File name suffix of an artifact.
pub const ARTIFACT_EXTENSION: &str = "cwasm";

/// Bytes of the digest that heads every artifact file.
const HEADER_LEN: usize = 32;

/// Why a cache directory is refused.
#[derive(Debug, thiserror::Error)]
pub enum CacheDirError {
    #[error("artifact cache {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("artifact cache {} is a symlink; point the config at the real directory", path.display())]
    Symlink { path: PathBuf },
    #[error("artifact cache {} is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error(
        "artifact cache {} is owned by uid {owner}, not by this process's uid {uid}; \
         compiled code is only loaded from a directory only this user can write",
        path.display()
    )]
    NotOwned { path: PathBuf, owner: u32, uid: u32 },
    #[error(
        "artifact cache {} has mode {mode:04o}: writable by {who}; compiled code is only \
         loaded from a directory only its owner can write (chmod 700)",
        path.display()
    )]
    Writable { path: PathBuf, mode: u32, who: &'static str },
}

/// A checked cache directory. See the module docs for what is trusted.
#[derive(Clone, Debug)]
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// Opens `dir`, creating it (and its parents) 0700 if missing. Refuses
    /// a symlink, a non-directory, a directory owned by another uid and one
    /// writable by group or others.
    pub fn open(dir: impl AsRef<Path>) -> Result<ArtifactCache, CacheDirError> {
        let dir = dir.as_ref();
        let io = |source| CacheDirError::Io { path: dir.to_owned(), source };
        let meta = match std::fs::symlink_metadata(dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
                std::fs::symlink_metadata(dir).map_err(io)?
            }
            Err(e) => return Err(io(e)),
        };
        if meta.file_type().is_symlink() {
            return Err(CacheDirError::Symlink { path: dir.to_owned() });
        }
        if !meta.is_dir() {
            return Err(CacheDirError::NotADirectory { path: dir.to_owned() });
        }
        let uid = nix::unistd::geteuid().as_raw();
        if meta.uid() != uid {
            return Err(CacheDirError::NotOwned { path: dir.to_owned(), owner: meta.uid(), uid });
        }
        let mode = meta.mode() & 0o7777;
        if let Some(who) = writable_by(mode) {
            return Err(CacheDirError::Writable { path: dir.to_owned(), mode, who });
        }
        Ok(ArtifactCache { dir: dir.to_owned() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact of a component (by [`component_digest`]) compiled
    /// by an engine (by [`engine_key`]) lives.
    pub fn artifact_path(&self, component_digest: &str, engine_key: &str) -> PathBuf {
        self.dir.join(format!("{component_digest}-{engine_key}.{ARTIFACT_EXTENSION}"))
    }

    /// The component from a verified artifact, or why there is none usable:
    /// `Ok(None)` when no file exists, `Err(reason)` when one exists but is
    /// not loaded.
    fn read(&self, engine: &Engine, path: &Path) -> Result<Option<Component>, String> {
        // O_NOFOLLOW: a symlink is refused (ELOOP), never followed;
        // O_NONBLOCK: a FIFO cannot hang the open (refused below).
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot open it: {e}")),
        };
        let bytes = read_trusted(file)?;
        if bytes.len() < HEADER_LEN {
            return Err(format!("truncated: {} bytes", bytes.len()));
        }
        let (digest, artifact) = bytes.split_at(HEADER_LEN);
        if Sha256::digest(artifact).as_slice() != digest {
            return Err("damaged: its SHA-256 does not match".into());
        }
        // SAFETY: `Component::deserialize` maps `artifact` as native code
        // and trusts it completely (wasmtime checks only its format and the
        // engine compatibility, not the code). What makes that sound here:
        // the bytes are those this archiver wrote, from `Component::serialize`
        // of a component it compiled itself with an engine of the same
        // compatibility key (the file name). Only this user (or root) can
        // have written them: the directory was checked by `ArtifactCache::open` to be a
        // real directory owned by our uid and not writable by group or
        // others, and this file (opened without following symlinks) to be a
        // regular file owned by our uid and not group/other-writable
        // (`read_trusted`, on the open descriptor, so no check/use race).
        // The SHA-256 just checked shows it is whole and undamaged. Anyone
        // able to write there could already run code as this user.
        let component = unsafe { Component::deserialize(engine, artifact) };
        component.map(Some).map_err(|e| format!("wasmtime refused it: {e:#}"))
    }

    /// Writes an artifact atomically: a 0600 temporary file in the cache
    /// directory, renamed over `path`.
    fn write(&self, path: &Path, artifact: &[u8]) -> std::io::Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp =
            self.dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&temp)?;
            file.write_all(&Sha256::digest(artifact))?;
            file.write_all(artifact)?;
            // No fsync: after a crash a torn file fails its digest and is
            // recompiled, which is all a cache owes.
            drop(file);
            std::fs::rename(&temp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }
}

/// Reads an opened artifact after checking what it is and who could write it.
fn read_trusted(mut file: File) -> Result<Vec<u8>, String> {
    let meta = file.metadata().map_err(|e| format!("cannot stat it: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(format!("owned by uid {}, not {uid}", meta.uid()));
    }
    let mode = meta.mode() & 0o7777;
    if let Some(who) = writable_by(mode) {
        return Err(format!("mode {mode:04o}: writable by {who}"));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(|e| format!("cannot read it: {e}"))?;
    Ok(bytes)
}

fn writable_by(mode: u32) -> Option<&'static str> {
    match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => Some("group and others"),
        (true, false) => Some("group"),
        (false, true) => Some("others"),
        (false, false) => None,
    }
}

/// Hex SHA-256 of component bytes: the first half of an artifact's name,
/// and [`crate::ParserInfo::component_sha256`].
pub fn component_digest(component: &[u8]) -> String {
    cybexp_tahoe::digest::sha256_hex(&[component])
}

/// Hex SHA-256 of the engine's [`Engine::precompile_compatibility_hash`]:
/// equal for two engines exactly when an artifact of one loads in the other.
pub fn engine_key(engine: &Engine) -> String {
    use std::hash::Hash;
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    cybexp_tahoe::digest::hex(&hasher.0.finalize().into())
}

/// Feeds what a `Hash` impl writes into SHA-256 (std's hashers are 64-bit
/// and not meant to be stable).
struct Sha256Hasher(Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("a SHA-256 has 8 bytes"))
    }
}

/// How the artifacts of a sandbox's loads came about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Components compiled (with or without a cache).
    pub compiled: usize,
    /// Components deserialized from a verified artifact (nothing compiled).
    pub cache_hits: usize,
    /// Artifacts present but not used (damaged, truncated, foreign, refused
    /// by wasmtime): each was recompiled and rewritten.
    pub rejected: usize,
    /// Artifacts that could not be written (the compiled component was used).
    pub write_failures: usize,
}

/// Something the cache could not do, for the host to log. Never fatal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parser {parser:?}: artifact {}: {kind}: {message}", path.display())]
pub struct CacheProblem {
    pub parser: String,
    pub path: PathBuf,
    pub kind: CacheProblemKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheProblemKind {
    /// An artifact was there and not used; the component was recompiled.
    Rejected,
    /// The fresh artifact could not be written.
    WriteFailed,
}

impl std::fmt::Display for CacheProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CacheProblemKind::Rejected => "not used, recompiled",
            CacheProblemKind::WriteFailed => "not written",
        })
    }
}

/// A sandbox's side of the cache: the directory (if any) with its engine's
/// key, and the account of every load.
#[derive(Default)]
pub(crate) struct Artifacts {
    cache: Option<(ArtifactCache, String)>,
    stats: CacheStats,
    problems: Vec<CacheProblem>,
}

impl Artifacts {
    pub(crate) fn set_cache(&mut self, engine: &Engine, cache: Option<ArtifactCache>) {
        self.cache = cache.map(|cache| (cache, engine_key(engine)));
    }

    pub(crate) fn cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_ref().map(|(cache, _)| cache)
    }

    pub(crate) fn path(&self, component_digest: &str) -> Option<PathBuf> {
        self.cache.as_ref().map(|(cache, key)| cache.artifact_path(component_digest, key))
    }

    pub(crate) fn stats(&self) -> CacheStats {
        self.stats
    }

    pub(crate) fn problems(&self) -> &[CacheProblem] {
        &self.problems
    }

    /// The compiled component: from the cache when a verified artifact is
    /// there, else compiled (and then written to the cache, if there is one).
    /// Errors are the compiler's only.
    pub(crate) fn component(
        &mut self,
        engine: &Engine,
        parser: &str,
        digest: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let Artifacts { cache, stats, problems } = self;
        let Some((cache, key)) = cache.as_ref() else {
            stats.compiled += 1;
            return Component::new(engine, bytes);
        };
        let path = cache.artifact_path(digest, key);
        let mut problem = |kind, message| {
            problems.push(CacheProblem { parser: parser.to_owned(), path: path.clone(), kind, message });
        };
        match cache.read(engine, &path) {
            Ok(Some(component)) => {
                stats.cache_hits += 1;
                return Ok(component);
            }
            Ok(None) => {}
            Err(message) => {
                stats.rejected += 1;
                problem(CacheProblemKind::Rejected, message);
            }
        }
        stats.compiled += 1;
        let component = Component::new(engine, bytes)?;
        let written = component
            .serialize()
            .map_err(|e| format!("{e:#}"))
            .and_then(|artifact| cache.write(&path, &artifact).map_err(|e| e.to_string()));
        if let Err(message) = written {
            stats.write_failures += 1;
            problem(CacheProblemKind::WriteFailed, message);
        }
        Ok(component)
    }
}
/// `[sandbox]` in the config: whether to keep compiled parsers on disk,
/// and where. (Where by default is the host's to resolve from its
/// environment: systemd's `$CACHE_DIRECTORY`, else
/// `$XDG_CACHE_HOME/cybexp-archive`, else `~/.cache/cybexp-archive`.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Keep the compiled parsers on disk, so a start deserializes them
    /// instead of compiling them again.
    pub cache: bool,
    /// The cache directory; absent: the host's default.
    pub cache_dir: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig { cache: true, cache_dir: None }
    }
}
