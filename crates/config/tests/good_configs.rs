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
        proxy_protocol_from: vec![],
        http: None,
        tls: None,
        sni: None,
    }
}

fn backend(address: &str, weight: u32) -> BackendConfig {
    BackendConfig {
        address: addr(address),
        weight,
        zone: None,
        priority: 0,
    }
}

/// A cluster with every default but these.
fn cluster(name: &str, balance: Balance, backends: Vec<BackendConfig>) -> ClusterConfig {
    ClusterConfig {
        name: name.into(),
        balance,
        connect_timeout: secs(2),
        connect_attempts: 3,
        backends,
        hash_key: HashKey::ClientIp,
        hash_balance_factor: None,
        protocol: UpstreamProtocol::Http1,
        response_timeout: secs(60),
        send_proxy_protocol: None,
        pool: PoolConfig {
            max_idle: 64,
            idle_timeout: secs(60),
            max_requests: None,
        },
        health: None,
        outlier: None,
        retry: RetryConfig {
            attempts: 0,
            on: vec![RetryOn::ConnectFailure],
            budget: 200,
            min_retries: 3,
            per_try_timeout: None,
            backoff: Duration::from_millis(25),
        },
        limits: CircuitLimits {
            max_connections: None,
            max_pending: None,
            max_requests: None,
            max_retries: None,
        },
        panic_threshold: 0,
        slow_start: Duration::ZERO,
        local_zone: None,
        priority_threshold: 700,
        persistence: None,
        tls: None,
    }
}

fn pg_cluster() -> ClusterConfig {
    cluster(
        "pg",
        Balance::RoundRobin,
        vec![backend("127.0.0.1:5432", 1), backend("10.0.0.2:5432", 3)],
    )
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
    assert_eq!(cfg.runtime.buffer_size, 256 * 1024);
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
            proxy_protocol_from: vec![],
            http: None,
            tls: None,
            sni: None,
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
            connect_timeout: Duration::from_millis(250),
            connect_attempts: 16,
            ..cluster(
                "web",
                Balance::LeastConn,
                vec![
                    backend("[2001:db8::1]:80", 1000),
                    backend("192.0.2.1:80", 1)
                ],
            )
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

/// Everything an HTTP listener can say, and the model it must give.
const FULL_HTTP: &str = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "www"
proxy_protocol_from = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]
forwarded = "both"
via = false
request_id = "X-Trace-Id"
access_log = "json"

[listener.timeouts]
header = "5s"
body_idle = "20s"
request = "1m"
keepalive = "0s"

[listener.limits]
max_header_bytes = "32KiB"
max_headers = 50
max_uri_bytes = 4096
max_body_bytes = "100MiB"

[listener.error_responses]
503 = { body = "<h1>busy</h1>", content_type = "text/html" }
404 = { body = "nothing here" }

[[listener.route]]
name = "api"
host = "API.Example.com:8080"
path_prefix = "/v1/"
method = ["get", "HEAD", "GET"]
headers = [
  { name = "X-Canary", value = "1" },
  { name = "x-debug", present = true },
  { name = "x-user", regex = "^a" },
]
query = [{ name = "v", value = "2" }, { name = "Debug", present = true }]
cluster = "api"
request_headers = { set = { "X-Env" = "prod", "Host" = "api.internal" }, add = { "x-a" = "b" }, remove = ["X-Debug"] }
response_headers = { set = { "x-served-by" = "fulcrum" }, remove = ["server"] }
retry_non_idempotent = true

[[listener.route]]
host = "*.example.com"
path_regex = '^/img/[0-9]+\.png$'
method = "post"
cluster = "www"

[[listener.route]]
path = "/healthz"
query = [{ name = "full", regex = "^(1|yes)$" }]
cluster = "api"

[[cluster]]
name = "www"
backends = ["127.0.0.1:9000"]

[[cluster]]
name = "api"
backends = ["127.0.0.1:9001"]
"#;

