//! A table of bad configs, each with the exact error text an operator sees.
//!
//! The text is part of the interface (operators grep for it, docs quote it): a change here is
//! a deliberate change of wording. Each case is parsed with origin `/etc/fulcrum.toml`.

use fulcrum_config::{ErrorKind, parse};

struct Case {
    name: &'static str,
    toml: &'static str,
    /// Kind and key path of the first diagnostic.
    kind: ErrorKind,
    key: &'static str,
    /// The whole `Display` output.
    expected: &'static str,
}

const ORIGIN: &str = "/etc/fulcrum.toml";

#[test]
fn bad_configs_give_the_expected_errors() {
    let mut failures = Vec::new();
    for case in CASES {
        let err = match parse(case.toml, ORIGIN) {
            Ok(_) => {
                failures.push(format!("{}: parsed, but should fail", case.name));
                continue;
            }
            Err(e) => e,
        };
        let actual = err.to_string();
        if actual != case.expected {
            failures.push(format!(
                "{}: wrong text\n--- expected\n{}\n--- actual\n{actual}\n",
                case.name, case.expected
            ));
        }
        let first = &err.diagnostics()[0];
        if (first.kind, first.key.as_str()) != (case.kind, case.key) {
            failures.push(format!(
                "{}: first diagnostic is {:?} at `{}`, expected {:?} at `{}`",
                case.name, first.kind, first.key, case.kind, case.key
            ));
        }
        assert_eq!(err.kind(), first.kind);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_is_big_enough_and_covers_every_kind() {
    // 50 for the TCP-era keys, the rest for the HTTP and resilience keys.
    assert!(CASES.len() >= 100);
    for kind in [
        ErrorKind::Syntax,
        ErrorKind::UnknownKey,
        ErrorKind::MissingKey,
        ErrorKind::WrongType,
        ErrorKind::InvalidValue,
        ErrorKind::Duplicate,
        ErrorKind::UnknownCluster,
        ErrorKind::AddressConflict,
        ErrorKind::Conflict,
    ] {
        assert!(CASES.iter().any(|c| c.kind == kind), "no case for {kind:?}");
    }
}

#[test]
fn every_diagnostic_has_a_position_and_a_one_line_summary() {
    for case in CASES {
        let err = parse(case.toml, ORIGIN).unwrap_err();
        for d in err.diagnostics() {
            assert!(d.line >= 1 && d.column >= 1, "{}", case.name);
            assert_eq!(d.origin, ORIGIN);
            let summary = d.summary();
            assert!(!summary.contains('\n'), "{}", case.name);
            assert_eq!(
                summary,
                format!("{ORIGIN}:{}:{}: {}", d.line, d.column, d.message)
            );
            // The first line of the rendered error is the message itself.
            assert_eq!(
                d.to_string().lines().next().unwrap(),
                format!("error: {}", d.message)
            );
        }
    }
}

#[test]
fn diagnostics_serialize_for_the_admin_api() {
    let err = parse("[runtime]\nworkers = 0\n", ORIGIN).unwrap_err();
    let json = serde_json::to_value(err.diagnostics()).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "kind": "invalid_value",
            "origin": ORIGIN,
            "line": 2,
            "column": 11,
            "key": "runtime.workers",
            "message": "invalid value for runtime.workers: found `0`, expected an integer in 1..=1024",
            "label": "expected an integer in 1..=1024",
        }])
    );
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case {
        name: "unknown_key_suggests_the_close_one",
        toml: r##"[[listener]]
name = "db"
bnd = "127.0.0.1:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::UnknownKey,
        key: "listener[0].bnd",
        expected: r##"error: unknown key `bnd` in listener[0]
 --> /etc/fulcrum.toml:3:1
  |
3 | bnd = "127.0.0.1:5433"
  | ^^^ expected one of `name`, `bind`, `protocol`, `cluster`, `backlog`, `max_connections`, `idle_timeout`, `tcp_nodelay`, `tcp_keepalive`, `proxy_protocol_from`, `forwarded`, `via`, `request_id`, `access_log`, `timeouts`, `limits`, `error_responses`, `route`, `tls`, `sni_routes`, `sni_peek_timeout`, `sni_max_hello`; did you mean `bind`?"##,
    },
    Case {
        name: "unknown_top_level_key",
        toml: r##"[[listeners]]
name = "db"
"##,
        kind: ErrorKind::UnknownKey,
        key: "listeners",
        expected: r##"error: unknown key `listeners` at top level
 --> /etc/fulcrum.toml:1:3
  |
1 | [[listeners]]
  |   ^^^^^^^^^ expected one of `admin`, `runtime`, `log`, `listener`, `cluster`; did you mean `listener`?"##,
    },
    Case {
        name: "unknown_table",
        toml: r##"[runtim]
workers = 2
"##,
        kind: ErrorKind::UnknownKey,
        key: "runtim",
        expected: r##"error: unknown key `runtim` at top level
 --> /etc/fulcrum.toml:1:2
  |
1 | [runtim]
  |  ^^^^^^ expected one of `admin`, `runtime`, `log`, `listener`, `cluster`; did you mean `runtime`?"##,
    },
    Case {
        name: "unknown_key_without_suggestion",
        toml: r##"[log]
colour = true
"##,
        kind: ErrorKind::UnknownKey,
        key: "log.colour",
        expected: r##"error: unknown key `colour` in log
 --> /etc/fulcrum.toml:2:1
  |
2 | colour = true
  | ^^^^^^ expected one of `level`, `connections`, `format`"##,
    },
    Case {
        name: "unknown_backend_key",
        toml: r##"[[cluster]]
name = "pg"
backends = [{ address = "127.0.0.1:5432", weigth = 2 }]
"##,
        kind: ErrorKind::UnknownKey,
        key: "cluster[0].backends[0].weigth",
        expected: r##"error: unknown key `weigth` in cluster[0].backends[0]
 --> /etc/fulcrum.toml:3:43
  |
3 | backends = [{ address = "127.0.0.1:5432", weigth = 2 }]
  |                                           ^^^^^^ expected one of `address`, `weight`, `zone`, `priority`; did you mean `weight`?"##,
    },
    Case {
        name: "bind_is_an_integer",
        toml: r##"[[listener]]
name = "db"
bind = 5433
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::WrongType,
        key: "listener[0].bind",
        expected: r##"error: wrong type for listener[0].bind: found integer `5433`, expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"
 --> /etc/fulcrum.toml:3:8
  |
3 | bind = 5433
  |        ^^^^ expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433""##,
    },
    Case {
        name: "workers_is_a_string",
        toml: r##"[runtime]
workers = "2"
"##,
        kind: ErrorKind::WrongType,
        key: "runtime.workers",
        expected: r##"error: wrong type for runtime.workers: found string `"2"`, expected an integer in 1..=1024
 --> /etc/fulcrum.toml:2:11
  |
2 | workers = "2"
  |           ^^^ expected an integer in 1..=1024"##,
    },
    Case {
        name: "workers_zero",
        toml: r##"[runtime]
workers = 0
"##,
        kind: ErrorKind::InvalidValue,
        key: "runtime.workers",
        expected: r##"error: invalid value for runtime.workers: found `0`, expected an integer in 1..=1024
 --> /etc/fulcrum.toml:2:11
  |
2 | workers = 0
  |           ^ expected an integer in 1..=1024"##,
    },
    Case {
        name: "workers_too_many",
        toml: r##"[runtime]
workers = 2000
"##,
        kind: ErrorKind::InvalidValue,
        key: "runtime.workers",
        expected: r##"error: invalid value for runtime.workers: found `2000`, expected an integer in 1..=1024
 --> /etc/fulcrum.toml:2:11
  |
2 | workers = 2000
  |           ^^^^ expected an integer in 1..=1024"##,
    },
    Case {
        name: "weight_negative",
        toml: r##"[[cluster]]
name = "pg"
backends = [
  "127.0.0.1:5432",
  { address = "10.0.0.2:5432", weight = -1 },
]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].backends[1].weight",
        expected: r##"error: invalid value for cluster[0].backends[1].weight: found `-1`, expected an integer in 1..=1000
 --> /etc/fulcrum.toml:5:41
  |
