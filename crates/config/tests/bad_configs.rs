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
    assert!(CASES.len() >= 20);
    for kind in [
        ErrorKind::Syntax,
        ErrorKind::UnknownKey,
        ErrorKind::MissingKey,
        ErrorKind::WrongType,
        ErrorKind::InvalidValue,
        ErrorKind::Duplicate,
        ErrorKind::UnknownCluster,
        ErrorKind::AddressConflict,
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
  | ^^^ expected one of `name`, `bind`, `protocol`, `cluster`, `backlog`, `max_connections`, `idle_timeout`, `tcp_nodelay`, `tcp_keepalive`; did you mean `bind`?"##,
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
  |                                           ^^^^^^ expected one of `address`, `weight`; did you mean `weight`?"##,
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
        name: "protocol_http_not_yet",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"
protocol = "http"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].protocol",
        expected: r##"error: invalid value for listener[0].protocol: found `"http"`, expected "tcp"
 --> /etc/fulcrum.toml:5:12
  |
5 | protocol = "http"
  |            ^^^^^^ expected "tcp""##,
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
        expected: r##"error: invalid value for cluster[0].balance: found `"roundrobin"`, expected one of "round_robin", "weighted_round_robin", "least_conn"
 --> /etc/fulcrum.toml:3:11
  |
3 | balance = "roundrobin"
  |           ^^^^^^^^^^^^ expected one of "round_robin", "weighted_round_robin", "least_conn"; did you mean "round_robin"?"##,
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
backends = ["127.0.0.1:5433"]
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
  | ^^^^^^ expected one of `name`, `bind`, `protocol`, `cluster`, `backlog`, `max_connections`, `idle_timeout`, `tcp_nodelay`, `tcp_keepalive`; did you mean `cluster`?

error: invalid value for cluster[0].backends[1].weight: found `0`, expected an integer in 1..=1000
  --> /etc/fulcrum.toml:11:69
   |
11 | backends = ["127.0.0.1:5432", { address = "10.0.0.2:5432", weight = 0 }]
   |                                                                     ^ expected an integer in 1..=1000

error: /etc/fulcrum.toml has 4 errors"##,
    },
];
