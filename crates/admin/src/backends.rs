//! `/backends`: every cluster's backends with their weight, health, ejection, admin state,
//! labels (zone, priority) and counters, as JSON; per cluster, panic mode, the priority groups
//! and zone taking traffic, and persistence. The control endpoints answer with one backend in
//! the same shape.

use crate::view::View;
use fulcrum_balance::availability::ramp_milli;
use fulcrum_balance::{AdminState, Backend, Health};
use fulcrum_config::Persistence;
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
    let now = now_ns();
    let backends: Vec<Value> = c.backends.iter().map(|b| backend(c, b)).collect();
    let scope = c.scope(now);
    let persistence = c.config.persistence.as_ref().map(|p| match p {
        Persistence::Cookie { name, .. } => json!({ "kind": "cookie", "name": name }),
        Persistence::SourceIp { .. } => {
            json!({ "kind": "source_ip", "clients": c.persisted_clients() })
        }
    });
    json!({
        "name": c.name(),
        "health_checks": c.config.health.is_some(),
        "outlier_detection": c.config.outlier.is_some(),
        "panic_threshold": f64::from(policy.panic_threshold_milli) / 1000.0,
        "panic": c.panicking(now),
        "slow_start": format_duration(c.config.slow_start),
        "priority_threshold": f64::from(c.config.priority_threshold) / 1000.0,
        "local_zone": c.config.local_zone,
        // Priority groups taking traffic now (counted from the first), and whether only the
        // local zone does; absent when the cluster has one group and no zone preference.
        "priority_groups": c.placement().map(|p| p.groups()),
        "priority_groups_in_use": scope.map(|s| s.max_rank + 1),
        "local_zone_only": scope.map(|s| s.local_only),
        "persistence": persistence,
        "backends": backends,
    })
}

/// One backend of cluster `c`.
pub(crate) fn backend(c: &ClusterRuntime, b: &Backend) -> Value {
    let s = &b.stats;
    let admin = b.admin_state();
    let active = b.active();
    let effective = c.effective_weight(b);
    let now = now_ns();
    let ramp = ramp_milli(b.ready_since(), now, c.policy().slow_start_ns);
    let entry = c.config.backends.iter().find(|e| e.address == b.address);
    let ejected = b.ejected_at(now);
    let until = b.stats.outlier.until_ns();
    json!({
        "address": b.address.to_string(),
        "weight": b.weight(),
        "config_weight": b.config_weight(),
        "weight_override": b.weight_override(),
        "effective_weight": effective,
        "warming": ramp < 1000,
        "health": b.health().as_str(),
        "ejected": ejected,
        "ejection_remaining_ms": ejected.then(|| until.saturating_sub(now) / 1_000_000),
        "ejections": s.ejections.load(Relaxed),
        "zone": entry.and_then(|e| e.zone.as_deref()),
        "priority": entry.map_or(0, |e| e.priority),
        "admin_state": admin.as_str(),
        "eligible": b.eligible_at(now),
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
        (AdminState::Enabled, Health::Up) if b.ejected_at(now_ns()) => "ejected",
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
        assert_eq!(
            (b[0]["ejected"].clone(), b[0]["ejections"].clone()),
            (json!(false), json!(0))
        );
        assert_eq!(
            (b[0]["zone"].clone(), b[0]["priority"].clone()),
            (Value::Null, json!(0))
        );
        assert_eq!(app["priority_groups"], Value::Null);
        assert_eq!(app["persistence"], Value::Null);
    }

    #[test]
    fn shows_labels_placement_ejection_and_persistence() {
        use fulcrum_balance::outlier::Outcome;
        let text = testutil::CONFIG.replace(
            r#"backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 3 }]"#,
            "local_zone = \"a\"\nbackends = [{ address = \"127.0.0.1:9001\", zone = \"a\" }, \
             { address = \"127.0.0.1:9002\", zone = \"b\", priority = 1 }]\n\
             [cluster.outlier]\nconsecutive_5xx = 1\nmax_ejected = 0.5\n\
             [cluster.persistence]\nkind = \"source_ip\"\n",
        );
        let snapshot = std::sync::Arc::new(fulcrum_proxy::Snapshot::build(
            testutil::config(&text),
            None,
        ));
        let c = &snapshot.clusters[0];
        let doc = document(&testutil::view(&snapshot));
        let app = &doc["clusters"][0];
        assert_eq!(app["local_zone"], "a");
        assert_eq!(app["priority_groups"], 2);
        assert_eq!(app["priority_groups_in_use"], 1);
        assert_eq!(app["local_zone_only"], true);
        assert_eq!(
            app["persistence"],
            json!({ "kind": "source_ip", "clients": 0 })
        );
        assert_eq!(app["backends"][1]["zone"], "b");
        assert_eq!(app["backends"][1]["priority"], 1);
        c.report(0, Outcome::Status(500));
        let doc = document(&testutil::view(&snapshot));
        let app = &doc["clusters"][0];
        let b0 = &app["backends"][0];
        assert_eq!(
            (b0["ejected"].clone(), b0["ejections"].clone()),
            (json!(true), json!(1))
        );
        assert!(b0["ejection_remaining_ms"].as_u64().unwrap() > 29_000);
        assert_eq!(b0["eligible"], false);
        assert_eq!(state_word(&c.backends[0]), "ejected");
        assert_eq!(app["priority_groups_in_use"], 2, "the backup took over");
    }
}