5 |   { address = "10.0.0.2:5432", weight = -1 },
  |                                         ^^ expected an integer in 1..=1000"##,
    },
    Case {
        name: "missing_backends",
        toml: r##"[[cluster]]
name = "pg"
"##,
        kind: ErrorKind::MissingKey,
        key: "cluster[0].backends",
        expected: r##"error: missing key `backends` in cluster[0]
 --> /etc/fulcrum.toml:1:1
  |
1 | [[cluster]]
  | ^^^^^^^^^^^ this table needs `backends`: an array of backends, each "ip:port" or { address = "ip:port", weight = 1 }"##,
    },
    Case {
        name: "missing_listener_name",
        toml: r##"[[listener]]
bind = "127.0.0.1:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].name",
        expected: r##"error: missing key `name` in listener[0]
 --> /etc/fulcrum.toml:1:1
  |
1 | [[listener]]
  | ^^^^^^^^^^^^ this table needs `name`: a name of 1 to 64 characters from A-Z a-z 0-9 _ . -"##,
    },
    Case {
        name: "relay_typo",
        toml: r##"[runtime]
relay = "splise"
"##,
        kind: ErrorKind::InvalidValue,
        key: "runtime.relay",
        expected: r##"error: invalid value for runtime.relay: found `"splise"`, expected one of "splice", "copy"
 --> /etc/fulcrum.toml:2:9
  |
2 | relay = "splise"
  |         ^^^^^^^^ expected one of "splice", "copy"; did you mean "splice"?"##,
    },
    Case {
        name: "balance_typo",
        toml: r##"[[cluster]]
name = "pg"
balance = "roundrobin"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].balance",
        expected: r##"error: invalid value for cluster[0].balance: found `"roundrobin"`, expected one of "round_robin", "weighted_round_robin", "least_conn", "p2c", "p2c_ewma", "random", "source_ip", "ring_hash", "maglev"
 --> /etc/fulcrum.toml:3:11
  |
3 | balance = "roundrobin"
  |           ^^^^^^^^^^^^ expected one of "round_robin", "weighted_round_robin", "least_conn", "p2c", "p2c_ewma", "random", "source_ip", "ring_hash", "maglev"; did you mean "round_robin"?"##,
    },
    Case {
        name: "log_format_case",
        toml: r##"[log]
format = "JSON"
"##,
        kind: ErrorKind::InvalidValue,
        key: "log.format",
        expected: r##"error: invalid value for log.format: found `"JSON"`, expected one of "text", "json"
 --> /etc/fulcrum.toml:2:10
  |
2 | format = "JSON"
  |          ^^^^^^ expected one of "text", "json"; did you mean "json"?"##,
    },
    Case {
        name: "duration_without_unit",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"
idle_timeout = "10"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].idle_timeout",
        expected: r##"error: invalid value for listener[0].idle_timeout: found `"10"`, expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)
 --> /etc/fulcrum.toml:5:16
  |
5 | idle_timeout = "10"
  |                ^^^^ expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns); a number needs a unit"##,
    },
    Case {
        name: "connect_timeout_zero",
        toml: r##"[[cluster]]
name = "pg"
connect_timeout = "0s"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].connect_timeout",
        expected: r##"error: invalid value for cluster[0].connect_timeout: found `"0s"`, expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)
 --> /etc/fulcrum.toml:3:19
  |
3 | connect_timeout = "0s"
  |                   ^^^^ expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)"##,
    },
    Case {
        name: "duration_fraction",
        toml: r##"[runtime]
shutdown_timeout = "1.5s"
"##,
        kind: ErrorKind::InvalidValue,
        key: "runtime.shutdown_timeout",
        expected: r##"error: invalid value for runtime.shutdown_timeout: found `"1.5s"`, expected a duration like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)
 --> /etc/fulcrum.toml:2:20
  |
2 | shutdown_timeout = "1.5s"
  |                    ^^^^^^ expected a duration like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns); fractions are not allowed; use a smaller unit"##,
    },
    Case {
        name: "buffer_size_too_small",
        toml: r##"[runtime]
buffer_size = "1KiB"
"##,
        kind: ErrorKind::InvalidValue,
        key: "runtime.buffer_size",
        expected: r##"error: invalid value for runtime.buffer_size: found `"1KiB"`, expected a size in 4KiB..=16MiB like 65536, "64KiB" or "64KB" (units B, KB, MB, GB, KiB, MiB, GiB)
 --> /etc/fulcrum.toml:2:15
  |
2 | buffer_size = "1KiB"
  |               ^^^^^^ expected a size in 4KiB..=16MiB like 65536, "64KiB" or "64KB" (units B, KB, MB, GB, KiB, MiB, GiB)"##,
    },
    Case {
        name: "buffer_size_unit_case",
        toml: r##"[runtime]
buffer_size = "64kib"
"##,
        kind: ErrorKind::InvalidValue,
        key: "runtime.buffer_size",
        expected: r##"error: invalid value for runtime.buffer_size: found `"64kib"`, expected a size in 4KiB..=16MiB like 65536, "64KiB" or "64KB" (units B, KB, MB, GB, KiB, MiB, GiB)
 --> /etc/fulcrum.toml:2:15
  |
2 | buffer_size = "64kib"
  |               ^^^^^^^ expected a size in 4KiB..=16MiB like 65536, "64KiB" or "64KB" (units B, KB, MB, GB, KiB, MiB, GiB); units are case-sensitive: B, KB, KiB, ..."##,
    },
    Case {
        name: "bind_port_zero",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:0"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].bind",
        expected: r##"error: invalid value for listener[0].bind: found `"127.0.0.1:0"`, expected a port in 1..=65535
 --> /etc/fulcrum.toml:3:8
  |
3 | bind = "127.0.0.1:0"
  |        ^^^^^^^^^^^^^ expected a port in 1..=65535; each worker binds its own SO_REUSEPORT socket, so port 0 would give each worker a different port"##,
    },
    Case {
        name: "bind_host_name",
        toml: r##"[[listener]]
name = "db"
bind = "localhost:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].bind",
        expected: r##"error: invalid value for listener[0].bind: found `"localhost:5433"`, expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"
 --> /etc/fulcrum.toml:3:8
  |
3 | bind = "localhost:5433"
  |        ^^^^^^^^^^^^^^^^ expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"; host names are not resolved"##,
    },
    Case {
        name: "bind_port_too_large",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:99999"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].bind",
        expected: r##"error: invalid value for listener[0].bind: found `"127.0.0.1:99999"`, expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"
 --> /etc/fulcrum.toml:3:8
  |
3 | bind = "127.0.0.1:99999"
  |        ^^^^^^^^^^^^^^^^^ expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"; a port is at most 65535"##,
    },
    Case {
        name: "bad_name",
        toml: r##"[[listener]]
name = "my db"
bind = "127.0.0.1:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].name",
        expected: r##"error: invalid value for listener[0].name: found `"my db"`, expected a name of 1 to 64 characters from A-Z a-z 0-9 _ . -
 --> /etc/fulcrum.toml:2:8
  |
2 | name = "my db"
  |        ^^^^^^^ expected a name of 1 to 64 characters from A-Z a-z 0-9 _ . -"##,
    },
    Case {
        name: "duplicate_listener_name",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"

[[listener]]
name = "db"
bind = "127.0.0.1:5434"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[1].name",
        expected: r##"error: duplicate listener name `db` at listener[1].name
 --> /etc/fulcrum.toml:7:8
  |
7 | name = "db"
  |        ^^^^ listener[0] (line 2) already has this name"##,
    },
    Case {
        name: "duplicate_cluster_name",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5434"]
"##,
        kind: ErrorKind::Duplicate,
        key: "cluster[1].name",
        expected: r##"error: duplicate cluster name `pg` at cluster[1].name
  --> /etc/fulcrum.toml:11:8
   |
11 | name = "pg"
   |        ^^^^ cluster[0] (line 7) already has this name"##,
    },
    Case {
        name: "unknown_cluster_suggests",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pgg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::UnknownCluster,
        key: "listener[0].cluster",
        expected: r##"error: unknown cluster `pgg` in listener[0].cluster
 --> /etc/fulcrum.toml:4:11
  |
4 | cluster = "pgg"
  |           ^^^^^ expected the name of a [[cluster]]: `pg`; did you mean `pg`?"##,
    },
    Case {
        name: "unknown_cluster_none_defined",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"
"##,
        kind: ErrorKind::UnknownCluster,
        key: "listener[0].cluster",
        expected: r##"error: unknown cluster `pg` in listener[0].cluster
 --> /etc/fulcrum.toml:4:11
  |
4 | cluster = "pg"
  |           ^^^^ expected the name of a [[cluster]], but the file defines none"##,
    },
    Case {
        name: "same_bind_twice",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"

[[listener]]
name = "db2"
bind = "127.0.0.1:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::AddressConflict,
        key: "listener[1].bind",
        expected: r##"error: address conflict at listener[1].bind: 127.0.0.1:5433 is also bound by listener[0].bind
 --> /etc/fulcrum.toml:8:8
  |
8 | bind = "127.0.0.1:5433"
  |        ^^^^^^^^^^^^^^^^ listener[0].bind (line 3) binds the same address"##,
    },
    Case {
        name: "wildcard_overlaps_specific",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"

[[listener]]
name = "any"
bind = "0.0.0.0:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::AddressConflict,
        key: "listener[1].bind",
        expected: r##"error: address conflict at listener[1].bind: 0.0.0.0:5433 overlaps 127.0.0.1:5433 of listener[0].bind
 --> /etc/fulcrum.toml:8:8
  |
8 | bind = "0.0.0.0:5433"
  |        ^^^^^^^^^^^^^^ a wildcard and a specific address cannot share port 5433; listener[0].bind is at line 3"##,
    },
    Case {
        name: "ipv6_wildcard_overlaps_specific",
        toml: r##"[[listener]]
name = "db"
bind = "[::1]:5433"
cluster = "pg"

[[listener]]
name = "any"
bind = "[::]:5433"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::AddressConflict,
        key: "listener[1].bind",
        expected: r##"error: address conflict at listener[1].bind: [::]:5433 overlaps [::1]:5433 of listener[0].bind
 --> /etc/fulcrum.toml:8:8
  |
8 | bind = "[::]:5433"
  |        ^^^^^^^^^^^ a wildcard and a specific address cannot share port 5433; listener[0].bind is at line 3"##,
    },
    Case {
        name: "listener_on_default_admin_address",
        toml: r##"[admin]

[[listener]]
name = "db"
bind = "127.0.0.1:9090"
cluster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::AddressConflict,
        key: "listener[0].bind",
        expected: r##"error: address conflict at listener[0].bind: 127.0.0.1:9090 is also bound by the default admin.listen
 --> /etc/fulcrum.toml:5:8
  |
5 | bind = "127.0.0.1:9090"
  |        ^^^^^^^^^^^^^^^^ the default admin.listen (line 1) binds the same address"##,
    },
    Case {
        name: "backend_is_the_listeners_own_address",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
cluster = "app"

[[cluster]]
name = "app"
backends = ["127.0.0.1:8081", "127.0.0.1:8080"]
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].backends[1]",
        expected: r##"error: backend 127.0.0.1:8080 at cluster[0].backends[1] is the address of listener `web`
 --> /etc/fulcrum.toml:8:31
  |
