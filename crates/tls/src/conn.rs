//! A terminated TLS connection over a TCP socket, driven here rather than through tokio-rustls.
//!
//! Why not tokio-rustls: the HTTP code reads a request body and writes the response at once,
//! through `&self` (a `TcpStream` allows that; a tokio-rustls stream needs `&mut` and so a
//! split behind two async locks); the handshake must be able to stop before the client's
//! Finished to serve 0-RTT requests ([`TlsConn::is_handshaking`]); and a read that drains the
//! socket clears its readiness at once instead of costing one more `recv` that says `EAGAIN`.
//!
//! One `std::sync::Mutex` guards the rustls state. It is held only around rustls calls and
//! non-blocking socket calls, never across an `.await`, so a reader and a writer never wait on
//! each other. Readiness comes from the socket's own (`poll_read_ready`, `poll_write_ready`);
//! a read and a write may be pending at once, each in its own direction.
//!
//! 0-RTT: rustls keeps early data apart from the rest of the plaintext; reads here return it
//! first, as the first bytes of the stream, so the caller sees one byte stream. While
//! [`TlsConn::is_handshaking`] is true, every byte a read returns was early data (the
//! handshake completes before any later byte can be decrypted).

use crate::identity::ClientIdentity;
use crate::server::AcceptError;
use fulcrum_sys::socket::{recv_now, send_now};
use rustls::server::{Acceptor, ClientHello};
use rustls::{ServerConfig, ServerConnection};
use std::io::{self, BufRead, ErrorKind::WouldBlock, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A server-side TLS connection: handshake done, or (0-RTT) waiting for the client's Finished.
pub struct TlsConn {
    tcp: TcpStream,
    state: Mutex<State>,
    /// When the handshake must be complete (the listener's `handshake_timeout` from the start).
    deadline: Instant,
    /// rustls's `is_handshaking`, kept outside the lock: it only ever turns false, in
    /// [`TlsConn::process`].
    handshaking: AtomicBool,
}

struct State {
    tls: ServerConnection,
    /// Early data taken out of rustls and not read yet (it comes before any other plaintext).
    early: Vec<u8>,
    /// How much of `early` has been read.
    early_read: usize,
    /// close_notify has been queued.
    closing: bool,
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
    /// client's hello. Returns when the handshake is complete, or, when rustls accepted 0-RTT
    /// data, as soon as the server's flight is sent: the early data can then be read while
    /// the client finishes. The caller bounds it in time.
    pub(crate) async fn handshake(
        tcp: TcpStream,
        prefix: &[u8],
        pick: impl FnOnce(&ClientHello<'_>) -> Arc<ServerConfig>,
        deadline: Instant,
    ) -> Result<TlsConn, AcceptError> {
        let tls = read_client_hello(&tcp, prefix, pick).await?;
        let conn = TlsConn {
            tcp,
            state: Mutex::new(State {
                tls,
                early: Vec::new(),
                early_read: 0,
                closing: false,
            }),
            deadline,
            handshaking: AtomicBool::new(true),
        };
        // Records that came with the hello (0-RTT data) are still to be processed.
        conn.process(&mut conn.lock())
            .map_err(AcceptError::from_io)?;
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
        match tokio::time::timeout_at(self.deadline, self.drive(false)).await {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// The protocol ALPN chose, if any.
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.lock().tls.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// The verified client certificate's identity (mTLS), if the client presented one.
    pub fn identity(&self) -> Option<ClientIdentity> {
        ClientIdentity::of(&self.lock().tls)
    }

    /// Runs `f` on the rustls connection (negotiated parameters, peer certificates).
    pub fn with_connection<R>(&self, f: impl FnOnce(&ServerConnection) -> R) -> R {
        f(&self.lock().tls)
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
            let write = |cx: &mut Context<'_>| self.poll_write_with(cx, false, |w| w.write(data));
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
        {
            let mut st = self.lock();
            if st.has_plaintext() || st.tls.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
        }
        self.tcp.poll_read_ready(cx)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handshake loop: send what rustls has, stop when the handshake is complete (or,
    /// with `stop_early`, when 0-RTT was accepted and the server's flight is out), else read.
    async fn drive(&self, stop_early: bool) -> io::Result<()> {
        loop {
            std::future::poll_fn(|cx| self.poll_flush_tls(cx)).await?;
            {
                let mut st = self.lock();
                if !st.tls.is_handshaking() || (stop_early && st.tls.early_data().is_some()) {
                    return Ok(());
                }
            }
            let n = std::future::poll_fn(|cx| {
                loop {
                    if let Some(n) = self.read_tls(&mut self.lock())? {
                        return Poll::Ready(Ok::<_, io::Error>(n));
                    }
                    ready!(self.tcp.poll_read_ready(cx))?;
                }
            })
            .await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
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
            if let Some(result) = st.plaintext(take) {
                return Poll::Ready(result);
            }
            let read = self.read_tls(&mut st)?;
            drop(st);
            if read.is_none() {
                ready!(self.tcp.poll_read_ready(cx))?;
            }
        }
    }

    /// One read from the socket into rustls, then processing: `Some(n)` bytes read (0: the
    /// socket's end), `None` when the socket has nothing now. A short read drained the
    /// socket, so its readiness is cleared at once (no extra `recv` to learn `EAGAIN`).
    fn read_tls(&self, st: &mut State) -> io::Result<Option<usize>> {
        let mut got = None;
        let result = self.tcp.try_io(Interest::READABLE, || {
            let mut sock = SockRead {
                tcp: &self.tcp,
                asked: 0,
            };
            let n = st.tls.read_tls(&mut sock)?;
            got = Some(n);
            if n > 0 && n < sock.asked {
                return Err(WouldBlock.into());
            }
            Ok(n)
        });
        match (result, got) {
            (_, Some(n)) => {
                self.process(st)?;
                Ok(Some(n))
            }
            (Err(e), None) if e.kind() == WouldBlock => Ok(None),
            (Err(e), None) => Err(e),
            (Ok(n), None) => Ok(Some(n)),
        }
    }

    /// Processes what rustls read; sends at once what that produced (session tickets after
    /// the handshake, alerts, key updates) if the socket takes it without waiting, else it
    /// goes out with the next write.
    fn process(&self, st: &mut State) -> io::Result<()> {
        let result = st.tls.process_new_packets();
        if !st.tls.is_handshaking() {
            self.handshaking.store(false, Relaxed);
        }
        st.take_early();
        let _ = self.try_flush(st);
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
    }

    /// Writes what rustls has to send without waiting: `Ok(true)` when all of it went.
    fn try_flush(&self, st: &mut State) -> io::Result<bool> {
        while st.tls.wants_write() {
            match st.tls.write_tls(&mut SockWrite(&self.tcp)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
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

    fn poll_write_plain(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, data.is_empty(), |w| w.write(data))
            .map_ok(|(n, _)| n)
    }

    fn poll_write_slices(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let empty = bufs.iter().all(|b| b.is_empty());
        self.poll_write_with(cx, empty, |w| w.write_vectored(bufs))
            .map_ok(|(n, _)| n)
    }

    /// Hands plaintext to rustls (which makes the records) and sends what it can now: how
    /// much it took, and whether everything rustls had went out. Waits for the socket only
    /// when rustls's send buffer is full.
    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        empty: bool,
        mut write: impl FnMut(&mut rustls::Writer<'_>) -> io::Result<usize>,
    ) -> Poll<io::Result<(usize, bool)>> {
        loop {
            let mut st = self.lock();
            let n = write(&mut st.tls.writer())?;
            let all_sent = self.try_flush(&mut st)?;
            if n > 0 || empty {
                return Poll::Ready(Ok((n, all_sent)));
            }
            if all_sent {
                // Nothing taken and nothing to send: plaintext held until a handshake that
                // does not progress (cannot happen with 0-RTT, which sends at half-RTT).
                return Poll::Ready(Err(io::Error::other(
                    "TLS send buffer full before the handshake completed",
                )));
            }
            drop(st);
            ready!(self.tcp.poll_write_ready(cx))?;
        }
    }

    /// close_notify, then FIN. Does not wait: writes already waited for their bytes to go, so
    /// all that can be left is the alert itself, and a peer that does not read (its window
    /// full) must not hold the connection open; it then gets the FIN without the alert.
    fn poll_close(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        {
            let mut st = self.lock();
            if !st.closing {
                st.closing = true;
                st.tls.send_close_notify();
            }
            let _ = self.try_flush(&mut st);
        }
        match fulcrum_sys::socket::shutdown_write(&self.tcp) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl State {
    /// Early data rustls accepted, moved out so that reads return it first.
    fn take_early(&mut self) {
        if let Some(mut early) = self.tls.early_data() {
            // An in-memory buffer: it cannot fail.
            let _ = early.read_to_end(&mut self.early);
        }
    }

    /// What a read returns from what is buffered: early data first, then the rest.
    /// `None` when nothing is (read the socket).
    fn plaintext(&mut self, take: &mut impl FnMut(&[u8]) -> usize) -> Option<io::Result<usize>> {
        if self.early_read < self.early.len() {
            let n = take(&self.early[self.early_read..]);
            self.early_read += n;
            if self.early_read == self.early.len() {
                self.early = Vec::new();
                self.early_read = 0;
            }
            return Some(Ok(n));
        }
        let mut reader = self.tls.reader();
        match reader.fill_buf() {
            Ok([]) => Some(Ok(0)),
            Ok(chunk) => {
                let n = take(chunk);
                reader.consume(n);
                Some(Ok(n))
            }
            Err(e) if e.kind() == WouldBlock => None,
            // The peer closed without close_notify: HTTP frames its messages, so the end of
            // the stream is enough.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Some(Ok(0)),
            Err(e) => Some(Err(e)),
        }
    }

    fn has_plaintext(&mut self) -> bool {
        self.early_read < self.early.len()
            || !matches!(self.tls.reader().fill_buf(), Err(e) if e.kind() == WouldBlock)
    }
}

/// Reads the ClientHello (`prefix` first, then the socket), then starts the connection with
/// the config `pick` chooses for it. A bad hello is answered with rustls's alert.
async fn read_client_hello(
    tcp: &TcpStream,
    prefix: &[u8],
    pick: impl FnOnce(&ClientHello<'_>) -> Arc<ServerConfig>,
) -> Result<ServerConnection, AcceptError> {
    let mut acceptor = Acceptor::default();
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
                let mut sock = SockRead { tcp, asked: 0 };
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
    let config = pick(&accepted.client_hello());
    accepted.into_connection(config).map_err(|(e, mut alert)| {
        let _ = alert.write_all(&mut SockWrite(tcp));
        AcceptError::Tls(e)
    })
}

/// The socket as `io::Read` for rustls, remembering how much was asked for.
struct SockRead<'a> {
    tcp: &'a TcpStream,
    asked: usize,
}

impl Read for SockRead<'_> {
    /// A raw `recv`: callers run it inside `try_io`, which clears the readiness on `EAGAIN`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.asked = buf.len();
        recv_now(self.tcp, buf)
    }
}

/// The socket as `io::Write` for rustls (vectored: all queued records in one call; one record,
/// the usual case, goes with `send`, which costs the kernel less than `writev`).
struct SockWrite<'a>(&'a TcpStream);

impl Write for SockWrite<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_io(Interest::WRITABLE, || send_now(self.0, buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match bufs {
            [one] => self.write(one),
            _ => self.0.try_write_vectored(bufs),
        }
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
        self.into_ref().get_ref().poll_write_plain(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.into_ref().get_ref().poll_write_slices(cx, bufs)
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
