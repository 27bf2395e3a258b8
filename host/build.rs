//! Build facts for `--version` and the `cybexp_archive_build_info` metric
//! (`src/build_info.rs`): the git commit, the wasmtime version and the
//! profile, handed to the crate as `CYBEXP_BUILD_*` variables. The RSA
//! backend is not here: `cybexp_keys::Backend::ACTIVE` already knows it.
//!
//! Each fact is "unknown" where it cannot be had (a source tarball without
//! `.git`, no `git` on the path, no lock file beside the workspace): a build
//! never fails for want of its label.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // Only this workspace's own checkout counts: a source tarball unpacked
    // inside some other repository must not take that one's commit.
    let workspace = manifest_dir.join("..").canonicalize().ok();
    let toplevel =
        git(&manifest_dir, &["rev-parse", "--show-toplevel"]).and_then(|t| Path::new(&t).canonicalize().ok());
    let ours = workspace.is_some() && workspace == toplevel;
    let commit = ours.then(|| git(&manifest_dir, &["rev-parse", "--short=12", "HEAD"])).flatten();
    let commit = commit.unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CYBEXP_BUILD_COMMIT={commit}");
    // Rebuild when the commit moves, not on every build: HEAD (a branch
    // switch), the branch's ref (a commit) and packed-refs (after gc).
    // Paths are named only where they exist: a missing one reruns always.
    if ours {
        let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
        watched.extend(git(&manifest_dir, &["symbolic-ref", "-q", "HEAD"]));
        for name in watched {
            if let Some(path) = git(&manifest_dir, &["rev-parse", "--git-path", &name]) {
                rerun_if_exists(&manifest_dir.join(path));
            }
        }
    }

    let lock = manifest_dir.join("../Cargo.lock");
    rerun_if_exists(&lock);
    let wasmtime = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|text| package_version(&text, "wasmtime"))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CYBEXP_BUILD_WASMTIME={wasmtime}");

    // Cargo's PROFILE is `debug` or `release` (the base of a custom profile).
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=CYBEXP_BUILD_PROFILE={profile}");
}

/// `git ARGS` in `dir`, trimmed; `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn rerun_if_exists(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// The version of package `name` in a Cargo.lock (the first, should the
/// lock hold two): the line after its `name = "..."`.
fn package_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.find(|line| line.trim() == wanted)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
    Some(version.to_owned())
}
