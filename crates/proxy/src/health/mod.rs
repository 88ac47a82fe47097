//! Active health checks, once per process, and runtime control of backends.
//!
//! [`run`] is spawned once on the control thread's runtime (not per worker): it watches the
//! server's snapshot (the generation, every [`WATCH_PERIOD`]) and keeps one task per backend of
//! every cluster with a `[cluster.health]` table. A reload starts tasks for new backends and
//! clusters, stops those that left, restarts those whose check settings changed (keeping the
//! backend's current health), and leaves the rest running with their streaks. A backend whose
//! cluster no longer has checks is marked up.
//!
//! Each task runs [`fulcrum_balance::health::Checker`] over the results of [`probe::check`]
//! and writes the outcome into the shared [`Backend`], where every worker's next pick sees it.
//! State changes are logged (`warn` down, `info` up, with the failure's reason) and counted in
//! [`fulcrum_balance::BackendStats`].
//!
//! [`control`] holds what the admin API may change: disable, enable, drain, weight.

pub mod control;
mod probe;

use crate::Server;
use fulcrum_balance::health::{Checker, Transition, first_check, next_check};
use fulcrum_balance::rand::thread_rand;
use fulcrum_balance::{Backend, Health};
use fulcrum_config::{HealthConfig, ProxyProtocolVersion};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::task::AbortHandle;

/// How often [`run`] looks for a new config generation.
pub const WATCH_PERIOD: Duration = Duration::from_millis(200);

/// Now, on the clock backends' slow start and latency stamps use (monotonic nanoseconds).
pub fn now_ns() -> u64 {
    crate::clock::now_ns()
}

/// What one backend's checks do: the cluster's health settings, and the PROXY protocol
/// version its backends expect (HTTP checks send a `LOCAL` header first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    pub health: HealthConfig,
    pub proxy_protocol: Option<ProxyProtocolVersion>,
}

/// A running check task; aborted when dropped.
struct Task {
    backend: Arc<Backend>,
    spec: Arc<Spec>,
    handle: AbortHandle,
}

impl Drop for Task {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Checks every backend of every cluster with `[cluster.health]`, following reloads, until
/// the runtime it was spawned on stops. Needs a tokio runtime with time enabled.
pub async fn run(server: Arc<Server>) {
    let mut tasks: HashMap<(String, SocketAddr), Task> = HashMap::new();
    let mut generation = 0;
    loop {
        let snapshot = server.snapshot();
        if snapshot.generation != generation {
            generation = snapshot.generation;
            reconcile(&snapshot, &mut tasks);
        }
        tokio::time::sleep(WATCH_PERIOD).await;
    }
}

/// Makes `tasks` match the clusters and backends of `snapshot`.
fn reconcile(snapshot: &crate::Snapshot, tasks: &mut HashMap<(String, SocketAddr), Task>) {
    let mut next = HashMap::new();
    for cluster in &snapshot.clusters {
        let Some(health) = &cluster.config.health else {
            continue;
        };
        let spec = Arc::new(Spec {
            health: health.clone(),
            proxy_protocol: cluster.config.send_proxy_protocol,
        });
        for backend in &cluster.backends {
            let key = (cluster.name().to_string(), backend.address);
            let task = match tasks.remove(&key) {
                Some(t) if Arc::ptr_eq(&t.backend, backend) && t.spec == spec => t,
                _ => spawn(cluster.name(), backend, Arc::clone(&spec)),
            };
            next.insert(key, task);
        }
    }
    // What is left lost its checks (or its backend): a kept backend counts as healthy again.
    for ((cluster, address), task) in tasks.drain() {
        let kept = snapshot
            .cluster(&cluster)
            .and_then(|c| c.backend(address))
            .is_some_and(|(_, b)| Arc::ptr_eq(b, &task.backend));
        if kept && task.backend.set_health(Health::Up, now_ns()) {
            tracing::info!(%cluster, backend = %address, "backend up: health checks removed");
        }
    }
    *tasks = next;
}

fn spawn(cluster: &str, backend: &Arc<Backend>, spec: Arc<Spec>) -> Task {
    let handle = tokio::spawn(check_loop(
        cluster.to_string(),
        Arc::clone(backend),
        Arc::clone(&spec),
    ));
    Task {
        backend: Arc::clone(backend),
        spec,
        handle: handle.abort_handle(),
    }
}

/// Checks one backend forever: at most `interval` between check starts (see
/// [`fulcrum_balance::health`]), each bounded by `timeout`.
async fn check_loop(cluster: String, backend: Arc<Backend>, spec: Arc<Spec>) {
    let h = &spec.health;
    let mut checker = Checker::starting(backend.health() == Health::Up, h.rise, h.fall);
    let mut at = first_check(Instant::now(), h.interval, h.jitter, thread_rand());
    loop {
        tokio::time::sleep_until(at.into()).await;
        let started = Instant::now();
        let result = probe::check(backend.address, &spec).await;
        let stats = &backend.stats;
        stats.health_checks.fetch_add(1, Relaxed);
        if let Err(reason) = &result {
            stats.health_failures.fetch_add(1, Relaxed);
            tracing::debug!(%cluster, backend = %backend.address, %reason, "health check failed");
        }
        if let Some(change) = checker.observe(result.is_ok()) {
            apply(&cluster, &backend, change, result.err());
        }
        let next = next_check(started, h.interval, h.jitter, thread_rand());
        at = next.max(Instant::now());
    }
}

/// Writes a state change into the backend, counts and logs it.
fn apply(cluster: &str, backend: &Backend, change: Transition, reason: Option<String>) {
    let health = match change {
        Transition::Up => Health::Up,
        Transition::Down => Health::Down,
    };
    if !backend.set_health(health, now_ns()) {
        return;
    }
    backend.stats.health_changes.fetch_add(1, Relaxed);
    let address = backend.address;
    match change {
        Transition::Down => tracing::warn!(
            cluster,
            backend = %address,
            reason = reason.as_deref().unwrap_or("check failed"),
            "backend down: health checks failing"
        ),
        Transition::Up => {
            tracing::info!(cluster, backend = %address, "backend up: health checks passing");
        }
    }
}

#[cfg(test)]
mod tests;
