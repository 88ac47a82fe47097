//! Peak-EWMA latency with two random choices, as Finagle and linkerd balance.
//!
//! Every backend keeps an estimate of its response latency: an exponentially weighted moving
//! average that decays with time (time constant [`DECAY_NS`], 10 s) but jumps straight to any
//! sample above it ("peak"), so a backend that turns slow is avoided at once and is trusted
//! again only gradually. A backend's cost is `estimate × (requests in flight + 1)`; a backend
//! with no sample yet costs 0 while idle (so it is probed at once) and a huge penalty while its
//! first request is pending (so it is not flooded before it answers). Each pick draws two
//! backends by weight and takes the cheaper (the first on ties), as in [`crate::P2c`].
//!
//! Sans-io: the data plane calls [`Backend::start_request`] and
//! [`Backend::finish_request`]`(rtt_ns, now_ns)`; the selector reads the estimate decayed to
//! `PickContext::now_ns`. Both are lock-free (a compare-and-swap loop on update, loads on
//! pick); the estimate and its timestamp are two atomics, so a racing update can age one
//! sample slightly wrongly, which the average absorbs.
//!
//! Cost: two weighted draws, six atomic loads and two `exp` per pick. Use it for L7 traffic
//! where backends differ in speed (GC pauses, noisy neighbours, cross-zone hops).

use crate::p2c::two_choices;
use crate::table::WeightedTable;
use crate::{Backend, BackendStats, PickContext, Selector};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// Time constant of the decay: a sample's weight falls by `e` every 10 s.
pub const DECAY_NS: u64 = 10_000_000_000;
/// Cost of a backend with no latency sample and a request already in flight (about 28 h in
/// ns), plus one per pending request.
const PENALTY: f64 = 1e14;

/// Two random choices, lowest `latency × (pending + 1)` wins.
#[derive(Debug)]
pub struct PeakEwma {
    table: WeightedTable,
}

impl PeakEwma {
    pub fn new(backends: &[Arc<Backend>]) -> Self {
        PeakEwma {
            table: WeightedTable::new(backends),
        }
    }
}

impl Selector for PeakEwma {
    /// Without a clock, the estimates are read undecayed; use `pick_with` and `now_ns`.
    fn pick(&self, backends: &[Arc<Backend>], skip: &[usize]) -> Option<usize> {
        self.pick_with(backends, &PickContext::new(skip))
    }

    fn pick_with(&self, backends: &[Arc<Backend>], ctx: &PickContext<'_>) -> Option<usize> {
        two_choices(&self.table, backends, ctx, |b: &Backend| {
            cost(b, ctx.now_ns)
        })
    }
}

/// The balancing cost of `backend` at `now_ns`.
pub fn cost(backend: &Backend, now_ns: u64) -> f64 {
    let pending = backend.outstanding() as f64;
    let estimate = estimate(&backend.stats, now_ns);
    if estimate == 0.0 && pending > 0.0 {
        PENALTY + pending
    } else {
        estimate * (pending + 1.0)
    }
}

/// `e^(-elapsed / DECAY_NS)`: how much of the old estimate survives `elapsed_ns`.
fn survival(elapsed_ns: u64) -> f64 {
    (-(elapsed_ns as f64) / DECAY_NS as f64).exp()
}

/// The estimate decayed to `now_ns` (times before the last update count as no time).
pub(crate) fn estimate(stats: &BackendStats, now_ns: u64) -> f64 {
    let value = f64::from_bits(stats.latency_ewma.load(Relaxed));
    let elapsed = now_ns.saturating_sub(stats.latency_stamp_ns.load(Relaxed));
    if value == 0.0 {
        0.0
    } else {
        value * survival(elapsed)
    }
}

