//! Smooth weighted round robin (nginx's algorithm), precomputed so picking is lock-free.
//!
//! nginx keeps a `current` score per backend; each pick adds every backend's weight to its
//! score, takes the highest score (first on ties) and subtracts the total weight from it. The
//! result spreads a heavy backend's turns between the others (weights 5,1,1 give
//! `a a b a c a a`) instead of sending it runs of requests. That walk is periodic with period
//! `sum(weights / gcd)`, so [`SmoothWeighted::new`] runs it once into a schedule and picks walk
//! the schedule with one atomic cursor: the same order as nginx, with no lock.
//!
//! The schedule is capped (65,536 entries, lower for very large clusters so building stays
//! under ~16M steps); weights whose reduced sum exceeds the cap are scaled down keeping their
//! ratio (each at least 1), which moves shares by at most about 1/cap each.
//! A retry (`skip` non-empty) takes the next schedule entry that is not skipped; if 32 entries
//! in a row are skipped it picks among the rest in proportion to their weights.
//!
//! Cost: one `fetch_add` and one array read per pick; memory 4 bytes per schedule entry.
//! Weights are read once, at construction: after `Backend::set_weight` rebuild the selector.
//! Use it when backends differ in capacity.

use crate::{Backend, Selector, first_allowed};
use crossbeam_utils::CachePadded;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Longest schedule built.
const MAX_SCHEDULE: u64 = 1 << 16;
/// Bound on `schedule length × backends`, the work of building the schedule.
const MAX_BUILD_STEPS: u64 = 1 << 24;
/// Schedule entries tried on a retry before falling back to a weighted scan.
const SKIP_PROBES: usize = 32;

/// Smooth weighted round robin over a precomputed schedule.
#[derive(Debug)]
pub struct SmoothWeighted {
    cursor: CachePadded<AtomicUsize>,
    /// Backend indices in nginx order, one period long.
    schedule: Box<[u32]>,
    /// Reduced weights the schedule was built from (for the retry fallback).
    weights: Box<[u64]>,
}

impl SmoothWeighted {
    pub fn new(backends: &[Arc<Backend>]) -> Self {
        let weights: Vec<u64> = backends.iter().map(|b| u64::from(b.weight())).collect();
        Self::from_weights(&weights)
    }

    /// Builds from raw weights (values below 1 count as 1).
    pub fn from_weights(weights: &[u64]) -> Self {
        let cap = MAX_SCHEDULE.min(MAX_BUILD_STEPS / (weights.len() as u64).max(1));
        let weights = reduce(weights, cap);
        let schedule = schedule(&weights);
        SmoothWeighted {
            cursor: CachePadded::new(AtomicUsize::new(0)),
            schedule: schedule.into_boxed_slice(),
            weights: weights.into_boxed_slice(),
        }
    }

    /// One period of the pick order (backend indices).
    pub fn schedule(&self) -> &[u32] {
        &self.schedule
    }

    /// The weights after reduction by their gcd and capping; shares are these over their sum.
    pub fn effective_weights(&self) -> &[u64] {
        &self.weights
    }

    /// Retry fallback: a weighted choice among backends not skipped, rotated by `pos`.
    fn pick_weighted_rest(&self, pos: usize, skip: &[usize]) -> Option<usize> {
        let allowed = |i: &usize| !skip.contains(i);
        let rest: u64 = (0..self.weights.len())
            .filter(allowed)
            .map(|i| self.weights[i])
            .sum();
        if rest == 0 {
            return None;
        }
        let mut r = pos as u64 % rest;
        for i in (0..self.weights.len()).filter(allowed) {
            if r < self.weights[i] {
                return Some(i);
            }
            r -= self.weights[i];
        }
        None
    }
}

