//! One function per subcommand; `main` only dispatches.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, Result, bail};
use cybexp_keys::{Keyring, Perms};
use cybexp_lake::{ArchiveStore, BatchQuery, CacheLake, EntryFilter, NewEntry};
use cybexp_sandbox::{Event, ParseError, Sandbox};
use cybexp_store_sqlite::SqliteStore;

use crate::cli::{Cli, Command, DumpWhat, Format, PermsArgs};
use crate::config::{self, Config, StoreConfig};
use crate::pipeline::{Pipeline, Processor, Summary};

/// Exit codes of `parse` (and `decrypt` failures).
pub const EXIT_NOT_SUPPORTED: u8 = 3;
pub const EXIT_ERROR: u8 = 4;

/// The two seams, as the configured backend provides them.
#[derive(Clone)]
pub struct Stores {
    pub lake: Arc<dyn CacheLake>,
    pub archive: Arc<dyn ArchiveStore>,
}

/// Config and data dir, resolved once per invocation.
pub struct Context {
    pub config: Config,
    pub data_dir: PathBuf,
}

impl Context {
    pub fn from_cli(cli: &Cli) -> Result<Context> {
        let config = match &cli.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let data_dir = config::data_dir(cli.data_dir.as_deref(), &config);
        Ok(Context { config, data_dir })
    }

    fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    /// Opens the configured backend: the cache lake and the archive store.
    pub fn open_stores(&self) -> Result<Stores> {
        let lease = std::time::Duration::from_secs(self.config.pipeline.lease_secs.max(1));
        match &self.config.store {
            StoreConfig::Sqlite { path } => {
                let path = path.clone().unwrap_or_else(|| self.data_dir.join("archive.db"));
                if let Some(parent) = path.parent() {
                    create_private_dir(parent)?;
                }
                let store = Arc::new(SqliteStore::open(&path)?.with_lease(lease));
                Ok(Stores { lake: store.clone(), archive: store })
            }
            StoreConfig::Mongodb {
                uri,
                cache_uri,
                cache_db,
                cache_coll,
                cache_bucket,
                archive_uri,
                archive_db,
                archive_coll,
                write_concern,
                journal,
                create_claim_index,
            } => {
                use cybexp_store_mongo::{ArchiveTarget, LakeTarget, Options};
                let pick = |side: &Option<String>, name: &str| {
                    side.clone().or_else(|| uri.clone()).with_context(|| format!("[store] needs `uri` (or `{name}`)"))
                };
                let lake = LakeTarget {
                    uri: pick(cache_uri, "cache_uri")?,
                    db: cache_db.clone(),
                    coll: cache_coll.clone(),
                    bucket: cache_bucket.clone(),
                };
                let archive = ArchiveTarget {
                    uri: pick(archive_uri, "archive_uri")?,
                    db: archive_db.clone(),
                    coll: archive_coll.clone(),
                };
                let options = Options {
                    lease,
                    write_concern: write_concern.clone(),
                    journal: *journal,
                    create_claim_index: *create_claim_index,
                };
                let (lake, archive) = cybexp_store_mongo::open(&lake, &archive, &options)?;
                Ok(Stores { lake: Arc::new(lake), archive: Arc::new(archive) })
            }
        }
    }

    /// The private keys: config's files and credentials, else the key that
    /// `keygen` put in the data dir.
    pub fn keyring(&self, allow_insecure: bool) -> Result<Keyring> {
        crate::hardening::protect_key_material();
        let keys = &self.config.keys;
        let perms =
            if allow_insecure || keys.allow_insecure_permissions { Perms::AllowInsecure } else { Perms::Strict };
        let mut ring = Keyring::new();
        for path in &keys.private {
            ring.push(cybexp_keys::load_private_key(path, perms)?);
        }
        for name in &keys.credentials {
            ring.push(cybexp_keys::load_credential(name, perms)?);
        }
        if ring.is_empty() {
            let default = self.keys_dir().join("priv.pem");
            if !default.exists() {
                bail!(
                    "no private key configured and none at {}: run `cybexp-archive keygen` or set keys.private",
                    default.display()
                );
            }
            ring.push(cybexp_keys::load_private_key(&default, perms)?);
        }
        for key in ring.keys() {
            tracing::info!(key_id = %key.fingerprint(), bits = key.bits(), "private key loaded");
        }
        Ok(ring)
    }

    fn public_key(&self) -> Result<cybexp_keys::PublicKey> {
        let path = self.config.keys.public.clone().unwrap_or_else(|| self.keys_dir().join("pub.pem"));
        Ok(cybexp_keys::load_public_key(&path)?)
    }

