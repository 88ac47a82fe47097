//! One request's exchange: route, rewrite the head, get a backend connection (pooled or new),
//! send the request while reading the response, stream the response back, recycle the
//! backend connection when it is clean.

use super::affinity::Affinity;
use super::body::{self, BodyError, Reframe, Source};
use super::early::EARLY_DATA;
use super::h1::{Conn, Ctx, LINGER, linger};
use super::headers::{
    Deferred, Forwarding, Present, add_forwarding_deferred, host_of, keep_upgrade, new_request_id,
    set_framing, strip_hop_by_hop, usable_request_id,
};
use super::io::{ClientIo, copy_both, read_some_timed, write_all, write_all_within};
use super::log::Access;
use super::pool::{Pool, Upstream};
use super::request_head;
use super::respond::{Cause, error_response};
use super::response_head;
use super::retry;
use super::route::{Route, RouteInput};
use crate::load::Gauge;
use crate::relay;
use crate::upstream::{self, Conn as Picked, ConnectError};
use bytes::{Buf, BytesMut};
use fulcrum_config::{AccessLogFormat, RetryOn, UpstreamProtocol};
use fulcrum_h1::{
    Framing, Limits, Parsed, RawFields, RawRequestHead, RawResponseHead, RequestHead,
    ResponseParser,
};
use http::header::{HOST, HeaderName, HeaderValue, UPGRADE};
use http::{Method, StatusCode, Uri, Version};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Limits on response heads from backends (more generous than on requests).
const RESPONSE_LIMITS: Limits = Limits {
    max_head_bytes: 64 * 1024,
    max_headers: 200,
    max_uri_bytes: 8 * 1024,
};

/// The facts about the request that outlive its head (the head is consumed when written).
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) version: Version,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
    pub(crate) request_id: Option<HeaderValue>,
    /// The request id is Fulcrum's (the client sent none, or none usable).
    pub(crate) request_id_made: bool,
    /// TLS 0-RTT ([`super::early`]): the request may go out before the client's handshake
    /// completes; once its head is written, that it went out with Fulcrum's `Early-Data: 1`
    /// (a 425 answer is then retried after the handshake).
    pub(crate) early: AtomicBool,
}

/// Serves one request; returns whether the client connection may carry another.
/// `first_byte`: when the head's first bytes were seen, if it took more than one read.
pub(crate) async fn run(
    c: &mut Conn<'_>,
    head: RawRequestHead,
    first_byte: Option<Instant>,
) -> bool {
    c.listener.stats.requests.fetch_add(1, Relaxed);
    let logging = c.http.access_log != AccessLogFormat::Off;
    let received = logging.then(Instant::now);
    let mut log = match received {
        Some(t) => Access::start(*c.peer, &head, first_byte.map_or(Duration::ZERO, |f| t - f)),
        None => Access::default(),
    };
    let Some(early) = super::early::classify(c.client, &head).await else {
        return false;
    };
    let request_id = c
        .http
        .request_id
        .as_ref()
        .map(|n| request_id(&head.fields, n));
    if logging && let Some((id, _)) = &request_id {
        log.request_id = id.to_str().unwrap_or("").to_owned();
    }
    let req = Req {
        method: head.method.clone(),
        version: head.version,
        framing: head.framing,
        keep_alive: head.keep_alive,
        request_id_made: request_id.as_ref().is_some_and(|(_, made)| *made),
        request_id: request_id.map(|(id, _)| id),
        early: AtomicBool::new(early),
    };
    let keep = route_and_proxy(c, head, &req, &mut log).await;
    if let Some(t) = received {
        log.t_total = t.elapsed();
        log.emit(c.http.access_log == AccessLogFormat::Json);
    }
    keep
}

