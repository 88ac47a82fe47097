//! Reading the server name from a ClientHello without terminating TLS (SNI passthrough).
//!
//! [`peek_sni`] is sans-io: give it the bytes received so far; it answers `Partial` (read
//! more), `Complete` with the server name, or an error. It reassembles a hello split across
//! several TLS records, checks every length strictly, and never panics or reads out of bounds
//! on any input. [`read_client_hello`] is the async loop around it, with a timeout.
//!
//! Refused: bytes that are not a TLS handshake record, SSLv2-style hellos, a first handshake
//! message other than ClientHello, a hello larger than the limit, lengths that do not add up,
//! duplicate extensions, two host names in `server_name`, and names with bytes other than
//! letters, digits, `-`, `_` and `.` (or with empty or over-long labels). The name is returned
//! lower-cased, without a trailing dot.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What the bytes so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peek {
    /// A whole, well-formed ClientHello; `server_name` is `None` when it has no SNI.
    Complete { server_name: Option<String> },
    /// Well-formed so far; more bytes are needed. (At end of stream: a truncated hello.)
    Partial,
}

/// Why the bytes are not a ClientHello to route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeekError {
    #[error("not a TLS handshake record")]
    NotTls,
    #[error("an SSLv2-style hello")]
    SslV2,
    #[error("bad TLS record: {0}")]
    BadRecord(&'static str),
    #[error("the first handshake message is not a ClientHello")]
    NotClientHello,
    #[error("the ClientHello is larger than the limit")]
    TooLarge,
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
    #[error("an extension appears twice in the ClientHello")]
    DuplicateExtension,
    #[error("two host names in server_name")]
    DuplicateServerName,
    #[error("a server name with bad bytes or labels")]
    BadServerName,
}

impl PeekError {
    /// A short label for a counter.
    pub fn reason(&self) -> &'static str {
        match self {
            PeekError::NotTls => "not_tls",
            PeekError::SslV2 => "sslv2",
            PeekError::TooLarge => "too_large",
            PeekError::BadServerName | PeekError::DuplicateServerName => "bad_server_name",
            _ => "malformed",
        }
    }
}

const RECORD_HEADER: usize = 5;
/// A TLS plaintext record carries at most 2^14 bytes.
const MAX_FRAGMENT: usize = 1 << 14;
const HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const HOST_NAME: u8 = 0;

