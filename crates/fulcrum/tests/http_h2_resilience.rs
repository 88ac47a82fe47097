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

/// Runs h2load (one connection, `streams` at a time) for `requests` GETs of `path`, and
/// asserts every one was answered 2xx.
fn h2load_all_ok(listen: SocketAddr, path: &str, requests: usize, streams: usize, f: &Fulcrum) {
    let (n, m) = (requests.to_string(), streams.to_string());
    let url = format!("http://{listen}{path}");
    let out = run_cmd(
        "h2load",
        &args(&["-n", &n, "-c", "1", "-m", &m, &url]),
        b"",
        Duration::from_secs(20),
    );
    assert!(out.ok(), "h2load: {}{}", out.describe(), f.diag());
    let report = out.stdout_text();
    let all_ok = format!("status codes: {requests} 2xx, 0 3xx, 0 4xx, 0 5xx");
    assert!(report.contains(&all_ok), "{report}{}", f.diag());
}

#[test]
fn a_retryable_status_is_tried_again_on_another_backend() {
    let (failing, answered) = always_503();
    let good = HttpBackend::start("good");
    let cluster =
        "balance = \"round_robin\"\n[cluster.retry]\nattempts = 1\non = [503]\nbackoff = \"1ms\"";
    let (f, listen) = start_http("cluster = \"c\"", &[failing, good.addr()], cluster);
    h2load_all_ok(listen, "/retry", 20, 1, &f);
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
    h2load_all_ok(listen, "/retry", 20, 1, &f);
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

/// Streams without a body go to HTTP/1.1 backends on the worker's pooled connections: a few
/// connections carry many requests.
#[test]
fn streams_reuse_backend_connections() {
    let b = HttpBackend::start("reuse");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    h2load_all_ok(listen, "/reuse", 300, 10, &f);
    assert!(
        b.accepted() <= 10,
        "300 requests, 10 at a time, took {} backend connections",
        b.accepted()
    );
}

/// Every way an HTTP/1.1 response body can be framed reaches an HTTP/2 client whole.
#[test]
fn every_response_framing_reaches_an_h2_client_whole() {
    let b = HttpBackend::start("framing");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    for (path, len) in [
        ("/bytes/70000", 70_000),
        ("/chunked/150000", 150_000),
        ("/close/40000", 40_000),
        ("/big/3", 3 << 20),
    ] {
        let url = format!("http://{listen}{path}");
        let out = run_cmd("nghttp", &args(&[&url]), b"", Duration::from_secs(20));
        assert!(out.ok(), "{path}: {}{}", out.describe(), f.diag());
        assert_eq!(out.stdout.len(), len, "{path}: body length");
        let seed = support::http_backend::DOWNLOAD_SEED;
        let expected = support::http_backend::pattern_vec(seed, len);
        assert!(out.stdout == expected, "{path}: body bytes differ");
    }
    // No body: a 204, and the answer to HEAD (with the length it would have had).
    let url = format!("http://{listen}/status/204");
    let out = run_cmd("nghttp", &args(&["-v", &url]), b"", Duration::from_secs(10));
    assert!(
        out.stdout_text().contains(":status: 204"),
        "{}",
        out.describe()
    );
    let url = format!("http://{listen}/bytes/1234");
    let out = run_cmd(
        "nghttp",
        &args(&["-v", "-m", "2", "-H", ":method: HEAD", &url]),
        b"",
        Duration::from_secs(10),
    );
    let text = out.stdout_text();
    assert!(text.contains("content-length: 1234"), "{}", out.describe());
    assert!(out.ok(), "{}{}", out.describe(), f.diag());
    // The connections the bodies ended cleanly on were reused.
    let h2load = run_cmd(
        "h2load",
        &args(&[
            "-n",
            "40",
            "-c",
            "1",
            "-m",
            "1",
            &format!("http://{listen}/chunked/3000"),
        ]),
        b"",
        Duration::from_secs(20),
    );
    assert!(
        h2load.stdout_text().contains("40 2xx"),
        "{}",
        h2load.describe()
    );
    assert!(b.accepted() <= 12, "{} backend connections", b.accepted());
}

/// A backend that answers the first request on each connection (keep-alive) and closes the
/// connection on reading a second, without answering: what a pooled connection that timed
/// out at the backend just as it was reused looks like.
fn one_request_per_connection() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&conns);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, SeqCst);
            thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                let mut answered = false;
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        if answered {
                            return; // closes without an answer
                        }
                        seen.drain(..end + 4);
                        answered = true;
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                    }
                }
            });
        }
    });
    (addr, conns)
}

