//! The Debian package (`scripts/package.sh`) built from the test build's
//! binary, unpacked into a scratch root with `dpkg -x`: every file where the
//! script says, the binary runs from there, the unit points at files the
//! package has and passes `systemd-analyze verify`, the config is a
//! conffile, and lintian finds no error or
//! warning that `dist/lintian-overrides` does not explain.
//!
//! Needs dpkg-dev (`dpkg-shlibdeps`), lintian and `systemd-analyze`; without
//! them the tests say SKIPPED, and fail under `CI=true` (`.ci/run` installs
//! them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use cybexp_tests::{archiver_bin, tool_or_skip};

const NAME: &str = "cybexp-archive";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The package, built once for the tests of this file, and its scratch root.
struct Built {
    _dir: tempfile::TempDir,
    deb: PathBuf,
    root: PathBuf,
}

fn built(test: &str) -> Option<&'static Built> {
    static BUILT: OnceLock<Built> = OnceLock::new();
    tool_or_skip(test, "dpkg-shlibdeps")?;
    Some(BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(repo().join("scripts/package.sh"))
            .arg(dir.path().join("out"))
            .env("BIN", archiver_bin())
            .output()
            .unwrap();
        assert!(out.status.success(), "package.sh: {}", String::from_utf8_lossy(&out.stderr));
        let deb = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        assert!(deb.is_file(), "package.sh printed {}", deb.display());
        let root = dir.path().join("root");
        run(Command::new("dpkg").arg("-x").arg(&deb).arg(&root));
        Built { _dir: dir, deb, root }
    }))
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn gunzip(path: &Path) -> String {
    run(Command::new("gzip").arg("-dc").arg(path))
}

#[test]
fn every_file_is_where_the_package_says() {
    let Some(built) = built("every_file_is_where_the_package_says") else { return };
    let root = &built.root;
    let at = |path: &str| root.join(path.trim_start_matches('/'));
    let executable = at("/usr/bin/cybexp-archive");
    assert_eq!(mode(&executable), 0o755);
    let version = run(Command::new(&executable).arg("-V"));
    assert_eq!(version.trim(), format!("{NAME} {}", env!("CARGO_PKG_VERSION")));
    // Stripped: no symbol table left.
    let sections = run(Command::new("readelf").arg("-S").arg(&executable));
    assert!(!sections.contains(".symtab"), "the binary is not stripped");

    for (path, mode_bits) in [
        ("/lib/systemd/system/cybexp-archive.service", 0o644),
        ("/etc/cybexp-archive/archiver.toml", 0o644),
        ("/usr/share/man/man1/cybexp-archive.1.gz", 0o644),
        ("/usr/share/bash-completion/completions/cybexp-archive", 0o644),
        ("/usr/share/zsh/vendor-completions/_cybexp-archive", 0o644),
        ("/usr/share/fish/vendor_completions.d/cybexp-archive.fish", 0o644),
        ("/usr/share/doc/cybexp-archive/copyright", 0o644),
        ("/usr/share/doc/cybexp-archive/changelog.Debian.gz", 0o644),
        ("/usr/share/lintian/overrides/cybexp-archive", 0o644),
    ] {
        assert_eq!(mode(&at(path)), mode_bits, "{path}");
    }
    let config = std::fs::read_to_string(at("/etc/cybexp-archive/archiver.toml")).unwrap();
    assert_eq!(config, std::fs::read_to_string(repo().join("dist/archiver.toml")).unwrap());

    // The man page and the completions come from the binary's own command
    // line: they know its newest subcommand.
    let man = gunzip(&at("/usr/share/man/man1/cybexp-archive.1.gz"));
    assert!(man.contains(".TH cybexp-archive 1"), "{man}");
    assert!(man.contains("check\\-config"), "the man page lists the subcommands:\n{man}");
    // Each shell's own script (what only that shell's generator writes).
    for (completion, marker) in [
        ("/usr/share/bash-completion/completions/cybexp-archive", "complete -F _cybexp__archive"),
        ("/usr/share/zsh/vendor-completions/_cybexp-archive", "#compdef cybexp-archive"),
        ("/usr/share/fish/vendor_completions.d/cybexp-archive.fish", "complete -c cybexp-archive"),
    ] {
        let text = std::fs::read_to_string(at(completion)).unwrap();
        assert!(text.contains(marker) && text.contains("check-config"), "{completion}:\n{text}");
    }
    assert!(gunzip(&at("/usr/share/doc/cybexp-archive/changelog.Debian.gz")).starts_with(&format!("{NAME} (")));
}

