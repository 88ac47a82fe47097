//! Configs that must load, and the model they must produce.

use fulcrum_config::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The example config from the config-crate issue, verbatim (comments included).
const ISSUE_EXAMPLE: &str = r#"
[admin]                      # optional; absent = no admin listener
listen = "127.0.0.1:9090"    # default when [admin] is present

[runtime]                    # optional
workers = 2                  # integer 1..=1024; absent = one per CPU in the process affinity mask (model: None)
pin_workers = true           # default true
shutdown_timeout = "30s"     # graceful stop deadline, default 30s
relay = "splice"             # "splice" (default) | "copy"
buffer_size = "64KiB"        # default 64KiB, allowed 4KiB..=16MiB

[log]                        # optional
level = "info"               # tracing filter string, default "info", must be non-empty
connections = true           # one line per closed connection, default true
format = "text"              # "text" (default) | "json"

[[listener]]
name = "db"                  # required, unique, [A-Za-z0-9_.-]{1,64}
bind = "127.0.0.1:5433"      # required, ip:port ("[::1]:5433" for IPv6)
protocol = "tcp"             # default "tcp"
cluster = "pg"               # required, must name a [[cluster]]
backlog = 1024               # default 1024, 1..=65535
max_connections = 10000      # default 10000, >= 1
idle_timeout = "10m"         # default 10m, > 0
tcp_nodelay = true           # default true
tcp_keepalive = "60s"        # default "60s"; `false` turns keepalive off

[[cluster]]
name = "pg"                  # required, unique, same charset as listener names
balance = "round_robin"      # "round_robin" (default) | "weighted_round_robin" | "least_conn"
connect_timeout = "2s"       # default 2s, > 0
connect_attempts = 3         # default 3, 1..=16
backends = ["127.0.0.1:5432", { address = "10.0.0.2:5432", weight = 3 }]
"#;

fn pg_listener() -> ListenerConfig {
    ListenerConfig {
        name: "db".into(),
        bind: addr("127.0.0.1:5433"),
        protocol: Protocol::Tcp,
        cluster: "pg".into(),
        backlog: 1024,
        max_connections: 10_000,
        idle_timeout: secs(600),
        tcp_nodelay: true,
        tcp_keepalive: Some(secs(60)),
    }
}

fn pg_cluster() -> ClusterConfig {
    ClusterConfig {
        name: "pg".into(),
        balance: Balance::RoundRobin,
        connect_timeout: secs(2),
        connect_attempts: 3,
        backends: vec![
            BackendConfig {
                address: addr("127.0.0.1:5432"),
                weight: 1,
            },
            BackendConfig {
                address: addr("10.0.0.2:5432"),
                weight: 3,
            },
        ],
    }
}

#[test]
fn issue_example_parses_into_the_expected_model() {
    let cfg = parse(ISSUE_EXAMPLE, "issue.toml").unwrap();
    let expected = Config {
        source: None,
        admin: Some(AdminConfig {
            listen: addr("127.0.0.1:9090"),
        }),
        runtime: RuntimeConfig {
            workers: Some(2),
            pin_workers: true,
            shutdown_timeout: secs(30),
            relay: RelayMode::Splice,
            buffer_size: 65536,
        },
        log: LogConfig {
            level: "info".into(),
            connections: true,
            format: LogFormat::Text,
        },
        listeners: vec![pg_listener()],
        clusters: vec![pg_cluster()],
    };
    assert_eq!(cfg, expected);
}

