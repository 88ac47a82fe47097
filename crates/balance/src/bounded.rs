//! Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2017).
//!
//! Plain consistent hashing can pile a hot key's traffic, or an unlucky arc, onto one backend.
//! With a bound `c` (say 1.25), no backend may hold more than `c` times its weighted share of
//! the open connections, counting the new one: `active < c × (total + 1) × weight / Σweight`.
//! A key whose backend is full walks on along its own probe order (the ring clockwise, or its
//! Maglev probe sequence) to the first backend with room, so it still lands in the same place
//! in every process that sees the same loads, and moves back once the load drops. Since the
//! capacities add up to more than the load, some backend always has room. HAProxy calls this
//! `hash-balance-factor`, Envoy `hash_balance_factor`.
//!
//! Cost: one pass over the backends per pick to total the load (O(N) atomic loads).

use crate::Backend;
use std::sync::Arc;

/// The load bound `c`, in percent (125 means 1.25 × the fair share).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BoundedLoad {
    percent: u16,
}

impl BoundedLoad {
    /// 1.25, as the paper's experiments and Vimeo's deployment use.
    pub const DEFAULT: BoundedLoad = BoundedLoad { percent: 125 };

    /// A bound of `percent` / 100; values below 100 become 100 (strict fair share).
    pub fn new(percent: u16) -> Self {
        BoundedLoad {
            percent: percent.max(100),
        }
    }

    pub fn percent(self) -> u16 {
        self.percent
    }

    /// Totals the current load, for [`Capacity::has_room`] checks during one pick.
    pub(crate) fn measure(self, backends: &[Arc<Backend>]) -> Capacity {
        let (total, weights) = backends.iter().fold((0u128, 0u128), |(t, w), b| {
            (t + u128::from(b.active()), w + u128::from(b.weight()))
        });
        Capacity {
            scaled_load: u128::from(self.percent) * (total + 1),
            weight_sum: weights.max(1),
        }
    }
}

impl Default for BoundedLoad {
    fn default() -> Self {
        BoundedLoad::DEFAULT
    }
}

/// The load snapshot of one pick.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capacity {
    /// percent × (total active + 1)
    scaled_load: u128,
    weight_sum: u128,
}

impl Capacity {
    /// Whether `backend` may take one more connection:
    /// `active < c × (total + 1) × weight / Σweight`.
    pub fn has_room(&self, backend: &Backend) -> bool {
        let active = u128::from(backend.active());
        active * 100 * self.weight_sum < self.scaled_load * u128::from(backend.weight())
    }
}

/// Fallback when a probe order is exhausted: the backend with the lowest
/// `(active + 1) / weight` not in `skip` (the first such on ties).
pub(crate) fn least_loaded(backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
    let cost = |i: usize| {
        (
            u128::from(backends[i].active()) + 1,
            u128::from(backends[i].weight()),
        )
    };
    (0..backends.len())
        .filter(|i| !skip.contains(i))
        .min_by(|&a, &b| {
            let ((la, wa), (lb, wb)) = (cost(a), cost(b));
            (la * wb).cmp(&(lb * wa))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::backends;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn capacity_follows_weight_and_factor() {
        let b = backends(&[1, 3]);
        b[0].stats.active.store(3, Relaxed);
        b[1].stats.active.store(5, Relaxed);
        // total + 1 = 9; shares 9/4 = 2.25 and 6.75; × 1.25 = 2.81 and 8.44.
        let cap = BoundedLoad::DEFAULT.measure(&b);
        assert!(!cap.has_room(&b[0]));
        assert!(cap.has_room(&b[1]));
        let cap = BoundedLoad::new(200).measure(&b); // 4.5 for b0
        assert!(cap.has_room(&b[0]));
    }

    #[test]
    fn least_loaded_weighs_and_skips() {
        let b = backends(&[1, 4, 1]);
        for (b, a) in b.iter().zip([1, 5, 0]) {
            b.stats.active.store(a, Relaxed);
        }
        assert_eq!(least_loaded(&b, &[]), Some(2));
        assert_eq!(least_loaded(&b, &[2]), Some(1));
        assert_eq!(least_loaded(&b, &[0, 1, 2]), None);
    }
}
