//! `replay ENTRY`: one entry through decryption and its parser, exactly as
//! the archiver would handle it, with nothing written to either store. How
//! a parser author checks a fix against the entry that failed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use cybexp_lake::{CacheEntry, EntryFilter, EntryId, Outcome};
use cybexp_status::untrusted::escape;
use serde_json::json;

use crate::context::Settings;
use crate::document::records_summary;
use crate::pipeline::{Processor, Route, Step, blob_failure};
use crate::verdict::{EXIT_RETRY, exit_code};

/// What `replay` was asked.
pub struct Request {
    pub entry: String,
    pub parser: Option<String>,
    pub parser_file: Option<PathBuf>,
    pub show_plaintext: bool,
    pub json: bool,
}

/// The name a `--parser-file` component is loaded under.
const REPLAYED_PARSER: &str = "replay:file";

pub fn run(ctx: &Settings, request: Request) -> Result<ExitCode> {
    let stores = ctx.open_stores()?;
    let filter = EntryFilter { state: None, id: Some(EntryId(request.entry.clone())) };
    let Some(entry) = stores.lake.entries(&filter)?.into_iter().next() else {
        bail!("no entry {:?} in {}", request.entry, stores.lake.describe());
    };
    let mut sandbox = ctx.sandbox()?;
    let configured = ctx.config.routes().remove(&entry.typtag);
    let route = match (&request.parser, &request.parser_file, configured) {
        (Some(parser), _, configured) => Route {
            parser: parser.clone(),
            sub_type: configured.map_or_else(|| parser.clone(), |route| route.sub_type),
        },
        (None, Some(file), configured) => {
            // The budgets of the parser it would replace, else the defaults.
            let limits = configured
                .as_ref()
                .and_then(|route| sandbox.parser(&route.parser))
                .map(|parser| parser.limits)
                .unwrap_or_default();
            sandbox.load_file(REPLAYED_PARSER, file, limits)?;
            let sub_type = configured.map_or_else(|| entry.typtag.clone(), |route| route.sub_type);
            Route { parser: REPLAYED_PARSER.into(), sub_type }
        }
        (None, None, Some(route)) => route,
        (None, None, None) => {
            report(&request, &entry, None, &Outcome::NotSupported, &Parsed::default(), None);
            return Ok(exit_code(&Outcome::NotSupported));
        }
    };
    if sandbox.parser(&route.parser).is_none() {
        bail!("no parser named {:?} is loaded", route.parser);
    }
    let processor = Processor {
        keyring: ctx.keyring(false)?,
        sandbox,
        routes: BTreeMap::from([(entry.typtag.clone(), route.clone())]),
    };
    let blob = match stores.lake.read_blob(&entry, processor.max_blob_bytes(&route)) {
        Ok(blob) => blob,
        Err(e) => {
            let outcome = blob_failure(e)?;
            report(&request, &entry, Some(&route), &outcome, &Parsed::default(), None);
            return Ok(exit_code(&outcome));
        }
    };
    let plaintext = if request.show_plaintext { processor.keyring.decrypt(&blob).ok() } else { None };
    let processed = processor.process_routed(&route, &entry, &blob);
    let outcome = match processed.step {
        Step::Store(doc) => Outcome::Success { hash: doc.hash },
        Step::Finish(outcome) => outcome,
        Step::Retry(trouble) => {
            eprintln!("RETRY: the archiver's own trouble, not the entry's (the daemon would retry it): {trouble}");
            return Ok(ExitCode::from(EXIT_RETRY));
        }
    };
    let parsed = Parsed { stats: processed.call.map(|call| call.stats), first_malformed: processed.first_malformed };
    report(&request, &entry, Some(&route), &outcome, &parsed, plaintext.as_deref());
    Ok(exit_code(&outcome))
}

/// What the parser call cost and read, when it ran.
#[derive(Default)]
struct Parsed {
    stats: Option<cybexp_sandbox::CallStats>,
    /// The parser's note on the first malformed record.
    first_malformed: Option<String>,
}

