//! `/backends`: every cluster's backends with their weight, health, admin state and counters,
//! as JSON. The control endpoints answer with one backend in the same shape.

use crate::view::View;
use fulcrum_balance::availability::{panicking, ramp_milli};
use fulcrum_balance::{AdminState, Backend, Health};
use fulcrum_config::units::format_duration;
use fulcrum_proxy::ClusterRuntime;
use fulcrum_proxy::health::now_ns;
use serde_json::{Value, json};
use std::sync::atomic::Ordering::Relaxed;

/// The whole document.
pub(crate) fn document(view: &View) -> Value {
    let clusters: Vec<Value> = view.snapshot.clusters.iter().map(|c| cluster(c)).collect();
    json!({ "generation": view.snapshot.generation, "clusters": clusters })
}

fn cluster(c: &ClusterRuntime) -> Value {
    let policy = c.policy();
    let backends: Vec<Value> = c.backends.iter().map(|b| backend(c, b)).collect();
    json!({
        "name": c.name(),
        "health_checks": c.config.health.is_some(),
        "panic_threshold": f64::from(policy.panic_threshold_milli) / 1000.0,
        "panic": panicking(&c.backends, policy.panic_threshold_milli),
        "slow_start": format_duration(c.config.slow_start),
        "backends": backends,
    })
}

/// One backend of cluster `c`.
pub(crate) fn backend(c: &ClusterRuntime, b: &Backend) -> Value {
    let s = &b.stats;
    let admin = b.admin_state();
    let active = b.active();
    let effective = c.effective_weight(b);
    let ramp = ramp_milli(b.ready_since(), now_ns(), c.policy().slow_start_ns);
    json!({
        "address": b.address.to_string(),
        "weight": b.weight(),
        "config_weight": b.config_weight(),
        "weight_override": b.weight_override(),
        "effective_weight": effective,
        "warming": ramp < 1000,
        "health": b.health().as_str(),
        "admin_state": admin.as_str(),
        "eligible": b.eligible(),
        "drained": admin == AdminState::Draining && active == 0,
        "active": active,
        "connections": s.connections.load(Relaxed),
        "connect_errors": s.connect_errors.load(Relaxed),
        "bytes_sent": s.bytes_sent.load(Relaxed),
        "bytes_received": s.bytes_received.load(Relaxed),
        "health_checks": s.health_checks.load(Relaxed),
        "health_failures": s.health_failures.load(Relaxed),
        "health_changes": s.health_changes.load(Relaxed),
    })
}

/// One word for a backend's state, for the dashboard: what a pick makes of it.
pub(crate) fn state_word(b: &Backend) -> &'static str {
    match (b.admin_state(), b.health()) {
        (AdminState::Enabled, Health::Up) => "up",
        (AdminState::Enabled, Health::Down) => "down",
        (admin, _) => admin.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    #[test]
    fn lists_every_backend_with_its_state() {
        let snapshot = testutil::snapshot();
        let c = &snapshot.clusters[0];
        c.backends[0].set_health(Health::Down, 0);
        c.backends[1].set_admin_state(AdminState::Draining, 0);
        c.backends[1].stats.active.store(2, Relaxed);
        let doc = document(&testutil::view(&snapshot));
        assert_eq!(doc["generation"], 1);
        let app = &doc["clusters"][0];
        assert_eq!(app["name"], "app");
        assert_eq!(app["health_checks"], false);
        assert_eq!(app["panic"], false);
        let b = &app["backends"];
        assert_eq!(b[0]["address"], "127.0.0.1:9001");
        assert_eq!(b[0]["health"], "down");
        assert_eq!(b[0]["admin_state"], "enabled");
        assert_eq!(b[0]["eligible"], false);
        assert_eq!(b[1]["weight"], 3);
        assert_eq!(b[1]["effective_weight"], 3);
        assert_eq!(b[1]["weight_override"], Value::Null);
        assert_eq!(b[1]["admin_state"], "draining");
        assert_eq!(
            (b[1]["active"].clone(), b[1]["drained"].clone()),
            (json!(2), json!(false))
        );
        assert_eq!(state_word(&c.backends[0]), "down");
        assert_eq!(state_word(&c.backends[1]), "draining");
    }
}
