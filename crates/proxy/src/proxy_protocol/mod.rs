//! PROXY protocol v1 and v2 (HAProxy's `proxy-protocol.txt`), without I/O.
//!
//! A listener that trusts its peer ([`trusted`]) reads the first bytes of a connection and hands
//! them to [`decode`] until it answers [`Decoded::Complete`]; the header is `len` bytes long and
//! whatever follows it belongs to the stream. [`Decoded::Partial`] is only ever returned while the
//! bytes seen so far can still become a valid header, and never past [`MAX_HEADER_LEN`] bytes, so
//! a read loop around `decode` always ends. A cluster that wants the header sent to its backends
//! writes [`encode_v1`] or [`encode_v2`] before the first byte of the client's data.
//!
//! The decoder is strict:
//! - v1: `PROXY`, then fields separated by exactly one space, then CRLF, 107 bytes at most.
//!   `TCP4`/`TCP6` take exactly four more fields; addresses must parse as the stated family
//!   (dotted quad without leading zeros for IPv4, no zone id for IPv6); ports are decimal
//!   `0..=65535`, `0` or without leading zeros. `UNKNOWN` may be followed by anything up to the
//!   CRLF (the spec says to ignore it) and means "use the real peer".
//! - v2: version 2 only; command `LOCAL` (the address block and its family are ignored, as the
//!   spec says) or `PROXY`; family/transport one of the seven values the spec defines (others are
//!   rejected); the length must cover the addresses of the family and is at most
//!   [`V2_MAX_PAYLOAD`]. TLVs after the addresses are skipped whatever their type, but each one
//!   must lie within the block and the block must end exactly at the end of the last one.
//! - Only TCP over IPv4/IPv6 yields addresses; v2 `UNSPEC`, `UNIX` and `DGRAM` headers are valid
//!   and yield [`ProxyHeader::Local`] ("use the real connection endpoints"), like HAProxy does.

use std::fmt;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use fulcrum_config::Cidr;

/// The longest v1 header, CRLF included (the spec's bound).
pub const V1_MAX_LEN: usize = 107;
/// The largest v2 length field accepted (addresses and TLVs); larger is an error.
pub const V2_MAX_PAYLOAD: usize = 4096;
/// The longest v2 header: the 16-byte fixed part plus [`V2_MAX_PAYLOAD`].
pub const V2_MAX_LEN: usize = 16 + V2_MAX_PAYLOAD;
/// No header of either version is longer: a read buffer this large always gets an answer other
/// than [`Decoded::Partial`].
pub const MAX_HEADER_LEN: usize = V2_MAX_LEN;

const V1_PREFIX: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V2_FIXED_LEN: usize = 16;

/// What a PROXY header says about the original connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyHeader {
    /// The connection was relayed for this client (`source`), which connected to `destination`.
    Proxy {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// v2 `LOCAL`, v1 `UNKNOWN`, or a v2 family other than TCP over IPv4/IPv6: use the real peer.
    Local,
}

/// The outcome of [`decode`] on the bytes received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decoded {
    /// A whole header: consume `len` bytes; the rest belongs to the stream.
    Complete { header: ProxyHeader, len: usize },
    /// The bytes so far are a valid beginning of a header: read more and call again.
    Partial,
}

/// Which way a header is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyProtocolErrorKind {
    /// The first bytes match neither the v1 (`PROXY `) nor the v2 signature.
    NotProxy,
    /// A v1 (text) header that breaks the spec.
    MalformedV1,
    /// A v2 (binary) header that breaks the spec.
    MalformedV2,
}

impl fmt::Display for ProxyProtocolErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyProtocolErrorKind::NotProxy => "not a PROXY protocol header",
            ProxyProtocolErrorKind::MalformedV1 => "malformed PROXY protocol v1 header",
            ProxyProtocolErrorKind::MalformedV2 => "malformed PROXY protocol v2 header",
        })
    }
}

/// Why [`decode`] rejected a header: a kind and a short static reason, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct ProxyProtocolError {
    kind: ProxyProtocolErrorKind,
    reason: &'static str,
}

impl ProxyProtocolError {
    pub fn kind(&self) -> ProxyProtocolErrorKind {
        self.kind
    }

    pub fn reason(&self) -> &'static str {
        self.reason
    }

    const fn not_proxy() -> Self {
        ProxyProtocolError {
            kind: ProxyProtocolErrorKind::NotProxy,
            reason: "the first bytes match neither the v1 nor the v2 signature",
        }
    }

    const fn v1(reason: &'static str) -> Self {
        ProxyProtocolError {
            kind: ProxyProtocolErrorKind::MalformedV1,
            reason,
        }
    }

    const fn v2(reason: &'static str) -> Self {
        ProxyProtocolError {
            kind: ProxyProtocolErrorKind::MalformedV2,
            reason,
        }
    }
}

