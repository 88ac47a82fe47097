//! Weighted sampling: maps a uniform `u64` to a backend index with probability proportional to
//! its weight. Shared by random, source hash and the two-choice selectors.
//!
//! Equal weights take a multiply-shift (`O(1)`); otherwise a binary search over prefix sums
//! (`O(log N)`, one cache line for small clusters). Weights are read once, at construction.

use crate::Backend;
use crate::hash::derive;
use crate::rand::below;
use std::sync::Arc;

/// Draws made with derived numbers before a retry falls back to a scan.
const SKIP_DRAWS: u64 = 4;

#[derive(Debug, Clone)]
pub(crate) struct WeightedTable {
    /// Inclusive prefix sums of the weights; empty when all weights are equal.
    ends: Box<[u64]>,
    weights: Box<[u64]>,
}

impl WeightedTable {
    pub fn new(backends: &[Arc<Backend>]) -> Self {
        let weights: Box<[u64]> = backends.iter().map(|b| u64::from(b.weight())).collect();
        let uniform = weights.windows(2).all(|w| w[0] == w[1]);
        let ends = if uniform {
            Box::default()
        } else {
            weights
                .iter()
                .scan(0, |acc, w| {
                    Some({
                        *acc += w;
                        *acc
                    })
                })
                .collect()
        };
        WeightedTable { ends, weights }
    }

    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Index drawn by `r`, weighted. The table must not be empty.
    pub fn sample(&self, r: u64) -> usize {
        match self.ends.last() {
            None => below(r, self.weights.len() as u64) as usize,
            Some(&total) => {
                let x = below(r, total);
                self.ends.partition_point(|&end| end <= x)
            }
        }
    }

    /// Index drawn by `r`, weighted, meant to differ from `not`: always different when weights
    /// are equal (and N > 1), else a fresh draw that may repeat `not`.
    pub fn sample_other(&self, r: u64, not: usize) -> usize {
        let n = self.weights.len();
        if self.ends.is_empty() && n > 1 {
            let k = 1 + below(r, n as u64 - 1) as usize;
            if not + k >= n { not + k - n } else { not + k }
        } else {
            self.sample(r)
        }
    }

    /// Index drawn by `r`, weighted, among those not in `skip`. Deterministic in `r`: the
    /// same `r` and `skip` give the same index (so a hash key keeps its retry target).
    pub fn sample_allowed(&self, r: u64, skip: &[usize]) -> Option<usize> {
        if self.weights.is_empty() {
            return None;
        }
        let first = self.sample(r);
        if skip.is_empty() || !skip.contains(&first) {
            return Some(first);
        }
        for k in 0..SKIP_DRAWS {
            let i = self.sample(derive(r, k));
            if !skip.contains(&i) {
                return Some(i);
            }
        }
        // Most of the weight is skipped: scan what is left.
        let allowed = |i: &usize| !skip.contains(i);
        let rest: u64 = (0..self.len())
            .filter(allowed)
            .map(|i| self.weights[i])
            .sum();
        let mut x = below(r, rest);
        for i in (0..self.len()).filter(allowed) {
            if x < self.weights[i] {
                return Some(i);
            }
            x -= self.weights[i];
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::WyRand;
    use crate::test_util::{backends, shares_within};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn samples_match_weights(weights in prop::collection::vec(1u32..100, 1..10), seed: u64) {
            let t = WeightedTable::new(&backends(&weights));
            let mut rng = WyRand::new(seed);
            let mut counts = vec![0u64; weights.len()];
            for _ in 0..1_000_000 {
                counts[t.sample(rng.next_u64())] += 1;
            }
            shares_within(&weights, &counts, 0.01)?;
        }

        #[test]
        fn skipped_are_never_drawn(
            weights in prop::collection::vec(1u32..100, 0..8),
            skip in prop::collection::vec(0usize..8, 0..8),
            r: u64,
        ) {
            let t = WeightedTable::new(&backends(&weights));
            let all_skipped = (0..weights.len()).all(|i| skip.contains(&i));
            match t.sample_allowed(r, &skip) {
                Some(i) => prop_assert!(i < weights.len() && !skip.contains(&i)),
                None => prop_assert!(all_skipped),
            }
        }
    }
}