/// The unit runs the packaged binary (check-config first), and the docs its
/// `Documentation=` names are in the package.
#[test]
fn the_unit_runs_the_packaged_binary_and_its_docs_are_installed() {
    let Some(built) = built("the_unit_runs_the_packaged_binary_and_its_docs_are_installed") else { return };
    let unit = std::fs::read_to_string(built.root.join("lib/systemd/system/cybexp-archive.service")).unwrap();
    let value = |key: &str| -> Vec<&str> {
        unit.lines().filter_map(|l| l.strip_prefix(key).and_then(|l| l.strip_prefix('='))).collect()
    };
    let pre = value("ExecStartPre");
    assert!(pre.len() == 1 && pre[0].starts_with("/usr/bin/cybexp-archive ") && pre[0].ends_with(" check-config"));
    let start = value("ExecStart");
    assert!(start.len() == 1 && start[0].starts_with("/usr/bin/cybexp-archive ") && start[0].ends_with(" run"));
    assert!(!unit.contains("/usr/local/bin"), "the unit still names /usr/local/bin");

    let docs: Vec<&str> = value("Documentation").into_iter().flat_map(str::split_whitespace).collect();
    assert!(docs.len() >= 2, "{docs:?}");
    for doc in docs {
        let path = doc.strip_prefix("file://").unwrap_or_else(|| panic!("{doc} is not a file:// URL"));
        assert!(built.root.join(path.trim_start_matches('/')).is_file(), "Documentation={doc} is not in the package");
    }
    // Every page of docs/, so the links between them hold.
    for entry in std::fs::read_dir(repo().join("docs/operating")).unwrap() {
        let name = entry.unwrap().file_name();
        let installed = built.root.join("usr/share/doc/cybexp-archive/docs/operating").join(&name);
        assert!(installed.is_file(), "{} is not installed", installed.display());
    }
}

/// `systemd-analyze verify` on the packaged unit, its binary pointed at the
/// scratch root's: no error and no warning (an unknown or misspelt key is
/// only a warning, and would be ignored at run time).
#[test]
fn the_packaged_unit_passes_systemd_analyze_verify() {
    let test = "the_packaged_unit_passes_systemd_analyze_verify";
    let Some(built) = built(test) else { return };
    let Some(analyze) = tool_or_skip(test, "systemd-analyze") else { return };
    let unit = std::fs::read_to_string(built.root.join("lib/systemd/system/cybexp-archive.service")).unwrap();
    let binary = built.root.join("usr/bin/cybexp-archive");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("cybexp-archive.service");
    std::fs::write(&copy, unit.replace("/usr/bin/cybexp-archive", binary.to_str().unwrap())).unwrap();
    let out = Command::new(analyze).arg("verify").arg(&copy).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
}

#[test]
fn the_control_data_names_the_conffile_and_the_dependencies() {
    let Some(built) = built("the_control_data_names_the_conffile_and_the_dependencies") else { return };
    let control = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-e").arg(&built.deb).arg(control.path()));
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert_eq!(conffiles.lines().collect::<Vec<_>>(), ["/etc/cybexp-archive/archiver.toml"]);
    let fields = std::fs::read_to_string(control.path().join("control")).unwrap();
    let field = |name: &str| {
        fields
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|l| l.strip_prefix(": ")))
            .unwrap_or_else(|| panic!("no {name}:\n{fields}"))
            .to_owned()
    };
    assert_eq!(field("Package"), NAME);
    assert_eq!(field("Version"), format!("{}-1", env!("CARGO_PKG_VERSION")));
    assert_eq!(field("Architecture"), run(Command::new("dpkg").arg("--print-architecture")).trim());
    assert!(field("Depends").contains("libc6 (>= "), "{fields}");
    // md5sums covers every file but the conffile (dpkg keeps those apart).
    let md5sums = std::fs::read_to_string(control.path().join("md5sums")).unwrap();
    assert!(md5sums.contains("  usr/bin/cybexp-archive\n"), "{md5sums}");
    assert!(!md5sums.contains("etc/"), "{md5sums}");
}

/// lintian: no error and no warning but those `dist/lintian-overrides`
/// explains (the overrides file is in the package, so lintian reads it).
#[test]
fn lintian_finds_nothing_unexplained() {
    let Some(built) = built("lintian_finds_nothing_unexplained") else { return };
    let Some(lintian) = tool_or_skip("lintian_finds_nothing_unexplained", "lintian") else { return };
    let out = Command::new(lintian).arg(&built.deb).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let findings: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ") || l.starts_with("W: ")).collect();
    assert!(
        findings.is_empty(),
        "lintian: fix these, or explain them in dist/lintian-overrides:\n{}\n{}",
        findings.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "lintian failed: {report}{}", String::from_utf8_lossy(&out.stderr));
}
