//! Shared test fixtures: a snapshot built from real config text, without a running server.

use crate::view::{Source, View};
use fulcrum_proxy::Snapshot;
use std::sync::Arc;

pub(crate) const CONFIG: &str = r#"
[runtime]
workers = 2

[[listener]]
name = "web"
bind = "127.0.0.1:18080"
cluster = "app"

[[cluster]]
name = "app"
balance = "weighted_round_robin"
backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 3 }]
"#;

pub(crate) fn config(text: &str) -> fulcrum_config::Config {
    match fulcrum_config::parse(text, "test") {
        Ok(config) => config,
        Err(e) => panic!("test config does not parse:\n{e}"),
    }
}

pub(crate) fn snapshot() -> Arc<Snapshot> {
    Arc::new(Snapshot::build(config(CONFIG), None))
}

pub(crate) fn view(snapshot: &Arc<Snapshot>) -> View {
    View {
        snapshot: Arc::clone(snapshot),
        workers: 2,
        reloads: 4,
        reload_failures: 1,
    }
}

pub(crate) fn source(snapshot: &Arc<Snapshot>) -> Source {
    let snapshot = Arc::clone(snapshot);
    Arc::new(move || view(&snapshot))
}