impl Selector for SmoothWeighted {
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
        let n = backends.len();
        let len = self.schedule.len();
        if n == 0 || len == 0 {
            return None;
        }
        let pos = self.cursor.fetch_add(1, Relaxed);
        if n != self.weights.len() {
            // Built for another backend list: degrade to round robin rather than misroute.
            return first_allowed(n, pos % n, skip);
        }
        let start = pos % len;
        let first = self.schedule[start] as usize;
        if skip.is_empty() || !skip.contains(&first) {
            return Some(first);
        }
        for k in 1..=SKIP_PROBES.min(len) {
            let i = self.schedule[(start + k) % len] as usize;
            if !skip.contains(&i) {
                return Some(i);
            }
        }
        self.pick_weighted_rest(pos, skip)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Divides weights (below 1 counted as 1) by their gcd and, if their sum still exceeds `cap`
/// (raised to the count of weights), scales them down keeping their ratio, each at least 1.
pub(crate) fn reduce(weights: &[u64], cap: u64) -> Vec<u64> {
    let mut w: Vec<u64> = weights.iter().map(|&w| w.max(1)).collect();
    let g = w.iter().copied().fold(0, gcd);
    w.iter_mut().for_each(|w| *w /= g.max(1));
    let cap = cap.max(w.len() as u64);
    let sum: u64 = w.iter().sum();
    if sum > cap {
        w.iter_mut()
            .for_each(|w| *w = (u128::from(*w) * u128::from(cap) / u128::from(sum)).max(1) as u64);
        let g = w.iter().copied().fold(0, gcd);
        w.iter_mut().for_each(|w| *w /= g.max(1));
    }
    w
}

/// Runs nginx's smooth weighted round robin for one period.
fn schedule(weights: &[u64]) -> Vec<u32> {
    let total: u64 = weights.iter().sum();
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            current[i] += *w as i64;
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total as i64;
        out.push(best as u32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{backends, shares_within};
    use proptest::prelude::*;

    fn picks(sel: &SmoothWeighted, b: &[Arc<Backend>], k: usize) -> Vec<usize> {
        (0..k).map(|_| sel.pick(b, &[]).unwrap()).collect()
    }

    #[test]
    fn nginx_order_5_1_1() {
        let b = backends(&[5, 1, 1]);
        let sel = SmoothWeighted::new(&b);
        // nginx: a a b a c a a, then repeats.
        assert_eq!(
            picks(&sel, &b, 14),
            [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]
        );
    }

    #[test]
    fn gcd_shortens_the_schedule() {
        let sel = SmoothWeighted::from_weights(&[50, 10, 10]);
        assert_eq!(sel.schedule(), [0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(sel.effective_weights(), [5, 1, 1]);
    }

    #[test]
    fn huge_weights_are_capped_keeping_ratio() {
        let sel = SmoothWeighted::from_weights(&[1_000_000, 999_999, 3]);
        assert!(sel.schedule().len() as u64 <= MAX_SCHEDULE + 3);
        let w = sel.effective_weights();
        assert!(w[2] >= 1);
        let r = w[0] as f64 / w[1] as f64;
        assert!((r - 1.0).abs() < 1e-3, "{w:?}");
    }

    #[test]
    fn skip_is_honoured() {
        let b = backends(&[5, 1, 1]);
        let sel = SmoothWeighted::new(&b);
        for _ in 0..50 {
            let i = sel.pick(&b, &[0]).unwrap();
            assert_ne!(i, 0);
            assert_eq!(sel.pick(&b, &[0, 2]), Some(1));
        }
        assert_eq!(sel.pick(&b, &[0, 1, 2]), None);
        assert_eq!(SmoothWeighted::new(&[]).pick(&[], &[]), None);
    }

    #[test]
    fn retry_keeps_weights_among_the_rest() {
        // Skipping the dominant backend: the others still split 3:1.
        let b = backends(&[1000, 3, 1]);
        let sel = SmoothWeighted::new(&b);
        let mut counts = [0u64; 3];
        for _ in 0..40_000 {
            counts[sel.pick(&b, &[0]).unwrap()] += 1;
        }
        assert_eq!(counts[0], 0);
        let share = counts[1] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn stale_list_degrades_to_round_robin() {
        let sel = SmoothWeighted::new(&backends(&[5, 1]));
        let b = backends(&[1, 1, 1]);
        let got = picks(&sel, &b, 3);
        assert_eq!(got, [0, 1, 2]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn shares_match_weights(weights in prop::collection::vec(1u32..200, 1..12)) {
            let b = backends(&weights);
            let sel = SmoothWeighted::new(&b);
            let mut counts = vec![0u64; b.len()];
            for _ in 0..1_000_000 {
                counts[sel.pick(&b, &[]).unwrap()] += 1;
            }
            shares_within(&weights, &counts, 0.01)?;
        }

        #[test]
        fn never_returns_skipped(
            weights in prop::collection::vec(1u32..50, 1..8),
            skip in prop::collection::vec(0usize..8, 0..8),
        ) {
            let b = backends(&weights);
            let sel = SmoothWeighted::new(&b);
            let all_skipped = (0..b.len()).all(|i| skip.contains(&i));
            for _ in 0..200 {
                match sel.pick(&b, &skip) {
                    Some(i) => prop_assert!(i < b.len() && !skip.contains(&i)),
                    None => prop_assert!(all_skipped),
                }
            }
        }
    }
}
