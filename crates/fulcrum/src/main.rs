//! The `fulcrum` binary: parses the command line and hands off. Wiring lives in the modules.

#![forbid(unsafe_code)]

mod cli;
mod control;
mod demo;
mod logging;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: per-thread free lists make the many small, short-lived allocations of request
/// handling (header values, buffers) several times cheaper than glibc's malloc, and freed
/// memory goes back to the system, which keeps idle workers small.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Check { config } => cli::check(&config),
        cli::Command::Run { config } => report(control::run_file(&config)),
        cli::Command::Demo(args) => report(demo::run(args)),
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fulcrum: {e:#}");
            ExitCode::FAILURE
        }
    }
}
