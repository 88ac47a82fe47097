//! Active health checks against real backends under steady load: a killed backend is marked
//! down within interval × fall + timeout and traffic stops going there; restarted on the same
//! port it is marked up within interval × rise and traffic returns. HTTP checks judge status
//! and body. Panic mode spreads the load over every backend when too few are healthy.

mod support;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use support::*;

/// Scheduling slack on top of the bounds the checks promise (a debug build on a busy CI box).
const SLACK: Duration = Duration::from_millis(1500);

/// A fulcrum with one tcp listener `l` over round-robin cluster `c` with `keys`, then the
/// `tables` (`[cluster.health]`); returns it and the listener address.
fn start(backends: &[String], keys: &str, tables: &str) -> (Fulcrum, SocketAddr) {
    let admin = free_port();
    let listen = free_addr();
    let cfg = config_head(admin, 2)
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", "round_robin", backends, keys)
        + tables;
    (Fulcrum::start(&cfg), listen)
}

/// One backend's entry in `/backends`.
fn state(f: &Fulcrum, addr: SocketAddr) -> serde_json::Value {
    let r = f
        .get("/backends")
        .unwrap_or_else(|e| panic!("GET /backends: {e}{}", f.diag()));
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let backends = doc["clusters"][0]["backends"].as_array().unwrap().clone();
    backends
        .into_iter()
        .find(|b| b["address"] == addr.to_string())
        .unwrap_or_else(|| panic!("{addr} not in /backends: {}", r.body))
}

/// Waits (up to `limit`) for the backend's health to read `health`; returns the time taken.
fn wait_health(f: &Fulcrum, addr: SocketAddr, health: &str, limit: Duration) -> Duration {
    let t0 = Instant::now();
    let ok = wait_until(limit + Duration::from_secs(5), || {
        state(f, addr)["health"] == health
    });
    assert!(ok, "{addr} never became {health}{}", f.diag());
    t0.elapsed()
}

/// What one connection of a [`Load`] got: a backend's name or an error, and when.
type Answer = (Instant, Result<String, String>);

