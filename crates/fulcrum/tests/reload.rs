//! SIGHUP reload: applied reloads change listeners and backends without cutting established
//! connections; rejected ones leave the running config serving.

mod support;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use support::*;

/// Opens a connection to a hold backend and returns it with the backend's name.
fn open_held(f: &Fulcrum, listen: SocketAddr) -> (TcpStream, String) {
    let mut s =
        try_connect(listen).unwrap_or_else(|e| panic!("connect to {listen}: {e}{}", f.diag()));
    let name = read_line(&mut s)
        .unwrap_or_else(|e| panic!("no greeting through {listen}: {e}{}", f.diag()));
    (s, name)
}

/// Every string value in a JSON document.
fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| json_strings(x, out)),
        _ => {}
    }
}

#[test]
fn reload_adds_and_removes_listeners_and_backends_without_cutting_connections() {
    let old1 = TestServer::hold("old1");
    let old2 = TestServer::hold("old2");
    let new3 = TestServer::hold("new3");
    let admin = free_port();
    let (la, lb, lc) = (free_addr(), free_addr(), free_addr());
    let head = config_head(admin, 2);
    let cfg1 = head.clone()
        + &listener_toml("lis-a", &la.to_string(), "c", "")
        + &listener_toml("lis-b", &lb.to_string(), "c", "")
        + &cluster_toml(
            "c",
            "round_robin",
            &[backend(old1.addr()), backend(old2.addr())],
            "",
        );
    let f = Fulcrum::start(&cfg1);
    assert_eq!(f.generation(), 1, "first generation{}", f.diag());

    // Long connections through both listeners.
    let (mut long_a, on_a) = open_held(&f, la);
    echo_roundtrip(&mut long_a, b"before reload (a)").unwrap();
    let (mut long_b, _) = open_held(&f, lb);
    echo_roundtrip(&mut long_b, b"before reload (b)").unwrap();

    // Remove the very backend that long_a is on; keep the other; add new3.
    let (removed, kept) = if on_a == "old1" {
        (&old1, &old2)
    } else {
        (&old2, &old1)
    };
    let cfg2 = head
        + &listener_toml("lis-a", &la.to_string(), "c", "")
        + &listener_toml("lis-c", &lc.to_string(), "c", "")
        + &cluster_toml(
            "c",
            "round_robin",
            &[backend(kept.addr()), backend(new3.addr())],
            "",
        );

    // A client hammers the kept listener through the reload: none of its connects may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let hammer = {
        let (stop, done, failures) = (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&failures));
        thread::spawn(move || {
            while !stop.load(SeqCst) {
                let r = try_connect(la).and_then(|mut s| read_line(&mut s));
                if let Err(e) = r {
                    failures.lock().unwrap().push(e.to_string());
                }
                done.fetch_add(1, SeqCst);
            }
        })
    };
    assert!(
        wait_until(Duration::from_secs(5), || done.load(SeqCst) >= 10),
        "hammer made no progress before the reload{}",
        f.diag()
    );
    let generation = f.reload_ok(&cfg2);
    assert_eq!(
        generation,
        2,
        "generation after one applied reload{}",
        f.diag()
    );
    let after = done.load(SeqCst);
    assert!(
        wait_until(Duration::from_secs(5), || done.load(SeqCst) >= after + 20),
        "hammer made no progress after the reload{}",
        f.diag()
    );
    stop.store(true, SeqCst);
    hammer.join().unwrap();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "connections to the unchanged listener failed during the reload: {failures:?}{}",
        f.diag()
    );

    // Established connections were not cut, even the one on the removed backend and the one
    // through the removed listener.
    let r = echo_roundtrip(&mut long_a, b"after reload (a)");
    assert!(
        r.is_ok(),
        "long connection on removed backend {on_a} broke: {r:?}{}",
        f.diag()
    );
    let r = echo_roundtrip(&mut long_b, b"after reload (b)");
    assert!(
        r.is_ok(),
        "long connection through removed listener broke: {r:?}{}",
        f.diag()
    );

    // The removed listener refuses new connects (every worker's socket is closed).
    assert!(
        wait_until(Duration::from_secs(5), || refused(lb)),
        "removed listener {lb} still accepts{}",
        f.diag()
    );
    for i in 0..10 {
        assert!(
            refused(lb),
            "removed listener {lb} accepted connect #{i}{}",
            f.diag()
        );
    }

    // New connections, through the kept and the added listener, go only to the new set.
    let removed_before = removed.accepted();
    let mut seen = BTreeSet::new();
    for i in 0..20 {
        let via = if i % 2 == 0 { la } else { lc };
        let (s, name) = open_held(&f, via);
        drop(s);
        seen.insert(name);
    }
    let want: BTreeSet<String> = [kept.server_name().to_string(), "new3".to_string()]
        .into_iter()
        .collect();
    assert_eq!(
        seen,
        want,
        "backends of new connections after the reload{}",
        f.diag()
    );
    assert_eq!(
        removed.accepted(),
        removed_before,
        "the removed backend got new connections"
    );

    // /config shows the new listeners.
    let mut strings = Vec::new();
    json_strings(&f.config_json()["config"], &mut strings);
    assert!(
        strings.iter().any(|s| s == "lis-c") && !strings.iter().any(|s| s == "lis-b"),
        "/config after reload should list lis-a and lis-c only: {strings:?}{}",
        f.diag()
    );

    // The long connections still work at the end, and close cleanly.
    echo_roundtrip(&mut long_a, b"still here").unwrap();
    echo_roundtrip(&mut long_b, b"still here").unwrap();
}

