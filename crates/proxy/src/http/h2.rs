//! HTTP/2 cleartext from clients (prior knowledge), served by hyper behind the flood guard.
//! Each request is routed and rewritten like an HTTP/1.1 one and sent to its backend through
//! hyper's client ([`super::client`]), HTTP/1.1 or HTTP/2 as the cluster says. Bodies and
//! trailers (gRPC) stream through both ways.

use super::HttpRuntime;
use super::affinity::Affinity;
use super::client::{self, Body, BoxError};
use super::headers::{
    Deferred, Forwarding, add_forwarding_deferred, add_via, ensure_request_id, host_of,
    strip_hop_by_hop, strip_hop_by_hop_but_length,
};
use super::log::Access;
use super::respond::Cause;
use super::route::{Route, RouteInput};
use crate::h2guard::{self, H2Guard};
use crate::listener::ListenerRuntime;
use crate::worker::WorkerCtx;
use bytes::{Bytes, BytesMut};
use fulcrum_config::AccessLogFormat;
use http::header::{CONTENT_LENGTH, HOST, HeaderValue, TE};
use http::{HeaderMap, Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What every request of one client connection shares.
struct H2Ctx {
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    http: Arc<HttpRuntime>,
    /// `http`, or `https` when Fulcrum terminated TLS.
    scheme: &'static str,
    /// The verified client certificate, if any (mTLS).
    identity: Option<fulcrum_tls::ClientIdentity>,
    /// The client's address as a header value, made once for X-Forwarded-For.
    peer_value: Option<HeaderValue>,
}

/// What a TLS client connection brings to the HTTP/2 code.
pub(crate) struct TlsInfo {
    pub(crate) identity: Option<fulcrum_tls::ClientIdentity>,
}

/// Serves an HTTP/2 client connection whose first bytes (the preface) are in `buf`.
pub(crate) async fn serve_h2(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    buf: BytesMut,
) {
    let io = fulcrum_tls::Prefixed::new(buf.to_vec(), stream);
    serve_h2_io(io, peer, listener, worker, None).await;
}

/// Serves HTTP/2 over any byte stream: cleartext (the preface already read is replayed) or
/// TLS that negotiated `h2` by ALPN.
pub(crate) async fn serve_h2_io<IO>(
    io: IO,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    tls: Option<TlsInfo>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Some(http) = listener.http.clone() else {
        return;
    };
    let limits = h2guard::Limits::default();
    let guard = H2Guard::new(io, limits.clone());
    let report = guard.report();
    let ctx = Arc::new(H2Ctx {
        peer,
        listener: Arc::clone(&listener),
        worker: Arc::clone(&worker),
        http,
        scheme: if tls.is_some() { "https" } else { "http" },
        identity: tls.and_then(|t| t.identity),
        peer_value: HeaderValue::from_str(&peer.ip().to_string()).ok(),
    });
    // Each stream's future is boxed: hyper spawns a task per stream and would otherwise copy
    // the whole request state (several KB) into it, more than once.
    let service = service_fn(move |req| Box::pin(handle_owned(Arc::clone(&ctx), req)));
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    h2guard::server_builder_settings(&mut builder, &limits);
    let conn = builder.serve_connection(TokioIo::new(guard), service);
    tokio::pin!(conn);
    let watch = worker.watch_drain();
    let drain = watch.started();
    tokio::pin!(drain);
    if worker.is_draining() {
        conn.as_mut().graceful_shutdown();
    }
    let mut refused = None;
    tokio::select! {
        r = &mut conn => if let Err(e) = r {
            refused = sent_goaway(&e);
            tracing::debug!(client = %peer, error = %e, "h2 connection ended");
        },
        () = &mut drain => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
    if let Some(v) = report.get() {
        listener.stats.h2_violations.fetch_add(1, Relaxed);
        tracing::warn!(client = %peer, violation = %v, "HTTP/2 connection ended by the flood guard");
    } else if let Some(reason) = refused {
        listener.stats.h2_violations.fetch_add(1, Relaxed);
        tracing::warn!(client = %peer, %reason, "HTTP/2 connection ended for a protocol violation");
    }
}

/// The reason of the GOAWAY the HTTP/2 library sent when it ended a connection for the
/// client's misbehaviour (a flood it limits itself, a protocol error), if that is how `e`
/// came about.
fn sent_goaway(e: &hyper::Error) -> Option<::h2::Reason> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h2e) = s.downcast_ref::<::h2::Error>() {
            return (h2e.is_go_away() && h2e.is_library())
                .then(|| h2e.reason())
                .flatten()
                .filter(|r| *r != ::h2::Reason::NO_ERROR);
        }
        source = s.source();
    }
    None
}

async fn handle_owned(
    ctx: Arc<H2Ctx>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    Ok(handle(&ctx, req).await)
}

async fn handle(ctx: &H2Ctx, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    ctx.listener.stats.requests.fetch_add(1, Relaxed);
    let (mut parts, body) = req.into_parts();
    // HTTP/2 over TLS starts only after the handshake: no request here is early at this
    // hop, but one may have been at an earlier one (RFC 8470).
    super::early::normalize(&mut parts.headers);
    let logging = ctx.http.access_log != AccessLogFormat::Off;
    let mut log = if logging {
        Access::for_parts(ctx.peer, &parts)
    } else {
        Access::default()
    };
    let request_id = ctx
        .http
        .request_id
        .as_ref()
        .map(|n| ensure_request_id(&mut parts.headers, n));
    if logging && let Some(id) = &request_id {
        log.request_id = id.to_str().unwrap_or("").to_owned();
    }
    let id = request_id.as_ref();
    let response = match route_and_send(ctx, parts, body, id, &mut log).await {
        Ok(resp) => resp,
        Err(cause) => {
            log.end = cause.name();
            error(ctx, cause, id)
        }
    };
    log.status = response.status().as_u16();
    ctx.listener.stats.count_status(log.status);
    let format = ctx.http.access_log;
    let (parts, body) = response.into_parts();
    let body = LoggedBody {
        inner: body,
        log: Some(log),
        started,
        format,
        bytes: 0,
    };
    Response::from_parts(parts, body.boxed_unsync())
}

