//! Where clients go, with the real binary: a backup group takes traffic only while the
//! primary group is short of healthy backends (as active health checks see them); a cluster
//! with a `local_zone` keeps to that zone until it is short, then spills over; session
//! persistence keeps a client on its backend (an inserted cookie, or its source IP) until that
//! backend is down.
//!
//! The persistence tests need the data plane to ask `ClusterRuntime::persisted` before a pick
//! and call `ClusterRuntime::persist` after it.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use support::http_backend::HttpBackend;
use support::raw::get;
use support::*;

/// Checks every 100 ms, one failure takes a backend down, one success brings it back.
const HEALTH: &str =
    "[cluster.health]\ninterval = \"100ms\"\ntimeout = \"100ms\"\nfall = 1\nrise = 1\n";

/// A fulcrum with a tcp listener over round-robin cluster `c`: `keys` and `backends` (TOML
/// entries), with fast health checks.
fn start(backends: &[String], keys: &str) -> (Fulcrum, SocketAddr) {
    let admin = free_port();
    let listen = free_addr();
    let cfg = config_head(admin, 2)
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", "round_robin", backends, keys)
        + HEALTH;
    (Fulcrum::start(&cfg), listen)
}

fn entry(addr: SocketAddr, labels: &str) -> String {
    format!("{{ address = \"{addr}\", {labels} }}")
}

/// How many of `n` connections each backend answered.
fn spread(listen: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let name = ask_name(listen).unwrap_or_else(|e| format!("error: {e}"));
        *seen.entry(name).or_insert(0) += 1;
    }
    seen
}

fn names(seen: &BTreeMap<String, usize>) -> Vec<&str> {
    seen.keys().map(String::as_str).collect()
}

/// `/backends`' entry for cluster `c`.
fn cluster_state(f: &Fulcrum) -> serde_json::Value {
    let r = f.get("/backends").expect("GET /backends");
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    doc["clusters"][0].clone()
}