/// A small echo setup for the rejected-reload tests.
fn echo_proxy() -> (Fulcrum, TestServer, SocketAddr, u16, String) {
    let echo = TestServer::echo("echo");
    let admin = free_port();
    let listen = free_addr();
    let cfg = config_head(admin, 2)
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", "round_robin", &[backend(echo.addr())], "");
    let f = Fulcrum::start(&cfg);
    (f, echo, listen, admin, cfg)
}

fn failures(f: &Fulcrum) -> Option<f64> {
    f.metric("fulcrum_reload_failures_total")
}

/// Sends `bad` as a reload and checks it is rejected: stderr says so (with `also_in_stderr`),
/// the generation stays, the failure counter moves to `want_failures`.
fn assert_rejected(f: &Fulcrum, bad: &str, want_failures: f64, also_in_stderr: &str) {
    let rejections_before = f.stderr_text().matches("reload rejected").count();
    f.write_config(bad);
    f.sighup();
    assert!(
        wait_until(Duration::from_secs(5), || {
            f.stderr_text().matches("reload rejected").count() > rejections_before
        }),
        "no `reload rejected` in stderr after a bad reload{}",
        f.diag()
    );
    let stderr = f.stderr_text();
    let tail = &stderr[stderr
        .match_indices("reload rejected")
        .nth(rejections_before)
        .unwrap()
        .0..];
    assert!(
        tail.contains(also_in_stderr),
        "the rejection should carry the config error (expected {also_in_stderr:?}){}",
        f.diag()
    );
    let got = f.wait_metric(
        "fulcrum_reload_failures_total",
        Duration::from_secs(5),
        |v| v == want_failures,
    );
    assert_eq!(
        got,
        Some(want_failures),
        "fulcrum_reload_failures_total{}",
        f.diag()
    );
    assert_eq!(
        f.generation(),
        1,
        "a rejected reload must not change the generation{}",
        f.diag()
    );
}

#[test]
fn bad_reload_is_rejected_and_the_old_config_keeps_serving() {
    let (f, _echo, listen, admin, good) = echo_proxy();
    assert_eq!(
        failures(&f).unwrap_or(0.0),
        0.0,
        "reload failures at start{}",
        f.diag()
    );
    let mut long = connect(listen);
    echo_roundtrip(&mut long, b"before").unwrap();

    // Not TOML at all: the error names the file.
    let path = f.config_path().display().to_string();
    assert_rejected(&f, "[[listener]\nname = \"broken\n", 1.0, &path);

    // Valid TOML, invalid config: a listener names a cluster that does not exist.
    let bad_ref = config_head(admin, 2)
        + &listener_toml("l", &listen.to_string(), "no-such-cluster", "")
        + &cluster_toml("c", "round_robin", &[backend(free_addr())], "");
    assert_rejected(&f, &bad_ref, 2.0, "no-such-cluster");

    // The old config still serves: the open connection and new ones.
    let r = echo_roundtrip(&mut long, b"after");
    assert!(
        r.is_ok(),
        "open connection after rejected reloads: {r:?}{}",
        f.diag()
    );
    for i in 0..5 {
        let r = try_connect(listen).and_then(|mut s| echo_roundtrip(&mut s, b"new"));
        assert!(
            r.is_ok(),
            "new connection #{i} after rejected reloads: {r:?}{}",
            f.diag()
        );
    }

    // A good file afterwards is applied.
    let good2 = good.replace("round_robin", "least_conn");
    assert_eq!(
        f.reload_ok(&good2),
        2,
        "a good reload after rejected ones{}",
        f.diag()
    );
    assert_eq!(failures(&f), Some(2.0), "failures stay counted{}", f.diag());
}

#[test]
fn reload_with_an_unbindable_listener_is_rejected() {
    let (f, _echo, listen, admin, good) = echo_proxy();
    // Another socket (without SO_REUSEPORT) holds this port: binding it must fail.
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap();
    let bad = good.clone() + &listener_toml("l2", &taken.to_string(), "c", "");
    assert_rejected(&f, &bad, 1.0, &taken.to_string());
    // Still serving on the old listener.
    let r = try_connect(listen).and_then(|mut s| echo_roundtrip(&mut s, b"still"));
    assert!(
        r.is_ok(),
        "old listener after a rejected reload: {r:?}{}",
        f.diag()
    );
    let _ = admin;
}
