//! Listening and connected TCP sockets with the options Fulcrum sets on them.

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Binds a non-blocking listening socket with `SO_REUSEADDR` and `SO_REUSEPORT`, so each worker
/// thread can hold its own socket on the same address and the kernel spreads connections.
pub fn bind_reuseport(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(socket.into())
}

/// Options for proxied TCP connections. Set on a listening socket, they are inherited by every
/// socket it accepts (Linux copies them), which saves the syscalls per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    pub nodelay: bool,
    /// Idle time before the first keepalive probe; `None` leaves keepalive off.
    pub keepalive: Option<Duration>,
}

/// Applies [`StreamOptions`] to a socket, turning each option on or off as asked.
pub fn apply_stream_options<S: std::os::fd::AsFd>(s: &S, opts: StreamOptions) -> io::Result<()> {
    let sock = SockRef::from(s);
    sock.set_tcp_nodelay(opts.nodelay)?;
    match opts.keepalive {
        Some(idle) => {
            let ka = TcpKeepalive::new()
                .with_time(idle)
                .with_interval(Duration::from_secs(10))
                .with_retries(3);
            sock.set_tcp_keepalive(&ka)
        }
        None => sock.set_keepalive(false),
    }
}

/// Sets `TCP_NODELAY` on a socket.
pub fn set_nodelay<S: std::os::fd::AsFd>(s: &S, on: bool) -> io::Result<()> {
    SockRef::from(s).set_tcp_nodelay(on)
}

/// Opens a non-blocking TCP socket (with `TCP_NODELAY` if asked, set before connecting so no
/// call is needed afterwards) and starts connecting it to `addr`. The connection is usually
/// still in progress on return: wait until the socket is writable, then check [`take_error`]
/// if the readiness says it failed; or, with bytes to send, try [`send_now`] at once.
///
/// With `delay_ack`, the ACK that completes the handshake is held back (`TCP_QUICKACK` off)
/// so that it leaves with the first bytes sent: one packet fewer, for a caller that has bytes
/// to send as soon as the connection is up. (Unsent, the ACK leaves on the delayed-ACK timer.)
pub fn start_connect(
    addr: SocketAddr,
    nodelay: bool,
    delay_ack: bool,
) -> io::Result<std::net::TcpStream> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    if nodelay {
        socket.set_tcp_nodelay(true)?;
    }
    if delay_ack {
        rustix::net::sockopt::set_tcp_quickack(&socket, false)?;
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error()) => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

/// Sends what the socket takes now, without waiting (`MSG_DONTWAIT`, and no `SIGPIPE`).
/// On a socket still connecting, `WouldBlock`; on one whose connect failed, that error.
pub fn send_now<S: std::os::fd::AsFd>(s: &S, buf: &[u8]) -> io::Result<usize> {
    use rustix::net::SendFlags;
    retry_intr(|| rustix::net::send(s, buf, SendFlags::NOSIGNAL | SendFlags::DONTWAIT))
}

/// Reads what the socket holds now, without waiting (`MSG_DONTWAIT`): `WouldBlock` if nothing.
pub fn recv_now<S: std::os::fd::AsFd>(s: &S, buf: &mut [u8]) -> io::Result<usize> {
    let flags = rustix::net::RecvFlags::DONTWAIT;
    retry_intr(|| rustix::net::recv(s, &mut *buf, flags).map(|(read, _)| read))
}

/// [`recv_now`] into the spare capacity of `buf`, which grows by the bytes read. Like every
/// call here it is a raw system call (rustix), so it skips the cancellation-point bookkeeping
/// libc's `recv` does around each call.
pub fn recv_now_into<S: std::os::fd::AsFd>(s: &S, buf: &mut bytes::BytesMut) -> io::Result<usize> {
    let flags = rustix::net::RecvFlags::DONTWAIT;
    let spare = buf.spare_capacity_mut();
    let n =
        retry_intr(|| rustix::net::recv(s, &mut *spare, flags).map(|((read, _), _)| read.len()))?;
    // SAFETY: `recv` initialised the first `n` bytes of the spare capacity, which lie right
    // after the buffer's current length and within its capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Runs a system call again while it is interrupted by a signal (`EINTR`).
pub(crate) fn retry_intr<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// The pending error of a socket (`SO_ERROR`), e.g. why a connect failed.
pub fn take_error<S: std::os::fd::AsFd>(s: &S) -> io::Result<Option<io::Error>> {
    SockRef::from(s).take_error()
}

/// Sends bytes with `MSG_MORE`: the kernel keeps a partial segment queued for what follows,
/// so a `shutdown`/`close` right after sends the bytes and the FIN in one segment. The caller
/// must follow up soon (more bytes without the flag, a FIN, or [`push`]).
pub fn send_more<S: std::os::fd::AsFd>(s: &S, buf: &[u8]) -> io::Result<usize> {
    use rustix::net::SendFlags;
    let flags = SendFlags::MORE | SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
    retry_intr(|| rustix::net::send(s, buf, flags))
}

/// Sends whatever [`send_more`] left queued (clearing `TCP_CORK` pushes pending segments).
pub fn push<S: std::os::fd::AsFd>(s: &S) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_tcp_cork(s, false)?)
}