fn route(name: &str, cluster: &str) -> RouteConfig {
    RouteConfig {
        name: name.into(),
        host: None,
        path: None,
        methods: vec![],
        headers: vec![],
        query: vec![],
        cluster: cluster.into(),
        request_headers: HeaderRules::default(),
        response_headers: HeaderRules::default(),
        retry_non_idempotent: false,
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    (items.iter())
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn full_http_listener_parses_into_the_expected_model() {
    let cfg = parse(FULL_HTTP, "http.toml").unwrap_or_else(|e| panic!("{e}"));
    let cidr = |a: &str, prefix| Cidr {
        addr: a.parse().unwrap(),
        prefix,
    };
    let header = |name: &str, value| HeaderMatch {
        name: name.into(),
        value,
    };
    let query = |name: &str, value| QueryMatch {
        name: name.into(),
        value,
    };
    let expected = ListenerConfig {
        name: "web".into(),
        bind: addr("127.0.0.1:8080"),
        protocol: Protocol::Http,
        cluster: "www".into(),
        backlog: 1024,
        max_connections: 10_000,
        idle_timeout: secs(600),
        tcp_nodelay: true,
        tcp_keepalive: Some(secs(60)),
        proxy_protocol_from: vec![
            cidr("127.0.0.1", 32),
            cidr("10.0.0.0", 8),
            cidr("fd00::", 8),
        ],
        http: Some(HttpListenerConfig {
            routes: vec![
                RouteConfig {
                    host: Some(HostMatch::Exact("api.example.com".into())),
                    path: Some(PathMatch::Prefix("/v1/".into())),
                    methods: vec!["GET".into(), "HEAD".into()],
                    headers: vec![
                        header("x-canary", ValueMatch::Exact("1".into())),
                        header("x-debug", ValueMatch::Present),
                        header("x-user", ValueMatch::Regex("^a".into())),
                    ],
                    query: vec![
                        query("v", ValueMatch::Exact("2".into())),
                        query("Debug", ValueMatch::Present),
                    ],
                    request_headers: HeaderRules {
                        set: pairs(&[("x-env", "prod"), ("host", "api.internal")]),
                        add: pairs(&[("x-a", "b")]),
                        remove: vec!["x-debug".into()],
                    },
                    response_headers: HeaderRules {
                        set: pairs(&[("x-served-by", "fulcrum")]),
                        add: vec![],
                        remove: vec!["server".into()],
                    },
                    retry_non_idempotent: true,
                    ..route("api", "api")
                },
                RouteConfig {
                    host: Some(HostMatch::Suffix(".example.com".into())),
                    path: Some(PathMatch::Regex(r"^/img/[0-9]+\.png$".into())),
                    methods: vec!["POST".into()],
                    ..route("route-2", "www")
                },
                RouteConfig {
                    path: Some(PathMatch::Exact("/healthz".into())),
                    query: vec![query("full", ValueMatch::Regex("^(1|yes)$".into()))],
                    ..route("route-3", "api")
                },
                // The listener's `cluster`, as a catch-all after the routes.
                route("default", "www"),
            ],
            timeouts: HttpTimeouts {
                header: secs(5),
                body_idle: secs(20),
                request: Some(secs(60)),
                keepalive: Duration::ZERO,
            },
            limits: HttpLimits {
                max_header_bytes: 32 * 1024,
                max_headers: 50,
                max_uri_bytes: 4096,
                max_body_bytes: Some(100 << 20),
            },
            forwarded: ForwardedMode::Both,
            via: false,
            request_id_header: Some("x-trace-id".into()),
            access_log: AccessLogFormat::Json,
            // Sorted by status.
            error_responses: vec![
                ErrorResponse {
                    status: 404,
                    content_type: "text/plain; charset=utf-8".into(),
                    body: "nothing here".into(),
                },
                ErrorResponse {
                    status: 503,
                    content_type: "text/html".into(),
                    body: "<h1>busy</h1>".into(),
                },
            ],
        }),
        tls: None,
        sni: None,
    };
    assert_eq!(cfg.listeners, vec![expected]);
    assert_eq!(cfg.listeners[0].clusters(), ["api", "www"]);
}

#[test]
fn minimal_http_listener_gets_every_default() {
    let text = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "www"

[[cluster]]
name = "www"
backends = ["127.0.0.1:9000"]
"#;
    let cfg = parse(text, "t").unwrap();
    let l = &cfg.listeners[0];
    assert_eq!(l.proxy_protocol_from, vec![]);
    assert_eq!(
        l.http,
        Some(HttpListenerConfig {
            routes: vec![route("default", "www")],
            timeouts: HttpTimeouts {
                header: secs(10),
                body_idle: secs(30),
                request: None,
                keepalive: secs(60),
            },
            limits: HttpLimits {
                max_header_bytes: 64 * 1024,
                max_headers: 100,
                max_uri_bytes: 8 * 1024,
                max_body_bytes: None,
            },
            forwarded: ForwardedMode::XForwarded,
            via: true,
            request_id_header: Some("x-request-id".into()),
            access_log: AccessLogFormat::Combined,
            error_responses: vec![],
        })
    );
    let http = l.http.as_ref().unwrap();
    assert_eq!(http.timeouts, HttpTimeouts::default());
    assert_eq!(http.limits, HttpLimits::default());
    // The tcp listener of the same file has no HTTP settings.
    let cfg = parse(&text.replace("protocol = \"http\"", ""), "t").unwrap();
    assert_eq!(cfg.listeners[0].http, None);
    assert_eq!(cfg.listeners[0].clusters(), ["www"]);
}

#[test]
fn http_listener_with_routes_only() {
    let text = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
request_id = false

[listener.timeouts]
request = false

[[listener.route]]
path_prefix = "/a/"
cluster = "a"

[[listener.route]]
name = "b"
cluster = "b"

[[cluster]]
name = "b"
backends = ["127.0.0.1:9000"]

[[cluster]]
name = "a"
backends = ["127.0.0.1:9001"]
"#;
    let cfg = parse(text, "t").unwrap_or_else(|e| panic!("{e}"));
    let l = &cfg.listeners[0];
    // No catch-all: `cluster` is the first route's.
    assert_eq!(l.cluster, "a");
    assert_eq!(l.clusters(), ["a", "b"]);
    let http = l.http.as_ref().unwrap();
    let names: Vec<&str> = http.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["route-1", "b"]);
    assert_eq!(http.request_id_header, None);
    assert_eq!(http.timeouts.request, None);
    let with_true = text.replace("request_id = false", "request_id = true");
    let cfg = parse(&with_true, "t").unwrap();
    let http = cfg.listeners[0].http.as_ref().unwrap();
    assert_eq!(http.request_id_header.as_deref(), Some("x-request-id"));
}

#[test]
fn hosts_are_normalised() {
    for (host, expected) in [
        ("Example.COM", HostMatch::Exact("example.com".into())),
        ("example.com:443", HostMatch::Exact("example.com".into())),
        (
            "*.Example.com:8080",
            HostMatch::Suffix(".example.com".into()),
        ),
        ("[::1]:8080", HostMatch::Exact("[::1]".into())),
        ("10.0.0.1", HostMatch::Exact("10.0.0.1".into())),
        (
            "under_score.local",
            HostMatch::Exact("under_score.local".into()),
        ),
    ] {
        let text = format!(
            "[[listener]]\nname = \"w\"\nbind = \"127.0.0.1:80\"\nprotocol = \"http\"\n\n\
             [[listener.route]]\nhost = \"{host}\"\ncluster = \"c\"\n\n\
             [[cluster]]\nname = \"c\"\nbackends = [\"127.0.0.1:81\"]\n"
        );
        let cfg = parse(&text, "t").unwrap_or_else(|e| panic!("{host}: {e}"));
        let http = cfg.listeners[0].http.as_ref().unwrap();
        assert_eq!(http.routes[0].host, Some(expected), "{host}");
    }
}

/// Everything a cluster can say about resilience, and the model it must give.
const FULL_CLUSTER: &str = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "api"

[[cluster]]
name = "api"
balance = "maglev"
hash_key = "header:X-User-Id"
hash_balance_factor = 1.25
protocol = "h2"
connect_timeout = "500ms"
connect_attempts = 2
response_timeout = "30s"
send_proxy_protocol = "v2"
panic_threshold = 0.5
slow_start = "30s"
local_zone = "eu-west-1a"
priority_threshold = 1
backends = [
  { address = "10.0.1.1:9000", weight = 2, zone = "eu-west-1a", priority = 0 },
  "10.0.1.2:9000",
  { address = "10.0.9.1:9000", zone = "eu-west-1b", priority = 15 },
]

[cluster.pool]
max_idle = 0
idle_timeout = "90s"
max_requests = 1000

[cluster.health]
kind = "http"
path = "/healthz?full=1"
method = "head"
host = "app.internal"
expect_status = ["200", 204, "300-302"]
expect_body = "ok"
interval = "5s"
timeout = "5s"
jitter = 0
rise = 1
fall = 100

[cluster.outlier]
consecutive_5xx = 0
consecutive_gateway_errors = 3
consecutive_connect_failures = 1000
base_ejection_time = "10s"
max_ejection_time = "10s"
max_ejected = 0.3333

[cluster.retry]
attempts = 10
on = ["connect-failure", "reset", "503", 502, 503]
budget = 1
min_retries = 0
per_try_timeout = "2s"
backoff = "0s"

[cluster.limits]
max_connections = 1000
max_pending = 100
max_requests = 2000
max_retries = 10

[cluster.persistence]
kind = "cookie"
name = "srv"
max_age = "1h"
"#;

#[test]
fn full_resilience_cluster_parses_into_the_expected_model() {
    let cfg = parse(FULL_CLUSTER, "cluster.toml").unwrap_or_else(|e| panic!("{e}"));
    let expected = ClusterConfig {
        name: "api".into(),
        balance: Balance::Maglev,
        connect_timeout: Duration::from_millis(500),
        connect_attempts: 2,
        backends: vec![
            BackendConfig {
                zone: Some("eu-west-1a".into()),
                ..backend("10.0.1.1:9000", 2)
            },
            backend("10.0.1.2:9000", 1),
            BackendConfig {
                zone: Some("eu-west-1b".into()),
                priority: 15,
                ..backend("10.0.9.1:9000", 1)
            },
        ],
        hash_key: HashKey::Header("x-user-id".into()),
        hash_balance_factor: Some(1250),
        protocol: UpstreamProtocol::H2,
        response_timeout: secs(30),
        send_proxy_protocol: Some(ProxyProtocolVersion::V2),
        pool: PoolConfig {
            max_idle: 0,
            idle_timeout: secs(90),
            max_requests: Some(1000),
        },
        health: Some(HealthConfig {
            kind: HealthKind::Http {
                method: "HEAD".into(),
                path: "/healthz?full=1".into(),
                host: Some("app.internal".into()),
                expect_status: vec![(200, 200), (204, 204), (300, 302)],
                expect_body: Some("ok".into()),
            },
            interval: secs(5),
            timeout: secs(5),
            jitter: 0,
            rise: 1,
            fall: 100,
        }),
        outlier: Some(OutlierConfig {
            consecutive_5xx: 0,
            consecutive_gateway_errors: 3,
            consecutive_connect_failures: 1000,
            base_ejection_time: secs(10),
            max_ejection_time: secs(10),
            max_ejected: 333,
        }),
        retry: RetryConfig {
            attempts: 10,
            on: vec![
                RetryOn::ConnectFailure,
                RetryOn::Reset,
                RetryOn::Status(503),
                RetryOn::Status(502),
            ],
            budget: 1000,
            min_retries: 0,
            per_try_timeout: Some(secs(2)),
            backoff: Duration::ZERO,
        },
        limits: CircuitLimits {
            max_connections: Some(1000),
            max_pending: Some(100),
            max_requests: Some(2000),
            max_retries: Some(10),
        },
        panic_threshold: 500,
        slow_start: secs(30),
        local_zone: Some("eu-west-1a".into()),
        priority_threshold: 1000,
        persistence: Some(Persistence::Cookie {
            name: "srv".into(),
            max_age: Some(secs(3600)),
        }),
        tls: None,
    };
    assert_eq!(cfg.clusters, vec![expected]);
}

#[test]
fn empty_resilience_tables_get_their_defaults() {
    let text = r#"
[[cluster]]
name = "c"
backends = ["127.0.0.1:9000"]

[cluster.pool]

[cluster.health]

[cluster.outlier]

[cluster.retry]

[cluster.limits]

[cluster.persistence]
kind = "source_ip"
"#;
    let cfg = parse(text, "t").unwrap_or_else(|e| panic!("{e}"));
    let c = &cfg.clusters[0];
    assert_eq!(c.pool, PoolConfig::default());
    assert_eq!(c.health, Some(HealthConfig::default()));
    assert_eq!(c.health.as_ref().unwrap().kind, HealthKind::Tcp);
    assert_eq!(c.outlier, Some(OutlierConfig::default()));
    assert_eq!(c.retry, RetryConfig::default());
    assert_eq!(c.limits, CircuitLimits::default());
    assert_eq!(
        c.persistence,
        Some(Persistence::SourceIp { ttl: secs(600) })
    );
    // And without the tables: the same defaults, no health checks, no ejection, no
    // persistence.
    let bare = parse(
        "[[cluster]]\nname = \"c\"\nbackends = [\"127.0.0.1:9000\"]\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        bare.clusters[0],
        cluster("c", Balance::RoundRobin, vec![backend("127.0.0.1:9000", 1)])
    );
    // An http check with nothing else: GET / expecting 200-399.
    let http = text.replace("[cluster.health]", "[cluster.health]\nkind = \"http\"");
    let cfg = parse(&http, "t").unwrap();
    assert_eq!(
        cfg.clusters[0].health.as_ref().unwrap().kind,
        HealthKind::Http {
            method: "GET".into(),
            path: "/".into(),
            host: None,
            expect_status: vec![(200, 399)],
            expect_body: None,
        }
    );
    let cookie = text.replace("kind = \"source_ip\"", "kind = \"cookie\"");
    let cfg = parse(&cookie, "t").unwrap();
    assert_eq!(
        cfg.clusters[0].persistence,
        Some(Persistence::Cookie {
            name: "fulcrum_backend".into(),
            max_age: None
        })
    );
}

#[test]
fn ratios_accept_integers_and_floats_and_round_to_thousandths() {
    for (value, milli) in [
        ("0", 0),
        ("1", 1000),
        ("0.0", 0),
        ("1.0", 1000),
        ("0.1", 100),
        ("0.25", 250),
        ("0.3333", 333),
        ("0.0005", 1),
        ("0.9999", 1000),
    ] {
        let text = format!(
            "[[cluster]]\nname = \"c\"\npanic_threshold = {value}\nbackends = [\"127.0.0.1:9000\"]\n"
        );
        let cfg = parse(&text, "t").unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(cfg.clusters[0].panic_threshold, milli, "{value}");
    }
    for bad in ["-0.1", "1.5", "2", "nan", "inf"] {
        let text = format!(
            "[[cluster]]\nname = \"c\"\npanic_threshold = {bad}\nbackends = [\"127.0.0.1:9000\"]\n"
        );
        assert!(parse(&text, "t").is_err(), "{bad}");
    }
}

#[test]
fn hash_keys_and_balance_algorithms() {
    for (balance, key, expected) in [
        ("source_ip", "client_ip", HashKey::ClientIp),
        ("ring_hash", "path", HashKey::Path),
        (
            "maglev",
            "cookie:Session",
            HashKey::Cookie("Session".into()),
        ),
        ("maglev", "header:X-User", HashKey::Header("x-user".into())),
    ] {
        let text = format!(
            "[[cluster]]\nname = \"c\"\nbalance = \"{balance}\"\nhash_key = \"{key}\"\n\
             backends = [\"127.0.0.1:9000\"]\n"
        );
        let cfg = parse(&text, "t").unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(cfg.clusters[0].hash_key, expected);
        assert!(cfg.clusters[0].balance.hashes());
    }
    for (name, balance) in [
        ("round_robin", Balance::RoundRobin),
        ("weighted_round_robin", Balance::WeightedRoundRobin),
        ("least_conn", Balance::LeastConn),
        ("p2c", Balance::P2c),
        ("p2c_ewma", Balance::P2cEwma),
        ("random", Balance::Random),
        ("source_ip", Balance::SourceIp),
        ("ring_hash", Balance::RingHash),
        ("maglev", Balance::Maglev),
    ] {
        let text = format!(
            "[[cluster]]\nname = \"c\"\nbalance = \"{name}\"\nbackends = [\"127.0.0.1:9000\"]\n"
        );
        let cfg = parse(&text, "t").unwrap();
        assert_eq!(cfg.clusters[0].balance, balance);
        let json = serde_json::to_value(&cfg.clusters[0]).unwrap();
        assert_eq!(json["balance"], name);
    }
}

/// A cluster that http and tcp listeners share may have cookie persistence (tcp connections
/// get none); h2 and header hashing need every user to be an http listener.
#[test]
fn cookie_persistence_on_a_cluster_shared_with_tcp() {
    let text = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
cluster = "app"

[[listener]]
name = "raw"
bind = "127.0.0.1:8081"
cluster = "app"

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]

[cluster.persistence]
kind = "cookie"
"#;
    parse(text, "t").unwrap_or_else(|e| panic!("{e}"));
    let h2 = text.replace("name = \"app\"\n", "name = \"app\"\nprotocol = \"h2\"\n");
    let err = parse(&h2, "t").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.diagnostics()[0].key, "cluster[0].protocol");
}

#[test]
fn resilience_model_serializes_for_the_admin_api() {
    let cfg = parse(FULL_CLUSTER, "t").unwrap();
    let json = serde_json::to_value(&cfg).unwrap();
    let c = &json["clusters"][0];
    assert_eq!(c["hash_key"], serde_json::json!({ "header": "x-user-id" }));
    assert_eq!(c["slow_start"], "30s");
    assert_eq!(c["health"]["interval"], "5s");
    assert_eq!(c["retry"]["per_try_timeout"], "2s");
    assert_eq!(c["persistence"]["cookie"]["max_age"], "1h");
    let cfg = parse(FULL_HTTP, "t").unwrap();
    let json = serde_json::to_value(&cfg).unwrap();
    let http = &json["listeners"][0]["http"];
    assert_eq!(http["timeouts"]["request"], "1m");
    assert_eq!(
        http["routes"][1]["host"],
        serde_json::json!({ "suffix": ".example.com" })
    );
}
