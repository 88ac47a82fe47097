//! A cluster at run time: its backends and the selector that picks among them.

use fulcrum_balance::{Algorithm, Backend, BoundedLoad, PickContext, Selector, selector};
use fulcrum_config::{Balance, ClusterConfig};
use std::sync::Arc;

/// A cluster as the data plane sees it. Immutable once built; a reload builds a new one that
/// reuses the [`Backend`]s (and so the counters) of addresses it keeps.
#[derive(Debug)]
pub struct ClusterRuntime {
    pub config: ClusterConfig,
    pub backends: Vec<Arc<Backend>>,
    selector: Box<dyn Selector>,
    uses_hash: bool,
}

impl ClusterRuntime {
    /// Builds the runtime cluster, taking over backends of `previous` whose address is kept.
    pub fn build(config: &ClusterConfig, previous: Option<&ClusterRuntime>) -> Self {
        let backends: Vec<Arc<Backend>> = config
            .backends
            .iter()
            .map(|b| {
                let kept =
                    previous.and_then(|p| p.backends.iter().find(|old| old.address == b.address));
                match kept {
                    Some(old) => {
                        old.set_weight(b.weight);
                        Arc::clone(old)
                    }
                    None => Arc::new(Backend::new(b.address, b.weight)),
                }
            })
            .collect();
        let algorithm = algorithm(config);
        let selector = selector(algorithm, &backends);
        ClusterRuntime {
            config: config.clone(),
            backends,
            selector,
            uses_hash: algorithm.uses_hash(),
        }
    }

    /// Whether picks read the balancing key's hash (so the caller should compute it).
    pub fn uses_hash(&self) -> bool {
        self.uses_hash
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Picks a backend not in `skip` (indices already tried). `hash` is the balancing key's
    /// hash, for the hashing algorithms.
    pub fn pick(&self, skip: &[usize], hash: Option<u64>) -> Option<usize> {
        let mut ctx = PickContext::new(skip);
        if let Some(h) = hash {
            ctx = ctx.with_hash(h);
        }
        self.selector.pick_with(&self.backends, &ctx)
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
