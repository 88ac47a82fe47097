//! `/metrics`: the data plane's counters in Prometheus / OpenMetrics text.
//!
//! Nothing is registered ahead of time. Each scrape builds a throw-away `Registry` holding one
//! [`Collector`] over the [`View`] taken for that request, and the collector reads the live
//! atomics while it encodes. Counters therefore survive reloads exactly as the data plane keeps
//! them (a listener or backend kept across a reload keeps counting), and a listener or backend
//! that leaves the config leaves the output.

use crate::view::View;
use fulcrum_balance::{AdminState, Backend, Health};
use fulcrum_proxy::{ClusterLoad, ListenerStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

/// The exposition format of one scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Prometheus text format 0.0.4: what curl and most tools get.
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers whose `Accept` header asks for it (Prometheus does).
    OpenMetrics,
}

impl Format {
    /// Picks the format from a request's `Accept` header.
    pub(crate) fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Encodes every metric of `view` in `format`.
pub(crate) fn encode(view: View, format: Format) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ViewCollector(view)));
    let mut out = String::new();
    match format {
        Format::Prometheus => prometheus_text::encode(&mut out, &registry)?,
        Format::OpenMetrics => text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Kind {
    /// Monotonic; the encoder appends `_total` to the name.
    Counter,
    Gauge,
}

type Metric<T> = (&'static str, &'static str, Kind, fn(&T) -> u64);

const PROCESS: [Metric<View>; 4] = [
    (
        "fulcrum_reloads",
        "Configuration reloads applied.",
        Kind::Counter,
        |v| v.reloads,
    ),
    (
        "fulcrum_reload_failures",
        "Configuration reloads rejected; the previous configuration kept serving.",
        Kind::Counter,
        |v| v.reload_failures,
    ),
    (
        "fulcrum_config_generation",
        "Generation of the running configuration; the first is 1 and each applied reload adds 1.",
        Kind::Gauge,
        |v| v.snapshot.generation,
    ),
    (
        "fulcrum_workers",
        "Data-plane worker threads.",
        Kind::Gauge,
        |v| v.workers as u64,
    ),
];

const LISTENER: [Metric<ListenerStats>; 12] = [
    (
        "fulcrum_listener_connections",
        "Client connections accepted by the listener.",
        Kind::Counter,
        |s| s.accepted.load(Relaxed),
    ),
    (
        "fulcrum_listener_connections_active",
        "Client connections open on the listener now.",
        Kind::Gauge,
        |s| s.active.load(Relaxed),
    ),
    (
        "fulcrum_listener_bytes_in",
        "Bytes read from clients.",
        Kind::Counter,
        |s| s.bytes_in.load(Relaxed),
    ),
    (
        "fulcrum_listener_bytes_out",
        "Bytes written to clients.",
        Kind::Counter,
        |s| s.bytes_out.load(Relaxed),
    ),
    (
        "fulcrum_listener_no_backend",
        "Client connections closed because no backend could be reached.",
        Kind::Counter,
        |s| s.no_backend.load(Relaxed),
    ),
    (
        "fulcrum_listener_accept_exhausted",
        "Times accept failed for lack of file descriptors or memory and the listener backed off.",
        Kind::Counter,
        |s| s.accept_exhausted.load(Relaxed),
    ),
    (
        "fulcrum_listener_limit_reached",
        "Times the listener reached max_connections and paused accepting.",
        Kind::Counter,
        |s| s.limit_reached.load(Relaxed),
    ),
    (
        "fulcrum_listener_tls_handshake_errors",
        "TLS handshakes that failed (garbage, timeout, no common protocol, bad client \
         certificate) and ClientHellos that SNI passthrough refused.",
        Kind::Counter,
        |s| s.tls_handshake_errors.load(Relaxed),
    ),
    (
        "fulcrum_listener_tls_errors",
        "TLS clients that misbehaved after the handshake (records that do not authenticate or \
         are malformed, renegotiation attempts).",
        Kind::Counter,
        |s| s.tls_errors.load(Relaxed),
    ),
    (
        "fulcrum_listener_proxy_header_errors",
        "Client connections closed for a bad or missing PROXY protocol header.",
        Kind::Counter,
        |s| s.proxy_header_errors.load(Relaxed),
    ),
    (
        "fulcrum_listener_h2_violations",
        "HTTP/2 client connections ended for misbehaviour (the flood guard, or the HTTP/2 \
         library's own GOAWAY for a protocol error or rapid reset).",
        Kind::Counter,
        |s| s.h2_violations.load(Relaxed),
    ),
    (
        "fulcrum_listener_requests",
        "HTTP requests received (heads parsed or refused).",
        Kind::Counter,
        |s| s.requests.load(Relaxed),
    ),
];

/// Responses a listener sent, by status class (`class` = 1xx .. 5xx).
const RESPONSES: (&str, &str) = (
    "fulcrum_listener_responses",
    "HTTP responses sent to clients, by status class.",
);
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

const BACKEND: [Metric<Backend>; 12] = [
    (
        "fulcrum_backend_connections",
        "Connections established to the backend.",
        Kind::Counter,
        |b| b.stats.connections.load(Relaxed),
    ),
    (
        "fulcrum_backend_connections_active",
        "Connections open to the backend now.",
        Kind::Gauge,
        |b| b.stats.active.load(Relaxed),
    ),
    (
        "fulcrum_backend_connect_errors",
        "Connect attempts to the backend that failed (refused, unreachable, timed out).",
        Kind::Counter,
        |b| b.stats.connect_errors.load(Relaxed),
    ),
    (
        "fulcrum_backend_bytes_sent",
        "Bytes sent to the backend (client to backend).",
        Kind::Counter,
        |b| b.stats.bytes_sent.load(Relaxed),
    ),
    (
        "fulcrum_backend_bytes_received",
        "Bytes received from the backend (backend to client).",
        Kind::Counter,
        |b| b.stats.bytes_received.load(Relaxed),
    ),
    (
        "fulcrum_backend_weight",
        "Current weight of the backend: its relative share of new connections.",
        Kind::Gauge,
        |b| u64::from(b.weight()),
    ),
    (
        "fulcrum_backend_healthy",
        "1 while the backend passes its health checks (or has none), 0 while it is down.",
        Kind::Gauge,
        |b| u64::from(b.health() == Health::Up),
    ),
    (
        "fulcrum_backend_health_checks",
        "Active health checks run against the backend.",
        Kind::Counter,
        |b| b.stats.health_checks.load(Relaxed),
    ),
    (
        "fulcrum_backend_health_check_failures",
        "Active health checks of the backend that failed.",
        Kind::Counter,
        |b| b.stats.health_failures.load(Relaxed),
    ),
    (
        "fulcrum_backend_health_changes",
        "Times the backend's health changed (up to down or down to up).",
        Kind::Counter,
        |b| b.stats.health_changes.load(Relaxed),
    ),
    (
        "fulcrum_backend_ejections",
        "Times outlier detection ejected the backend.",
        Kind::Counter,
        |b| b.stats.ejections.load(Relaxed),
    ),
    (
        "fulcrum_backend_ejected",
        "1 while outlier detection has the backend ejected, 0 otherwise.",
        Kind::Gauge,
        |b| u64::from(b.ejected_at(fulcrum_proxy::health::now_ns())),
    ),
];

const ADMIN_STATE: (&str, &str) = (
    "fulcrum_backend_admin_state",
    "1 for the backend's admin state (enabled, disabled, draining), 0 for the others.",
);

const PANIC: (&str, &str) = (
    "fulcrum_cluster_panic",
    "1 while the cluster is in panic mode (too few healthy backends: all enabled ones are used).",
);

/// Reads the counters of one [`View`] while the registry encodes it.
#[derive(Debug)]
struct ViewCollector(View);

impl Collector for ViewCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let view = &self.0;
        for (name, help, kind, read) in PROCESS {
            let mut metric = enc.encode_descriptor(name, help, None, metric_type(kind))?;
            sample(&mut metric, kind, read(view))?;
        }

        let listeners = &view.snapshot.listeners;
        for (name, help, kind, read) in LISTENER {
            let samples = listeners
                .iter()
                .map(|l| ([("listener", l.config.name.as_str())], read(&l.stats)));
            family(&mut enc, name, help, kind, samples)?;
        }
        let responses = listeners.iter().flat_map(|l| {
            CLASSES.iter().zip(&l.stats.responses).map(|(class, n)| {
                let labels = [("listener", l.config.name.as_str()), ("class", *class)];
                (labels, n.load(Relaxed))
            })
        });
        family(&mut enc, RESPONSES.0, RESPONSES.1, Kind::Counter, responses)?;

        // The address is formatted once per scrape, not once per metric.
        let backends: Vec<(&str, String, &Backend)> = view
            .snapshot
            .clusters
            .iter()
            .flat_map(|c| {
                c.backends
                    .iter()
                    .map(move |b| (c.name(), b.address.to_string(), &**b))
            })
            .collect();
        for (name, help, kind, read) in BACKEND {
            let samples = backends.iter().map(|(cluster, address, backend)| {
                (
                    [("cluster", *cluster), ("backend", address.as_str())],
                    read(backend),
                )
            });
            family(&mut enc, name, help, kind, samples)?;
        }
        let states = backends.iter().flat_map(|(cluster, address, backend)| {
            let now = backend.admin_state();
            AdminState::ALL.iter().map(move |&state| {
                let labels = [
                    ("cluster", *cluster),
                    ("backend", address.as_str()),
                    ("state", state.as_str()),
                ];
                (labels, u64::from(state == now))
            })
        });
        family(&mut enc, ADMIN_STATE.0, ADMIN_STATE.1, Kind::Gauge, states)?;

        let now = fulcrum_proxy::health::now_ns();
        let panics = view
            .snapshot
            .clusters
            .iter()
            .map(|c| ([("cluster", c.name())], u64::from(c.panicking(now))));
        family(&mut enc, PANIC.0, PANIC.1, Kind::Gauge, panics)?;

        for (name, help, kind, read) in CLUSTER_LOAD {
            let samples = view
                .snapshot
                .loads
                .iter()
                .map(|(cluster, load)| ([("cluster", cluster.as_str())], read(load)));
            family(&mut enc, name, help, kind, samples)?;
        }
        Ok(())
    }
}

