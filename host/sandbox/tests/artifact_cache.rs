//! The compiled-artifact cache with real wasmtime: a warm start compiles
//! nothing and parses the same; damaged, truncated, foreign or untrusted
//! artifacts are recompiled, never loaded and never a failed load; a
//! directory others could write to is refused.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cybexp_sandbox::{
    ArtifactCache, BUILTIN_PARSERS, CacheDirError, CacheProblemKind, CacheStats, EngineOptions, Limits, ParseError,
    ParseInput, ParsedDocument, Sandbox, component_digest, engine_key,
};
use sha2::{Digest, Sha256};

fn input<'a>(sub_type: &'a str, plaintext: &'a str) -> ParseInput<'a> {
    ParseInput { typtag: "t", orgid: "o", timezone: "UTC", sub_type, plaintext }
}

fn cowrie_sample() -> String {
    let text = cybexp_test_kit::shared_text("samples/cowrie_raw_documents.jsonl");
    let doc: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    serde_json::to_string(&doc["data"]).unwrap()
}

/// Every built-in parser on a sample of its own and on one it refuses.
fn sample_results(sandbox: &Sandbox) -> Vec<Result<ParsedDocument, ParseError>> {
    let cowrie = cowrie_sample();
    let cases = [
        ("json", "json", r#"{"a": [1, 2.5, "x"], "b": {"c": null}}"#),
        ("json", "json", "{not json"), // kept as {"data": ...}
        ("cowrie", "unr_honeypot", cowrie.as_str()),
        ("url-list", "openphish_feed", "http://a.example/\nhttps://b.example/x?y=1\n"),
        ("email", "email", "From: a@example.org\nTo: b@example.org\nSubject: hi\n\nbody\n"),
        ("email", "email", ""),
    ];
    let results: Vec<_> =
        cases.iter().map(|(parser, sub_type, text)| sandbox.parse(parser, &input(sub_type, text)).0).collect();
    assert!(results[..5].iter().all(Result::is_ok), "{results:?}");
    assert!(matches!(results[5], Err(ParseError::InvalidInput(_))), "{results:?}");
    results
}

fn cached_sandbox(dir: &Path) -> Sandbox {
    let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap().with_cache(ArtifactCache::open(dir).unwrap());
    sandbox.load_builtin_parsers(|_| Limits::default()).unwrap();
    sandbox
}

fn stats(compiled: usize, cache_hits: usize, rejected: usize, write_failures: usize) -> CacheStats {
    CacheStats { compiled, cache_hits, rejected, write_failures }
}

fn artifacts(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// The json parser's artifact, as a sandbox of this configuration names it.
fn json_artifact(sandbox: &Sandbox) -> PathBuf {
    let digest = &sandbox.parser("json").unwrap().component_sha256;
    sandbox.artifact_path(digest).unwrap()
}

fn json_bytes() -> &'static [u8] {
    BUILTIN_PARSERS.iter().find(|(name, _)| *name == "json").unwrap().1
}

#[test]
fn a_warm_cache_compiles_nothing_and_parses_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("artifacts");

    let cold = cached_sandbox(&dir);
    assert_eq!(cold.cache_stats(), stats(4, 0, 0, 0));
    assert!(cold.cache_problems().is_empty(), "{:?}", cold.cache_problems());
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700, "created private");
    let files = artifacts(&dir);
    assert_eq!(files.len(), 4, "one artifact per built-in parser: {files:?}");
    for (name, bytes) in BUILTIN_PARSERS {
        let info = cold.parser(name).unwrap();
        assert_eq!(info.component_sha256, component_digest(bytes));
        assert_eq!(info.component_sha256.len(), 64);
        let path = cold.artifact_path(&info.component_sha256).unwrap();
        assert!(files.contains(&path), "{} not among {files:?}", path.display());
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let file = std::fs::read(&path).unwrap();
        assert_eq!(&file[..32], Sha256::digest(&file[32..]).as_slice(), "digest header");
    }
    let cold_results = sample_results(&cold);
    let cold_infos: Vec<_> = cold.parsers().cloned().collect();
    drop(cold);

    let warm = cached_sandbox(&dir);
    assert_eq!(warm.cache_stats(), stats(0, 4, 0, 0), "a warm start compiles nothing");
    assert!(warm.cache_problems().is_empty());
    assert_eq!(warm.parsers().cloned().collect::<Vec<_>>(), cold_infos);
    assert_eq!(sample_results(&warm), cold_results);

    let uncached = Sandbox::with_builtin_parsers().unwrap();
    assert_eq!(uncached.cache_stats(), stats(4, 0, 0, 0));
    assert_eq!(uncached.artifact_path("x"), None);
    assert_eq!(sample_results(&uncached), cold_results, "the same as without a cache");
}

