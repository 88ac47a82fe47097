//! HTTP/2 clients get what HTTP/1.1 clients get on the way to a backend: a request without a
//! body is tried again on another backend as the cluster's retry policy says (after a connect
//! failure, or a status it retries on), and a persistence cookie keeps a client on its
//! backend. Real clients (h2load, nghttp) over cleartext HTTP/2 to HTTP/1.1 backends.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;
use support::http_backend::HttpBackend;
use support::raw::*;
use support::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A backend that answers every request `503 Service Unavailable` (keep-alive), counting them.
fn always_503() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let count = Arc::clone(&count);
            thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        count.fetch_add(1, SeqCst);
                        let answer =
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
                        if stream.write_all(answer).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, served)
}

/// An address nothing listens on: connecting is refused.
fn refusing() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Runs h2load (one connection, one stream at a time) and returns its report.
fn h2load(listen: SocketAddr, requests: usize, f: &Fulcrum) -> String {
    let n = requests.to_string();
    let url = format!("http://{listen}/retry");
    let out = run_cmd(
        "h2load",
        &args(&["-n", &n, "-c", "1", "-m", "1", &url]),
        b"",
        Duration::from_secs(20),
    );
    assert!(out.ok(), "h2load: {}{}", out.describe(), f.diag());
    out.stdout_text()
}

#[test]
fn a_retryable_status_is_tried_again_on_another_backend() {
    let (failing, answered) = always_503();
    let good = HttpBackend::start("good");
    let cluster =
        "balance = \"round_robin\"\n[cluster.retry]\nattempts = 1\non = [503]\nbackoff = \"1ms\"";
    let (f, listen) = start_http("cluster = \"c\"", &[failing, good.addr()], cluster);
    let report = h2load(listen, 20, &f);
    assert!(
        report.contains("status codes: 20 2xx, 0 3xx, 0 4xx, 0 5xx"),
        "every request answered by the good backend: {report}{}",
        f.diag()
    );
    assert!(
        answered.load(SeqCst) >= 5,
        "the failing backend was asked (and its 503s retried): {}",
        answered.load(SeqCst)
    );
}

#[test]
fn a_connect_failure_is_tried_again_on_another_backend() {
    let good = HttpBackend::start("good");
    let cluster = "balance = \"round_robin\"\nconnect_attempts = 1\n[cluster.retry]\nattempts = 1\n\
                   on = [\"connect-failure\"]\nbackoff = \"1ms\"";
    let (f, listen) = start_http("cluster = \"c\"", &[refusing(), good.addr()], cluster);
    let report = h2load(listen, 20, &f);
    assert!(
        report.contains("status codes: 20 2xx, 0 3xx, 0 4xx, 0 5xx"),
        "no request failed: {report}{}",
        f.diag()
    );
    assert_eq!(good.requests().len(), 20, "{}", good.summary());
}

#[test]
fn a_persistence_cookie_keeps_an_h2_client_on_its_backend() {
    let a = HttpBackend::start("a");
    let b = HttpBackend::start("b");
    let cluster =
        "balance = \"round_robin\"\n[cluster.persistence]\nkind = \"cookie\"\nname = \"srv\"";
    let (f, listen) = start_http("cluster = \"c\"", &[a.addr(), b.addr()], cluster);
    let url = format!("http://{listen}/sticky");
    let first = run_cmd("nghttp", &args(&["-v", &url]), b"", Duration::from_secs(10));
    assert!(first.ok(), "nghttp: {}{}", first.describe(), f.diag());
    let text = first.stdout_text();
    let cookie = text
        .lines()
        .find_map(|l| l.split("set-cookie: ").nth(1))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("a persistence cookie is set: {text}"))
        .to_string();
    let served_first = if a.requests().len() == 1 { "a" } else { "b" };
    let header = format!("cookie: {cookie}");
    for _ in 0..6 {
        let out = run_cmd(
            "nghttp",
            &args(&["-v", "-H", &header, &url]),
            b"",
            Duration::from_secs(10),
        );
        assert!(out.ok(), "nghttp: {}{}", out.describe(), f.diag());
        let text = out.stdout_text();
        let backend = format!("\"backend\": \"{served_first}\"");
        assert!(text.contains(&backend), "went to {served_first}: {text}");
        assert!(
            !text.contains("set-cookie"),
            "no new cookie once it names the backend: {text}"
        );
    }
    let (a_seen, b_seen) = (a.requests().len(), b.requests().len());
    assert!(
        a_seen == 7 || b_seen == 7,
        "one backend took all seven: a {a_seen}, b {b_seen}"
    );
}
