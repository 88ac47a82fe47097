//! A terminated TLS connection over a TCP socket, driven here rather than through tokio-rustls.
//!
//! Why not tokio-rustls: the HTTP code reads a request body and writes the response at once,
//! through `&self` (a `TcpStream` allows that; a tokio-rustls stream needs `&mut` and so a
//! split behind two async locks); the handshake must be able to stop before the client's
//! Finished to serve 0-RTT requests ([`TlsConn::is_handshaking`]); and a read that drains the
//! socket clears its readiness at once instead of costing one more `recv` that says `EAGAIN`.
//!
//! One `std::sync::Mutex` guards the TLS state ([`Session`]). It is held only around the
//! state's calls and non-blocking socket calls, never across an `.await`, so a reader and a
//! writer never wait on each other. Readiness comes from the socket's own (`poll_read_ready`,
//! `poll_write_ready`); a read and a write may be pending at once, each in its own direction.
//!
//! 0-RTT: plaintext decrypted during the handshake (early data first) is returned first, so
//! the caller sees one byte stream. While [`TlsConn::is_handshaking`] is true, every byte a
//! read returns was early data (the handshake completes before any later byte can be
//! decrypted).

use crate::identity::ClientIdentity;
use crate::server::AcceptError;
use crate::session::{Session, Step};
use fulcrum_sys::socket::{recv_now, recv_now_into, send_now};
use rustls::ServerConfig;
use rustls::server::{Acceptor, ClientHello, UnbufferedServerConnection};
use std::io::{self, ErrorKind::WouldBlock, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A server-side TLS connection: handshake done, or (0-RTT) waiting for the client's Finished.
pub struct TlsConn {
    tcp: TcpStream,
    state: Mutex<Session>,
    /// When the handshake must be complete (the listener's `handshake_timeout` from the start).
    deadline: Instant,
    /// Whether the handshake is in progress, kept outside the lock: it only ever turns false,
    /// in [`TlsConn::step`].
    handshaking: AtomicBool,
    /// Called once per misbehaviour of the peer after the handshake ([`TlsConn::count_errors`]).
    on_error: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConn")
            .field("tcp", &self.tcp)
            .field("handshaking", &self.is_handshaking())
            .finish_non_exhaustive()
    }
}