/// Shuts down the write half of a connected socket: the peer reads end-of-stream while the
/// other direction keeps flowing (TCP half-close).
pub fn shutdown_write<S: std::os::fd::AsFd>(s: &S) -> io::Result<()> {
    match SockRef::from(s).shutdown(std::net::Shutdown::Write) {
        // The peer is already gone: nothing left to tell it.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTCONN.raw_os_error()) => Ok(()),
        other => other,
    }
}

/// Whether an error means the process or system ran out of file descriptors
/// (`EMFILE`, `ENFILE`) or socket memory (`ENOBUFS`, `ENOMEM`): a condition to back off from,
/// not to retry in a tight loop.
pub fn is_resource_exhaustion(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(code) if code == rustix::io::Errno::MFILE.raw_os_error()
            || code == rustix::io::Errno::NFILE.raw_os_error()
            || code == rustix::io::Errno::NOBUFS.raw_os_error()
            || code == rustix::io::Errno::NOMEM.raw_os_error()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sockets_share_one_port() {
        let a = bind_reuseport("127.0.0.1:0".parse().unwrap(), 128).unwrap();
        let addr = a.local_addr().unwrap();
        let b = bind_reuseport(addr, 128).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
    }

    #[test]
    fn accepted_sockets_inherit_the_listener_options() {
        let l = bind_reuseport("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let opts = StreamOptions {
            nodelay: true,
            keepalive: Some(Duration::from_secs(77)),
        };
        apply_stream_options(&l, opts).unwrap();
        let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (a, _) = loop {
            match l.accept() {
                Ok(x) => break x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        };
        let a = SockRef::from(&a);
        assert!(a.tcp_nodelay().unwrap());
        assert!(a.keepalive().unwrap());
        assert_eq!(a.tcp_keepalive_time().unwrap(), Duration::from_secs(77));
    }

    /// Waits (briefly) for a non-blocking listener's next connection.
    fn accept_within(l: &TcpListener, ms: u64) -> Option<std::net::TcpStream> {
        let deadline = std::time::Instant::now() + Duration::from_millis(ms);
        loop {
            match l.accept() {
                Ok((s, _)) => return Some(s),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if std::time::Instant::now() >= deadline {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn start_connect_connects_and_a_refused_connect_reports_why() {
        let l = bind_reuseport("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let c = start_connect(l.local_addr().unwrap(), true, false).unwrap();
        assert!(accept_within(&l, 2000).is_some());
        assert!(SockRef::from(&c).tcp_nodelay().unwrap());
        assert!(take_error(&c).unwrap().is_none());

        let port = l.local_addr().unwrap().port();
        drop(l);
        let c = start_connect(([127, 0, 0, 1], port).into(), false, false).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let error = loop {
            if let Some(e) = take_error(&c).unwrap() {
                break e;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no error for a refused connect"
            );
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn first_bytes_go_out_as_the_connection_comes_up_and_a_refusal_shows_in_send_now() {
        use std::io::Read;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = start_connect(addr, true, true).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            match send_now(&c, b"hello") {
                Ok(n) => break assert_eq!(n, 5),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(std::time::Instant::now() < deadline, "never connected");
            std::thread::sleep(Duration::from_millis(1));
        }
        let (mut a, _) = l.accept().unwrap();
        let mut got = [0u8; 5];
        a.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        a.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 8];
        let e = recv_now(&a, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);

        drop(l);
        let c = start_connect(addr, false, true).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let error = loop {
            match send_now(&c, b"x") {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => break e,
                Ok(_) => panic!("sent on a refused connection"),
            }
            assert!(std::time::Instant::now() < deadline, "no error");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn bytes_sent_with_more_arrive_with_the_fin() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut a, _) = l.accept().unwrap();
        assert_eq!(send_more(&c, b"last words").unwrap(), 10);
        shutdown_write(&c).unwrap();
        let mut got = Vec::new();
        use std::io::Read;
        a.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"last words");

        // Held bytes without a FIN behind them: push sends them.
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut a, _) = l.accept().unwrap();
        send_more(&c, b"held").unwrap();
        push(&c).unwrap();
        a.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut got = [0u8; 4];
        a.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"held");
    }

    #[test]
    fn emfile_counts_as_exhaustion() {
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(24)));
        assert!(!is_resource_exhaustion(&io::Error::from_raw_os_error(111)));
    }
}
