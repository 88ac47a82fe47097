//! Retries: with retries on, no idempotent request fails when one of three backends dies
//! under steady load; a request with a body is not replayed.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use support::raw::{RawClient, http_cluster, http_config};
use support::*;

/// An HTTP/1.1 keep-alive backend that can die at once: listener closed, every open
/// connection reset.
struct Killable {
    addr: SocketAddr,
    dead: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    served: Arc<AtomicUsize>,
}

impl Killable {
    fn start() -> Killable {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let dead = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let served = Arc::new(AtomicUsize::new(0));
        let (d, c, s) = (Arc::clone(&dead), Arc::clone(&conns), Arc::clone(&served));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if d.load(SeqCst) {
                    return; // drops the listener: new connects are refused
                }
                let Ok(stream) = stream else { continue };
                c.lock().unwrap().push(stream.try_clone().unwrap());
                let s = Arc::clone(&s);
                thread::spawn(move || serve(stream, &s));
            }
        });
        Killable {
            addr,
            dead,
            conns,
            served,
        }
    }

    fn kill(&self) {
        self.dead.store(true, SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so it sees `dead` and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve(stream: TcpStream, served: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        let mut slow = false;
        // Read one request head (these requests have no body); `/slow` answers after 800 ms.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => slow |= line.starts_with("GET /slow"),
            }
        }
        if slow {
            thread::sleep(Duration::from_millis(800));
        }
        let body = "ok";
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(resp.as_bytes()).is_err() {
            return;
        }
        served.fetch_add(1, SeqCst);
    }
}

fn config(backends: &[SocketAddr], retry: &str) -> (String, SocketAddr) {
    let admin = free_port();
    let listen = free_addr();
    let extra = format!("connect_timeout = \"500ms\"\nresponse_timeout = \"2s\"\n{retry}");
    let cfg = http_config(
        admin,
        listen,
        "cluster = \"c\"\naccess_log = \"off\"",
        &http_cluster("c", backends, &extra),
    );
    (cfg, listen)
}

#[test]
fn no_idempotent_request_fails_when_one_of_three_backends_dies() {
    let backends: Vec<Killable> = (0..3).map(|_| Killable::start()).collect();
    let addrs: Vec<SocketAddr> = backends.iter().map(|b| b.addr).collect();
    let retry =
        "[cluster.retry]\nattempts = 2\non = [\"connect-failure\", \"reset\"]\nbackoff = \"5ms\"";
    let (cfg, listen) = config(&addrs, retry);
    let f = Fulcrum::start(&cfg);
    let done = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut failures = Vec::new();
                let mut client = RawClient::connect(listen);
                for n in 0..150 {
                    let req = format!("GET /c{i}/r{n} HTTP/1.1\r\nHost: t\r\n\r\n");
                    let resp = client
                        .send(req.as_bytes())
                        .and_then(|_| client.read_response());
                    match resp {
                        Ok(r) if r.status == 200 => {}
                        Ok(r) => failures.push(format!("request {n}: status {}", r.status)),
                        Err(e) => {
                            failures.push(format!("request {n}: {e}"));
                            client = RawClient::connect(listen);
                        }
                    }
                    done.fetch_add(1, SeqCst);
                }
                failures
            })
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(20), || done.load(SeqCst) >= 150),
        "load started"
    );
    backends[1].kill();
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        failures.is_empty(),
        "failed requests: {failures:?}{}",
        f.diag()
    );
    assert!(
        backends[1].served.load(SeqCst) > 0,
        "the dying backend served some before"
    );
    let survivors = backends[0].served.load(SeqCst) + backends[2].served.load(SeqCst);
    assert!(survivors >= 400, "the others took the rest: {survivors}");
}

#[test]
fn a_request_with_a_body_is_not_replayed() {
    let dead = Killable::start();
    dead.kill();
    let alive = Killable::start();
    let retry = "balance = \"round_robin\"\nconnect_attempts = 1\n[cluster.retry]\nattempts = 2\non = [\"connect-failure\"]";
    let (cfg, listen) = config(&[dead.addr, alive.addr], retry);
    let f = Fulcrum::start(&cfg);
    // GETs are retried past the dead backend ...
    for n in 0..4 {
        let mut c = RawClient::connect(listen);
        c.send(format!("GET /g{n} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        assert_eq!(
            c.read_response().unwrap().status,
            200,
            "GET {n}{}",
            f.diag()
        );
    }
    // ... a POST with a body is not (it cannot be sent again whole): some fail with 502.
    let mut statuses = Vec::new();
    for n in 0..4 {
        let mut c = RawClient::connect(listen);
        let req = format!("POST /p{n} HTTP/1.1\r\nHost: t\r\ncontent-length: 2\r\n\r\nhi");
        c.send(req.as_bytes()).unwrap();
        statuses.push(c.read_response_to("POST").map(|r| r.status).unwrap_or(0));
    }
    assert!(
        statuses.contains(&502),
        "a POST meeting the dead backend is not replayed: {statuses:?}"
    );
}

#[test]
fn over_max_requests_a_request_fails_fast_with_503_and_is_counted() {
    let backend = Killable::start();
    let (cfg, listen) = config(&[backend.addr], "[cluster.limits]\nmax_requests = 1");
    let f = Fulcrum::start(&cfg);
    let slow = thread::spawn(move || {
        let mut c = RawClient::connect(listen);
        c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        c.read_response().unwrap().status
    });
    assert!(
        wait_until(Duration::from_secs(5), || f
            .metric("fulcrum_cluster_requests_active{cluster=\"c\"}")
            .unwrap_or(0.0)
            >= 1.0),
        "the slow request is in flight{}",
        f.diag()
    );
    let started = std::time::Instant::now();
    let mut c = RawClient::connect(listen);
    c.send(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 503, "{}", r.describe());
    assert_eq!(r.header("x-fulcrum-error"), Some("circuit_open"));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "failed fast"
    );
    assert_eq!(
        slow.join().unwrap(),
        200,
        "the request within the limit is served"
    );
    let rejected = f.metric("fulcrum_cluster_circuit_rejected_total{cluster=\"c\"}");
    assert_eq!(rejected, Some(1.0), "{}", f.metrics());
}