impl TlsConn {
    /// Runs the handshake on `tcp`, after feeding rustls `prefix` (bytes of the connection
    /// already read, e.g. after a PROXY header), with the config `pick` chooses for the
    /// client's hello. Returns when the handshake is complete, or, when the client sent 0-RTT
    /// data, as soon as some of it has arrived and the server's flight is sent: the early data
    /// can then be read while the client finishes. The caller bounds it in time.
    pub(crate) async fn handshake(
        tcp: TcpStream,
        prefix: &[u8],
        pick: impl FnOnce(&ClientHello<'_>) -> Arc<ServerConfig>,
        deadline: Instant,
    ) -> Result<TlsConn, AcceptError> {
        let (config, received) = read_client_hello(&tcp, prefix, pick).await?;
        let tls = UnbufferedServerConnection::new(config).map_err(AcceptError::Tls)?;
        let conn = TlsConn {
            tcp,
            state: Mutex::new(Session::new(tls, &received)),
            deadline,
            handshaking: AtomicBool::new(true),
            on_error: OnceLock::new(),
        };
        conn.drive(true).await.map_err(AcceptError::from_io)?;
        Ok(conn)
    }

    /// Whether the client has not finished the handshake yet: only after a 0-RTT accept.
    /// Bytes read while this is true were sent as early data and may be a replay.
    pub fn is_handshaking(&self) -> bool {
        self.handshaking.load(Relaxed)
    }

    /// Reads until the client's Finished (the rest of what it sent stays buffered for later
    /// reads), within the handshake timeout. Returns at once if the handshake is complete.
    pub async fn complete_handshake(&self) -> io::Result<()> {
        if !self.is_handshaking() {
            return Ok(());
        }
        match tokio::time::timeout_at(self.deadline, self.drive(false)).await {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// The protocol ALPN chose, if any.
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.lock().alpn_protocol().map(<[u8]>::to_vec)
    }

    /// The verified client certificate's identity (mTLS), if the client presented one.
    pub fn identity(&self) -> Option<ClientIdentity> {
        ClientIdentity::from_der(self.lock().peer_certificate()?.as_ref())
    }

    /// Has `count` called once for each misbehaviour of the peer after the handshake: a
    /// record that does not authenticate or is not well-formed, a renegotiation attempt. (Each
    /// ends the connection with an alert, but the first renegotiation attempt, which is only
    /// turned down.) Set once; later calls are ignored.
    pub fn count_errors(&self, count: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_error.set(Box::new(count));
    }

    /// The TCP socket under the TLS (addresses, socket options).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Reads plaintext: `take` is given the bytes available (at least one) and returns how
    /// many it used. `Ok(0)` is the end of the stream (close_notify, or the socket's end).
    pub async fn read_with(&self, mut take: impl FnMut(&[u8]) -> usize) -> io::Result<usize> {
        let read = std::future::poll_fn(|cx| self.poll_read_with(cx, &mut take));
        if !self.is_handshaking() {
            return read.await;
        }
        // After 0-RTT, the client has until the handshake timeout to finish.
        match tokio::time::timeout_at(self.deadline, read).await {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Writes all of `data` and sends it (records are made as `data` comes: one write of a
    /// small response is one record).
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        let mut all_sent = false;
        while !data.is_empty() {
            let write = |cx: &mut Context<'_>| self.poll_write_with(cx, &[data]);
            let (n, sent) = std::future::poll_fn(write).await?;
            data = &data[n..];
            all_sent = sent;
        }
        if all_sent {
            return Ok(());
        }
        std::future::poll_fn(|cx| self.poll_flush_tls(cx)).await
    }

    /// Sends close_notify (if the socket takes it now), then ends the TCP stream's sending
    /// side.
    pub async fn shutdown(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_close(cx)).await
    }

    /// Ready when a read would return something without waiting (plaintext buffered, or the
    /// socket readable), so an idle connection need not hold a read buffer meanwhile. A poll
    /// keeps no state between polls, so the wait stays small. Ready at once while the
    /// handshake is in progress (after 0-RTT): the read that follows carries its deadline.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.lock().readable() {
            return Poll::Ready(Ok(()));
        }
        self.tcp.poll_read_ready(cx)
    }

    fn lock(&self) -> MutexGuard<'_, Session> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handshake loop: send what there is to send, stop when the handshake is complete
    /// (or, with `stop_early`, when early data has arrived), else process or read.
    async fn drive(&self, stop_early: bool) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_handshake(cx, stop_early)).await
    }

    /// Steps through the handshake; what it queues to send goes out in one write each time
    /// it must wait for the client (a whole flight), or when it stops.
    fn poll_handshake(&self, cx: &mut Context<'_>, stop_early: bool) -> Poll<io::Result<()>> {
        loop {
            let mut st = self.lock();
            let done = !st.is_handshaking() || (stop_early && st.early_data);
            if done || st.ended {
                drop(st);
                ready!(self.poll_flush_tls(cx))?;
                if !done {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                return Poll::Ready(Ok(()));
            }
            if self.step(&mut st)? == Step::Progress {
                continue;
            }
            if !self.try_flush(&mut st)? {
                drop(st);
                ready!(self.tcp.poll_write_ready(cx))?;
            } else if self.read_tls(&mut st)?.is_none() {
                drop(st);
                ready!(self.tcp.poll_read_ready(cx))?;
            }
        }
    }

    fn poll_read_with(
        &self,
        cx: &mut Context<'_>,
        take: &mut impl FnMut(&[u8]) -> usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut st = self.lock();
            if let Some(n) = st.plaintext(take) {
                self.send_queued(&mut st);
                return Poll::Ready(Ok(n));
            }
            if self.step(&mut st)? == Step::Progress {
                continue;
            }
            self.send_queued(&mut st);
            if self.read_tls(&mut st)?.is_none() {
                drop(st);
                ready!(self.tcp.poll_read_ready(cx))?;
            }
        }
    }

    /// Sends what steps queued (tickets, alerts, a key update), together, if the socket takes
    /// it now; else it goes with the next write.
    fn send_queued(&self, st: &mut Session) {
        if !st.unsent().is_empty() {
            let _ = self.try_flush(st);
        }
    }

    /// Processes one handshake state or record, and notes the end of the handshake.
    fn step(&self, st: &mut Session) -> io::Result<Step> {
        let misbehaved = st.misbehaved;
        let step = st.step();
        if st.misbehaved != misbehaved
            && let Some(count) = self.on_error.get()
        {
            count();
        }
        let step = step.inspect_err(|_| {
            // The alert that says why, if the socket takes it now.
            let _ = self.try_flush(st);
        })?;
        self.note_handshake(st);
        Ok(step)
    }

    /// Clears [`TlsConn::handshaking`] once the state's handshake is complete.
    fn note_handshake(&self, st: &Session) {
        if !st.is_handshaking() && self.is_handshaking() {
            self.handshaking.store(false, Relaxed);
        }
    }

    /// One read from the socket: `Some(n)` bytes read (0: the socket's end, noted in the
    /// state), `None` when the socket has nothing now. A short read drained the socket, so
    /// its readiness is cleared at once (no extra `recv` to learn `EAGAIN`).
    fn read_tls(&self, st: &mut Session) -> io::Result<Option<usize>> {
        let input = st.input_for_read();
        let mut got = None;
        let result = self.tcp.try_io(Interest::READABLE, || {
            let asked = input.capacity() - input.len();
            let n = recv_now_into(&self.tcp, input)?;
            got = Some(n);
            if n > 0 && n < asked {
                return Err(WouldBlock.into());
            }
            Ok(n)
        });
        match (result, got) {
            (_, Some(0)) | (Ok(0), None) => {
                st.ended = true;
                Ok(Some(0))
            }
            (_, Some(n)) => Ok(Some(n)),
            (Err(e), None) if e.kind() == WouldBlock => Ok(None),
            (Err(e), None) => Err(e),
            (Ok(n), None) => Ok(Some(n)),
        }
    }

    /// Sends what is queued without waiting: `Ok(true)` when all of it went.
    fn try_flush(&self, st: &mut Session) -> io::Result<bool> {
        while !st.unsent().is_empty() {
            match self
                .tcp
                .try_io(Interest::WRITABLE, || send_now(&self.tcp, st.unsent()))
            {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => st.advance_sent(n),
                Err(e) if e.kind() == WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn poll_flush_tls(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let all_sent = self.try_flush(&mut self.lock())?;
            if all_sent {
                return Poll::Ready(Ok(()));
            }
            ready!(self.tcp.poll_write_ready(cx))?;
        }
    }

    /// Seals plaintext into records and sends what it can now: how much it took, and whether
    /// everything queued went out. Waits for the socket only while earlier records are
    /// unsent; during the handshake, for the client's Finished unless rustls can send at
    /// half-RTT (0-RTT accepted).
    fn poll_write_with<T: std::ops::Deref<Target = [u8]>>(
        &self,
        cx: &mut Context<'_>,
        parts: &[T],
    ) -> Poll<io::Result<(usize, bool)>> {
        loop {
            let mut st = self.lock();
            if !self.try_flush(&mut st)? {
                drop(st);
                ready!(self.tcp.poll_write_ready(cx))?;
                continue;
            }
            if parts.iter().all(|p| p.is_empty()) {
                return Poll::Ready(Ok((0, true)));
            }
            let n = if !st.in_traffic() {
                let first = parts
                    .iter()
                    .find(|p| !p.is_empty())
                    .map_or(&[][..], |p| &p[..]);
                let wrote = st.write_half_rtt(first);
                self.note_handshake(&st);
                match wrote? {
                    Some(n) => n,
                    None if !st.in_traffic() => {
                        drop(st);
                        ready!(self.poll_handshake(cx, false))?;
                        continue;
                    }
                    None => continue,
                }
            } else {
                st.write(parts)?
            };
            let all_sent = self.try_flush(&mut st)?;
            return Poll::Ready(Ok((n, all_sent)));
        }
    }

    /// close_notify, then FIN. Does not wait: writes already waited for their bytes to go, so
    /// all that can be left is the alert itself, and a peer that does not read (its window
    /// full) must not hold the connection open; it then gets the FIN without the alert.
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        {
            let mut st = self.lock();
            if !st.closing {
                st.close_notify()?;
            }
            let _ = self.try_flush(&mut st);
        }
        match fulcrum_sys::socket::shutdown_write(&self.tcp) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}

/// Reads the ClientHello (`prefix` first, then the socket) and returns the config `pick`
/// chooses for it, with every byte read so far (the hello, and what followed it) for the
/// connection to start from. A bad hello is answered with rustls's alert.
async fn read_client_hello(
    tcp: &TcpStream,
    prefix: &[u8],
    pick: impl FnOnce(&ClientHello<'_>) -> Arc<ServerConfig>,
) -> Result<(Arc<ServerConfig>, Vec<u8>), AcceptError> {
    let mut acceptor = Acceptor::default();
    let mut received = prefix.to_vec();
    let mut rest = prefix;
    let accepted = loop {
        match acceptor.accept() {
            Ok(Some(accepted)) => break accepted,
            Ok(None) => {}
            Err((e, mut alert)) => {
                let _ = alert.write_all(&mut SockWrite(tcp));
                return Err(AcceptError::Tls(e));
            }
        }
        let read = if rest.is_empty() {
            loop {
                tcp.readable().await.map_err(AcceptError::Io)?;
                let mut sock = SockRead {
                    tcp,
                    received: &mut received,
                };
                match tcp.try_io(Interest::READABLE, || acceptor.read_tls(&mut sock)) {
                    Err(e) if e.kind() == WouldBlock => continue,
                    other => break other,
                }
            }
        } else {
            acceptor.read_tls(&mut rest)
        };
        match read {
            Ok(0) => return Err(AcceptError::Closed),
            Ok(_) => {}
            Err(e) => return Err(AcceptError::from_io(e)),
        }
    };
    Ok((pick(&accepted.client_hello()), received))
}

/// The socket as `io::Read` for rustls's acceptor, keeping a copy of what it read.
struct SockRead<'a> {
    tcp: &'a TcpStream,
    received: &'a mut Vec<u8>,
}

impl Read for SockRead<'_> {
    /// A raw `recv`: callers run it inside `try_io`, which clears the readiness on `EAGAIN`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = recv_now(self.tcp, buf)?;
        self.received.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// The socket as `io::Write`, for the acceptor's alert.
struct SockWrite<'a>(&'a TcpStream);

impl Write for SockWrite<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_io(Interest::WRITABLE, || send_now(self.0, buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut take = |chunk: &[u8]| {
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            n
        };
        self.into_ref()
            .get_ref()
            .poll_read_with(cx, &mut take)
            .map_ok(|_| ())
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let conn = self.into_ref().get_ref();
        conn.poll_write_with(cx, &[data]).map_ok(|(n, _)| n)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let conn = self.into_ref().get_ref();
        conn.poll_write_with(cx, bufs).map_ok(|(n, _)| n)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.into_ref().get_ref().poll_flush_tls(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.into_ref().get_ref().poll_close(cx)
    }
}
