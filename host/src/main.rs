use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use cybexp_archive::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints its own account of every outcome.
    let default = if matches!(cli.command, Command::Demo { .. }) { "error" } else { "info" };
    let filter = cli.log.as_deref().unwrap_or(default);
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| default.into());
    // Colour only for a person at a terminal: log files and journald get plain text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
    match cybexp_archive::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
