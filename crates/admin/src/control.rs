//! Runtime control: `POST /backends/{cluster}/{address}/{enable|disable|drain}`, and
//! `PUT`/`POST` (set) or `DELETE` (back to the configured weight) on
//! `/backends/{cluster}/{address}/weight`, with the weight as the body or `?value=N`.
//!
//! The answer is the backend after the change, as in `/backends`; 404 for an unknown cluster,
//! backend or action, 400 for a bad weight, 405 for a wrong method, and 403 for a request
//! that carries an `Origin` header: browsers send one with every cross-site (and same-site)
//! POST, command-line clients do not, so a web page cannot drive the API through the
//! operator's browser. There is no other authentication: keep the admin listener on loopback
//! or a trusted network.

use crate::backends;
use crate::routes::{Body, JSON, TEXT, respond};
use crate::view::View;
use fulcrum_proxy::health::control::{self, Action, ControlError};
use hyper::header::{self, HeaderValue};
use hyper::{HeaderMap, Method, Response, StatusCode};
use std::net::SocketAddr;

/// Answers a request for `/backends/{rest}`.
pub(crate) fn handle(
    method: &Method,
    headers: &HeaderMap,
    rest: &str,
    query: Option<&str>,
    body: &[u8],
    view: impl FnOnce() -> View,
) -> Response<Body> {
    let mut parts = rest.split('/');
    let (Some(cluster), Some(address), Some(verb), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return not_found("not found");
    };
    let allowed: &'static str = match verb {
        "enable" | "disable" | "drain" => "POST",
        "weight" => "PUT, POST, DELETE",
        _ => return not_found("not found"),
    };
    if !allowed.split(", ").any(|m| m == method.as_str()) {
        let mut resp = respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, "method not allowed\n");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allowed));
        return resp;
    }
    if headers.contains_key(header::ORIGIN) {
        return respond(
            StatusCode::FORBIDDEN,
            TEXT,
            "cross-origin requests refused\n",
        );
    }
    let action = match verb {
        "enable" => Action::Enable,
        "disable" => Action::Disable,
        "drain" => Action::Drain,
        _ if method == Method::DELETE => Action::Weight(None),
        _ => match weight(query, body) {
            Some(w) => Action::Weight(Some(w)),
            None => {
                return bad_request(
                    "the weight must be an integer in 1..=1000, as the body or ?value=N",
                );
            }
        },
    };
    let Ok(address) = decode(address).parse::<SocketAddr>() else {
        return not_found(&format!("no backend {address} in cluster `{cluster}`"));
    };
    let view = view();
    match control::apply(&view.snapshot, cluster, address, action) {
        Ok(backend) => {
            let Some(c) = view.snapshot.cluster(cluster) else {
                return not_found("cluster gone");
            };
            let mut body =
                serde_json::to_vec_pretty(&backends::backend(c, backend)).unwrap_or_default();
            body.push(b'\n');
            respond(StatusCode::OK, JSON, body)
        }
        Err(e @ ControlError::BadWeight(_)) => bad_request(&e.to_string()),
        Err(e) => not_found(&e.to_string()),
    }
}

/// The weight from `?value=N` or the body (`N`, surrounding whitespace allowed).
fn weight(query: Option<&str>, body: &[u8]) -> Option<u32> {
    let from_query = query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("value=")));
    let text = match from_query {
        Some(v) => v,
        None => std::str::from_utf8(body).ok()?.trim(),
    };
    text.parse().ok()
}

/// Percent-decodes a path segment (`%5B%3A%3A1%5D%3A80` is `[::1]:80`); bad escapes are kept.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(message: &str) -> Response<Body> {
    respond(StatusCode::NOT_FOUND, TEXT, format!("{message}\n"))
}

fn bad_request(message: &str) -> Response<Body> {
    respond(StatusCode::BAD_REQUEST, TEXT, format!("{message}\n"))
}

#[cfg(test)]
mod tests;
