//! Request heads: the request line, the target forms, Host and request framing.

use http::header::HOST;
use http::uri::Scheme;
use http::{HeaderMap, Method, Uri, Version};

use crate::framing::{Facts, valid_authority};
use crate::head::{find, merge_content_length};
use crate::raw::{RawFields, build_raw};
use crate::scan::{Mode, Scanned, Scanner, byte_set};
use crate::{Error, ErrorKind, Framing, Limits, Parsed};

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// Origin-form (`/p?q`), absolute-form (`http://h/p`, scheme http or https),
    /// authority-form (`host:port`, CONNECT only) or asterisk-form (`*`, OPTIONS only).
    pub uri: Uri,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    pub headers: HeaderMap,
    /// `Length` or `Chunked` when a body follows, else `None`.
    pub framing: Framing,
    /// The connection may carry another request after this one's body: HTTP/1.1 without
    /// `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// HTTP/1.1 with `Connection: upgrade` and an `Upgrade` field.
    pub upgrade: bool,
    /// HTTP/1.1 with `Expect: 100-continue`.
    pub expect_continue: bool,
}

impl RequestHead {
    /// The authority the request is for: the target's in absolute-form and authority-form
    /// (which RFC 9112 §3.2.2 says wins over Host), else the Host field's, if not empty.
    pub fn authority(&self) -> Option<&str> {
        match self.uri.authority() {
            Some(authority) => Some(authority.as_str()),
            None => self
                .headers
                .get(HOST)
                .and_then(|v| v.to_str().ok())
                .filter(|h| !h.is_empty()),
        }
    }
}

/// A parsed request head whose fields stay as received ([`RawFields`]): what a proxy that
/// passes them on needs, without a `HeaderMap`. Validated as [`RequestHead`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequestHead {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub fields: RawFields,
    pub framing: Framing,
    pub keep_alive: bool,
    pub upgrade: bool,
    pub expect_continue: bool,
}

impl RawRequestHead {
    /// [`RequestHead::authority`]: the target's authority, else the Host field's value (if
    /// not empty, and visible ASCII as a `HeaderValue` would have it).
    pub fn authority(&self) -> Option<&str> {
        match self.uri.authority() {
            Some(authority) => Some(authority.as_str()),
            None => self
                .fields
                .get("host")
                .and_then(crate::raw::as_text)
                .filter(|h| !h.is_empty()),
        }
    }

    /// The same head with its fields in a `HeaderMap` (as [`parse_request`] gives it).
    pub fn into_head(self) -> Result<RequestHead, Error> {
        let mut headers = self.fields.into_header_map()?;
        merge_content_length(&mut headers);
        Ok(RequestHead {
            method: self.method,
            uri: self.uri,
            version: self.version,
            headers,
            framing: self.framing,
            keep_alive: self.keep_alive,
            upgrade: self.upgrade,
            expect_continue: self.expect_continue,
        })
    }
}

/// Parses a request head at the start of `buf`. Each call scans `buf` from its start; use a
/// [`RequestParser`] to resume where the previous call stopped.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Parsed<RequestHead>, Error> {
    RequestParser::new().parse(buf, limits)
}

/// A resumable request-head parser for one connection: a head that trickles in costs linear
/// time. Between calls `buf` must hold the same bytes, possibly followed by more; after a
/// `Complete` (or [`RequestParser::reset`]) the next call starts a new head.
#[derive(Debug, Clone)]
pub struct RequestParser {
    scanner: Scanner,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    pub fn new() -> Self {
        RequestParser {
            scanner: Scanner::new(Mode::Request),
        }
    }

    /// Forgets a partly scanned head.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Parses a request head, its fields in a `HeaderMap` ([`RequestParser::parse_raw`], then
    /// [`RawRequestHead::into_head`]).
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed<RequestHead>, Error> {
        self.parse_raw(buf, limits)?
            .and_then(RawRequestHead::into_head)
    }

