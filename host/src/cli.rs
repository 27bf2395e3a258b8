//! The command line: argument parsing only; each command lives in
//! `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cybexp-archive",
    version,
    long_version = crate::build_info::long_version(),
    about = "The CYBEX-P archiver: cache data lake → sandboxed parsers → TAHOE raw documents"
)]
pub struct Cli {
    /// Config file: TOML, or a CYBEX-P config.json.
    #[arg(long, global = true, env = crate::config::CONFIG_ENV, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Data directory for the embedded store and default keys.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Log filter (tracing's EnvFilter syntax), e.g. `info`, `debug`; pins
    /// it over the config's `log`, which a reload would change [default:
    /// the config's `log`, else info; error for `demo`].
    #[arg(long, global = true, env = "CYBEXP_LOG")]
    pub log: Option<String>,

    /// Log format on stderr: `text`, or `json` (one object per line, for
    /// log shippers) [default: the config's `log_format`, else text].
    #[arg(long, global = true, env = "CYBEXP_LOG_FORMAT", value_enum)]
    pub log_format: Option<crate::config::LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum ParserAction {
    /// `cargo build` a parser crate for wasm32 and turn its module into a
    /// component (needs `rustup target add wasm32-unknown-unknown`).
    Build {
        /// The parser crate's folder (its Cargo.toml).
        dir: PathBuf,
        /// Where to write the component [default: DIR/<crate>.component.wasm].
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Load a component as the archiver would (it may import only the
    /// host's sha256 and must export the cybexp:parser world), print its
    /// size, compile time and identity, and with --input run it on a
    /// sample: outcome and fuel.
    Check {
        file: PathBuf,
        /// A plaintext sample to parse under the default budgets.
        #[arg(long, value_name = "SAMPLE")]
        input: Option<PathBuf>,
        /// sub_type for the sample's document.
        #[arg(long, default_value = "sample")]
        sub_type: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a key pair: DIR/priv.pem (0600) and DIR/pub.pem.
    Keygen {
        /// Output directory (default: <data-dir>/keys).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// `rsa` (legacy and v2 envelopes) or `x-wing` (the post-quantum v3
        /// envelope: priv.pem holds the 32-byte seed, pub.pem the 1,216-byte key).
        #[arg(long, value_enum, default_value_t = KeyKindArg::Rsa)]
        kind: KeyKindArg,
        /// RSA modulus size: 2048, 3072, 4096 or 8192 [default: 3072].
        #[arg(long)]
        bits: Option<usize>,
    },
    /// Encrypt a file for the archiver (the producer side).
    Encrypt {
        /// Recipient public key (PEM): RSA or X-Wing.
        #[arg(long = "pub", value_name = "PUB")]
        public: PathBuf,
        /// Envelope [default: v2 for an RSA key, v3 for an X-Wing key].
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Output file (default: stdout).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        file: PathBuf,
    },
    /// Decrypt a blob and print its plaintext.
    Decrypt {
        /// Private key (PEM); repeat for several.
        #[arg(long = "key", value_name = "PRIV", required = true)]
        keys: Vec<PathBuf>,
        #[command(flatten)]
        perms: PermsArgs,
        /// Output file (default: stdout).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        blob: PathBuf,
    },
    /// Run a sandboxed parser on a plaintext file and print the raw document.
    /// Exit 0 = SUCCESS, 3 = NOT_SUPPORTED, 4 = ERROR (reason on stderr).
    Parse {
        /// Pick the parser and sub_type by typtag, as the archiver does.
        #[arg(long, conflicts_with = "parser", required_unless_present = "parser")]
        typtag: Option<String>,
        /// Pick a parser by name (built-in or from config).
        #[arg(long)]
        parser: Option<String>,
        /// sub_type with --parser (default: the parser name).
        #[arg(long, requires = "parser")]
        sub_type: Option<String>,
        #[arg(long)]
        orgid: String,
        #[arg(long, default_value = "UTC")]
        timezone: String,
        file: PathBuf,
    },
    /// Add entries to the cache lake, as the CYBEX-P API does.
    Submit {
        #[arg(long)]
        typtag: String,
        #[arg(long)]
        orgid: String,
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Envelope to write [default: legacy for an RSA key, as the API
        /// writes; v3 for an X-Wing key].
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Recipient public key (PEM) [default: the config's keys.public,
        /// else <data-dir>/keys/pub.pem].
        #[arg(long = "pub", value_name = "PUB")]
        public: Option<PathBuf>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Work off the backlog once and exit, with a summary.
    Once {
        /// Include skipped entries (e.g. after deploying a parser for them).
        #[arg(long)]
        force: bool,
        /// Only entries of this typtag.
        #[arg(long)]
        typtag: Option<String>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The archiver daemon: poll, process, back off when idle.
    Run,
    /// Check everything `run` would load (config, keys, parsers, routes,
    /// budgets, the store's reachability, the socket and metrics
    /// addresses), one line per check. Exit 0 when `run` would start, 78
    /// (EX_CONFIG) when it would not. Changes nothing.
    CheckConfig,
    /// The man page or shell completions, generated from this command line,
    /// on stdout (for packaging: scripts/package.sh).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
    /// Print cache entries or archive documents as JSON lines.
    Dump {
        #[arg(value_enum)]
        what: DumpWhat,
        /// For `cache`: processed, unprocessed, skipped, or a state value.
        #[arg(long)]
        state: Option<String>,
    },
    /// For parser authors: build a parser crate into a component, and check
    /// a component against the parser world (guest-parsers/README.md).
    Parser {
        #[command(subcommand)]
        action: ParserAction,
    },
    /// Queue skipped entries again, chosen by cause, state, typtag and
    /// upload time; the daemon picks them up. Safe while a daemon runs.
    Requeue {
        /// Cause prefix, e.g. `parser.` or `parser.fuel`.
        #[arg(long)]
        cause: Option<String>,
        /// State value, e.g. `parse_failed`, `not_supported`.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        typtag: Option<String>,
        /// Uploaded at or after TIME: RFC 3339 (`2026-12-01T00:00:00Z`) or epoch seconds.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        since: Option<f64>,
        /// Uploaded before TIME.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        until: Option<f64>,
        /// Print how many would be queued and a sample; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Summarise the skipped entries by cause and typtag: how many, the
    /// oldest and newest upload times of each. Changes nothing.
    Skipped {
        /// JSON for scripts: `{"total", "rows": [{cause, typtag, count, oldest, newest}]}`,
        /// times in epoch seconds.
        #[arg(long)]
        json: bool,
    },
    /// Re-run one entry as the archiver would, changing nothing: read its
    /// blob, decrypt, parse under the configured budgets, and print the
    /// outcome, cause, fuel, time and hash beside what the entry recorded.
    Replay {
        /// The entry's id (as `dump cache` prints it).
        entry: String,
        /// Parse with this parser instead of the entry's route.
        #[arg(long, conflicts_with = "parser_file")]
        parser: Option<String>,
        /// Parse with this component file (a parser being fixed), under the
        /// budgets of the entry's parser.
        #[arg(long, value_name = "FILE.wasm")]
        parser_file: Option<PathBuf>,
        /// Also print the decrypted plaintext (it may be sensitive).
        #[arg(long)]
        show_plaintext: bool,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A throwaway key pair and data dir, the bundled samples (good, an
    /// unsupported typtag, hostile ones), and one archiver pass: see all
    /// three outcomes.
    Demo {
        /// Keep the demo data here instead of a temporary directory.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Live dashboard of a running daemon, read from its status socket.
    Top {
        /// The daemon's status socket [default: config's status.socket, else
        /// $RUNTIME_DIRECTORY/status.sock, else <data-dir>/status.sock].
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Refresh interval in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
        interval: u64,
    },
    /// A running daemon's status, once; exit 1 when it is unreachable.
    Status {
        /// The daemon's status socket (default as for `top`).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Print the snapshot as JSON (the status protocol's).
        #[arg(long, conflicts_with = "check")]
        json: bool,
        /// One line and the exit code only: 0 healthy, 1 unreachable, 2
        /// degraded (loop stalled, store unavailable, stopping, or the last
        /// reload refused).
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Generate {
    /// The man page, section 1 (roff).
    Man,
    /// The completion script for SHELL.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// An envelope (`cybexp_keys`): legacy and v2 for RSA keys, v3 for X-Wing keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Legacy,
    V2,
    V3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyKindArg {
    Rsa,
    #[value(name = "x-wing")]
    XWing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DumpWhat {
    Cache,
    Archive,
}

#[derive(Clone, Copy, Debug, Args)]
pub struct PermsArgs {
    /// Accept a private key file readable by group or others.
    #[arg(long)]
    pub allow_insecure_key_permissions: bool,
}

/// A point in time for `--since`/`--until`: epoch seconds, or RFC 3339
/// (a date and time, `Z` or no offset meaning UTC).
fn parse_time(text: &str) -> Result<f64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        return if seconds.is_finite() { Ok(seconds) } else { Err("not a finite number".into()) };
    }
    let time = humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .map_err(|e| format!("{e}: give epoch seconds or RFC 3339, e.g. 2026-12-01T00:00:00Z"))?;
    let since_epoch = time.duration_since(std::time::UNIX_EPOCH).map_err(|_| "before 1970".to_owned())?;
    Ok(since_epoch.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_are_epoch_seconds_or_rfc3339() {
        assert_eq!(parse_time("1700000000.5"), Ok(1_700_000_000.5));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000.0));
        assert_eq!(parse_time("2023-11-14 22:13:20"), Ok(1_700_000_000.0));
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
        assert!(parse_time("NaN").is_err());
    }
}