async fn route_and_proxy(
    c: &mut Conn<'_>,
    head: RawRequestHead,
    req: &Req,
    log: &mut Access,
) -> bool {
    if let Some(max) = c.http.max_body
        && head.framing.check_limit(max).is_err()
    {
        return fail(c, Cause::BodyTooLarge, req, log).await;
    }
    let authority = head.authority();
    let host = authority.map(host_of);
    let input = RouteInput {
        method: &head.method,
        host: host.as_deref(),
        path: head.uri.path(),
        query: head.uri.query(),
        headers: &head.fields,
    };
    let Some(route) = c.http.router.find(&input) else {
        return fail(c, Cause::NoRoute, req, log).await;
    };
    log.route = route.name.clone();
    let affinity = Affinity::of(route, head.uri.path(), &head.fields, c.peer.ip());
    // HTTP/2 backends, and backends behind TLS, go through hyper's client.
    let bridged =
        route.cluster.config.protocol == UpstreamProtocol::H2 || route.cluster.tls.is_some();
    if bridged && req.early.load(Relaxed) {
        // That path cannot retry a 425: early requests wait for the handshake there.
        if !c.client.complete_handshake().await {
            return false;
        }
        req.early.store(false, Relaxed);
    }
    let raw = (!bridged)
        .then(|| raw_rewritten(c, &head, authority, route, req))
        .flatten();
    let (upstream_head, head) = match raw {
        Some(out) => (out, None),
        None => match map_rewritten(c, head, route, req, bridged) {
            Ok(rewritten) => rewritten,
            Err(cause) => return fail(c, cause, req, log).await,
        },
    };
    let responded = AtomicBool::new(false);
    let request_timeout = c.http.request_timeout;
    // The hyper path is boxed: its state is large and would otherwise be carried, and
    // copied, by every HTTP/1.1 request.
    // The futures are made where they are awaited, not bound first: a bound future is moved
    // (copied whole) into the await.
    let outcome = match (request_timeout, head) {
        (Some(limit), Some(head)) => tokio::time::timeout(
            limit,
            Box::pin(super::bridge::proxy(
                c, route, &affinity, *head, req, log, &responded,
            )),
        )
        .await
        .unwrap_or(Err(Cause::UpstreamTimeout)),
        (None, Some(head)) => {
            Box::pin(super::bridge::proxy(
                c, route, &affinity, *head, req, log, &responded,
            ))
            .await
        }
        (Some(limit), None) => tokio::time::timeout(
            limit,
            proxy(c, route, &affinity, &upstream_head, req, log, &responded),
        )
        .await
        .unwrap_or(Err(Cause::UpstreamTimeout)),
        (None, None) => proxy(c, route, &affinity, &upstream_head, req, log, &responded).await,
    };
    match outcome {
        Ok(keep) => keep,
        Err(cause) if !responded.load(Relaxed) => fail(c, cause, req, log).await,
        Err(cause) => {
            log.end = cause.name();
            false
        }
    }
}

/// The head for the backend, serialized from its raw lines, if [`raw_rewrites`] allows;
/// `authority` is the head's.
fn raw_rewritten(
    c: &Conn<'_>,
    head: &RawRequestHead,
    authority: Option<&str>,
    route: &Route,
    req: &Req,
) -> Option<Vec<u8>> {
    let mut forwarding = forwarding(c, authority);
    let via = c.http.via.then_some(head.version);
    let present = Present::of(head.fields.iter().map(|(name, _)| name));
    if req.early.load(Relaxed) || !raw_rewrites(c, head, &forwarding, via, present) {
        return None;
    }
    let made = req
        .request_id_made
        .then_some(())
        .and(c.http.request_id.as_ref());
    let added = request_head::Added {
        framing: head.framing,
        request_id: made.zip(req.request_id.as_ref()),
        forwarding: &Deferred::new(&mut forwarding, via, present),
    };
    let mut out = Vec::with_capacity(512);
    request_head::write(head, &route.request_rules, &added, &mut out);
    Some(out)
}