/// Whether a connection from `peer` may send a PROXY header, given the listener's trusted
/// networks. An IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`, as a dual-stack socket reports IPv4
/// clients) also matches the IPv4 networks.
pub fn trusted(peer: IpAddr, from: &[Cidr]) -> bool {
    let canonical = peer.to_canonical();
    from.iter()
        .any(|net| net.contains(peer) || net.contains(canonical))
}

/// Decodes a v1 or v2 header (told apart by the first byte) at the start of `buf`.
pub fn decode(buf: &[u8]) -> Result<Decoded, ProxyProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(Decoded::Partial);
    };
    let signature: &[u8] = if first == V2_SIGNATURE[0] {
        V2_SIGNATURE
    } else {
        V1_PREFIX
    };
    let seen = buf.len().min(signature.len());
    if buf[..seen] != signature[..seen] {
        return Err(ProxyProtocolError::not_proxy());
    }
    if seen < signature.len() {
        return Ok(Decoded::Partial);
    }
    if first == V2_SIGNATURE[0] {
        decode_v2(buf)
    } else {
        decode_v1(buf)
    }
}

/// Encodes a header of `version` for a connection from `source` to `destination`.
pub fn encode(
    version: fulcrum_config::ProxyProtocolVersion,
    source: SocketAddr,
    destination: SocketAddr,
    out: &mut Vec<u8>,
) {
    match version {
        fulcrum_config::ProxyProtocolVersion::V1 => encode_v1(source, destination, out),
        fulcrum_config::ProxyProtocolVersion::V2 => encode_v2(source, destination, out),
    }
}

/// Appends a v1 header. Mixed address families cannot be expressed in v1 and give
/// `PROXY UNKNOWN\r\n` (the backend then sees the proxy's address). IPv6 scope ids are dropped.
pub fn encode_v1(source: SocketAddr, destination: SocketAddr, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = match (source, destination) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            write!(
                out,
                "PROXY TCP4 {} {} {} {}\r\n",
                s.ip(),
                d.ip(),
                s.port(),
                d.port()
            )
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            write!(
                out,
                "PROXY TCP6 {} {} {} {}\r\n",
                s.ip(),
                d.ip(),
                s.port(),
                d.port()
            )
        }
        _ => out.write_all(b"PROXY UNKNOWN\r\n"),
    };
}

/// Appends a v2 `PROXY` header for TCP, without TLVs. With mixed address families the IPv4 one is
/// sent as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`) and the header is TCP over IPv6, so the
/// client's address still reaches the backend. IPv6 scope ids and flow labels are dropped.
pub fn encode_v2(source: SocketAddr, destination: SocketAddr, out: &mut Vec<u8>) {
    out.extend_from_slice(V2_SIGNATURE);
    out.push(0x21); // version 2, PROXY
    match (source, destination) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.push(0x11); // TCP over IPv4
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        _ => {
            out.push(0x21); // TCP over IPv6
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&as_v6(source.ip()).octets());
            out.extend_from_slice(&as_v6(destination.ip()).octets());
            out.extend_from_slice(&source.port().to_be_bytes());
            out.extend_from_slice(&destination.port().to_be_bytes());
        }
    }
}

/// Appends a v2 `LOCAL` header (family `UNSPEC`, no addresses): a connection the proxy makes on
/// its own behalf, such as a health check, to a backend that requires a header.
pub fn encode_v2_local(out: &mut Vec<u8>) {
    out.extend_from_slice(V2_SIGNATURE);
    out.push(0x20); // version 2, LOCAL
    out.push(0x00); // UNSPEC
    out.extend_from_slice(&0u16.to_be_bytes());
}

fn as_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

// ---------------------------------------------------------------------------------------------
// v1

/// How much of the v1 line has arrived.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Line {
    /// CRLF seen; the header is this many bytes long.
    Complete(usize),
    /// The bytes so far end in CR: every field is whole, only the LF is missing.
    AwaitingLf,
    /// No CR yet: the last field may still grow.
    Open,
}

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

