//! Maglev consistent hashing (Eisenbud et al., NSDI 2016).
//!
//! Each backend gets a pseudo-random permutation of the slots of a prime-sized table, derived
//! from its address (`offset`, `skip`: slot `j` is `offset + j × skip mod M`). Backends take
//! turns claiming their next preferred free slot until the table is full; a key goes to the
//! owner of slot `hash mod M`. Turns are weighted (a backend claims while its count is below
//! `round × weight / max weight`, as Envoy does), so each backend owns its weighted share of
//! slots to within one slot: shares are exact, unlike a ring's. Removing one of N backends
//! moves its 1/N of the keys plus a little churn (a few percent of the rest, per the paper).
//! Backends take turns in address order, so every process with the same backend set builds the
//! same table.
//!
//! The table size `M` is fixed at construction, 65,537 by default (as Envoy), and must not
//! follow the backend count: a table of another size remaps nearly every key, so a size
//! picked from N would turn one health-check removal into a full reshuffle. Churn grows with
//! N / M (measured, one of N removed, extra keys moved as a fraction of the removed backend's
//! share: 2% at N = 5, 3% at 10, 14% at 32, 60% at 100 with 65,537 slots; 28% at 100 with
//! 262,147), so clusters past a few dozen backends should choose a larger size from
//! [`TABLE_SIZES`] with [`Maglev::with_size`], once, when they are configured.
//!
//! Retries and the [bounded-load](crate::BoundedLoad) variant probe the key's own sequence of
//! further slots. Cost: one multiply-shift and one table load per pick (O(1)), plus an O(N)
//! load total when bounded; memory 2 bytes per slot up to 65,535 backends (128 KiB by
//! default), 4 beyond; building takes O(M log M) for equal weights, up to O(M × N) for very
//! uneven ones.

use crate::bounded::{BoundedLoad, least_loaded};
use crate::hash::{derive, hash_backend, mix64};
use crate::rand::below;
use crate::{Backend, PickContext, Selector, first_allowed};
use std::sync::Arc;

/// Table size by default.
pub const DEFAULT_TABLE_SIZE: u64 = 65_537;
/// Primes just above 2^16 .. 2^24: table sizes for [`Maglev::with_size`].
pub const TABLE_SIZES: [u64; 9] = [
    65_537, 131_101, 262_147, 524_309, 1_048_583, 2_097_169, 4_194_319, 8_388_617, 16_777_259,
];
/// Slots probed past skipped or full backends before falling back to a scan.
const MAX_PROBES: u64 = 64;
const EMPTY: u32 = u32::MAX;

/// A Maglev lookup table.
#[derive(Debug)]
pub struct Maglev {
    table: Slots,
    backends: usize,
    bound: Option<BoundedLoad>,
}

impl Maglev {
    pub fn new(backends: &[Arc<Backend>], bound: Option<BoundedLoad>) -> Self {
        Self::with_size(backends, DEFAULT_TABLE_SIZE, bound)
    }

