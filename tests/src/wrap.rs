//! Ways to start the archiver as it runs elsewhere: with its clock off
//! (libfaketime, Debian's `faketime`), or as if on another host (a UTS
//! namespace of its own, with another host name). Each gives the words to
//! put before the binary; [`crate::Archiver::command_wrapped`] uses them.
//! Missing tools skip the test loudly, or fail it under `CI=true`.

use std::process::{Command, Stdio};

/// The wall clock moved by `offset` (libfaketime's syntax: `+600s`,
/// `-10m`), the monotonic clock left alone (so timeouts and sleeps keep
/// their length). The library is preloaded into the binary itself, not run
/// through the `faketime` command, which forks: killing it would leave the
/// archiver running. `None` (skipped) without libfaketime.
pub fn skewed_clock(test: &str, offset: &str) -> Option<Vec<String>> {
    let Some(library) = libfaketime() else {
        return crate::mongo::skip(test, "libfaketime (Debian package faketime) is not installed");
    };
    Some(vec![
        "env".into(),
        format!("LD_PRELOAD={}", library.display()),
        format!("FAKETIME={offset}"),
        "FAKETIME_DONT_FAKE_MONOTONIC=1".into(),
    ])
}

/// Where Debian puts libfaketime (under the multiarch library directory).
fn libfaketime() -> Option<std::path::PathBuf> {
    let lib = std::fs::read_dir("/usr/lib").ok()?;
    lib.flatten().map(|dir| dir.path().join("faketime/libfaketime.so.1")).find(|path| path.is_file())
}

/// A UTS namespace whose host name is `name`, so the archiver's claims
/// carry another host (its own process ids mean nothing to the others).
/// Needs root (as CI runs); `None` (skipped) where it cannot be had.
pub fn other_host(test: &str, name: &str) -> Option<Vec<String>> {
    if !runs(Command::new("unshare").args(["--uts", "sh", "-c", &format!("hostname {name}")])) {
        return crate::mongo::skip(test, "`unshare --uts` (util-linux, as root) cannot make another host name here");
    }
    Some(vec![
        "unshare".into(),
        "--uts".into(),
        "sh".into(),
        "-c".into(),
        format!("hostname {name} && exec \"$@\""),
        "sh".into(),
    ])
}

fn runs(command: &mut Command) -> bool {
    command.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
}