async fn route_and_send(
    ctx: &H2Ctx,
    mut parts: http::request::Parts,
    body: Incoming,
    request_id: Option<&HeaderValue>,
    log: &mut Access,
) -> Result<Response<Body>, Cause> {
    if let (Some(max), Some(len)) = (ctx.http.max_body, content_length(&parts.headers))
        && len > max
    {
        drain(body).await;
        return Err(Cause::BodyTooLarge);
    }
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    let host = authority.as_deref().map(host_of);
    let input = RouteInput {
        method: &parts.method,
        host: host.as_deref(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    let route = ctx.http.router.find(&input).ok_or(Cause::NoRoute)?;
    log.route = route.name.clone();
    let affinity = Affinity::of(route, parts.uri.path(), &parts.headers, ctx.peer.ip());
    // A stream that ended with its HEADERS frame has no body: it can be sent again.
    let bodiless = hyper::body::Body::is_end_stream(&body);
    let direct = super::stream_h1::takes(&route.cluster, bodiless);
    let added = rewrite_request(ctx, &mut parts, route, authority.as_deref(), direct);
    let body: Body = body.map_err(|e| Box::new(e) as BoxError).boxed_unsync();
    let worker = &ctx.worker;
    let plan = client::Plan {
        affinity: &affinity,
        bodiless,
        added: added.as_ref(),
    };
    let forwarded = client::forward(
        worker,
        ctx.peer,
        route,
        parts,
        body,
        plan,
        authority.as_deref(),
        log,
    );
    let response = forwarded.await?;
    Ok(rewrite_response(ctx, route, response, request_id, log))
}

/// Reads and drops a refused request's body, a little of it for a little while, so a small
/// upload ends cleanly before the error response instead of being reset under the client
/// (some clients then lose the response). Larger or slower bodies are reset.
async fn drain(mut body: Incoming) {
    const LIMIT: usize = 256 * 1024;
    let drained = async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > LIMIT {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drained).await;
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Rewrites the request for the backend. With `direct` (the request goes out through
/// [`super::stream_h1`]), the fields Fulcrum adds that merge with nothing are returned, to be
/// written after the client's, instead of being put in the map.
fn rewrite_request<'a>(
    ctx: &H2Ctx,
    parts: &mut http::request::Parts,
    route: &Route,
    authority: Option<&'a str>,
    direct: bool,
) -> Option<Deferred<'a>> {
    let trailers = parts.headers.get(TE).is_some_and(|v| v == "trailers");
    strip_hop_by_hop(&mut parts.headers);
    let names = &ctx.http.client_cert_headers;
    super::set_client_cert_headers(&mut parts.headers, names, ctx.identity.as_ref());
    if trailers {
        parts
            .headers
            .insert(TE, HeaderValue::from_static("trailers"));
    }
    let mut forwarding = Forwarding {
        mode: ctx.http.forwarded,
        client: ctx.peer.ip(),
        proto: ctx.scheme,
        host: authority,
        client_value: ctx.peer_value.clone(),
    };
    let via = ctx.http.via.then_some(Version::HTTP_2);
    let added = add_forwarding_deferred(&mut parts.headers, &mut forwarding, via);
    if !direct {
        added.put(&mut parts.headers);
    }
    route.request_rules.apply(&mut parts.headers);
    direct.then_some(added)
}

fn rewrite_response(
    ctx: &H2Ctx,
    route: &Route,
    resp: Response<Body>,
    request_id: Option<&HeaderValue>,
    log: &mut Access,
) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop_but_length(&mut parts.headers);
    if ctx.http.via {
        add_via(&mut parts.headers, parts.version);
    }
    route.response_rules.apply(&mut parts.headers);
    if let (Some(name), Some(id)) = (&ctx.http.request_id, request_id) {
        parts.headers.insert(name.clone(), id.clone());
    }
    parts.version = Version::HTTP_2;
    log.end = "ok";
    Response::from_parts(parts, body)
}

/// An error Fulcrum answers itself over HTTP/2.
fn error(ctx: &H2Ctx, cause: Cause, request_id: Option<&HeaderValue>) -> Response<Body> {
    let status = cause.status();
    let custom = ctx.http.errors.iter().find(|e| e.status == status.as_u16());
    let (content_type, body) = match custom {
        Some(e) => (e.content_type.clone(), e.body.clone()),
        None => (
            "text/plain; charset=utf-8".to_string(),
            format!(
                "{} {}: {}\n",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                cause.detail()
            ),
        ),
    };
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    headers.insert("x-fulcrum-error", HeaderValue::from_static(cause.name()));
    if let (Some(name), Some(id)) = (&ctx.http.request_id, request_id) {
        headers.insert(name.clone(), id.clone());
    }
    response
}

/// A response body that counts what it passes and writes the access log line when it ends
/// (or is dropped, if the client went away first).
struct LoggedBody {
    inner: Body,
    log: Option<Access>,
    started: Instant,
    format: AccessLogFormat,
    bytes: u64,
}

impl hyper::body::Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        if let Some(mut log) = self.log.take()
            && self.format != AccessLogFormat::Off
        {
            log.bytes_out = self.bytes;
            log.t_total = self.started.elapsed();
            log.emit(self.format == AccessLogFormat::Json);
        }
    }
}
