//! Counters for listeners and the whole process, shared by every worker thread.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one listener. A listener kept across a reload keeps its counters.
#[derive(Debug, Default)]
pub struct ListenerStats {
    /// Connections accepted since start.
    pub accepted: CachePadded<AtomicU64>,
    /// Connections open now.
    pub active: CachePadded<AtomicU64>,
    /// Bytes read from clients.
    pub bytes_in: CachePadded<AtomicU64>,
    /// Bytes written to clients.
    pub bytes_out: CachePadded<AtomicU64>,
    /// Connections closed because no backend could be reached.
    pub no_backend: AtomicU64,
    /// Times accept failed for lack of file descriptors or memory and the listener backed off.
    pub accept_exhausted: AtomicU64,
    /// Times the listener reached `max_connections` and paused accepting.
    pub limit_reached: AtomicU64,
    /// Connections closed for a bad or missing PROXY protocol header.
    pub proxy_header_errors: AtomicU64,
    /// TLS handshakes that failed (garbage, timeout, no common protocol, bad client cert), and
    /// ClientHellos SNI passthrough refused (malformed, too slow, too large, no route).
    pub tls_handshake_errors: AtomicU64,
    /// TLS clients that misbehaved after the handshake: records that do not authenticate or
    /// are malformed, renegotiation attempts.
    pub tls_errors: AtomicU64,
    /// HTTP/2 connections ended for the client's misbehaviour: by the flood guard, or by the
    /// HTTP/2 library's own GOAWAY (its rapid-reset limit, a protocol error).
    pub h2_violations: AtomicU64,
    /// HTTP requests received (heads parsed or refused).
    pub requests: CachePadded<AtomicU64>,
    /// HTTP responses sent, by class: 1xx .. 5xx at indices 0 .. 4.
    pub responses: [AtomicU64; 5],
}

impl ListenerStats {
    /// Counts a response with `status` in its class.
    pub fn count_status(&self, status: u16) {
        if let Some(class) = (status / 100).checked_sub(1).filter(|c| *c < 5) {
            self.responses[class as usize].fetch_add(1, Relaxed);
        }
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct ProcessStats {
    /// Reloads applied.
    pub reloads: AtomicU64,
    /// Reloads rejected (bad config or a socket that could not be bound).
    pub reload_failures: AtomicU64,
}
