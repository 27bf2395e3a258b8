//! The key commands through the real binary: keygen, encrypt, decrypt.
//! (This file also makes `cargo test` build the binary that the end-to-end
//! suite in `tests/` drives.)

use std::path::Path;
use std::process::{Command, Output};

fn archiver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cybexp-archive"))
        .args(args)
        .env("CYBEXP_LOG", "warn")
        .env_remove("CYBEXP_ARCHIVE_CONFIG")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> Vec<u8> {
    let out = archiver(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_encrypt_decrypt_round_trip_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = String::from_utf8(ok(&["keygen", "--out", s(&keys), "--bits", "2048"])).unwrap();
    assert!(out.contains("key id:"), "{out}");
    let (private, public) = (keys.join("priv.pem"), keys.join("pub.pem"));
    assert_eq!(mode(&private), 0o600);
    assert!(std::fs::read_to_string(&private).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));

    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, "{\"ioc\": \"198.51.100.7\"}").unwrap();
    for format in ["legacy", "v2"] {
        let blob = dir.path().join(format!("{format}.bin"));
        ok(&["encrypt", "--pub", s(&public), "--format", format, "-o", s(&blob), s(&plain)]);
        let blob_bytes = std::fs::read(&blob).unwrap();
        assert_eq!(blob_bytes.starts_with(b"CXPE"), format == "v2", "{format} envelope magic");
        assert_eq!(ok(&["decrypt", "--key", s(&private), s(&blob)]), std::fs::read(&plain).unwrap(), "{format}");
    }
    // keygen refuses to overwrite a key pair.
    let again = archiver(&["keygen", "--out", s(&keys), "--bits", "2048"]);
    assert!(!again.status.success());
}

/// `keygen --kind x-wing`, then the v3 envelope through `encrypt` (its
/// default for an X-Wing key) and `decrypt`, beside an RSA key; a format the
/// key cannot seal and a tampered v3 blob are refused, saying why.
#[test]
fn xwing_keygen_and_the_v3_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let (xwing, rsa) = (dir.path().join("x-wing"), dir.path().join("rsa"));
    let out = String::from_utf8(ok(&["keygen", "--kind", "x-wing", "--out", s(&xwing)])).unwrap();
    assert!(out.contains("kind:        x-wing"), "{out}");
    ok(&["keygen", "--out", s(&rsa), "--bits", "2048"]);
    let (private, public) = (xwing.join("priv.pem"), xwing.join("pub.pem"));
    assert_eq!(mode(&private), 0o600);
    assert_eq!(std::fs::read_to_string(&private).unwrap().lines().count(), 4, "a 32-byte seed in PKCS#8");
    let refused = archiver(&["keygen", "--kind", "x-wing", "--bits", "3072", "--out", s(&dir.path().join("x"))]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--bits is for RSA keys"));

    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, "{\"ioc\": \"198.51.100.7\"}").unwrap();
    let blob = dir.path().join("v3.bin");
    ok(&["encrypt", "--pub", s(&public), "-o", s(&blob), s(&plain)]);
    let bytes = std::fs::read(&blob).unwrap();
    assert!(bytes.starts_with(b"CXPE\x03\x64\x7a\x00\x01\x00\x02"), "v3 by default for an X-Wing key");
    let rsa_private = rsa.join("priv.pem");
    let both = ["decrypt", "--key", s(&rsa_private), "--key", s(&private)];
    assert_eq!(ok(&[&both[..], &[s(&blob)]].concat()), std::fs::read(&plain).unwrap());

    let out = archiver(&["encrypt", "--pub", s(&public), "--format", "legacy", s(&plain)]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("legacy envelope needs an RSA public key, and this one is x-wing"), "{stderr}");

    let mut tampered = bytes.clone();
    tampered[100] ^= 1; // in enc: ML-KEM's implicit rejection, then the tag fails
    std::fs::write(&blob, &tampered).unwrap();
    let out = archiver(&[&both[..], &[s(&blob)]].concat());
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("decrypt failed: auth: v3 envelope does not open"), "{stderr}");
}

