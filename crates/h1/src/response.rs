//! Response heads: the status line and response framing (RFC 9112 §6.3).

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};

use crate::framing::Facts;
use crate::head::{build_fields, find};
use crate::request::parse_version;
use crate::scan::{Mode, Scanned, Scanner};
use crate::{Error, ErrorKind, Framing, Limits, Parsed};

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: StatusCode,
    /// The reason phrase as sent (HTAB, SP, VCHAR, obs-text), possibly empty.
    pub reason: Bytes,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    pub headers: HeaderMap,
    /// How the body is delimited. A 1xx other than 101 is followed by another response head.
    pub framing: Framing,
    /// The connection may carry another response after this one's body.
    pub keep_alive: bool,
    /// After this head both directions are opaque bytes: a `101 Switching Protocols`, or a
    /// 2xx answer to CONNECT. `framing` is then `None`.
    pub tunnel: bool,
}

/// Parses the head of the response to a `request_method` request at the start of `buf`.
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
    request_method: &Method,
) -> Result<Parsed<ResponseHead>, Error> {
    ResponseParser::new().parse(buf, limits, request_method)
}

/// A resumable response-head parser; see [`crate::RequestParser`].
#[derive(Debug, Clone)]
pub struct ResponseParser {
    scanner: Scanner,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    pub fn new() -> Self {
        ResponseParser {
            scanner: Scanner::new(Mode::Response),
        }
    }

    /// Forgets a partly scanned head.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        request_method: &Method,
    ) -> Result<Parsed<ResponseHead>, Error> {
        match self.scanner.scan(buf, limits)? {
            None => Ok(Parsed::Partial),
            Some(scanned) => {
                let head = build(buf, scanned, self.scanner.marks(), request_method)?;
                Ok(Parsed::Complete {
                    head,
                    len: scanned.len,
                })
            }
        }
    }
}

fn build(
    buf: &[u8],
    scanned: Scanned,
    marks: &[u32],
    method: &Method,
) -> Result<ResponseHead, Error> {
    let head = &buf[..scanned.len];
    let line_end = scanned.start_end;
    let line = &head[..line_end];
    // `HTTP/1.1 200 OK`, or `HTTP/1.1 200` without the space before an empty reason.
    let sp = find(line, b' ');
    let version = parse_version(&line[..sp])?;
    let (code, reason) = match line.get(sp + 1..) {
        Some([a, b, c]) => ([*a, *b, *c], Bytes::new()),
        Some([a, b, c, b' ', ..]) => (
            [*a, *b, *c],
            Bytes::copy_from_slice(&head[sp + 5..line_end]),
        ),
        _ => return Err(ErrorKind::InvalidStatusLine.into()),
    };
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(ErrorKind::InvalidStatusLine.into());
    }
    let status = StatusCode::from_bytes(&code).map_err(|_| ErrorKind::InvalidStatusLine)?;
    let (headers, facts) = build_fields(head, scanned.fields_start, marks)?;
    let tunnel = status == StatusCode::SWITCHING_PROTOCOLS
        || (method == Method::CONNECT && status.is_success());
    let framing = framing(version, status, method, tunnel, &facts)?;
    let persistent = !facts.close && (version == Version::HTTP_11 || facts.keep_alive);
    Ok(ResponseHead {
        status,
        reason,
        version,
        headers,
        framing,
        keep_alive: persistent && !tunnel && framing != Framing::UntilClose,
        tunnel,
    })
}

/// RFC 9112 §6.3. Content-Length with Transfer-Encoding and Transfer-Encoding in HTTP/1.0
/// are refused even where the status says there is no body.
fn framing(
    version: Version,
    status: StatusCode,
    method: &Method,
    tunnel: bool,
    facts: &Facts,
) -> Result<Framing, Error> {
    if facts.te && version == Version::HTTP_10 {
        return Err(ErrorKind::TransferEncodingInHttp10.into());
    }
    if facts.te && facts.content_length.is_some() {
        return Err(ErrorKind::ContentLengthWithTransferEncoding.into());
    }
    let no_body = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || method == Method::HEAD;
    Ok(if no_body || tunnel {
        Framing::None
    } else if facts.te && facts.chunked_last {
        Framing::Chunked
    } else if facts.te {
        Framing::UntilClose
    } else {
        facts
            .content_length
            .map_or(Framing::UntilClose, Framing::Length)
    })
}
