//! Backends and backend selection.
//!
//! A [`Backend`] is an address, a weight and counters that every worker thread updates
//! (atomics, each backend's on its own cache line). A [`Selector`] picks one backend for a new
//! connection. Selection is pure: no I/O, no clock reads, no locks on the pick path; the
//! algorithms read the counters and their own atomic cursors and return an index.

#![forbid(unsafe_code)]

mod backend;
mod least_conn;
mod round_robin;
mod weighted;

pub use backend::{Backend, BackendStats};
pub use least_conn::LeastConn;
pub use round_robin::RoundRobin;
pub use weighted::SmoothWeighted;

use std::sync::Arc;

/// Which algorithm a cluster uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RoundRobin,
    WeightedRoundRobin,
    LeastConn,
}

/// Chooses a backend for a new connection.
///
/// `skip` lists indices already tried for this connection (a retry after a connect failure
/// must go elsewhere). `None` means every backend is skipped (or there are none).
pub trait Selector: Send + Sync + std::fmt::Debug {
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize>;
}

/// Builds the selector for `algorithm` over `backends` (whose weights it may precompute from).
pub fn selector(algorithm: Algorithm, backends: &[Arc<Backend>]) -> Box<dyn Selector> {
    match algorithm {
        Algorithm::RoundRobin => Box::new(RoundRobin::new()),
        Algorithm::WeightedRoundRobin => Box::new(SmoothWeighted::new(backends)),
        Algorithm::LeastConn => Box::new(LeastConn::new()),
    }
}
