//! The two ends of an HTTP exchange as byte pipes ([`Wire`]): plain TCP, read and written by
//! readiness with the optimistic try first; TLS Fulcrum terminated ([`fulcrum_tls::TlsConn`],
//! read and written through `&self` like TCP); or TLS to a backend, through split halves.

use crate::readiness::read_drained;
use bytes::BytesMut;
use fulcrum_sys::socket::{recv_now_into, send_now};
use std::future::poll_fn;
use std::io::{self, ErrorKind::WouldBlock};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadHalf, WriteHalf,
};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::time::{Instant, Sleep, timeout_at};

/// A read buffer starts this small (a request head fits) ...
const READ_FIRST: usize = 4 * 1024;
/// ... and grows, doubling, up to this much spare room per read (bodies stream through).
const READ_CHUNK: usize = 64 * 1024;

/// A connection the HTTP code reads from and writes to, from two tasks' worth of futures at
/// once (a request body going up while the response comes down), so through `&self`.
pub(crate) trait Wire: Send + Sync {
    /// Reads what is available into `buf`; `Ok(0)` is end of stream.
    fn read_some(&self, buf: &mut BytesMut) -> impl Future<Output = io::Result<usize>> + Send;
    /// Writes all of `data`.
    fn write_all(&self, data: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
    /// Tells the peer no more bytes will come (FIN, or TLS close_notify then FIN).
    fn shutdown_write(&self) -> impl Future<Output = ()> + Send;
}

fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(buf.capacity().clamp(READ_FIRST, READ_CHUNK));
    }
}

impl Wire for TcpStream {
    async fn read_some(&self, buf: &mut BytesMut) -> io::Result<usize> {
        make_room(buf);
        loop {
            let wanted = buf.capacity() - buf.len();
            match read_drained(self, wanted, || recv_now_into(self, buf)) {
                // The socket's own reader slot, not `readable()`: that future joins a waiter
                // list (a lock to join and one to leave); one task reads each socket.
                Err(e) if e.kind() == WouldBlock => poll_fn(|cx| self.poll_read_ready(cx)).await?,
                other => return other,
            }
        }
    }

    async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match self.try_io(Interest::WRITABLE, || send_now(self, data)) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == WouldBlock => poll_fn(|cx| self.poll_write_ready(cx)).await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn shutdown_write(&self) {
        let _ = fulcrum_sys::socket::shutdown_write(self);
    }
}

/// A TLS stream split in halves, each behind its own lock, so reads and writes proceed at once.
pub(crate) struct Halves<S> {
    read: Mutex<ReadHalf<S>>,
    write: Mutex<WriteHalf<S>>,
}

impl<S: AsyncRead + AsyncWrite> Halves<S> {
    pub(crate) fn new(stream: S) -> Self {
        let (read, write) = tokio::io::split(stream);
        Halves {
            read: Mutex::new(read),
            write: Mutex::new(write),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Send> Wire for Halves<S> {
    async fn read_some(&self, buf: &mut BytesMut) -> io::Result<usize> {
        make_room(buf);
        self.read.lock().await.read_buf(buf).await
    }

    async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        let mut w = self.write.lock().await;
        w.write_all(data).await?;
        w.flush().await
    }

    async fn shutdown_write(&self) {
        let _ = self.write.lock().await.shutdown().await;
    }
}

/// A terminated TLS client: the connection, the local address, and who the client proved to
/// be (mTLS).
pub(crate) struct TlsClient {
    pub(crate) conn: fulcrum_tls::TlsConn,
    pub(crate) local: SocketAddr,
    pub(crate) identity: Option<fulcrum_tls::ClientIdentity>,
}

impl Wire for fulcrum_tls::TlsConn {
    async fn read_some(&self, buf: &mut BytesMut) -> io::Result<usize> {
        make_room(buf);
        let room = buf.capacity() - buf.len();
        self.read_with(|chunk| {
            let n = chunk.len().min(room);
            buf.extend_from_slice(&chunk[..n]);
            n
        })
        .await
    }

    async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        fulcrum_tls::TlsConn::write_all(self, data).await
    }

    async fn shutdown_write(&self) {
        let _ = self.shutdown().await;
    }
}

/// The client side of a connection: plain TCP, or TLS Fulcrum terminated.
pub(crate) enum ClientIo {
    Tcp(TcpStream),
    Tls(Box<TlsClient>),
}

impl ClientIo {
    /// The plain socket, for the zero-copy relay.
    pub(crate) fn tcp(&self) -> Option<&TcpStream> {
        match self {
            ClientIo::Tcp(s) => Some(s),
            ClientIo::Tls(_) => None,
        }
    }