/// A pooled backend connection that turns out closed before any response byte is replaced
/// by a fresh one: the client sees no error (and no retry policy is needed for it).
#[test]
fn a_pooled_connection_found_closed_is_replaced() {
    let (addr, conns) = one_request_per_connection();
    let (f, listen) = start_http("cluster = \"c\"", &[addr], "");
    h2load_all_ok(listen, "/again", 20, 1, &f);
    assert!(
        conns.load(SeqCst) >= 20,
        "each request needed a fresh connection"
    );
}

/// On that path Fulcrum's own request fields (X-Forwarded-*, Via) still reach the backend,
/// and the route's rules still apply to them.
#[test]
fn forwarding_fields_and_rules_reach_the_backend() {
    let b = HttpBackend::start("fwd");
    let route = "cluster = \"c\"\n[[listener.route]]\nname = \"r\"\ncluster = \"c\"\n\
                 request_headers = { remove = [\"x-forwarded-proto\"], set = { \"via\" = \"edge\" } }";
    let (f, listen) = start_http(route, &[b.addr()], "");
    let url = format!("http://{listen}/fwd");
    let out = run_cmd(
        "nghttp",
        &args(&["-H", "x-forwarded-for: 10.9.9.9", &url]),
        b"",
        Duration::from_secs(10),
    );
    assert!(out.ok(), "{}{}", out.describe(), f.diag());
    let seen = b.last("forwarded request");
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("10.9.9.9, 127.0.0.1"),
        "{seen:?}"
    );
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some(listen.to_string().as_str()),
        "{seen:?}"
    );
    assert_eq!(
        seen.header("x-forwarded-proto"),
        None,
        "removed by the rule: {seen:?}"
    );
    assert_eq!(
        seen.headers_named("via"),
        ["edge"],
        "set by the rule: {seen:?}"
    );
    assert!(
        seen.header("x-request-id").is_some_and(|id| id.len() == 32),
        "{seen:?}"
    );
}

/// A response's hop-by-hop fields, and the fields its Connection field names, stay behind.
#[test]
fn hop_by_hop_response_fields_do_not_reach_an_h2_client() {
    let b = HttpBackend::start("hops");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let url = format!("http://{listen}/headers");
    let out = run_cmd("nghttp", &args(&["-v", &url]), b"", Duration::from_secs(10));
    assert!(out.ok(), "{}{}", out.describe(), f.diag());
    let text = out.stdout_text();
    let head: String = text
        .lines()
        .filter(|l| l.contains("recv (stream_id=13)"))
        .collect();
    for gone in [
        "x-backend-hop",
        "keep-alive",
        "proxy-connection",
        "connection:",
    ] {
        assert!(!head.contains(gone), "{gone} passed on: {text}");
    }
    assert!(head.contains("x-kept"), "the other fields pass: {text}");
    assert!(head.contains("content-length"), "the length passes: {text}");
}

/// A backend that answers garbage, too late or not at all gets the client the same errors as
/// over HTTP/1.1: 502 `bad_response`, 504 `upstream_timeout`, 502 `upstream_reset`.
#[test]
fn bad_and_late_answers_become_502_and_504() {
    let b = HttpBackend::start("errors");
    let (f, listen) = start_http(
        "cluster = \"c\"",
        &[b.addr()],
        "response_timeout = \"300ms\"",
    );
    for (path, status, cause) in [
        ("/garbage", "502", "bad_response"),
        ("/delay/1500", "504", "upstream_timeout"),
        ("/close-early", "502", "upstream_reset"),
    ] {
        let url = format!("http://{listen}{path}");
        let out = run_cmd("nghttp", &args(&["-v", &url]), b"", Duration::from_secs(10));
        let text = out.stdout_text();
        assert!(
            text.contains(&format!(":status: {status}")),
            "{path}: {text}{}",
            f.diag()
        );
        assert!(
            text.contains(&format!("x-fulcrum-error: {cause}")),
            "{path}: {text}"
        );
    }
    // And the next request is served as usual.
    h2load_all_ok(listen, "/fine", 5, 1, &f);
}