/// Per-cluster load: what the circuit breakers and the retry budget read.
const CLUSTER_LOAD: [Metric<ClusterLoad>; 7] = [
    (
        "fulcrum_cluster_requests_active",
        "Requests (or TCP connections) to the cluster in flight.",
        Kind::Gauge,
        |l| l.requests.load(Relaxed),
    ),
    (
        "fulcrum_cluster_requests_pending",
        "Requests waiting for a backend connection.",
        Kind::Gauge,
        |l| l.pending.load(Relaxed),
    ),
    (
        "fulcrum_cluster_connections_active",
        "Backend connections open, idle pooled ones included.",
        Kind::Gauge,
        |l| l.connections.load(Relaxed),
    ),
    (
        "fulcrum_cluster_retries_active",
        "Retries in flight.",
        Kind::Gauge,
        |l| l.retries.load(Relaxed),
    ),
    (
        "fulcrum_cluster_circuit_rejected",
        "Requests failed fast with 503 because a [cluster.limits] limit was reached.",
        Kind::Counter,
        |l| l.rejected.load(Relaxed),
    ),
    (
        "fulcrum_cluster_retries",
        "Retries made.",
        Kind::Counter,
        |l| l.retries_total.load(Relaxed),
    ),
    (
        "fulcrum_cluster_retries_denied",
        "Retries not made because the retry budget was spent.",
        Kind::Counter,
        |l| l.retries_denied.load(Relaxed),
    ),
];

