//! Message framing: what the fields that decide where a body ends say, checked strictly.

use http::HeaderName;
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING, UPGRADE};

use crate::scan::{TOKEN, byte_set};
use crate::{Error, ErrorKind};

/// How the body that follows a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: a request without Content-Length or Transfer-Encoding, a response to HEAD, a
    /// 1xx, 204 or 304 response, or a tunnel (see [`crate::ResponseHead::tunnel`]).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked coding; decode with [`crate::ChunkedDecoder`].
    Chunked,
    /// Until the peer closes (responses only).
    UntilClose,
}

impl Framing {
    /// Refuses (413) a body announced longer than `max_body`. Chunked and close-delimited
    /// bodies are checked as they stream ([`crate::ChunkedDecoder::with_max_body`],
    /// [`check_body_size`]).
    pub fn check_limit(&self, max_body: u64) -> Result<(), Error> {
        match *self {
            Framing::Length(n) => check_body_size(n, max_body),
            _ => Ok(()),
        }
    }
}

/// Refuses (413) once `seen` body bytes exceed `max_body`.
pub fn check_body_size(seen: u64, max_body: u64) -> Result<(), Error> {
    if seen > max_body {
        Err(ErrorKind::BodyTooLarge.into())
    } else {
        Ok(())
    }
}

/// What the framing, routing and connection fields of one head say.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub content_length: Option<u64>,
    /// Content-Length came in several fields or as a list.
    pub content_length_merged: bool,
    /// Transfer-Encoding was present.
    pub te: bool,
    pub chunked_seen: bool,
    pub chunked_last: bool,
    /// A coding other than chunked was listed.
    pub te_other: bool,
    pub hosts: u32,
    pub close: bool,
    pub keep_alive: bool,
    pub connection_upgrade: bool,
    /// Connection listed an option other than close, keep-alive and upgrade.
    pub connection_others: bool,
    pub upgrade: bool,
    pub expect_continue: bool,
}

impl Facts {
    /// Takes one field (its name as received, any case) into account, refusing malformed
    /// framing and routing values.
    #[inline]
    pub fn observe(&mut self, name: &[u8], value: &[u8]) -> Result<(), Error> {
        match Known::of(name) {
            Known::ContentLength => {
                self.content_length_merged |=
                    self.content_length.is_some() || value.contains(&b',');
                self.content_length(value)
            }
            Known::TransferEncoding => self.transfer_encoding(value),
            Known::Host => {
                self.hosts += 1;
                if value.is_empty() || valid_authority(value) {
                    Ok(())
                } else {
                    Err(ErrorKind::InvalidHost.into())
                }
            }
            Known::Connection => self.connection(value),
            Known::Upgrade => {
                self.upgrade = true;
                Ok(())
            }
            Known::Expect => {
                self.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
                Ok(())
            }
            Known::Other => Ok(()),
        }
    }

    /// `Content-Length = 1*DIGIT`, as a list of identical values at most.
    fn content_length(&mut self, value: &[u8]) -> Result<(), Error> {
        for element in value.split(|&b| b == b',') {
            let element = trim(element);
            if element.is_empty() || !element.iter().all(u8::is_ascii_digit) {
                return Err(ErrorKind::InvalidContentLength.into());
            }
            let n = element.iter().try_fold(0u64, |n, &d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            });
            let n = n.ok_or(ErrorKind::InvalidContentLength)?;
            match self.content_length {
                Some(old) if old != n => return Err(ErrorKind::ConflictingContentLength.into()),
                _ => self.content_length = Some(n),
            }
        }
        Ok(())
    }

    /// The codings of all Transfer-Encoding fields, in order; each must be a bare token.
    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), Error> {
        self.te = true;
        for element in value.split(|&b| b == b',') {
            let coding = trim(element);
            if !is_token(coding) {
                return Err(ErrorKind::InvalidTransferEncoding.into());
            }
            let chunked = coding.eq_ignore_ascii_case(b"chunked");
            if chunked && self.chunked_seen {
                return Err(ErrorKind::ChunkedTwice.into());
            }
            self.chunked_seen |= chunked;
            self.te_other |= !chunked;
            self.chunked_last = chunked;
        }
        Ok(())
    }

    fn connection(&mut self, value: &[u8]) -> Result<(), Error> {
        for element in value.split(|&b| b == b',') {
            let option = trim(element);
            if option.is_empty() {
                continue;
            }
            if !is_token(option) {
                return Err(ErrorKind::InvalidConnection.into());
            }
            if option.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if option.eq_ignore_ascii_case(b"upgrade") {
                self.connection_upgrade = true;
            } else {
                self.connection_others = true;
            }
        }
        Ok(())
    }
}

/// The fields whose values the facts are made of.
#[derive(Clone, Copy)]
enum Known {
    ContentLength,
    TransferEncoding,
    Host,
    Connection,
    Upgrade,
    Expect,
    Other,
}

impl Known {
    fn of(name: &[u8]) -> Known {
        let is = |known: &HeaderName| name.eq_ignore_ascii_case(known.as_str().as_bytes());
        // Lengths first: most names match none, and differ in length from all.
        match name.len() {
            14 if is(&CONTENT_LENGTH) => Known::ContentLength,
            17 if is(&TRANSFER_ENCODING) => Known::TransferEncoding,
            4 if is(&HOST) => Known::Host,
            10 if is(&CONNECTION) => Known::Connection,
            7 if is(&UPGRADE) => Known::Upgrade,
            6 if is(&EXPECT) => Known::Expect,
            _ => Known::Other,
        }
    }
}

/// Strips optional whitespace (SP, HTAB) at both ends.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| TOKEN[b as usize])
}

/// `uri-host [ ":" port ]` without userinfo: a bracketed IP literal or a reg-name / IPv4
/// address, then an optional port of 1 to 5 digits below 65536.
pub(crate) fn valid_authority(s: &[u8]) -> bool {
    let (host_ok, port) = if let Some(rest) = s.strip_prefix(b"[") {
        let Some(end) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &rest[..end];
        let ok = !literal.is_empty()
            && literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
        (ok, &rest[end + 1..])
    } else {
        let end = s.iter().position(|&b| b == b':').unwrap_or(s.len());
        let host = &s[..end];
        (
            !host.is_empty() && host.iter().all(|&b| REG_NAME[b as usize]),
            &s[end..],
        )
    };
    host_ok
        && match port {
            [] => true,
            [b':', digits @ ..] => {
                (1..=5).contains(&digits.len())
                    && digits.iter().all(u8::is_ascii_digit)
                    && digits
                        .iter()
                        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
                        <= 65535
            }
            _ => false,
        }
}

/// reg-name bytes of RFC 3986: unreserved, pct-encoded (`%`) and sub-delims.
static REG_NAME: [bool; 256] = byte_set(true, b"-._~%!$&'()*+,;=");
