//! A cluster at run time: its backends and the selector that picks among them.
//!
//! Picks go through [`fulcrum_balance::availability::pick_available`], so down, disabled and
//! draining backends are skipped (panic mode and slow start apply) without rebuilding the
//! selector. Only an admin weight change rebuilds it ([`ClusterRuntime::set_weight_override`]):
//! the rebuilt one goes behind an `ArcSwap`, which picks read only once a flag says there is
//! one, so a cluster whose weights were never changed at run time pays one relaxed load.

use arc_swap::ArcSwapOption;
use fulcrum_balance::availability::{Policy, pick_available};
use fulcrum_balance::{Algorithm, Backend, BoundedLoad, PickContext, Selector, selector};
use fulcrum_config::{Balance, ClusterConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cluster as the data plane sees it. Its config and backend list are immutable once built;
/// a reload builds a new one that reuses the [`Backend`]s (and so the counters, the health and
/// the admin state) of addresses it keeps.
#[derive(Debug)]
pub struct ClusterRuntime {
    pub config: ClusterConfig,
    pub backends: Vec<Arc<Backend>>,
    /// Built with the cluster, from the weights then.
    selector: Box<dyn Selector>,
    /// Rebuilt after an admin weight change; used once `reweighted` is set.
    rebuilt: ArcSwapOption<Box<dyn Selector>>,
    reweighted: AtomicBool,
    algorithm: Algorithm,
    policy: Policy,
    uses_hash: bool,
}

impl ClusterRuntime {
    /// Builds the runtime cluster, taking over backends of `previous` whose address is kept.
    ///
    /// A kept backend whose entry changed (weight, zone or priority) loses its admin state
    /// (enabled again, no weight override): the edited file is the newer word. A backend new
    /// to an existing cluster starts its slow start.
    pub fn build(config: &ClusterConfig, previous: Option<&ClusterRuntime>) -> Self {
        let now = crate::clock::now_ns();
        let backends: Vec<Arc<Backend>> = config
            .backends
            .iter()
            .map(|b| {
                let Some(previous) = previous else {
                    return Arc::new(Backend::new(b.address, b.weight));
                };
                match previous
                    .backends
                    .iter()
                    .find(|old| old.address == b.address)
                {
                    Some(old) => {
                        let entry = previous
                            .config
                            .backends
                            .iter()
                            .find(|e| e.address == b.address);
                        if entry != Some(b) {
                            old.reset_admin();
                        }
                        old.set_weight(b.weight);
                        Arc::clone(old)
                    }
                    None => {
                        let fresh = Backend::new(b.address, b.weight);
                        fresh.mark_ready(now);
                        Arc::new(fresh)
                    }
                }
            })
            .collect();
        let algorithm = algorithm(config);
        let selector = selector(algorithm, &backends);
        ClusterRuntime {
            config: config.clone(),
            backends,
            selector,
            rebuilt: ArcSwapOption::empty(),
            reweighted: AtomicBool::new(false),
            algorithm,
            policy: Policy {
                panic_threshold_milli: config.panic_threshold,
                slow_start_ns: u64::try_from(config.slow_start.as_nanos()).unwrap_or(u64::MAX),
            },
            uses_hash: algorithm.uses_hash(),
        }
    }

    /// Panic threshold and slow start.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The backend at `address`, with its index.
    pub fn backend(&self, address: SocketAddr) -> Option<(usize, &Arc<Backend>)> {
        self.backends
            .iter()
            .enumerate()
            .find(|(_, b)| b.address == address)
    }

    /// Sets or clears the admin weight of `backend` (one of this cluster's) and rebuilds the
    /// selector, so weighted algorithms follow at once.
    pub fn set_weight_override(&self, backend: &Backend, weight: Option<u32>) {
        backend.set_weight_override(weight);
        let rebuilt = selector(self.algorithm, &self.backends);
        self.rebuilt.store(Some(Arc::new(rebuilt)));
        self.reweighted.store(true, Ordering::Release);
    }

    /// The weight `backend` gets now, slow start included.
    pub fn effective_weight(&self, backend: &Backend) -> u32 {
        backend.effective_weight(crate::clock::now_ns(), self.policy.slow_start_ns)
    }

    /// Whether picks read the balancing key's hash (so the caller should compute it).
    pub fn uses_hash(&self) -> bool {
        self.uses_hash
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Picks a backend not in `skip` (indices already tried) that may take a new connection or
    /// request: healthy (or any enabled one in panic mode), not disabled, not draining, past
    /// its slow start's draw. `hash` is the balancing key's hash, for the hashing algorithms.
    pub fn pick(&self, skip: &[usize], hash: Option<u64>) -> Option<usize> {
        let mut ctx = PickContext::new(skip);
        if let Some(h) = hash {
            ctx = ctx.with_hash(h);
        }
        if self.policy.slow_start_ns > 0 {
            ctx = ctx.at(crate::clock::now_ns());
        }
        if self.reweighted.load(Ordering::Acquire)
            && let Some(rebuilt) = &*self.rebuilt.load()
        {
            return self.pick_from(&***rebuilt, &ctx);
        }
        self.pick_from(&*self.selector, &ctx)
    }

    fn pick_from(&self, selector: &dyn Selector, ctx: &PickContext<'_>) -> Option<usize> {
        pick_available(&self.backends, &self.policy, ctx, |c| {
            selector.pick_with(&self.backends, c)
        })
    }
}

/// The balance crate's algorithm for a cluster's `balance` and `hash_balance_factor`.
fn algorithm(config: &ClusterConfig) -> Algorithm {
    // Thousandths to percent: 1.25 is stored as 1250 and becomes 125 %.
    let bounded_load = config
        .hash_balance_factor
        .map(|milli| BoundedLoad::new((milli / 10).min(u32::from(u16::MAX)) as u16));
    match config.balance {
        Balance::RoundRobin => Algorithm::RoundRobin,
        Balance::WeightedRoundRobin => Algorithm::WeightedRoundRobin,
        Balance::LeastConn => Algorithm::LeastConn,
        Balance::P2c => Algorithm::P2c,
        Balance::P2cEwma => Algorithm::PeakEwma,
        Balance::Random => Algorithm::Random,
        Balance::SourceIp => Algorithm::SourceHash,
        Balance::RingHash => Algorithm::RingHash { bounded_load },
        Balance::Maglev => Algorithm::Maglev { bounded_load },
    }
}
