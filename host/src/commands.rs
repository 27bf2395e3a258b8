//! One function per subcommand; `main` only dispatches.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use cybexp_keys::{KeyKind, Perms};
use cybexp_lake::{BatchQuery, EntryFilter, EntryState, NewEntry, Outcome, RequeueFilter};
use cybexp_sandbox::ParseInput;
use cybexp_status::untrusted::escape;
use std::ops::ControlFlow;

use crate::cli::{Cli, Command, DumpWhat, Format, KeyKindArg, PermsArgs};
use crate::context::{Settings, create_private_dir};
use crate::document::records_summary;
use crate::pipeline::{Summary, raw_document};
use crate::verdict::{EXIT_ERROR, EXIT_NOT_SUPPORTED, Verdict};

/// Runs one subcommand.
pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Generate { what } = &cli.command {
        return crate::generate::write(what, &mut std::io::stdout().lock());
    }
    if let Command::CheckConfig = cli.command {
        // Before the config is read: a config that does not load is one of
        // its findings, not an error that stops it.
        crate::logging::init(cli.log.as_deref(), None, "warn", cli.log_format.unwrap_or_default());
        return Ok(crate::check_config::run(cli.config.as_deref(), cli.data_dir.as_deref()));
    }
    let ctx = match Settings::load(cli.config.as_deref(), cli.data_dir.as_deref()) {
        Ok(ctx) => ctx,
        Err(error) => return without_config(cli, error),
    };
    // The demo prints its own account of every outcome.
    let default_filter = if matches!(cli.command, Command::Demo { .. }) { "error" } else { "info" };
    let format = cli.log_format.or(ctx.config.log_format).unwrap_or_default();
    let log = crate::logging::init(cli.log.as_deref(), ctx.config.log.as_deref(), default_filter, format);
    match cli.command {
        Command::Keygen { out, kind, bits } => keygen(&out.map_or_else(|| ctx.keys_dir(), Ok)?, kind, bits),
        Command::Encrypt { public, format, output, file } => encrypt(&public, format, output.as_deref(), &file),
        Command::Decrypt { keys, perms, output, blob } => decrypt(&keys, perms, output.as_deref(), &blob),
        Command::Parse { typtag, parser, sub_type, orgid, timezone, file } => {
            parse(&ctx, typtag, parser, sub_type, &orgid, &timezone, &file)
        }
        Command::Submit { typtag, orgid, timezone, format, public, files } => {
            let key = match public {
                Some(path) => cybexp_keys::load_public_key(&path)?,
                None => ctx.public_key()?,
            };
            // The API writes legacy; an X-Wing key seals only v3.
            let format = format.unwrap_or(if key.kind() == KeyKind::XWing { Format::V3 } else { Format::Legacy });
            submit(&ctx, &typtag, &orgid, &timezone, &key, format, &files)
        }
        Command::Once { force, typtag, json } => once(&ctx, force, typtag, json),
        Command::Run => daemon(&ctx, log),
        Command::CheckConfig | Command::Generate { .. } => unreachable!("handled before the config is read"),
        Command::Dump { what, state } => dump(&ctx, what, state),
        Command::Parser { action } => crate::parser_tools::run(action),
        Command::Requeue { cause, state, typtag, since, until, dry_run } => {
            let filter = RequeueFilter { cause_prefix: cause, state, typtag, since, until };
            requeue(&ctx, &filter, dry_run)
        }
        Command::Skipped { json } => skipped(&ctx, json),
        Command::Replay { entry, parser, parser_file, show_plaintext, json } => {
            crate::replay::run(&ctx, crate::replay::Request { entry, parser, parser_file, show_plaintext, json })
        }
        Command::Demo { keep } => crate::demo::run(keep),
        Command::Top { socket, interval } => crate::dashboard::top(&ctx.socket_path(socket.as_deref())?, interval),
        Command::Status { socket, json, check } => crate::dashboard::status(
            &ctx.socket_path(socket.as_deref())?,
            crate::dashboard::Show::from_flags(json, check),
        ),
    }
}