/// Loads `dir` after `spoil` changed the json artifact: one rejection, one
/// compile, the same results, and the artifact rewritten for the next start.
fn spoiled_json_artifact_is_recompiled(spoil: impl FnOnce(&Path), expected_reason: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let cold = cached_sandbox(tmp.path());
    let expected = sample_results(&cold);
    let path = json_artifact(&cold);
    let original = std::fs::read(&path).unwrap();
    drop(cold);

    spoil(&path);
    let warm = cached_sandbox(tmp.path());
    assert_eq!(warm.cache_stats(), stats(1, 3, 1, 0));
    let [problem] = warm.cache_problems() else { panic!("{:?}", warm.cache_problems()) };
    assert_eq!((problem.parser.as_str(), problem.kind, &problem.path), ("json", CacheProblemKind::Rejected, &path));
    assert!(problem.message.contains(expected_reason), "{problem}");
    assert_eq!(sample_results(&warm), expected);
    drop(warm);

    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.is_file() && meta.mode() & 0o777 == 0o600, "rewritten: {meta:?}");
    assert_eq!(std::fs::read(&path).unwrap(), original, "the same artifact again");
    assert_eq!(cached_sandbox(tmp.path()).cache_stats(), stats(0, 4, 0, 0));
}

#[test]
fn a_damaged_artifact_is_detected_and_recompiled() {
    spoiled_json_artifact_is_recompiled(
        |path| {
            let mut bytes = std::fs::read(path).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
            std::fs::write(path, bytes).unwrap();
        },
        "damaged",
    );
    spoiled_json_artifact_is_recompiled(
        |path| {
            let mut bytes = std::fs::read(path).unwrap();
            bytes[0] ^= 0x80; // the digest itself
            std::fs::write(path, bytes).unwrap();
        },
        "damaged",
    );
}

#[test]
fn a_truncated_artifact_is_detected_and_recompiled() {
    spoiled_json_artifact_is_recompiled(
        |path| {
            let len = std::fs::metadata(path).unwrap().len();
            std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len / 2).unwrap();
        },
        "damaged",
    );
    spoiled_json_artifact_is_recompiled(|path| std::fs::write(path, [0u8; 10]).unwrap(), "truncated");
    spoiled_json_artifact_is_recompiled(|path| std::fs::write(path, []).unwrap(), "truncated");
}

#[test]
fn an_artifact_others_could_have_written_is_not_loaded() {
    spoiled_json_artifact_is_recompiled(
        |path| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o620)).unwrap(),
        "writable by group",
    );
    spoiled_json_artifact_is_recompiled(
        |path| {
            let elsewhere = path.with_extension("elsewhere");
            std::fs::rename(path, &elsewhere).unwrap();
            std::os::unix::fs::symlink(&elsewhere, path).unwrap();
        },
        "cannot open it",
    );
    if nix::unistd::geteuid().is_root() {
        spoiled_json_artifact_is_recompiled(
            |path| std::os::unix::fs::chown(path, Some(65534), None).unwrap(),
            "owned by uid 65534",
        );
    }
}