/// The head for the backend rewritten through a map, serialized, and for hyper's backends
/// (`bridged`) the head itself as rewritten (boxed: the slow path pays for it).
fn map_rewritten(
    c: &Conn<'_>,
    head: RawRequestHead,
    route: &Route,
    req: &Req,
    bridged: bool,
) -> Result<(Vec<u8>, Option<Box<RequestHead>>), Cause> {
    let mut head = head
        .into_head()
        .map_err(|e| Cause::BadRequest(e.status(), e.reason()))?;
    super::early::normalize(&mut head.headers);
    if let (Some(name), Some(id)) = (&c.http.request_id, &req.request_id) {
        head.headers.insert(name.clone(), id.clone());
    }
    let mut out = rewrite(c, &mut head, route, !bridged);
    if req.early.load(Relaxed) {
        let (marked, ours) = super::early::mark(out, &head.headers);
        out = marked;
        req.early.store(ours, Relaxed);
    }
    Ok((out, bridged.then(|| Box::new(head))))
}

/// The request id for a request with `fields`: the client's if it sent a usable one, else a
/// new one (`true`: made here).
fn request_id(fields: &RawFields, name: &HeaderName) -> (HeaderValue, bool) {
    let theirs = fields
        .get(name.as_str())
        .filter(|v| usable_request_id(v))
        .and_then(|v| HeaderValue::from_bytes(v).ok());
    match theirs {
        Some(mut id) => {
            id.set_sensitive(true);
            (id, false)
        }
        None => (new_request_id(), true),
    }
}

/// What the forwarding fields say about this client and the authority it asked for.
fn forwarding<'a>(c: &Conn<'_>, authority: Option<&'a str>) -> Forwarding<'a> {
    Forwarding {
        mode: c.http.forwarded,
        client: c.peer.ip(),
        proto: c.client.scheme(),
        host: authority,
        client_value: c.peer_value.clone(),
    }
}

/// Whether [`request_head::write`] can rewrite the request: not when forwarding fields the
/// client sent must be merged with Fulcrum's, client-certificate fields are configured, the
/// request is an upgrade or has an absolute- or authority-form target, or the client sent
/// `Early-Data` (normalized in a map). Those go through [`rewrite`].
fn raw_rewrites(
    c: &Conn<'_>,
    head: &RawRequestHead,
    forwarding: &Forwarding<'_>,
    via: Option<Version>,
    present: Present,
) -> bool {
    !head.upgrade
        && head.uri.authority().is_none()
        && c.http.client_cert_headers.iter().all(Option::is_none)
        && head.fields.get(EARLY_DATA.as_str()).is_none()
        && !present.merges(forwarding, via)
}

