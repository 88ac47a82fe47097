//! What changed between two validated configs; drives reload.
//!
//! Listeners and clusters are matched by name: a name only in the new config is added, only in
//! the old one removed, in both with any field different changed. Sections are compared whole:
//! a listener's routes and HTTP settings are part of the listener, a cluster's health checks,
//! retries, limits and persistence part of the cluster.
//! `Config::source` (where the file was read from) is not part of the comparison.

use crate::model::Config;
use std::fmt;

/// The difference between a running config and a new one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigDiff {
    /// Listener names in the new config only, in new-config order.
    pub listeners_added: Vec<String>,
    /// Listener names in the old config only, in old-config order.
    pub listeners_removed: Vec<String>,
    /// Listener names in both whose settings differ, in new-config order.
    pub listeners_changed: Vec<String>,
    pub clusters_added: Vec<String>,
    pub clusters_removed: Vec<String>,
    pub clusters_changed: Vec<String>,
    /// Anything in `[runtime]` differs.
    pub runtime_changed: bool,
    /// Keys that changed but take effect only after a restart (`runtime.workers`,
    /// `runtime.pin_workers`); a reload keeps the running value and should log these.
    pub restart_required: Vec<&'static str>,
    /// `[admin]` was added, removed or changed.
    pub admin_changed: bool,
    pub log_changed: bool,
}

impl ConfigDiff {
    /// True when the two configs are equivalent (nothing to do on reload).
    pub fn is_empty(&self) -> bool {
        *self == ConfigDiff::default()
    }

    /// True when some change only takes effect after a restart.
    pub fn needs_restart(&self) -> bool {
        !self.restart_required.is_empty()
    }
}

/// Compares two validated configs.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let (listeners_added, listeners_removed, listeners_changed) =
        by_name(&old.listeners, &new.listeners, |l| &l.name);
    let (clusters_added, clusters_removed, clusters_changed) =
        by_name(&old.clusters, &new.clusters, |c| &c.name);
    let mut restart_required = Vec::new();
    if old.runtime.workers != new.runtime.workers {
        restart_required.push("runtime.workers");
    }
    if old.runtime.pin_workers != new.runtime.pin_workers {
        restart_required.push("runtime.pin_workers");
    }
    ConfigDiff {
        listeners_added,
        listeners_removed,
        listeners_changed,
        clusters_added,
        clusters_removed,
        clusters_changed,
        runtime_changed: old.runtime != new.runtime,
        restart_required,
        admin_changed: old.admin != new.admin,
        log_changed: old.log != new.log,
    }
}

type Changes = (Vec<String>, Vec<String>, Vec<String>);

/// (added, removed, changed) names between two lists of named items.
fn by_name<T: PartialEq>(old: &[T], new: &[T], name: impl Fn(&T) -> &String) -> Changes {
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for item in new {
        match old.iter().find(|o| name(o) == name(item)) {
            None => added.push(name(item).clone()),
            Some(o) if o != item => changed.push(name(item).clone()),
            Some(_) => {}
        }
    }
    let removed = (old.iter())
        .filter(|o| !new.iter().any(|n| name(n) == name(o)))
        .map(|o| name(o).clone())
        .collect();
    (added, removed, changed)
}

/// One line for a log: `listeners +web -db ~api; clusters ~pg; runtime; log` or `no changes`.
impl fmt::Display for ConfigDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no changes");
        }
        let mut parts = Vec::new();
        for (what, added, removed, changed) in [
            (
                "listeners",
                &self.listeners_added,
                &self.listeners_removed,
                &self.listeners_changed,
            ),
            (
                "clusters",
                &self.clusters_added,
                &self.clusters_removed,
                &self.clusters_changed,
            ),
        ] {
            let names: Vec<String> = (added.iter().map(|n| format!("+{n}")))
                .chain(removed.iter().map(|n| format!("-{n}")))
                .chain(changed.iter().map(|n| format!("~{n}")))
                .collect();
            if !names.is_empty() {
                parts.push(format!("{what} {}", names.join(" ")));
            }
        }
        for (changed, what) in [
            (self.runtime_changed, "runtime"),
            (self.admin_changed, "admin"),
            (self.log_changed, "log"),
        ] {
            if changed {
                parts.push(what.to_owned());
            }
        }
        if self.needs_restart() {
            parts.push(format!(
                "restart needed for {}",
                self.restart_required.join(", ")
            ));
        }
        f.write_str(&parts.join("; "))
    }
}