#[test]
fn an_artifact_of_a_differently_configured_engine_is_not_used() {
    // An engine without fuel or epochs: its code would run guests unmetered.
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let foreign = wasmtime::Engine::new(&config).unwrap();
    let foreign_artifact = foreign.precompile_component(json_bytes()).unwrap();
    let framed = [Sha256::digest(&foreign_artifact).as_slice(), &foreign_artifact].concat();

    let tmp = tempfile::tempdir().unwrap();
    let cache = ArtifactCache::open(tmp.path()).unwrap();
    let digest = component_digest(json_bytes());
    let foreign_path = cache.artifact_path(&digest, &engine_key(&foreign));
    std::fs::write(&foreign_path, &framed).unwrap();

    // Under its own key it is never even looked at.
    let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap().with_cache(cache.clone());
    sandbox.load("json", json_bytes(), Limits::default()).unwrap();
    let own_path = json_artifact(&sandbox);
    assert_ne!(own_path, foreign_path, "another configuration, another key");
    assert_eq!(sandbox.cache_stats(), stats(1, 0, 0, 0));
    assert_eq!(std::fs::read(&foreign_path).unwrap(), framed, "left alone");
    let expected = sandbox.parse("json", &input("json", r#"{"k": 1}"#)).0.unwrap();
    drop(sandbox);

    // Under our key (whole, digest right) wasmtime refuses it; recompiled.
    std::fs::write(&own_path, &framed).unwrap();
    let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap().with_cache(cache);
    let metered = Limits { fuel: 500_000, fuel_per_input_byte: 0, ..Limits::default() };
    sandbox.load("json", json_bytes(), metered).unwrap();
    assert_eq!(sandbox.cache_stats(), stats(1, 0, 1, 0));
    let [problem] = sandbox.cache_problems() else { panic!("{:?}", sandbox.cache_problems()) };
    assert!(problem.message.contains("wasmtime refused"), "{problem}");
    assert_eq!(sandbox.parse("json", &input("json", r#"{"k": 1}"#)).0.unwrap(), expected);
    // Our code, so our budgets: a big document runs out of fuel.
    let big = format!("[{}1]", "1, ".repeat(100_000));
    assert_eq!(sandbox.parse("json", &input("json", &big)).0, Err(ParseError::Fuel(500_000)));
    drop(sandbox);
    assert_ne!(std::fs::read(&own_path).unwrap(), framed, "rewritten with our own artifact");
}

#[test]
fn an_unwritable_artifact_costs_a_compile_not_the_load() {
    let tmp = tempfile::tempdir().unwrap();
    let cold = cached_sandbox(tmp.path());
    let path = json_artifact(&cold);
    drop(cold);
    // A non-empty directory where the artifact goes: not loaded, and the
    // rename over it fails (even for root).
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("x"), "x").unwrap();

    let warm = cached_sandbox(tmp.path());
    assert_eq!(warm.cache_stats(), stats(1, 3, 1, 1));
    let kinds: Vec<_> = warm.cache_problems().iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [CacheProblemKind::Rejected, CacheProblemKind::WriteFailed]);
    assert!(warm.cache_problems()[0].message.contains("not a regular file"), "{}", warm.cache_problems()[0]);
    assert!(warm.parse("json", &input("json", "[1]")).0.is_ok());
    let left: Vec<_> = artifacts(tmp.path()).into_iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).collect();
    assert!(left.is_empty(), "no temporary file left behind: {left:?}");
}

#[test]
fn concurrent_cold_loads_share_the_directory_safely() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let infos: Vec<_> = std::thread::scope(|scope| {
        let loads: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut sandbox =
                        Sandbox::new(EngineOptions::default()).unwrap().with_cache(ArtifactCache::open(&dir).unwrap());
                    sandbox.load("json", json_bytes(), Limits::default()).unwrap();
                    let stats = sandbox.cache_stats();
                    assert_eq!(stats.compiled + stats.cache_hits, 1);
                    assert_eq!((stats.rejected, stats.write_failures), (0, 0), "{:?}", sandbox.cache_problems());
                    sandbox.parse("json", &input("json", "[1, 2]")).0.unwrap()
                })
            })
            .collect();
        loads.into_iter().map(|load| load.join().unwrap()).collect()
    });
    assert!(infos.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(artifacts(&dir).len(), 1, "one whole artifact, no temporary files: {:?}", artifacts(&dir));
    let mut sandbox = Sandbox::new(EngineOptions::default()).unwrap().with_cache(ArtifactCache::open(&dir).unwrap());
    sandbox.load("json", json_bytes(), Limits::default()).unwrap();
    assert_eq!(sandbox.cache_stats(), stats(0, 1, 0, 0));
}

#[test]
fn a_directory_others_can_write_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (mode, who) in [(0o770, "group"), (0o703, "others"), (0o777, "group and others")] {
        let dir = tmp.path().join(format!("mode-{mode:o}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = ArtifactCache::open(&dir).unwrap_err();
        assert!(matches!(err, CacheDirError::Writable { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&format!("writable by {who};")) && message.contains("chmod 700"), "{message}");
        assert!(message.contains(&dir.display().to_string()), "{message}");
    }
    // Readable by others is fine: compiled parsers are no secret.
    let readable = tmp.path().join("readable");
    std::fs::create_dir(&readable).unwrap();
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o755)).unwrap();
    ArtifactCache::open(&readable).unwrap();

    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&readable, &link).unwrap();
    let err = ArtifactCache::open(&link).unwrap_err();
    assert!(matches!(err, CacheDirError::Symlink { .. }) && err.to_string().contains("symlink"), "{err}");

    let file = tmp.path().join("file");
    std::fs::write(&file, "").unwrap();
    assert!(matches!(ArtifactCache::open(&file).unwrap_err(), CacheDirError::NotADirectory { .. }));

    let nested = tmp.path().join("a/b/c");
    ArtifactCache::open(&nested).unwrap();
    assert_eq!(std::fs::metadata(&nested).unwrap().mode() & 0o777, 0o700);
}

#[test]
fn a_directory_of_another_user_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = if nix::unistd::geteuid().is_root() {
        let dir = tmp.path().join("theirs");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        dir
    } else {
        PathBuf::from("/") // root's, 0755
    };
    let owner = std::fs::metadata(&dir).unwrap().uid();
    let err = ArtifactCache::open(&dir).unwrap_err();
    assert!(matches!(err, CacheDirError::NotOwned { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&format!("owned by uid {owner}")), "{message}");
}
