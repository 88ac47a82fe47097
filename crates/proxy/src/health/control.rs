//! Runtime control of one backend, for the admin API: disable, enable, drain, set or clear
//! its weight. Changes go to the shared [`Backend`] (and, for a weight, rebuild the cluster's
//! selector); they take effect at the next pick in every worker, without a reload.
//!
//! The state lives on the `Backend`, which a reload keeps while the backend's address stays
//! in the cluster, so it survives reloads; a reload that changes the backend's entry (weight,
//! zone, priority) resets it (see [`crate::ClusterRuntime::build`]).

use crate::Snapshot;
use fulcrum_balance::{AdminState, Backend};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;

/// Weights the admin API accepts (the same range as the config file's).
pub const WEIGHTS: RangeInclusive<u32> = 1..=1000;

/// What to do to a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Take new connections and requests again (when healthy).
    Enable,
    /// Take nothing new; open connections go on.
    Disable,
    /// Take nothing new and let open connections finish (watch `active` reach 0).
    Drain,
    /// Replace the configured weight (`Some`, in [`WEIGHTS`]) or go back to it (`None`).
    Weight(Option<u32>),
}

impl Action {
    fn describe(self) -> String {
        match self {
            Action::Enable => "enabled".into(),
            Action::Disable => "disabled".into(),
            Action::Drain => "draining".into(),
            Action::Weight(Some(w)) => format!("weight set to {w}"),
            Action::Weight(None) => "weight back to the configured one".into(),
        }
    }
}

/// Why an action was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no cluster `{0}`")]
    UnknownCluster(String),
    #[error("no backend {1} in cluster `{0}`")]
    UnknownBackend(String, SocketAddr),
    #[error("weight {0} is out of range 1..=1000")]
    BadWeight(u32),
}

/// Applies `action` to the backend at `address` of cluster `cluster` in `snapshot` (the
/// current one), logs it and returns the backend.
pub fn apply<'a>(
    snapshot: &'a Snapshot,
    cluster: &str,
    address: SocketAddr,
    action: Action,
) -> Result<&'a Arc<Backend>, ControlError> {
    let c = snapshot
        .cluster(cluster)
        .ok_or_else(|| ControlError::UnknownCluster(cluster.to_string()))?;
    let (_, backend) = c
        .backend(address)
        .ok_or_else(|| ControlError::UnknownBackend(cluster.to_string(), address))?;
    let now = super::now_ns();
    match action {
        Action::Enable => {
            backend.set_admin_state(AdminState::Enabled, now);
        }
        Action::Disable => {
            backend.set_admin_state(AdminState::Disabled, now);
        }
        Action::Drain => {
            backend.set_admin_state(AdminState::Draining, now);
        }
        Action::Weight(Some(w)) if !WEIGHTS.contains(&w) => return Err(ControlError::BadWeight(w)),
        Action::Weight(w) => c.set_weight_override(backend, w),
    }
    tracing::info!(
        cluster,
        backend = %address,
        active = backend.active(),
        "admin: backend {}",
        action.describe()
    );
    Ok(backend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_balance::Health;

    fn snapshot() -> Snapshot {
        let text = r#"
[[cluster]]
name = "app"
balance = "weighted_round_robin"
backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 3 }]
"#;
        Snapshot::build(fulcrum_config::parse(text, "test").unwrap(), None)
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn actions_change_what_picks_see() {
        let s = snapshot();
        let c = s.cluster("app").unwrap();
        apply(&s, "app", addr(9002), Action::Drain).unwrap();
        assert!((0..20).all(|_| c.pick(&[], None) == Some(0)));
        apply(&s, "app", addr(9001), Action::Disable).unwrap();
        assert_eq!(c.pick(&[], None), None);
        apply(&s, "app", addr(9002), Action::Enable).unwrap();
        assert_eq!(c.backends[1].admin_state(), AdminState::Enabled);
        apply(&s, "app", addr(9001), Action::Enable).unwrap();
        apply(&s, "app", addr(9001), Action::Weight(Some(3))).unwrap();
        let picks: Vec<_> = (0..600).filter_map(|_| c.pick(&[], None)).collect();
        let first = picks.iter().filter(|&&i| i == 0).count();
        assert_eq!(first, 300, "weights 3:3 after the override");
        apply(&s, "app", addr(9001), Action::Weight(None)).unwrap();
        assert_eq!(c.backends[0].weight(), 1);
    }

    #[test]
    fn unknown_names_and_bad_weights_are_refused() {
        let s = snapshot();
        assert_eq!(
            apply(&s, "nope", addr(9001), Action::Disable).unwrap_err(),
            ControlError::UnknownCluster("nope".into())
        );
        assert_eq!(
            apply(&s, "app", addr(1), Action::Disable).unwrap_err(),
            ControlError::UnknownBackend("app".into(), addr(1))
        );
        for w in [0, 1001] {
            assert_eq!(
                apply(&s, "app", addr(9001), Action::Weight(Some(w))).unwrap_err(),
                ControlError::BadWeight(w)
            );
        }
    }

    #[test]
    fn admin_state_survives_a_reload_unless_the_entry_changes() {
        let s = snapshot();
        apply(&s, "app", addr(9001), Action::Drain).unwrap();
        apply(&s, "app", addr(9002), Action::Weight(Some(7))).unwrap();
        s.clusters[0].backends[0].set_health(Health::Down, 0);
        let text = r#"
[[cluster]]
name = "app"
balance = "round_robin"
backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 4 }, "127.0.0.1:9003"]
"#;
        let next = Snapshot::build(fulcrum_config::parse(text, "test").unwrap(), Some(&s));
        let b = &next.clusters[0].backends;
        assert_eq!(b[0].admin_state(), AdminState::Draining, "entry unchanged");
        assert_eq!(b[0].health(), Health::Down, "health is kept too");
        assert_eq!(
            (b[1].weight(), b[1].weight_override()),
            (4, None),
            "entry changed"
        );
        assert!(
            b[2].ready_since().is_some(),
            "a backend added by a reload slow-starts"
        );
        assert!(b[0].ready_since().is_none());
    }
}
