//! Backend selection as seen from outside: which backend answered each connection.

mod support;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use support::*;

/// A fulcrum with one listener `l` over cluster `c`; returns it and the listener address.
fn start(
    workers: usize,
    balance: &str,
    backends: &[String],
    cluster_extra: &str,
) -> (Fulcrum, SocketAddr) {
    let admin = free_port();
    let listen = free_addr();
    let cfg = config_head(admin, workers)
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", balance, backends, cluster_extra);
    (Fulcrum::start(&cfg), listen)
}

/// Asks `n` connections in turn which backend answered.
fn names(f: &Fulcrum, listen: SocketAddr, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            ask_name(listen).unwrap_or_else(|e| {
                panic!("connection {i} through {listen} failed: {e}{}", f.diag())
            })
        })
        .collect()
}

fn counts(names: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for n in names {
        *m.entry(n.clone()).or_insert(0) += 1;
    }
    m
}

#[test]
fn round_robin_cycles_in_order_with_one_worker() {
    let servers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| TestServer::name(n))
        .collect();
    let backends: Vec<_> = servers.iter().map(|s| backend(s.addr())).collect();
    let (f, listen) = start(1, "round_robin", &backends, "");
    let seq = names(&f, listen, 30);
    let mut first: Vec<_> = seq[..3].to_vec();
    first.sort();
    assert_eq!(
        first,
        ["a", "b", "c"],
        "first three picks must be distinct: {seq:?}{}",
        f.diag()
    );
    for (i, n) in seq.iter().enumerate() {
        assert_eq!(
            n,
            &seq[i % 3],
            "round robin is not cyclic at connection {i}: {seq:?}{}",
            f.diag()
        );
    }
}

#[test]
fn round_robin_shares_evenly_with_two_workers() {
    let servers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| TestServer::name(n))
        .collect();
    let backends: Vec<_> = servers.iter().map(|s| backend(s.addr())).collect();
    let (f, listen) = start(2, "round_robin", &backends, "");
    let seq = names(&f, listen, 300);
    let c = counts(&seq);
    let (min, max) = (
        c.values().min().copied().unwrap_or(0),
        c.values().max().copied().unwrap_or(0),
    );
    assert!(
        c.len() == 3 && max - min <= 2,
        "300 round-robin connections over 3 backends should split 100/100/100 (±2): {c:?}{}",
        f.diag()
    );
}

#[test]
fn weighted_round_robin_follows_weights() {
    let servers: Vec<_> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| TestServer::name(n))
        .collect();
    let backends: Vec<_> = servers
        .iter()
        .zip([1, 2, 3])
        .map(|(s, w)| weighted(s.addr(), w))
        .collect();
    let (f, listen) = start(2, "weighted_round_robin", &backends, "");
    let c = counts(&names(&f, listen, 600));
    for (name, want) in [("w1", 100), ("w2", 200), ("w3", 300)] {
        let got = c.get(name).copied().unwrap_or(0);
        assert!(
            got.abs_diff(want) <= 18,
            "weights 1:2:3 over 600 connections: {name} got {got}, want {want} ±18 (3%); all {c:?}{}",
            f.diag()
        );
    }
}

/// Opens a connection to a hold backend and returns it with the backend's name.
fn open_held(f: &Fulcrum, listen: SocketAddr) -> (TcpStream, String) {
    let mut s = connect(listen);
    let name = read_line(&mut s)
        .unwrap_or_else(|e| panic!("no greeting through {listen}: {e}{}", f.diag()));
    (s, name)
}

fn wait_listener_active(f: &Fulcrum, want: f64) {
    let key = "fulcrum_listener_connections_active{listener=\"l\"}";
    let got = f.wait_metric(key, Duration::from_secs(5), |v| v == want);
    assert_eq!(
        got,
        Some(want),
        "{key} did not settle at {want}{}",
        f.diag()
    );
}