8 | backends = ["127.0.0.1:8081", "127.0.0.1:8080"]
  |                               ^^^^^^^^^^^^^^^^ listener `web` binds 127.0.0.1:8080 (line 3): requests sent there would come back to Fulcrum in a loop"##,
    },
    Case {
        name: "loopback_backend_on_a_wildcard_listeners_port",
        toml: r##"[[listener]]
name = "web"
bind = "0.0.0.0:8080"
cluster = "app"

[[cluster]]
name = "app"
backends = [{ address = "127.0.0.1:8080", weight = 2 }]
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].backends[0]",
        expected: r##"error: backend 127.0.0.1:8080 at cluster[0].backends[0] is the address of listener `web`
 --> /etc/fulcrum.toml:8:13
  |
8 | backends = [{ address = "127.0.0.1:8080", weight = 2 }]
  |             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ listener `web` binds 0.0.0.0:8080 (line 3): requests sent there would come back to Fulcrum in a loop"##,
    },
    Case {
        name: "duplicate_backend",
        toml: r##"[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432", "127.0.0.1:5432"]
"##,
        kind: ErrorKind::Duplicate,
        key: "cluster[0].backends[1]",
        expected: r##"error: duplicate backend address 127.0.0.1:5432 at cluster[0].backends[1]
 --> /etc/fulcrum.toml:3:31
  |
3 | backends = ["127.0.0.1:5432", "127.0.0.1:5432"]
  |                               ^^^^^^^^^^^^^^^^ already listed as cluster[0].backends[0] (line 3)"##,
    },
    Case {
        name: "empty_backends",
        toml: r##"[[cluster]]
name = "pg"
backends = []
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].backends",
        expected: r##"error: invalid value for cluster[0].backends: found `[]`, expected at least one backend
 --> /etc/fulcrum.toml:3:12
  |
3 | backends = []
  |            ^^ expected at least one backend"##,
    },
    Case {
        name: "backend_wrong_type",
        toml: r##"[[cluster]]
name = "pg"
backends = [5432]
"##,
        kind: ErrorKind::WrongType,
        key: "cluster[0].backends[0]",
        expected: r##"error: wrong type for cluster[0].backends[0]: found integer `5432`, expected a backend "ip:port" or { address = "ip:port", weight = 1 }
 --> /etc/fulcrum.toml:3:13
  |
3 | backends = [5432]
  |             ^^^^ expected a backend "ip:port" or { address = "ip:port", weight = 1 }"##,
    },
    Case {
        name: "backend_wildcard_ip",
        toml: r##"[[cluster]]
name = "pg"
backends = ["0.0.0.0:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].backends[0]",
        expected: r##"error: invalid value for cluster[0].backends[0]: found `"0.0.0.0:5432"`, expected a specific IP address, not a wildcard
 --> /etc/fulcrum.toml:3:13
  |
3 | backends = ["0.0.0.0:5432"]
  |             ^^^^^^^^^^^^^^ expected a specific IP address, not a wildcard"##,
    },
    Case {
        name: "listener_single_table",
        toml: r##"[listener]
name = "db"
"##,
        kind: ErrorKind::WrongType,
        key: "listener",
        expected: r##"error: wrong type for listener: found table, expected an array of tables, written [[listener]]
 --> /etc/fulcrum.toml:1:1
  |
1 | [listener]
  | ^^^^^^^^^^ expected an array of tables, written [[listener]]"##,
    },
    Case {
        name: "syntax_unclosed_string",
        toml: r##"[runtime]
workers = 2
relay = "splice
"##,
        kind: ErrorKind::Syntax,
        key: "",
        expected: r##"error: invalid TOML: invalid basic string, expected `"`
 --> /etc/fulcrum.toml:3:16
  |
3 | relay = "splice
  |                ^ expected `"`"##,
    },
    Case {
        name: "syntax_duplicate_table",
        toml: r##"[admin]
listen = "127.0.0.1:9090"

[admin]
"##,
        kind: ErrorKind::Syntax,
        key: "",
        expected: r##"error: invalid TOML: duplicate key `admin`
 --> /etc/fulcrum.toml:4:2
  |
4 | [admin]
  |  ^^^^^ here"##,
    },
    Case {
        name: "empty_log_level",
        toml: r##"[log]
level = " "
"##,
        kind: ErrorKind::InvalidValue,
        key: "log.level",
        expected: r##"error: invalid value for log.level: found `" "`, expected a non-empty tracing filter like "info"
 --> /etc/fulcrum.toml:2:9
  |
2 | level = " "
  |         ^^^ expected a non-empty tracing filter like "info""##,
    },
    Case {
        name: "keepalive_subsecond",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"
tcp_keepalive = "500ms"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tcp_keepalive",
        expected: r##"error: invalid value for listener[0].tcp_keepalive: found `"500ms"`, expected a whole number of seconds in 1s..=32767s, or false to turn keepalive off
 --> /etc/fulcrum.toml:5:17
  |
5 | tcp_keepalive = "500ms"
  |                 ^^^^^^^ expected a whole number of seconds in 1s..=32767s, or false to turn keepalive off; the kernel counts keepalive idle time in whole seconds"##,
    },
    Case {
        name: "keepalive_integer",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"
tcp_keepalive = 60

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::WrongType,
        key: "listener[0].tcp_keepalive",
        expected: r##"error: wrong type for listener[0].tcp_keepalive: found integer `60`, expected a duration like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns) or false
 --> /etc/fulcrum.toml:5:17
  |
5 | tcp_keepalive = 60
  |                 ^^ expected a duration like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns) or false"##,
    },
    Case {
        name: "admin_listen_port_zero",
        toml: r##"[admin]
listen = "127.0.0.1:0"
"##,
        kind: ErrorKind::InvalidValue,
        key: "admin.listen",
        expected: r##"error: invalid value for admin.listen: found `"127.0.0.1:0"`, expected a port in 1..=65535
 --> /etc/fulcrum.toml:2:10
  |
2 | listen = "127.0.0.1:0"
  |          ^^^^^^^^^^^^^ expected a port in 1..=65535"##,
    },
    Case {
        name: "max_connections_zero",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"
max_connections = 0

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].max_connections",
        expected: r##"error: invalid value for listener[0].max_connections: found `0`, expected an integer >= 1
 --> /etc/fulcrum.toml:5:19
  |