/// Rewrites the request head for the backend and serializes it. With `direct` (the head goes
/// out as serialized here, not through hyper), Fulcrum's own fields are written straight
/// after the client's rather than put in `head.headers`.
fn rewrite(c: &Conn<'_>, head: &mut RequestHead, route: &Route, direct: bool) -> Vec<u8> {
    let upgrade = if head.upgrade {
        head.headers.get(UPGRADE).cloned()
    } else {
        None
    };
    strip_hop_by_hop(&mut head.headers);
    set_framing(&mut head.headers, head.framing);
    keep_upgrade(&mut head.headers, upgrade);
    let mut target = head.uri.clone();
    if head.uri.scheme().is_some() && head.method != Method::CONNECT {
        // absolute-form: the authority becomes Host, the target origin-form.
        if let Some(a) = head
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            head.headers.insert(HOST, a);
        }
        let pq = head.uri.path_and_query().map_or("/", |pq| pq.as_str());
        target = pq.parse::<Uri>().unwrap_or_else(|_| Uri::from_static("/"));
    }
    super::set_client_cert_headers(
        &mut head.headers,
        &c.http.client_cert_headers,
        c.client.identity(),
    );
    let authority = head.authority().map(str::to_owned);
    let mut forwarding = forwarding(c, authority.as_deref());
    let via = c.http.via.then_some(head.version);
    let added = add_forwarding_deferred(&mut head.headers, &mut forwarding, via);
    if !direct {
        added.put(&mut head.headers);
    }
    route.request_rules.apply(&mut head.headers);
    let mut out = Vec::with_capacity(512);
    fulcrum_h1::write_request_line(&head.method, &target, Version::HTTP_11, &mut out);
    fulcrum_h1::write_fields(&head.headers, &mut out);
    if direct {
        added.write(&route.request_rules, &mut out);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Answers with an error for `cause`. The connection stays open only if the request had no
/// body left unread and asked for keep-alive.
async fn fail(c: &Conn<'_>, cause: Cause, req: &Req, log: &mut Access) -> bool {
    let keep = req.keep_alive && req.framing == Framing::None && !c.worker.is_draining();
    let id = match (&c.http.request_id, &req.request_id) {
        (Some(name), Some(id)) => id.to_str().ok().map(|id| (name.as_str(), id)),
        _ => None,
    };
    let mut out = Vec::with_capacity(256);
    error_response(cause, &c.http.errors, id, !keep, &mut out);
    log.status = cause.status().as_u16();
    log.end = cause.name();
    c.listener.stats.count_status(cause.status().as_u16());
    let written = write_all_within(c.client, &out, LINGER).await.is_ok();
    if written && !keep {
        linger(c.client).await;
    }
    written && keep
}

/// How a try on one backend connection went.
enum Tried {
    /// The exchange finished; whether the client connection may go on.
    Done(bool),
    /// A pooled connection turned out closed before any response byte: try a fresh one.
    Stale,
    /// A failure with nothing sent to the client yet.
    Failed(Cause),
    /// The backend answered with a status the cluster retries on; nothing was sent on.
    RetryStatus(StatusCode),
    /// The backend answered 425 to a request Fulcrum forwarded in early data.
    TooEarly,
    /// The client went away or misbehaved; close it.
    ClientGone,
}

/// Gets backend connections and runs the exchange, trying again as the cluster's retry
/// policy allows (another backend each time), within the cluster's circuit breakers.
#[allow(clippy::too_many_arguments)]
async fn proxy(
    c: &mut Conn<'_>,
    route: &Route,
    affinity: &Affinity,
    head: &[u8],
    req: &Req,
    log: &mut Access,
    responded: &AtomicBool,
) -> Result<bool, Cause> {
    let cluster = &route.cluster;
    let (_in_flight, mut retry) = retry::admit(route, req.framing == Framing::None, &req.method)?;
    let mut tried: Vec<usize> = Vec::new();
    let mut _retrying = None;
    let mut stale_seen = false;
    let mut unmarked = None;
    loop {
        let head = unmarked.as_deref().unwrap_or(head);
        let started = log.recording.then(Instant::now);
        let (index, upstream) = match acquire(c, route, affinity, &tried).await {
            Ok(got) => got,
            Err(cause) if retry.on_failure(cause) => match retry.take() {
                Some(held) => {
                    _retrying = Some(held);
                    tokio::time::sleep(retry.backoff()).await;
                    continue;
                }
                None => return Err(cause),
            },
            Err(cause) => return Err(cause),
        };
        let backend = &cluster.backends[index];
        log.backend = Some(backend.address);
        log.t_connect = started.map(|t| t.elapsed());
        backend.start_request();
        let timeout = retry.per_try(cluster.config.response_timeout);
        let status_retry = retry.possible();
        let set_cookie = cluster.persist(c.peer.ip(), affinity.cookie.as_deref(), index);
        let outcome = exchange(
            c,
            upstream,
            head,
            req,
            route,
            log,
            responded,
            timeout,
            (status_retry, set_cookie),
        )
        .await;
        {
            use fulcrum_balance::outlier::Outcome;
            match &outcome {
                Tried::Done(_) => cluster.report(index, Outcome::Status(log.status)),
                Tried::RetryStatus(s) => cluster.report(index, Outcome::Status(s.as_u16())),
                Tried::Failed(Cause::UpstreamReset | Cause::BadResponse) => {
                    cluster.report(index, Outcome::Reset)
                }
                Tried::Failed(Cause::UpstreamTimeout) => cluster.report(index, Outcome::Timeout),
                _ => {}
            }
        }
        backend.stats.active.fetch_sub(1, Relaxed);
        let cause = match outcome {
            Tried::Done(keep) => {
                if cluster.uses_latency() {
                    let rtt = log.t_first_byte.unwrap_or_default().as_nanos() as u64;
                    backend.finish_request(rtt, crate::clock::now_ns());
                } else {
                    backend.abandon_request();
                }
                return Ok(keep);
            }
            Tried::ClientGone => {
                backend.abandon_request();
                log.end = "client_closed";
                return Ok(false);
            }
            Tried::Stale if req.framing == Framing::None && !stale_seen => {
                // The same backend may be tried again, on a fresh connection.
                backend.abandon_request();
                stale_seen = true;
                continue;
            }
            Tried::Stale => Cause::UpstreamReset,
            Tried::TooEarly => {
                // RFC 8470 §5.2: once the client's handshake completes, the same request
                // again without the mark, to any backend; not a failure of this one.
                backend.abandon_request();
                if !c.client.complete_handshake().await {
                    return Ok(false);
                }
                req.early.store(false, Relaxed);
                unmarked = Some(super::early::unmark(head));
                continue;
            }
            Tried::Failed(cause) => cause,
            Tried::RetryStatus(status) => Cause::UpstreamStatus(status),
        };
        backend.abandon_request();
        tried.push(index);
        let wanted = match cause {
            Cause::UpstreamStatus(s) => retry.on_status(s.as_u16()),
            other => retry.on_failure(other),
        };
        match wanted.then(|| retry.take()).flatten() {
            Some(held) => {
                _retrying = Some(held);
                tokio::time::sleep(retry.backoff()).await;
            }
            None => return Err(cause),
        }
    }
}

/// A backend connection for the route's cluster: pooled, or new within the cluster's
/// `max_pending` and `max_connections` breakers (with a PROXY header if the cluster sends one).
async fn acquire(
    c: &Conn<'_>,
    route: &Route,
    affinity: &Affinity,
    tried: &[usize],
) -> Result<(usize, Upstream), Cause> {
    let (i, mut up) = connect_pooled(&c.worker.pool, route, affinity, tried).await?;
    if !up.reused
        && let Some(version) = route.cluster.config.send_proxy_protocol
    {
        send_proxy_header(&mut up, version, c)
            .await
            .map_err(|_| Cause::ConnectFailed)?;
    }
    Ok((i, up))
}

/// A backend connection from `pool`, or a new one within the cluster's `max_pending` and
/// `max_connections` breakers; `reused` says which.
pub(super) async fn connect_pooled(
    pool: &Pool,
    route: &Route,
    affinity: &Affinity,
    tried: &[usize],
) -> Result<(usize, Upstream), Cause> {
    let cluster = &route.cluster;
    let limits = &cluster.config.limits;
    let pending = route
        .load
        .enter(Gauge::Pending, limits.max_pending)
        .ok_or(Cause::Overloaded)?;
    let dial = &mut upstream::Dial::plain(true);
    let (hash, sticky) = (affinity.hash, affinity.sticky);
    let picked = upstream::connect(cluster, tried, hash, sticky, dial, |a| pool.take(a)).await;
    drop(pending);
    match picked {
        Ok((i, Picked::Reused(kept))) => Ok((i, kept)),
        Ok((i, Picked::New(stream))) => {
            let Some(slot) = route.load.enter(Gauge::Connections, limits.max_connections) else {
                cluster.backends[i].stats.active.fetch_sub(1, Relaxed);
                return Err(Cause::Overloaded);
            };
            Ok((i, Upstream::new(stream, Some(slot))))
        }
        Err(ConnectError::NoBackend) => Err(Cause::NoBackend),
        Err(ConnectError::Failed) => Err(Cause::ConnectFailed),
    }
}

/// Writes a PROXY header for this client on a new backend connection.
async fn send_proxy_header(
    up: &mut Upstream,
    version: fulcrum_config::ProxyProtocolVersion,
    c: &Conn<'_>,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(64);
    crate::proxy_protocol::encode(version, *c.peer, c.client.local_addr()?, &mut out);
    up.private = true;
    write_all(&up.stream, &out).await
}

/// What streaming the response did.
struct Responded {
    /// The client may send another request (the response was framed and sent whole).
    client_keep: bool,
    /// The backend connection ended cleanly and may be reused.
    reusable: bool,
    tunnel: bool,
}

/// Sends the request (head and body) while waiting for the response head, then streams the
/// response; recycles or closes the backend connection.
#[allow(clippy::too_many_arguments)]
async fn exchange(
    c: &mut Conn<'_>,
    mut up: Upstream,
    head: &[u8],
    req: &Req,
    route: &Route,
    log: &mut Access,
    responded: &AtomicBool,
    response_timeout: Duration,
    (status_retry, set_cookie): (bool, Option<String>),
) -> Tried {
    let ctx = c.ctx();
    let (client, http) = (ctx.client, ctx.http);
    // Small to start: most responses fit, and the buffer grows for the ones that do not.
    let mut ubuf = up.take_buf();
    let sent_at = (log.recording || route.cluster.uses_latency()).then(Instant::now);
    let (sent, result) = {
        let src = Source {
            stream: client,
            buf: &mut *c.buf,
            idle: http.body_idle,
        };
        let send = send_request(src, &up.stream, head, req.framing, http.max_body);
        tokio::pin!(send);
        let mut sent: Option<Result<u64, BodyError>> = None;
        let response = {
            let deadline = up.acquired + response_timeout;
            let timer = up.timer.as_mut();
            let interim = (req.version == Version::HTTP_11).then_some(client);
            let recv = read_response(&up.stream, timer, &mut ubuf, &req.method, interim, deadline);
            tokio::pin!(recv);
            loop {
                tokio::select! {
                    biased;
                    r = &mut recv => break r,
                    r = &mut send, if sent.is_none() => {
                        if let Err(e) = &r
                            && !matches!(e, BodyError::Sink(_))
                        {
                            return client_body_failed(e);
                        }
                        sent = Some(r);
                    }
                }
            }
        };
        let head = match response {
            Ok(head) => head,
            Err(UpErr::Closed { any: false }) if up.reused => return Tried::Stale,
            Err(e) => return Tried::Failed(e.cause()),
        };
        if head.status == StatusCode::TOO_EARLY && req.early.load(Relaxed) {
            return Tried::TooEarly;
        }
        if status_retry
            && route
                .cluster
                .config
                .retry
                .on
                .contains(&RetryOn::Status(head.status.as_u16()))
        {
            return Tried::RetryStatus(head.status);
        }
        log.t_first_byte = sent_at.map(|t| t.elapsed());
        log.status = head.status.as_u16();
        let set_cookie = set_cookie.filter(|v| HeaderValue::from_str(v).is_ok());
        let answer = Answer {
            head,
            set_cookie: set_cookie.as_deref(),
        };
        let respond = respond(
            ctx, &up.stream, &mut ubuf, answer, req, route, log, responded,
        );
        match sent {
            Some(s) => (s, respond.await),
            None => tokio::join!(send, respond),
        }
    };
    let Ok(done) = result else {
        return Tried::Done(false);
    };
    log.bytes_in = *sent.as_ref().unwrap_or(&0);
    let request_sent = sent.is_ok();
    if done.tunnel {
        // Boxed: rare (upgrades), and its relay state would enlarge every request's.
        Box::pin(tunnel(c, &up.stream, &ubuf)).await;
        return Tried::Done(false);
    }
    up.requests += 1;
    let cfg = &route.cluster.config;
    let under_max = cfg.pool.max_requests.is_none_or(|max| up.requests < max);
    if done.reusable
        && request_sent
        && ubuf.is_empty()
        && under_max
        && !up.private
        && let Some(addr) = log.backend
    {
        up.keep_buf(ubuf);
        c.worker
            .pool
            .put(addr, up, cfg.pool.max_idle, cfg.pool.idle_timeout);
    }
    Tried::Done(done.client_keep && request_sent)
}

/// Sends the request head, and its body from `src` after it (the head and the first body
/// bytes in one write). A head alone is written as it is, without a copy.
async fn send_request(
    mut src: Source<'_, ClientIo>,
    up: &TcpStream,
    head: &[u8],
    framing: Framing,
    max_body: Option<u64>,
) -> Result<u64, BodyError> {
    if framing == Framing::None {
        return write_all(up, head)
            .await
            .map(|()| 0)
            .map_err(BodyError::Sink);
    }
    let mut out = Vec::with_capacity(head.len() + 512);
    out.extend_from_slice(head);
    body::forward(&mut src, up, framing, Reframe::Same, &mut out, max_body).await
}

fn client_body_failed(e: &BodyError) -> Tried {
    match e {
        BodyError::Invalid(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Tried::Failed(Cause::BodyTooLarge)
        }
        BodyError::Invalid(err) => Tried::Failed(Cause::BadRequest(err.status(), err.reason())),
        BodyError::SourceIdle => Tried::Failed(Cause::RequestTimeout),
        _ => Tried::ClientGone,
    }
}

/// Why no usable response head came from the backend.
pub(super) enum UpErr {
    /// Closed (or reset) before a whole head; `any`: whether any byte came first.
    Closed {
        any: bool,
    },
    Timeout,
    Bad,
}

impl UpErr {
    pub(super) fn cause(&self) -> Cause {
        match self {
            UpErr::Closed { .. } => Cause::UpstreamReset,
            UpErr::Timeout => Cause::UpstreamTimeout,
            UpErr::Bad => Cause::BadResponse,
        }
    }
}

/// Reads the response head to a `method` request by `deadline`, passing interim 1xx
/// responses (but 101) on to `interim` if given, and dropping them otherwise.
pub(super) async fn read_response(
    up: &TcpStream,
    mut timer: Pin<&mut Sleep>,
    ubuf: &mut BytesMut,
    method: &Method,
    interim: Option<&ClientIo>,
    deadline: Instant,
) -> Result<RawResponseHead, UpErr> {
    let mut parser = ResponseParser::new();
    let mut any = false;
    loop {
        if !ubuf.is_empty() {
            match parser.parse_raw(ubuf, &RESPONSE_LIMITS, method) {
                Ok(Parsed::Complete { head, len })
                    if head.status.is_informational() && !head.tunnel =>
                {
                    if let Some(client) = interim {
                        let _ = write_all(client, &ubuf[..len]).await;
                    }
                    ubuf.advance(len);
                    parser = ResponseParser::new();
                    continue;
                }
                Ok(Parsed::Complete { head, len }) => {
                    ubuf.advance(len);
                    return Ok(head);
                }
                Ok(Parsed::Partial) => {}
                Err(e) => {
                    tracing::debug!(reason = e.reason(), "bad response from backend");
                    return Err(UpErr::Bad);
                }
            }
        }
        match read_some_timed(up, ubuf, timer.as_mut(), deadline).await {
            Ok(0) => return Err(UpErr::Closed { any }),
            Ok(_) => any = true,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(UpErr::Timeout),
            Err(_) => return Err(UpErr::Closed { any }),
        }
    }
}

/// The backend's response head, and the persistence cookie to add to it.
struct Answer<'a> {
    head: RawResponseHead,
    set_cookie: Option<&'a str>,
}