/// Connections made back to back from a thread, each answer (or error) with its time.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Answer>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Load {
    fn start(listen: SocketAddr, ask: fn(SocketAddr) -> io::Result<String>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = thread::spawn(move || {
            while !s.load(SeqCst) {
                let answer = ask(listen).map_err(|e| e.to_string());
                v.lock().unwrap().push((Instant::now(), answer));
                thread::sleep(Duration::from_millis(5));
            }
        });
        Load {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// Answers received after `t`.
    fn since(&self, t: Instant) -> Vec<Result<String, String>> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(at, _)| *at > t)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Waits until at least `n` answers arrived after `t`; returns them.
    fn wait_since(&self, t: Instant, n: usize) -> Vec<Result<String, String>> {
        assert!(
            wait_until(Duration::from_secs(20), || self.since(t).len() >= n),
            "the load stalled"
        );
        self.since(t)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn tcp_check_marks_a_killed_backend_down_and_a_restarted_one_up() {
    let (interval, timeout, fall, rise) = (300u64, 200u64, 3u32, 2u32);
    let a = TestServer::name("a");
    let mut b = TestServer::name("b");
    let c = TestServer::name("c");
    let b_addr = b.addr();
    let health = format!(
        "[cluster.health]\ninterval = \"{interval}ms\"\ntimeout = \"{timeout}ms\"\n\
         fall = {fall}\nrise = {rise}\n"
    );
    let backends = [backend(a.addr()), backend(b_addr), backend(c.addr())];
    let (f, listen) = start(&backends, "", &health);
    let load = Load::start(listen, ask_name);
    let t0 = Instant::now();
    let before = load.wait_since(t0, 30);
    assert!(before.contains(&Ok("b".into())), "{before:?}{}", f.diag());

    // Kill b: marked down within interval × fall + timeout.
    b.stop();
    let down_bound = Duration::from_millis(interval * u64::from(fall) + timeout);
    let took = wait_health(&f, b_addr, "down", down_bound + SLACK);
    eprintln!("marked down {took:?} after the kill (bound {down_bound:?})");
    assert!(
        took <= down_bound + SLACK,
        "down after {took:?}, bound {down_bound:?}{}",
        f.diag()
    );
    assert!(
        f.wait_stderr("backend down", Duration::from_secs(2)),
        "{}",
        f.diag()
    );
    // From now on nothing is even tried on b, and every client gets an answer.
    let errors = |f: &Fulcrum| {
        let key =
            format!("fulcrum_backend_connect_errors_total{{cluster=\"c\",backend=\"{b_addr}\"}}");
        f.metric(&key).unwrap_or(0.0)
    };
    // A pick made just before the change may still be failing over: let it finish.
    thread::sleep(Duration::from_millis(100));
    let errors_at_down = errors(&f);
    let t_down = Instant::now();
    let after = load.wait_since(t_down, 60);
    assert!(
        after
            .iter()
            .all(|r| matches!(r, Ok(n) if n == "a" || n == "c")),
        "traffic while b is down: {after:?}{}",
        f.diag()
    );
    assert_eq!(
        errors(&f),
        errors_at_down,
        "connects still tried on b{}",
        f.diag()
    );

    // Restart b on the same port: marked up within interval × rise, and traffic returns.
    let b = TestServer::name_on(b_addr, "b");
    let up_bound = Duration::from_millis(interval * u64::from(rise));
    let took = wait_health(&f, b.addr(), "up", up_bound + SLACK);
    eprintln!("marked up {took:?} after the restart (bound {up_bound:?})");
    assert!(
        took <= up_bound + SLACK,
        "up after {took:?}, bound {up_bound:?}{}",
        f.diag()
    );
    let t_up = Instant::now();
    let back = load.wait_since(t_up, 30);
    assert!(back.contains(&Ok("b".into())), "{back:?}{}", f.diag());
    assert!(back.iter().all(Result::is_ok), "{back:?}{}", f.diag());
    drop(load);

    let key = format!("{{cluster=\"c\",backend=\"{b_addr}\"}}");
    assert_eq!(
        f.metric(&format!("fulcrum_backend_healthy{key}")),
        Some(1.0)
    );
    assert_eq!(
        f.metric(&format!("fulcrum_backend_health_changes_total{key}")),
        Some(2.0)
    );
    let checks = f
        .metric(&format!("fulcrum_backend_health_checks_total{key}"))
        .unwrap();
    let failures = f
        .metric(&format!("fulcrum_backend_health_check_failures_total{key}"))
        .unwrap();
    assert!(
        failures >= f64::from(fall) && checks > failures,
        "{checks} {failures}"
    );
    assert!(f.stderr_text().contains("backend up"), "{}", f.diag());
}

/// How an [`HttpHealth`] backend answers `GET /healthz`.
const READY: u8 = 0;
const FAILING: u8 = 1;
const WRONG_BODY: u8 = 2;

/// A backend speaking just enough HTTP/1.1: `/healthz` answers as `mode` says, any other
/// path answers `200` with the backend's name as the body. Records each health request head.
struct HttpHealth {
    server: TestServer,
    mode: Arc<AtomicU8>,
}

impl HttpHealth {
    fn start(name: &str) -> HttpHealth {
        let mode = Arc::new(AtomicU8::new(READY));
        let m = Arc::clone(&mode);
        let server = TestServer::custom(name, move |s, ctx| {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match ctx.read(s, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let (status, body) = if head.starts_with("GET /healthz ") {
                ctx.record(head.clone());
                match m.load(SeqCst) {
                    READY => ("200 OK", "status: ready".to_string()),
                    FAILING => ("500 Internal Server Error", "status: ready".to_string()),
                    _ => ("200 OK", "status: starting".to_string()),
                }
            } else {
                ("200 OK", ctx.name.clone())
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        HttpHealth { server, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, SeqCst);
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// `GET /` through a tcp listener to an [`HttpHealth`] backend: the name in the body.
fn ask_http(listen: SocketAddr) -> io::Result<String> {
    let mut s = try_connect(listen)?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    match out.split_once("\r\n\r\n") {
        Some((_, body)) if !body.is_empty() => Ok(body.to_string()),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, out)),
    }
}

fn http_health(extra: &str) -> String {
    format!(
        "[cluster.health]\nkind = \"http\"\npath = \"/healthz\"\nhost = \"health.test\"\n\
         expect_status = \"200\"\nexpect_body = \"ready\"\ninterval = \"200ms\"\n\
         timeout = \"150ms\"\nfall = 2\nrise = 1\n{extra}"
    )
}

#[test]
fn http_check_judges_status_and_body() {
    let a = HttpHealth::start("a");
    let b = HttpHealth::start("b");
    let (f, listen) = start(
        &[backend(a.addr()), backend(b.addr())],
        "",
        &http_health(""),
    );
    let deadline = Duration::from_millis(200 * 2 + 150) + SLACK;

    a.set(FAILING);
    wait_health(&f, a.addr(), "down", deadline);
    assert!(
        f.wait_stderr("status 500", Duration::from_secs(2)),
        "{}",
        f.diag()
    );
    let names: Vec<_> = (0..10).map(|_| ask_http(listen).unwrap()).collect();
    assert!(names.iter().all(|n| n == "b"), "{names:?}{}", f.diag());

    a.set(READY);
    wait_health(&f, a.addr(), "up", deadline);
    let names: Vec<_> = (0..10).map(|_| ask_http(listen).unwrap()).collect();
    assert!(names.contains(&"a".to_string()), "{names:?}{}", f.diag());

    a.set(WRONG_BODY);
    wait_health(&f, a.addr(), "down", deadline);
    assert!(
        f.wait_stderr("body does not contain", Duration::from_secs(2)),
        "{}",
        f.diag()
    );
    let seen = a.server.log();
    let first = seen.first().expect("no health request seen");
    assert!(first.starts_with("GET /healthz HTTP/1.1\r\n"), "{first:?}");
    assert!(first.contains("\r\nHost: health.test\r\n"), "{first:?}");
    assert!(first.contains("\r\nConnection: close\r\n"), "{first:?}");
}

#[test]
fn panic_threshold_spreads_load_over_all_backends() {
    let servers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| HttpHealth::start(n))
        .collect();
    let backends: Vec<_> = servers.iter().map(|s| backend(s.addr())).collect();
    let (f, listen) = start(&backends, "panic_threshold = 0.5", &http_health(""));
    let deadline = Duration::from_millis(200 * 2 + 150) + SLACK;
    let spread = |n: usize| {
        let mut names: Vec<_> = (0..n).map(|_| ask_http(listen).unwrap()).collect();
        names.sort();
        names.dedup();
        names
    };

    // One of three down: 2/3 healthy is above the threshold; b gets nothing.
    servers[1].set(FAILING);
    wait_health(&f, servers[1].addr(), "down", deadline);
    assert_eq!(spread(12), ["a", "c"], "{}", f.diag());
    assert_eq!(f.metric("fulcrum_cluster_panic{cluster=\"c\"}"), Some(0.0));

    // Two of three down: 1/3 healthy is below 0.5, so all three take traffic again.
    servers[2].set(FAILING);
    wait_health(&f, servers[2].addr(), "down", deadline);
    assert_eq!(spread(12), ["a", "b", "c"], "{}", f.diag());
    assert_eq!(f.metric("fulcrum_cluster_panic{cluster=\"c\"}"), Some(1.0));
    let r = f.get("/backends").unwrap();
    assert!(r.body.contains("\"panic\": true"), "{}", r.body);

    // Back above the threshold: the down one is avoided again.
    servers[2].set(READY);
    wait_health(&f, servers[2].addr(), "up", deadline);
    assert_eq!(spread(12), ["a", "c"], "{}", f.diag());
}

#[test]
fn a_reload_keeps_health_state_and_removing_checks_marks_up() {
    let a = HttpHealth::start("a");
    let b = HttpHealth::start("b");
    let backends = [backend(a.addr()), backend(b.addr())];
    let admin = free_port();
    let listen = free_addr();
    let head = config_head(admin, 1) + &listener_toml("l", &listen.to_string(), "c", "");
    let with_checks = |extra: &str| {
        head.clone() + &cluster_toml("c", "round_robin", &backends, "") + &http_health(extra)
    };
    let f = Fulcrum::start(&with_checks(""));
    a.set(FAILING);
    let deadline = Duration::from_millis(200 * 2 + 150) + SLACK;
    wait_health(&f, a.addr(), "down", deadline);

    // A reload that does not touch the checks: still down, no flap.
    let changes = |f: &Fulcrum| state(f, a.addr())["health_changes"].clone();
    f.reload_ok(&(with_checks("") + "# touched\n"));
    thread::sleep(Duration::from_millis(600));
    assert_eq!(state(&f, a.addr())["health"], "down", "{}", f.diag());
    assert_eq!(changes(&f), 1, "{}", f.diag());

    // Other check settings: the backend keeps its state until the new checks say otherwise.
    f.reload_ok(&with_checks("jitter = 0.2\n"));
    thread::sleep(Duration::from_millis(600));
    assert_eq!(state(&f, a.addr())["health"], "down", "{}", f.diag());

    // No checks at all: every backend counts as healthy.
    f.reload_ok(&(head.clone() + &cluster_toml("c", "round_robin", &backends, "")));
    wait_health(&f, a.addr(), "up", Duration::from_secs(1));
    let names: Vec<_> = (0..4).map(|_| ask_http(listen).unwrap()).collect();
    assert!(names.contains(&"a".to_string()), "{names:?}{}", f.diag());
}

#[test]
fn slow_start_ramps_a_backend_that_comes_back() {
    let a = HttpHealth::start("a");
    let b = HttpHealth::start("b");
    let backends = [weighted(a.addr(), 100), weighted(b.addr(), 100)];
    let (f, listen) = start(&backends, "slow_start = \"8s\"", &http_health(""));
    let deadline = Duration::from_millis(200 * 2 + 150) + SLACK;
    b.set(FAILING);
    wait_health(&f, b.addr(), "down", deadline);
    b.set(READY);
    wait_health(&f, b.addr(), "up", deadline);

    let first = state(&f, b.addr());
    assert_eq!(first["warming"], true, "{first}");
    let early = first["effective_weight"].as_u64().unwrap();
    assert!(early < 50, "{first}");
    // Early in the ramp (well under half its weight), b gets well under half of the picks.
    let names: Vec<_> = (0..60).map(|_| ask_http(listen).unwrap()).collect();
    let on_b = names.iter().filter(|n| *n == "b").count();
    assert!(on_b < 24, "b got {on_b} of 60 while warming{}", f.diag());
    thread::sleep(Duration::from_millis(500));
    let later = state(&f, b.addr())["effective_weight"].as_u64().unwrap();
    assert!(
        later > early,
        "the ramp does not grow: {early} then {later}"
    );
    assert_eq!(state(&f, a.addr())["effective_weight"], 100);
}
