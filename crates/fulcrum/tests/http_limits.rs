//! Timeouts and limits of HTTP listeners, each with its status, its `x-fulcrum-error` cause,
//! and what happens to the connection: slowloris heads and stalled bodies (408), slow
//! backends (504), backends that are down, reset or broken (502/503), oversized heads (431),
//! targets (414) and bodies (413).

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};
use support::http_backend::HttpBackend;
use support::raw::*;
use support::*;

/// Asserts an error response from fulcrum itself: status, cause, and a body saying why.
fn assert_error(r: &RawResponse, status: u16, cause: &str, f: &Fulcrum) {
    assert_eq!(
        r.status,
        status,
        "expected {status} {cause}: {}{}",
        r.describe(),
        f.diag()
    );
    assert_eq!(
        r.header("x-fulcrum-error"),
        Some(cause),
        "expected cause {cause}: {}{}",
        r.describe(),
        f.diag()
    );
    assert!(
        !r.body.is_empty(),
        "an error says why in its body: {}",
        r.describe()
    );
}

/// Asserts the server closed the connection (within 3 s).
fn assert_closed(c: &mut RawClient, what: &str, f: &Fulcrum) {
    let end = c.wait_closed(Duration::from_secs(3));
    assert!(
        matches!(end, Closed::Eof | Closed::Reset),
        "{what}: the connection must close after the error, got {end:?}{}",
        f.diag()
    );
}

#[test]
fn slowloris_head_gets_408_and_close() {
    let b = HttpBackend::start("slow");
    let listener = "cluster = \"c\"\n[listener.timeouts]\nheader = \"1s\"";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let mut c = RawClient::connect(listen);
    let t0 = Instant::now();
    c.send(b"GET /slow HTTP/1.1\r\nHost: a\r\n").unwrap();
    // Keep dripping header lines, never finishing the head.
    let mut w = c.stream.try_clone().unwrap();
    let dripper = thread::spawn(move || {
        for i in 0..20 {
            thread::sleep(Duration::from_millis(200));
            if w.write_all(format!("x-drip-{i}: y\r\n").as_bytes())
                .is_err()
            {
                break;
            }
        }
    });
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("no 408 for a slow head: {e}{}", f.diag()));
    let took = t0.elapsed();
    assert_error(&r, 408, "request_timeout", &f);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "408 after {took:?}, the header timeout is 1 s{}",
        f.diag()
    );
    assert_closed(&mut c, "slow head", &f);
    let _ = dripper.join();
    assert!(b.requests().is_empty(), "{}", b.summary());
}

#[test]
fn idle_keep_alive_connection_closes_quietly() {
    let b = HttpBackend::start("idle");
    let listener = "cluster = \"c\"\n[listener.timeouts]\nkeepalive = \"1s\"\nheader = \"10s\"";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let mut c = RawClient::connect(listen);
    c.send(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}", r.describe());
    let t0 = Instant::now();
    let end = c.wait_closed(Duration::from_secs(4));
    assert_eq!(
        end,
        Closed::Eof,
        "an idle keep-alive connection closes without a response after 1 s{}",
        f.diag()
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(800),
        "{:?}",
        t0.elapsed()
    );
}

fn body_idle(chunked: bool) {
    let b = HttpBackend::start("bodyidle");
    let listener = "cluster = \"c\"\n[listener.timeouts]\nbody_idle = \"1s\"";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let mut c = RawClient::connect(listen);
    let t0 = Instant::now();
    if chunked {
        c.send(b"POST /stall HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
            .unwrap();
    } else {
        c.send(b"POST /stall HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
            .unwrap();
    }
    let r = c.read_response().unwrap_or_else(|e| {
        panic!(
            "chunked={chunked}: no 408 for a stalled body: {e}{}",
            f.diag()
        )
    });
    let took = t0.elapsed();
    assert_error(&r, 408, "request_timeout", &f);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "chunked={chunked}: 408 after {took:?}, body_idle is 1 s{}",
        f.diag()
    );
    assert_closed(&mut c, "stalled body", &f);
    assert!(
        b.requests().is_empty(),
        "the backend must not get a complete request: {}",
        b.summary()
    );
}

#[test]
fn stalled_content_length_body_gets_408_and_close() {
    body_idle(false);
}

#[test]
fn stalled_chunked_body_gets_408_and_close() {
    body_idle(true);
}

#[test]
fn request_timeout_with_a_slow_backend_gets_504() {
    let b = HttpBackend::start("slowbackend");
    let listener = "cluster = \"c\"\n[listener.timeouts]\nrequest = \"1s\"";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let mut c = RawClient::connect(listen);
    let t0 = Instant::now();
    c.send(b"GET /delay/4000 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    let took = t0.elapsed();
    assert_error(&r, 504, "upstream_timeout", &f);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3500),
        "504 after {took:?}, the request timeout is 1 s{}",
        f.diag()
    );
    // A fast request on a new connection is fine.
    let r = get(listen, "a", "/fast", "");
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[test]
fn cluster_response_timeout_gets_504() {
    let b = HttpBackend::start("slowresp");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "response_timeout = \"1s\"");
    let t0 = Instant::now();
    let r = get(listen, "a", "/delay/4000", "");
    let took = t0.elapsed();
    assert_error(&r, 504, "upstream_timeout", &f);
    assert!(
        took < Duration::from_millis(3500),
        "504 after {took:?}{}",
        f.diag()
    );
}

