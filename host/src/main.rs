use std::process::ExitCode;

use clap::Parser;
use cybexp_archive::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = if matches!(cli.command, Command::Demo { .. }) { "warn" } else { "info" };
    let filter = cli.log.as_deref().unwrap_or(default);
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match cybexp_archive::commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
