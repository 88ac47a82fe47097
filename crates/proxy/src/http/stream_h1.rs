//! HTTP/2 streams without a body, sent to HTTP/1.1 backends through Fulcrum's own codec and
//! the worker's backend pool (the one HTTP/1.1 clients use) rather than hyper's client: the
//! request head is written, the response head read with `fulcrum_h1`, and the response body
//! handed to the HTTP/2 server as a body that reads the backend connection and puts it back
//! in the pool when the body has ended cleanly. No channel and no second task per request.

use super::client::{Body, BoxError};
use super::exchange::{UpErr, read_response};
use super::headers::{Deferred, hop_by_hop_raw};
use super::io::write_all;
use super::pool::{Pool, Upstream};
use super::respond::Cause;
use super::response_head::connection_named;
use super::route::Rules;
use bytes::{Buf, Bytes, BytesMut};
use fulcrum_h1::{ChunkedDecoder, Event, Framing, RawResponseHead};
use http::header::HOST;
use http::{Response, Version};
use http_body_util::BodyExt;
use hyper::body::Frame;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::Instant;

/// Whether a request (`bodiless` or not) to `cluster` takes this path: one without a body,
/// to plain HTTP/1.1 backends, with no PROXY header to send (it needs the client
/// connection's addresses).
pub(crate) fn takes(cluster: &crate::cluster::ClusterRuntime, bodiless: bool) -> bool {
    bodiless
        && cluster.config.protocol == fulcrum_config::UpstreamProtocol::Http1
        && cluster.tls.is_none()
        && cluster.config.send_proxy_protocol.is_none()
}

/// Why a try on a backend connection gave no response.
pub(crate) enum Failed {
    /// A pooled connection was closed before any response byte: try a fresh one.
    Stale,
    Cause(Cause),
}

/// Where a response body puts its connection back.
pub(crate) struct Home {
    pub(crate) pool: Arc<Pool>,
    pub(crate) addr: SocketAddr,
    pub(crate) max_idle: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_requests: Option<u64>,
    /// Longest wait for the next body bytes.
    pub(crate) body_idle: Duration,
}

/// A bodiless request as it goes out.
pub(crate) struct Outgoing<'a> {
    /// The head, rewritten.
    pub(crate) parts: &'a http::request::Parts,
    /// Fields Fulcrum adds, written after the client's unless the route's rules drop them.
    pub(crate) added: Option<&'a Deferred<'a>>,
    pub(crate) rules: &'a Rules,
    /// For a Host field, if the request has none.
    pub(crate) authority: Option<&'a str>,
}

/// Sends `req` on `up` and reads the response head within `timeout`; the response's body
/// reads on from `up`.
pub(crate) async fn send(
    mut up: Upstream,
    req: &Outgoing<'_>,
    timeout: Duration,
    home: Home,
) -> Result<Response<Body>, Failed> {
    let parts = req.parts;
    let mut out = Vec::with_capacity(512);
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let target = target
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    fulcrum_h1::write_request_line(&parts.method, &target, Version::HTTP_11, &mut out);
    if !parts.headers.contains_key(HOST) {
        let host = req
            .authority
            .map_or_else(|| home.addr.to_string(), str::to_owned);
        fulcrum_h1::write_field(b"host", host.as_bytes(), &mut out);
    }
    fulcrum_h1::write_fields(&parts.headers, &mut out);
    if let Some(added) = req.added {
        added.write(req.rules, &mut out);
    }
    out.extend_from_slice(b"\r\n");
    let reused = up.reused;
    let failed = |e: UpErr| match e {
        UpErr::Closed { any: false } if reused => Failed::Stale,
        e => Failed::Cause(e.cause()),
    };
    if write_all(&up.stream, &out).await.is_err() {
        return Err(failed(UpErr::Closed { any: false }));
    }
    // Not the connection's kept buffer (`Upstream::take_buf`): the body's frames share this
    // one with hyper, so it seldom comes back whole, and reusing it measured no cheaper.
    let mut buf = BytesMut::with_capacity(4096);
    let head = {
        let deadline = up.acquired + timeout;
        let timer = up.timer.as_mut();
        read_response(&up.stream, timer, &mut buf, &parts.method, None, deadline).await
    }
    .map_err(failed)?;
    if head.tunnel {
        // No upgrade over HTTP/2 streams: a 101 here is the backend's mistake.
        return Err(Failed::Cause(Cause::BadResponse));
    }
    let status = head.status;
    let body = body(up, buf, &head, home);
    // Hop-by-hop fields are left out here rather than removed from the map later (but the
    // length, passed on, and a Connection field that names others, for the caller).
    let names_others = !connection_named(&head.fields).is_empty();
    let keep = |name: &[u8]| {
        !hop_by_hop_raw(name)
            || name.eq_ignore_ascii_case(b"content-length")
            || (names_others && name.eq_ignore_ascii_case(b"connection"))
    };
    let headers = head
        .fields
        .into_header_map_where(keep)
        .map_err(|_| Failed::Cause(Cause::BadResponse))?;
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.version_mut() = Version::HTTP_11;
    *response.headers_mut() = headers;
    Ok(response)
}

