//! HTTP/1.1 clients to HTTP/2 backends: the request head and body are handed to hyper's
//! client as an `http::Request` whose body is fed from the client socket through a small
//! channel (so backpressure holds); the response comes back as frames, written to the client
//! as HTTP/1.1 (length-delimited, chunked with trailers, or close-delimited for HTTP/1.0).

use super::affinity::Affinity;
use super::body::{BodyError, Source};
use super::client::{self, Body, BoxError};
use super::exchange::Req;
use super::h1::Conn;
use super::headers::{add_via, set_framing, strip_hop_by_hop};
use super::io::{ClientIo, write_all};
use super::log::Access;
use super::respond::Cause;
use super::route::Route;
use bytes::{Buf, Bytes};
use fulcrum_h1::{
    ChunkedDecoder, Event, Framing, RequestHead, encode_chunk_header, encode_last_chunk,
};
use http::header::{CONNECTION, CONTENT_LENGTH, HeaderValue};
use http::{HeaderMap, Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Frame;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::task::{Context, Poll};
use tokio::sync::mpsc;

type Chunk = Result<Frame<Bytes>, BoxError>;

/// A request body fed through a channel.
struct ChannelBody(mpsc::Receiver<Chunk>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}

/// Sends the (already rewritten) request to an HTTP/2 backend and streams the response back.
pub(crate) async fn proxy(
    c: &mut Conn<'_>,
    route: &Route,
    affinity: &Affinity,
    head: RequestHead,
    req: &Req,
    log: &mut Access,
    responded: &AtomicBool,
) -> Result<bool, Cause> {
    let ctx = c.ctx();
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    let body: Body = match head.framing {
        Framing::None => Empty::new().map_err(|e| match e {}).boxed_unsync(),
        _ => ChannelBody(rx).boxed_unsync(),
    };
    let mut request = Request::new(body);
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    let mut headers = head.headers;
    headers.remove(http::header::TRANSFER_ENCODING);
    *request.headers_mut() = headers;
    let authority = head.uri.authority().map(|a| a.to_string()).or_else(|| {
        request
            .headers()
            .get(http::header::HOST)?
            .to_str()
            .ok()
            .map(str::to_owned)
    });
    let (parts, body) = request.into_parts();
    let mut src = Source {
        stream: ctx.client,
        buf: &mut *c.buf,
        idle: ctx.http.body_idle,
    };
    let feed = feed(&mut src, head.framing, tx, ctx.http.max_body);
    let bodiless = head.framing == Framing::None;
    let send = client::forward(
        ctx.worker,
        *c.peer,
        route,
        parts,
        body,
        client::Plan {
            affinity,
            bodiless,
            added: None,
        },
        authority.as_deref(),
        log,
    );
    let (fed, response) = tokio::join!(feed, send);
    let response = response?;
    if let Err(e) = fed {
        return Err(match e {
            BodyError::SourceIdle => Cause::RequestTimeout,
            BodyError::Invalid(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Cause::BodyTooLarge
            }
            BodyError::Invalid(err) => Cause::BadRequest(err.status(), err.reason()),
            _ => Cause::UpstreamReset,
        });
    }
    log.status = response.status().as_u16();
    ctx.listener.stats.count_status(log.status);
    respond(ctx, route, response, req, log, responded).await
}

/// Decodes the client's body and sends it as frames; stops quietly if hyper dropped the body.
async fn feed(
    src: &mut Source<'_, ClientIo>,
    framing: Framing,
    tx: mpsc::Sender<Chunk>,
    max_body: Option<u64>,
) -> Result<(), BodyError> {
    match framing {
        Framing::Length(mut left) => {
            while left > 0 {
                if src.buf.is_empty() && !src.fill().await? {
                    return Err(BodyError::SourceClosed);
                }
                let take = (src.buf.len() as u64).min(left) as usize;
                let data = src.buf.split_to(take).freeze();
                left -= take as u64;
                if tx.send(Ok(Frame::data(data))).await.is_err() {
                    return Ok(());
                }
            }
            Ok(())
        }
        Framing::Chunked => feed_chunked(src, tx, max_body).await,
        Framing::None | Framing::UntilClose => Ok(()),
    }
}

async fn feed_chunked(
    src: &mut Source<'_, ClientIo>,
    tx: mpsc::Sender<Chunk>,
    max_body: Option<u64>,
) -> Result<(), BodyError> {
    let mut decoder = ChunkedDecoder::new();
    if let Some(max) = max_body {
        decoder = decoder.with_max_body(max);
    }
    loop {
        if src.buf.is_empty() && !src.fill().await? {
            return Err(BodyError::SourceClosed);
        }
        let step = decoder.feed(src.buf).map_err(BodyError::Invalid)?;
        let frame = match step.event {
            Event::Data(range) => {
                let data = Bytes::copy_from_slice(&src.buf[range]);
                src.buf.advance(step.consumed);
                Frame::data(data)
            }
            Event::NeedMore => {
                src.buf.advance(step.consumed);
                if !src.fill().await? {
                    return Err(BodyError::SourceClosed);
                }
                continue;
            }
            Event::End(trailers) => {
                src.buf.advance(step.consumed);
                if trailers.is_empty() {
                    return Ok(());
                }
                let _ = tx.send(Ok(Frame::trailers(trailers))).await;
                return Ok(());
            }
        };
        if tx.send(Ok(frame)).await.is_err() {
            return Ok(());
        }
    }
}

/// Writes the response to the HTTP/1.1 client.
async fn respond(
    ctx: super::h1::Ctx<'_>,
    route: &Route,
    response: http::Response<Body>,
    req: &Req,
    log: &mut Access,
    responded: &AtomicBool,
) -> Result<bool, Cause> {
    let (mut parts, mut body) = response.into_parts();
    let length = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let bodiless = req.method == Method::HEAD
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    let framing = match length {
        _ if bodiless => Framing::None,
        Some(n) => Framing::Length(n),
        None if req.version == Version::HTTP_11 => Framing::Chunked,
        None => Framing::UntilClose,
    };
    let keep = req.keep_alive && framing != Framing::UntilClose && !ctx.worker.is_draining();
    let kept_length = parts.headers.get(CONTENT_LENGTH).cloned();
    strip_hop_by_hop(&mut parts.headers);
    set_framing(&mut parts.headers, framing);
    if bodiless && let Some(v) = kept_length {
        parts.headers.insert(CONTENT_LENGTH, v);
    }
    if ctx.http.via {
        add_via(&mut parts.headers, parts.version);
    }
    route.response_rules.apply(&mut parts.headers);
    if let (Some(name), Some(id)) = (&ctx.http.request_id, &req.request_id) {
        parts.headers.insert(name.clone(), id.clone());
    }
    if !keep {
        parts
            .headers
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let mut out = Vec::with_capacity(1024);
    let reason = parts.status.canonical_reason().unwrap_or("");
    fulcrum_h1::write_response_head(
        Version::HTTP_11,
        parts.status,
        reason.as_bytes(),
        &parts.headers,
        &mut out,
    );
    responded.store(true, Relaxed);
    let chunked = framing == Framing::Chunked;
    let mut trailers = HeaderMap::new();
    let mut sent = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            log.end = "upstream_reset";
            return Ok(false);
        };
        match frame.into_data() {
            Ok(data) => {
                sent += data.len() as u64;
                if chunked {
                    encode_chunk_header(data.len() as u64, &mut out);
                }
                out.extend_from_slice(&data);
                if chunked {
                    out.extend_from_slice(b"\r\n");
                }
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers.extend(t);
                }
            }
        }
        if write_all(ctx.client, &out).await.is_err() {
            log.end = "client_closed";
            return Ok(false);
        }
        out.clear();
    }
    if chunked {
        encode_last_chunk(&trailers, &mut out);
    }
    if write_all(ctx.client, &out).await.is_err() {
        log.end = "client_closed";
        return Ok(false);
    }
    log.bytes_out = sent;
    log.end = "ok";
    Ok(keep)
}