/// `buf` starts with `PROXY `.
fn decode_v1(buf: &[u8]) -> Result<Decoded, ProxyProtocolError> {
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let (line, state) = match window.iter().position(|&b| b == b'\n') {
        // `lf >= V1_PREFIX.len()`: the prefix holds no LF.
        Some(lf) if window[lf - 1] == b'\r' => (&window[..lf - 1], Line::Complete(lf + 1)),
        Some(_) => return Err(ProxyProtocolError::v1("LF without CR before it")),
        None if buf.len() >= V1_MAX_LEN => {
            return Err(ProxyProtocolError::v1("no CRLF within 107 bytes"));
        }
        None => match window.strip_suffix(b"\r") {
            Some(line) => (line, Line::AwaitingLf),
            None => (window, Line::Open),
        },
    };
    let done = |header| match state {
        Line::Complete(len) => Ok(Decoded::Complete { header, len }),
        _ => Ok(Decoded::Partial),
    };

    let mut fields = line[V1_PREFIX.len()..].split(|&b| b == b' ').peekable();
    // `split` yields at least one (possibly empty) field.
    let proto = fields.next().unwrap_or_default();
    if state == Line::Open && fields.peek().is_none() {
        // The protocol is still arriving.
        const PROTOCOLS: [&[u8]; 3] = [b"TCP4", b"TCP6", b"UNKNOWN"];
        return if PROTOCOLS.iter().any(|p| p.starts_with(proto)) {
            Ok(Decoded::Partial)
        } else {
            Err(ProxyProtocolError::v1(
                "unknown protocol (expected TCP4, TCP6 or UNKNOWN)",
            ))
        };
    }
    let family = match proto {
        b"TCP4" => Family::V4,
        b"TCP6" => Family::V6,
        // Anything may follow UNKNOWN up to the CRLF; the receiver ignores it.
        b"UNKNOWN" => return done(ProxyHeader::Local),
        b"" => {
            return Err(ProxyProtocolError::v1(
                "empty field (fields take exactly one space)",
            ));
        }
        _ => {
            return Err(ProxyProtocolError::v1(
                "unknown protocol (expected TCP4, TCP6 or UNKNOWN)",
            ));
        }
    };

    let mut ips = [None; 2];
    let mut ports = [0u16; 2];
    let mut count = 0;
    while let Some(field) = fields.next() {
        if count == 4 {
            return Err(ProxyProtocolError::v1(
                "more than four fields after the protocol",
            ));
        }
        if state == Line::Open && fields.peek().is_none() {
            // The last field is still arriving: it must be the start of a valid one.
            let ok = if count < 2 {
                ip_prefix_ok(field, family)
            } else {
                port_prefix_ok(field)
            };
            return if ok {
                Ok(Decoded::Partial)
            } else {
                Err(field_error(count, field))
            };
        }
        if count < 2 {
            ips[count] = Some(parse_ip(field, family).ok_or_else(|| field_error(count, field))?);
        } else {
            ports[count - 2] = parse_port(field).ok_or_else(|| field_error(count, field))?;
        }
        count += 1;
    }
    let (Some(src), Some(dst)) = (ips[0], ips[1]) else {
        return Err(ProxyProtocolError::v1(
            "missing fields (expected source, destination and ports)",
        ));
    };
    if count < 4 {
        return Err(ProxyProtocolError::v1(
            "missing fields (expected source, destination and ports)",
        ));
    }
    done(ProxyHeader::Proxy {
        source: SocketAddr::new(src, ports[0]),
        destination: SocketAddr::new(dst, ports[1]),
    })
}

fn field_error(index: usize, field: &[u8]) -> ProxyProtocolError {
    if field.is_empty() {
        return ProxyProtocolError::v1("empty field (fields take exactly one space)");
    }
    ProxyProtocolError::v1(match index {
        0 => "bad source address for the protocol",
        1 => "bad destination address for the protocol",
        2 => "bad source port",
        _ => "bad destination port",
    })
}

fn parse_ip(field: &[u8], family: Family) -> Option<IpAddr> {
    let text = std::str::from_utf8(field).ok()?;
    match family {
        // std rejects octets with leading zeros, and zone ids.
        Family::V4 => text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        Family::V6 => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
    }
}

