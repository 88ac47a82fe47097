//! Sending a request whose head is an `http::Request` (one that arrived over HTTP/2, or an
//! HTTP/1.1 one bound for HTTP/2 or TLS backends): [`forward`] admits it within the cluster's
//! breakers, picks backends by its affinity and tries again as the retry policy allows. Each
//! try goes through hyper's client, or, for a request without a body to plain HTTP/1.1
//! backends, through Fulcrum's own path ([`super::stream_h1`]). hyper's HTTP/1.1 connections
//! are kept per backend, one request at a time each; an HTTP/2 connection per backend carries
//! all of a worker's requests to it, multiplexed.

use super::affinity::Affinity;
use super::exchange::connect_pooled;
use super::headers::Deferred;
use super::log::Access;
use super::respond::Cause;
use super::retry;
use super::route::Route;
use super::stream_h1;
use crate::addr_hash::AddrHash;
use crate::load::Gauge;
use crate::upstream::{self, Conn as Picked, ConnectError};
use crate::worker::WorkerCtx;
use bytes::Bytes;
use fulcrum_balance::outlier::Outcome;
use fulcrum_config::RetryOn;
use http::header::{HOST, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, Uri, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of requests sent through hyper.
pub(crate) type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A ready-to-use hyper connection to one backend.
pub(crate) enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

/// A worker's hyper connections, by backend address.
#[derive(Default)]
pub(crate) struct ClientPool {
    h1: Mutex<HashMap<SocketAddr, Vec<http1::SendRequest<Body>>, AddrHash>>,
    h2: Mutex<HashMap<SocketAddr, http2::SendRequest<Body>, AddrHash>>,
}

impl std::fmt::Debug for ClientPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientPool")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClientPool {
    /// A connection to `addr` that can take a request now, if one is kept.
    pub(crate) fn take(&self, addr: SocketAddr, h2: bool) -> Option<Sender> {
        if h2 {
            let mut map = lock(&self.h2);
            match map.get(&addr) {
                Some(s) if !s.is_closed() => return Some(Sender::H2(s.clone())),
                Some(_) => {
                    map.remove(&addr);
                }
                None => {}
            }
            return None;
        }
        let mut map = lock(&self.h1);
        let list = map.get_mut(&addr)?;
        list.retain(|s| !s.is_closed());
        let ready = list.iter().position(|s| s.is_ready())?;
        Some(Sender::H1(list.swap_remove(ready)))
    }

    /// Keeps a connection for the next request (an HTTP/1.1 one may still be finishing its
    /// response body; it is used again once ready).
    pub(crate) fn put(&self, addr: SocketAddr, sender: Sender, max_idle: usize) {
        match sender {
            Sender::H2(s) => {
                lock(&self.h2).insert(addr, s);
            }
            Sender::H1(s) if max_idle > 0 => {
                let mut map = lock(&self.h1);
                let list = map.entry(addr).or_default();
                if list.len() >= max_idle {
                    list.remove(0);
                }
                list.push(s);
            }
            Sender::H1(_) => {}
        }
    }
}

/// Starts a hyper connection on `stream`; its driver runs as a task of the worker.
pub(crate) async fn handshake(stream: TcpStream, h2: bool) -> hyper::Result<Sender> {
    start(TokioIo::new(stream), h2).await
}

/// Starts a hyper connection over TLS to `backend` (the cluster's `[cluster.tls]`), the TLS
/// handshake bounded by `timeout`. `None` when TLS fails (counted as a connect failure).
pub(crate) async fn handshake_tls(
    stream: TcpStream,
    h2: bool,
    tls: &fulcrum_tls::ClientTls,
    backend: SocketAddr,
    timeout: std::time::Duration,
) -> Option<Sender> {
    let tls_stream = match tokio::time::timeout(timeout, tls.connect(stream, backend)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%backend, error = %e, "TLS to backend failed");
            return None;
        }
        Err(_) => {
            tracing::debug!(%backend, "TLS handshake with backend timed out");
            return None;
        }
    };
    start(TokioIo::new(tls_stream), h2).await.ok()
}

async fn start<IO>(io: TokioIo<IO>, h2: bool) -> hyper::Result<Sender>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(1 << 20)
            .initial_connection_window_size(1 << 21)
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "backend h2 connection ended");
            }
        });
        Ok(Sender::H2(sender))
    } else {
        let (sender, conn) = http1::Builder::new().handshake(io).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "backend connection ended");
            }
        });
        Ok(Sender::H1(sender))
    }
}