    /// Parses a request head, keeping the fields as received ([`RawRequestHead`]).
    pub fn parse_raw(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Parsed<RawRequestHead>, Error> {
        match self.scanner.scan(buf, limits)? {
            None => Ok(Parsed::Partial),
            Some(scanned) => {
                let head = build(buf, scanned, self.scanner.marks(), limits)?;
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
    limits: &Limits,
) -> Result<RawRequestHead, Error> {
    let head = &buf[..scanned.len];
    let start = scanned.start;
    let line_end = scanned.start_end;
    let line = &head[start..line_end];
    // The scanner allowed only single spaces, at most two.
    let sp1 = find(line, b' ');
    let sp2 = sp1 + 1 + find(line.get(sp1 + 1..).unwrap_or_default(), b' ');
    if sp2 >= line.len() {
        return Err(ErrorKind::InvalidRequestLine.into());
    }
    let version = parse_version(&line[sp2 + 1..])?;
    let method = Method::from_bytes(&line[..sp1]).map_err(|_| ErrorKind::InvalidMethod)?;
    if sp2 - sp1 - 1 > limits.max_uri_bytes {
        return Err(ErrorKind::UriTooLong.into());
    }
    let uri = parse_target(&method, &line[sp1 + 1..sp2])?;
    let (fields, facts) = build_raw(head, scanned.fields_start, marks)?;
    let framing = framing(version, &facts)?;
    if facts.hosts > 1 {
        return Err(ErrorKind::DuplicateHost.into());
    }
    if facts.hosts == 0 && version == Version::HTTP_11 {
        return Err(ErrorKind::MissingHost.into());
    }
    let http11 = version == Version::HTTP_11;
    Ok(RawRequestHead {
        method,
        uri,
        version,
        fields,
        framing,
        keep_alive: !facts.close && (http11 || facts.keep_alive),
        upgrade: http11 && facts.connection_upgrade && facts.upgrade,
        expect_continue: http11 && facts.expect_continue,
    })
}

/// `HTTP/1.0` or `HTTP/1.1`; another well-formed `HTTP/d.d` is a 505.
pub(crate) fn parse_version(v: &[u8]) -> Result<Version, Error> {
    match v {
        b"HTTP/1.1" => Ok(Version::HTTP_11),
        b"HTTP/1.0" => Ok(Version::HTTP_10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(ErrorKind::UnsupportedVersion.into())
        }
        _ => Err(ErrorKind::InvalidVersion.into()),
    }
}

/// RFC 9112 §3.2: the four target forms, each only where its method allows it.
fn parse_target(method: &Method, target: &[u8]) -> Result<Uri, Error> {
    if !target.iter().all(|&b| TARGET[b as usize]) {
        return Err(ErrorKind::InvalidTarget.into());
    }
    let connect = method == Method::CONNECT;
    let form_ok = match target.first() {
        Some(b'*') => target.len() == 1 && method == Method::OPTIONS,
        Some(b'/') => !connect,
        _ if connect => valid_authority(target) && target.contains(&b':'),
        _ => true,
    };
    if !form_ok {
        return Err(ErrorKind::TargetFormMismatch.into());
    }
    let uri = Uri::try_from(target).map_err(|_| ErrorKind::InvalidTarget)?;
    let ok = match (uri.scheme(), uri.authority()) {
        (None, None) => uri.path().starts_with('/') || uri.path() == "*",
        (None, Some(_)) => connect && uri.path_and_query().is_none(),
        (Some(scheme), Some(authority)) => {
            !connect
                && (*scheme == Scheme::HTTP || *scheme == Scheme::HTTPS)
                && valid_authority(authority.as_str().as_bytes())
        }
        (Some(_), None) => false,
    };
    if ok {
        Ok(uri)
    } else {
        Err(ErrorKind::InvalidTarget.into())
    }
}

/// Bytes of a request-target (RFC 3986): unreserved, sub-delims, `%`, `:`, `@`, `/`, `?`,
/// `[` and `]`. Not `#`, and none of the `` "<>\^`{|} `` that lenient parsers let through.
static TARGET: [bool; 256] = byte_set(true, b"-._~%:@/?!$&'()*+,;=[]");

/// RFC 9112 §6.1 and §6.3 for requests: chunked must be the only and final coding, and
/// never comes with Content-Length or in HTTP/1.0.
fn framing(version: Version, facts: &Facts) -> Result<Framing, Error> {
    if !facts.te {
        return Ok(facts.content_length.map_or(Framing::None, Framing::Length));
    }
    let kind = if version == Version::HTTP_10 {
        ErrorKind::TransferEncodingInHttp10
    } else if facts.content_length.is_some() {
        ErrorKind::ContentLengthWithTransferEncoding
    } else if !facts.chunked_last {
        ErrorKind::ChunkedNotFinal
    } else if facts.te_other {
        ErrorKind::UnsupportedTransferCoding
    } else {
        return Ok(Framing::Chunked);
    };
    Err(kind.into())
}
