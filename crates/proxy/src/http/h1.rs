//! The HTTP/1.1 side of a client connection: read a request head, hand it to the
//! [`exchange`](super::exchange), repeat while keep-alive allows. Pipelined requests wait in
//! the read buffer and are served one after the other.

use super::HttpRuntime;
use super::exchange;
use super::io::{ClientIo, Wire, read_some_timed, read_some_until, write_all_within};
use super::respond::{Cause, error_response};
use crate::listener::ListenerRuntime;
use crate::worker::{DrainWatch, WorkerCtx};
use bytes::{Buf, BytesMut};
use fulcrum_h1::{Parsed, RawRequestHead, RequestParser};
use std::future::poll_fn;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How long an error response may take to write, and a lingering close to drain.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// One client connection as the HTTP/1.1 code sees it.
pub(crate) struct Conn<'a> {
    pub(crate) client: &'a ClientIo,
    /// The client: the peer, or what a trusted PROXY header said.
    pub(crate) peer: &'a SocketAddr,
    pub(crate) listener: &'a ListenerRuntime,
    pub(crate) http: &'a HttpRuntime,
    pub(crate) worker: &'a WorkerCtx,
    /// Wakes the connection between requests when a graceful stop begins.
    pub(crate) drain: &'a DrainWatch<'a>,
    /// Bytes read from the client and not used yet (the next request, pipelined).
    pub(crate) buf: &'a mut BytesMut,
    /// The client's address as a header value, made once for X-Forwarded-For.
    pub(crate) peer_value: Option<http::HeaderValue>,
}

/// The shared, read-only parts of a [`Conn`], to hand around while its buffer is borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) client: &'a ClientIo,
    pub(crate) listener: &'a ListenerRuntime,
    pub(crate) http: &'a HttpRuntime,
    pub(crate) worker: &'a WorkerCtx,
}

impl<'a> Conn<'a> {
    pub(crate) fn ctx(&self) -> Ctx<'a> {
        Ctx {
            client: self.client,
            listener: self.listener,
            http: self.http,
            worker: self.worker,
        }
    }
}

/// Why the connection stops before a request head is whole.
enum Stop {
    /// Closed, idle too long, or draining: close without a word.
    Quiet,
    /// A bad or slow request: answer with an error, then close.
    Reject(Cause),
}

/// Serves HTTP/1.1 requests on `client` until it closes, errs, or keep-alive ends. `buf`
/// holds bytes already read (during protocol detection).
///
/// An async block, not an async fn: an async fn keeps its arguments twice in its state (as
/// passed, and moved into locals), and this state is what every idle connection holds.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep its arguments twice"
)]
pub(crate) fn serve(
    client: ClientIo,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    mut buf: BytesMut,
) -> impl Future<Output = ()> + Send {
    // Conn borrows what the block owns rather than taking it: a value moved out of the
    // block's captures would take room twice.
    async move {
        let Some(http) = listener.http.clone() else {
            return;
        };
        let peer_value = http::HeaderValue::from_str(&peer.ip().to_string()).ok();
        let drain = worker.watch_drain();
        let mut conn = Conn {
            client: &client,
            peer: &peer,
            listener: &listener,
            http: &http,
            worker: &worker,
            drain: &drain,
            buf: &mut buf,
            peer_value,
        };
        // One keep-alive timer for the connection's life: each wait moves its deadline later,
        // which costs an atomic store, where a new timer per request would be registered with
        // the runtime's timer wheel and removed again.
        let mut idle = pin!(tokio::time::sleep_until(Instant::now() + http.keepalive));
        loop {
            // Idle between requests: only this small wait is held, not a request's state.
            if conn.buf.is_empty() && !wait_for_request(&conn, idle.as_mut()).await {
                return;
            }
            // Boxed: a request's state (head, exchange, error answer) lives on the heap only
            // while the request is in flight, so an idle keep-alive connection stays small.
            let keep_alive = Box::pin(one_request(&mut conn, idle.as_mut())).await;
            if !keep_alive || worker.is_draining() {
                return;
            }
            if conn.buf.is_empty() {
                // Nothing pipelined: give the read buffer back while the connection idles.
                *conn.buf = BytesMut::new();
            }
            idle.as_mut().reset(Instant::now() + http.keepalive);
        }
    }
}