impl Sender {
    /// Sends `req`; the sender comes back for reuse with the response.
    pub(crate) async fn send(
        mut self,
        req: Request<Body>,
    ) -> (hyper::Result<Response<Incoming>>, Sender) {
        let result = match &mut self {
            Sender::H1(s) => match s.ready().await {
                Ok(()) => s.send_request(req).await,
                Err(e) => Err(e),
            },
            Sender::H2(s) => s.send_request(req).await,
        };
        (result, self)
    }
}

/// How a request is to be sent.
pub(crate) struct Plan<'a> {
    /// Where it should go.
    pub(crate) affinity: &'a Affinity,
    /// It has no body: it may be sent again, and may take [`stream_h1`].
    pub(crate) bodiless: bool,
    /// The fields Fulcrum adds, left out of the head's map for [`stream_h1`] to write
    /// (given when [`stream_h1::takes`] the request).
    pub(crate) added: Option<&'a Deferred<'a>>,
}

/// Sends the request to a backend of the route's cluster: picks a backend (by the request's
/// [`Affinity`]), reuses or opens a connection of the cluster's protocol, sets the target as
/// that protocol wants it, and waits for the response head within the cluster's response
/// timeout. Within the cluster's circuit breakers, and tried again on another backend as its
/// retry policy allows when the body is empty. The response carries the persistence cookie,
/// if the cluster sets one.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn forward(
    worker: &WorkerCtx,
    peer: SocketAddr,
    route: &Route,
    parts: http::request::Parts,
    body: Body,
    plan: Plan<'_>,
    authority: Option<&str>,
    log: &mut Access,
) -> Result<Response<Body>, Cause> {
    let cluster = &route.cluster;
    let (_in_flight, mut retry) = retry::admit(route, plan.bodiless, &parts.method)?;
    let config = &cluster.config.retry;
    // A request is kept for another try only if one can follow its sending (a connect failure
    // comes before: the request is still here then).
    let resend = retry.possible() && config.on.iter().any(|on| *on != RetryOn::ConnectFailure);
    let own = stream_h1::takes(cluster, plan.bodiless);
    let affinity = plan.affinity;
    let mut request = Some((parts, body));
    let mut tried: Vec<usize> = Vec::new();
    let mut _retrying = None;
    loop {
        let timeout = retry.per_try(cluster.config.response_timeout);
        let result = match &request {
            Some((parts, _)) if own => {
                let outgoing = stream_h1::Outgoing {
                    parts,
                    added: plan.added,
                    rules: &route.request_rules,
                    authority,
                };
                try_own(worker, route, affinity, &tried, &outgoing, timeout, log).await
            }
            _ => {
                let try_request = if resend {
                    copy(request.as_ref())
                } else {
                    request.take()
                };
                let tried = &tried;
                try_hyper(
                    worker,
                    route,
                    affinity,
                    tried,
                    try_request,
                    authority,
                    timeout,
                    log,
                )
                .await
            }
        };
        let (index, cause) = match result {
            Ok((index, response)) if retry.on_status(response.status().as_u16()) => {
                (Some(index), Cause::UpstreamStatus(response.status()))
            }
            Ok((index, mut response)) => {
                let cookie = cluster.persist(peer.ip(), affinity.cookie.as_deref(), index);
                if let Some(v) = cookie.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    response.headers_mut().append(http::header::SET_COOKIE, v);
                }
                return Ok(response);
            }
            Err(failed) => failed,
        };
        tried.extend(index);
        let wanted = match cause {
            Cause::UpstreamStatus(s) => retry.on_status(s.as_u16()),
            other => retry.on_failure(other),
        };
        match wanted.then(|| retry.take()).flatten() {
            Some(held) => _retrying = Some(held),
            None => return Err(cause),
        }
        tokio::time::sleep(retry.backoff()).await;
    }
}

/// One try: the backend tried (if one was picked) and the response head, or why not.
type Try = Result<(usize, Response<Body>), (Option<usize>, Cause)>;