#[test]
fn decrypt_failures_name_their_class() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    ok(&["keygen", "--out", s(&keys), "--bits", "2048"]);
    let (private, public) = (keys.join("priv.pem"), keys.join("pub.pem"));
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "secret feed").unwrap();
    let blob = dir.path().join("v2.bin");
    ok(&["encrypt", "--pub", s(&public), "-o", s(&blob), s(&plain)]);

    // A tampered v2 header (a byte of the key id) fails closed.
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[10] ^= 0x40;
    let tampered = dir.path().join("tampered.bin");
    std::fs::write(&tampered, &bytes).unwrap();
    let out = archiver(&["decrypt", "--key", s(&private), s(&tampered)]);
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("decrypt failed"), "{stderr}");
    assert!(out.stdout.is_empty(), "no plaintext on failure");

    // Truncated: format class.
    let short = dir.path().join("short.bin");
    std::fs::write(&short, &bytes[..20]).unwrap();
    let out = archiver(&["decrypt", "--key", s(&private), s(&short)]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8(out.stderr).unwrap().contains("format"));
}

#[test]
fn a_key_readable_by_others_is_refused_unless_overridden() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    ok(&["keygen", "--out", s(&keys), "--bits", "2048"]);
    let (private, public) = (keys.join("priv.pem"), keys.join("pub.pem"));
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "x").unwrap();
    let blob = dir.path().join("b.bin");
    ok(&["encrypt", "--pub", s(&public), "--format", "legacy", "-o", s(&blob), s(&plain)]);
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = archiver(&["decrypt", "--key", s(&private), s(&blob)]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains("BEGIN"), "no key material in the error");
    assert_eq!(ok(&["decrypt", "--key", s(&private), "--allow-insecure-key-permissions", s(&blob)]), b"x");
}

#[test]
fn parse_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let feed = file("feed.txt", b"http://a.example/\nhttps://b.example/x?y=1\n");
    let out = archiver(&["parse", "--typtag", "openphish_feed", "--orgid", "org-test", s(&feed)]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["sub_type"], "openphish_feed");
    assert_eq!(doc["_hash"], "c435dc3936c369cc4f11d1490c9039157facc0b90db129c7237e73d876535c75");
    assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), 1, "one JSON line");

    let out = archiver(&["parse", "--typtag", "no-such-feed", "--orgid", "o", s(&feed)]);
    assert_eq!(out.status.code(), Some(3));

    let garbage = file("garbage.txt", b"not a url at all");
    let out = archiver(&["parse", "--typtag", "openphish_feed", "--orgid", "o", s(&garbage)]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8(out.stderr).unwrap().contains("invalid_input"));

    let binary = file("binary.bin", b"\xff\xfe\x00");
    let out = archiver(&["parse", "--parser", "json", "--orgid", "o", s(&binary)]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8(out.stderr).unwrap().contains("UTF-8"));

    let bomb = file("bomb.json", format!("{}1{}", "{\"a\": ".repeat(30), "}".repeat(30)).as_bytes());
    let out = archiver(&["parse", "--parser", "json", "--sub-type", "x", "--orgid", "o", s(&bomb)]);
    assert_eq!(out.status.code(), Some(4));

    // No such parser is the archiver's trouble, as in the daemon (which
    // releases the entry): a retry, never an ERROR for the input.
    let out = archiver(&["parse", "--parser", "no-such-parser", "--orgid", "o", s(&feed)]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(stderr.starts_with("RETRY (the archiver's trouble, not the input's): "), "{stderr}");
}

