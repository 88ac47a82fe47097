//! The data plane.
//!
//! [`Server`] owns the worker threads. Each worker is pinned to one CPU and runs a
//! current-thread tokio runtime with its own `SO_REUSEPORT` socket per listener; it accepts,
//! picks a backend, connects and relays bytes both ways (splice(2) where it can). Workers share
//! only read-mostly state: the current [`Snapshot`] (swapped atomically on reload) and counters
//! that are atomics on their own cache lines. This crate never parses config text and never
//! touches the kernel except through `fulcrum-sys` and tokio.

#![forbid(unsafe_code)]

mod addr_hash;
mod clock;
mod cluster;
mod connection;
mod h2guard;
pub mod health;
mod http;
mod listener;
mod load;
mod pipes;
pub mod proxy_protocol;
mod readiness;
mod relay;
mod server;
mod snapshot;
mod sni;
mod stats;
mod tcp;
mod tls;
mod upstream;
mod worker;

pub use cluster::ClusterRuntime;
pub use listener::ListenerRuntime;
pub use load::ClusterLoad;
pub use server::{ReloadError, Server, StartError};
pub use snapshot::Snapshot;
pub use stats::{ListenerStats, ProcessStats};
pub use tls::TlsSet;