/// Feeds one latency sample taken at `now_ns`: above the decayed estimate it replaces it
/// (the peak); below, it is averaged in with the weight that the elapsed time gives it.
pub(crate) fn observe(stats: &BackendStats, rtt_ns: u64, now_ns: u64) {
    let rtt = rtt_ns as f64;
    let elapsed = now_ns.saturating_sub(stats.latency_stamp_ns.load(Relaxed));
    let keep = survival(elapsed);
    let _ = stats.latency_ewma.fetch_update(Relaxed, Relaxed, |bits| {
        let decayed = f64::from_bits(bits) * keep;
        let next = if rtt > decayed {
            rtt
        } else {
            decayed + rtt * (1.0 - keep)
        };
        Some(next.to_bits())
    });
    stats.latency_stamp_ns.fetch_max(now_ns, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::WyRand;
    use crate::test_util::{backends, shares_within};
    use proptest::prelude::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn peak_is_taken_at_once_and_decays() {
        let b = backends(&[1]);
        b[0].finish_request(10 * MS, 0);
        assert_eq!(b[0].latency_estimate_ns(0), 10.0 * MS as f64);
        b[0].finish_request(100 * MS, 1);
        assert_eq!(b[0].latency_estimate_ns(1), 100.0 * MS as f64);
        // One time constant later: 1/e of it left.
        let e = b[0].latency_estimate_ns(1 + DECAY_NS);
        assert!((e / (100.0 * MS as f64) - (-1.0f64).exp()).abs() < 1e-9);
        // A fast sample right after a slow one moves the estimate only a little.
        b[0].finish_request(MS, 2);
        assert!(b[0].latency_estimate_ns(2) > 99.0 * MS as f64);
        // A fast sample after a long quiet period counts almost fully.
        b[0].finish_request(MS, 2 + 100 * DECAY_NS);
        assert!((b[0].latency_estimate_ns(2 + 100 * DECAY_NS) - MS as f64).abs() < 1.0);
    }

    #[test]
    fn pending_count_never_wraps() {
        let b = backends(&[1]);
        b[0].abandon_request();
        assert_eq!(b[0].outstanding(), 0);
        b[0].start_request();
        b[0].finish_request(MS, 0);
        assert_eq!(b[0].outstanding(), 0);
    }

    #[test]
    fn avoids_the_slow_backend() {
        let b = backends(&[1, 1, 1]);
        b[0].finish_request(50 * MS, 0);
        b[1].finish_request(5 * MS, 0);
        b[2].finish_request(6 * MS, 0);
        let p = PeakEwma::new(&b);
        let mut counts = [0; 3];
        let mut rng = WyRand::new(3);
        for _ in 0..3000 {
            let ctx = PickContext::new(&[]).with_rand(rng.next_u64()).at(MS);
            counts[p.pick_with(&b, &ctx).unwrap()] += 1;
        }
        assert_eq!(counts[0], 0, "{counts:?}");
        // 1 vs 2 is a coin flip only when they are the pair drawn; 1 always wins it.
        assert!(counts[1] > 1900 && counts[2] > 900, "{counts:?}");
    }

    #[test]
    fn unknown_backend_is_probed_once_then_waited_for() {
        let b = backends(&[1, 1]);
        b[0].finish_request(5 * MS, 0);
        assert_eq!(cost(&b[1], 0), 0.0);
        b[1].start_request();
        assert!(cost(&b[1], 0) > 1e13);
        let p = PeakEwma::new(&b);
        for r in 0..100 {
            let ctx = PickContext::new(&[]).with_rand(crate::hash::mix64(r));
            assert_eq!(p.pick_with(&b, &ctx), Some(0));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn idle_shares_match_weights(weights in prop::collection::vec(1u32..100, 1..10), seed: u64) {
            let b = backends(&weights);
            let p = PeakEwma::new(&b);
            let mut rng = WyRand::new(seed);
            let mut counts = vec![0u64; b.len()];
            for _ in 0..1_000_000 {
                let ctx = PickContext::new(&[]).with_rand(rng.next_u64());
                counts[p.pick_with(&b, &ctx).unwrap()] += 1;
            }
            shares_within(&weights, &counts, 0.01)?;
        }
    }
}
