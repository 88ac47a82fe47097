//! Runtime control through the admin API: disable, enable, drain and weight change what new
//! connections get, at once and without a reload; a drained backend's open connections go
//! on; the admin state survives a reload that leaves the backend alone and is reset by one
//! that changes it.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use support::*;

/// Sends `METHOD path` with `body` to the admin API; returns (status, body).
fn call(f: &Fulcrum, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&f.admin, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        f.admin,
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    (status.unwrap_or(0), body.to_string())
}

/// `call` that must answer 200.
fn ok(f: &Fulcrum, method: &str, path: &str, body: &str) -> serde_json::Value {
    let (status, text) = call(f, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {text}{}", f.diag());
    serde_json::from_str(&text).unwrap()
}

/// One backend's entry in `/backends`.
fn state(f: &Fulcrum, cluster: &str, addr: SocketAddr) -> serde_json::Value {
    let r = f.get("/backends").unwrap();
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let c = doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == cluster)
        .unwrap_or_else(|| panic!("no cluster {cluster}: {}", r.body))
        .clone();
    c["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["address"] == addr.to_string())
        .unwrap_or_else(|| panic!("no backend {addr}: {}", r.body))
        .clone()
}

fn counts(f: &Fulcrum, listen: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in 0..n {
        let name = ask_name(listen)
            .unwrap_or_else(|e| panic!("connection {i} through {listen}: {e}{}", f.diag()));
        *m.entry(name).or_insert(0) += 1;
    }
    m
}

fn path(addr: SocketAddr, verb: &str) -> String {
    format!("/backends/c/{addr}/{verb}")
}

#[test]
fn disable_enable_and_weight_take_effect_at_once() {
    let servers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| TestServer::name(n))
        .collect();
    let backends: Vec<_> = servers.iter().map(|s| backend(s.addr())).collect();
    let admin = free_port();
    let listen = free_addr();
    let cfg = config_head(admin, 1)
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", "weighted_round_robin", &backends, "");
    let f = Fulcrum::start(&cfg);
    let (a, b) = (servers[0].addr(), servers[1].addr());

    let doc = ok(&f, "POST", &path(b, "disable"), "");
    assert_eq!(doc["admin_state"], "disabled");
    let seen = counts(&f, listen, 30);
    assert_eq!(seen.get("b"), None, "{seen:?}{}", f.diag());
    assert_eq!((seen["a"], seen["c"]), (15, 15), "{seen:?}");
    let key =
        format!("fulcrum_backend_admin_state{{cluster=\"c\",backend=\"{b}\",state=\"disabled\"}}");
    assert_eq!(f.metric(&key), Some(1.0));
    assert!(
        f.stderr_text().contains("admin: backend disabled"),
        "{}",
        f.diag()
    );

    ok(&f, "POST", &path(b, "enable"), "");
    assert_eq!(counts(&f, listen, 30)["b"], 10);

    // Weight 3 for a: shares 3:1:1, exactly, with one worker and smooth WRR.
    let doc = ok(&f, "PUT", &path(a, "weight"), "3");
    assert_eq!(
        (doc["weight"].clone(), doc["config_weight"].clone()),
        (3.into(), 1.into())
    );
    let seen = counts(&f, listen, 50);
    assert_eq!((seen["a"], seen["b"], seen["c"]), (30, 10, 10), "{seen:?}");
    ok(&f, "POST", &format!("{}?value=1", path(a, "weight")), "");
    assert_eq!(counts(&f, listen, 30)["a"], 10);
    ok(&f, "DELETE", &path(a, "weight"), "");
    assert_eq!(
        state(&f, "c", a)["weight_override"],
        serde_json::Value::Null
    );

    // Errors change nothing.
    assert_eq!(call(&f, "PUT", &path(a, "weight"), "0").0, 400);
    assert_eq!(call(&f, "PUT", &path(a, "weight"), "lots").0, 400);
    assert_eq!(
        call(&f, "POST", &format!("/backends/nope/{a}/disable"), "").0,
        404
    );
    assert_eq!(
        call(&f, "POST", "/backends/c/127.0.0.1:1/disable", "").0,
        404
    );
    assert_eq!(call(&f, "GET", &path(a, "disable"), "").0, 405);
    assert_eq!(state(&f, "c", a)["admin_state"], "enabled");
}

#[test]
fn drain_lets_open_connections_finish_and_sends_new_ones_elsewhere() {
    let x = TestServer::hold("x");
    let y = TestServer::hold("y");
    let admin = free_port();
    let listen = free_addr();
    let cfg = config_head(admin, 2)
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml(
            "c",
            "round_robin",
            &[backend(x.addr()), backend(y.addr())],
            "",
        );
    let f = Fulcrum::start(&cfg);

    let mut long = connect(listen);
    let name = read_line(&mut long).unwrap();
    let (drained, other) = if name == "x" { (&x, &y) } else { (&y, &x) };
    let doc = ok(&f, "POST", &path(drained.addr(), "drain"), "");
    assert_eq!(doc["admin_state"], "draining");
    assert_eq!(
        (doc["active"].clone(), doc["drained"].clone()),
        (1.into(), false.into())
    );

    // New connections avoid it; the open one still works both ways.
    for _ in 0..10 {
        let mut s = connect(listen);
        assert_eq!(
            read_line(&mut s).unwrap(),
            other.server_name(),
            "{}",
            f.diag()
        );
    }
    echo_roundtrip(&mut long, b"still here after drain").unwrap();
    assert_eq!(drained.active(), 1);

    // When it closes, the backend is drained.
    drop(long);
    assert!(
        wait_until(
            Duration::from_secs(5),
            || state(&f, "c", drained.addr())["drained"] == true
        ),
        "{}",
        f.diag()
    );
    ok(&f, "POST", &path(drained.addr(), "enable"), "");
    let mut names: Vec<_> = (0..4)
        .map(|_| read_line(&mut connect(listen)).unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names, ["x", "y"], "{}", f.diag());
}

