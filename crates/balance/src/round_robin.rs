//! Round robin: each backend in turn, ignoring weights.
//!
//! One shared atomic cursor (on its own cache line) is bumped with `fetch_add` per pick, so
//! concurrent workers together walk the list in strict order: N picks from any mix of threads
//! give each of N backends exactly one. A retry (`skip` non-empty) takes the next backend after
//! the cursor that is not skipped.
//!
//! Cost: one contended `fetch_add` plus O(|skip|) per pick; no locks, no allocation.
//! Use it when backends are alike and connections cost about the same.

use crate::{Backend, Selector, first_allowed};
use crossbeam_utils::CachePadded;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Plain round robin over the backends, in list order.
#[derive(Debug, Default)]
pub struct RoundRobin {
    cursor: CachePadded<AtomicUsize>,
}

impl RoundRobin {
    pub fn new() -> Self {
        RoundRobin::default()
    }
}

impl Selector for RoundRobin {
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
        let n = backends.len();
        if n == 0 {
            return None;
        }
        let start = self.cursor.fetch_add(1, Relaxed) % n;
        first_allowed(n, start, skip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::backends;

    #[test]
    fn order_is_exact() {
        let b = backends(&[1, 1, 1]);
        let rr = RoundRobin::new();
        let got: Vec<_> = (0..7).map(|_| rr.pick(&b, &[]).unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn ignores_weights() {
        let b = backends(&[5, 1]);
        let rr = RoundRobin::new();
        let got: Vec<_> = (0..4).map(|_| rr.pick(&b, &[]).unwrap()).collect();
        assert_eq!(got, [0, 1, 0, 1]);
    }

    #[test]
    fn skip_and_empty() {
        let b = backends(&[1, 1, 1]);
        let rr = RoundRobin::new();
        for _ in 0..10 {
            assert_eq!(rr.pick(&b, &[0, 2]), Some(1));
        }
        assert_eq!(rr.pick(&b, &[2, 1, 0]), None);
        assert_eq!(rr.pick(&[], &[]), None);
    }

    #[test]
    fn four_threads_share_evenly() {
        let b = backends(&[1, 1, 1, 1, 1]);
        let rr = RoundRobin::new();
        let per_thread = 250_000;
        let counts = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let mut c = [0u64; 5];
                        for _ in 0..per_thread {
                            c[rr.pick(&b, &[]).unwrap()] += 1;
                        }
                        c
                    })
                })
                .collect();
            let mut total = [0u64; 5];
            for h in handles {
                for (t, c) in total.iter_mut().zip(h.join().unwrap()) {
                    *t += c;
                }
            }
            total
        });
        // Every cursor value 0..1_000_000 is taken exactly once, so shares are exact.
        assert_eq!(counts, [200_000; 5]);
    }
}
