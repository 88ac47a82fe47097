//! Consistent hashing on a ring (ketama, Karger et al. 1997).
//!
//! Every backend puts `weight × points_per_weight` points on a 32-bit ring, at positions
//! derived from its address alone; a key goes to the owner of the first point at or after the
//! key's hash. Removing a backend hands only its own arcs to its neighbours (about 1/N of the
//! keys) and adding one takes only what its new points cover. Points depend on addresses, not
//! on list order, so every process with the same backend set builds the same ring.
//!
//! Shares are statistical: a backend's share deviates from its weight by about
//! `sqrt(share / points)`. The default of 16,384 points per unit of weight (after dividing
//! weights by their gcd) keeps shares within 1 percentage point of weights; the ring is capped
//! at 2^20 points, beyond which points per weight shrink with the cluster, so removing a
//! backend from a very large cluster moves up to about 2/N of the keys (measured: 1/N up to
//! 64 unit-weight backends, 2/N at 100). Likewise a change that changes the weights' gcd
//! (removing the 3 from weights 2, 2, 3) halves or multiplies every backend's points and
//! remaps many keys; equal weights, or weights sharing one step (10, 20, 30), avoid it. Use [`crate::Maglev`]
//! for exact shares, smaller tables and O(1) lookups; ring hash's edge is that weight changes
//! and additions disturb only the keys they must.
//!
//! Retries and the [bounded-load](crate::BoundedLoad) variant walk clockwise past skipped or
//! full backends. Cost: a binary search over the ring (≤ 20 steps, 4 bytes each) per pick, plus
//! an O(N) load total when bounded; memory 8 bytes per point.

use crate::bounded::{BoundedLoad, least_loaded};
use crate::hash::{derive, hash_backend};
use crate::rand::below;
use crate::weighted::reduce;
use crate::{Backend, PickContext, Selector, first_allowed};
use std::sync::Arc;

/// Points per unit of (gcd-reduced) weight by default.
pub const DEFAULT_POINTS_PER_WEIGHT: u64 = 1 << 14;
/// Most points on a ring.
const MAX_POINTS: u64 = 1 << 20;
/// Ring points visited past skipped or full backends before falling back to a scan.
const MAX_WALK: usize = 256;

/// A ketama-style hash ring.
#[derive(Debug)]
pub struct RingHash {
    /// Sorted ring positions.
    points: Box<[u32]>,
    /// `owners[k]` is the backend index owning `points[k]`.
    owners: Box<[u32]>,
    backends: usize,
    bound: Option<BoundedLoad>,
}

impl RingHash {
    pub fn new(backends: &[Arc<Backend>], bound: Option<BoundedLoad>) -> Self {
        Self::with_points(backends, DEFAULT_POINTS_PER_WEIGHT, bound)
    }

    /// A ring with `points_per_weight` points per unit of weight (capped to 2^20 in all).
    pub fn with_points(
        backends: &[Arc<Backend>],
        points_per_weight: u64,
        bound: Option<BoundedLoad>,
    ) -> Self {
        let weights: Vec<u64> = backends.iter().map(|b| u64::from(b.weight())).collect();
        let mut weights = reduce(&weights, MAX_POINTS);
        let ppw = points_per_weight.max(1);
        let total: u64 = weights.iter().sum::<u64>().saturating_mul(ppw);
        if total > MAX_POINTS {
            let per = (MAX_POINTS / weights.iter().sum::<u64>().max(1)).max(1);
            weights.iter_mut().for_each(|w| *w *= per);
        } else {
            weights.iter_mut().for_each(|w| *w *= ppw);
        }
        // (position, backend identity for a stable order on collisions, index)
        let mut ring: Vec<(u32, u64, u32)> =
            Vec::with_capacity(weights.iter().sum::<u64>() as usize);
        for (i, (b, &count)) in backends.iter().zip(&weights).enumerate() {
            let id = hash_backend(b.address);
            ring.extend((0..count).map(|k| ((derive(id, k) >> 32) as u32, id, i as u32)));
        }
        ring.sort_unstable();
        RingHash {
            points: ring.iter().map(|p| p.0).collect(),
            owners: ring.iter().map(|p| p.2).collect(),
            backends: backends.len(),
            bound,
        }
    }

    /// Number of points on the ring.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Position on the ring of the first point at or after `hash`'s top 32 bits.
    fn locate(&self, hash: u64) -> usize {
        let at = self.points.partition_point(|&p| p < (hash >> 32) as u32);
        if at == self.points.len() { 0 } else { at }
    }
}