    /// A table of `size` slots, which must be prime (so every permutation visits every slot)
    /// and should be well above the number of backends.
    pub fn with_size(backends: &[Arc<Backend>], size: u64, bound: Option<BoundedLoad>) -> Self {
        let table = fill(backends, size);
        let table = match u16::try_from(backends.len()) {
            Ok(_) => Slots::Small(table.iter().map(|&i| i as u16).collect()),
            Err(_) => Slots::Large(table),
        };
        Maglev {
            table,
            backends: backends.len(),
            bound,
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        match &self.table {
            Slots::Small(t) => t.len(),
            Slots::Large(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The backend index owning `slot`.
    pub fn owner(&self, slot: usize) -> usize {
        match &self.table {
            Slots::Small(t) => usize::from(t[slot]),
            Slots::Large(t) => t[slot] as usize,
        }
    }
}

/// Slot owners, as narrow as the backend count allows (half the cache footprint).
#[derive(Debug)]
enum Slots {
    Small(Box<[u16]>),
    Large(Box<[u32]>),
}

/// Runs Maglev's population: weighted turns in address order until every slot is owned.
fn fill(backends: &[Arc<Backend>], size: u64) -> Box<[u32]> {
    let n = backends.len();
    if n == 0 || size < 2 {
        return Box::default();
    }
    let weights: Vec<u64> = backends.iter().map(|b| u64::from(b.weight())).collect();
    let max_weight = weights.iter().copied().max().unwrap_or(1);
    let ids: Vec<u64> = backends.iter().map(|b| hash_backend(b.address)).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (ids[i], i));
    // Next preferred slot and step of each backend's permutation.
    let mut next: Vec<u64> = ids.iter().map(|&id| below(id, size)).collect();
    let step: Vec<u64> = ids
        .iter()
        .map(|&id| 1 + below(mix64(id ^ 0x243f_6a88_85a3_08d3), size - 1))
        .collect();
    let mut count = vec![0u64; n];
    let mut table = vec![EMPTY; size as usize];
    let mut filled = 0;
    let mut round = 0u64;
    while filled < size {
        round += 1;
        for &i in &order {
            // Weighted turn: claim while count < round × weight / max weight.
            if u128::from(count[i]) * u128::from(max_weight)
                >= u128::from(round) * u128::from(weights[i])
            {
                continue;
            }
            let slot = claim(&table, &mut next[i], step[i]);
            table[slot] = i as u32;
            count[i] += 1;
            filled += 1;
            if filled == size {
                break;
            }
        }
    }
    table.into_boxed_slice()
}

/// The next free slot on a permutation (`next` advances by `step` modulo the table size).
/// With a prime size every slot is on the permutation; otherwise, once a full cycle finds
/// nothing, the first free slot.
fn claim(table: &[u32], next: &mut u64, step: u64) -> usize {
    let size = table.len() as u64;
    for _ in 0..size {
        let slot = *next as usize;
        *next += step;
        if *next >= size {
            *next -= size;
        }
        if table[slot] == EMPTY {
            return slot;
        }
    }
    table.iter().position(|&s| s == EMPTY).unwrap_or(0)
}

impl Selector for Maglev {
    /// Without a key this is a random pick; use `pick_with` and `PickContext::hash`.
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
        self.pick_with(backends, &PickContext::new(skip))
    }

    fn pick_with(&self, backends: &[Arc<Backend>], ctx: &PickContext<'_>) -> Option<usize> {
        let n = backends.len();
        let key = ctx.hash.unwrap_or(ctx.rand);
        let size = self.len() as u64;
        if n == 0 || n != self.backends || size == 0 {
            return (n > 0)
                .then(|| first_allowed(n, below(key, n as u64) as usize, ctx.skip))
                .flatten();
        }
        let first = self.owner(below(key, size) as usize);
        if ctx.skip.is_empty() && self.bound.is_none() {
            return Some(first);
        }
        let capacity = self.bound.map(|b| b.measure(backends));
        let fits =
            |i: usize| !ctx.skip.contains(&i) && capacity.is_none_or(|c| c.has_room(&backends[i]));
        if fits(first) {
            return Some(first);
        }
        for k in 0..MAX_PROBES {
            let i = self.owner(below(derive(key, k), size) as usize);
            if fits(i) {
                return Some(i);
            }
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

    fn slot_counts(m: &Maglev, n: usize) -> Vec<u64> {
        let mut c = vec![0; n];
        (0..m.len()).for_each(|s| c[m.owner(s)] += 1);
        c
    }

    #[test]
    fn slots_split_exactly_by_weight() {
        let m = Maglev::new(&backends(&[1, 1, 1]), None);
        let c = slot_counts(&m, 3);
        assert!(c.iter().all(|&c| c == 21_845 || c == 21_846), "{c:?}");
        let m = Maglev::new(&backends(&[3, 1]), None);
        let c = slot_counts(&m, 2);
        assert!((c[0] as i64 - 3 * c[1] as i64).abs() <= 4, "{c:?}");
    }

    #[test]
    fn non_prime_size_still_fills() {
        let m = Maglev::with_size(&backends(&[1, 1]), 1000, None);
        assert!((0..m.len()).all(|s| m.owner(s) < 2));
    }

    #[test]
    fn table_size_is_fixed() {
        assert_eq!(Maglev::new(&backends(&[1; 3]), None).len(), 65_537);
        assert_eq!(Maglev::new(&backends(&[1; 300]), None).len(), 65_537);
        assert_eq!(
            Maglev::with_size(&backends(&[1; 300]), TABLE_SIZES[2], None).len(),
            262_147
        );
        assert_eq!(Maglev::new(&[], None).pick(&[], &[]), None);
    }

    #[test]
    fn retry_probes_on_and_is_stable() {
        let b = backends(&[1, 2, 1]);
        let m = Maglev::new(&b, None);
        for k in 0..1000u64 {
            let key = mix64(k);
            let first = m
                .pick_with(&b, &PickContext::new(&[]).with_hash(key))
                .unwrap();
            let skip = [first];
            let again = m
                .pick_with(&b, &PickContext::new(&skip).with_hash(key))
                .unwrap();
            assert_ne!(again, first);
            assert_eq!(
                m.pick_with(&b, &PickContext::new(&skip).with_hash(key)),
                Some(again)
            );
        }
        assert_eq!(
            m.pick_with(&b, &PickContext::new(&[0, 1, 2]).with_hash(1)),
            None
        );
    }

    #[test]
    fn bounded_load_spreads_a_hot_key() {
        let b = backends(&[1, 1, 1, 1]);
        let m = Maglev::new(&b, Some(BoundedLoad::DEFAULT));
        for _ in 0..400 {
            let i = m
                .pick_with(&b, &PickContext::new(&[]).with_hash(42))
                .unwrap();
            b[i].stats.active.fetch_add(1, Relaxed);
        }
        // Cap at the end: 1.25 × 400 / 4 = 125 (+1 for rounding as load grows).
        assert!(
            b.iter().all(|b| b.active() <= 126),
            "{:?}",
            b.iter().map(|b| b.active()).collect::<Vec<_>>()
        );
    }
}