/// A config file that cannot be read stops every command but the socket
/// clients: a broken file is when an operator most needs `status` and
/// `top`, and they need only the socket, which they find as they would
/// without a config (`--socket`, else the default). `replay` needs the
/// stores, keys and budgets the file names, so it says so.
fn without_config(cli: Cli, error: anyhow::Error) -> Result<ExitCode> {
    let file = cli.config.clone().unwrap_or_default();
    type Ask = Box<dyn FnOnce(&Path) -> Result<ExitCode>>;
    let (socket, ask): (Option<PathBuf>, Ask) = match cli.command {
        Command::Status { socket, json, check } => {
            let show = crate::dashboard::Show::from_flags(json, check);
            (socket, Box::new(move |path| crate::dashboard::status(path, show)))
        }
        Command::Top { socket, interval } => (socket, Box::new(move |path| crate::dashboard::top(path, interval))),
        Command::Replay { .. } => {
            return Err(error.context(
                "`replay` needs the stores, keys and parser budgets the config names, and it could not be read",
            ));
        }
        _ => return Err(error),
    };
    let path = Settings::load(None, cli.data_dir.as_deref())?.socket_path(socket.as_deref())?;
    let which = if socket.is_some() { "the socket" } else { "the default socket" };
    // The cause without the context that names the file (the warning names
    // it); a TOML error's snippet goes on lines of its own below. Escaped:
    // the snippet quotes the file, whoever wrote it.
    let cause = error.chain().skip(1).map(ToString::to_string).collect::<Vec<_>>().join(": ");
    let cause = if cause.is_empty() { error.to_string() } else { cause };
    let mut lines = cause.lines().filter(|line| !line.trim().is_empty()).map(escape);
    eprintln!(
        "warning: the config {} could not be read ({}); asking the daemon on {which} {}",
        file.display(),
        lines.next().unwrap_or_default(),
        path.display()
    );
    lines.for_each(|line| eprintln!("  {line}"));
    ask(&path)
}

fn keygen(dir: &Path, kind: KeyKindArg, bits: Option<usize>) -> Result<ExitCode> {
    create_private_dir(dir)?;
    let written = match (kind, bits) {
        (KeyKindArg::Rsa, bits) => cybexp_keys::write_keypair(dir, bits.unwrap_or(cybexp_keys::DEFAULT_BITS))?,
        (KeyKindArg::XWing, None) => cybexp_keys::write_xwing_keypair(dir)?,
        (KeyKindArg::XWing, Some(_)) => bail!("--bits is for RSA keys; an X-Wing key has one size"),
    };
    println!("private key: {} (mode 0600)", written.private_path.display());
    println!("public key:  {}", written.public_path.display());
    println!("key id:      {}", written.public.fingerprint());
    println!("kind:        {}", written.public.kind());
    Ok(ExitCode::SUCCESS)
}

fn encrypt(public: &Path, format: Option<Format>, output: Option<&Path>, file: &Path) -> Result<ExitCode> {
    let key = cybexp_keys::load_public_key(public)?;
    let format = format.unwrap_or(if key.kind() == KeyKind::XWing { Format::V3 } else { Format::V2 });
    let plaintext = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let blob = seal(&key, format, &plaintext)?;
    write_output(output, &blob)?;
    Ok(ExitCode::SUCCESS)
}

/// Seals in `format`; a key of the wrong kind for it is an error that says so.
fn seal(key: &cybexp_keys::PublicKey, format: Format, plaintext: &[u8]) -> Result<Vec<u8>> {
    Ok(match format {
        Format::Legacy => cybexp_keys::legacy::encrypt(key, plaintext)?,
        Format::V2 => cybexp_keys::v2::encrypt(key, plaintext)?,
        Format::V3 => cybexp_keys::v3::encrypt(key, plaintext)?,
    })
}

fn decrypt(keys: &[PathBuf], perms: PermsArgs, output: Option<&Path>, blob: &Path) -> Result<ExitCode> {
    let perms = if perms.allow_insecure_key_permissions { Perms::AllowInsecure } else { Perms::Strict };
    crate::hardening::protect_key_material();
    let ring = cybexp_keys::load_keyring(keys, perms)?;
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
    ctx: &Settings,
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
        eprintln!("ERROR (parser.invalid_input): the plaintext is not UTF-8");
        return Ok(ExitCode::from(EXIT_ERROR));
    };
    let sandbox = ctx.sandbox()?;
    let input = ParseInput { typtag: &typtag, orgid, timezone, sub_type: &sub_type, plaintext: &plaintext };
    // The sandbox logs the call at debug level (parser, records, cost).
    let (result, _) = sandbox.parse(&parser, &input);
    let verdict = Verdict::of(result);
    match &verdict {
        Verdict::Parsed(doc) => {
            // The document on stdout, what the parser read on stderr.
            eprintln!("records: {}", records_summary(doc.counts, doc.first_malformed.as_deref()));
            println!("{}", crate::document::to_json_line(&raw_document(doc.clone(), orgid, timezone)));
        }
        Verdict::Finish { outcome, why } => eprintln!("{}: {}", outcome_words(outcome), escape(why)),
        Verdict::Retry(why) => eprintln!("RETRY (the archiver's trouble, not the input's): {why}"),
    }
    Ok(verdict.exit_code())
}

