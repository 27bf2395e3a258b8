use std::process::ExitCode;

use clap::Parser;
use cybexp_archive::cli::Cli;

fn main() -> ExitCode {
    // Logging starts once the config is read (it may choose the format).
    match cybexp_archive::run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
