//! The `fulcrum` binary: parses the command line and hands off. Wiring lives in the modules.

#![forbid(unsafe_code)]

mod cli;
mod control;
mod demo;
mod logging;

use clap::Parser;
use std::process::ExitCode;

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