/// `parse` with the artifact cache in `$XDG_CACHE_HOME` (no systemd
/// `$CACHE_DIRECTORY`), logging the cache's account; returns the output.
fn parse_with_cache(xdg_cache: &Path, extra: &[&str], file: &Path) -> Output {
    let mut args = extra.to_vec();
    args.extend(["parse", "--parser", "json", "--orgid", "o", s(file)]);
    Command::new(env!("CARGO_BIN_EXE_cybexp-archive"))
        .args(&args)
        .env("CYBEXP_LOG", "warn,cybexp_archive::context=debug")
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", xdg_cache)
        .env_remove("CACHE_DIRECTORY")
        .env_remove("CYBEXP_ARCHIVE_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn parse_fills_the_artifact_cache_then_compiles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    let file = dir.path().join("small.json");
    std::fs::write(&file, "{\"a\":1}").unwrap();
    let data = dir.path().join("data");
    let data_dir = ["--data-dir", s(&data)];

    let cold = parse_with_cache(&xdg, &data_dir, &file);
    let stderr = String::from_utf8_lossy(&cold.stderr);
    assert!(cold.status.success(), "{stderr}");
    assert!(stderr.contains("compiled=4 cache_hits=0"), "{stderr}");
    let cache = xdg.join("cybexp-archive");
    assert_eq!(mode(&cache), 0o700);
    let artifacts: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(artifacts.len(), 4, "{artifacts:?}");
    assert!(artifacts.iter().all(|p| p.extension().is_some_and(|e| e == "cwasm") && mode(p) == 0o600), "{artifacts:?}");

    let warm = parse_with_cache(&xdg, &data_dir, &file);
    let stderr = String::from_utf8_lossy(&warm.stderr);
    assert!(warm.status.success(), "{stderr}");
    assert!(stderr.contains("compiled=0 cache_hits=4"), "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
    assert_eq!(warm.stdout, cold.stdout);

    // A damaged artifact: a warning, a compile, the same document.
    let mut bytes = std::fs::read(&artifacts[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&artifacts[0], bytes).unwrap();
    let damaged = parse_with_cache(&xdg, &data_dir, &file);
    let stderr = String::from_utf8_lossy(&damaged.stderr);
    assert!(damaged.status.success(), "{stderr}");
    assert!(stderr.contains("WARN") && stderr.contains("recompiled") && stderr.contains("damaged"), "{stderr}");
    assert!(stderr.contains("compiled=1 cache_hits=3 rejected=1"), "{stderr}");
    assert_eq!(damaged.stdout, cold.stdout);
}

#[test]
fn a_refused_or_disabled_artifact_cache_never_fails_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.json");
    std::fs::write(&file, "{\"a\":1}").unwrap();
    let data = dir.path().join("data");

    // Group-writable: refused with a warning, compiled without it.
    let xdg = dir.path().join("xdg");
    let cache = xdg.join("cybexp-archive");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o770)).unwrap();
    let out = parse_with_cache(&xdg, &["--data-dir", s(&data)], &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not using the parser artifact cache") && stderr.contains("writable by group"), "{stderr}");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0, "nothing written there");

    // cache = false: no directory, no warning.
    let config = dir.path().join("archiver.toml");
    let off = dir.path().join("off");
    std::fs::write(&config, "[sandbox]\ncache = false\n").unwrap();
    let out = parse_with_cache(&off, &["--data-dir", s(&data), "--config", s(&config)], &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("WARN") && !off.exists(), "{stderr}");

    // A configured cache_dir wins over the environment.
    let configured = dir.path().join("configured");
    std::fs::write(&config, format!("[sandbox]\ncache_dir = {:?}\n", s(&configured))).unwrap();
    let out = parse_with_cache(&off, &["--data-dir", s(&data), "--config", s(&config)], &file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(&configured).unwrap().count(), 4);
    assert!(!off.exists());
}

/// `--log-format json` (or the config's `log_format`): every stderr line is
/// one JSON object with the text format's fields; the default stays text.
#[test]
fn json_logs_are_one_object_per_line_with_the_same_fields() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&["--data-dir", s(&data), "keygen", "--bits", "2048"]);
    let run = |extra: &[&str], config: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cybexp-archive"));
        cmd.args(["--data-dir", s(&data), "--log", "info"]).args(extra).env_remove("CYBEXP_ARCHIVE_CONFIG");
        cmd.env_remove("CYBEXP_LOG_FORMAT");
        if let Some(config) = config {
            cmd.args(["--config", s(config)]);
        }
        let out = cmd.arg("once").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    };
    let json_lines = |stderr: &str| {
        let lines: Vec<serde_json::Value> =
            stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect();
        assert!(!lines.is_empty());
        lines
    };
    let lines = json_lines(&run(&["--log-format", "json"], None));
    let loaded = lines.iter().find(|l| l["message"] == "private key loaded").expect("the key-loaded event");
    assert_eq!(loaded["level"], "INFO");
    assert_eq!(loaded["target"], "cybexp_archive::context");
    assert_eq!(loaded["bits"], 2048);
    assert_eq!(loaded["kind"], "rsa-2048");
    assert_eq!(loaded["key_id"].as_str().map(str::len), Some(64));
    assert!(loaded["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));

    let config = dir.path().join("archiver.toml");
    std::fs::write(&config, "log_format = \"json\"\n").unwrap();
    json_lines(&run(&[], Some(&config)));
    let text = run(&["--log-format", "text"], Some(&config));
    assert!(text.lines().any(|l| l.contains(" INFO ") && l.contains("private key loaded")), "{text}");
    assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()), "the flag wins: {text}");
}