/// Whether `field` can be completed into an address of `family`: some suffix from a short list
/// that covers every way a valid address's prefix can end makes it parse.
fn ip_prefix_ok(field: &[u8], family: Family) -> bool {
    const V4_ENDINGS: &[&str] = &["", "0", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0", "0.0.0.0"];
    const V6_ENDINGS: &[&str] = &[
        "", "0", ":", ":0", "::", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0",
    ];
    // Longer than any textual address (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
    if field.len() > 45 {
        return false;
    }
    let Ok(text) = std::str::from_utf8(field) else {
        return false;
    };
    let endings = match family {
        Family::V4 => V4_ENDINGS,
        Family::V6 => V6_ENDINGS,
    };
    let mut candidate = String::with_capacity(64);
    endings.iter().any(|ending| {
        candidate.clear();
        candidate.push_str(text);
        candidate.push_str(ending);
        parse_ip(candidate.as_bytes(), family).is_some()
    })
}

/// `0` to `65535` in decimal, `0` or without leading zeros.
fn parse_port(field: &[u8]) -> Option<u16> {
    if field.is_empty() || field.len() > 5 || (field[0] == b'0' && field.len() > 1) {
        return None;
    }
    let mut value: u32 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    u16::try_from(value).ok()
}

/// Every non-empty prefix of a valid port is itself a valid port.
fn port_prefix_ok(field: &[u8]) -> bool {
    field.is_empty() || parse_port(field).is_some()
}

// ---------------------------------------------------------------------------------------------
// v2

/// `buf` starts with the 12-byte v2 signature.
fn decode_v2(buf: &[u8]) -> Result<Decoded, ProxyProtocolError> {
    let Some(&ver_cmd) = buf.get(12) else {
        return Ok(Decoded::Partial);
    };
    if ver_cmd >> 4 != 2 {
        return Err(ProxyProtocolError::v2("unsupported version (expected 2)"));
    }
    let local = match ver_cmd & 0x0f {
        0x0 => true,
        0x1 => false,
        _ => {
            return Err(ProxyProtocolError::v2(
                "unknown command (expected LOCAL or PROXY)",
            ));
        }
    };
    let Some(&fam) = buf.get(13) else {
        return Ok(Decoded::Partial);
    };
    // LOCAL: "the receiver must ... discard the protocol block including the family".
    let addr_len = if local { 0 } else { address_len(fam)? };
    let Some(&[hi, lo]) = buf.get(14..V2_FIXED_LEN) else {
        return Ok(Decoded::Partial);
    };
    let block_len = usize::from(u16::from_be_bytes([hi, lo]));
    if block_len > V2_MAX_PAYLOAD {
        return Err(ProxyProtocolError::v2("length larger than 4096 bytes"));
    }
    if block_len < addr_len {
        return Err(ProxyProtocolError::v2(
            "length too short for the address family",
        ));
    }
    let total = V2_FIXED_LEN + block_len;
    let block = &buf[V2_FIXED_LEN..buf.len().min(total)];
    if !local {
        check_tlvs(block, addr_len, block_len)?;
    }
    if block.len() < block_len {
        return Ok(Decoded::Partial);
    }
    let header = match (local, fam) {
        (false, 0x11) => {
            let ip =
                |at: usize| Ipv4Addr::new(block[at], block[at + 1], block[at + 2], block[at + 3]);
            let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
            ProxyHeader::Proxy {
                source: SocketAddr::V4(SocketAddrV4::new(ip(0), port(8))),
                destination: SocketAddr::V4(SocketAddrV4::new(ip(4), port(10))),
            }
        }
        (false, 0x21) => {
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&block[at..at + 16]);
                Ipv6Addr::from(octets)
            };
            let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
            ProxyHeader::Proxy {
                source: SocketAddr::V6(SocketAddrV6::new(ip(0), port(32), 0, 0)),
                destination: SocketAddr::V6(SocketAddrV6::new(ip(16), port(34), 0, 0)),
            }
        }
        // LOCAL, UNSPEC, UNIX, DGRAM: use the real connection endpoints.
        _ => ProxyHeader::Local,
    };
    Ok(Decoded::Complete { header, len: total })
}

/// The size of the address block for a PROXY command's family/transport byte. The spec defines
/// seven values and says receivers must reject the others.
fn address_len(fam: u8) -> Result<usize, ProxyProtocolError> {
    match fam {
        0x00 => Ok(0),          // UNSPEC
        0x11 | 0x12 => Ok(12),  // IPv4, TCP or UDP
        0x21 | 0x22 => Ok(36),  // IPv6, TCP or UDP
        0x31 | 0x32 => Ok(216), // UNIX, stream or datagram
        _ => Err(ProxyProtocolError::v2(
            "unknown address family or transport",
        )),
    }
}

/// Checks the framing of the TLVs that follow the addresses, as far as `block` (the part of the
/// `block_len`-byte block received so far) goes: each TLV must end within the block, and a
/// complete block must end exactly where the last TLV does.
fn check_tlvs(block: &[u8], addr_len: usize, block_len: usize) -> Result<(), ProxyProtocolError> {
    let mut at = addr_len;
    while let Some(&[_kind, hi, lo]) = block.get(at..at + 3) {
        let end = at + 3 + usize::from(u16::from_be_bytes([hi, lo]));
        if end > block_len {
            return Err(ProxyProtocolError::v2(
                "TLV longer than the rest of the header",
            ));
        }
        at = end;
    }
    if block.len() == block_len && at < block_len {
        return Err(ProxyProtocolError::v2(
            "truncated TLV at the end of the header",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
