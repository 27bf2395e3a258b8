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

/// `cybexp-archive status`: exit 0 with the snapshot, 1 when the daemon is unreachable.
pub fn status(socket: &Path, json: bool) -> Result<ExitCode> {
    let snapshot = match cybexp_status::Connection::connect(socket, cybexp_tui::client::IO_TIMEOUT)
        .and_then(|mut conn| conn.snapshot())
    {
        Ok(snapshot) => snapshot,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if json {
        println!("{}", serde_json::to_string(&snapshot)?);
    } else {
        print!("{}", cybexp_tui::text::StatusReport(&cybexp_status::Escaped::new(snapshot)));
    }
    Ok(ExitCode::SUCCESS)
}
