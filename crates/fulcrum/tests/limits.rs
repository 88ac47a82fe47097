//! Resource limits: running out of file descriptors, and `max_connections`.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};
use support::*;

fn config(
    admin: u16,
    listen: SocketAddr,
    backend_addr: SocketAddr,
    listener_extra: &str,
) -> String {
    config_head(admin, 2)
        + &listener_toml("l", &listen.to_string(), "c", listener_extra)
        + &cluster_toml("c", "round_robin", &[backend(backend_addr)], "")
}

#[test]
fn emfile_backs_off_without_spinning_and_recovers() {
    const NOFILE: u64 = 64;
    let hold = TestServer::hold("hold");
    let admin = free_port();
    let listen = free_addr();
    let cfg = config(admin, listen, hold.addr(), "backlog = 512");
    let f = Fulcrum::start_with(
        &cfg,
        Launch {
            nofile: Some(NOFILE),
            ..Launch::default()
        },
    );
    let pid = f.pid();
    let base_fds = proc_fd_count(pid);

    // Far more clients than 64 fds can serve: the proxy runs out of descriptors, the rest wait
    // in the kernel's backlog.
    let mut clients: Vec<TcpStream> = Vec::new();
    for _ in 0..100 {
        if let Ok(s) = try_connect(listen) {
            clients.push(s);
        }
    }
    assert!(
        wait_until(Duration::from_secs(5), || proc_fd_count(pid) as u64
            >= NOFILE - 6),
        "fulcrum never came near its fd limit: {} fds open (started with {base_fds}), {} clients \
         connected{}",
        proc_fd_count(pid),
        clients.len(),
        f.diag()
    );
    // Let it settle into its out-of-fds state, then measure its CPU time.
    thread::sleep(Duration::from_millis(300));
    let tck = clk_tck() as f64;
    let (t0, c0) = (Instant::now(), proc_cpu_ticks(pid));
    thread::sleep(Duration::from_secs(2));
    let (secs, ticks) = (t0.elapsed().as_secs_f64(), proc_cpu_ticks(pid) - c0);
    let cpu = ticks as f64 / tck / secs;
    assert!(
        cpu < 0.5,
        "fulcrum used {:.0}% of a core for {secs:.1} s while out of fds: it spins on EMFILE \
         instead of backing off ({} fds open){}",
        cpu * 100.0,
        proc_fd_count(pid),
        f.diag()
    );

    // Free the fds: fulcrum must serve new connections again.
    hold.release();
    drop(clients);
    let recovered = wait_until(Duration::from_secs(10), || {
        try_connect(listen)
            .and_then(|mut s| read_line(&mut s))
            .is_ok_and(|n| n == "hold")
    });
    assert!(
        recovered,
        "no connection served within 10 s after the fds were freed ({} fds open){}",
        proc_fd_count(pid),
        f.diag()
    );
    let exhausted = f.metric("fulcrum_listener_accept_exhausted_total{listener=\"l\"}");
    assert!(
        exhausted.is_some_and(|v| v > 0.0),
        "fulcrum_listener_accept_exhausted_total should count the EMFILE back-offs, got \
         {exhausted:?}{}",
        f.diag()
    );
    eprintln!(
        "emfile: cpu {:.1}% over {secs:.1} s, accept_exhausted {exhausted:?}",
        cpu * 100.0
    );
}

#[test]
fn max_connections_holds_the_third_client_until_one_closes() {
    let hold = TestServer::hold("hold");
    let admin = free_port();
    let listen = free_addr();
    let f = Fulcrum::start(&config(admin, listen, hold.addr(), "max_connections = 2"));

    let mut first = connect(listen);
    assert_eq!(
        read_line(&mut first).unwrap(),
        "hold",
        "first client{}",
        f.diag()
    );
    let mut second = connect(listen);
    assert_eq!(
        read_line(&mut second).unwrap(),
        "hold",
        "second client{}",
        f.diag()
    );

    // The third connects (the kernel's backlog takes it) but is not served.
    let mut third = connect(listen);
    assert!(
        silent_for(&mut third, Duration::from_millis(700)),
        "a third client was served while max_connections = 2 were open{}",
        f.diag()
    );
    assert_eq!(
        hold.accepted(),
        2,
        "backend connections at the limit{}",
        f.diag()
    );
    let active = f.metric("fulcrum_listener_connections_active{listener=\"l\"}");
    assert_eq!(active, Some(2.0), "active gauge at the limit{}", f.diag());

    // The first two still work.
    echo_roundtrip(&mut first, b"one").unwrap();
    echo_roundtrip(&mut second, b"two").unwrap();

    // One closes: the third is served.
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let r = read_line(&mut third);
    assert!(
        matches!(&r, Ok(n) if n == "hold"),
        "after one of two closed, the waiting client should be served within 5 s: {r:?}{}",
        f.diag()
    );
    echo_roundtrip(&mut third, b"three").unwrap();
    echo_roundtrip(&mut second, b"two again").unwrap();

    // And a fourth waits again, since two are open.
    let mut fourth = connect(listen);
    assert!(
        silent_for(&mut fourth, Duration::from_millis(500)),
        "a fourth client was served while two were open{}",
        f.diag()
    );
    drop(second);
    fourth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let r = read_line(&mut fourth);
    assert!(
        matches!(&r, Ok(n) if n == "hold"),
        "fourth client: {r:?}{}",
        f.diag()
    );
}