/// A try through hyper: a connection picked, the request sent (`None`: it cannot be sent
/// again), the response head awaited.
#[allow(clippy::too_many_arguments)]
async fn try_hyper(
    worker: &WorkerCtx,
    route: &Route,
    affinity: &Affinity,
    tried: &[usize],
    request: Option<(http::request::Parts, Body)>,
    authority: Option<&str>,
    timeout: std::time::Duration,
    log: &mut Access,
) -> Try {
    let (index, sender) = pick(worker, route, affinity, tried, log)
        .await
        .map_err(|cause| (None, cause))?;
    let Some(request) = request else {
        route.cluster.backends[index]
            .stats
            .active
            .fetch_sub(1, Relaxed);
        return Err((Some(index), Cause::UpstreamReset));
    };
    match send(
        worker, route, index, sender, request, authority, timeout, log,
    )
    .await
    {
        Ok(response) => {
            let boxed = |b: Incoming| b.map_err(|e| Box::new(e) as BoxError).boxed_unsync();
            Ok((index, response.map(boxed)))
        }
        Err(cause) => Err((Some(index), cause)),
    }
}

/// A try through Fulcrum's own HTTP/1.1 path ([`stream_h1`]) on a connection from the
/// worker's pool; a pooled connection found closed is replaced by a fresh one once.
#[allow(clippy::too_many_arguments)]
async fn try_own(
    worker: &WorkerCtx,
    route: &Route,
    affinity: &Affinity,
    tried: &[usize],
    outgoing: &stream_h1::Outgoing<'_>,
    timeout: std::time::Duration,
    log: &mut Access,
) -> Try {
    let cluster = &route.cluster;
    let cfg = &cluster.config;
    let mut stale_seen = false;
    loop {
        let t0 = Instant::now();
        let (index, up) = connect_pooled(&worker.pool, route, affinity, tried)
            .await
            .map_err(|cause| (None, cause))?;
        let backend = &cluster.backends[index];
        log.backend = Some(backend.address);
        log.t_connect = Some(t0.elapsed());
        let home = stream_h1::Home {
            pool: Arc::clone(&worker.pool),
            addr: backend.address,
            max_idle: cfg.pool.max_idle,
            idle_timeout: cfg.pool.idle_timeout,
            max_requests: cfg.pool.max_requests,
            body_idle: cfg.response_timeout,
        };
        backend.start_request();
        let sent_at = Instant::now();
        let result = match stream_h1::send(up, outgoing, timeout, home).await {
            Err(stream_h1::Failed::Stale) if !stale_seen => {
                backend.stats.active.fetch_sub(1, Relaxed);
                backend.abandon_request();
                stale_seen = true;
                continue;
            }
            Err(stream_h1::Failed::Stale) => Err(Cause::UpstreamReset),
            Err(stream_h1::Failed::Cause(cause)) => Err(cause),
            Ok(response) => Ok(response),
        };
        let status = result.as_ref().map(|r| r.status().as_u16()).map_err(|c| *c);
        settle(route, index, sent_at, status, log);
        return result
            .map(|r| (index, r))
            .map_err(|cause| (Some(index), cause));
    }
}

/// The end of one try on backend `index`, sent at `sent_at`: the backend's in-flight count
/// drops, the outlier detector hears the status or the failure, and the balancer the latency.
fn settle(
    route: &Route,
    index: usize,
    sent_at: Instant,
    result: Result<u16, Cause>,
    log: &mut Access,
) {
    let cluster = &route.cluster;
    let backend = &cluster.backends[index];
    backend.stats.active.fetch_sub(1, Relaxed);
    match result {
        Ok(status) => {
            cluster.report(index, Outcome::Status(status));
            log.t_first_byte = Some(sent_at.elapsed());
            backend.finish_request(sent_at.elapsed().as_nanos() as u64, crate::clock::now_ns());
        }
        Err(cause) => {
            backend.abandon_request();
            let outcome = match cause {
                Cause::UpstreamTimeout => Outcome::Timeout,
                _ => Outcome::Reset,
            };
            cluster.report(index, outcome);
        }
    }
}

/// The request again for another try: same head, empty body (only bodiless requests are
/// tried again).
fn copy(request: Option<&(http::request::Parts, Body)>) -> Option<(http::request::Parts, Body)> {
    let (parts, _) = request?;
    let mut again = Request::new(Empty::new().map_err(|e| match e {}).boxed_unsync());
    *again.method_mut() = parts.method.clone();
    *again.uri_mut() = parts.uri.clone();
    *again.version_mut() = parts.version;
    *again.headers_mut() = parts.headers.clone();
    Some(again.into_parts())
}