    /// Built-in parsers (with config's limits) plus the configured files.
    pub fn sandbox(&self) -> Result<Sandbox> {
        let mut sandbox = Sandbox::new(Default::default())?;
        for (name, bytes) in cybexp_sandbox::BUILTIN_PARSERS {
            let limits = self.config.parsers.get(*name).map(|p| p.limits).unwrap_or_default();
            sandbox.load(name, bytes, limits)?;
        }
        for (name, parser) in &self.config.parsers {
            if let Some(file) = &parser.file {
                sandbox.load_file(name, file, parser.limits)?;
            }
        }
        for (typtag, route) in self.config.routes() {
            if sandbox.parser(&route.parser).is_none() {
                bail!("typtag {typtag:?} routes to parser {:?}, which is not loaded", route.parser);
            }
        }
        Ok(sandbox)
    }

    pub fn pipeline(&self, shutdown: Arc<AtomicBool>) -> Result<Pipeline> {
        let stores = self.open_stores()?;
        let processor =
            Processor { keyring: self.keyring(false)?, sandbox: self.sandbox()?, routes: self.config.routes() };
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        Ok(Pipeline {
            lake: stores.lake,
            archive: stores.archive,
            processor: Arc::new(processor),
            workers: self.config.pipeline.worker_count(),
            batch_size: self.config.pipeline.batch_size.max(1),
            worker_id: format!("{}:{}", host.trim(), std::process::id()),
            shutdown,
        })
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Context::from_cli(&cli)?;
    match cli.command {
        Command::Keygen { out, bits } => keygen(&out.unwrap_or_else(|| ctx.keys_dir()), bits),
        Command::Encrypt { public, format, output, file } => encrypt(&public, format, output.as_deref(), &file),
        Command::Decrypt { keys, perms, output, blob } => decrypt(&keys, perms, output.as_deref(), &blob),
        Command::Parse { typtag, parser, sub_type, orgid, timezone, file } => {
            parse(&ctx, typtag, parser, sub_type, &orgid, &timezone, &file)
        }
        Command::Submit { typtag, orgid, timezone, format, files } => {
            submit(&ctx, &typtag, &orgid, &timezone, format, &files)
        }
        Command::Once { force, typtag, json } => once(&ctx, force, typtag, json),
        Command::Run => daemon(&ctx),
        Command::Dump { what, state } => dump(&ctx, what, state),
        Command::Demo { keep } => crate::demo::run(keep),
        Command::Top { socket, interval } => crate::telemetry::top(&ctx, socket, interval),
        Command::Status { socket, json } => crate::telemetry::status(&ctx, socket, json),
    }
}

fn keygen(dir: &Path, bits: usize) -> Result<ExitCode> {
    create_private_dir(dir)?;
    let written = cybexp_keys::write_keypair(dir, bits)?;
    println!("private key: {} (mode 0600)", written.private_path.display());
    println!("public key:  {}", written.public_path.display());
    println!("key id:      {}", written.public.fingerprint());
    Ok(ExitCode::SUCCESS)
}

fn encrypt(public: &Path, format: Format, output: Option<&Path>, file: &Path) -> Result<ExitCode> {
    let key = cybexp_keys::load_public_key(public)?;
    let plaintext = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let blob = seal(&key, format, &plaintext)?;
    write_output(output, &blob)?;
    Ok(ExitCode::SUCCESS)
}

fn seal(key: &cybexp_keys::PublicKey, format: Format, plaintext: &[u8]) -> Result<Vec<u8>> {
    Ok(match format {
        Format::Legacy => cybexp_keys::legacy::encrypt(key, plaintext)?,
        Format::V2 => cybexp_keys::v2::encrypt(key, plaintext)?,
    })
}

fn decrypt(keys: &[PathBuf], perms: PermsArgs, output: Option<&Path>, blob: &Path) -> Result<ExitCode> {
    let perms = if perms.allow_insecure_key_permissions { Perms::AllowInsecure } else { Perms::Strict };
    crate::hardening::protect_key_material();
    let mut ring = Keyring::new();
    for path in keys {
        ring.push(cybexp_keys::load_private_key(path, perms)?);
    }
    let blob = std::fs::read(blob).with_context(|| format!("reading {}", blob.display()))?;
    match ring.decrypt(&blob) {
        Ok(plaintext) => {
            write_output(output, plaintext.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: decrypt failed: {e}");
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn parse(
    ctx: &Context,
    typtag: Option<String>,
    parser: Option<String>,
    sub_type: Option<String>,
    orgid: &str,
    timezone: &str,
    file: &Path,
) -> Result<ExitCode> {
    let (typtag, parser, sub_type) = match (typtag, parser) {
        (Some(typtag), _) => match ctx.config.routes().remove(&typtag) {
            Some(route) => (typtag, route.parser, route.sub_type),
            None => {
                eprintln!("NOT_SUPPORTED: no parser for typtag {typtag:?}");
                return Ok(ExitCode::from(EXIT_NOT_SUPPORTED));
            }
        },
        (None, Some(parser)) => {
            let sub_type = sub_type.unwrap_or_else(|| parser.clone());
            (String::new(), parser, sub_type)
        }
        (None, None) => bail!("give --typtag or --parser"),
    };
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("reading {}", file.display()))?;
    let Ok(plaintext) = String::from_utf8(bytes) else {
        eprintln!("ERROR (invalid_input): the plaintext is not UTF-8");
        return Ok(ExitCode::from(EXIT_ERROR));
    };
    let sandbox = ctx.sandbox()?;
    let event = Event { typtag: &typtag, orgid, timezone, sub_type: &sub_type, plaintext: &plaintext };
    let (result, stats) = sandbox.parse(&parser, &event);
    tracing::debug!(fuel = stats.fuel_used, elapsed_us = stats.elapsed.as_micros() as u64, "parsed");
    match result {
        Ok(doc) => {
            let raw = cybexp_lake::RawDocument {
                sub_type: doc.sub_type,
                data_json: doc.data_json,
                orgid: orgid.to_owned(),
                timezone: timezone.to_owned(),
                hash: doc.hash,
            };
            println!("{}", crate::document::to_json_line(&raw));
            Ok(ExitCode::SUCCESS)
        }
        Err(ParseError::NotSupported(reason)) => {
            eprintln!("NOT_SUPPORTED: {reason}");
            Ok(ExitCode::from(EXIT_NOT_SUPPORTED))
        }
        Err(e) => {
            eprintln!("ERROR ({}): {e}", e.reason());
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn submit(
    ctx: &Context,
    typtag: &str,
    orgid: &str,
    timezone: &str,
    format: Format,
    files: &[PathBuf],
) -> Result<ExitCode> {
    let key = ctx.public_key()?;
    let store = ctx.open_stores()?.lake;
    for file in files {
        let plaintext = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let blob = seal(&key, format, &plaintext)?;
        let entry = NewEntry {
            name: file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            orgid: orgid.to_owned(),
            typtag: typtag.to_owned(),
            timezone: timezone.to_owned(),
            timestamp: now_epoch_secs(),
        };
        let id = store.submit(&entry, &blob)?;
        println!("{id}\t{}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn once(ctx: &Context, force: bool, typtag: Option<String>, json: bool) -> Result<ExitCode> {
    let shutdown = crate::signals::install()?;
    let pipeline = ctx.pipeline(shutdown)?;
    if force {
        let n = pipeline.lake.unskip(typtag.as_deref())?;
        tracing::info!(entries = n, "skipped entries queued again (--force)");
    }
    let waiting = pipeline.lake.queue_depth()?.waiting;
    let query = BatchQuery { limit: pipeline.batch_size, include_skipped: false, typtag };
    let bar = progress_bar(waiting);
    let summary = pipeline.run_until_empty(&query, |s| bar.set_position(s.processed()))?;
    bar.finish_and_clear();
    print_summary(&summary, json)?;
    Ok(if summary.retried > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries  {per_sec}  eta {eta}")
        .expect("static template");
    bar.set_style(style);
    bar
}

pub fn print_summary(summary: &Summary, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
        return Ok(());
    }
    println!("SUCCESS        {}", summary.success);
    println!("NOT_SUPPORTED  {}", summary.not_supported);
    println!("ERROR          {}", summary.error);
    for (cause, n) in &summary.causes {
        println!("  {cause:<24} {n}");
    }
    if summary.retried > 0 {
        println!("retried (store unavailable): {}", summary.retried);
    }
    Ok(())
}

fn daemon(ctx: &Context) -> Result<ExitCode> {
    let shutdown = crate::signals::install()?;
    let pipeline = ctx.pipeline(shutdown)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        lake = %pipeline.lake.describe(),
        archive = %pipeline.archive.describe(),
        workers = pipeline.workers,
        parsers = ?pipeline.processor.sandbox.parsers().map(|p| format!("{}@{}", p.name, p.version)).collect::<Vec<_>>(),
        "archiver started"
    );
    let _telemetry = crate::telemetry::start(ctx, &pipeline)?;
    let query = BatchQuery { limit: pipeline.batch_size, include_skipped: false, typtag: None };
    pipeline.run_forever(&query, |state| {
        crate::telemetry::polled(state);
        tracing::debug!(failures = state.failures, sleep_ms = state.sleep.as_millis() as u64, "polled");
    });
    tracing::info!("archiver stopped");
    Ok(ExitCode::SUCCESS)
}

fn dump(ctx: &Context, what: DumpWhat, state: Option<String>) -> Result<ExitCode> {
    let stores = ctx.open_stores()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match what {
        DumpWhat::Cache => {
            for entry in stores.lake.entries(&EntryFilter { state })? {
                writeln!(out, "{}", serde_json::to_string(&entry)?)?;
            }
        }
        DumpWhat::Archive => {
            if state.is_some() {
                bail!("--state applies to `dump cache` only");
            }
            for doc in stores.archive.documents()? {
                writeln!(out, "{}", crate::document::to_json_line(&doc))?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            Ok(out.flush()?)
        }
    }
}

/// Creates a directory (and parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

pub fn now_epoch_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
