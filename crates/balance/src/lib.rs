//! Backends and backend selection.
//!
//! A [`Backend`] is an address, a weight and counters that every worker thread updates
//! (atomics, each backend's on its own cache line). A [`Selector`] picks one backend for a new
//! connection or request. Selection is pure: no I/O, no clock reads, no locks on the pick path;
//! the algorithms read the counters, their own atomic cursors or precomputed tables, and what
//! the caller passes in a [`PickContext`] (the key's hash, the time, a random number), and
//! return an index. Keys hash with the fixed functions of [`hash`], so every worker and every
//! Fulcrum process maps a key to the same backend given the same backend set.
//!
//! | algorithm | module | pick cost |
//! |---|---|---|
//! | round robin | [`round_robin`] | one `fetch_add` |
//! | smooth weighted round robin | [`weighted`] | one `fetch_add`, one load |
//! | weighted least connections | [`least_conn`] | O(N) loads |
//! | least outstanding requests, two choices | [`p2c`] | two draws, two loads |
//! | peak-EWMA latency, two choices | [`peak_ewma`] | two draws, six loads |
//! | weighted random / source hash | [`random`] | one draw |
//! | ring hash (ketama) | [`ring_hash`] | binary search, O(log points) |
//! | Maglev | [`maglev`] | one table load |
//! | bounded load (ring, Maglev) | [`bounded`] | + O(N) loads |
//!
//! Around any selector, [`availability::pick_available`] skips backends that are down,
//! ejected, disabled or draining, applies panic mode and slow start, and with
//! [`placement`] keeps picks within the priority groups and zone that should take traffic;
//! [`health`] is the sans-io state machine of active health checks, [`outlier`] that of
//! passive ejection, and [`persistence`] the tables of session persistence (the one module
//! that locks, and only for clusters that ask for it).

#![forbid(unsafe_code)]

pub mod availability;
mod backend;
pub mod bounded;
pub mod hash;
pub mod health;
pub mod least_conn;
pub mod maglev;
pub mod outlier;
pub mod p2c;
pub mod peak_ewma;
pub mod persistence;
pub mod placement;
pub mod rand;
pub mod random;
pub mod ring_hash;
pub mod round_robin;
mod table;
pub mod weighted;

pub use backend::{AdminState, Backend, BackendStats, Health, state_epoch};
pub use bounded::BoundedLoad;
pub use least_conn::LeastConn;
pub use maglev::Maglev;
pub use p2c::P2c;
pub use peak_ewma::PeakEwma;
pub use random::{Random, SourceHash};
pub use ring_hash::RingHash;
pub use round_robin::RoundRobin;
pub use weighted::SmoothWeighted;

use std::sync::Arc;

/// Which algorithm a cluster uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RoundRobin,
    WeightedRoundRobin,
    LeastConn,
    /// Least outstanding requests by two random choices.
    P2c,
    /// Peak-EWMA latency by two random choices.
    PeakEwma,
    /// Weighted random.
    Random,
    /// Key hash over the weighted list (not consistent); the key is usually the client IP.
    SourceHash,
    /// Consistent hashing on a ketama ring.
    RingHash {
        bounded_load: Option<BoundedLoad>,
    },
    /// Consistent hashing by a Maglev table.
    Maglev {
        bounded_load: Option<BoundedLoad>,
    },
}

impl Algorithm {
    /// Whether the algorithm reads `PickContext::hash` (the caller should compute the key).
    pub fn uses_hash(self) -> bool {
        matches!(
            self,
            Algorithm::SourceHash | Algorithm::RingHash { .. } | Algorithm::Maglev { .. }
        )
    }
}

/// What the caller knows about one pick, beyond the backends.
#[derive(Debug, Clone, Copy)]
pub struct PickContext<'a> {
    /// Indices already tried for this connection or request; never returned.
    pub skip: &'a [usize],
    /// Hash of the balancing key (client IP, header, cookie, path: see [`hash`]). Hashing
    /// selectors use `rand` instead when it is `None`.
    pub hash: Option<u64>,
    /// Now, in monotonic nanoseconds on the clock given to [`Backend::finish_request`].
    /// 0 when unknown (latency estimates are then read undecayed).
    pub now_ns: u64,
    /// A uniformly random number, fresh for each pick.
    pub rand: u64,
}

impl<'a> PickContext<'a> {
    /// A context with `skip`, no key, no time, and a number from this thread's generator.
    pub fn new(skip: &'a [usize]) -> Self {
        PickContext {
            skip,
            hash: None,
            now_ns: 0,
            rand: rand::thread_rand(),
        }
    }

    pub fn with_hash(self, hash: u64) -> Self {
        PickContext {
            hash: Some(hash),
            ..self
        }
    }

    pub fn at(self, now_ns: u64) -> Self {
        PickContext { now_ns, ..self }
    }

    pub fn with_rand(self, rand: u64) -> Self {
        PickContext { rand, ..self }
    }
}

