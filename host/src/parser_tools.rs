//! `parser build` and `parser check`: the parser author's loop (build,
//! check against the world, try on a sample) without an archiver running.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cybexp_lake::Outcome;
use cybexp_sandbox::{EngineOptions, Limits, ParseInput, Sandbox, WORLD_VERSION};
use cybexp_status::untrusted::escape;

use crate::cli::ParserAction;
use crate::document::records_summary;
use crate::verdict::Verdict;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// A core module's first eight bytes (a component's differ in the version).
const CORE_MODULE_HEADER: &[u8] = b"\0asm\x01\0\0\0";

pub fn run(action: ParserAction) -> Result<ExitCode> {
    match action {
        ParserAction::Build { dir, output } => build(&dir, output),
        ParserAction::Check { file, input, sub_type } => check(&file, input.as_deref(), &sub_type),
    }
}

fn build(dir: &Path, output: Option<PathBuf>) -> Result<ExitCode> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{} is not a crate folder (no Cargo.toml)", dir.display());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["build", "--release", "--lib", "--target", WASM_TARGET, "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        // As the built-in parsers are built: one optimisation unit.
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo")?;
    // cargo's JSON messages name the module it wrote; diagnostics go to stderr.
    let mut module = None;
    for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line?) else { continue };
        let is_cdylib = message["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if message["reason"] == "compiler-artifact" && is_cdylib && message["manifest_path"] == manifest_path(&manifest)
        {
            let mut files = message["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str());
            module = files.find(|f| f.ends_with(".wasm")).map(PathBuf::from);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build failed ({status}); is the target installed? rustup target add {WASM_TARGET}");
    }
    let Some(module) = module else {
        bail!("cargo built no wasm cdylib for {}: does it have crate-type = [\"rlib\", \"cdylib\"]?", dir.display())
    };
    let bytes = std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|encoder| encoder.validate(true).encode())
        .context("turning the module into a component (does it export the parser world through cybexp-guest-glue?)")?;
    let stem = module.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "parser".into());
    let output = output.unwrap_or_else(|| dir.join(format!("{stem}.component.wasm")));
    std::fs::write(&output, &component).with_context(|| format!("writing {}", output.display()))?;
    println!("component: {} ({} bytes)", output.display(), component.len());
    println!("check it:  cybexp-archive parser check {} --input SAMPLE", output.display());
    Ok(ExitCode::SUCCESS)
}

/// What cargo prints as `manifest_path`: the absolute path.
fn manifest_path(manifest: &Path) -> String {
    std::fs::canonicalize(manifest).unwrap_or_else(|_| manifest.to_owned()).display().to_string()
}

fn check(file: &Path, input: Option<&Path>, sub_type: &str) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    if bytes.starts_with(CORE_MODULE_HEADER) {
        bail!(
            "{} is a core WebAssembly module, not a component: build it with `cybexp-archive parser build CRATE_DIR`",
            file.display()
        );
    }
    let limits = Limits::default();
    // No artifact cache: the compile time shown is what a first start pays.
    let mut sandbox = Sandbox::new(EngineOptions::default())?;
    let started = Instant::now();
    let info = sandbox.load("check", &bytes, limits)?;
    let compiled = started.elapsed();
    println!("file      {} ({} bytes)", file.display(), bytes.len());
    println!("parser    {} {} (sha256 {})", info.component_name, info.version, info.component_sha256);
    println!("world     imports at most cybexp:parser/digest, exports cybexp:parser@{WORLD_VERSION}: ok");
    println!("compile   {:.1} ms", compiled.as_secs_f64() * 1e3);
    let Some(input) = input else { return Ok(ExitCode::SUCCESS) };
    let plaintext =
        std::fs::read_to_string(input).with_context(|| format!("reading {} (UTF-8 text)", input.display()))?;
    let event = ParseInput { typtag: "sample", orgid: "sample", timezone: "UTC", sub_type, plaintext: &plaintext };
    let (result, stats) = sandbox.parse("check", &event);
    let fuel = format!("fuel {} of {}", stats.fuel_used, limits.for_input(plaintext.len()).fuel);
    let time = format!("{:.3} ms", stats.elapsed.as_secs_f64() * 1e3);
    let verdict = Verdict::of(result);
    match &verdict {
        Verdict::Parsed(doc) => {
            println!("sample    SUCCESS  {fuel}, {time}");
            println!("records   {}", records_summary(doc.counts, doc.first_malformed.as_deref()));
            println!("hash      {}", doc.hash);
        }
        Verdict::Finish { outcome: Outcome::Error { cause, .. }, why } => {
            println!("sample    ERROR {} ({})  {fuel}, {time}", cause.code(), escape(why));
        }
        Verdict::Finish { outcome, why } => println!("sample    {} ({})  {fuel}, {time}", outcome.label(), escape(why)),
        Verdict::Retry(why) => println!("sample    RETRY: the archiver's trouble, not the sample's ({why})"),
    }
    Ok(verdict.exit_code())
}
