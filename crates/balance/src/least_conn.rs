//! Weighted least connections: the backend with the fewest open connections per unit of
//! weight.
//!
//! Each pick scans all backends and minimises `(active + 1) / weight` (the load the backend
//! would have after taking this connection), compared by cross-multiplication in `u128`, so no
//! floats. When several backends tie for the minimum, an atomic cursor (on its own cache line)
//! hands the pick to each of them in turn, so equal backends share new connections evenly
//! instead of the first one (or the one after a busy one) taking them all.
//!
//! Cost: O(N) atomic loads per pick, twice N plus one `fetch_add` on ties; no locks, no
//! allocation. The counts
//! are read without coordination, so workers picking at the same instant may both choose the
//! same idle backend; that race is bounded by the number of workers and is harmless.
//! Use it for long-lived or uneven connections (databases, WebSockets, streaming) where round
//! robin piles work on slow backends. For hundreds of backends prefer two random choices.

use crate::{Backend, Selector};
use crossbeam_utils::CachePadded;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Weighted least connections with rotating tie-break.
#[derive(Debug, Default)]
pub struct LeastConn {
    cursor: CachePadded<AtomicUsize>,
}

impl LeastConn {
    pub fn new() -> Self {
        LeastConn::default()
    }
}

impl Selector for LeastConn {
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
        if backends.is_empty() {
            return None;
        }
        let cost = |i: usize| {
            (
                u128::from(backends[i].active()) + 1,
                u128::from(backends[i].weight()),
            )
        };
        let allowed = |i: &usize| !skip.contains(i);
        // Pass 1: the lowest (active + 1) / weight and how many backends share it.
        let mut best: Option<(usize, (u128, u128))> = None;
        let mut ties = 0;
        for i in (0..backends.len()).filter(allowed) {
            let (load, weight) = cost(i);
            match best {
                // load / weight < best_load / best_weight
                Some((_, (bl, bw))) if load * bw > bl * weight => {}
                Some((_, (bl, bw))) if load * bw == bl * weight => ties += 1,
                _ => (best, ties) = (Some((i, (load, weight))), 1),
            }
        }
        let (first, (bl, bw)) = best?;
        if ties == 1 {
            return Some(first);
        }
        // Pass 2: the tied backends take turns. Counts may have moved since pass 1; if the
        // chosen one is gone, the first minimum found stands.
        let turn = self.cursor.fetch_add(1, Relaxed) % ties;
        let mut tied = (first..backends.len()).filter(allowed).filter(|&i| {
            let (load, weight) = cost(i);
            load * bw == bl * weight
        });
        Some(tied.nth(turn).unwrap_or(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::backends;
    use std::sync::atomic::Ordering::Relaxed;

    fn set_active(b: &[Arc<Backend>], active: &[u64]) {
        for (b, a) in b.iter().zip(active) {
            b.stats.active.store(*a, Relaxed);
        }
    }

    #[test]
    fn picks_the_minimum() {
        let b = backends(&[1, 1, 1, 1]);
        set_active(&b, &[5, 2, 7, 3]);
        let lc = LeastConn::new();
        for _ in 0..8 {
            assert_eq!(lc.pick(&b, &[]), Some(1));
        }
        assert_eq!(lc.pick(&b, &[1]), Some(3));
        assert_eq!(lc.pick(&b, &[0, 1, 2, 3]), None);
        assert_eq!(lc.pick(&[], &[]), None);
    }

    #[test]
    fn weights_scale_the_load() {
        // (10+1)/4 = 2.75 beats (2+1)/1 = 3.
        let b = backends(&[4, 1]);
        set_active(&b, &[10, 2]);
        assert_eq!(LeastConn::new().pick(&b, &[]), Some(0));
        // (12+1)/4 = 3.25 loses to 3.
        set_active(&b, &[12, 2]);
        assert_eq!(LeastConn::new().pick(&b, &[]), Some(1));
    }

    #[test]
    fn ties_are_spread() {
        let b = backends(&[1, 1, 1, 1]);
        set_active(&b, &[3, 1, 1, 1]);
        let lc = LeastConn::new();
        let mut counts = [0; 4];
        for _ in 0..300 {
            counts[lc.pick(&b, &[]).unwrap()] += 1;
        }
        assert_eq!(counts, [0, 100, 100, 100]);
    }

    #[test]
    fn balances_when_connections_stay_open() {
        // Each pick opens a connection that stays open: loads must stay level by weight.
        let b = backends(&[3, 1, 2]);
        let lc = LeastConn::new();
        for _ in 0..600 {
            let i = lc.pick(&b, &[]).unwrap();
            b[i].stats.active.fetch_add(1, Relaxed);
        }
        let active: Vec<u64> = b.iter().map(|b| b.active()).collect();
        assert_eq!(active, [300, 100, 200]);
    }

    proptest::proptest! {
        #[test]
        fn picks_a_minimum(
            weights in proptest::collection::vec(1u32..10, 1..10),
            active in proptest::collection::vec(0u64..20, 10),
        ) {
            let b = backends(&weights);
            set_active(&b, &active);
            let i = LeastConn::new().pick(&b, &[]).unwrap();
            let cost = |j: usize| (active[j] as f64 + 1.0) / f64::from(weights[j]);
            for j in 0..b.len() {
                proptest::prop_assert!(cost(i) <= cost(j) + 1e-12);
            }
        }
    }
}
