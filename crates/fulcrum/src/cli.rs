//! Command-line interface.

use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Fulcrum: a load balancer and reverse proxy for Linux.
#[derive(Debug, Parser)]
#[command(name = "fulcrum", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run with a config file. SIGHUP reloads it; SIGTERM/SIGINT drain and stop.
    Run {
        /// The config file (TOML).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Validate a config file: exit 0 if it is good, 1 with every error if not.
    Check {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Start built-in demo backends and a balancer in front of them.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the demo's TCP listener.
    #[arg(long, default_value = "127.0.0.1:4000")]
    pub listen: std::net::SocketAddr,
    /// Address of the demo's HTTP listener.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: std::net::SocketAddr,
    /// Address of the admin API and dashboard.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub admin: std::net::SocketAddr,
}

/// `fulcrum check`.
pub fn check(path: &Path) -> ExitCode {
    match fulcrum_config::load(path) {
        Ok(config) => match fulcrum_proxy::TlsSet::build(&config, None) {
            Ok(_) => {
                println!("config ok: {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
