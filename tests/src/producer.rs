//! The v3 side of the end-to-end tests: an X-Wing key for a test archiver
//! (made by `keygen --kind x-wing` and listed beside the RSA key, as an
//! operator rolling over does), and the repository's Python producer
//! (`producers/python`, installed into the test tooling's venv by
//! `scripts/mongo-server.sh`) sealing and opening blobs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;

use crate::Archiver;

/// An X-Wing key pair on disk.
pub struct XWingKey {
    pub private: PathBuf,
    pub public: PathBuf,
}

/// `keygen --kind x-wing` into the archiver's dir, and the new private key
/// added to `keys.private` after the RSA key.
pub fn add_xwing_key(archiver: &Archiver) -> XWingKey {
    let key = keygen_xwing(archiver, "x-wing");
    let config = std::fs::read_to_string(&archiver.config).unwrap();
    let line = config.lines().find(|l| l.starts_with("private = [")).expect("a keys.private line");
    let with_key = format!("{}, {:?}]", line.trim_end().trim_end_matches(']'), key.private);
    std::fs::write(&archiver.config, config.replacen(line, &with_key, 1)).unwrap();
    key
}

/// `keygen --kind x-wing --out <archiver dir>/<name>`, config unchanged.
pub fn keygen_xwing(archiver: &Archiver, name: &str) -> XWingKey {
    let dir = archiver.dir.path().join(name);
    let out = archiver.ok(&["keygen", "--kind", "x-wing", "--out", dir.to_str().unwrap()]);
    assert!(out.contains("kind:        x-wing"), "{out}");
    XWingKey { private: dir.join("priv.pem"), public: dir.join("pub.pem") }
}

/// The venv's Python with the producer module; `None` (skipped, failing
/// under `CI=true`) without one.
pub fn python(test: &str) -> Option<PathBuf> {
    let python = crate::mongo::python(test)?;
    let ok = Command::new(&python).args(["-c", "import cybexp_producer"]).status().is_ok_and(|s| s.success());
    assert!(ok, "{} cannot import cybexp_producer: run scripts/mongo-server.sh install", python.display());
    Some(python)
}

fn run_python(python: &Path, args: &[&std::ffi::OsStr], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(python)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Each plaintext sealed by `cybexp_producer.seal` for the key in `public`
/// (one Python process for all).
pub fn python_seal_all(python: &Path, public: &Path, plaintexts: &[&[u8]]) -> Vec<Vec<u8>> {
    const SCRIPT: &str = "import base64, json, sys, cybexp_producer as p\n\
        key = p.load_public_key(open(sys.argv[1], 'rb').read())\n\
        print(json.dumps([base64.b64encode(p.seal(key, base64.b64decode(x))).decode() for x in json.load(sys.stdin)]))\n";
    let b64 = base64::engine::general_purpose::STANDARD;
    let input = serde_json::to_vec(&plaintexts.iter().map(|p| b64.encode(p)).collect::<Vec<_>>()).unwrap();
    let out = run_python(python, &["-c".as_ref(), SCRIPT.as_ref(), public.as_os_str()], &input);
    assert!(out.status.success(), "the Python producer failed: {}", String::from_utf8_lossy(&out.stderr));
    let blobs: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    blobs.iter().map(|b| b64.decode(b).unwrap()).collect()
}

/// `python -m cybexp_producer open --key PRIVATE -`: the plaintext, or the
/// error line it printed.
pub fn python_open(python: &Path, private: &Path, blob: &[u8]) -> Result<Vec<u8>, String> {
    let args = [
        "-m".as_ref(),
        "cybexp_producer".as_ref(),
        "open".as_ref(),
        "--key".as_ref(),
        private.as_os_str(),
        "-".as_ref(),
    ];
    let out = run_python(python, &args, blob);
    if out.status.success() { Ok(out.stdout) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()) }
}
