//! `cybexp-archive demo`: everything a newcomer needs to see the archiver
//! work, with nothing configured. A throwaway key pair and data dir, the
//! bundled samples plus an unsupported typtag and hostile entries, one pass
//! of the real pipeline, and what ended where.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, Result};
use cybexp_lake::{BatchQuery, EntryFilter, NewEntry};

use crate::config::{Config, Route};
use crate::context::{Settings, create_private_dir};

const COWRIE_EVENTS: &str = include_str!("../demo/cowrie_events.jsonl");
const OPENPHISH_FEED: &str = include_str!("../demo/openphish_feed.txt");

/// One demo submission: (typtag, name, plaintext, what the reader should expect).
struct Sample {
    typtag: &'static str,
    name: String,
    plaintext: String,
    expect: &'static str,
    corrupt: bool,
}

fn samples() -> Vec<Sample> {
    let sample = |typtag, name: &str, plaintext: String, expect, corrupt| Sample {
        typtag,
        name: name.to_owned(),
        plaintext,
        expect,
        corrupt,
    };
    let mut samples: Vec<Sample> = COWRIE_EVENTS
        .lines()
        .enumerate()
        .map(|(i, line)| sample("unr-honeypot", &format!("cowrie-{i}"), line.to_owned(), "SUCCESS", false))
        .collect();
    samples.push(sample("openphish_feed", "openphish", OPENPHISH_FEED.to_owned(), "SUCCESS", false));
    samples.push(sample(
        "demo-json",
        "misp-like",
        r#"{"event": {"info": "demo", "ioc": ["1.2.3.4"]}}"#.into(),
        "SUCCESS",
        false,
    ));
    samples.push(sample("misp-event", "unknown typtag", "{\"a\": 1}".into(), "NOT_SUPPORTED", false));
    // 60 bytes nested 30 deep: the canonical form would be ~4 GiB.
    let bomb = format!("{}1{}", "{\"a\": ".repeat(30), "}".repeat(30));
    samples.push(sample("demo-json", "nesting bomb", bomb, "ERROR parser budget", false));
    samples.push(sample("unr-honeypot", "not a cowrie event", "hello, honeypot".into(), "ERROR invalid input", false));
    samples.push(sample("openphish_feed", "tampered blob", OPENPHISH_FEED.to_owned(), "ERROR decrypt.auth", true));
    samples
}

pub fn run(keep: Option<PathBuf>) -> Result<ExitCode> {
    // A fresh directory of a random name, made 0700 by us (never one that
    // someone else made in /tmp beforehand): it will hold a private key.
    let (dir, throwaway) = match keep {
        Some(dir) => {
            create_private_dir(&dir)?;
            (dir, None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("cybexp-demo-")
                .tempdir()
                .context("creating the demo's private temporary directory")?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    println!("demo data dir: {}", dir.display());

    let keys = dir.join("keys");
    create_private_dir(&keys)?;
    let written = cybexp_keys::write_keypair(&keys, 2048).context("generating the demo key pair")?;
    println!("generated a throwaway RSA-2048 key pair, key id {}", written.public.fingerprint());

    let mut config = Config { data_dir: Some(dir.clone()), ..Config::default() };
    config.typtags.insert("demo-json".into(), Route { parser: "json".into(), sub_type: "demo_json".into() });
    let ctx = Settings::new(config, dir.clone());
    let stores = ctx.open_stores()?;

    let samples = samples();
    println!("\nsubmitting {} entries as the CYBEX-P API would (legacy envelope):", samples.len());
    for sample in &samples {
        let mut blob = cybexp_keys::legacy::encrypt(&written.public, sample.plaintext.as_bytes())?;
        if sample.corrupt {
            let last = blob.len() - 1;
            blob[last] ^= 0x01;
        }
        let entry = NewEntry {
            name: sample.name.clone(),
            orgid: "demo-org".into(),
            typtag: sample.typtag.into(),
            timezone: "UTC".into(),
            timestamp: cybexp_lake::clock::now_epoch_secs(),
        };
        let id = stores.lake.submit(&entry, &blob)?;
        println!("  {id:>4}  {:<16} {:<20} expect {}", sample.typtag, sample.name, sample.expect);
    }

    println!("\nrunning the archiver once over the backlog...");
    let pipeline = ctx.pipeline(&stores, Arc::new(AtomicBool::new(false)))?;
    let query = BatchQuery { limit: pipeline.batch_size, include_skipped: false, typtag: None };
    let summary = pipeline.run_until_empty(&query, |_| {})?;
    println!();
    print!("{summary}");

    println!("\ncache entries afterwards:");
    for entry in stores.lake.entries(&EntryFilter::default())? {
        let outcome = if entry.processed { "processed".to_owned() } else { entry.state.clone().unwrap_or_default() };
        println!(
            "  {:>4}  {:<16} {:<20} {:<14} {}",
            entry.id.0,
            entry.typtag,
            entry.name,
            outcome,
            entry.error.as_deref().unwrap_or("")
        );
    }
    println!("\narchive: {} raw documents, e.g.", stores.archive.count()?);
    if let Some(doc) = stores.archive.documents()?.first() {
        let line = crate::document::to_json_line(doc);
        println!("  {}…", line.chars().take(160).collect::<String>());
    }
    if throwaway.is_some() {
        println!("\nthe demo data dir (it holds the throwaway private key) is removed now; keep it with --keep DIR");
    } else {
        println!("\nnext: `cybexp-archive --data-dir {} dump archive`", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
