//! The CYBEX-P archiver as a library: the binary (`main.rs`) is thin glue
//! over these modules, and the benches and tests drive the same pipeline.
//!
//! Data flows one way: `cli` (arguments) → `commands` (one function per
//! subcommand) → `context` (config → stores, keyring, sandbox, pipeline) →
//! `pipeline` (which imports no other module here but the leaf `verdict`). `telemetry` starts the
//! daemon's telemetry and hands the pipeline its probe; `dashboard` holds
//! the socket clients (`top`, `status`); `demo` is the one-command tour;
//! `check_config` runs what `context` and `telemetry` would load, listing
//! every problem; `generate` writes the man page and completions from `cli`.
//! `verdict` (what a parse decides, how a command exits) is a leaf every
//! one of them uses; so is `build_info` (what the binary is, for
//! `--version` and the metrics).

pub mod build_info;
mod check_config;
pub mod cli;
mod commands;
pub mod config;
mod context;
mod dashboard;
mod demo;
mod document;
mod generate;
mod hardening;
mod logging;
mod parser_tools;
pub mod pipeline;
mod reload;
mod replay;
mod signals;
mod skipped;
mod systemd;
mod telemetry;
pub mod verdict;

pub use commands::run;
