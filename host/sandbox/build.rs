//! Builds the parser crates for wasm32, turns each core module into a
//! component (wit-component) and leaves them in OUT_DIR for `include_bytes!`.
//! The built-in parsers are embedded in the binary so `cargo run` works on a
//! fresh clone; the hostile test guests are built too but only referenced by
//! tests (through `CYBEXP_TEST_GUESTS_DIR`).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// (component name, package, library file stem, embedded in the binary?)
const GUESTS: &[(&str, &str, &str, bool)] = &[
    ("json", "cybexp-parser-json", "cybexp_parser_json", true),
    ("cowrie", "cybexp-parser-cowrie", "cybexp_parser_cowrie", true),
    ("url-list", "cybexp-parser-url-list", "cybexp_parser_url_list", true),
    ("email", "cybexp-parser-email", "cybexp_parser_email", true),
    ("hostile", "cybexp-test-guests", "cybexp_test_guests", false),
];

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir.join("../..").canonicalize()?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // A target dir of its own: the outer cargo holds the lock on ours.
    let guest_target = env::var_os("CYBEXP_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target").join("guests"));

    println!("cargo:rerun-if-changed={}", workspace.join("guest-parsers").display());
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.lock").display());
    println!("cargo:rerun-if-env-changed=CYBEXP_GUEST_TARGET_DIR");

    build_guests(&workspace, &guest_target)?;

    let release_dir = guest_target.join(WASM_TARGET).join("release");
    let mut builtin = String::from("/// Parser components built into the binary: (name, component bytes).\n");
    builtin.push_str("pub const BUILTIN_PARSERS: &[(&str, &[u8])] = &[\n");
    for (name, _, stem, embedded) in GUESTS {
        let module = release_dir.join(format!("{stem}.wasm"));
        let component = componentize(&module).with_context(|| format!("componentizing {name}"))?;
        let dest = out_dir.join(format!("{name}.component.wasm"));
        fs::write(&dest, component)?;
        if *embedded {
            builtin.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", dest.display().to_string()));
        }
    }
    builtin.push_str("];\n");
    fs::write(out_dir.join("builtin.rs"), builtin)?;
    println!("cargo:rustc-env=CYBEXP_TEST_GUESTS_DIR={}", out_dir.display());
    Ok(())
}

fn build_guests(workspace: &Path, target_dir: &Path) -> Result<()> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args(["build", "--release", "--target", WASM_TARGET, "--target-dir"]).arg(target_dir);
    for (_, package, _, _) in GUESTS {
        cmd.args(["-p", package]);
    }
    // The outer build's flags and wrappers (clippy, coverage) are for the host.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false").env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    // One optimisation unit per guest: LLVM sees the parser, the TAHOE code
    // and the allocator together (the guests are small, so this is cheap).
    cmd.env("CARGO_PROFILE_RELEASE_LTO", "fat").env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    let status = cmd.status().context("running cargo for the wasm32 parsers")?;
    if !status.success() {
        bail!(
            "building the parser components failed ({status}). Is the target installed? \
             Run: rustup target add {WASM_TARGET}"
        );
    }
    Ok(())
}

fn componentize(module: &Path) -> Result<Vec<u8>> {
    let bytes = fs::read(module).with_context(|| format!("reading {}", module.display()))?;
    wit_component::ComponentEncoder::default().module(&bytes)?.validate(true).encode()
}