fn body(mut up: Upstream, buf: BytesMut, head: &RawResponseHead, home: Home) -> Body {
    up.timer.as_mut().reset(Instant::now() + home.body_idle);
    let state = match head.framing {
        Framing::None => State::Length(0),
        Framing::Length(n) => State::Length(n),
        Framing::Chunked => State::Chunked(Box::default()),
        Framing::UntilClose => State::UntilClose,
    };
    let mut body = UpstreamBody {
        up: Some(up),
        buf,
        state,
        reusable: head.keep_alive,
        home,
    };
    if matches!(body.state, State::Length(0)) {
        // Nothing to read: the connection is free now.
        body.finish(true);
    }
    body.boxed_unsync()
}

enum State {
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    UntilClose,
    Done,
}

/// A response body read from the backend connection as its framing says.
struct UpstreamBody {
    /// The connection, until the body ends.
    up: Option<Upstream>,
    buf: BytesMut,
    state: State,
    /// The backend said the connection may carry another response.
    reusable: bool,
    home: Home,
}

type Polled = Poll<Option<Result<Frame<Bytes>, BoxError>>>;

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = self.get_mut();
        loop {
            if let Some(polled) = this.next_frame() {
                return polled;
            }
            match ready!(this.poll_fill(cx)) {
                Ok(0) if matches!(this.state, State::UntilClose) => {
                    this.finish(false);
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.finish(false);
                    let closed = io::Error::new(io::ErrorKind::UnexpectedEof, "backend closed");
                    return Poll::Ready(Some(Err(closed.into())));
                }
                Ok(_) => {}
                Err(e) => {
                    this.finish(false);
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl UpstreamBody {
    /// The next frame from what is buffered, or `None` when more bytes are needed.
    fn next_frame(&mut self) -> Option<Polled> {
        match &mut self.state {
            State::Done => Some(Poll::Ready(None)),
            State::Length(0) => {
                self.finish(true);
                Some(Poll::Ready(None))
            }
            State::Length(left) if !self.buf.is_empty() => {
                let n = (*left).min(self.buf.len() as u64);
                *left -= n;
                let data = self.buf.split_to(n as usize).freeze();
                if *left == 0 {
                    // The server may stop polling once `is_end_stream` says so: the connection
                    // goes back now, not when a poll that may never come finds the end.
                    self.finish(true);
                }
                Some(Poll::Ready(Some(Ok(Frame::data(data)))))
            }
            State::UntilClose if !self.buf.is_empty() => {
                let data = self.buf.split().freeze();
                Some(Poll::Ready(Some(Ok(Frame::data(data)))))
            }
            State::Chunked(decoder) if !self.buf.is_empty() => {
                let step = match decoder.feed(&self.buf) {
                    Ok(step) => step,
                    Err(e) => {
                        self.finish(false);
                        return Some(Poll::Ready(Some(Err(e.into()))));
                    }
                };
                match step.event {
                    Event::Data(range) => {
                        let data = self.buf.split_to(step.consumed).freeze().slice(range);
                        Some(Poll::Ready(Some(Ok(Frame::data(data)))))
                    }
                    Event::NeedMore => {
                        self.buf.advance(step.consumed);
                        None
                    }
                    Event::End(trailers) => {
                        self.buf.advance(step.consumed);
                        self.finish(true);
                        Some(Poll::Ready(
                            (!trailers.is_empty()).then(|| Ok(Frame::trailers(trailers))),
                        ))
                    }
                }
            }
            _ => None,
        }
    }

    /// Reads more from the backend, within the body's idle timeout.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(up) = self.up.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        loop {
            if up.stream.poll_read_ready(cx)?.is_pending() {
                return match up.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
                    Poll::Pending => Poll::Pending,
                };
            }
            self.buf.reserve(16 * 1024);
            match up.stream.try_read_buf(&mut self.buf) {
                Ok(n) => {
                    let next = Instant::now() + self.home.body_idle;
                    up.timer.as_mut().reset(next);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// The body has ended (`clean`: at its framed end): the connection goes back to the pool
    /// if it can carry another request, and is closed otherwise.
    fn finish(&mut self, clean: bool) {
        self.state = State::Done;
        let Some(mut up) = self.up.take() else {
            return;
        };
        up.requests += 1;
        let home = &self.home;
        let under_max = home.max_requests.is_none_or(|max| up.requests < max);
        if clean && self.reusable && self.buf.is_empty() && under_max {
            let (max_idle, idle) = (home.max_idle, home.idle_timeout);
            home.pool.put(home.addr, up, max_idle, idle);
        }
    }
}
