//! Response heads: the status line and response framing (RFC 9112 §6.3).

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};

use crate::framing::Facts;
use crate::head::{find, merge_content_length};
use crate::raw::{RawFields, build_raw};
use crate::request::parse_version;
use crate::scan::{Mode, Scanner};
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

/// A parsed response head whose fields stay as received ([`RawFields`]): what a proxy that
/// passes them on needs, without a `HeaderMap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponseHead {
    pub status: StatusCode,
    pub reason: Bytes,
    pub version: Version,
    pub fields: RawFields,
    pub framing: Framing,
    pub keep_alive: bool,
    pub tunnel: bool,
}

impl RawResponseHead {
    /// The same head with its fields in a `HeaderMap` (as [`parse_response`] gives it).
    pub fn into_head(self) -> Result<ResponseHead, Error> {
        let mut headers = self.fields.into_header_map()?;
        merge_content_length(&mut headers);
        Ok(ResponseHead {
            status: self.status,
            reason: self.reason,
            version: self.version,
            headers,
            framing: self.framing,
            keep_alive: self.keep_alive,
            tunnel: self.tunnel,
        })
    }
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

    /// Parses a response head, its fields in a `HeaderMap` ([`ResponseParser::parse_raw`],
    /// then [`RawResponseHead::into_head`]).
    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        request_method: &Method,
    ) -> Result<Parsed<ResponseHead>, Error> {
        self.parse_raw(buf, limits, request_method)?
            .and_then(RawResponseHead::into_head)
    }

    /// Parses a response head, keeping the fields as received ([`RawResponseHead`]).
    pub fn parse_raw(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        request_method: &Method,
    ) -> Result<Parsed<RawResponseHead>, Error> {
        match self.scanner.scan(buf, limits)? {
            None => Ok(Parsed::Partial),
            Some(scanned) => {
                let head = &buf[..scanned.len];
                let (version, status, reason) = status_line(head, scanned.start_end)?;
                let (fields, facts) = build_raw(head, scanned.fields_start, self.scanner.marks())?;
                let (framing, keep_alive, tunnel) =
                    delimit(version, status, request_method, &facts)?;
                let head = RawResponseHead {
                    status,
                    reason,
                    version,
                    fields,
                    framing,
                    keep_alive,
                    tunnel,
                };
                Ok(Parsed::Complete {
                    head,
                    len: scanned.len,
                })
            }
        }
    }
}

/// `HTTP/1.1 200 OK`, or `HTTP/1.1 200` without the space before an empty reason; the line
/// ends at `line_end`.
fn status_line(head: &[u8], line_end: usize) -> Result<(Version, StatusCode, Bytes), Error> {
    let line = &head[..line_end];
    let sp = find(line, b' ');
    let version = parse_version(&line[..sp])?;
    let (code, reason) = match line.get(sp + 1..) {
        Some([a, b, c]) => ([*a, *b, *c], &[][..]),
        Some([a, b, c, b' ', ..]) => ([*a, *b, *c], &head[sp + 5..line_end]),
        _ => return Err(ErrorKind::InvalidStatusLine.into()),
    };
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(ErrorKind::InvalidStatusLine.into());
    }
    let status = StatusCode::from_bytes(&code).map_err(|_| ErrorKind::InvalidStatusLine)?;
    Ok((version, status, reason_bytes(status, reason)))
}

/// The reason phrase as `Bytes`: the status's canonical one (`OK`, `Not Found`, ...) without
/// a copy when it is that, else a copy.
fn reason_bytes(status: StatusCode, reason: &[u8]) -> Bytes {
    match status.canonical_reason() {
        Some(canonical) if canonical.as_bytes() == reason => {
            Bytes::from_static(canonical.as_bytes())
        }
        _ => Bytes::copy_from_slice(reason),
    }
}

/// The body's framing, whether the connection persists, and whether it becomes a tunnel.
fn delimit(
    version: Version,
    status: StatusCode,
    method: &Method,
    facts: &Facts,
) -> Result<(Framing, bool, bool), Error> {
    let tunnel = status == StatusCode::SWITCHING_PROTOCOLS
        || (method == Method::CONNECT && status.is_success());
    let framing = framing(version, status, method, tunnel, facts)?;
    let persistent = !facts.close && (version == Version::HTTP_11 || facts.keep_alive);
    let keep_alive = persistent && !tunnel && framing != Framing::UntilClose;
    Ok((framing, keep_alive, tunnel))
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
