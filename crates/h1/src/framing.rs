//! Message framing: what the fields that decide where a body ends say, checked strictly.

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
                self.expect_continue |= is_lower(value, b"100-continue");
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
            let chunked = is_token_name(coding, b"chunked");
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
            if is_token_name(option, b"close") {
                self.close = true;
            } else if is_token_name(option, b"keep-alive") {
                self.keep_alive = true;
            } else if is_token_name(option, b"upgrade") {
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
        let is = |known: &[u8]| is_token_name(name, known);
        // Lengths first: most names match none, and differ in length from all.
        match name.len() {
            14 if is(b"content-length") => Known::ContentLength,
            17 if is(b"transfer-encoding") => Known::TransferEncoding,
            4 if is(b"host") => Known::Host,
            10 if is(b"connection") => Known::Connection,
            7 if is(b"upgrade") => Known::Upgrade,
            6 if is(b"expect") => Known::Expect,
            _ => Known::Other,
        }
    }
}

/// Whether `s` is `lower` (lower-case ASCII) in any case: `eq_ignore_ascii_case` with one
/// side known to be lower-case, which needs half the work.
#[inline]
fn is_lower(s: &[u8], lower: &[u8]) -> bool {
    s.len() == lower.len()
        && s.iter()
            .zip(lower)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
}

/// [`is_lower`] for a token `s` and a `lower` of lower-case letters and `-`, eight bytes at a
/// time: setting bit 5 lower-cases a letter and keeps `-`, and makes no other token byte a
/// letter or `-`.
#[inline]
fn is_token_name(s: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = u64::from_ne_bytes([0x20; 8]);
    let (words, rest) = s.as_chunks::<8>();
    let (lower_words, lower_rest) = lower.as_chunks::<8>();
    s.len() == lower.len()
        && words
            .iter()
            .zip(lower_words)
            .all(|(w, l)| u64::from_ne_bytes(*w) | CASE == u64::from_ne_bytes(*l))
        && rest.iter().zip(lower_rest).all(|(a, b)| a | 0x20 == *b)
}

/// Strips optional whitespace (SP, HTAB) at both ends.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    trim_end(s)
}

/// Strips optional whitespace (SP, HTAB) at the end.
pub(crate) fn trim_end(mut s: &[u8]) -> &[u8] {
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
        // The host ends at the first byte that is not a reg-name byte, which must be the
        // colon before the port: reg-name has no colon.
        let end = s.iter().position(|&b| !REG_NAME[b as usize]);
        let end = end.unwrap_or(s.len());
        (end > 0, &s[end..])
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NAMES: [&[u8]; 9] = [
        b"content-length",
        b"transfer-encoding",
        b"host",
        b"connection",
        b"upgrade",
        b"expect",
        b"close",
        b"keep-alive",
        b"chunked",
    ];

    /// A token that is often one of `NAMES` in some case, or nearly.
    fn token() -> impl Strategy<Value = Vec<u8>> {
        let tchars: Vec<u8> = (0..=255u8).filter(|&b| TOKEN[b as usize]).collect();
        let tchar = prop::sample::select(tchars);
        let near = (
            prop::sample::select(NAMES.to_vec()),
            any::<u64>(),
            tchar.clone(),
        )
            .prop_map(|(name, cases, other)| {
                let mut name: Vec<u8> = name.to_vec();
                for (i, b) in name.iter_mut().enumerate() {
                    if cases >> i & 1 == 1 {
                        *b = b.to_ascii_uppercase();
                    }
                }
                if cases >> 40 & 3 == 0 {
                    let at = (cases >> 42) as usize % name.len();
                    name[at] = other;
                }
                name
            });
        prop_oneof![near, prop::collection::vec(tchar, 0..20)]
    }

    /// `valid_authority` as it was written first: the host ends at the first colon.
    fn valid_authority_by_colon(s: &[u8]) -> bool {
        if s.starts_with(b"[") {
            return valid_authority(s);
        }
        let end = s.iter().position(|&b| b == b':').unwrap_or(s.len());
        let host = &s[..end];
        let port_ok = match &s[end..] {
            [] => true,
            [b':', digits @ ..] => {
                (1..=5).contains(&digits.len())
                    && digits.iter().all(u8::is_ascii_digit)
                    && std::str::from_utf8(digits).unwrap().parse::<u32>().unwrap() <= 65535
            }
            _ => false,
        };
        !host.is_empty() && host.iter().all(|&b| REG_NAME[b as usize]) && port_ok
    }

    proptest! {
        #[test]
        fn authority_host_ends_at_the_colon(s in "[a-z0-9.:@/%-]{0,12}") {
            prop_assert_eq!(valid_authority(s.as_bytes()), valid_authority_by_colon(s.as_bytes()));
        }

        #[test]
        fn token_names_compare_as_eq_ignore_ascii_case(s in token()) {
            for name in NAMES {
                prop_assert_eq!(is_token_name(&s, name), s.eq_ignore_ascii_case(name));
                prop_assert_eq!(is_lower(&s, name), s.eq_ignore_ascii_case(name));
            }
        }
    }
}