/// Writes the response head and streams the body to the client.
#[allow(clippy::too_many_arguments)]
async fn respond(
    c: Ctx<'_>,
    up: &TcpStream,
    ubuf: &mut BytesMut,
    answer: Answer<'_>,
    req: &Req,
    route: &Route,
    log: &mut Access,
    responded: &AtomicBool,
) -> Result<Responded, ()> {
    let head = &answer.head;
    let (framing, reframe, framed) = client_framing(head.framing, req);
    let keep = framed && req.keep_alive && !head.tunnel && !c.worker.is_draining();
    let mut out = Vec::with_capacity(1024);
    let added = response_head::Added {
        framing,
        keep_length: req.method == Method::HEAD || head.status == StatusCode::NOT_MODIFIED,
        tunnel: head.tunnel,
        via: c.http.via,
        set_cookie: answer.set_cookie,
        request_id: c.http.request_id.as_ref().zip(req.request_id.as_ref()),
        connection: if !keep && !head.tunnel {
            Some("close")
        } else if keep && req.version == Version::HTTP_10 {
            Some("keep-alive")
        } else {
            None
        },
    };
    response_head::write(head, &route.response_rules, &added, &mut out);
    responded.store(true, Relaxed);
    c.listener.stats.count_status(head.status.as_u16());
    let idle = route.cluster.config.response_timeout;
    let mut src = Source {
        stream: up,
        buf: ubuf,
        idle,
    };
    let body = body::forward(&mut src, c.client, head.framing, reframe, &mut out, None).await;
    match body {
        Ok(n) => {
            log.bytes_out = n;
            log.end = "ok";
            let reusable = head.keep_alive && !head.tunnel && head.framing != Framing::UntilClose;
            Ok(Responded {
                client_keep: keep,
                reusable,
                tunnel: head.tunnel,
            })
        }
        Err(e) => {
            tracing::debug!(error = %e, "response body not passed on whole");
            log.end = match e {
                BodyError::Sink(_) => "client_closed",
                BodyError::SourceIdle => "upstream_timeout",
                _ => "upstream_reset",
            };
            Err(())
        }
    }
}