5 | max_connections = 0
  |                   ^ expected an integer >= 1"##,
    },
    Case {
        name: "connect_attempts_too_many",
        toml: r##"[[cluster]]
name = "pg"
connect_attempts = 17
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].connect_attempts",
        expected: r##"error: invalid value for cluster[0].connect_attempts: found `17`, expected an integer in 1..=16
 --> /etc/fulcrum.toml:3:20
  |
3 | connect_attempts = 17
  |                    ^^ expected an integer in 1..=16"##,
    },
    Case {
        name: "tabs_and_unicode_keep_columns",
        toml: r##"[[cluster]]
name = "pg"
	backends = ["ïnvalid", "127.0.0.1:0"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].backends[0]",
        expected: r##"error: invalid value for cluster[0].backends[0]: found `"ïnvalid"`, expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"
 --> /etc/fulcrum.toml:3:14
  |
3 |  backends = ["ïnvalid", "127.0.0.1:0"]
  |              ^^^^^^^^^ expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"; host names are not resolved

error: invalid value for cluster[0].backends[1]: found `"127.0.0.1:0"`, expected a port in 1..=65535
 --> /etc/fulcrum.toml:3:25
  |
3 |  backends = ["ïnvalid", "127.0.0.1:0"]
  |                         ^^^^^^^^^^^^^ expected a port in 1..=65535; a connection cannot go to port 0

error: /etc/fulcrum.toml has 2 errors"##,
    },
    Case {
        name: "syntax_bare_unicode_key",
        toml: r##"[log]
	formät = "text"
"##,
        kind: ErrorKind::Syntax,
        key: "",
        expected: r##"error: invalid TOML: invalid unquoted key, expected letters, numbers, `-`, `_`
 --> /etc/fulcrum.toml:2:6
  |
2 |  formät = "text"
  |      ^ expected letters, numbers, `-`, `_`"##,
    },
    Case {
        name: "cluster_name_wrong_type_no_cascade",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"

[[cluster]]
name = 5
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::WrongType,
        key: "cluster[0].name",
        expected: r##"error: wrong type for cluster[0].name: found integer `5`, expected a name of 1 to 64 characters from A-Z a-z 0-9 _ . -
 --> /etc/fulcrum.toml:7:8
  |
7 | name = 5
  |        ^ expected a name of 1 to 64 characters from A-Z a-z 0-9 _ . -"##,
    },
    Case {
        name: "several_errors_at_once",
        toml: r##"[runtime]
workers = 0

[[listener]]
name = "db"
bind = 5433
clster = "pg"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432", { address = "10.0.0.2:5432", weight = 0 }]
"##,
        kind: ErrorKind::InvalidValue,
        key: "runtime.workers",
        expected: r##"error: invalid value for runtime.workers: found `0`, expected an integer in 1..=1024
 --> /etc/fulcrum.toml:2:11
  |
2 | workers = 0
  |           ^ expected an integer in 1..=1024

error: wrong type for listener[0].bind: found integer `5433`, expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"
 --> /etc/fulcrum.toml:6:8
  |
6 | bind = 5433
  |        ^^^^ expected an address "ip:port" like "127.0.0.1:5433" or "[::1]:5433"

error: unknown key `clster` in listener[0]
 --> /etc/fulcrum.toml:7:1
  |
7 | clster = "pg"
  | ^^^^^^ expected one of `name`, `bind`, `protocol`, `cluster`, `backlog`, `max_connections`, `idle_timeout`, `tcp_nodelay`, `tcp_keepalive`, `proxy_protocol_from`, `forwarded`, `via`, `request_id`, `access_log`, `timeouts`, `limits`, `error_responses`, `route`, `tls`, `sni_routes`, `sni_peek_timeout`, `sni_max_hello`; did you mean `cluster`?

error: invalid value for cluster[0].backends[1].weight: found `0`, expected an integer in 1..=1000
  --> /etc/fulcrum.toml:11:69
   |
11 | backends = ["127.0.0.1:5432", { address = "10.0.0.2:5432", weight = 0 }]
   |                                                                     ^ expected an integer in 1..=1000

error: /etc/fulcrum.toml has 4 errors"##,
    },
    Case {
        name: "http_key_on_tcp",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "web"
forwarded = "rfc7239"

[listener.timeouts]
header = "5s"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].forwarded",
        expected: r##"error: `forwarded` in listener[0] needs protocol = "http"
 --> /etc/fulcrum.toml:5:13
  |
5 | forwarded = "rfc7239"
  |             ^^^^^^^^^ only http listeners have `forwarded`; listener[0] has no `protocol`, so "tcp"

error: `timeouts` in listener[0] needs protocol = "http"
 --> /etc/fulcrum.toml:7:1
  |
7 | [listener.timeouts]
  | ^^^^^^^^^^^^^^^^^^^ only http listeners have `timeouts`; listener[0] has no `protocol`, so "tcp"

error: /etc/fulcrum.toml has 2 errors"##,
    },
    Case {
        name: "route_on_tcp_listener",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "tcp"
cluster = "web"

[[listener.route]]
path_prefix = "/"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].route",
        expected: r##"error: `route` in listener[0] needs protocol = "http"
 --> /etc/fulcrum.toml:7:1
  |
7 | [[listener.route]]
  | ^^^^^^^^^^^^^^^^^^ only http listeners have `route`; listener[0] has protocol "tcp""##,
    },
    Case {
        name: "http_no_routes_no_cluster",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].cluster",
        expected: r##"error: missing key `cluster` in listener[0]
 --> /etc/fulcrum.toml:1:1
  |
1 | [[listener]]
  | ^^^^^^^^^^^^ an http listener needs `cluster` or at least one [[listener.route]]; without either it would answer 404 to everything"##,
    },
    Case {
        name: "protocol_typo",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "htp"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].protocol",
        expected: r##"error: invalid value for listener[0].protocol: found `"htp"`, expected one of "tcp", "http", "https", "tls"
 --> /etc/fulcrum.toml:4:12
  |
4 | protocol = "htp"
  |            ^^^^^ expected one of "tcp", "http", "https", "tls"; did you mean "http"?"##,
    },
    Case {
        name: "route_as_table",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[listener.route]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::WrongType,
        key: "listener[0].route",
        expected: r##"error: wrong type for listener[0].route: found table, expected an array of tables, written [[listener.route]]
 --> /etc/fulcrum.toml:6:1
  |
6 | [listener.route]
  | ^^^^^^^^^^^^^^^^ expected an array of tables, written [[listener.route]]"##,
    },
    Case {
        name: "unknown_route_key",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
cluster = "web"
path_prefx = "/api/"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::UnknownKey,
        key: "listener[0].route[0].path_prefx",
        expected: r##"error: unknown key `path_prefx` in listener[0].route[0]
 --> /etc/fulcrum.toml:8:1
  |
8 | path_prefx = "/api/"
  | ^^^^^^^^^^ expected one of `name`, `host`, `path`, `path_prefix`, `path_regex`, `method`, `headers`, `query`, `cluster`, `request_headers`, `response_headers`, `retry_non_idempotent`; did you mean `path_prefix`?"##,
    },
    Case {
        name: "route_unknown_cluster",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
path_prefix = "/api/"
cluster = "webb"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::UnknownCluster,
        key: "listener[0].route[0].cluster",
        expected: r##"error: unknown cluster `webb` in listener[0].route[0].cluster
 --> /etc/fulcrum.toml:8:11
  |
8 | cluster = "webb"
  |           ^^^^^^ expected the name of a [[cluster]]: `web`; did you mean `web`?"##,
    },
    Case {
        name: "route_missing_cluster",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
path_prefix = "/api/"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].route[0].cluster",
        expected: r##"error: missing key `cluster` in listener[0].route[0]
 --> /etc/fulcrum.toml:6:1
  |
6 | [[listener.route]]
  | ^^^^^^^^^^^^^^^^^^ this table needs `cluster`: the name of a [[cluster]]"##,
    },
    Case {
        name: "route_duplicate_name",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
name = "api"
path_prefix = "/api/"
cluster = "web"

[[listener.route]]
name = "api"
path_prefix = "/v2/"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[0].route[1].name",
        expected: r##"error: duplicate route name `api` at listener[0].route[1].name
  --> /etc/fulcrum.toml:12:8
   |
12 | name = "api"
   |        ^^^^^ listener[0].route[0] (line 7) already has this name"##,
    },
    Case {
        name: "route_name_collides_generated",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
name = "route-2"
path_prefix = "/api/"
cluster = "web"

[[listener.route]]
path_prefix = "/v2/"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[0].route[0].name",
        expected: r##"error: duplicate route name `route-2` at listener[0].route[0].name
 --> /etc/fulcrum.toml:7:8
  |
7 | name = "route-2"
  |        ^^^^^^^^^ listener[0].route[1] has no name, so it is called `route-2`"##,
    },
    Case {
        name: "route_name_default_with_catch_all",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"

[[listener.route]]
name = "default"
path_prefix = "/api/"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[0].route[0].name",
        expected: r##"error: duplicate route name `default` at listener[0].route[0].name
 --> /etc/fulcrum.toml:8:8
  |
8 | name = "default"
  |        ^^^^^^^^^ the listener's `cluster` (line 5) adds a catch-all route called `default`"##,
    },
    Case {
        name: "two_path_matches",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
path = "/a"
path_prefix = "/api/"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].route[0].path_prefix",
        expected: r##"error: `path_prefix` in listener[0].route[0] conflicts with `path`
 --> /etc/fulcrum.toml:8:15
  |
