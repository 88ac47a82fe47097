//! HTTP listeners: HTTP/1.1 (keep-alive, pipelining handled one request at a time) and,
//! detected by its preface on the same port, HTTP/2 cleartext.
//!
//! A connection's bytes first go through [`serve`]: the PROXY protocol header if the peer is
//! trusted to send one, then protocol detection, then [`h1::serve`]. Requests are routed
//! ([`route`]), their headers rewritten ([`headers`]), sent to a backend connection from the
//! worker's [`pool`], and the response streamed back ([`body`]). Errors Fulcrum answers itself
//! say why ([`respond`]); every request gets an access log line ([`log`]).

mod affinity;
mod body;
mod bridge;
mod client;
mod early;
mod exchange;
mod fields;
mod h1;
mod h2;
mod headers;
mod io;
mod log;
pub(crate) mod pool;
mod request_head;
mod respond;
mod response_head;
mod retry;
pub(crate) mod route;
mod stream_h1;

use crate::cluster::ClusterRuntime;
use crate::load::ClusterLoad;
use fulcrum_config::{AccessLogFormat, ErrorResponse, ForwardedMode, HttpListenerConfig};
use http::HeaderName;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use client::ClientPool;
pub(crate) use h1::serve;
pub(crate) use h2::{TlsInfo, serve_h2, serve_h2_io};
pub(crate) use io::{ClientIo, Halves, TlsClient, copy_both, read_some_until, write_all};

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
    /// Headers carrying a verified client certificate's subject and fingerprint (mTLS).
    /// Always removed from client requests, then set from the certificate.
    pub(crate) client_cert_headers: [Option<HeaderName>; 2],
}

impl HttpRuntime {
    pub(crate) fn build(
        c: &HttpListenerConfig,
        tls: Option<&fulcrum_config::TlsListenerConfig>,
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
            client_cert_headers: client_cert_headers(tls),
        }
    }
}

fn client_cert_headers(tls: Option<&fulcrum_config::TlsListenerConfig>) -> [Option<HeaderName>; 2] {
    let auth = tls.and_then(|t| t.client_auth.as_ref());
    let name = |n: Option<&String>| n.and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok());
    match auth {
        Some(a) => [
            name(a.subject_header.as_ref()),
            name(a.fingerprint_header.as_ref()),
        ],
        None => [None, None],
    }
}

/// Removes client-sent copies of the mTLS identity headers, then sets them from the verified
/// certificate, if any: a client can never forge them.
pub(crate) fn set_client_cert_headers(
    headers: &mut http::HeaderMap,
    names: &[Option<HeaderName>; 2],
    identity: Option<&fulcrum_tls::ClientIdentity>,
) {
    for name in names.iter().flatten() {
        headers.remove(name);
    }
    let Some(id) = identity else { return };
    for (name, value) in names.iter().zip([&id.subject, &id.fingerprint]) {
        if let (Some(name), Ok(value)) = (name, http::HeaderValue::from_str(value)) {
            headers.insert(name.clone(), value);
        }
    }
}