/// `NOT_SUPPORTED` or `ERROR (parser.fuel)`, as `parse` reports it.
fn outcome_words(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Error { cause, .. } => format!("ERROR ({})", cause.code()),
        other => other.label().to_owned(),
    }
}

fn submit(
    ctx: &Settings,
    typtag: &str,
    orgid: &str,
    timezone: &str,
    key: &cybexp_keys::PublicKey,
    format: Format,
    files: &[PathBuf],
) -> Result<ExitCode> {
    let store = ctx.open_stores()?.lake;
    for file in files {
        let plaintext = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let blob = seal(key, format, &plaintext)?;
        let entry = NewEntry {
            name: file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            orgid: orgid.to_owned(),
            typtag: typtag.to_owned(),
            timezone: timezone.to_owned(),
            timestamp: cybexp_lake::clock::now_epoch_secs(),
        };
        let id = store.submit(&entry, &blob)?;
        println!("{id}\t{}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn once(ctx: &Settings, force: bool, typtag: Option<String>, json: bool) -> Result<ExitCode> {
    let shutdown = crate::signals::install()?;
    let stores = ctx.open_stores()?;
    let pipeline = ctx.pipeline(&stores, shutdown)?;
    if force {
        let n = stores.lake.unskip(typtag.as_deref())?;
        tracing::info!(entries = n, "skipped entries queued again (--force)");
    }
    let waiting = stores.lake.queue_depth()?.waiting;
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

fn print_summary(summary: &Summary, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
    } else {
        print!("{summary}");
    }
    Ok(())
}

fn daemon(ctx: &Settings, log: crate::logging::Log) -> Result<ExitCode> {
    let shutdown = crate::signals::install()?;
    let stores = ctx.open_stores()?;
    let mut pipeline = ctx.pipeline(&stores, shutdown)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        lake = %pipeline.lake.describe(),
        archive = %pipeline.archive.describe(),
        workers = pipeline.workers,
        parsers = ?pipeline.processor().sandbox.parsers().map(|p| format!("{}@{}", p.name, p.version)).collect::<Vec<_>>(),
        "archiver started"
    );
    let socket = ctx.socket_path(None)?;
    let telemetry = crate::telemetry::start(&ctx.config, &socket, &pipeline, stores.lake.clone())?;
    pipeline.probe = telemetry.probe();
    let reload_requested = crate::signals::reload_requests()?;
    let mut reloader = crate::reload::Reloader::new(ctx, &telemetry, log);
    let query = BatchQuery { limit: pipeline.batch_size, include_skipped: false, typtag: None };
    let _watchdog = crate::systemd::Watchdog::start(pipeline.liveness.clone());
    crate::systemd::ready("started: polling the cache lake");
    // Test hook: a loop that stops moving after N polls (the watchdog test).
    let hang_after: Option<u64> = std::env::var(HANG_AFTER_POLLS_ENV).ok().and_then(|n| n.parse().ok());
    let mut polls = 0u64;
    let on_poll = |report: &crate::pipeline::PollReport| {
        polls += 1;
        crate::systemd::status(&poll_status(report));
        if hang_after.is_some_and(|n| polls >= n) {
            tracing::warn!("{HANG_AFTER_POLLS_ENV} is set: the loop hangs here, as a stuck call would");
            loop {
                std::thread::park();
            }
        }
    };
    pipeline.run_forever_with_reload(&query, on_poll, &reload_requested, || reloader.reload());
    crate::systemd::stopping();
    tracing::info!("archiver stopped");
    Ok(ExitCode::SUCCESS)
}

/// Set to N to make the daemon loop hang after N polls (tests only: the
/// watchdog must notice).
const HANG_AFTER_POLLS_ENV: &str = "CYBEXP_TEST_HANG_AFTER_POLLS";

/// The STATUS= line after a poll: the backoff state `top` shows.
fn poll_status(report: &crate::pipeline::PollReport) -> String {
    let next = format!("next poll in {:.1} s", report.sleep.as_secs_f64());
    match &report.last_error {
        Some(error) => format!("store unavailable ({error}); {next}"),
        None if report.failures == 0 => format!("working; {next}"),
        None => format!("idle (backoff n={}); {next}", report.failures),
    }
}

fn dump(ctx: &Settings, what: DumpWhat, state: Option<String>) -> Result<ExitCode> {
    let stores = ctx.open_stores()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // One entry or document at a time: a lake of millions dumps in flat memory.
    let mut failed: Option<anyhow::Error> = None;
    let mut emit = |line: Result<String>| match line.and_then(|line| Ok(writeln!(out, "{line}")?)) {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => {
            failed = Some(e);
            ControlFlow::Break(())
        }
    };
    match what {
        DumpWhat::Cache => {
            let state = state.map(|s| s.parse::<EntryState>().unwrap_or_else(|e| match e {}));
            let filter = EntryFilter { state, id: None };
            stores
                .lake
                .for_each_entry(&filter, &mut |entry| emit(serde_json::to_string(&entry).map_err(Into::into)))?;
        }
        DumpWhat::Archive => {
            if state.is_some() {
                bail!("--state applies to `dump cache` only");
            }
            stores.archive.for_each_document(&mut |doc| emit(Ok(crate::document::to_json_line(&doc))))?;
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `skipped`: the skipped entries by cause and typtag, walked one at a time.
fn skipped(ctx: &Settings, json: bool) -> Result<ExitCode> {
    let stores = ctx.open_stores()?;
    let mut summary = crate::skipped::Summary::default();
    stores.lake.for_each_skipped(&RequeueFilter::default(), &mut |entry| {
        summary.add(&entry);
        ControlFlow::Continue(())
    })?;
    if json {
        println!("{}", summary.to_json());
    } else {
        print!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

/// How many entries `requeue --dry-run` lists.
const REQUEUE_SAMPLE: usize = 10;

/// Entries queued again per write: the ids of a chunk are all `requeue`
/// holds, however many match.
const REQUEUE_CHUNK: usize = 1000;

fn requeue(ctx: &Settings, filter: &RequeueFilter, dry_run: bool) -> Result<ExitCode> {
    let stores = ctx.open_stores()?;
    let lake = &stores.lake;
    let mut matched = 0u64;
    if dry_run {
        let mut sample = Vec::new();
        lake.for_each_skipped(filter, &mut |entry| {
            matched += 1;
            if sample.len() < REQUEUE_SAMPLE {
                sample.push(entry);
            }
            ControlFlow::Continue(())
        })?;
        println!("{matched} skipped entries match; nothing changed (without --dry-run they are queued again)");
        for entry in &sample {
            let cause = entry.skip_reason().unwrap_or("-");
            println!("  {}  {}  {}  {}", entry.id, escape(&entry.typtag), escape(cause), entry.timestamp);
        }
        if matched > REQUEUE_SAMPLE as u64 {
            println!("  ... and {} more", matched - REQUEUE_SAMPLE as u64);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Queued a chunk at a time as the walk goes: what `requeue` holds is one
    // chunk of ids, however many match. A queued entry is no longer skipped,
    // so the walk never meets it again.
    let (mut queued, mut chunk, mut failed) = (0, Vec::with_capacity(REQUEUE_CHUNK), None);
    lake.for_each_skipped(filter, &mut |entry| {
        matched += 1;
        chunk.push(entry.id);
        if chunk.len() < REQUEUE_CHUNK {
            return ControlFlow::Continue(());
        }
        match lake.unskip_ids(&std::mem::take(&mut chunk)) {
            Ok(n) => {
                queued += n;
                ControlFlow::Continue(())
            }
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    queued += lake.unskip_ids(&chunk)?;
    // Fewer than matched: some were requeued or processed meanwhile.
    println!("queued {queued} of {matched} matching skipped entries again");
    tracing::info!(queued, matched, "entries queued again");
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
