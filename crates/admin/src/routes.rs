//! Request dispatch: one path, one function, one response. No I/O here, so every route is
//! tested without a socket.

use crate::metrics::{self, Format};
use crate::view::View;
use crate::{backends, control, dashboard};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::fmt;

pub(crate) type Body = Full<Bytes>;

pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
pub(crate) const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";

/// Answers `req`, whose body (read only for `POST`, `PUT` and `DELETE`) is `body`. `view` is
/// called only by routes that read the data plane.
pub(crate) fn handle<B>(
    req: &Request<B>,
    body: &[u8],
    view: impl FnOnce() -> View,
) -> Response<Body> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/backends/") {
        let query = req.uri().query();
        return control::handle(req.method(), req.headers(), rest, query, body, view);
    }
    let route: fn(&Request<B>, View) -> Response<Body> = match path {
        "/" => |_, view| dashboard(view),
        "/healthz" => |_, _| respond(StatusCode::OK, TEXT, "ok\n"),
        "/config" => |_, view| config(view),
        "/backends" => |_, view| json(&backends::document(&view)),
        "/metrics" => scrape,
        _ => return respond(StatusCode::NOT_FOUND, TEXT, "not found\n"),
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, "method not allowed\n");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    route(req, view())
}

/// `/`: the HTML dashboard.
fn dashboard(view: View) -> Response<Body> {
    match dashboard::render(&view) {
        Ok(body) => respond(StatusCode::OK, HTML, body),
        Err(fmt::Error) => internal_error(),
    }
}

/// `/config`: the running, validated config with its generation and the worker count.
fn config(view: View) -> Response<Body> {
    match config_json(&view) {
        Ok(body) => respond(StatusCode::OK, JSON, body),
        Err(e) => {
            tracing::warn!(error = %e, "admin: cannot serialize the running config");
            internal_error()
        }
    }
}

fn json(doc: &serde_json::Value) -> Response<Body> {
    match serde_json::to_vec_pretty(doc) {
        Ok(mut body) => {
            body.push(b'\n');
            respond(StatusCode::OK, JSON, body)
        }
        Err(_) => internal_error(),
    }
}

fn config_json(view: &View) -> serde_json::Result<Vec<u8>> {
    let mut doc = serde_json::Map::new();
    doc.insert("generation".into(), view.snapshot.generation.into());
    doc.insert("workers".into(), view.workers.into());
    doc.insert(
        "config".into(),
        serde_json::to_value(&*view.snapshot.config)?,
    );
    let mut body = serde_json::to_vec_pretty(&serde_json::Value::Object(doc))?;
    body.push(b'\n');
    Ok(body)
}

/// `/metrics`, in the format the `Accept` header asks for.
fn scrape<B>(req: &Request<B>, view: View) -> Response<Body> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    match metrics::encode(view, format) {
        Ok(body) => respond(StatusCode::OK, format.content_type(), body),
        Err(fmt::Error) => {
            tracing::warn!("admin: cannot encode metrics");
            internal_error()
        }
    }
}

fn internal_error() -> Response<Body> {
    respond(StatusCode::INTERNAL_SERVER_ERROR, TEXT, "internal error\n")
}

pub(crate) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;
    use http_body_util::BodyExt;

    async fn get(method: Method, path: &str, accept: Option<&str>) -> (StatusCode, String, String) {
        let snapshot = testutil::snapshot();
        let mut req = Request::builder().method(method).uri(path);
        if let Some(accept) = accept {
            req = req.header(header::ACCEPT, accept);
        }
        let resp = handle(&req.body(()).unwrap(), b"", || testutil::view(&snapshot));
        let status = resp.status();
        let ct = resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ct, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn dashboard_at_root() {
        let (status, ct, body) = get(Method::GET, "/", None).await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, HTML));
        assert!(body.starts_with("<!doctype html>"));
    }

    #[tokio::test]
    async fn healthz() {
        assert_eq!(
            get(Method::GET, "/healthz", None).await,
            (StatusCode::OK, TEXT.into(), "ok\n".into())
        );
    }

    #[tokio::test]
    async fn unknown_path_is_404_whatever_the_method() {
        for method in [Method::GET, Method::POST] {
            let (status, _, body) = get(method, "/nope", None).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::NOT_FOUND, "not found\n")
            );
        }
        assert_eq!(
            get(Method::GET, "/healthz/", None).await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn other_methods_are_405_with_allow() {
        for method in [Method::POST, Method::PUT, Method::DELETE] {
            let req = Request::builder()
                .method(method)
                .uri("/metrics")
                .body(())
                .unwrap();
            let resp = handle(&req, b"", || {
                unreachable!("a 405 must not read the data plane")
            });
            assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(resp.headers()[header::ALLOW], "GET, HEAD");
        }
    }

    #[tokio::test]
    async fn config_is_the_running_config_as_json() {
        let (status, ct, body) = get(Method::GET, "/config?pretty", None).await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, JSON));
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["generation"], 1);
        assert_eq!(doc["workers"], 2);
        assert_eq!(doc["config"]["listeners"][0]["name"], "web");
        assert_eq!(doc["config"]["clusters"][0]["backends"][1]["weight"], 3);
        assert!(body.ends_with("}\n"));
    }

    #[tokio::test]
    async fn metrics_negotiates_the_format() {
        let (status, ct, body) = get(Method::GET, "/metrics", None).await;
        assert_eq!(
            (status, ct.as_str()),
            (StatusCode::OK, Format::Prometheus.content_type())
        );
        assert!(body.contains("fulcrum_workers 2\n"));
        let accept = Some("application/openmetrics-text; version=1.0.0");
        let (status, ct, body) = get(Method::GET, "/metrics", accept).await;
        assert_eq!(
            (status, ct.as_str()),
            (StatusCode::OK, Format::OpenMetrics.content_type())
        );
        assert!(body.ends_with("# EOF\n"));
    }
}
