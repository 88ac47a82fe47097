//! A strict, sans-io HTTP/1.1 codec for Fulcrum's proxy.
//!
//! This crate owns the HTTP/1 wire format: it parses request and response heads out of byte
//! slices, decides how each body is framed, decodes and re-encodes the chunked coding, and
//! serializes heads. It never does I/O, never allocates per byte, never panics on input, and
//! never guesses: a message that RFC 9110/9112 lets a recipient read two ways (the root of
//! request smuggling) is refused with an [`Error`] whose [`Error::status`] the proxy answers
//! with before closing the connection (400, 413, 414, 431, 501, 505; a refused *response* is a
//! 502 for the proxy whatever the status says).
//!
//! # Use
//!
//! - [`parse_request`] / [`parse_response`] (or the resumable [`RequestParser`] /
//!   [`ResponseParser`], whose cost stays linear when a head trickles in) return
//!   [`Parsed::Complete`] with the head and its length in bytes, or [`Parsed::Partial`].
//! - The head's [`Framing`] says where the body ends: read `Length(n)` bytes, run a
//!   [`ChunkedDecoder`], or read until close. [`Framing::check_limit`],
//!   [`ChunkedDecoder::with_max_body`] and [`check_body_size`] give the 413.
//! - [`write_request_head`] / [`write_response_head`] (or `head.write(out)`) serialize heads
//!   after the proxy has rewritten them ([`remove_hop_by_hop`] helps);
//!   [`encode_chunk_header`] and [`encode_last_chunk`] re-encode a chunked body.
//!
//! # Refused
//!
//! Anywhere in a head or trailer section: bare LF, bare CR, NUL and other control bytes (HTAB
//! only inside field values and reason phrases), obs-fold and any line starting with
//! whitespace, whitespace before the colon, empty or non-token field names, lines without a
//! colon. Before a request line at most [`MAX_EMPTY_LINES`] CRLFs are skipped; a response may
//! not start with one.
//!
//! Request line: not exactly `method SP target SP version` with single spaces; a method that
//! is not a token (or longer than [`MAX_METHOD_BYTES`]); a target with bytes RFC 3986 does not
//! allow (controls, obs-text, `#`, and the `` "<>\^`{|} `` lenient parsers let through); a
//! target form its method does not allow (`*` is OPTIONS only, authority-form `host:port` is
//! CONNECT only and CONNECT needs it, absolute-form only with `http`/`https`); userinfo in an
//! authority. A version other than `HTTP/1.0` and `HTTP/1.1` is a 505 when it is shaped
//! `HTTP/d.d`, else a 400. Host: missing in HTTP/1.1, repeated, or not `host[:port]` (an empty
//! Host is accepted).
//!
//! Framing: Content-Length that is not 1*DIGIT or overflows u64, or lists or repeats
//! differing values (identical ones count as one); Content-Length with Transfer-Encoding
//! (requests and responses); Transfer-Encoding in HTTP/1.0; transfer-codings that are not
//! bare tokens (parameters, quotes, empty list elements); `chunked` twice. In a request,
//! `chunked` not last is a 400 and any other coding a 501 (Fulcrum decodes no other coding).
//! A response whose codings do not end in `chunked` is read until close (RFC 9112 §6.3).
//! Connection options that are not tokens. Status lines other than
//! `HTTP/1.x SP 3DIGIT [SP reason]`.
//!
//! Chunked bodies: a size that is not 1 to [`MAX_CHUNK_SIZE_DIGITS`] hex digits, whitespace
//! or extensions that break `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`,
//! a chunk line over [`MAX_CHUNK_LINE`] bytes, data not followed by CRLF, bare CR or LF, and
//! trailers that break the field rules or carry Content-Length, Transfer-Encoding or Host.
//!
//! Limits ([`Limits`]): head bytes and field count (431), target bytes (414).

#![forbid(unsafe_code)]

mod chunked;
mod error;
mod framing;
mod head;
mod inline;
mod raw;
mod request;
mod response;
mod scan;
mod write;

pub use chunked::{ChunkedDecoder, Event, MAX_CHUNK_LINE, MAX_CHUNK_SIZE_DIGITS, Step};
pub use error::{Error, ErrorKind};
pub use framing::{Framing, check_body_size};
pub use raw::{RawFields, as_text};
pub use request::{RawRequestHead, RequestHead, RequestParser, parse_request};
pub use response::{RawResponseHead, ResponseHead, ResponseParser, parse_response};
pub use scan::{MAX_EMPTY_LINES, MAX_METHOD_BYTES};
pub use write::{
    encode_chunk_header, encode_last_chunk, is_field_value, remove_hop_by_hop, write_field,
    write_fields, write_request_head, write_request_line, write_response_head, write_status_line,
};

/// Size limits for heads (and chunked trailer sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of a head, start line and final CRLF CRLF included (431 beyond).
    pub max_head_bytes: usize,
    /// Field lines in a head (431 beyond).
    pub max_headers: usize,
    /// Bytes of a request-target (414 beyond).
    pub max_uri_bytes: usize,
}

impl Default for Limits {
    /// 16 KiB of head, 100 fields, 8 KiB of target.
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
        }
    }
}

/// The outcome of parsing a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole head: `len` bytes of the buffer, from any skipped empty lines to the final
    /// CRLF CRLF included. The body, if any, starts at `len`.
    Complete { head: T, len: usize },
    /// The buffer holds a valid beginning of a head; read more.
    Partial,
}

impl<T> Parsed<T> {
    /// A whole head made into another form by `f` (which may refuse it).
    pub(crate) fn and_then<U>(
        self,
        f: impl FnOnce(T) -> Result<U, Error>,
    ) -> Result<Parsed<U>, Error> {
        Ok(match self {
            Parsed::Complete { head, len } => Parsed::Complete {
                head: f(head)?,
                len,
            },
            Parsed::Partial => Parsed::Partial,
        })
    }
}
