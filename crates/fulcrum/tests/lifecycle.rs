//! Start, the admin API's basics, and graceful stop on SIGTERM/SIGINT.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};
use support::*;

fn start(runtime_extra: &str, backend_addr: SocketAddr) -> (Fulcrum, SocketAddr) {
    let admin = free_port();
    let listen = free_addr();
    let cfg = config_head_with(admin, 2, runtime_extra)
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", "round_robin", &[backend(backend_addr)], "");
    (Fulcrum::start(&cfg), listen)
}

#[test]
fn admin_answers_healthz_config_and_metrics() {
    let echo = TestServer::echo("echo");
    let (f, listen) = start("", echo.addr());
    let h = f.get("/healthz").unwrap();
    assert_eq!(
        (h.status, h.body.trim()),
        (200, "ok"),
        "/healthz{}",
        f.diag()
    );
    let v = f.config_json();
    assert_eq!(v["generation"], 1, "/config generation: {v}{}", f.diag());
    assert_eq!(v["workers"], 2, "/config workers: {v}{}", f.diag());
    assert!(
        v["config"].is_object(),
        "/config has a config object: {v}{}",
        f.diag()
    );

    let mut s = connect(listen);
    echo_roundtrip(&mut s, b"counted").unwrap();
    let active = f.wait_metric(
        "fulcrum_listener_connections_active{listener=\"l\"}",
        Duration::from_secs(5),
        |v| v == 1.0,
    );
    assert_eq!(
        active,
        Some(1.0),
        "active gauge with one open connection{}",
        f.diag()
    );
    drop(s);
    let total = f.wait_metric(
        &format!(
            "fulcrum_backend_connections_total{{cluster=\"c\",backend=\"{}\"}}",
            echo.addr()
        ),
        Duration::from_secs(5),
        |v| v == 1.0,
    );
    assert_eq!(
        total,
        Some(1.0),
        "backend connections counter{}\n{}",
        f.diag(),
        f.metrics()
    );
    let active = f.wait_metric(
        "fulcrum_listener_connections_active{listener=\"l\"}",
        Duration::from_secs(5),
        |v| v == 0.0,
    );
    assert_eq!(active, Some(0.0), "active gauge after close{}", f.diag());
}

#[test]
fn sigterm_lets_an_open_connection_finish_then_exits_zero() {
    let echo = TestServer::echo("echo");
    let (mut f, listen) = start("shutdown_timeout = \"10s\"", echo.addr());

    // A transfer paced over ~0.6 s, under way when SIGTERM arrives.
    let len = 2 * 1024 * 1024;
    let s = connect(listen);
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        let mut buf = vec![0u8; 32 * 1024];
        let mut sent = 0u64;
        while sent < len {
            fill_pattern(7, sent, &mut buf);
            w.write_all(&buf)?;
            sent += buf.len() as u64;
            thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    });
    let mut r = s.try_clone().unwrap();
    let reader = thread::spawn(move || -> Result<u64, String> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut expect = vec![0u8; 64 * 1024];
        let mut got = 0u64;
        while got < len {
            let n = r
                .read(&mut buf)
                .map_err(|e| format!("read after {got}: {e}"))?;
            if n == 0 {
                return Err(format!("EOF after {got} of {len} bytes"));
            }
            fill_pattern(7, got, &mut expect[..n]);
            if buf[..n] != expect[..n] {
                return Err(format!("mismatch in bytes {got}..{}", got + n as u64));
            }
            got += n as u64;
        }
        Ok(got)
    });
    thread::sleep(Duration::from_millis(100)); // let the transfer get going
    f.sigterm();

    // New connects are refused once the listeners close.
    assert!(
        wait_until(Duration::from_secs(5), || refused(listen)),
        "listener still accepts after SIGTERM{}",
        f.diag()
    );
    assert!(
        f.running(),
        "fulcrum exited with a connection still open{}",
        f.diag()
    );

    let sent = writer.join().unwrap();
    assert!(
        sent.is_ok(),
        "writing through a draining proxy failed: {sent:?}{}",
        f.diag()
    );
    let got = reader.join().unwrap();
    assert_eq!(
        got,
        Ok(len),
        "the open connection's transfer across SIGTERM{}",
        f.diag()
    );

    // One more exchange on the same connection, then close it: fulcrum may now exit.
    let mut s = s;
    let r = echo_roundtrip(&mut s, b"last words");
    assert!(r.is_ok(), "exchange after SIGTERM: {r:?}{}", f.diag());
    assert!(
        f.running(),
        "fulcrum exited with a connection still open{}",
        f.diag()
    );
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "unexpected bytes at close: {rest:?}");
    drop(s);

    let status = f.wait_exit(Duration::from_secs(5));
    assert!(
        matches!(status, Some(s) if s.success()),
        "after its last connection closed, fulcrum should exit 0 well before the 10 s \
         shutdown_timeout; got {status:?}{}",
        f.diag()
    );
}

