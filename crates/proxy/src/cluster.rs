//! A cluster at run time: its backends and the selector that picks among them.
//!
//! Picks go through [`fulcrum_balance::availability::pick_available_in`], so down, ejected,
//! disabled and draining backends are skipped (panic mode and slow start apply), and with
//! priority groups or a `local_zone` only the groups and zone taking traffic are picked
//! ([`fulcrum_balance::placement`]), all without rebuilding the selector. Only an admin weight
//! change rebuilds it ([`ClusterRuntime::set_weight_override`]): the rebuilt one goes behind an
//! `ArcSwap`, which picks read only once a flag says there is one, so a cluster whose weights
//! were never changed at run time pays one relaxed load.
//!
//! The data plane reports what happened on each try ([`ClusterRuntime::report`], passive
//! outlier detection) and asks for and records session persistence
//! ([`ClusterRuntime::persisted`], [`ClusterRuntime::persist`]): see `passive` and `sticky`.

mod passive;
mod sticky;

use arc_swap::ArcSwapOption;
use fulcrum_balance::availability::{Policy, panicking_at, pick_available_in};
use fulcrum_balance::outlier::{self, Params};
use fulcrum_balance::placement::{Placement, Scope};
use fulcrum_balance::{Algorithm, Backend, BoundedLoad, PickContext, Selector, selector};
use fulcrum_config::{Balance, ClusterConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use sticky::Sticky;

/// A cluster as the data plane sees it. Its config and backend list are immutable once built;
/// a reload builds a new one that reuses the [`Backend`]s (and so the counters, the health and
/// the admin state) of addresses it keeps.
#[derive(Debug)]
pub struct ClusterRuntime {
    pub config: ClusterConfig,
    pub backends: Vec<Arc<Backend>>,
    /// TLS to the backends (`[cluster.tls]`).
    pub(crate) tls: Option<Arc<fulcrum_tls::ClientTls>>,
    /// Built with the cluster, from the weights then.
    selector: Box<dyn Selector>,
    /// Rebuilt after an admin weight change; used once `reweighted` is set.
    rebuilt: ArcSwapOption<Box<dyn Selector>>,
    reweighted: AtomicBool,
    algorithm: Algorithm,
    policy: Policy,
    uses_hash: bool,
    /// `[cluster.outlier]` in numbers; `None`: no passive ejection.
    outlier: Option<Params>,
    /// Priority groups and zones; `None` when there is nothing to choose (one group, no
    /// zone preference).
    placement: Option<Placement>,
    /// `[cluster.persistence]`.
    sticky: Option<Sticky>,
    /// Picks need the time: slow start, or ejections that end by time.
    clocked: bool,
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
        let outlier = config.outlier.as_ref().map(passive::params);
        if outlier.is_none() {
            backends.iter().for_each(|b| outlier::readmit(b));
        }
        let placement = placement(config);
        let sticky = Sticky::build(config, &backends, previous.and_then(|p| p.sticky.as_ref()));
        let algorithm = algorithm(config);
        let selector = selector(algorithm, &backends);
        ClusterRuntime {
            tls: None,
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
            outlier,
            placement,
            sticky,
            // Peak-EWMA decays latency estimates with time, slow start ramps with it, and
            // ejections end by it: those picks read the clock.
            clocked: !config.slow_start.is_zero()
                || config.outlier.is_some()
                || config.balance == Balance::P2cEwma,
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

    /// The cluster with TLS to its backends.
    pub(crate) fn with_tls(mut self, tls: Option<Arc<fulcrum_tls::ClientTls>>) -> Self {
        self.tls = tls;
        self
    }

    /// Whether picks read the balancing key's hash (so the caller should compute it).
    pub fn uses_hash(&self) -> bool {
        self.uses_hash
    }

    /// Whether picks read each backend's latency estimate (so requests should time and feed it).
    pub fn uses_latency(&self) -> bool {
        matches!(self.algorithm, Algorithm::PeakEwma)
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
        if self.clocked {
            ctx = ctx.at(crate::clock::now_ns());
        }
        let scope = self.scope(ctx.now_ns);
        if self.reweighted.load(Ordering::Acquire)
            && let Some(rebuilt) = &*self.rebuilt.load()
        {
            return self.pick_from(&***rebuilt, scope, &ctx);
        }
        self.pick_from(&*self.selector, scope, &ctx)
    }

    /// `preferred` (a persisted backend, see [`ClusterRuntime::persisted`]) unless it is in
    /// `skip` or may not take traffic now; otherwise [`ClusterRuntime::pick`].
    pub fn pick_preferring(
        &self,
        preferred: Option<usize>,
        skip: &[usize],
        hash: Option<u64>,
    ) -> Option<usize> {
        match preferred {
            Some(i) if !skip.contains(&i) && self.takes_traffic(i) => Some(i),
            _ => self.pick(skip, hash),
        }
    }

    fn pick_from(
        &self,
        selector: &dyn Selector,
        scope: Option<Scope<'_>>,
        ctx: &PickContext<'_>,
    ) -> Option<usize> {
        pick_available_in(&self.backends, &self.policy, scope, ctx, |c| {
            selector.pick_with(&self.backends, c)
        })
    }

    /// The priority groups and zone taking traffic at `now_ns` (cached; see
    /// [`fulcrum_balance::placement`]); `None` when the cluster has neither.
    pub fn scope(&self, now_ns: u64) -> Option<Scope<'_>> {
        self.placement
            .as_ref()
            .map(|p| p.scope(&self.backends, now_ns))
    }

    /// Priority groups and zones, if the cluster has any to choose between.
    pub fn placement(&self) -> Option<&Placement> {
        self.placement.as_ref()
    }

    /// Whether backend `index` may take a new connection or request now, placement aside:
    /// healthy (or in panic mode), not ejected, enabled.
    pub fn takes_traffic(&self, index: usize) -> bool {
        use fulcrum_balance::availability::{Verdict, verdict};
        let Some(b) = self.backends.get(index) else {
            return false;
        };
        let now = if self.clocked {
            crate::clock::now_ns()
        } else {
            0
        };
        match verdict(b, &self.policy, now) {
            Verdict::Take | Verdict::Warming(_) => true,
            Verdict::Down => self.panicking(now),
            Verdict::Excluded => false,
        }
    }

    /// Whether the cluster is in panic mode at `now_ns`: every priority group and zone is in
    /// use and the healthy share is below `panic_threshold`.
    pub fn panicking(&self, now_ns: u64) -> bool {
        self.scope(now_ns).is_none_or(|s| s.whole())
            && panicking_at(&self.backends, self.policy.panic_threshold_milli, now_ns)
    }
}

/// The cluster's priority groups and zones, if it has any to choose between.
fn placement(config: &ClusterConfig) -> Option<Placement> {
    let local = config.local_zone.as_deref();
    let labels: Vec<(u32, bool)> = config
        .backends
        .iter()
        .map(|b| (b.priority, local.is_some() && b.zone.as_deref() == local))
        .collect();
    Placement::new(&labels, config.priority_threshold)
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