/// Encodes one metric family: a descriptor, then one sample per label set.
fn family<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: Kind,
    samples: impl Iterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, metric_type(kind))?;
    for (labels, value) in samples {
        sample(&mut metric.encode_family(&labels)?, kind, value)?;
    }
    Ok(())
}

fn sample(
    metric: &mut prometheus_client::encoding::MetricEncoder,
    kind: Kind,
    value: u64,
) -> fmt::Result {
    match kind {
        Kind::Counter => metric.encode_counter::<NoLabelSet, u64, u64>(&value, None),
        Kind::Gauge => metric.encode_gauge(&value),
    }
}

fn metric_type(kind: Kind) -> MetricType {
    match kind {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;
    use fulcrum_proxy::Snapshot;
    use std::sync::Arc;

    fn bump(snapshot: &Snapshot) {
        let web = &snapshot.listeners[0].stats;
        web.accepted.fetch_add(3, Relaxed);
        web.active.fetch_add(1, Relaxed);
        web.bytes_in.fetch_add(1_000, Relaxed);
        web.bytes_out.fetch_add(2_000, Relaxed);
        web.no_backend.fetch_add(1, Relaxed);
        let b = &snapshot.clusters[0].backends[0].stats;
        b.connections.fetch_add(2, Relaxed);
        b.active.fetch_add(1, Relaxed);
        b.connect_errors.fetch_add(1, Relaxed);
        b.bytes_sent.fetch_add(100, Relaxed);
        b.bytes_received.fetch_add(200, Relaxed);
        b.health_checks.fetch_add(5, Relaxed);
        b.health_failures.fetch_add(3, Relaxed);
        b.health_changes.fetch_add(1, Relaxed);
        let backends = &snapshot.clusters[0].backends;
        backends[0].set_health(Health::Down, 0);
        backends[1].set_admin_state(AdminState::Draining, 0);
    }

    fn assert_lines(out: &str, lines: &[&str]) {
        for line in lines {
            assert!(
                out.lines().any(|l| l == *line),
                "missing line {line:?} in:\n{out}"
            );
        }
    }

    #[test]
    fn prometheus_text_has_every_value_and_label() {
        let snapshot = testutil::snapshot();
        bump(&snapshot);
        let out = encode(testutil::view(&snapshot), Format::Prometheus).unwrap();
        assert_lines(
            &out,
            &[
                "fulcrum_reloads_total 4",
                "fulcrum_reload_failures_total 1",
                "fulcrum_config_generation 1",
                "fulcrum_workers 2",
                r#"fulcrum_listener_connections_total{listener="web"} 3"#,
                r#"fulcrum_listener_connections_active{listener="web"} 1"#,
                r#"fulcrum_listener_bytes_in_total{listener="web"} 1000"#,
                r#"fulcrum_listener_bytes_out_total{listener="web"} 2000"#,
                r#"fulcrum_listener_no_backend_total{listener="web"} 1"#,
                r#"fulcrum_listener_accept_exhausted_total{listener="web"} 0"#,
                r#"fulcrum_listener_limit_reached_total{listener="web"} 0"#,
                r#"fulcrum_backend_connections_total{cluster="app",backend="127.0.0.1:9001"} 2"#,
                r#"fulcrum_backend_connections_active{cluster="app",backend="127.0.0.1:9001"} 1"#,
                r#"fulcrum_backend_connect_errors_total{cluster="app",backend="127.0.0.1:9001"} 1"#,
                r#"fulcrum_backend_bytes_sent_total{cluster="app",backend="127.0.0.1:9001"} 100"#,
                r#"fulcrum_backend_bytes_received_total{cluster="app",backend="127.0.0.1:9001"} 200"#,
                r#"fulcrum_backend_connections_total{cluster="app",backend="127.0.0.1:9002"} 0"#,
                r#"fulcrum_backend_weight{cluster="app",backend="127.0.0.1:9001"} 1"#,
                r#"fulcrum_backend_weight{cluster="app",backend="127.0.0.1:9002"} 3"#,
                r#"fulcrum_backend_healthy{cluster="app",backend="127.0.0.1:9001"} 0"#,
                r#"fulcrum_backend_healthy{cluster="app",backend="127.0.0.1:9002"} 1"#,
                r#"fulcrum_backend_health_checks_total{cluster="app",backend="127.0.0.1:9001"} 5"#,
                r#"fulcrum_backend_health_check_failures_total{cluster="app",backend="127.0.0.1:9001"} 3"#,
                r#"fulcrum_backend_health_changes_total{cluster="app",backend="127.0.0.1:9001"} 1"#,
                r#"fulcrum_backend_admin_state{cluster="app",backend="127.0.0.1:9002",state="enabled"} 0"#,
                r#"fulcrum_backend_admin_state{cluster="app",backend="127.0.0.1:9002",state="draining"} 1"#,
                r#"fulcrum_backend_admin_state{cluster="app",backend="127.0.0.1:9001",state="enabled"} 1"#,
                r#"fulcrum_cluster_panic{cluster="app"} 0"#,
                r#"fulcrum_backend_ejections_total{cluster="app",backend="127.0.0.1:9001"} 0"#,
                r#"fulcrum_backend_ejected{cluster="app",backend="127.0.0.1:9001"} 0"#,
                "# TYPE fulcrum_backend_admin_state gauge",
                "# TYPE fulcrum_cluster_panic gauge",
                "# TYPE fulcrum_listener_connections_total counter",
                "# TYPE fulcrum_listener_connections_active gauge",
                "# TYPE fulcrum_backend_weight gauge",
            ],
        );
        assert!(!out.contains("# EOF"));
    }

    #[test]
    fn every_metric_has_help_and_type() {
        let snapshot = testutil::snapshot();
        let out = encode(testutil::view(&snapshot), Format::Prometheus).unwrap();
        let names = PROCESS.iter().map(|m| (m.0, m.2));
        let names = names.chain(LISTENER.iter().map(|m| (m.0, m.2)));
        let names = names.chain(BACKEND.iter().map(|m| (m.0, m.2)));
        for (name, kind) in names {
            let (full, ty) = match kind {
                Kind::Counter => (format!("{name}_total"), "counter"),
                Kind::Gauge => (name.to_string(), "gauge"),
            };
            assert!(
                out.contains(&format!("# HELP {full} ")),
                "no HELP for {full}"
            );
            assert_lines(&out, &[&format!("# TYPE {full} {ty}")]);
        }
    }

    #[test]
    fn openmetrics_text_ends_with_eof() {
        let snapshot = testutil::snapshot();
        bump(&snapshot);
        let out = encode(testutil::view(&snapshot), Format::OpenMetrics).unwrap();
        assert_lines(
            &out,
            &[
                "# TYPE fulcrum_listener_connections counter",
                r#"fulcrum_listener_connections_total{listener="web"} 3"#,
                r#"fulcrum_backend_weight{cluster="app",backend="127.0.0.1:9002"} 3"#,
            ],
        );
        assert!(out.ends_with("# EOF\n"), "{out}");
    }

    #[test]
    fn counters_follow_the_snapshot_across_a_reload() {
        let first = testutil::snapshot();
        bump(&first);
        let reloaded = testutil::CONFIG
            .replace(r#""127.0.0.1:9001", "#, "")
            .replace("weight = 3", "weight = 5")
            .replace(r#"name = "web""#, r#"name = "web2""#);
        let second = Arc::new(Snapshot::build(testutil::config(&reloaded), Some(&first)));
        second.clusters[0].backends[0]
            .stats
            .connections
            .fetch_add(7, Relaxed);
        let out = encode(testutil::view(&second), Format::Prometheus).unwrap();
        assert_lines(
            &out,
            &[
                "fulcrum_config_generation 2",
                r#"fulcrum_listener_connections_total{listener="web2"} 0"#,
                r#"fulcrum_backend_connections_total{cluster="app",backend="127.0.0.1:9002"} 7"#,
                r#"fulcrum_backend_weight{cluster="app",backend="127.0.0.1:9002"} 5"#,
            ],
        );
        assert!(
            !out.contains("9001"),
            "a removed backend stays in the output:\n{out}"
        );
        assert!(
            !out.contains(r#"listener="web""#),
            "a removed listener stays:\n{out}"
        );
    }

    #[test]
    fn format_follows_accept() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        let prometheus =
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert!(
            Format::Prometheus
                .content_type()
                .starts_with("text/plain; version=0.0.4")
        );
        assert!(
            Format::OpenMetrics
                .content_type()
                .starts_with("application/openmetrics-text")
        );
    }
}
