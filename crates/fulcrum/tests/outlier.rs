//! Passive outlier detection with the real binary: ejection and recovery follow their timings.
//! An HTTP backend answering 500s is ejected after `consecutive_5xx` of them for
//! `base_ejection_time`, then twice that the second time; once it answers well it stays in.
//! A TCP backend refusing connections is ejected after `consecutive_connect_failures`, and no
//! connect is tried on it while it is out.
//!
//! These need the data plane to report each try (`ClusterRuntime::report`): HTTP responses
//! in the exchange, connect results in `upstream::connect`.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use support::http_backend::HttpBackend;
use support::raw::{get, start_http};
use support::*;

/// Scheduling slack on top of an ejection's length (a debug build on a busy machine).
const SLACK: Duration = Duration::from_millis(600);

/// An HTTP backend whose first `failures` requests get a 500, the rest a 200; every answer
/// carries `x-backend: NAME` and closes the connection. Records when each request arrived.
fn failing_backend(name: &str, failures: usize) -> (TestServer, Arc<Mutex<Vec<Instant>>>) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&arrivals);
    let server = TestServer::custom(name, move |s, ctx| {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match ctx.read(s, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push(Instant::now());
            seen.len()
        };
        let status = if n <= failures { "500 Oops" } else { "200 OK" };
        let body = format!("{} {n}\n", ctx.name);
        let _ = write!(
            s,
            "HTTP/1.1 {status}\r\nx-backend: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            ctx.name,
            body.len()
        );
    });
    (server, arrivals)
}

/// Requests made back to back from a thread: (when, status, x-backend).
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(Instant, u16, String)>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Load {
    fn start(listen: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = thread::spawn(move || {
            while !s.load(SeqCst) {
                let r = get(listen, "app", "/", "");
                let backend = r.header("x-backend").unwrap_or("").to_string();
                v.lock().unwrap().push((Instant::now(), r.status, backend));
                thread::sleep(Duration::from_millis(10));
            }
        });
        Load {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn between(&self, from: Instant, to: Instant) -> Vec<(u16, String)> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(t, ..)| *t > from && *t < to)
            .map(|(_, s, b)| (*s, b.clone()))
            .collect()
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
fn an_http_backend_answering_5xx_is_ejected_for_growing_times() {
    let base = Duration::from_millis(1000);
    let good = HttpBackend::start("good");
    let (bad, arrivals) = failing_backend("bad", 6);
    let outlier = format!(
        "[cluster.outlier]\nconsecutive_5xx = 3\nbase_ejection_time = \"{}ms\"\n\
         max_ejection_time = \"10s\"\nmax_ejected = 0.5\n",
        base.as_millis()
    );
    let (f, listen) = start_http("cluster = \"c\"", &[good.addr(), bad.addr()], &outlier);
    let load = Load::start(listen);
    // Six 500s make two ejections; then it answers well, and gets requests in turn again.
    let arrived = |n: usize| arrivals.lock().unwrap().len() >= n;
    assert!(
        wait_until(Duration::from_secs(15), || arrived(12)),
        "bad got {} requests{}",
        arrivals.lock().unwrap().len(),
        f.diag()
    );
    load.stop.store(true, SeqCst);
    let at = arrivals.lock().unwrap().clone();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("gaps between requests to the failing backend: {gaps:?}");
    for (k, want) in [(2, base), (5, base * 2)] {
        assert!(
            gaps[k] >= want && gaps[k] <= want + SLACK,
            "ejection after request {}: the next came {:?} later, expected {want:?}{}",
            k + 1,
            gaps[k],
            f.diag()
        );
    }
    let others = gaps.iter().enumerate().filter(|(k, _)| *k != 2 && *k != 5);
    for (k, gap) in others {
        assert!(*gap < base / 2, "gap {k} is {gap:?}: {gaps:?}{}", f.diag());
    }
    // While it was out, every client got the good backend's answer.
    let during = load.between(at[2] + Duration::from_millis(50), at[3]);
    assert!(!during.is_empty());
    assert!(
        during.iter().all(|(s, b)| *s == 200 && b == "good"),
        "{during:?}"
    );
    let key = format!("{{cluster=\"c\",backend=\"{}\"}}", bad.addr());
    assert_eq!(
        f.metric(&format!("fulcrum_backend_ejections_total{key}")),
        Some(2.0),
        "{}",
        f.diag()
    );
    assert_eq!(
        f.metric(&format!("fulcrum_backend_ejected{key}")),
        Some(0.0)
    );
    let log = f.stderr_text();
    assert_eq!(log.matches("backend ejected").count(), 2, "{}", f.diag());
    assert!(log.contains("consecutive_5xx"), "{}", f.diag());
}

#[test]
fn a_tcp_backend_refusing_connections_is_ejected_and_not_tried() {
    let a = TestServer::name("a");
    let dead = free_addr();
    let admin = free_port();
    let listen = free_addr();
    let outlier = "[cluster.outlier]\nconsecutive_connect_failures = 2\n\
                   base_ejection_time = \"1s\"\nmax_ejected = 0.5\n";
    let cfg = config_head(admin, 2)
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", "round_robin", &[backend(a.addr()), backend(dead)], "")
        + outlier;
    let f = Fulcrum::start(&cfg);
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let load = {
        let (stop, answers) = (Arc::clone(&stop), Arc::clone(&answers));
        thread::spawn(move || {
            while !stop.load(SeqCst) {
                let r = ask_name(listen).unwrap_or_else(|e| format!("error {e}"));
                answers.lock().unwrap().push(r);
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let key = format!("{{cluster=\"c\",backend=\"{dead}\"}}");
    let errors = || {
        f.metric(&format!("fulcrum_backend_connect_errors_total{key}"))
            .unwrap_or(0.0)
    };
    assert!(
        wait_until(Duration::from_secs(10), || errors() >= 2.0),
        "{}",
        f.diag()
    );
    let ejected = Instant::now();
    assert_eq!(errors(), 2.0, "ejected at the second failure{}", f.diag());
    assert_eq!(
        f.metric(&format!("fulcrum_backend_ejected{key}")),
        Some(1.0)
    );
    // Out for a second: no connect is tried on it; then it is tried (and ejected) again.
    assert!(wait_until(Duration::from_secs(5), || errors() > 2.0));
    let out_for = ejected.elapsed();
    assert!(
        out_for >= Duration::from_millis(900) && out_for <= Duration::from_secs(1) + SLACK,
        "tried again after {out_for:?}{}",
        f.diag()
    );
    assert!(wait_until(Duration::from_secs(2), || {
        f.metric(&format!("fulcrum_backend_ejections_total{key}")) == Some(2.0)
    }));
    stop.store(true, SeqCst);
    let _ = load.join();
    let answers = answers.lock().unwrap();
    assert!(
        answers.iter().all(|a| a == "a"),
        "clients saw failures: {answers:?}"
    );
}