/// Chooses a backend for a new connection or request.
///
/// `skip` lists indices already tried for this connection (a retry after a connect failure
/// must go elsewhere). `None` means every backend is skipped (or there are none). Selectors
/// built for one backend list and handed another of a different length fall back to a
/// uniform choice rather than index out of bounds.
pub trait Selector: Send + Sync + std::fmt::Debug {
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize>;

    /// Picks with everything the caller knows. Hashing, random and latency-aware selectors
    /// need this; the others ignore all but `skip`.
    fn pick_with(&self, backends: &[Arc<Backend>], ctx: &PickContext<'_>) -> Option<usize> {
        self.pick(backends, ctx.skip)
    }
}

/// Builds the selector for `algorithm` over `backends` (whose weights it may precompute from).
pub fn selector(algorithm: Algorithm, backends: &[Arc<Backend>]) -> Box<dyn Selector> {
    match algorithm {
        Algorithm::RoundRobin => Box::new(RoundRobin::new()),
        Algorithm::WeightedRoundRobin => Box::new(SmoothWeighted::new(backends)),
        Algorithm::LeastConn => Box::new(LeastConn::new()),
        Algorithm::P2c => Box::new(P2c::new(backends)),
        Algorithm::PeakEwma => Box::new(PeakEwma::new(backends)),
        Algorithm::Random => Box::new(Random::new(backends)),
        Algorithm::SourceHash => Box::new(SourceHash::new(backends)),
        Algorithm::RingHash { bounded_load } => Box::new(RingHash::new(backends, bounded_load)),
        Algorithm::Maglev { bounded_load } => Box::new(Maglev::new(backends, bounded_load)),
    }
}

/// The first index at or after `start` (wrapping) that is not in `skip`.
pub(crate) fn first_allowed(n: usize, start: usize, skip: &[usize]) -> Option<usize> {
    if skip.is_empty() {
        return Some(start);
    }
    (0..n)
        .map(|k| {
            if start + k >= n {
                start + k - n
            } else {
                start + k
            }
        })
        .find(|i| !skip.contains(i))
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::Backend;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, SocketAddr};
    use std::sync::Arc;

    /// Backends 10.0.x.y:80 with the given weights.
    pub fn backends(weights: &[u32]) -> Vec<Arc<Backend>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let ip = Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8);
                Arc::new(Backend::new(SocketAddr::from((ip, 80)), w))
            })
            .collect()
    }

    /// Fails unless every backend's share of `counts` is within `tolerance` (a fraction, so
    /// 0.01 is one percentage point) of its share of `weights`.
    pub fn shares_within(
        weights: &[u32],
        counts: &[u64],
        tolerance: f64,
    ) -> Result<(), TestCaseError> {
        let wsum: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        let csum: f64 = counts.iter().map(|&c| c as f64).sum();
        for (w, c) in weights.iter().zip(counts) {
            let want = f64::from(*w) / wsum;
            let got = *c as f64 / csum;
            prop_assert!(
                (want - got).abs() <= tolerance,
                "weights {weights:?} counts {counts:?}"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use test_util::backends;

    const ALL: [Algorithm; 11] = [
        Algorithm::RoundRobin,
        Algorithm::WeightedRoundRobin,
        Algorithm::LeastConn,
        Algorithm::P2c,
        Algorithm::PeakEwma,
        Algorithm::Random,
        Algorithm::SourceHash,
        Algorithm::RingHash { bounded_load: None },
        Algorithm::RingHash {
            bounded_load: Some(BoundedLoad::DEFAULT),
        },
        Algorithm::Maglev { bounded_load: None },
        Algorithm::Maglev {
            bounded_load: Some(BoundedLoad::DEFAULT),
        },
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Every algorithm: never a skipped index; None exactly when all are skipped.
        #[test]
        fn skip_is_honoured(
            weights in prop::collection::vec(1u32..5, 0..8),
            skips in prop::collection::vec(prop::collection::vec(0usize..8, 0..8), 16),
            active in prop::collection::vec(0u64..5, 8),
        ) {
            let b = backends(&weights);
            for (b, a) in b.iter().zip(&active) {
                b.stats.active.store(*a, std::sync::atomic::Ordering::Relaxed);
                b.stats.pending.store(*a, std::sync::atomic::Ordering::Relaxed);
            }
            for algorithm in ALL {
                // Building rings and tables is the slow part: many skip sets per build.
                let sel = selector(algorithm, &b);
                for skip in &skips {
                    let all_skipped = (0..b.len()).all(|i| skip.contains(&i));
                    for k in 0..20u64 {
                        let hash = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                        match sel.pick_with(&b, &PickContext::new(skip).with_hash(hash)) {
                            Some(i) => prop_assert!(i < b.len() && !skip.contains(&i)),
                            None => prop_assert!(all_skipped, "{algorithm:?}"),
                        }
                    }
                }
            }
        }
    }
}