#[test]
fn shutdown_timeout_bounds_a_connection_that_never_closes() {
    let hold = TestServer::hold("hold");
    let (mut f, listen) = start("shutdown_timeout = \"1s\"", hold.addr());
    let mut s = connect(listen);
    assert_eq!(read_line(&mut s).unwrap(), "hold");

    let t0 = Instant::now();
    f.sigterm();
    let status = f.wait_exit(Duration::from_secs(8));
    let elapsed = t0.elapsed();
    assert!(
        matches!(status, Some(s) if s.success()),
        "with shutdown_timeout = 1s and a connection that never closes, fulcrum should exit 0; \
         got {status:?} after {elapsed:?}{}",
        f.diag()
    );
    assert!(
        elapsed >= Duration::from_millis(800),
        "fulcrum exited after {elapsed:?}: it did not wait for the open connection{}",
        f.diag()
    );
    assert!(
        elapsed <= Duration::from_millis(3500),
        "exit took {elapsed:?}, expected ~1 s (shutdown_timeout) + slack{}",
        f.diag()
    );
    // The held connection is gone with the process.
    let mut b = [0u8; 16];
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = s.read(&mut b);
    assert!(
        matches!(r, Ok(0) | Err(_)),
        "connection still delivers data after exit: {r:?}"
    );
    drop(hold);
}

#[test]
fn sigint_with_no_connections_exits_zero_promptly() {
    let echo = TestServer::echo("echo");
    let (mut f, listen) = start("", echo.addr());
    let mut s = connect(listen);
    echo_roundtrip(&mut s, b"x").unwrap();
    drop(s);
    // Let the closed connection leave the books before the signal.
    let _ = f.wait_metric(
        "fulcrum_listener_connections_active{listener=\"l\"}",
        Duration::from_secs(5),
        |v| v == 0.0,
    );
    let t0 = Instant::now();
    f.signal("INT");
    let status = f.wait_exit(Duration::from_secs(5));
    assert!(
        matches!(status, Some(s) if s.success()),
        "SIGINT with nothing open: expected exit 0 within ~1 s, got {status:?} after {:?}{}",
        t0.elapsed(),
        f.diag()
    );
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "SIGINT exit took {:?}",
        t0.elapsed()
    );
}

/// Idle keep-alive connections, HTTP/1.1 and HTTP/2, end as soon as a graceful stop begins:
/// no request is in flight on them, so the process exits long before its shutdown timeout.
#[test]
fn sigterm_closes_idle_keep_alive_connections_at_once() {
    use support::h2raw::H2Conn;
    use support::http_backend::HttpBackend;
    use support::raw::{RawClient, http_cluster, http_config};

    let backend = HttpBackend::start("b");
    let listen = free_addr();
    let cfg = http_config(
        free_port(),
        listen,
        "cluster = \"c\"",
        &http_cluster("c", &[backend.addr()], ""),
    )
    .replace("shutdown_timeout = \"5s\"", "shutdown_timeout = \"20s\"");
    let mut f = Fulcrum::start(&cfg);

    let mut h1 = RawClient::connect(listen);
    h1.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = h1.read_response().unwrap();
    assert_eq!(r.status, 200, "{}", f.diag());
    assert!(
        h1.open_for(Duration::from_millis(200)),
        "keep-alive{}",
        f.diag()
    );
    let mut h2 = H2Conn::handshake(listen).unwrap_or_else(|e| panic!("h2c: {e}{}", f.diag()));

    let t0 = Instant::now();
    f.sigterm();
    assert!(
        h1.closed_within(Duration::from_secs(3)),
        "the idle HTTP/1.1 connection stayed open after SIGTERM{}",
        f.diag()
    );
    let end = h2.wait_goaway(Duration::from_secs(3));
    assert!(
        end.goaway.is_some(),
        "no GOAWAY on the idle HTTP/2 connection after SIGTERM: {end:?}{}",
        f.diag()
    );
    drop(h2);
    let status = f.wait_exit(Duration::from_secs(5));
    assert!(
        matches!(status, Some(s) if s.success()),
        "fulcrum should exit 0 once its idle connections closed, well before the 20 s \
         shutdown_timeout; got {status:?} after {:?}{}",
        t0.elapsed(),
        f.diag()
    );
}