/// The parser SDK's loop: the template crate builds to a component with one
/// command, and `parser check` accepts it and runs it on its sample.
#[test]
fn the_template_builds_to_a_component_that_passes_parser_check() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("template.wasm");
    let out = Command::new(env!("CARGO_BIN_EXE_cybexp-archive"))
        .args(["parser", "build", s(&workspace.join("guest-parsers/template")), "-o", s(&component)])
        // Its own target dir: `cargo test` holds the lock on the workspace's.
        .env("CARGO_TARGET_DIR", workspace.join("target/parser-build"))
        .env("CYBEXP_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("component: "));

    let sample = workspace.join("guest-parsers/template/tests/samples/indicator.json");
    let report = String::from_utf8(ok(&["parser", "check", s(&component), "--input", s(&sample)])).unwrap();
    assert!(report.contains("parser    template 0.1.0"), "{report}");
    assert!(
        report.contains("world     imports at most cybexp:parser/digest, exports cybexp:parser@0.2.0: ok"),
        "{report}"
    );
    assert!(report.contains("sample    SUCCESS  fuel "), "{report}");
    assert!(report.contains("\nrecords   none counted\n"), "the template counts no records: {report}");
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, "not an indicator").unwrap();
    let out = archiver(&["parser", "check", s(&component), "--input", s(&plain)]);
    assert_eq!(out.status.code(), Some(3), "NOT_SUPPORTED exits 3");
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT_SUPPORTED (no \"indicator\" field)"));
}

