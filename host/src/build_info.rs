//! What this binary is: its version, git commit, RSA backend, wasmtime
//! version and build profile, for `--version`, the status snapshot's
//! identity and `cybexp_archive_build_info`. The commit, wasmtime and
//! profile come from `build.rs`; the RSA backend from `cybexp-keys`, which
//! decides it.

use std::sync::LazyLock;

/// The facts, each a short word ("unknown" where the build could not tell).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: &'static str,
    /// The short git commit the binary was built from.
    pub commit: &'static str,
    /// `aws-lc` or `rust-crypto`: the backend that opens envelopes.
    pub rsa_backend: &'static str,
    pub wasmtime: &'static str,
    /// `debug` or `release`.
    pub profile: &'static str,
}

/// This binary's.
pub fn current() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("CYBEXP_BUILD_COMMIT"),
        rsa_backend: cybexp_keys::Backend::ACTIVE.as_str(),
        wasmtime: env!("CYBEXP_BUILD_WASMTIME"),
        profile: env!("CYBEXP_BUILD_PROFILE"),
    }
}

/// `--version`: the version, then one fact per line.
pub fn long_version() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        let b = current();
        format!(
            "{}\ncommit       {}\nrsa backend  {}\nwasmtime     {}\nprofile      {}",
            b.version, b.commit, b.rsa_backend, b.wasmtime, b.profile
        )
    });
    TEXT.as_str()
}
