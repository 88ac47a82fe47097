//! The validated model: what the rest of Fulcrum consumes.
//!
//! Every value here has passed validation (cross-references resolve, names are unique, no
//! address is bound twice) and every default is filled in. The defaults themselves are listed
//! in `docs/config.md`; [`crate::defaults`] holds them in code.

use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A whole, validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// The file it was read from, if any (the demo config has none).
    pub source: Option<PathBuf>,
    pub admin: Option<AdminConfig>,
    pub runtime: RuntimeConfig,
    pub log: LogConfig,
    pub listeners: Vec<ListenerConfig>,
    pub clusters: Vec<ClusterConfig>,
}

impl Config {
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }

    pub fn listener(&self, name: &str) -> Option<&ListenerConfig> {
        self.listeners.iter().find(|l| l.name == name)
    }
}

/// `[admin]`: the admin HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminConfig {
    pub listen: SocketAddr,
}

/// `[runtime]`: threads and process-wide behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeConfig {
    /// Worker threads; `None` means one per CPU in the process's affinity mask.
    pub workers: Option<usize>,
    /// Pin each worker thread to one CPU of the mask.
    pub pin_workers: bool,
    /// How long a graceful stop (SIGTERM/SIGINT) waits for open connections.
    #[serde(with = "crate::units::serde_duration")]
    pub shutdown_timeout: Duration,
    /// How TCP bytes are relayed.
    pub relay: RelayMode,
    /// Size of each direction's buffer in the copying relay (and of each splice pipe).
    pub buffer_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayMode {
    /// splice(2) through a pipe where possible, copying otherwise.
    Splice,
    /// Always read into a user-space buffer and write from it.
    Copy,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogConfig {
    /// A tracing filter: "info", "warn", "fulcrum_proxy=debug,info", ...
    pub level: String,
    /// One line per closed connection.
    pub connections: bool,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// One `[[listener]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerConfig {
    pub name: String,
    pub bind: SocketAddr,
    pub protocol: Protocol,
    /// Name of a cluster that exists in the same config.
    pub cluster: String,
    pub backlog: u32,
    /// Open connections at most (across all workers); at the limit the listener stops accepting.
    pub max_connections: usize,
    /// A connection with no bytes either way for this long is closed.
    #[serde(with = "crate::units::serde_duration")]
    pub idle_timeout: Duration,
    pub tcp_nodelay: bool,
    /// Idle time before TCP keepalive probes; `None` turns keepalive off.
    #[serde(with = "crate::units::serde_opt_duration")]
    pub tcp_keepalive: Option<Duration>,
}

impl ListenerConfig {
    /// What a listening socket depends on. Two listeners with equal socket keys can share the
    /// same socket across a reload.
    pub fn socket_key(&self) -> (SocketAddr, u32) {
        (self.bind, self.backlog)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Tcp,
}

/// One `[[cluster]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterConfig {
    pub name: String,
    pub balance: Balance,
    #[serde(with = "crate::units::serde_duration")]
    pub connect_timeout: Duration,
    /// Backends tried for one connection at most (the first pick plus retries on connect failure).
    pub connect_attempts: u32,
    pub backends: Vec<BackendConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    RoundRobin,
    WeightedRoundRobin,
    LeastConn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendConfig {
    pub address: SocketAddr,
    pub weight: u32,
}