fn report(
    request: &Request,
    entry: &CacheEntry,
    route: Option<&Route>,
    outcome: &Outcome,
    parsed: &Parsed,
    plaintext: Option<&str>,
) {
    let stats = parsed.stats;
    let (cause, message, hash) = match outcome {
        Outcome::Success { hash } => (None, None, Some(hash.as_str())),
        Outcome::NotSupported => (None, None, None),
        Outcome::Error { cause, message } => (Some(cause.code()), Some(message.as_str()), None),
    };
    let recorded = if entry.processed {
        "SUCCESS".to_owned()
    } else {
        skipped_as(entry.state.as_deref(), entry.cause.as_deref()).unwrap_or_else(|| "nothing yet".to_owned())
    };
    if request.json {
        let mut out = json!({
            "entry": entry.id.0,
            "typtag": entry.typtag,
            "parser": route.map(|r| r.parser.as_str()),
            "sub_type": route.map(|r| r.sub_type.as_str()),
            "outcome": outcome.label(),
            "cause": cause,
            "message": message,
            "fuel": stats.map(|s| s.fuel_used),
            "elapsed_us": stats.map(|s| s.elapsed.as_micros() as u64),
            "records": stats.map(|s| s.counts.records),
            "malformed": stats.map(|s| s.counts.malformed),
            "first_malformed": parsed.first_malformed,
            "hash": hash,
            "recorded": {
                "processed": entry.processed,
                "state": entry.state,
                "cause": entry.cause,
                "refs": entry.refs,
                "requeued": entry.requeued,
            },
        });
        if let Some(plaintext) = plaintext {
            out["plaintext"] = json!(plaintext);
        }
        println!("{out}");
        return;
    }
    // What the entry and the parser say is the submitter's text: escaped.
    println!("entry     {} (typtag {})", entry.id, escape(&entry.typtag));
    if let Some(route) = route {
        println!("parser    {} (sub_type {})", route.parser, route.sub_type);
    }
    println!("outcome   {}{}", outcome.label(), cause.as_deref().map(|c| format!(" {c}")).unwrap_or_default());
    if let Some(message) = message {
        println!("reason    {}", escape(message));
    }
    if let Some(stats) = stats {
        println!("fuel      {}", stats.fuel_used);
        println!("time      {:.3} ms", stats.elapsed.as_secs_f64() * 1e3);
        if matches!(outcome, Outcome::Success { .. }) {
            println!("records   {}", records_summary(stats.counts, parsed.first_malformed.as_deref()));
        }
    }
    if let Some(hash) = hash {
        println!("hash      {hash}");
    }
    println!("recorded  {}", escape(&recorded));
    // What each requeue cleared, oldest first: why the entry failed before.
    for (i, r) in entry.requeued.iter().enumerate() {
        let was = skipped_as(r.state.as_deref(), r.cause.as_deref()).unwrap_or_else(|| "-".to_owned());
        let error = r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        let label = if i == 0 { "requeued" } else { "" };
        println!("{label:<9} {}, was {}", crate::skipped::time_text(r.at), escape(&format!("{was}{error}")));
    }
    if let Some(plaintext) = plaintext {
        // Lines and tabs kept for reading; every other control character
        // escaped (`--json` has the exact text).
        let lines: Vec<_> = plaintext.split('\n').map(|line| escape(line).replace("\\t", "\t")).collect();
        println!("plaintext:\n{}", lines.join("\n"));
    }
}

/// A skipped entry's state as `replay` names it: `ERROR cause (state)`, or
/// the state (`NOT_SUPPORTED`); `None` when it records neither.
fn skipped_as(state: Option<&str>, cause: Option<&str>) -> Option<String> {
    match (state, cause) {
        (Some(state), Some(cause)) => Some(format!("ERROR {cause} ({state})")),
        (Some(state), None) => Some(state.to_uppercase()),
        _ => None,
    }
}
