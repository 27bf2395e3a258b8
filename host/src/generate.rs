//! `generate man` and `generate completions SHELL`: the man page and the
//! shell completions, made from the command line's own definition (`cli`),
//! so the package never ships a page that has drifted from the binary.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Generate};

/// Writes what `what` asks for to `out`.
pub fn write(what: &Generate, out: &mut dyn Write) -> Result<ExitCode> {
    let mut command = Cli::command();
    // Made in memory, then written: clap_complete panics on a write error
    // (a closed pipe), where this returns it.
    let mut text = Vec::new();
    match what {
        Generate::Man => clap_mangen::Man::new(command).render(&mut text)?,
        Generate::Completions { shell } => {
            let name = command.get_name().to_owned();
            clap_complete::generate(*shell, &mut command, name, &mut text);
        }
    }
    out.write_all(&text)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