/// What the world forbids is refused with a reason: a component importing
/// a function (WASI or anything), a core module, bytes that are no wasm.
#[test]
fn parser_check_refuses_what_the_world_forbids() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("importer.wasm", wat::parse_str(r#"(component (import "now" (func)))"#).unwrap(), "must import nothing"),
        ("core.wasm", b"\0asm\x01\0\0\0".to_vec(), "a core WebAssembly module, not a component"),
        ("junk.wasm", b"#!/bin/sh\n".to_vec(), "not a valid component"),
    ];
    for (name, bytes, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let out = archiver(&["parser", "check", s(&file)]);
        assert!(!out.status.success(), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}

/// A submission's typtag is hostile: written raw into the text log, a
/// newline in it would forge a log line of the submitter's choosing and an
/// escape sequence would reach the operator's terminal. The text log
/// escapes both; the JSON log stays valid JSON with the typtag intact.
#[test]
fn a_hostile_typtag_cannot_forge_log_lines_or_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&["--data-dir", s(&data), "keygen", "--bits", "2048"]);
    let forged = "2026-01-01T00:00:00.000000Z ERROR cybexp_archive::context: private key file replaced by operator";
    let typtag = format!("feed\n{forged}\u{1b}[2J\u{202e}");
    let plain = dir.path().join("feed.json");
    std::fs::write(&plain, "{}").unwrap();
    ok(&["--data-dir", s(&data), "submit", "--typtag", &typtag, "--orgid", "o", s(&plain)]);
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_cybexp-archive"))
            .args(["--data-dir", s(&data), "--log", "info", "--log-format", format, "once", "--force"])
            .env_remove("CYBEXP_ARCHIVE_CONFIG")
            .env_remove("CYBEXP_LOG_FORMAT")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    };
    let text = run("text");
    let outcome =
        text.lines().find(|l| l.contains("NOT_SUPPORTED")).unwrap_or_else(|| panic!("no outcome line:\n{text}"));
    assert!(outcome.contains("typtag=feed\\n2026-01-01"), "the typtag is in the line, escaped: {outcome}");
    assert!(!text.lines().any(|l| l.starts_with(forged)), "a forged line:\n{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "raw control characters reached the log:\n{text:?}"
    );
    assert!(text.contains("\\u{1b}[2J\\u{202e}"), "{text}");

    // The same run again (`--force` takes the skipped entry back), as JSON.
    let json = run("json");
    let event = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .find(|l| l["outcome"] == "NOT_SUPPORTED")
        .expect("the outcome event");
    assert_eq!(event["typtag"], typtag.as_str(), "JSON keeps the value exactly, escaped by JSON itself");
}

/// `--version` names the commit, the RSA backend, wasmtime and the profile;
/// `-V` stays one line.
#[test]
fn version_names_the_build() {
    let text = String::from_utf8(ok(&["--version"])).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], concat!("cybexp-archive ", env!("CARGO_PKG_VERSION")), "{text}");
    let fact = |name: &str| {
        let line = lines.iter().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in {text}"));
        line[name.len()..].trim().to_owned()
    };
    // The commit HEAD is at (cargo rebuilds when it moves), or "unknown"
    // outside a git checkout.
    let head = Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8(out.stdout).unwrap().trim().to_owned());
    assert_eq!(fact("commit"), head.unwrap_or_else(|| "unknown".into()), "{text}");
    assert_eq!(fact("rsa backend"), cybexp_keys::Backend::ACTIVE.as_str(), "{text}");
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    let wasmtime = lock.split("name = \"wasmtime\"\nversion = \"").nth(1).and_then(|rest| rest.split('"').next());
    assert_eq!(Some(fact("wasmtime").as_str()), wasmtime, "{text}");
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    assert_eq!(fact("profile"), profile, "{text}");
    let short = String::from_utf8(ok(&["-V"])).unwrap();
    assert_eq!(short.trim_end(), lines[0]);
}

/// `check-config` on `config` (a file in `dir`), with the artifact cache in
/// `dir` so it compiles the built-in parsers once.
fn check_config(dir: &Path, config: &str) -> Output {
    let file = dir.join("archiver.toml");
    std::fs::write(&file, config).unwrap();
    Command::new(env!("CARGO_BIN_EXE_cybexp-archive"))
        .args(["--config", s(&file), "check-config"])
        .env("CYBEXP_LOG", "warn")
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env_remove("CYBEXP_ARCHIVE_CONFIG")
        .env_remove("RUNTIME_DIRECTORY")
        .output()
        .unwrap()
}

/// The lines of a check-config run that start with `status` and name `check`.
fn lines_of<'a>(stdout: &'a str, status: &str, check: &str) -> Vec<&'a str> {
    stdout.lines().filter(|l| l.split_whitespace().take(2).eq([status, check])).collect()
}