8 | path_prefix = "/api/"
  |               ^^^^^^^ give at most one of `path`, `path_prefix`, `path_regex`"##,
    },
    Case {
        name: "bad_path_regex",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
path_regex = "^/(api"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].path_regex",
        expected: r##"error: invalid value for listener[0].route[0].path_regex: found `"^/(api"`, expected a regular expression
 --> /etc/fulcrum.toml:7:14
  |
7 | path_regex = "^/(api"
  |              ^^^^^^^^ expected a regular expression; unclosed group"##,
    },
    Case {
        name: "path_without_slash",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
path_prefix = "api/"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].path_prefix",
        expected: r##"error: invalid value for listener[0].route[0].path_prefix: found `"api/"`, expected a path starting with "/", without spaces
 --> /etc/fulcrum.toml:7:15
  |
7 | path_prefix = "api/"
  |               ^^^^^^ expected a path starting with "/", without spaces"##,
    },
    Case {
        name: "bad_method",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
method = ["GET", "PO ST"]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].method[1]",
        expected: r##"error: invalid value for listener[0].route[0].method[1]: found `"PO ST"`, expected a method name like "GET"
 --> /etc/fulcrum.toml:7:18
  |
7 | method = ["GET", "PO ST"]
  |                  ^^^^^^^ expected a method name like "GET""##,
    },
    Case {
        name: "method_int",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
method = [1]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::WrongType,
        key: "listener[0].route[0].method[0]",
        expected: r##"error: wrong type for listener[0].route[0].method[0]: found integer `1`, expected a string
 --> /etc/fulcrum.toml:7:11
  |
7 | method = [1]
  |           ^ expected a string"##,
    },
    Case {
        name: "method_empty",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
method = []
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].method",
        expected: r##"error: invalid value for listener[0].route[0].method: found `[]`, expected at least one method
 --> /etc/fulcrum.toml:7:10
  |
7 | method = []
  |          ^^ expected at least one method; leave out `method` to match any method"##,
    },
    Case {
        name: "host_bad_wildcard",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
host = "api.*.com"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].host",
        expected: r##"error: invalid value for listener[0].route[0].host: found `"api.*.com"`, expected a host name like "api.example.com" or "*.example.com"
 --> /etc/fulcrum.toml:7:8
  |
7 | host = "api.*.com"
  |        ^^^^^^^^^^^ expected a host name like "api.example.com" or "*.example.com"; `*` is allowed only as the first label"##,
    },
    Case {
        name: "header_match_no_value",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
headers = [{ name = "x-canary" }]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].route[0].headers[0].value",
        expected: r##"error: missing key `value` in listener[0].route[0].headers[0]
 --> /etc/fulcrum.toml:7:12
  |
7 | headers = [{ name = "x-canary" }]
  |            ^^^^^^^^^^^^^^^^^^^^^ this table needs one of `value`, `present = true` or `regex`"##,
    },
    Case {
        name: "header_match_two_values",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
headers = [{ name = "x-canary", value = "1", regex = "^1" }]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].route[0].headers[0].regex",
        expected: r##"error: `regex` in listener[0].route[0].headers[0] conflicts with `value`
 --> /etc/fulcrum.toml:7:54
  |
7 | headers = [{ name = "x-canary", value = "1", regex = "^1" }]
  |                                                      ^^^^ give one of `value`, `present = true` or `regex`"##,
    },
    Case {
        name: "header_match_bad_name",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
headers = [{ name = "x canary:", value = "1" }]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].headers[0].name",
        expected: r##"error: invalid value for listener[0].route[0].headers[0].name: found `"x canary:"`, expected a header name of letters, digits and !#$%&'*+-.^_`|~
 --> /etc/fulcrum.toml:7:21
  |
7 | headers = [{ name = "x canary:", value = "1" }]
  |                     ^^^^^^^^^^^ expected a header name of letters, digits and !#$%&'*+-.^_`|~; give the name without the colon"##,
    },
    Case {
        name: "header_present_false",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
headers = [{ name = "x-canary", present = false }]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].headers[0].present",
        expected: r##"error: invalid value for listener[0].route[0].headers[0].present: found `false`, expected true
 --> /etc/fulcrum.toml:7:43
  |
7 | headers = [{ name = "x-canary", present = false }]
  |                                           ^^^^^ expected true; matching on absence is not supported"##,
    },
    Case {
        name: "regex_header_bad",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
headers = [{ name = "x-user", regex = "a{2,1}" }]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].headers[0].regex",
        expected: r##"error: invalid value for listener[0].route[0].headers[0].regex: found `"a{2,1}"`, expected a regular expression
 --> /etc/fulcrum.toml:7:39
  |
7 | headers = [{ name = "x-user", regex = "a{2,1}" }]
  |                                       ^^^^^^^^ expected a regular expression; invalid repetition count range, the start must be <= the end"##,
    },
    Case {
        name: "query_bad",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
query = [{ name = "a&b", value = "1" }]
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].query[0].name",
        expected: r##"error: invalid value for listener[0].route[0].query[0].name: found `"a&b"`, expected a query parameter name without spaces, control characters, &, = or #
 --> /etc/fulcrum.toml:7:19
  |
7 | query = [{ name = "a&b", value = "1" }]
  |                   ^^^^^ expected a query parameter name without spaces, control characters, &, = or #"##,
    },
    Case {
        name: "headers_not_array",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
cluster = "web"
headers = { name = "x" }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::WrongType,
        key: "listener[0].route[0].headers",
        expected: r##"error: wrong type for listener[0].route[0].headers: found table, expected an array of tables like [{ name = "x-canary", value = "1" }]
 --> /etc/fulcrum.toml:8:11
  |
8 | headers = { name = "x" }
  |           ^^^^^^^^^^^^^^ expected an array of tables like [{ name = "x-canary", value = "1" }]"##,
    },
    Case {
        name: "set_hop_by_hop",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
cluster = "web"
request_headers = { set = { "Connection" = "close" } }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].request_headers.set",
        expected: r##"error: header `connection` cannot be set by listener[0].route[0].request_headers.set
 --> /etc/fulcrum.toml:8:29
  |
8 | request_headers = { set = { "Connection" = "close" } }
  |                             ^^^^^^^^^^^^ Fulcrum manages the hop-by-hop and framing headers itself: connection, transfer-encoding, content-length, upgrade, te, trailer, keep-alive, proxy-connection"##,
    },
    Case {
        name: "set_value_newline",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
cluster = "web"
response_headers = { add = { "x-a" = "one\ntwo" } }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].route[0].response_headers.add.x-a",
        expected: r##"error: invalid value for listener[0].route[0].response_headers.add.x-a: found `"one\ntwo"`, expected a header value of visible ASCII characters, spaces and tabs
 --> /etc/fulcrum.toml:8:38
  |
8 | response_headers = { add = { "x-a" = "one\ntwo" } }
  |                                      ^^^^^^^^^^ expected a header value of visible ASCII characters, spaces and tabs; a header value cannot span lines"##,
    },
    Case {
        name: "set_duplicate_case",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"

[[listener.route]]
cluster = "web"
request_headers = { set = { "X-Env" = "prod", "x-env" = "dev" } }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[0].route[0].request_headers.set",
        expected: r##"error: duplicate header `x-env` in listener[0].route[0].request_headers.set
 --> /etc/fulcrum.toml:8:47
  |
8 | request_headers = { set = { "X-Env" = "prod", "x-env" = "dev" } }
  |                                               ^^^^^^^ already given at line 8 (header names ignore case)"##,
    },
    Case {
        name: "error_response_bad_status",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"

[listener.error_responses]
302 = { body = "moved" }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].error_responses",
        expected: r##"error: invalid value for listener[0].error_responses: found `302`, expected a status code in 400..=599
 --> /etc/fulcrum.toml:8:1
  |