#[test]
fn least_conn_avoids_the_loaded_backend() {
    let servers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| TestServer::hold(n))
        .collect();
    let backends: Vec<_> = servers.iter().map(|s| backend(s.addr())).collect();
    let (f, listen) = start(2, "least_conn", &backends, "");

    // Nine long connections, opened one after another, spread 3/3/3.
    let mut held: Vec<(TcpStream, String)> = (0..9).map(|_| open_held(&f, listen)).collect();
    let c = counts(&held.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>());
    assert!(
        c.values().all(|&v| v == 3) && c.len() == 3,
        "least_conn spread of 9: {c:?}{}",
        f.diag()
    );

    // Skew: close the ones on b and c; a keeps three.
    held.retain(|(_, n)| n == "a");
    assert!(
        wait_until(Duration::from_secs(5), || servers[1].active() == 0
            && servers[2].active() == 0),
        "b and c did not see their connections close{}",
        f.diag()
    );
    wait_listener_active(&f, 3.0);

    // Short connections never go to the loaded backend.
    let mut short = Vec::new();
    for _ in 0..12 {
        let (s, name) = open_held(&f, listen);
        short.push(name);
        drop(s);
        wait_listener_active(&f, 3.0);
    }
    assert!(
        !short.iter().any(|n| n == "a"),
        "least_conn sent short connections to `a`, which holds 3 while b and c hold 0: {short:?}{}",
        f.diag()
    );

    // Six more long connections fill b and c up to a's three.
    let more: Vec<_> = (0..6).map(|_| open_held(&f, listen)).collect();
    let c = counts(&more.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>());
    assert_eq!(
        (c.get("a"), c.get("b"), c.get("c")),
        (None, Some(&3), Some(&3)),
        "with a=3, b=0, c=0 open, six new long connections should go 3 to b and 3 to c: {c:?}{}",
        f.diag()
    );
}

#[test]
fn dead_backend_is_skipped() {
    let a = TestServer::name("a");
    let b = TestServer::name("b");
    let dead = free_addr(); // nothing listens here: connects are refused
    let backends = vec![backend(a.addr()), backend(dead), backend(b.addr())];
    let (f, listen) = start(2, "round_robin", &backends, "connect_attempts = 3");
    let seq = names(&f, listen, 30);
    assert!(
        seq.iter().all(|n| n == "a" || n == "b"),
        "every connection must reach a live backend: {seq:?}{}",
        f.diag()
    );
    let total = |addr: SocketAddr| {
        f.metric(&format!(
            "fulcrum_backend_connections_total{{cluster=\"c\",backend=\"{addr}\"}}"
        ))
        .unwrap_or(0.0)
    };
    assert_eq!(
        total(a.addr()) + total(b.addr()),
        30.0,
        "fulcrum_backend_connections_total of the live backends{}\n{}",
        f.diag(),
        f.metrics()
    );
    assert_eq!(
        total(dead),
        0.0,
        "no connection can be established to the dead backend"
    );
    // The failed connects are counted against the dead backend in some connect-error series.
    let metrics = f.metrics();
    let errors: f64 = parse_metrics(&metrics)
        .iter()
        .filter(|s| s.name.contains("connect_error") || s.name.contains("connect_fail"))
        .filter(|s| s.label("backend") == Some(&dead.to_string()))
        .map(|s| s.value)
        .sum();
    assert!(
        errors >= 1.0,
        "expected a connect-error counter > 0 for backend {dead}; metrics:\n{metrics}{}",
        f.diag()
    );
}

#[test]
fn all_backends_dead_closes_the_client() {
    let backends = vec![backend(free_addr()), backend(free_addr())];
    let (f, listen) = start(2, "round_robin", &backends, "");
    let r = ask_name(listen);
    assert!(
        r.is_err(),
        "no backend is alive, yet the client got {r:?}{}",
        f.diag()
    );
    // Closed rather than held: the error is an EOF or a reset, not a read timeout.
    let kind = r.unwrap_err().kind();
    assert!(
        !matches!(
            kind,
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "the client was left hanging instead of closed{}",
        f.diag()
    );
}
