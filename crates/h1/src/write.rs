//! Serializing heads and chunk framing toward the other side.

use http::header::{CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, Method, StatusCode, Uri, Version};

use crate::{RequestHead, ResponseHead};

/// Writes `method SP target SP version CRLF`, the fields and the empty line. The target is
/// written in the form `uri` has: origin, absolute, authority or asterisk. Versions other than
/// HTTP/1.0 are written as HTTP/1.1.
pub fn write_request_head(
    method: &Method,
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
    out: &mut Vec<u8>,
) {
    write_request_line(method, uri, version, out);
    write_fields(headers, out);
    out.extend_from_slice(b"\r\n");
}

/// Writes `method SP target SP version CRLF` (see [`write_request_head`]); the fields and the
/// empty line are the caller's.
pub fn write_request_line(method: &Method, uri: &Uri, version: Version, out: &mut Vec<u8>) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    if let Some(scheme) = uri.scheme_str() {
        out.extend_from_slice(scheme.as_bytes());
        out.extend_from_slice(b"://");
    }
    if let Some(authority) = uri.authority() {
        out.extend_from_slice(authority.as_str().as_bytes());
    }
    match uri.path_and_query() {
        Some(pq) => out.extend_from_slice(pq.as_str().as_bytes()),
        None if uri.scheme().is_some() => out.push(b'/'),
        None => {}
    }
    out.push(b' ');
    out.extend_from_slice(version_bytes(version));
    out.extend_from_slice(b"\r\n");
}

/// Writes `version SP status SP reason CRLF`, the fields and the empty line. A `reason` holding
/// bytes a reason phrase may not (controls other than HTAB) is written empty.
pub fn write_response_head(
    version: Version,
    status: StatusCode,
    reason: &[u8],
    headers: &HeaderMap,
    out: &mut Vec<u8>,
) {
    write_status_line(version, status, reason, out);
    write_fields(headers, out);
    out.extend_from_slice(b"\r\n");
}

/// Writes `version SP status SP reason CRLF` (see [`write_response_head`]); the fields and
/// the empty line are the caller's.
pub fn write_status_line(version: Version, status: StatusCode, reason: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(version_bytes(version));
    out.push(b' ');
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    if is_field_value(reason) {
        out.extend_from_slice(reason);
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether `v` may be written as a field value or reason phrase (what `HeaderValue`
/// accepts): visible ASCII, obs-text, SP and HTAB.
pub fn is_field_value(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

impl RequestHead {
    /// [`write_request_head`] of this head's parts.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_request_head(&self.method, &self.uri, self.version, &self.headers, out);
    }
}

impl ResponseHead {
    /// [`write_response_head`] of this head's parts.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_response_head(self.version, self.status, &self.reason, &self.headers, out);
    }
}

fn version_bytes(version: Version) -> &'static [u8] {
    if version == Version::HTTP_10 {
        b"HTTP/1.0"
    } else {
        b"HTTP/1.1"
    }
}

/// Writes `name: value CRLF` for every field, names in lower case as `HeaderMap` keeps them.
pub fn write_fields(headers: &HeaderMap, out: &mut Vec<u8>) {
    for (name, value) in headers {
        write_field(name.as_str().as_bytes(), value.as_bytes(), out);
    }
}

/// Writes one field line, `name: value CRLF`.
pub fn write_field(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes the line that opens a chunk of `len` bytes (`len` in hex, CRLF). Follow it with
/// the data and CRLF. `len` must not be 0: that is [`encode_last_chunk`].
pub fn encode_chunk_header(len: u64, out: &mut Vec<u8>) {
    debug_assert!(len > 0, "a zero-length chunk ends the body");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (64 - len.leading_zeros()).div_ceil(4).max(1);
    for k in (0..digits).rev() {
        out.push(HEX[(len >> (4 * k)) as usize & 0xf]);
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes the last chunk, the trailer fields and the final CRLF.
pub fn encode_last_chunk(trailers: &HeaderMap, out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n");
    write_fields(trailers, out);
    out.extend_from_slice(b"\r\n");
}

/// Removes the hop-by-hop fields a proxy must not forward (RFC 9110 §7.6.1): Connection, the
/// fields it names, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding and
/// Upgrade. The proxy then sets its own framing and connection fields.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|option| HeaderName::from_bytes(crate::framing::trim(option)).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}