/// Waits for the next request's first bytes (or the client's close) within the keep-alive
/// timeout; false when the connection should end quietly (idle too long, or draining).
/// Polled by hand rather than with `select!` and futures: this is all an idle keep-alive
/// connection holds, so it is kept small (a timer and a drain signal, no readiness future).
async fn wait_for_request(c: &Conn<'_>, mut idle: Pin<&mut Sleep>) -> bool {
    poll_fn(|cx| {
        if c.drain.poll_started(cx).is_ready() {
            return Poll::Ready(false);
        }
        if let Poll::Ready(ready) = c.client.poll_readable(cx) {
            return Poll::Ready(ready.is_ok());
        }
        idle.as_mut().poll(cx).map(|()| false)
    })
    .await
}

/// Reads one request head and serves the request; whether the connection may go on.
/// `idle` is the keep-alive timer, which bounds the wait for the head's first bytes.
async fn one_request(c: &mut Conn<'_>, idle: Pin<&mut Sleep>) -> bool {
    let (head, first_byte) = match read_head(c, idle).await {
        Ok(read) => read,
        Err(Stop::Quiet) => return false,
        Err(Stop::Reject(cause)) => {
            reject(c, cause).await;
            return false;
        }
    };
    exchange::run(c, head, first_byte).await
}

/// Reads until a whole request head is buffered, within the keep-alive timeout for the first
/// byte and the header timeout from the first byte on (slowloris). Returns the head and, if it
/// took more than one read, when its first bytes were seen; a head that arrives whole (the
/// usual case) costs no clock read.
async fn read_head(
    c: &mut Conn<'_>,
    mut idle: Pin<&mut Sleep>,
) -> Result<(RawRequestHead, Option<Instant>), Stop> {
    let mut parser = RequestParser::new();
    // Set once part of a head is buffered: the header timeout runs from then.
    let mut first_byte = None;
    loop {
        if !c.buf.is_empty() {
            match parser.parse_raw(c.buf, &c.http.limits) {
                Ok(Parsed::Complete { head, len }) => {
                    c.buf.advance(len);
                    return Ok((head, first_byte));
                }
                Ok(Parsed::Partial) => {
                    first_byte.get_or_insert_with(Instant::now);
                }
                Err(e) => {
                    tracing::debug!(client = %c.peer, reason = e.reason(), "bad request");
                    return Err(Stop::Reject(Cause::BadRequest(e.status(), e.reason())));
                }
            }
        }
        let read = match first_byte {
            Some(t) => read_some_until(c.client, c.buf, t + c.http.header_timeout).await,
            None => {
                // wait_for_request has seen the socket readable: read at once.
                if c.worker.is_draining() {
                    return Err(Stop::Quiet);
                }
                let until = idle.deadline();
                let mut read = pin!(read_some_timed(c.client, c.buf, idle.as_mut(), until));
                // The read first: it is ready at once (the socket was readable), and then the
                // drain watch is not even looked at.
                let read = poll_fn(|cx| {
                    if let Poll::Ready(r) = read.as_mut().poll(cx) {
                        return Poll::Ready(Some(r));
                    }
                    c.drain.poll_started(cx).map(|()| None)
                });
                match read.await {
                    Some(r) => r,
                    None => return Err(Stop::Quiet),
                }
            }
        };
        match read {
            Ok(0) => return Err(Stop::Quiet),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::TimedOut && first_byte.is_some() => {
                tracing::debug!(client = %c.peer, "request head not received in time");
                return Err(Stop::Reject(Cause::RequestTimeout));
            }
            Err(_) => return Err(Stop::Quiet),
        }
    }
}

/// Answers a request that cannot be served with an error and closes the connection.
async fn reject(c: &Conn<'_>, cause: Cause) {
    let mut out = Vec::with_capacity(256);
    error_response(cause, &c.http.errors, None, true, &mut out);
    c.listener
        .stats
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _ = write_all_within(c.client, &out, LINGER).await;
    linger(c.client).await;
}

/// Closes gracefully after an error: stop writing, then read and drop what the client still
/// sends for a moment, so the kernel does not answer it with a reset that could destroy the
/// response before the client reads it.
pub(crate) async fn linger<W: Wire>(client: &W) {
    client.shutdown_write().await;
    let mut sink = BytesMut::with_capacity(4096);
    let deadline = Instant::now() + LINGER;
    for _ in 0..16 {
        sink.clear();
        match read_some_until(client, &mut sink, deadline).await {
            Ok(n) if n > 0 => continue,
            _ => return,
        }
    }
}