fn wait_health(f: &Fulcrum, addr: SocketAddr, health: &str) {
    let ok = wait_until(Duration::from_secs(10), || {
        let c = cluster_state(f);
        c["backends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["address"] == addr.to_string() && b["health"] == health)
    });
    assert!(ok, "{addr} never became {health}{}", f.diag());
}

#[test]
fn a_backup_group_takes_traffic_only_while_the_primary_is_short() {
    let mut a = TestServer::name("a");
    let b = TestServer::name("b");
    let backup = TestServer::name("backup");
    let a_addr = a.addr();
    let backends = [
        backend(a_addr),
        backend(b.addr()),
        entry(backup.addr(), "priority = 1"),
    ];
    let (f, listen) = start(&backends, "priority_threshold = 0.7\n");
    let seen = spread(listen, 30);
    assert_eq!(names(&seen), ["a", "b"], "{seen:?}{}", f.diag());
    let c = cluster_state(&f);
    assert_eq!(c["priority_groups"], 2);
    assert_eq!(c["priority_groups_in_use"], 1);
    assert_eq!(c["backends"][2]["priority"], 1);

    // Half of the primary group left (below 70%): the backup group joins it.
    a.stop();
    wait_health(&f, a_addr, "down");
    let seen = spread(listen, 30);
    assert_eq!(names(&seen), ["b", "backup"], "{seen:?}{}", f.diag());
    assert!(seen["backup"] >= 10, "{seen:?}");
    assert_eq!(cluster_state(&f)["priority_groups_in_use"], 2);

    // The primary is whole again: the backup gets nothing.
    let a = TestServer::name_on(a_addr, "a");
    wait_health(&f, a.addr(), "up");
    let seen = spread(listen, 30);
    assert_eq!(names(&seen), ["a", "b"], "{seen:?}{}", f.diag());
    assert_eq!(cluster_state(&f)["priority_groups_in_use"], 1);
}

#[test]
fn a_primary_above_the_threshold_keeps_the_backups_idle() {
    let a = TestServer::name("a");
    let b = TestServer::name("b");
    let mut c = TestServer::name("c");
    let backup = TestServer::name("backup");
    let c_addr = c.addr();
    let backends = [
        backend(a.addr()),
        backend(b.addr()),
        backend(c_addr),
        entry(backup.addr(), "priority = 3"),
    ];
    let (f, listen) = start(&backends, "priority_threshold = 0.6\n");
    c.stop();
    wait_health(&f, c_addr, "down");
    // Two of three (67% >= 60%): still the primary alone.
    let seen = spread(listen, 30);
    assert_eq!(names(&seen), ["a", "b"], "{seen:?}{}", f.diag());
}

#[test]
fn the_local_zone_is_preferred_until_it_is_short() {
    let mut near1 = TestServer::name("near1");
    let near2 = TestServer::name("near2");
    let far = TestServer::name("far");
    let near1_addr = near1.addr();
    let backends = [
        entry(near1_addr, "zone = \"z1\""),
        entry(near2.addr(), "zone = \"z1\""),
        entry(far.addr(), "zone = \"z2\""),
    ];
    let (f, listen) = start(&backends, "local_zone = \"z1\"\npriority_threshold = 0.5\n");
    let seen = spread(listen, 30);
    assert_eq!(names(&seen), ["near1", "near2"], "{seen:?}{}", f.diag());
    let c = cluster_state(&f);
    assert_eq!(c["local_zone"], "z1");
    assert_eq!(c["local_zone_only"], true);
    assert_eq!(c["backends"][2]["zone"], "z2");

    // Half the zone is left: 50% is not short of 0.5, it stays local.
    near1.stop();
    wait_health(&f, near1_addr, "down");
    let seen = spread(listen, 20);
    assert_eq!(names(&seen), ["near2"], "{seen:?}{}", f.diag());

    // With a threshold of 0.7 the same loss spills over to every zone.
    let text = std::fs::read_to_string(f.config_path()).unwrap();
    f.reload_ok(&text.replace("priority_threshold = 0.5", "priority_threshold = 0.7"));
    let seen = spread(listen, 30);
    assert_eq!(names(&seen), ["far", "near2"], "{seen:?}{}", f.diag());
    assert_eq!(cluster_state(&f)["local_zone_only"], false);

    // The zone whole again: local only.
    let near1 = TestServer::name_on(near1_addr, "near1");
    wait_health(&f, near1.addr(), "up");
    let seen = spread(listen, 30);
    assert_eq!(names(&seen), ["near1", "near2"], "{seen:?}{}", f.diag());
}

/// `(x-backend, Set-Cookie)` of a `GET /` through `listen`, with `cookie` sent if given.
fn http_visit(listen: SocketAddr, cookie: Option<&str>) -> (String, Option<String>) {
    let extra = cookie.map_or(String::new(), |c| format!("Cookie: other=1; {c}\r\n"));
    let r = get(listen, "app", "/", &extra);
    assert_eq!(r.status, 200, "{}", r.describe());
    let backend = r.header("x-backend").unwrap_or("?").to_string();
    (backend, r.header("set-cookie").map(str::to_owned))
}

#[test]
fn a_cookie_keeps_a_client_on_its_backend_until_the_backend_is_down() {
    let mut servers: Vec<HttpBackend> = ["a", "b", "c"].map(HttpBackend::start).into();
    let addrs: Vec<SocketAddr> = servers.iter().map(HttpBackend::addr).collect();
    let admin = free_port();
    let listen = free_addr();
    let cluster = support::raw::http_cluster(
        "c",
        &addrs,
        &format!(
            "[cluster.persistence]\nkind = \"cookie\"\nname = \"srv\"\nmax_age = \"1h\"\n{HEALTH}"
        ),
    );
    let f = Fulcrum::start(&support::raw::http_config(
        admin,
        listen,
        "cluster = \"c\"",
        &cluster,
    ));
    // Without the cookie, round robin moves the client around.
    let first: Vec<String> = (0..3).map(|_| http_visit(listen, None).0).collect();
    assert_eq!(
        first
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3,
        "{first:?}"
    );
    let (home, set) = http_visit(listen, None);
    let set = set.unwrap_or_else(|| panic!("no Set-Cookie{}", f.diag()));
    let (pair, attributes) = set.split_once("; ").unwrap();
    assert_eq!(attributes, "Path=/; HttpOnly; Max-Age=3600");
    let value = pair.strip_prefix("srv=").unwrap_or_else(|| panic!("{set}"));
    assert_eq!(value.len(), 16, "{set}");
    assert!(
        addrs.iter().all(|a| !set.contains(&a.port().to_string())),
        "{set}"
    );
    for _ in 0..10 {
        let (backend, again) = http_visit(listen, Some(pair));
        assert_eq!(backend, home, "{}", f.diag());
        assert_eq!(again, None, "the cookie is set once");
    }
    // Its backend goes down: the cookie is ignored, the client moves and gets a new one.
    let k = servers.iter().position(|s| s.name() == home).unwrap();
    servers[k].stop();
    wait_health(&f, addrs[k], "down");
    let (moved, set) = http_visit(listen, Some(pair));
    assert_ne!(moved, home);
    let set = set.unwrap_or_else(|| panic!("no new Set-Cookie{}", f.diag()));
    let pair = set.split_once("; ").unwrap().0;
    assert_ne!(pair.strip_prefix("srv="), Some(value));
    for _ in 0..10 {
        assert_eq!(http_visit(listen, Some(pair)).0, moved);
    }
}

#[test]
fn a_source_ip_keeps_to_its_backend_until_the_backend_is_down() {
    let mut servers: Vec<TestServer> = ["a", "b", "c"].map(TestServer::name).into();
    let addrs: Vec<SocketAddr> = servers.iter().map(TestServer::addr).collect();
    let backends: Vec<String> = addrs.iter().map(|a| backend(*a)).collect();
    let admin = free_port();
    // Two client addresses: 127.0.0.1 through one listener, ::1 through the other.
    let v4 = free_addr();
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, free_port()));
    let cfg = config_head(admin, 2)
        + &listener_toml("l4", &v4.to_string(), "c", "")
        + &listener_toml("l6", &v6.to_string(), "c", "")
        + &cluster_toml("c", "round_robin", &backends, "")
        + HEALTH
        + "[cluster.persistence]\nkind = \"source_ip\"\nttl = \"1m\"\n";
    let f = Fulcrum::start(&cfg);
    let mut homes = Vec::new();
    for listen in [v4, v6] {
        let seen = spread(listen, 1);
        homes.push(names(&seen)[0].to_string());
    }
    for _ in 0..5 {
        for (listen, home) in [v4, v6].iter().zip(&homes) {
            let seen = spread(*listen, 3);
            assert_eq!(names(&seen), [home.as_str()], "{}", f.diag());
        }
    }
    let clients = cluster_state(&f)["persistence"]["clients"].as_u64();
    assert_eq!(clients, Some(2), "{}", f.diag());
    // The IPv4 client's backend goes down: it moves, and stays where it moved.
    let k = servers
        .iter()
        .position(|s| s.server_name() == homes[0])
        .unwrap();
    servers[k].stop();
    wait_health(&f, addrs[k], "down");
    let seen = spread(v4, 10);
    assert_eq!(seen.len(), 1, "{seen:?}{}", f.diag());
    assert_ne!(names(&seen)[0], homes[0]);
}
