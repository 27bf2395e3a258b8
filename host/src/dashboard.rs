//! `top` and `status`: clients of a running daemon's status socket.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

/// `cybexp-archive top`: the live dashboard (`cybexp-tui`).
pub fn top(socket: &Path, interval_ms: u64) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        bail!("`top` needs a terminal; for scripts use `cybexp-archive status [--json]`");
    }
    cybexp_tui::run(cybexp_tui::Options::new(socket.to_owned(), Duration::from_millis(interval_ms)))?;
    Ok(ExitCode::SUCCESS)
}

/// What `status` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    Text,
    Json,
    /// One line, and the exit code says it ([`EXIT_DEGRADED`]).
    Check,
}

impl Show {
    pub fn from_flags(json: bool, check: bool) -> Show {
        match (json, check) {
            (_, true) => Show::Check,
            (true, false) => Show::Json,
            (false, false) => Show::Text,
        }
    }
}

/// `status --check`: the daemon answers but is not healthy
/// ([`cybexp_status::Health`]); 1 is unreachable, as for every `status`.
pub const EXIT_DEGRADED: u8 = 2;

/// `cybexp-archive status`: exit 0 with the snapshot, 1 when the daemon is
/// unreachable; with `--check`, 2 when it is degraded.
pub fn status(socket: &Path, show: Show) -> Result<ExitCode> {
    let snapshot = match cybexp_status::Connection::connect(socket, cybexp_tui::client::IO_TIMEOUT)
        .and_then(|mut conn| conn.snapshot())
    {
        Ok(snapshot) => snapshot,
        Err(e) if show == Show::Check => {
            println!("unreachable: {e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match show {
        Show::Json => println!("{}", serde_json::to_string(&snapshot)?),
        Show::Text => print!("{}", cybexp_tui::text::StatusReport(&cybexp_status::Escaped::new(snapshot))),
        Show::Check => {
            // Decided on the raw snapshot (an error's lines are still
            // lines), printed escaped.
            let health = snapshot.health();
            if health.healthy() {
                println!("healthy: {}", cybexp_tui::text::state(&snapshot.state()));
                return Ok(ExitCode::SUCCESS);
            }
            let problems: Vec<String> = health.problems.iter().map(ToString::to_string).collect();
            println!("degraded: {}", cybexp_status::untrusted::escape(&problems.join("; ")));
            return Ok(ExitCode::from(EXIT_DEGRADED));
        }
    }
    Ok(ExitCode::SUCCESS)
}
