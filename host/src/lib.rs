//! The CYBEX-P archiver as a library: the binary (`main.rs`) is thin glue
//! over these modules, and the end-to-end tests drive the same code.

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod document;
pub mod hardening;
pub mod pipeline;
pub mod signals;
pub mod telemetry;
