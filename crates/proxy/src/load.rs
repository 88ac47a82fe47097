//! Per-cluster load, shared by every worker: requests in flight, requests waiting for a
//! backend connection, backend connections open, retries in flight. The circuit breakers
//! (`[cluster.limits]`) and the retry budget read these; a cluster keeps its counters across
//! reloads.

use crossbeam_utils::CachePadded;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct ClusterLoad {
    /// Requests (or TCP connections) in flight.
    pub requests: CachePadded<AtomicU64>,
    /// Requests waiting for a backend connection.
    pub pending: CachePadded<AtomicU64>,
    /// Backend connections open, idle pooled ones included.
    pub connections: CachePadded<AtomicU64>,
    /// Retries in flight.
    pub retries: CachePadded<AtomicU64>,
    /// Requests turned away by a circuit breaker.
    pub rejected: AtomicU64,
    /// Retries made.
    pub retries_total: AtomicU64,
    /// Retries not made because the budget was spent.
    pub retries_denied: AtomicU64,
}

/// Which counter a guard holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gauge {
    Requests,
    Pending,
    Connections,
    Retries,
}

/// One unit of a gauge, given back on drop.
#[derive(Debug)]
pub(crate) struct Held {
    load: Arc<ClusterLoad>,
    gauge: Gauge,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.load.gauge(self.gauge).fetch_sub(1, Relaxed);
    }
}

impl ClusterLoad {
    fn gauge(&self, gauge: Gauge) -> &AtomicU64 {
        match gauge {
            Gauge::Requests => &self.requests,
            Gauge::Pending => &self.pending,
            Gauge::Connections => &self.connections,
            Gauge::Retries => &self.retries,
        }
    }

    /// Takes one unit of `gauge` if it stays within `limit`; counts a rejection otherwise.
    pub(crate) fn enter(self: &Arc<Self>, gauge: Gauge, limit: Option<u64>) -> Option<Held> {
        let counter = self.gauge(gauge);
        let ok = match limit {
            None => {
                counter.fetch_add(1, Relaxed);
                true
            }
            Some(max) => counter
                .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
                .is_ok(),
        };
        if !ok {
            self.rejected.fetch_add(1, Relaxed);
            return None;
        }
        Some(Held {
            load: Arc::clone(self),
            gauge,
        })
    }

    /// Whether one more retry fits the budget: retries in flight stay below `budget`
    /// (thousandths) of requests in flight, or below `min_retries`, and below `max_retries`.
    pub(crate) fn retry_allowed(
        &self,
        budget: u32,
        min_retries: u32,
        max_retries: Option<u64>,
    ) -> bool {
        let retries = self.retries.load(Relaxed);
        let allowed =
            (self.requests.load(Relaxed) * u64::from(budget) / 1000).max(u64::from(min_retries));
        retries < allowed && max_retries.is_none_or(|max| retries < max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_and_release() {
        let load = Arc::new(ClusterLoad::default());
        let a = load.enter(Gauge::Requests, Some(2)).unwrap();
        let _b = load.enter(Gauge::Requests, Some(2)).unwrap();
        assert!(load.enter(Gauge::Requests, Some(2)).is_none());
        assert_eq!(load.rejected.load(Relaxed), 1);
        drop(a);
        assert!(load.enter(Gauge::Requests, Some(2)).is_some());
    }

    #[test]
    fn budget_is_a_share_with_a_floor() {
        let load = ClusterLoad::default();
        load.requests.store(100, Relaxed);
        load.retries.store(19, Relaxed);
        assert!(load.retry_allowed(200, 3, None));
        load.retries.store(20, Relaxed);
        assert!(!load.retry_allowed(200, 3, None));
        load.requests.store(1, Relaxed);
        load.retries.store(2, Relaxed);
        assert!(load.retry_allowed(200, 3, None), "the floor allows a few");
        assert!(!load.retry_allowed(200, 3, Some(2)), "max_retries caps it");
    }
}