/// Looks for a complete ClientHello at the start of `buf`. `max` bounds the bytes the hello
/// may take (its records included): more than that is [`PeekError::TooLarge`], so a caller
/// that reads at most `max` bytes always gets an answer other than `Partial` once it has.
pub fn peek_sni(buf: &[u8], max: usize) -> Result<Peek, PeekError> {
    let Some(&first) = buf.first() else {
        return Ok(Peek::Partial);
    };
    if first != HANDSHAKE {
        // SSLv2 record: 2-byte length with the high bit set, then msg type 1 (CLIENT-HELLO).
        if first & 0x80 != 0 && buf.get(2).is_none_or(|&t| t == 1) {
            return Err(PeekError::SslV2);
        }
        return Err(PeekError::NotTls);
    }
    // The handshake bytes so far, and the record bytes they took.
    let mut handshake: Vec<u8> = Vec::new();
    let mut offset = 0;
    // The first record's payload, borrowed, while the hello may fit in it (the usual case).
    let mut single: Option<&[u8]> = None;
    loop {
        let Some(header) = buf.get(offset..offset + RECORD_HEADER) else {
            return partial(buf.len(), max);
        };
        if header[0] != HANDSHAKE {
            return Err(if offset == 0 {
                PeekError::NotTls
            } else {
                PeekError::BadRecord("another record type inside the ClientHello")
            });
        }
        if header[1] != 3 || header[2] > 4 {
            return Err(PeekError::BadRecord("unknown record version"));
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 {
            return Err(PeekError::BadRecord("an empty handshake record"));
        }
        if len > MAX_FRAGMENT {
            return Err(PeekError::BadRecord("a record longer than 2^14 bytes"));
        }
        let start = offset + RECORD_HEADER;
        if start + len > max {
            return Err(PeekError::TooLarge);
        }
        let Some(payload) = buf.get(start..start + len) else {
            return partial(buf.len(), max);
        };
        offset = start + len;
        match (single, handshake.is_empty()) {
            (None, true) => single = Some(payload),
            (Some(first), _) => {
                handshake.extend_from_slice(first);
                handshake.extend_from_slice(payload);
                single = None;
            }
            (None, false) => handshake.extend_from_slice(payload),
        }
        let message = single.unwrap_or(&handshake);
        if let Some(result) = complete(message, max)? {
            return Ok(result);
        }
    }
}

fn partial(have: usize, max: usize) -> Result<Peek, PeekError> {
    if have >= max {
        Err(PeekError::TooLarge)
    } else {
        Ok(Peek::Partial)
    }
}

/// `Some` when `message` holds the whole first handshake message (and nothing after it).
fn complete(message: &[u8], max: usize) -> Result<Option<Peek>, PeekError> {
    if let Some(&kind) = message.first()
        && kind != CLIENT_HELLO
    {
        return Err(PeekError::NotClientHello);
    }
    let Some(header) = message.get(..4) else {
        return Ok(None);
    };
    let len = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    if len + 4 > max {
        return Err(PeekError::TooLarge);
    }
    let Some(body) = message.get(4..4 + len) else {
        return Ok(None);
    };
    if message.len() > 4 + len {
        // A client waits for the server after its hello: nothing may follow it in the records.
        return Err(PeekError::Malformed("handshake data after the ClientHello"));
    }
    client_hello(body).map(|server_name| Some(Peek::Complete { server_name }))
}

/// A bounds-checked reader over a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PeekError> {
        if self.0.len() < n {
            return Err(PeekError::Malformed(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, PeekError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, PeekError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a 1- or 2-byte length prefix.
    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], PeekError> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], PeekError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The server name of a ClientHello body (after the 4-byte handshake header).
fn client_hello(body: &[u8]) -> Result<Option<String>, PeekError> {
    let mut r = Reader(body);
    let version = r.take(2, "no version")?;
    if version[0] != 3 {
        return Err(PeekError::Malformed("unknown client version"));
    }
    r.take(32, "no random")?;
    let session_id = r.vec8("bad session id")?;
    if session_id.len() > 32 {
        return Err(PeekError::Malformed("session id longer than 32 bytes"));
    }
    let suites = r.vec16("bad cipher suites")?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(PeekError::Malformed("bad cipher suites"));
    }
    let compression = r.vec8("bad compression methods")?;
    if compression.is_empty() {
        return Err(PeekError::Malformed("no compression method"));
    }
    if r.is_empty() {
        // No extensions at all (allowed before TLS 1.3): no SNI.
        return Ok(None);
    }
    let mut extensions = Reader(r.vec16("bad extensions length")?);
    if !r.is_empty() {
        return Err(PeekError::Malformed("bytes after the extensions"));
    }
    let mut seen: Vec<u16> = Vec::new();
    let mut server_name = None;
    while !extensions.is_empty() {
        let kind = extensions.u16("truncated extension")?;
        let data = extensions.vec16("truncated extension")?;
        if seen.contains(&kind) {
            return Err(PeekError::DuplicateExtension);
        }
        seen.push(kind);
        if kind == EXT_SERVER_NAME {
            server_name = sni_extension(data)?;
        }
    }
    Ok(server_name)
}

/// The `server_name` extension (RFC 6066): a list of (type, name); one host name at most.
fn sni_extension(data: &[u8]) -> Result<Option<String>, PeekError> {
    let mut r = Reader(data);
    let mut list = Reader(r.vec16("bad server_name list")?);
    if !r.is_empty() {
        return Err(PeekError::Malformed("bytes after the server_name list"));
    }
    if list.is_empty() {
        return Err(PeekError::Malformed("empty server_name list"));
    }
    let mut host = None;
    while !list.is_empty() {
        let kind = list.u8("truncated server name")?;
        let name = list.vec16("truncated server name")?;
        if kind != HOST_NAME {
            continue;
        }
        if host.is_some() {
            return Err(PeekError::DuplicateServerName);
        }
        host = Some(host_name(name)?);
    }
    Ok(host)
}

/// A host name: ASCII letters, digits, `-`, `_`, dots between labels of 1 to 63 bytes, at most
/// 253 bytes; a single trailing dot is dropped. Lower-cased.
fn host_name(name: &[u8]) -> Result<String, PeekError> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split(|&b| b == b'.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !ok {
        return Err(PeekError::BadServerName);
    }
    // All ASCII, checked above.
    Ok(name
        .iter()
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect())
}

/// Why [`read_client_hello`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum ReadHelloError {
    #[error("no complete ClientHello within the peek timeout")]
    Timeout,
    #[error("connection closed before the ClientHello was complete")]
    Truncated,
    #[error(transparent)]
    Peek(#[from] PeekError),
    #[error("I/O error while reading the ClientHello: {0}")]
    Io(#[from] std::io::Error),
}

impl ReadHelloError {
    /// A short label for a counter: `timeout`, `truncated`, `io`, or [`PeekError::reason`].
    pub fn reason(&self) -> &'static str {
        match self {
            ReadHelloError::Timeout => "timeout",
            ReadHelloError::Truncated => "truncated",
            ReadHelloError::Io(_) => "io",
            ReadHelloError::Peek(e) => e.reason(),
        }
    }
}

/// Reads from `io` into `buf` until it holds a whole ClientHello, within `timeout` and `max`
/// bytes; returns its server name. `buf` keeps every byte read: the caller sends it to the
/// backend first, then relays the rest.
pub async fn read_client_hello<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    timeout: Duration,
) -> Result<Option<String>, ReadHelloError> {
    let read = async {
        // Bytes go into `buf` only once a read has finished, so a timeout that drops this
        // future mid-read leaves `buf` holding exactly what was received.
        let mut chunk = [0u8; 2048];
        loop {
            match peek_sni(buf, max)? {
                Peek::Complete { server_name } => return Ok(server_name),
                Peek::Partial => {}
            }
            // `Partial` means `buf` is shorter than `max`.
            let want = max.saturating_sub(buf.len()).min(chunk.len());
            let n = io.read(&mut chunk[..want]).await?;
            if n == 0 {
                return Err(ReadHelloError::Truncated);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(result) => result,
        Err(_) => Err(ReadHelloError::Timeout),
    }
}