8 | 302 = { body = "moved" }
  | ^^^ expected a status code in 400..=599; Fulcrum generates only 4xx and 5xx responses"##,
    },
    Case {
        name: "error_response_missing_body",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"

[listener.error_responses]
503 = { content_type = "text/html" }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].error_responses.503.body",
        expected: r##"error: missing key `body` in listener[0].error_responses.503
 --> /etc/fulcrum.toml:8:7
  |
8 | 503 = { content_type = "text/html" }
  |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ this table needs `body`: a string"##,
    },
    Case {
        name: "content_type_bad",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"

[listener.error_responses]
500 = { body = "x", content_type = "html" }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].error_responses.500.content_type",
        expected: r##"error: invalid value for listener[0].error_responses.500.content_type: found `"html"`, expected a media type like "text/html"
 --> /etc/fulcrum.toml:8:36
  |
8 | 500 = { body = "x", content_type = "html" }
  |                                    ^^^^^^ expected a media type like "text/html""##,
    },
    Case {
        name: "forwarded_typo",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"
forwarded = "x-forwarded-for"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].forwarded",
        expected: r##"error: invalid value for listener[0].forwarded: found `"x-forwarded-for"`, expected one of "x-forwarded", "rfc7239", "both", "none"
 --> /etc/fulcrum.toml:6:13
  |
6 | forwarded = "x-forwarded-for"
  |             ^^^^^^^^^^^^^^^^^ expected one of "x-forwarded", "rfc7239", "both", "none"; did you mean "x-forwarded"?"##,
    },
    Case {
        name: "request_id_bad",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"
request_id = "x request id"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].request_id",
        expected: r##"error: invalid value for listener[0].request_id: found `"x request id"`, expected a header name of letters, digits and !#$%&'*+-.^_`|~
 --> /etc/fulcrum.toml:6:14
  |
6 | request_id = "x request id"
  |              ^^^^^^^^^^^^^^ expected a header name of letters, digits and !#$%&'*+-.^_`|~"##,
    },
    Case {
        name: "request_id_integer",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"
request_id = 1

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::WrongType,
        key: "listener[0].request_id",
        expected: r##"error: wrong type for listener[0].request_id: found integer `1`, expected a header name of letters, digits and !#$%&'*+-.^_`|~ or false
 --> /etc/fulcrum.toml:6:14
  |
6 | request_id = 1
  |              ^ expected a header name of letters, digits and !#$%&'*+-.^_`|~ or false"##,
    },
    Case {
        name: "request_timeout_true",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"

[listener.timeouts]
request = true

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].timeouts.request",
        expected: r##"error: invalid value for listener[0].timeouts.request: found `true`, expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns) or false
 --> /etc/fulcrum.toml:8:11
  |
8 | request = true
  |           ^^^^ expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns) or false; `true` says no duration; give one like "60s""##,
    },
    Case {
        name: "limits_header_too_small",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"

[listener.limits]
max_header_bytes = "512B"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].limits.max_header_bytes",
        expected: r##"error: invalid value for listener[0].limits.max_header_bytes: found `"512B"`, expected a size in 1KiB..=1MiB like 65536, "64KiB" or "64KB" (units B, KB, MB, GB, KiB, MiB, GiB)
 --> /etc/fulcrum.toml:8:20
  |
8 | max_header_bytes = "512B"
  |                    ^^^^^^ expected a size in 1KiB..=1MiB like 65536, "64KiB" or "64KB" (units B, KB, MB, GB, KiB, MiB, GiB)"##,
    },
    Case {
        name: "limits_uri_above_header",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"

[listener.limits]
max_header_bytes = "4KiB"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].limits.max_header_bytes",
        expected: r##"error: max_uri_bytes (8KiB) is larger than max_header_bytes (4KiB) in listener[0].limits
 --> /etc/fulcrum.toml:8:20
  |
8 | max_header_bytes = "4KiB"
  |                    ^^^^^^ the request line is part of the request head, so max_uri_bytes must not exceed max_header_bytes"##,
    },
    Case {
        name: "limits_headers_zero",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "web"

[listener.limits]
max_headers = 0

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].limits.max_headers",
        expected: r##"error: invalid value for listener[0].limits.max_headers: found `0`, expected an integer in 1..=1000
 --> /etc/fulcrum.toml:8:15
  |
8 | max_headers = 0
  |               ^ expected an integer in 1..=1000"##,
    },
    Case {
        name: "proxy_from_host_bits",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "web"
proxy_protocol_from = ["10.1.2.3/8"]

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].proxy_protocol_from[0]",
        expected: r##"error: invalid value for listener[0].proxy_protocol_from[0]: found `"10.1.2.3/8"`, expected an IP address or a network like "10.0.0.0/8" or "fd00::/8"
 --> /etc/fulcrum.toml:5:24
  |
5 | proxy_protocol_from = ["10.1.2.3/8"]
  |                        ^^^^^^^^^^^^ expected an IP address or a network like "10.0.0.0/8" or "fd00::/8"; host bits are set; did you mean "10.0.0.0/8"?"##,
    },
    Case {
        name: "proxy_from_hostname",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "web"
proxy_protocol_from = ["lb.internal", "10.0.0.0/33"]

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].proxy_protocol_from[0]",
        expected: r##"error: invalid value for listener[0].proxy_protocol_from[0]: found `"lb.internal"`, expected an IP address or a network like "10.0.0.0/8" or "fd00::/8"
 --> /etc/fulcrum.toml:5:24
  |
5 | proxy_protocol_from = ["lb.internal", "10.0.0.0/33"]
  |                        ^^^^^^^^^^^^^ expected an IP address or a network like "10.0.0.0/8" or "fd00::/8"; host names are not resolved

error: invalid value for listener[0].proxy_protocol_from[1]: found `"10.0.0.0/33"`, expected an IP address or a network like "10.0.0.0/8" or "fd00::/8"
 --> /etc/fulcrum.toml:5:39
  |
5 | proxy_protocol_from = ["lb.internal", "10.0.0.0/33"]
  |                                       ^^^^^^^^^^^^^ expected an IP address or a network like "10.0.0.0/8" or "fd00::/8"; the prefix length is 0..=32

error: /etc/fulcrum.toml has 2 errors"##,
    },
    Case {
        name: "http_several_errors",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
access_log = "common"

[listener.timeouts]
header = "0s"

[[listener.route]]
name = "api"
host = "*"
cluster = "api"
request_headers = { add = { "Transfer-Encoding" = "chunked" } }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].access_log",
        expected: r##"error: invalid value for listener[0].access_log: found `"common"`, expected one of "off", "combined", "json"
 --> /etc/fulcrum.toml:5:14
  |
5 | access_log = "common"
  |              ^^^^^^^^ expected one of "off", "combined", "json"; did you mean "combined"?

error: invalid value for listener[0].timeouts.header: found `"0s"`, expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)
 --> /etc/fulcrum.toml:8:10
  |
8 | header = "0s"
  |          ^^^^ expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)

error: invalid value for listener[0].route[0].host: found `"*"`, expected a host name like "api.example.com" or "*.example.com"
  --> /etc/fulcrum.toml:12:8
   |
12 | host = "*"
   |        ^^^ expected a host name like "api.example.com" or "*.example.com"; leave out `host` to match any host

error: unknown cluster `api` in listener[0].route[0].cluster
  --> /etc/fulcrum.toml:13:11
   |
13 | cluster = "api"
   |           ^^^^^ expected the name of a [[cluster]]: `web`

error: header `transfer-encoding` cannot be added by listener[0].route[0].request_headers.add
  --> /etc/fulcrum.toml:14:29
   |
14 | request_headers = { add = { "Transfer-Encoding" = "chunked" } }
   |                             ^^^^^^^^^^^^^^^^^^^ Fulcrum manages the hop-by-hop and framing headers itself: connection, transfer-encoding, content-length, upgrade, te, trailer, keep-alive, proxy-connection

error: /etc/fulcrum.toml has 5 errors"##,
    },
    Case {
        name: "balance_new_typo",
        toml: r##"[[cluster]]
name = "web"
balance = "maglve"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].balance",
        expected: r##"error: invalid value for cluster[0].balance: found `"maglve"`, expected one of "round_robin", "weighted_round_robin", "least_conn", "p2c", "p2c_ewma", "random", "source_ip", "ring_hash", "maglev"
 --> /etc/fulcrum.toml:3:11
  |
3 | balance = "maglve"
  |           ^^^^^^^^ expected one of "round_robin", "weighted_round_robin", "least_conn", "p2c", "p2c_ewma", "random", "source_ip", "ring_hash", "maglev"; did you mean "maglev"?"##,
    },
    Case {
        name: "hash_key_wrong_balance",
        toml: r##"[[cluster]]
name = "web"
hash_key = "header:x-user"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].hash_key",
        expected: r##"error: `hash_key` in cluster[0] needs a balance that hashes
 --> /etc/fulcrum.toml:3:12
  |