#[test]
fn request_timeout_over_h2_gets_504() {
    let b = HttpBackend::start("slowh2");
    let listener = "cluster = \"c\"\n[listener.timeouts]\nrequest = \"1s\"";
    let (f, listen) = start_http(listener, &[b.addr()], "response_timeout = \"1s\"");
    let u = format!("http://{listen}/delay/4000");
    let t0 = Instant::now();
    let r = curl_fetch(&["--http2-prior-knowledge", &u]);
    assert_eq!(r.status, 504, "{}{}", r.describe(), f.diag());
    assert_eq!(
        r.header("x-fulcrum-error").as_deref(),
        Some("upstream_timeout")
    );
    assert!(
        t0.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn backend_down_gets_502_connect_failed() {
    let dead = free_addr();
    let (f, listen) = start_http("cluster = \"c\"", &[dead], "connect_timeout = \"500ms\"");
    let mut c = RawClient::connect(listen);
    c.send(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_error(&r, 502, "connect_failed", &f);
    assert!(r.text().contains("connect"), "{}", r.describe());
    // A bodiless request: the client connection may go on.
    c.send(b"GET /y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("second: {e}{}", f.diag()));
    assert_error(&r, 502, "connect_failed", &f);
    assert_closed(&mut c, "Connection: close", &f);

    // The same over HTTP/2.
    let u = format!("http://{listen}/z");
    let r = curl_fetch(&["--http2-prior-knowledge", &u]);
    assert_eq!(r.status, 502, "{}{}", r.describe(), f.diag());
    assert_eq!(
        r.header("x-fulcrum-error").as_deref(),
        Some("connect_failed")
    );
}

#[test]
fn all_backends_unhealthy_gets_503_no_healthy_backend() {
    let dead = free_addr();
    let cluster_extra =
        "[cluster.health]\ninterval = \"100ms\"\ntimeout = \"100ms\"\nfall = 1\nrise = 1";
    let listener =
        "cluster = \"c\"\n[listener.error_responses]\n503 = { body = \"busy, try later\" }";
    let (f, listen) = start_http(listener, &[dead], cluster_extra);
    let mut last = None;
    let got = wait_until(Duration::from_secs(5), || {
        let r = get(listen, "a", "/x", "");
        let ok = r.status == 503;
        last = Some(r);
        ok
    });
    let r = last.unwrap();
    assert!(
        got,
        "a cluster whose only backend fails its health checks answers 503 no_healthy_backend; \
         got {}{}",
        r.describe(),
        f.diag()
    );
    assert_eq!(
        r.header("x-fulcrum-error"),
        Some("no_healthy_backend"),
        "{}",
        r.describe()
    );
    assert_eq!(
        r.text(),
        "busy, try later",
        "the configured 503 body: {}",
        r.describe()
    );
}

#[test]
fn backend_closing_without_answer_gets_502_upstream_reset() {
    let b = HttpBackend::start("rude");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let r = get(listen, "a", "/close-early", "");
    assert_error(&r, 502, "upstream_reset", &f);
}

#[test]
fn backend_garbage_gets_502_bad_response() {
    let b = HttpBackend::start("garbage");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let r = get(listen, "a", "/garbage", "");
    assert_error(&r, 502, "bad_response", &f);
}

/// Sends `req` and expects `status`/`cause`, the connection closed, and nothing at the backend.
fn refused(listen: SocketAddr, b: &HttpBackend, f: &Fulcrum, req: &[u8], status: u16, cause: &str) {
    let mut c = RawClient::connect(listen);
    let _ = c.send(req);
    let r = c.read_response().unwrap_or_else(|e| {
        panic!(
            "expected {status} for {:?}: {e}{}",
            String::from_utf8_lossy(&req[..req.len().min(200)]),
            f.diag()
        )
    });
    assert_error(&r, status, cause, f);
    assert_closed(&mut c, &format!("{status} {cause}"), f);
    assert!(
        b.requests().is_empty(),
        "a refused request reached the backend: {}",
        b.summary()
    );
}

#[test]
fn header_bytes_over_the_limit_get_431() {
    let b = HttpBackend::start("hdrbytes");
    let listener =
        "cluster = \"c\"\n[listener.limits]\nmax_header_bytes = \"1KiB\"\nmax_uri_bytes = 512";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let big = "v".repeat(1100);
    let req = format!("GET / HTTP/1.1\r\nHost: a\r\nx-big: {big}\r\n\r\n");
    refused(listen, &b, &f, req.as_bytes(), 431, "bad_request");
    // Just under is fine.
    let ok = "v".repeat(800);
    let r = get(listen, "a", "/", &format!("x-big: {ok}\r\n"));
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[test]
fn header_count_over_the_limit_gets_431() {
    let b = HttpBackend::start("hdrcount");
    let listener = "cluster = \"c\"\n[listener.limits]\nmax_headers = 5";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let mut req = "GET / HTTP/1.1\r\nHost: a\r\n".to_string();
    for i in 0..6 {
        req += &format!("x-h{i}: {i}\r\n");
    }
    req += "\r\n";
    refused(listen, &b, &f, req.as_bytes(), 431, "bad_request");
    let r = get(listen, "a", "/", "x-1: 1\r\nx-2: 2\r\n");
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[test]
fn uri_over_the_limit_gets_414() {
    let b = HttpBackend::start("uri");
    let listener = "cluster = \"c\"\n[listener.limits]\nmax_uri_bytes = 256";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let path = format!("/{}", "p".repeat(300));
    let req = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
    refused(listen, &b, &f, req.as_bytes(), 414, "bad_request");
    let path = format!("/{}", "p".repeat(200));
    let r = get(listen, "a", &path, "");
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[test]
fn body_over_the_limit_gets_413_content_length_and_chunked() {
    let b = HttpBackend::start("body");
    let listener = "cluster = \"c\"\n[listener.limits]\nmax_body_bytes = \"1KiB\"";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    // Content-Length over the limit: refused before any body byte is read.
    refused(
        listen,
        &b,
        &f,
        b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n",
        413,
        "body_too_large",
    );
    // Chunked, passing the limit in its third chunk.
    let mut c = RawClient::connect(listen);
    let chunk = "x".repeat(500);
    let req = format!(
        "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
         1f4\r\n{chunk}\r\n1f4\r\n{chunk}\r\n1f4\r\n{chunk}\r\n0\r\n\r\n"
    );
    let _ = c.send(req.as_bytes());
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("chunked over the limit: {e}{}", f.diag()));
    assert_error(&r, 413, "body_too_large", &f);
    assert_closed(&mut c, "chunked 413", &f);
    let complete: Vec<_> = b.requests();
    assert!(
        complete.is_empty(),
        "the backend must not get the whole oversized body: {}",
        b.summary()
    );
    // At the limit is fine.
    let mut c = RawClient::connect(listen);
    let body = "y".repeat(1024);
    c.send(
        format!("POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n{body}")
            .as_bytes(),
    )
    .unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.json()["body_len"], 1024);
}

#[test]
fn body_over_the_limit_over_h2_gets_413() {
    let b = HttpBackend::start("bodyh2");
    let listener = "cluster = \"c\"\n[listener.limits]\nmax_body_bytes = \"1KiB\"";
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let u = format!("http://{listen}/up");
    let body = "z".repeat(2000);
    let r = curl_fetch(&["--http2-prior-knowledge", "--data-binary", &body, &u]);
    assert_eq!(r.status, 413, "{}{}", r.describe(), f.diag());
    assert_eq!(
        r.header("x-fulcrum-error").as_deref(),
        Some("body_too_large")
    );
    assert!(b.requests().is_empty(), "{}", b.summary());
}