#[test]
fn check_config_passes_a_config_the_daemon_would_start_with() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&["keygen", "--out", s(&data.join("keys")), "--bits", "2048"]);
    let config = format!(
        "data_dir = {data:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n[typtags.misp]\nparser = \"json\"\nsub_type = \"misp\"\n"
    );
    let out = check_config(dir.path(), &config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for check in ["config", "keys", "parsers", "routes", "store", "socket", "metrics"] {
        assert_eq!(lines_of(&stdout, "ok", check).len(), 1, "{check}:\n{stdout}");
    }
    assert!(stdout.contains("the archiver would start"), "{stdout}");
}

/// Every problem is listed, not only the first, and the exit is 78
/// (EX_CONFIG): a missing key file, a parser component that is not there, a
/// route to a parser not loaded, metrics off loopback, a MongoDB that does
/// not answer within its timeout.
#[test]
fn check_config_lists_every_problem_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let missing_key = dir.path().join("no-such-key.pem");
    let missing_parser = dir.path().join("no-such-parser.wasm");
    let config = format!(
        r#"data_dir = {data:?}
[keys]
private = [{missing_key:?}]

[store]
backend = "mongodb"
# Nothing listens on port 1: refused at once, else the timeout.
uri = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"
timeout_secs = 1

[parsers.misp]
file = {missing_parser:?}

[typtags.misp]
parser = "misp"
sub_type = "misp"

[typtags.other]
parser = "nowhere"
sub_type = "other"

[metrics]
listen = "0.0.0.0:9464"
"#,
        data = dir.path().join("data"),
    );
    let out = check_config(dir.path(), &config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let keys = lines_of(&stdout, "FAILED", "keys");
    assert!(keys.len() == 1 && keys[0].contains("no-such-key.pem"), "{stdout}");
    assert_eq!(keys[0].matches("os error 2").count(), 1, "the cause once: {}", keys[0]);
    let parsers = lines_of(&stdout, "FAILED", "parsers");
    assert!(parsers.len() == 1 && parsers[0].contains("no-such-parser.wasm"), "{stdout}");
    let routes = lines_of(&stdout, "FAILED", "routes");
    assert_eq!(routes.len(), 2, "{stdout}");
    assert!(routes.iter().any(|l| l.contains("\"nowhere\"")) && routes.iter().any(|l| l.contains("\"misp\"")));
    let store = lines_of(&stdout, "FAILED", "store");
    assert!(store.len() == 1 && store[0].contains("mongodb"), "{stdout}");
    let metrics = lines_of(&stdout, "FAILED", "metrics");
    assert!(metrics.len() == 1 && metrics[0].contains("not a loopback address"), "{stdout}");
    assert!(stdout.contains("would not start: 6 problem(s)"), "{stdout}");
}

/// A config that does not parse is a finding too: listed, exit 78.
#[test]
fn check_config_reports_a_config_that_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_config(dir.path(), "[pipeline]\nbatchsize = 3\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{stdout}");
    let config = lines_of(&stdout, "FAILED", "config");
    assert_eq!(config.len(), 1, "{stdout}");
    assert!(stdout.contains("unknown field `batchsize`"), "{stdout}");
}

/// `generate` (hidden; scripts/package.sh uses it): the man page and each
/// shell's completions come from the command line itself, so they name
/// every subcommand, the newest too.
#[test]
fn generate_writes_the_man_page_and_completions_from_the_cli() {
    let man = String::from_utf8(ok(&["generate", "man"])).unwrap();
    assert!(man.starts_with(".ie") && man.contains(".TH cybexp-archive 1"), "{man}");
    for subcommand in ["run", "check\\-config", "replay", "top"] {
        assert!(man.contains(subcommand), "the man page lacks {subcommand}");
    }
    for (shell, marker) in
        [("bash", "complete -F"), ("zsh", "#compdef cybexp-archive"), ("fish", "complete -c cybexp-archive")]
    {
        let script = String::from_utf8(ok(&["generate", "completions", shell])).unwrap();
        assert!(script.contains(marker) && script.contains("check-config"), "{shell}:\n{script}");
    }
    let help = String::from_utf8(ok(&["--help"])).unwrap();
    assert!(!help.contains("generate"), "generate is for packaging, hidden from --help:\n{help}");
}