3 | hash_key = "header:x-user"
  |            ^^^^^^^^^^^^^^^ only balance = "source_ip", "ring_hash" or "maglev" hash a key; cluster[0] has no `balance`, so "round_robin""##,
    },
    Case {
        name: "hash_key_bad",
        toml: r##"[[cluster]]
name = "web"
balance = "ring_hash"
hash_key = "client-ip"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].hash_key",
        expected: r##"error: invalid value for cluster[0].hash_key: found `"client-ip"`, expected "client_ip", "header:NAME", "cookie:NAME" or "path"
 --> /etc/fulcrum.toml:4:12
  |
4 | hash_key = "client-ip"
  |            ^^^^^^^^^^^ expected "client_ip", "header:NAME", "cookie:NAME" or "path"; did you mean "client_ip"?"##,
    },
    Case {
        name: "hash_key_header_bad_name",
        toml: r##"[[cluster]]
name = "web"
balance = "ring_hash"
hash_key = "header:x user"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].hash_key",
        expected: r##"error: invalid value for cluster[0].hash_key: found `"header:x user"`, expected "client_ip", "header:NAME", "cookie:NAME" or "path"
 --> /etc/fulcrum.toml:4:12
  |
4 | hash_key = "header:x user"
  |            ^^^^^^^^^^^^^^^ expected "client_ip", "header:NAME", "cookie:NAME" or "path"; the name is letters, digits and !#$%&'*+-.^_`|~"##,
    },
    Case {
        name: "hash_factor_source_ip",
        toml: r##"[[cluster]]
name = "web"
balance = "source_ip"
hash_balance_factor = 1.5
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].hash_balance_factor",
        expected: r##"error: `hash_balance_factor` in cluster[0] needs balance = "ring_hash" or "maglev"
 --> /etc/fulcrum.toml:4:23
  |
4 | hash_balance_factor = 1.5
  |                       ^^^ bounded load applies to consistent hashing; cluster[0] has balance "source_ip""##,
    },
    Case {
        name: "hash_factor_below_one",
        toml: r##"[[cluster]]
name = "web"
balance = "ring_hash"
hash_balance_factor = 0.9
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].hash_balance_factor",
        expected: r##"error: invalid value for cluster[0].hash_balance_factor: found `0.9`, expected a number >= 1.0
 --> /etc/fulcrum.toml:4:23
  |
4 | hash_balance_factor = 0.9
  |                       ^^^ expected a number >= 1.0"##,
    },
    Case {
        name: "ratio_out_of_range",
        toml: r##"[[cluster]]
name = "web"
panic_threshold = 1.5
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].panic_threshold",
        expected: r##"error: invalid value for cluster[0].panic_threshold: found `1.5`, expected a number in 0.0..=1.0
 --> /etc/fulcrum.toml:3:19
  |
3 | panic_threshold = 1.5
  |                   ^^^ expected a number in 0.0..=1.0; a ratio: 1.5% is 0.015"##,
    },
    Case {
        name: "ratio_string",
        toml: r##"[[cluster]]
name = "web"
panic_threshold = "50%"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::WrongType,
        key: "cluster[0].panic_threshold",
        expected: r##"error: wrong type for cluster[0].panic_threshold: found string `"50%"`, expected a number in 0.0..=1.0
 --> /etc/fulcrum.toml:3:19
  |
3 | panic_threshold = "50%"
  |                   ^^^^^ expected a number in 0.0..=1.0"##,
    },
    Case {
        name: "ratio_percent",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.retry]
budget = 20
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].retry.budget",
        expected: r##"error: invalid value for cluster[0].retry.budget: found `20`, expected a number in 0.0..=1.0
 --> /etc/fulcrum.toml:6:10
  |
6 | budget = 20
  |          ^^ expected a number in 0.0..=1.0; a ratio: 20% is 0.2"##,
    },
    Case {
        name: "priority_too_high",
        toml: r##"[[cluster]]
name = "web"
backends = [{ address = "127.0.0.1:9000", priority = 16 }]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].backends[0].priority",
        expected: r##"error: invalid value for cluster[0].backends[0].priority: found `16`, expected an integer in 0..=15
 --> /etc/fulcrum.toml:3:54
  |
3 | backends = [{ address = "127.0.0.1:9000", priority = 16 }]
  |                                                      ^^ expected an integer in 0..=15"##,
    },
    Case {
        name: "zone_bad",
        toml: r##"[[cluster]]
name = "web"
local_zone = "eu west"
backends = [{ address = "127.0.0.1:9000", zone = "" }]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].local_zone",
        expected: r##"error: invalid value for cluster[0].local_zone: found `"eu west"`, expected a zone name of 1 to 64 characters from A-Z a-z 0-9 _ . -
 --> /etc/fulcrum.toml:3:14
  |
3 | local_zone = "eu west"
  |              ^^^^^^^^^ expected a zone name of 1 to 64 characters from A-Z a-z 0-9 _ . -

error: invalid value for cluster[0].backends[0].zone: found `""`, expected a zone name of 1 to 64 characters from A-Z a-z 0-9 _ . -
 --> /etc/fulcrum.toml:4:50
  |
4 | backends = [{ address = "127.0.0.1:9000", zone = "" }]
  |                                                  ^^ expected a zone name of 1 to 64 characters from A-Z a-z 0-9 _ . -

error: /etc/fulcrum.toml has 2 errors"##,
    },
    Case {
        name: "send_proxy_typo",
        toml: r##"[[cluster]]
name = "web"
send_proxy_protocol = "2"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].send_proxy_protocol",
        expected: r##"error: invalid value for cluster[0].send_proxy_protocol: found `"2"`, expected one of "v1", "v2"
 --> /etc/fulcrum.toml:3:23
  |
3 | send_proxy_protocol = "2"
  |                       ^^^ expected one of "v1", "v2""##,
    },
    Case {
        name: "pool_idle_negative",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.pool]
max_idle = -1
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].pool.max_idle",
        expected: r##"error: invalid value for cluster[0].pool.max_idle: found `-1`, expected an integer in 0..=65536
 --> /etc/fulcrum.toml:6:12
  |
6 | max_idle = -1
  |            ^^ expected an integer in 0..=65536"##,
    },
    Case {
        name: "health_http_key_on_tcp",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.health]
path = "/healthz"
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].health.path",
        expected: r##"error: `path` in cluster[0].health needs kind = "http"
 --> /etc/fulcrum.toml:6:8
  |
6 | path = "/healthz"
  |        ^^^^^^^^^^ a tcp check only connects; cluster[0].health has no `kind`, so "tcp""##,
    },
    Case {
        name: "health_kind_typo",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.health]
kind = "https"
path = "/healthz"
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].health.kind",
        expected: r##"error: invalid value for cluster[0].health.kind: found `"https"`, expected one of "tcp", "http"
 --> /etc/fulcrum.toml:6:8
  |
6 | kind = "https"
  |        ^^^^^^^ expected one of "tcp", "http"; did you mean "http"?"##,
    },
    Case {
        name: "health_timeout_over_interval",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.health]
interval = "1s"
timeout = "2s"
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].health.timeout",
        expected: r##"error: invalid value for cluster[0].health.timeout: found `"2s"`, expected a duration no longer than interval (1s)
 --> /etc/fulcrum.toml:7:11
  |
7 | timeout = "2s"
  |           ^^^^ expected a duration no longer than interval (1s)"##,
    },
    Case {
        name: "health_timeout_default_over_interval",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.health]
interval = "500ms"
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].health.interval",
        expected: r##"error: invalid value for cluster[0].health.interval: found `"500ms"`, expected a duration no shorter than timeout (1s)
 --> /etc/fulcrum.toml:6:12
  |
6 | interval = "500ms"
  |            ^^^^^^^ expected a duration no shorter than timeout (1s)"##,
    },
    Case {
        name: "health_interval_zero",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.health]
interval = "0s"
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].health.interval",
        expected: r##"error: invalid value for cluster[0].health.interval: found `"0s"`, expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)
 --> /etc/fulcrum.toml:6:12
  |
6 | interval = "0s"
  |            ^^^^ expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)"##,
    },
    Case {
        name: "health_expect_status_bad",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.health]
kind = "http"
expect_status = ["200", "399-200", 600]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].health.expect_status[1]",
        expected: r##"error: invalid value for cluster[0].health.expect_status[1]: found `"399-200"`, expected a status code in 100..=599 or a range of them like "200-399"
 --> /etc/fulcrum.toml:7:25
  |