#[test]
fn admin_state_survives_reloads_that_leave_the_backend_alone() {
    let servers: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| TestServer::name(n))
        .collect();
    let addr = |i: usize| servers[i].addr();
    let admin = free_port();
    let listen = free_addr();
    let head = config_head(admin, 1) + &listener_toml("l", &listen.to_string(), "c", "");
    let cfg =
        |entries: &[String]| head.clone() + &cluster_toml("c", "weighted_round_robin", entries, "");
    let f = Fulcrum::start(&cfg(&[
        backend(addr(0)),
        backend(addr(1)),
        backend(addr(2)),
    ]));

    ok(&f, "POST", &path(addr(1), "disable"), "");
    ok(&f, "PUT", &path(addr(2), "weight"), "4");

    // Add d: b and c are untouched, so they keep their admin state.
    f.reload_ok(&cfg(&[
        backend(addr(0)),
        backend(addr(1)),
        backend(addr(2)),
        backend(addr(3)),
    ]));
    assert_eq!(
        state(&f, "c", addr(1))["admin_state"],
        "disabled",
        "{}",
        f.diag()
    );
    assert_eq!(state(&f, "c", addr(2))["weight"], 4);
    let seen = counts(&f, listen, 60);
    assert_eq!(seen.get("b"), None, "{seen:?}");
    assert!(
        seen["c"] > seen["a"] + seen["d"],
        "c has weight 4 of 6: {seen:?}"
    );

    // Change b's and c's entries: both go back to what the file says.
    f.reload_ok(&cfg(&[
        backend(addr(0)),
        weighted(addr(1), 2),
        weighted(addr(2), 2),
        backend(addr(3)),
    ]));
    let b = state(&f, "c", addr(1));
    assert_eq!(
        (b["admin_state"].clone(), b["weight"].clone()),
        ("enabled".into(), 2.into())
    );
    let c = state(&f, "c", addr(2));
    assert_eq!(
        (c["weight"].clone(), c["weight_override"].clone()),
        (2.into(), serde_json::Value::Null)
    );
    let seen = counts(&f, listen, 60);
    assert_eq!(
        (seen["a"], seen["b"], seen["c"], seen["d"]),
        (10, 20, 20, 10),
        "{seen:?}"
    );
}

#[test]
fn http_requests_avoid_a_drained_backend_while_its_request_in_flight_finishes() {
    use support::http_backend::HttpBackend;
    use support::raw::{RawClient, start_http};
    let x = HttpBackend::start("x");
    let y = HttpBackend::start("y");
    let (f, listen) = start_http("cluster = \"c\"", &[x.addr(), y.addr()], "");
    let get = |client: &mut RawClient, path: &str| {
        let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        client.send(req.as_bytes()).unwrap();
        let resp = client.read_response().unwrap();
        assert_eq!(resp.status, 200, "{}{}", resp.describe(), f.diag());
        resp.header("x-backend").unwrap_or_default().to_string()
    };

    // A slow request in flight, then drain the backend it is on.
    let slow = std::thread::spawn(move || {
        let mut c = RawClient::connect(listen);
        c.send(b"GET /delay/1500 HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        c.read_response().unwrap()
    });
    let mut busy = None;
    assert!(
        wait_until(Duration::from_secs(5), || {
            busy = [x.addr(), y.addr()]
                .into_iter()
                .find(|a| state(&f, "c", *a)["active"] == 1);
            busy.is_some()
        }),
        "the slow request never reached a backend{}",
        f.diag()
    );
    let busy = busy.unwrap();
    let (drained, other) = if busy == x.addr() {
        ("x", "y")
    } else {
        ("y", "x")
    };
    ok(&f, "POST", &path(busy, "drain"), "");

    // New requests, on a kept-alive connection too, all go to the other backend.
    let mut client = RawClient::connect(listen);
    for _ in 0..8 {
        assert_eq!(get(&mut client, "/"), other, "{}", f.diag());
    }
    let resp = slow.join().unwrap();
    assert_eq!(resp.status, 200, "{}", resp.describe());
    assert_eq!(resp.header("x-backend"), Some(drained));
    assert!(
        wait_until(Duration::from_secs(5), || state(&f, "c", busy)["drained"]
            == true),
        "{}",
        f.diag()
    );

    // Disabled is the same for new requests; enabled brings it back on the same connection.
    ok(&f, "POST", &path(busy, "disable"), "");
    assert_eq!(get(&mut client, "/"), other);
    ok(&f, "POST", &path(busy, "enable"), "");
    let names: Vec<_> = (0..4).map(|_| get(&mut client, "/")).collect();
    assert!(names.iter().any(|n| n == drained), "{names:?}{}", f.diag());
}
