//! What one admin request reads from the data plane.

use fulcrum_proxy::{Server, Snapshot};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// The data plane's state as one request sees it: the current snapshot plus the process-wide
/// counters, read once when the request arrives. Taking it is one atomic `Arc` load and a few
/// relaxed loads.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub snapshot: Arc<Snapshot>,
    pub workers: usize,
    pub reloads: u64,
    pub reload_failures: u64,
}

/// Produces a fresh [`View`] for each request. The server builds it from a
/// [`fulcrum_proxy::Server`]; tests build it from a bare [`Snapshot`].
pub(crate) type Source = Arc<dyn Fn() -> View + Send + Sync>;

impl View {
    pub(crate) fn of(server: &Server) -> View {
        let stats = server.process_stats();
        View {
            snapshot: server.snapshot(),
            workers: server.workers(),
            reloads: stats.reloads.load(Relaxed),
            reload_failures: stats.reload_failures.load(Relaxed),
        }
    }
}