/// The framing toward the client, how to re-frame, and whether the body's end will be
/// known without closing (so the connection can be kept).
fn client_framing(framing: Framing, req: &Req) -> (Framing, Reframe, bool) {
    let old_client = req.version == Version::HTTP_10;
    match framing {
        Framing::UntilClose if !old_client && req.keep_alive => {
            (Framing::Chunked, Reframe::CloseToChunked, true)
        }
        Framing::UntilClose => (Framing::UntilClose, Reframe::Same, false),
        Framing::Chunked if old_client => (Framing::UntilClose, Reframe::ChunkedToRaw, false),
        other => (other, Reframe::Same, true),
    }
}

/// After `101 Switching Protocols`: pass what each side already sent, then relay raw bytes.
async fn tunnel(c: &mut Conn<'_>, up: &TcpStream, ubuf: &BytesMut) {
    if !ubuf.is_empty() && write_all(c.client, ubuf).await.is_err() {
        return;
    }
    if !c.buf.is_empty() && write_all(up, c.buf).await.is_err() {
        return;
    }
    c.buf.clear();
    let settings = relay::Settings {
        mode: relay::Mode::Copy,
        buffer_size: 16 * 1024,
        idle_timeout: c.listener.config.idle_timeout,
        pipes: &c.worker.pipes,
        close_now: &c.worker.close_now,
    };
    match c.client.tcp() {
        Some(client) => {
            let _ = relay::run(client, up, settings).await;
        }
        None => {
            copy_both(c.client, up, c.listener.config.idle_timeout).await;
        }
    }
}