#[test]
fn minimal_config_gets_every_default() {
    let text = r#"
[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432", { address = "10.0.0.2:5432", weight = 3 }]
"#;
    let cfg = parse(text, "min.toml").unwrap();
    assert_eq!(cfg.admin, None);
    assert_eq!(cfg.runtime, RuntimeConfig::default());
    assert_eq!(cfg.runtime.workers, None);
    assert!(cfg.runtime.pin_workers);
    assert_eq!(cfg.runtime.shutdown_timeout, defaults::SHUTDOWN_TIMEOUT);
    assert_eq!(cfg.runtime.relay, RelayMode::Splice);
    assert_eq!(cfg.runtime.buffer_size, 64 * 1024);
    assert_eq!(cfg.log, LogConfig::default());
    assert_eq!(cfg.log.level, "info");
    assert_eq!(cfg.listeners, vec![pg_listener()]);
    assert_eq!(cfg.clusters, vec![pg_cluster()]);
}

#[test]
fn every_non_default_value_round_trips() {
    let text = r#"
[admin]

[runtime]
workers = 1024
pin_workers = false
shutdown_timeout = "0s"
relay = "copy"
buffer_size = 16777216

[log]
level = "fulcrum_proxy=debug,info"
connections = false
format = "json"

[[listener]]
name = "v6.listener-1_x"
bind = "[::1]:443"
cluster = "web"
backlog = 65535
max_connections = 1
idle_timeout = "1h30m"
tcp_nodelay = false
tcp_keepalive = false

[[listener]]
name = "any"
bind = "0.0.0.0:8080"
cluster = "web"
tcp_keepalive = "2h"

[[listener]]
name = "any6"
bind = "[::]:8080"
cluster = "web"
tcp_keepalive = true

[[cluster]]
name = "web"
balance = "least_conn"
connect_timeout = "250ms"
connect_attempts = 16
backends = [{ address = "[2001:db8::1]:80", weight = 1000 }, "192.0.2.1:80"]

[[cluster]]
name = "unused"
balance = "weighted_round_robin"
backends = ["192.0.2.1:80"]
"#;
    let cfg = parse(text, "full.toml").unwrap();
    assert_eq!(
        cfg.admin,
        Some(AdminConfig {
            listen: defaults::ADMIN_LISTEN
        })
    );
    assert_eq!(
        cfg.runtime,
        RuntimeConfig {
            workers: Some(1024),
            pin_workers: false,
            shutdown_timeout: Duration::ZERO,
            relay: RelayMode::Copy,
            buffer_size: 16 << 20,
        }
    );
    assert_eq!(
        cfg.log,
        LogConfig {
            level: "fulcrum_proxy=debug,info".into(),
            connections: false,
            format: LogFormat::Json
        }
    );
    assert_eq!(
        cfg.listeners[0],
        ListenerConfig {
            name: "v6.listener-1_x".into(),
            bind: addr("[::1]:443"),
            protocol: Protocol::Tcp,
            cluster: "web".into(),
            backlog: 65535,
            max_connections: 1,
            idle_timeout: secs(5400),
            tcp_nodelay: false,
            tcp_keepalive: None,
        }
    );
    assert_eq!(cfg.listeners[1].tcp_keepalive, Some(secs(7200)));
    assert_eq!(
        cfg.listeners[2].tcp_keepalive,
        Some(defaults::TCP_KEEPALIVE)
    );
    assert_eq!(
        cfg.clusters[0],
        ClusterConfig {
            name: "web".into(),
            balance: Balance::LeastConn,
            connect_timeout: Duration::from_millis(250),
            connect_attempts: 16,
            backends: vec![
                BackendConfig {
                    address: addr("[2001:db8::1]:80"),
                    weight: 1000
                },
                BackendConfig {
                    address: addr("192.0.2.1:80"),
                    weight: 1
                },
            ],
        }
    );
    assert_eq!(cfg.clusters[1].balance, Balance::WeightedRoundRobin);
    assert_eq!(cfg.cluster("unused").unwrap().backends.len(), 1);
    assert_eq!(cfg.listener("any").unwrap().bind, addr("0.0.0.0:8080"));
}

#[test]
fn sizes_accept_integers_and_units() {
    for (value, bytes) in [
        ("4096", 4096),
        ("\"4KiB\"", 4096),
        ("\"64KB\"", 64_000),
        ("\"1MiB\"", 1 << 20),
    ] {
        let cfg = parse(&format!("[runtime]\nbuffer_size = {value}\n"), "t").unwrap();
        assert_eq!(cfg.runtime.buffer_size, bytes, "{value}");
    }
}

#[test]
fn empty_file_is_a_config_with_nothing_to_serve() {
    let cfg = parse("", "empty.toml").unwrap();
    assert!(cfg.listeners.is_empty() && cfg.clusters.is_empty() && cfg.admin.is_none());
}

#[test]
fn model_serializes_durations_as_human_strings() {
    let cfg = parse(ISSUE_EXAMPLE, "issue.toml").unwrap();
    let json = serde_json::to_value(&cfg).unwrap();
    assert_eq!(json["runtime"]["shutdown_timeout"], "30s");
    assert_eq!(json["runtime"]["relay"], "splice");
    assert_eq!(json["listeners"][0]["idle_timeout"], "10m");
    assert_eq!(json["listeners"][0]["tcp_keepalive"], "1m");
    assert_eq!(json["clusters"][0]["balance"], "round_robin");
}

#[test]
fn load_reads_a_file_and_records_its_path() {
    let dir = std::env::temp_dir().join(format!("fulcrum-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fulcrum.toml");
    std::fs::write(&path, ISSUE_EXAMPLE).unwrap();
    let cfg = load(&path).unwrap();
    assert_eq!(cfg.source.as_deref(), Some(path.as_path()));
    std::fs::write(&path, "[runtime]\nworkers = 0\n").unwrap();
    let err = load(&path).unwrap_err();
    assert_eq!(err.diagnostics()[0].origin, path.display().to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_reports_a_missing_file() {
    let err = load(std::path::Path::new("/nonexistent/fulcrum.toml")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.diagnostics().is_empty());
    assert_eq!(
        err.to_string(),
        "error: cannot read config file /nonexistent/fulcrum.toml: No such file or directory (os error 2)"
    );
    assert!(std::error::Error::source(&err).is_some());
}

/// Every ```toml block in docs/config.md is a complete config that loads.
#[test]
fn docs_examples_parse() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let mut blocks = 0;
    for block in doc.split("```toml\n").skip(1) {
        let text = block.split("```").next().unwrap();
        if let Err(e) = parse(text, "docs/config.md") {
            panic!("a docs/config.md example does not load:\n{e}");
        }
        blocks += 1;
    }
    assert!(blocks >= 1, "docs/config.md has no ```toml example");
}

/// The error example in docs/config.md is real output.
#[test]
fn docs_error_example_is_real() {
    let text = r#"[runtime]
workers = 2

[[listener]]
name = "db"
cluster = "pg"
bnd = "127.0.0.1:5433"

[[cluster]]
name = "pg"
balance = "weighted_round_robin"
connect_timeout = "2s"
connect_attempts = 3
backends = ["127.0.0.1:5432", { address = "10.0.0.2:5432", weight = -1 }]
"#;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let errors = doc.split("## Errors").nth(1).unwrap();
    let block = errors
        .split("```text\n")
        .nth(1)
        .unwrap()
        .split("\n```")
        .next()
        .unwrap();
    let err = parse(text, "/etc/fulcrum.toml").unwrap_err();
    assert_eq!(err.to_string(), block);
}
