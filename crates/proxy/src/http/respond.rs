//! Responses Fulcrum generates itself: errors that say which cause, in the configured body.

use fulcrum_config::ErrorResponse;
use http::StatusCode;

/// Why Fulcrum answered instead of a backend. Each has a status and a name for logs and the
/// `x-fulcrum-error` response field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    BadRequest(StatusCode, &'static str),
    RequestTimeout,
    BodyTooLarge,
    NoRoute,
    NoBackend,
    ConnectFailed,
    UpstreamTimeout,
    UpstreamReset,
    BadResponse,
    /// A circuit breaker of the cluster is open (a `[cluster.limits]` limit is reached).
    Overloaded,
    /// The backend answered with a status the cluster retries on, and no retry was left.
    UpstreamStatus(StatusCode),
}

impl Cause {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Cause::BadRequest(status, _) => status,
            Cause::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Cause::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Cause::NoRoute => StatusCode::NOT_FOUND,
            Cause::NoBackend => StatusCode::SERVICE_UNAVAILABLE,
            Cause::ConnectFailed | Cause::UpstreamReset | Cause::BadResponse => {
                StatusCode::BAD_GATEWAY
            }
            Cause::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Cause::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Cause::UpstreamStatus(status) => status,
        }
    }

    /// A short name: `no_route`, `upstream_timeout`, ...
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cause::BadRequest(..) => "bad_request",
            Cause::RequestTimeout => "request_timeout",
            Cause::BodyTooLarge => "body_too_large",
            Cause::NoRoute => "no_route",
            Cause::NoBackend => "no_healthy_backend",
            Cause::ConnectFailed => "connect_failed",
            Cause::UpstreamTimeout => "upstream_timeout",
            Cause::UpstreamReset => "upstream_reset",
            Cause::BadResponse => "bad_response",
            Cause::Overloaded => "circuit_open",
            Cause::UpstreamStatus(_) => "upstream_status",
        }
    }

    pub(crate) fn detail(self) -> &'static str {
        match self {
            Cause::BadRequest(_, reason) => reason,
            Cause::RequestTimeout => "the request was not received in time",
            Cause::BodyTooLarge => "the request body is larger than allowed",
            Cause::NoRoute => "no route matches this request",
            Cause::NoBackend => "no healthy backend",
            Cause::ConnectFailed => "could not connect to a backend",
            Cause::UpstreamTimeout => "the backend did not answer in time",
            Cause::UpstreamReset => "the backend closed the connection",
            Cause::BadResponse => "the backend sent an invalid response",
            Cause::Overloaded => "the cluster is at its configured limit",
            Cause::UpstreamStatus(_) => "the backend failed and no retry was left",
        }
    }
}

/// Serializes a complete HTTP/1.1 error response for `cause`.
pub(crate) fn error_response(
    cause: Cause,
    custom: &[ErrorResponse],
    request_id: Option<(&str, &str)>,
    close: bool,
    out: &mut Vec<u8>,
) {
    let status = cause.status();
    let default_body;
    let (content_type, body) = match custom.iter().find(|e| e.status == status.as_u16()) {
        Some(e) => (e.content_type.as_str(), e.body.as_str()),
        None => {
            default_body = format!(
                "{} {}: {}\n",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                cause.detail()
            );
            ("text/plain; charset=utf-8", default_body.as_str())
        }
    };
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: ");
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(format!("\r\ncontent-length: {}", body.len()).as_bytes());
    out.extend_from_slice(b"\r\nx-fulcrum-error: ");
    out.extend_from_slice(cause.name().as_bytes());
    if let Some((name, id)) = request_id {
        out.extend_from_slice(format!("\r\n{name}: {id}").as_bytes());
    }
    if close {
        out.extend_from_slice(b"\r\nconnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_body_names_the_cause() {
        let mut out = Vec::new();
        error_response(
            Cause::UpstreamTimeout,
            &[],
            Some(("x-request-id", "abc")),
            true,
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 504 Gateway Timeout\r\n"),
            "{text}"
        );
        assert!(text.contains("x-fulcrum-error: upstream_timeout\r\n"));
        assert!(text.contains("x-request-id: abc\r\n"));
        assert!(text.contains("connection: close\r\n"));
        assert!(
            text.ends_with("\r\n\r\n504 Gateway Timeout: the backend did not answer in time\n")
        );
    }

    #[test]
    fn custom_bodies_replace_the_default() {
        let custom = [ErrorResponse {
            status: 503,
            content_type: "text/html".into(),
            body: "<h1>busy</h1>".into(),
        }];
        let mut out = Vec::new();
        error_response(Cause::NoBackend, &custom, None, false, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("content-type: text/html\r\ncontent-length: 13\r\n"),
            "{text}"
        );
        assert!(text.ends_with("<h1>busy</h1>"));
    }
}
