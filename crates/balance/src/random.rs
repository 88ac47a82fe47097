//! Weighted random choice, and source hash (the same choice driven by a key's hash).
//!
//! [`Random`] draws a backend in proportion to its weight from `PickContext::rand` (each
//! worker's own generator). No shared state is written, so it scales across cores better than
//! round robin, at the price of short-term unevenness (binomial: ±1% of picks per backend per
//! ~10,000 picks). Use it with many workers and many backends, or to spread health checks.
//!
//! [`SourceHash`] replaces the random number with the hash of a key, usually the client IP
//! (`PickContext::hash`, see [`crate::hash::hash_ip`]), so a client sticks to one backend as
//! long as the backend set is unchanged: nginx's `hash $remote_addr`, HAProxy's
//! `balance source`. Backends are ordered by address first, so every process agrees whatever
//! order its config lists them in. It is not consistent: adding or removing a backend remaps
//! most keys; use [`crate::RingHash`] or [`crate::Maglev`] for that. A retry draws again from
//! the key's own sequence, so it too is the same everywhere. Without a hash it acts as random.
//!
//! Cost: one multiply-shift with equal weights, else a binary search over N prefix sums.

use crate::hash::{derive, hash_backend};
use crate::rand::below;
use crate::table::WeightedTable;
use crate::{Backend, PickContext, Selector, first_allowed};
use std::sync::Arc;

/// Weighted random.
#[derive(Debug)]
pub struct Random {
    table: WeightedTable,
}

impl Random {
    pub fn new(backends: &[Arc<Backend>]) -> Self {
        Random {
            table: WeightedTable::new(backends),
        }
    }
}

impl Selector for Random {
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
        self.pick_with(backends, &PickContext::new(skip))
    }

    fn pick_with(&self, backends: &[Arc<Backend>], ctx: &PickContext<'_>) -> Option<usize> {
        let n = backends.len();
        if n != self.table.len() && n > 0 {
            // Built for another backend list: draw uniformly rather than misroute.
            return first_allowed(n, below(ctx.rand, n as u64) as usize, ctx.skip);
        }
        self.table.sample_allowed(ctx.rand, ctx.skip)
    }
}

/// Key hash modulo the weighted backend list, in address order.
#[derive(Debug)]
pub struct SourceHash {
    /// Weighted table over the backends sorted by address hash.
    table: WeightedTable,
    /// `order[k]` is the index (in the caller's list) of the `k`th backend in address order.
    order: Box<[u32]>,
}

/// Draws from a key's sequence before a retry falls back to a scan.
const RETRY_DRAWS: u64 = 8;

impl SourceHash {
    pub fn new(backends: &[Arc<Backend>]) -> Self {
        let mut order: Vec<u32> = (0..backends.len() as u32).collect();
        order.sort_by_key(|&i| (hash_backend(backends[i as usize].address), i));
        let sorted: Vec<Arc<Backend>> = order
            .iter()
            .map(|&i| Arc::clone(&backends[i as usize]))
            .collect();
        SourceHash {
            table: WeightedTable::new(&sorted),
            order: order.into_boxed_slice(),
        }
    }
}

impl Selector for SourceHash {
    /// Without a key this is a random pick; use `pick_with` and `PickContext::hash`.
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
        self.pick_with(backends, &PickContext::new(skip))
    }

    fn pick_with(&self, backends: &[Arc<Backend>], ctx: &PickContext<'_>) -> Option<usize> {
        let n = backends.len();
        if n == 0 {
            return None;
        }
        let key = ctx.hash.unwrap_or(ctx.rand);
        if n == self.order.len() {
            for k in 0..=RETRY_DRAWS {
                let r = if k == 0 { key } else { derive(key, k) };
                let i = self.order[self.table.sample(r)] as usize;
                if !ctx.skip.contains(&i) {
                    return Some(i);
                }
            }
        }
        first_allowed(n, below(key, n as u64) as usize, ctx.skip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_ip;
    use crate::rand::WyRand;
    use crate::test_util::{backends, shares_within};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn by_key(sel: &SourceHash, b: &[Arc<Backend>], key: u64) -> std::net::SocketAddr {
        b[sel
            .pick_with(b, &PickContext::new(&[]).with_hash(key))
            .unwrap()]
        .address
    }

    #[test]
    fn same_key_same_backend_in_any_list_order() {
        let b = backends(&[1, 2, 3, 1, 1]);
        let mut reversed = b.clone();
        reversed.reverse();
        let (s1, s2) = (SourceHash::new(&b), SourceHash::new(&reversed));
        for ip in 0..10_000u32 {
            let key = hash_ip(Ipv4Addr::from(ip).into());
            assert_eq!(by_key(&s1, &b, key), by_key(&s2, &reversed, key));
        }
    }

    #[test]
    fn retry_is_deterministic_and_skips() {
        let b = backends(&[1, 1, 1, 1]);
        let s = SourceHash::new(&b);
        for key in 0..1000u64 {
            let key = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let first = s
                .pick_with(&b, &PickContext::new(&[]).with_hash(key))
                .unwrap();
            let skip = [first];
            let retry = s
                .pick_with(&b, &PickContext::new(&skip).with_hash(key))
                .unwrap();
            assert_ne!(retry, first);
            assert_eq!(
                s.pick_with(&b, &PickContext::new(&skip).with_hash(key)),
                Some(retry)
            );
        }
        assert_eq!(
            s.pick_with(&b, &PickContext::new(&[0, 1, 2, 3]).with_hash(1)),
            None
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn shares_match_weights(weights in prop::collection::vec(1u32..100, 1..10), seed: u64) {
            let b = backends(&weights);
            let (random, source) = (Random::new(&b), SourceHash::new(&b));
            let mut rng = WyRand::new(seed);
            let mut counts = vec![0u64; b.len()];
            let mut by_hash = vec![0u64; b.len()];
            for _ in 0..1_000_000 {
                let r = rng.next_u64();
                counts[random.pick_with(&b, &PickContext::new(&[]).with_rand(r)).unwrap()] += 1;
                let key = hash_ip(Ipv4Addr::from(r as u32).into());
                by_hash[source.pick_with(&b, &PickContext::new(&[]).with_hash(key)).unwrap()] += 1;
            }
            shares_within(&weights, &counts, 0.01)?;
            shares_within(&weights, &by_hash, 0.01)?;
        }
    }
}