/// A ready hyper connection to a backend of the cluster not tried yet: kept, or new within
/// the cluster's `max_pending` breaker.
async fn pick(
    worker: &WorkerCtx,
    route: &Route,
    affinity: &Affinity,
    tried: &[usize],
    log: &mut Access,
) -> Result<(usize, Sender), Cause> {
    let cluster = &route.cluster;
    let h2 = cluster.config.protocol == fulcrum_config::UpstreamProtocol::H2;
    let pending = route
        .load
        .enter(Gauge::Pending, cluster.config.limits.max_pending)
        .ok_or(Cause::Overloaded)?;
    let t0 = Instant::now();
    let clients = &worker.clients;
    let dial = &mut upstream::Dial::plain(true);
    let (hash, sticky) = (affinity.hash, affinity.sticky);
    let picked = upstream::connect(cluster, tried, hash, sticky, dial, |addr| {
        clients.take(addr, h2)
    })
    .await;
    let (index, sender) = match picked {
        Ok((i, Picked::Reused(sender))) => (i, sender),
        Ok((i, Picked::New(stream))) => {
            let addr = cluster.backends[i].address;
            let started = match &cluster.tls {
                Some(tls) => {
                    handshake_tls(stream, h2, tls, addr, cluster.config.connect_timeout).await
                }
                None => handshake(stream, h2).await.ok(),
            };
            match started {
                Some(sender) => (i, sender),
                None => {
                    cluster.backends[i].stats.active.fetch_sub(1, Relaxed);
                    cluster.report(i, Outcome::ConnectFailure);
                    return Err(Cause::ConnectFailed);
                }
            }
        }
        Err(ConnectError::NoBackend) => return Err(Cause::NoBackend),
        Err(ConnectError::Failed) => return Err(Cause::ConnectFailed),
    };
    drop(pending);
    log.backend = Some(cluster.backends[index].address);
    log.t_connect = Some(t0.elapsed());
    Ok((index, sender))
}

/// Sends one try to backend `index` and waits for the response head within `timeout`.
#[allow(clippy::too_many_arguments)]
async fn send(
    worker: &WorkerCtx,
    route: &Route,
    index: usize,
    sender: Sender,
    (mut parts, body): (http::request::Parts, Body),
    authority: Option<&str>,
    timeout: std::time::Duration,
    log: &mut Access,
) -> Result<Response<Incoming>, Cause> {
    let cluster = &route.cluster;
    let h2 = cluster.config.protocol == fulcrum_config::UpstreamProtocol::H2;
    let backend = &cluster.backends[index];
    set_target(&mut parts, authority, backend.address, h2);
    let request = Request::from_parts(parts, body);
    backend.start_request();
    let sent_at = Instant::now();
    let result = match tokio::time::timeout(timeout, sender.send(request)).await {
        Ok((Ok(response), sender)) => {
            let max_idle = cluster.config.pool.max_idle;
            worker.clients.put(backend.address, sender, max_idle);
            Ok(response)
        }
        Ok((Err(e), _)) => {
            tracing::debug!(backend = %backend.address, error = %e, "backend request failed");
            Err(Cause::UpstreamReset)
        }
        Err(_) => Err(Cause::UpstreamTimeout),
    };
    let status = result.as_ref().map(|r| r.status().as_u16()).map_err(|c| *c);
    settle(route, index, sent_at, status, log);
    result
}

/// HTTP/1.1 backends get an origin-form target and a Host field; HTTP/2 backends an absolute
/// URI (hyper turns it into :scheme and :authority).
fn set_target(
    parts: &mut http::request::Parts,
    authority: Option<&str>,
    backend: SocketAddr,
    h2: bool,
) {
    let pq = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let authority = || authority.map_or_else(|| backend.to_string(), str::to_owned);
    let mut target = http::uri::Parts::default();
    if h2 {
        parts.version = Version::HTTP_2;
        parts.headers.remove(HOST);
        target.scheme = Some(http::uri::Scheme::HTTP);
        target.authority = authority().parse().ok();
    } else {
        parts.version = Version::HTTP_11;
        if !parts.headers.contains_key(HOST)
            && let Ok(v) = HeaderValue::from_str(&authority())
        {
            parts.headers.insert(HOST, v);
        }
    }
    target.path_and_query = Some(pq);
    parts.uri = Uri::from_parts(target).unwrap_or_else(|_| Uri::from_static("/"));
}
