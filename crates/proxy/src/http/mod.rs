//! HTTP listeners: HTTP/1.1 (keep-alive, pipelining handled one request at a time) and,
//! detected by its preface on the same port, HTTP/2 cleartext.
//!
//! A connection's bytes first go through [`serve`]: the PROXY protocol header if the peer is
//! trusted to send one, then protocol detection, then [`h1::serve`]. Requests are routed
//! ([`route`]), their headers rewritten ([`headers`]), sent to a backend connection from the
//! worker's [`pool`], and the response streamed back ([`body`]). Errors Fulcrum answers itself
//! say why ([`respond`]); every request gets an access log line ([`log`]).

mod body;
mod bridge;
mod client;
mod exchange;
mod h1;
mod h2;
mod headers;
mod io;
mod log;
pub(crate) mod pool;
mod prefixed;
mod respond;
mod retry;
pub(crate) mod route;

use crate::cluster::ClusterRuntime;
use crate::load::ClusterLoad;
use fulcrum_config::{AccessLogFormat, ErrorResponse, ForwardedMode, HttpListenerConfig};
use http::HeaderName;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use client::ClientPool;
pub(crate) use h1::serve;
pub(crate) use h2::serve_h2;
pub(crate) use io::{ClientIo, read_some_until, write_all};

/// A listener's HTTP settings, compiled once per config generation.
#[derive(Debug)]
pub(crate) struct HttpRuntime {
    pub(crate) router: route::Router,
    pub(crate) limits: fulcrum_h1::Limits,
    pub(crate) max_body: Option<u64>,
    pub(crate) header_timeout: Duration,
    pub(crate) body_idle: Duration,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) keepalive: Duration,
    pub(crate) forwarded: ForwardedMode,
    pub(crate) via: bool,
    pub(crate) request_id: Option<HeaderName>,
    pub(crate) access_log: AccessLogFormat,
    pub(crate) errors: Vec<ErrorResponse>,
}

impl HttpRuntime {
    pub(crate) fn build(
        c: &HttpListenerConfig,
        resolve: impl Fn(&str) -> Option<(Arc<ClusterRuntime>, Arc<ClusterLoad>)>,
    ) -> HttpRuntime {
        HttpRuntime {
            router: route::Router::build(&c.routes, resolve),
            limits: fulcrum_h1::Limits {
                max_head_bytes: c.limits.max_header_bytes,
                max_headers: c.limits.max_headers,
                max_uri_bytes: c.limits.max_uri_bytes,
            },
            max_body: c.limits.max_body_bytes,
            header_timeout: c.timeouts.header,
            body_idle: c.timeouts.body_idle,
            request_timeout: c.timeouts.request,
            keepalive: c.timeouts.keepalive,
            forwarded: c.forwarded,
            via: c.via,
            request_id: c
                .request_id_header
                .as_deref()
                .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok()),
            access_log: c.access_log,
            errors: c.error_responses.clone(),
        }
    }
}
