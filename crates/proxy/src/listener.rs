//! A listener at run time, and the accept loop each worker runs for it.

use crate::cluster::ClusterRuntime;
use crate::stats::ListenerStats;
use fulcrum_config::ListenerConfig;
use std::sync::Arc;

/// A listener as one config generation sees it: its settings, the cluster it sends to, and its
/// counters (kept across reloads while the listener's name is kept).
#[derive(Debug)]
pub struct ListenerRuntime {
    pub config: ListenerConfig,
    pub cluster: Arc<ClusterRuntime>,
    pub stats: Arc<ListenerStats>,
}
