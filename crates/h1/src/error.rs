//! Why a message was refused, and what to answer.

use http::StatusCode;

/// A refused message. [`Error::status`] is the status to answer a client with when its request
/// was refused; a refused response from a backend is a `502` for the proxy whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{}", self.kind.reason())]
pub struct Error {
    kind: ErrorKind,
}

impl Error {
    /// What was wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The status to answer with: 400, 413, 414, 431, 501 or 505.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// A short fixed text for logs, e.g. `"content-length with transfer-encoding"`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error { kind }
    }
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident => $status:ident, $reason:literal;)*) => {
        /// Every reason a message can be refused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $($(#[$doc])* #[doc = concat!("`", $reason, "`")] $kind,)*
        }

        impl ErrorKind {
            /// The status to answer a client with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorKind::$kind => StatusCode::$status,)*
                }
            }

            /// A short fixed text for logs.
            pub fn reason(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $reason,)*
                }
            }
        }
    };
}

kinds! {
    // Bytes and lines, anywhere in a head or trailer section.
    BareLf => BAD_REQUEST, "bare LF";
    BareCr => BAD_REQUEST, "bare CR";
    NulByte => BAD_REQUEST, "NUL byte";
    ControlByte => BAD_REQUEST, "control byte";
    ObsFold => BAD_REQUEST, "obs-fold or whitespace at line start";
    WhitespaceBeforeColon => BAD_REQUEST, "whitespace in field name or before colon";
    EmptyFieldName => BAD_REQUEST, "empty field name";
    InvalidFieldName => BAD_REQUEST, "invalid field name";
    MissingColon => BAD_REQUEST, "field line without colon";
    InvalidFieldValue => BAD_REQUEST, "invalid field value";
    TooManyEmptyLines => BAD_REQUEST, "too many empty lines before request line";
    // Start lines.
    InvalidRequestLine => BAD_REQUEST, "malformed request line";
    InvalidMethod => BAD_REQUEST, "invalid method";
    InvalidTarget => BAD_REQUEST, "invalid request-target";
    TargetFormMismatch => BAD_REQUEST, "request-target form not allowed for method";
    UriTooLong => URI_TOO_LONG, "request-target too long";
    InvalidVersion => BAD_REQUEST, "malformed HTTP version";
    UnsupportedVersion => HTTP_VERSION_NOT_SUPPORTED, "unsupported HTTP version";
    InvalidStatusLine => BAD_REQUEST, "malformed status line";
    // Limits.
    HeadTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, "header section too large";
    TooManyHeaders => REQUEST_HEADER_FIELDS_TOO_LARGE, "too many header fields";
    BodyTooLarge => PAYLOAD_TOO_LARGE, "body too large";
    // Host.
    MissingHost => BAD_REQUEST, "missing host";
    DuplicateHost => BAD_REQUEST, "more than one host field";
    InvalidHost => BAD_REQUEST, "invalid host";
    // Framing.
    InvalidContentLength => BAD_REQUEST, "invalid content-length";
    ConflictingContentLength => BAD_REQUEST, "differing content-length values";
    ContentLengthWithTransferEncoding => BAD_REQUEST, "content-length with transfer-encoding";
    TransferEncodingInHttp10 => BAD_REQUEST, "transfer-encoding in HTTP/1.0";
    InvalidTransferEncoding => BAD_REQUEST, "malformed transfer-encoding";
    ChunkedNotFinal => BAD_REQUEST, "chunked is not the final transfer-coding";
    ChunkedTwice => BAD_REQUEST, "chunked applied more than once";
    UnsupportedTransferCoding => NOT_IMPLEMENTED, "unsupported transfer-coding";
    InvalidConnection => BAD_REQUEST, "malformed connection field";
    // Chunked coding.
    InvalidChunkSize => BAD_REQUEST, "invalid chunk size";
    ChunkSizeOverflow => BAD_REQUEST, "chunk size too large";
    InvalidChunkExtension => BAD_REQUEST, "invalid chunk extension";
    ChunkLineTooLong => BAD_REQUEST, "chunk line too long";
    MissingChunkCrlf => BAD_REQUEST, "chunk data not followed by CRLF";
    TrailersTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, "trailer section too large";
    ForbiddenTrailer => BAD_REQUEST, "framing or routing field in trailers";
}