7 | expect_status = ["200", "399-200", 600]
  |                         ^^^^^^^^^ expected a status code in 100..=599 or a range of them like "200-399"

error: invalid value for cluster[0].health.expect_status[2]: found `600`, expected a status code in 100..=599 or a range of them like "200-399"
 --> /etc/fulcrum.toml:7:36
  |
7 | expect_status = ["200", "399-200", 600]
  |                                    ^^^ expected a status code in 100..=599 or a range of them like "200-399"

error: /etc/fulcrum.toml has 2 errors"##,
    },
    Case {
        name: "health_rise_zero",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.health]
rise = 0
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].health.rise",
        expected: r##"error: invalid value for cluster[0].health.rise: found `0`, expected an integer in 1..=100
 --> /etc/fulcrum.toml:6:8
  |
6 | rise = 0
  |        ^ expected an integer in 1..=100"##,
    },
    Case {
        name: "unknown_health_key",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.health]
intervall = "2s"
"##,
        kind: ErrorKind::UnknownKey,
        key: "cluster[0].health.intervall",
        expected: r##"error: unknown key `intervall` in cluster[0].health
 --> /etc/fulcrum.toml:6:1
  |
6 | intervall = "2s"
  | ^^^^^^^^^ expected one of `kind`, `path`, `method`, `host`, `expect_status`, `expect_body`, `interval`, `timeout`, `jitter`, `rise`, `fall`; did you mean `interval`?"##,
    },
    Case {
        name: "outlier_max_below_base",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.outlier]
base_ejection_time = "1m"
max_ejection_time = "30s"
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].outlier.max_ejection_time",
        expected: r##"error: invalid value for cluster[0].outlier.max_ejection_time: found `"30s"`, expected a duration no shorter than base_ejection_time (1m)
 --> /etc/fulcrum.toml:7:21
  |
7 | max_ejection_time = "30s"
  |                     ^^^^^ expected a duration no shorter than base_ejection_time (1m)"##,
    },
    Case {
        name: "outlier_base_above_default_max",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.outlier]
base_ejection_time = "10m"
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].outlier.base_ejection_time",
        expected: r##"error: invalid value for cluster[0].outlier.base_ejection_time: found `"10m"`, expected a duration no longer than max_ejection_time (5m)
 --> /etc/fulcrum.toml:6:22
  |
6 | base_ejection_time = "10m"
  |                      ^^^^^ expected a duration no longer than max_ejection_time (5m)"##,
    },
    Case {
        name: "max_ejected_negative",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.outlier]
max_ejected = -0.1
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].outlier.max_ejected",
        expected: r##"error: invalid value for cluster[0].outlier.max_ejected: found `-0.1`, expected a number in 0.0..=1.0
 --> /etc/fulcrum.toml:6:15
  |
6 | max_ejected = -0.1
  |               ^^^^ expected a number in 0.0..=1.0"##,
    },
    Case {
        name: "retry_on_bad",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.retry]
on = ["connect_failure", "404", 503]
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].retry.on[0]",
        expected: r##"error: invalid value for cluster[0].retry.on[0]: found `"connect_failure"`, expected "connect-failure", "reset" or a status code in 500..=599
 --> /etc/fulcrum.toml:6:7
  |
6 | on = ["connect_failure", "404", 503]
  |       ^^^^^^^^^^^^^^^^^ expected "connect-failure", "reset" or a status code in 500..=599; did you mean "connect-failure"?

error: invalid value for cluster[0].retry.on[1]: found `"404"`, expected "connect-failure", "reset" or a status code in 500..=599
 --> /etc/fulcrum.toml:6:26
  |
6 | on = ["connect_failure", "404", 503]
  |                          ^^^^^ expected "connect-failure", "reset" or a status code in 500..=599

error: /etc/fulcrum.toml has 2 errors"##,
    },
    Case {
        name: "retry_on_single_bad",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.retry]
on = "timeout"
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].retry.on",
        expected: r##"error: invalid value for cluster[0].retry.on: found `"timeout"`, expected "connect-failure", "reset" or a status code in 500..=599
 --> /etc/fulcrum.toml:6:6
  |
6 | on = "timeout"
  |      ^^^^^^^^^ expected "connect-failure", "reset" or a status code in 500..=599"##,
    },
    Case {
        name: "retry_on_empty",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.retry]
attempts = 2
on = []
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].retry.on",
        expected: r##"error: invalid value for cluster[0].retry.on: found `[]`, expected at least one retry condition
 --> /etc/fulcrum.toml:7:6
  |
7 | on = []
  |      ^^ expected at least one retry condition; set attempts = 0 to turn retries off"##,
    },
    Case {
        name: "retry_attempts_too_many",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.retry]
attempts = 11
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].retry.attempts",
        expected: r##"error: invalid value for cluster[0].retry.attempts: found `11`, expected an integer in 0..=10
 --> /etc/fulcrum.toml:6:12
  |
6 | attempts = 11
  |            ^^ expected an integer in 0..=10"##,
    },
    Case {
        name: "limits_zero",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.limits]
max_pending = 0
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].limits.max_pending",
        expected: r##"error: invalid value for cluster[0].limits.max_pending: found `0`, expected an integer >= 1
 --> /etc/fulcrum.toml:6:15
  |
6 | max_pending = 0
  |               ^ expected an integer >= 1"##,
    },
    Case {
        name: "persistence_missing_kind",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.persistence]
name = "x"
"##,
        kind: ErrorKind::MissingKey,
        key: "cluster[0].persistence.kind",
        expected: r##"error: missing key `kind` in cluster[0].persistence
 --> /etc/fulcrum.toml:5:1
  |
5 | [cluster.persistence]
  | ^^^^^^^^^^^^^^^^^^^^^ this table needs `kind`: one of "cookie", "source_ip""##,
    },
    Case {
        name: "persistence_ttl_on_cookie",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.persistence]
kind = "cookie"
ttl = "10m"
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].persistence.ttl",
        expected: r##"error: `ttl` in cluster[0].persistence needs kind = "source_ip"
 --> /etc/fulcrum.toml:7:7
  |
7 | ttl = "10m"
  |       ^^^^^ cluster[0].persistence has kind "cookie""##,
    },
    Case {
        name: "persistence_name_on_source_ip",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.persistence]
kind = "source_ip"
name = "srv"
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].persistence.name",
        expected: r##"error: `name` in cluster[0].persistence needs kind = "cookie"
 --> /etc/fulcrum.toml:7:8
  |
7 | name = "srv"
  |        ^^^^^ cluster[0].persistence has kind "source_ip""##,
    },
    Case {
        name: "persistence_cookie_bad_name",
        toml: r##"[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.persistence]
kind = "cookie"
name = "my cookie"
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].persistence.name",
        expected: r##"error: invalid value for cluster[0].persistence.name: found `"my cookie"`, expected a cookie name of letters, digits and !#$%&'*+-.^_`|~
 --> /etc/fulcrum.toml:7:8
  |
7 | name = "my cookie"
  |        ^^^^^^^^^^^ expected a cookie name of letters, digits and !#$%&'*+-.^_`|~"##,
    },
    Case {
        name: "cookie_persistence_tcp_only",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "web"

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]

[cluster.persistence]
kind = "cookie"
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].persistence.kind",
        expected: r##"error: cluster `web` has cookie persistence but only tcp listener `db` uses it
  --> /etc/fulcrum.toml:11:8
   |
11 | kind = "cookie"
   |        ^^^^^^^^ listener[0] (line 4) is a tcp listener: it cannot set cookies; use kind = "source_ip""##,
    },
    Case {
        name: "h2_cluster_tcp_listener",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "web"

[[cluster]]
name = "web"
protocol = "h2"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].protocol",
        expected: r##"error: cluster `web` has protocol = "h2" but tcp listener `db` uses it
 --> /etc/fulcrum.toml:8:12
  |
8 | protocol = "h2"
  |            ^^^^ listener[0] (line 4) is a tcp listener: it relays bytes as they are and cannot speak h2 to backends"##,
    },
    Case {
        name: "hash_header_tcp_listener",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "web"

[[cluster]]
name = "web"
balance = "maglev"
hash_key = "cookie:session"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].hash_key",
        expected: r##"error: cluster `web` hashes `cookie:session` but tcp listener `db` uses it
 --> /etc/fulcrum.toml:9:12
  |
9 | hash_key = "cookie:session"
  |            ^^^^^^^^^^^^^^^^ listener[0] (line 4) is a tcp listener: it has no headers, cookies or paths; use hash_key = "client_ip""##,
    },
];
