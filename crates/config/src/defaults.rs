//! Every default and every limit of the config file, in one place.
//!
//! `docs/config.md` documents the same values (its examples are loaded by
//! `tests/good_configs.rs`). The limits here also feed the "expected ..." text of errors.

use crate::model::{Balance, LogConfig, LogFormat, Protocol, RelayMode, RuntimeConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

// [admin]
/// `admin.listen` when `[admin]` is present without it.
pub const ADMIN_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9090);

// [runtime]
/// `runtime.workers` may be 1 ..= this; absent means one per CPU of the affinity mask.
pub const WORKERS_MAX: i64 = 1024;
pub const PIN_WORKERS: bool = true;
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
pub const RELAY: RelayMode = RelayMode::Splice;
pub const BUFFER_SIZE: u64 = 64 * 1024;
pub const BUFFER_SIZE_MIN: u64 = 4 * 1024;
pub const BUFFER_SIZE_MAX: u64 = 16 * 1024 * 1024;

// [log]
pub const LOG_LEVEL: &str = "info";
pub const LOG_CONNECTIONS: bool = true;
pub const LOG_FORMAT: LogFormat = LogFormat::Text;

// [[listener]] and [[cluster]] names
/// Names are 1 ..= this many characters from `[A-Za-z0-9_.-]`.
pub const NAME_MAX_LEN: usize = 64;

// [[listener]]
pub const PROTOCOL: Protocol = Protocol::Tcp;
pub const BACKLOG: u32 = 1024;
pub const BACKLOG_MAX: i64 = 65535;
pub const MAX_CONNECTIONS: usize = 10_000;
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
pub const TCP_NODELAY: bool = true;
/// Also what `tcp_keepalive = true` means.
pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// `tcp_keepalive` is a whole number of seconds up to this (the kernel's `MAX_TCP_KEEPIDLE`).
pub const TCP_KEEPALIVE_MAX: Duration = Duration::from_secs(32767);

// [[cluster]]
pub const BALANCE: Balance = Balance::RoundRobin;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const CONNECT_ATTEMPTS: u32 = 3;
pub const CONNECT_ATTEMPTS_MAX: i64 = 16;
/// A backend's weight when it is given as a plain `"ip:port"` string.
pub const WEIGHT: u32 = 1;
pub const WEIGHT_MAX: i64 = 1000;

impl Default for RuntimeConfig {
    /// `[runtime]` when the file has none.
    fn default() -> Self {
        RuntimeConfig {
            workers: None,
            pin_workers: PIN_WORKERS,
            shutdown_timeout: SHUTDOWN_TIMEOUT,
            relay: RELAY,
            buffer_size: BUFFER_SIZE as usize,
        }
    }
}

impl Default for LogConfig {
    /// `[log]` when the file has none.
    fn default() -> Self {
        LogConfig {
            level: LOG_LEVEL.to_owned(),
            connections: LOG_CONNECTIONS,
            format: LOG_FORMAT,
        }
    }
}
