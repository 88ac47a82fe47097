//! The admin HTTP API: health, the running config, Prometheus metrics and a dashboard.
//!
//! [`serve`] runs a small HTTP/1.1 server on the control thread's runtime. Every answer is
//! built at request time from the data plane's current [`Snapshot`] and its atomic counters:
//! a request loads one `Arc` and reads relaxed atomics, so the admin API never takes a lock a
//! worker could wait on and never blocks the data path. This crate only reads the data plane;
//! it changes it only through `fulcrum_proxy::health::control` (a backend's admin state and
//! weight, see [`control`]).
//!
//! | path       | answer |
//! | ---------- | ------ |
//! | `/`        | an HTML dashboard of listeners and backends, refreshing itself |
//! | `/healthz` | `200 ok` |
//! | `/config`  | `{"config": .., "generation": N, "workers": W}` (the running, validated config) |
//! | `/backends` | every backend: weights, health, admin state, counters (JSON) |
//! | `/backends/{cluster}/{address}/{enable,disable,drain}` | `POST`: change the admin state |
//! | `/backends/{cluster}/{address}/weight` | `PUT`/`POST` (body or `?value=N`): set; `DELETE`: clear |
//! | `/metrics` | Prometheus text 0.0.4, or OpenMetrics 1.0 when the `Accept` header asks for it |
//!
//! The read-only paths serve `GET` (and `HEAD`) only; other methods get `405`, other paths
//! `404`.

#![forbid(unsafe_code)]

mod backends;
mod conn;
mod control;
mod dashboard;
mod metrics;
mod routes;
#[cfg(test)]
mod testutil;
mod view;

use fulcrum_proxy::Server;
use std::future::Future;
use std::sync::Arc;

#[cfg(doc)]
use fulcrum_proxy::Snapshot;

/// Serves the admin API on `listener` until `shutdown` resolves.
///
/// Each connection runs in its own task (`tokio::spawn`, so a current-thread runtime works).
/// Connections are bounded in number, in how long the client may take to send a request head
/// (this also closes idle keep-alive connections) and in total age. When `shutdown` resolves
/// the listener is closed, open connections finish the request in flight and are then closed;
/// any still open after a short grace period are dropped.
///
/// Accept errors (such as running out of file descriptors) are logged and retried after a
/// short pause, so this only returns once `shutdown` has resolved.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let source: view::Source = Arc::new(move || view::View::of(&server));
    conn::accept_loop(listener, source, shutdown).await
}

#[cfg(test)]
mod tests {
    /// The binary runs `serve` with `tokio::spawn`, which needs a `Send` future.
    #[allow(dead_code)]
    fn serve_is_send(listener: tokio::net::TcpListener, server: std::sync::Arc<super::Server>) {
        fn send<T: Send>(_: &T) {}
        send(&super::serve(listener, server, std::future::pending()));
    }
}
