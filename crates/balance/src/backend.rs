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

    /// Requests sent to this backend and not yet answered.
    pub fn outstanding(&self) -> u64 {
        self.stats.pending.load(Relaxed)
    }

    /// Counts a request (L7) or connection (L4) sent to this backend; the two-choice and
    /// peak-EWMA selectors read this count. Pair with [`Backend::finish_request`] or
    /// [`Backend::abandon_request`].
    pub fn start_request(&self) {
        self.stats.pending.fetch_add(1, Relaxed);
    }

    /// Ends a request counted by [`Backend::start_request`] and feeds its latency (`rtt_ns`,
    /// e.g. time to response headers) into the peak-EWMA estimate at time `now_ns` (monotonic
    /// nanoseconds on the caller's clock, the same clock the selector is given).
    pub fn finish_request(&self, rtt_ns: u64, now_ns: u64) {
        self.abandon_request();
        crate::peak_ewma::observe(&self.stats, rtt_ns, now_ns);
    }

    /// Ends a request counted by [`Backend::start_request`] without a latency sample.
    pub fn abandon_request(&self) {
        // Saturating: a stray extra call must not wrap to u64::MAX and starve the backend.
        let _ = self
            .stats
            .pending
            .fetch_update(Relaxed, Relaxed, |p| p.checked_sub(1));
    }

    /// The peak-EWMA latency estimate in nanoseconds, decayed to `now_ns` (0 before any sample).
    pub fn latency_estimate_ns(&self, now_ns: u64) -> f64 {
        crate::peak_ewma::estimate(&self.stats, now_ns)
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
    /// Requests in flight (see [`Backend::start_request`]).
    pub pending: AtomicU64,
    /// Peak-EWMA latency estimate in nanoseconds, as `f64` bits (0.0 before any sample).
    pub latency_ewma: AtomicU64,
    /// When `latency_ewma` was last updated, on the caller's monotonic nanosecond clock.
    pub latency_stamp_ns: AtomicU64,
}
