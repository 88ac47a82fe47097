//! A backend and its shared counters.

use crossbeam_utils::CachePadded;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// One backend server of a cluster.
#[derive(Debug)]
pub struct Backend {
    pub address: SocketAddr,
    /// Relative share of new connections (≥ 1). Atomic so a reload or the admin API can change
    /// it in place while connections keep counting against the same backend.
    weight: AtomicU32,
    pub stats: CachePadded<BackendStats>,
}

impl Backend {
    pub fn new(address: SocketAddr, weight: u32) -> Self {
        Backend {
            address,
            weight: AtomicU32::new(weight.max(1)),
            stats: CachePadded::new(BackendStats::default()),
        }
    }

    pub fn weight(&self) -> u32 {
        self.weight.load(Relaxed)
    }

    /// Changes the weight (values below 1 become 1). Selectors that precompute from weights
    /// must be rebuilt to see it.
    pub fn set_weight(&self, weight: u32) {
        self.weight.store(weight.max(1), Relaxed);
    }

    /// Open connections to this backend right now.
    pub fn active(&self) -> u64 {
        self.stats.active.load(Relaxed)
    }
}

/// Counters every worker thread updates for one backend. Relaxed atomics: each is a
/// statistic on its own; nothing orders one against another.
#[derive(Debug, Default)]
pub struct BackendStats {
    /// Connections open to the backend now.
    pub active: AtomicU64,
    /// Connections established to the backend since start.
    pub connections: AtomicU64,
    /// Connect attempts that failed (refused, unreachable, timed out).
    pub connect_errors: AtomicU64,
    /// Bytes sent to the backend (client -> backend).
    pub bytes_sent: AtomicU64,
    /// Bytes received from the backend (backend -> client).
    pub bytes_received: AtomicU64,
}
