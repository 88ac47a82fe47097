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
static ALLOCATOR: fulcrum_sys::memory::Allocator = fulcrum_sys::memory::Allocator;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Check { config } => cli::check(&config),
        cli::Command::Run { config } => {
            small_pages();
            report(control::run_file(&config))
        }
        cli::Command::Demo(args) => {
            small_pages();
            report(demo::run(args))
        }
    }
}

/// No transparent huge pages: the allocator asks for them on its heap, and then an idle
/// connection's few hundred bytes are paid for in 2 MiB steps, and the kernel may stall a
/// worker to compact memory for the next huge page. A proxy's heap is small and spread over
/// many connections; 4 KiB pages fit it.
fn small_pages() {
    if let Err(e) = fulcrum_sys::memory::disable_transparent_huge_pages() {
        eprintln!("fulcrum: warning: could not turn transparent huge pages off: {e}");
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
