//! What every test of the workspace shares, each in one place:
//!
//! - [`shared`]: the path to the shared reference data (`../shared` beside
//!   the repository, where CI puts it too; `CYBEXP_SHARED` overrides it);
//! - [`skip`] and [`tool_or_skip`]: one skip policy. A test that cannot run
//!   here says SKIPPED on stderr (the harness shows stderr of a passing
//!   test only with `--nocapture`, so it is written straight to the
//!   stream); under `CI=true` nothing may be skipped, and it fails;
//! - [`wait_for`]: polling a condition with a deadline, and saying what was
//!   last seen when it never came.
//!
//! Durations in tests are deadlines for behaviour, never measurements:
//! speed is the benches' to measure.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The shared reference data directory.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("CYBEXP_SHARED") {
        Some(dir) => PathBuf::from(dir),
        // This crate is `<repo>/test-kit`: the data is beside the repository.
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// A path inside the shared reference data, e.g. `vectors/raw_documents.json`.
pub fn shared(path: &str) -> PathBuf {
    shared_dir().join(path)
}

/// A text file of the shared reference data; panics naming the file.
pub fn shared_text(path: &str) -> String {
    let file = shared(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

/// Whether this is CI (`CI=true`), where nothing may be skipped.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Gives up on `test` because of `why`: a loud SKIPPED line, or under
/// `CI=true` a failure. Returns `None` for `let Some(x) = … else { return }`.
pub fn skip<T>(test: &str, why: &str) -> Option<T> {
    assert!(!under_ci(), "CI=true and {test} cannot run: {why}");
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED *** {test}: {why}\n");
    None
}

/// `tool` on the `PATH`, or [`skip`] (`.ci/run` installs the tools the
/// tests use).
pub fn tool_or_skip(test: &str, tool: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|p| p.is_file()));
    found.or_else(|| skip(test, &format!("no {tool} on the PATH (install it to run this test)")))
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout`
/// with `what` and the last thing `f` saw (what it wrote to its argument).
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut(&mut String) -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut seen = String::new();
    loop {
        if let Some(value) = f(&mut seen) {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}; last seen:\n{seen}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_data_is_found() {
        assert!(shared("vectors").is_dir(), "{}", shared_dir().display());
    }

    #[test]
    fn wait_for_returns_what_came_and_names_what_never_did() {
        let mut n = 0;
        assert_eq!(
            wait_for("the third try", Duration::from_secs(10), |_| (n == 2).then_some(7).or_else(|| {
                n += 1;
                None
            })),
            7
        );
        let never = std::panic::catch_unwind(|| {
            wait_for("nothing", Duration::ZERO, |seen: &mut String| -> Option<()> {
                *seen = "still nothing".into();
                None
            })
        });
        let message = *never.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("waiting for nothing") && message.contains("still nothing"), "{message}");
    }
}