    /// Ready when a read would find something (or cannot tell: then at once). A poll keeps
    /// no state between polls, so a connection waiting for its next request stays small.
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            ClientIo::Tcp(s) => s.poll_read_ready(cx),
            ClientIo::Tls(t) => t.conn.poll_readable(cx),
        }
    }

    /// The local address the client connected to.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            ClientIo::Tcp(s) => s.local_addr(),
            ClientIo::Tls(t) => Ok(t.local),
        }
    }

    /// `https` over TLS, else `http` (for X-Forwarded-Proto and Forwarded).
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            ClientIo::Tcp(_) => "http",
            ClientIo::Tls(_) => "https",
        }
    }

    /// The client certificate's identity, when the client presented a verified one.
    pub(crate) fn identity(&self) -> Option<&fulcrum_tls::ClientIdentity> {
        match self {
            ClientIo::Tcp(_) => None,
            ClientIo::Tls(t) => t.identity.as_ref(),
        }
    }

    /// Whether the client's TLS handshake is still in progress: what was read so far came as
    /// 0-RTT early data (and could be a replay).
    pub(crate) fn in_early_data(&self) -> bool {
        match self {
            ClientIo::Tcp(_) => false,
            ClientIo::Tls(t) => t.conn.is_handshaking(),
        }
    }

    /// Waits for the client's TLS handshake to complete (at once if it has, or for plain
    /// TCP); `false` if it failed or timed out.
    pub(crate) async fn complete_handshake(&self) -> bool {
        match self {
            ClientIo::Tcp(_) => true,
            ClientIo::Tls(t) => t.conn.complete_handshake().await.is_ok(),
        }
    }
}

impl Wire for ClientIo {
    async fn read_some(&self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            ClientIo::Tcp(s) => s.read_some(buf).await,
            ClientIo::Tls(t) => t.conn.read_some(buf).await,
        }
    }

    async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        match self {
            ClientIo::Tcp(s) => Wire::write_all(s, data).await,
            ClientIo::Tls(t) => Wire::write_all(&t.conn, data).await,
        }
    }

    async fn shutdown_write(&self) {
        match self {
            ClientIo::Tcp(s) => s.shutdown_write().await,
            ClientIo::Tls(t) => t.conn.shutdown_write().await,
        }
    }
}

/// [`Wire::read_some`] with a deadline; a timeout is `ErrorKind::TimedOut`.
pub(crate) async fn read_some_until<W: Wire>(
    s: &W,
    buf: &mut BytesMut,
    deadline: Instant,
) -> io::Result<usize> {
    match timeout_at(deadline, s.read_some(buf)).await {
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// [`read_some_until`] with a timer the caller keeps for many reads ([`poll_until`]): its
/// deadline moves later without touching the runtime's timer wheel.
pub(crate) async fn read_some_timed<W: Wire>(
    s: &W,
    buf: &mut BytesMut,
    mut timer: Pin<&mut Sleep>,
    deadline: Instant,
) -> io::Result<usize> {
    let mut read = pin!(s.read_some(buf));
    poll_fn(|cx| {
        if let Poll::Ready(r) = read.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        poll_until(timer.as_mut(), deadline, cx).map(|()| Err(io::ErrorKind::TimedOut.into()))
    })
    .await
}

/// Polls `timer` as a timer for `deadline`. A timer kept for many waits (a connection's
/// keep-alive, a backend's response timeout) is reset only when it must fire earlier, or
/// when it fired before `deadline`: moving it later for every wait costs a reset each time,
/// and it fires early only once per its own period.
pub(crate) fn poll_until(
    mut timer: Pin<&mut Sleep>,
    deadline: Instant,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    ready!(timer.as_mut().poll(cx));
    if timer.deadline() >= deadline {
        return Poll::Ready(());
    }
    timer.as_mut().reset(deadline);
    timer.poll(cx)
}

/// [`Wire::write_all`] as a free function.
pub(crate) async fn write_all<W: Wire>(s: &W, data: &[u8]) -> io::Result<()> {
    s.write_all(data).await
}

/// [`write_all`] bounded by `limit` (a peer that stops reading cannot hold us forever).
pub(crate) async fn write_all_within<W: Wire>(
    s: &W,
    data: &[u8],
    limit: Duration,
) -> io::Result<()> {
    match tokio::time::timeout(limit, s.write_all(data)).await {
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// Relays bytes both ways between two wires until both ends are done or nothing moves for
/// `idle` (the tunnel after an upgrade, when a side is not plain TCP).
pub(crate) async fn copy_both<A: Wire, B: Wire>(a: &A, b: &B, idle: Duration) -> (u64, u64) {
    async fn one_way<S: Wire, D: Wire>(src: &S, dst: &D, idle: Duration) -> u64 {
        let mut buf = BytesMut::with_capacity(READ_FIRST);
        let mut moved = 0;
        loop {
            buf.clear();
            match read_some_until(src, &mut buf, Instant::now() + idle).await {
                Ok(n) if n > 0 => {
                    if dst.write_all(&buf).await.is_err() {
                        return moved;
                    }
                    moved += n as u64;
                }
                _ => {
                    dst.shutdown_write().await;
                    return moved;
                }
            }
        }
    }
    tokio::join!(one_way(a, b, idle), one_way(b, a, idle))
}
