//! The state every worker reads: one immutable snapshot per config generation.

use crate::cluster::ClusterRuntime;
use crate::http::HttpRuntime;
use crate::listener::ListenerRuntime;
use crate::load::ClusterLoad;
use crate::relay::Mode;
use crate::sni::SniRuntime;
use crate::tls::TlsSet;
use fulcrum_config::{Config, RelayMode};
use std::sync::Arc;

/// Everything the data plane needs for one config generation. Workers load the current one
/// with a single atomic pointer read; a connection keeps the `Arc`s it started with, so a reload
/// never changes the rules under an open connection.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with every applied reload; the first config is generation 1.
    pub generation: u64,
    pub config: Arc<Config>,
    pub listeners: Vec<Arc<ListenerRuntime>>,
    pub clusters: Vec<Arc<ClusterRuntime>>,
    /// Load counters by cluster name, kept across reloads while the name is kept.
    pub loads: Vec<(String, Arc<ClusterLoad>)>,
}

impl Snapshot {
    /// Builds the snapshot for `config`, reusing what `previous` already has: clusters keep
    /// their backends and counters, listeners keep their counters.
    pub fn build(config: Config, previous: Option<&Snapshot>) -> Snapshot {
        Snapshot::build_with_tls(config, previous, &TlsSet::default())
    }

    /// [`Snapshot::build`] with the TLS objects built for `config` ([`TlsSet::build`]).
    pub fn build_with_tls(config: Config, previous: Option<&Snapshot>, tls: &TlsSet) -> Snapshot {
        let clusters: Vec<Arc<ClusterRuntime>> = config
            .clusters
            .iter()
            .map(|c| {
                let old = previous.and_then(|p| p.cluster(&c.name));
                match old {
                    Some(old) if old.config == *c => Arc::clone(old),
                    old => Arc::new(
                        ClusterRuntime::build(c, old.map(|o| &**o)).with_tls(tls.client(&c.name)),
                    ),
                }
            })
            .collect();
        let loads: Vec<(String, Arc<ClusterLoad>)> = config
            .clusters
            .iter()
            .map(|c| {
                let kept = previous.and_then(|p| p.load(&c.name)).cloned();
                (c.name.clone(), kept.unwrap_or_default())
            })
            .collect();
        let listeners = config
            .listeners
            .iter()
            .map(|l| {
                let find = |name: &str| clusters.iter().find(|c| c.name() == name).cloned();
                let load = |name: &str| {
                    loads
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, l)| Arc::clone(l))
                };
                let resolve = |name: &str| Some((find(name)?, load(name)?));
                let cluster = find(&l.cluster);
                let cluster_load = load(&l.cluster);
                let http = l
                    .http
                    .as_ref()
                    .map(|h| Arc::new(HttpRuntime::build(h, l.tls.as_ref(), resolve)));
                let stats = previous
                    .and_then(|p| p.listener(&l.name))
                    .map(|old| Arc::clone(&old.stats))
                    .unwrap_or_default();
                Arc::new(ListenerRuntime {
                    config: l.clone(),
                    cluster,
                    stats,
                    relay_mode: match config.runtime.relay {
                        RelayMode::Splice => Mode::Splice,
                        RelayMode::Copy => Mode::Copy,
                    },
                    buffer_size: config.runtime.buffer_size,
                    log_connections: config.log.connections,
                    http,
                    cluster_load,
                    tls: tls.server(&l.name),
                    sni: l
                        .sni
                        .as_ref()
                        .map(|c| Arc::new(SniRuntime::build(c, resolve))),
                })
            })
            .collect();
        Snapshot {
            generation: previous.map_or(1, |p| p.generation + 1),
            config: Arc::new(config),
            listeners,
            clusters,
            loads,
        }
    }

    pub fn load(&self, cluster: &str) -> Option<&Arc<ClusterLoad>> {
        self.loads
            .iter()
            .find(|(n, _)| n == cluster)
            .map(|(_, l)| l)
    }

    pub fn cluster(&self, name: &str) -> Option<&Arc<ClusterRuntime>> {
        self.clusters.iter().find(|c| c.name() == name)
    }

    pub fn listener(&self, name: &str) -> Option<&Arc<ListenerRuntime>> {
        self.listeners.iter().find(|l| l.config.name == name)
    }
}