impl Selector for RingHash {
    /// Without a key this is a random pick; use `pick_with` and `PickContext::hash`.
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
        self.pick_with(backends, &PickContext::new(skip))
    }

    fn pick_with(&self, backends: &[Arc<Backend>], ctx: &PickContext<'_>) -> Option<usize> {
        let n = backends.len();
        let key = ctx.hash.unwrap_or(ctx.rand);
        if n == 0 || n != self.backends || self.points.is_empty() {
            return (n > 0)
                .then(|| first_allowed(n, below(key, n as u64) as usize, ctx.skip))
                .flatten();
        }
        let capacity = self.bound.map(|b| b.measure(backends));
        let len = self.points.len();
        let start = self.locate(key);
        for step in 0..MAX_WALK.min(len) {
            let at = if start + step >= len {
                start + step - len
            } else {
                start + step
            };
            let i = self.owners[at] as usize;
            if ctx.skip.contains(&i) || capacity.is_some_and(|c| !c.has_room(&backends[i])) {
                continue;
            }
            return Some(i);
        }
        match capacity {
            Some(_) => least_loaded(backends, ctx.skip),
            None => first_allowed(n, below(key, n as u64) as usize, ctx.skip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::backends;
    use std::sync::atomic::Ordering::Relaxed;

    fn key(k: u64) -> u64 {
        crate::hash::mix64(k)
    }

    #[test]
    fn ring_size_follows_weights_and_cap() {
        assert_eq!(RingHash::new(&backends(&[2, 4]), None).len(), 3 << 14);
        assert_eq!(
            RingHash::with_points(&backends(&[1, 1, 1]), 10, None).len(),
            30
        );
        assert!(RingHash::new(&backends(&[1; 200]), None).len() as u64 <= MAX_POINTS);
        assert!(RingHash::new(&[], None).is_empty());
        assert_eq!(RingHash::new(&[], None).pick(&[], &[]), None);
    }

    #[test]
    fn retry_walks_on_and_is_stable() {
        let b = backends(&[1, 1, 1]);
        let r = RingHash::new(&b, None);
        for k in 0..1000 {
            let first = r
                .pick_with(&b, &PickContext::new(&[]).with_hash(key(k)))
                .unwrap();
            let skip = [first];
            let again = r
                .pick_with(&b, &PickContext::new(&skip).with_hash(key(k)))
                .unwrap();
            assert_ne!(again, first);
            assert_eq!(
                r.pick_with(&b, &PickContext::new(&skip).with_hash(key(k))),
                Some(again)
            );
        }
        assert_eq!(
            r.pick_with(&b, &PickContext::new(&[2, 0, 1]).with_hash(1)),
            None
        );
    }

    #[test]
    fn bounded_load_moves_keys_off_a_full_backend() {
        let b = backends(&[1, 1, 1, 1]);
        let plain = RingHash::new(&b, None);
        let bounded = RingHash::new(&b, Some(BoundedLoad::DEFAULT));
        let home = plain
            .pick_with(&b, &PickContext::new(&[]).with_hash(key(7)))
            .unwrap();
        // Under its bound, the key stays home.
        assert_eq!(
            bounded.pick_with(&b, &PickContext::new(&[]).with_hash(key(7))),
            Some(home)
        );
        // The home backend holds all 10 connections: cap is 1.25 × 11 / 4 = 3.4.
        b[home].stats.active.store(10, Relaxed);
        let moved = bounded
            .pick_with(&b, &PickContext::new(&[]).with_hash(key(7)))
            .unwrap();
        assert_ne!(moved, home);
        assert_eq!(
            plain.pick_with(&b, &PickContext::new(&[]).with_hash(key(7))),
            Some(home)
        );
    }

    #[test]
    fn bounded_load_keeps_every_backend_under_its_cap() {
        // Every key hashes to nearly the same spot: a hot key. Loads must still stay bounded.
        let b = backends(&[1, 1, 1, 1, 1]);
        let r = RingHash::new(&b, Some(BoundedLoad::new(150)));
        for k in 0..1000 {
            let i = r
                .pick_with(&b, &PickContext::new(&[]).with_hash(key(1) ^ (k & 3)))
                .unwrap();
            b[i].stats.active.fetch_add(1, Relaxed);
        }
        let max = b.iter().map(|b| b.active()).max().unwrap();
        assert!(
            max <= 300 + 1,
            "{:?}",
            b.iter().map(|b| b.active()).collect::<Vec<_>>()
        );
    }
}
