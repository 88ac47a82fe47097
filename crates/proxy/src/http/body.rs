//! Streaming a message body from one socket to the other, re-framed for the next hop, never
//! buffered whole: at most one read buffer and one write buffer per direction.

use super::io::{Wire, read_some_until, write_all};
use bytes::{Buf, BytesMut};
use fulcrum_h1::{ChunkedDecoder, Event, Framing, encode_chunk_header, encode_last_chunk};
use std::io;
use std::time::Duration;
use tokio::time::Instant;

/// Pending output is written once it reaches this size (or before waiting to read).
const FLUSH_AT: usize = 64 * 1024;

/// Why a body could not be passed on.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The source closed before the body's end.
    SourceClosed,
    /// The source sent nothing for the idle timeout.
    SourceIdle,
    SourceIo(io::Error),
    /// Writing to the destination failed.
    Sink(io::Error),
    /// The chunked coding was malformed, or the body passed its size limit.
    Invalid(fulcrum_h1::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::SourceClosed => f.write_str("the sender closed before the body ended"),
            BodyError::SourceIdle => f.write_str("the sender went idle"),
            BodyError::SourceIo(e) => write!(f, "reading the body failed: {e}"),
            BodyError::Sink(e) => write!(f, "writing the body failed: {e}"),
            BodyError::Invalid(e) => write!(f, "invalid body: {}", e.reason()),
        }
    }
}

/// Where body bytes come from: what is already buffered, then the socket.
pub(crate) struct Source<'a, R> {
    pub(crate) stream: &'a R,
    pub(crate) buf: &'a mut BytesMut,
    /// Longest wait for the next bytes.
    pub(crate) idle: Duration,
}

impl<R: Wire> Source<'_, R> {
    /// Reads more; `Ok(false)` at end of stream.
    pub(crate) async fn fill(&mut self) -> Result<bool, BodyError> {
        let deadline = Instant::now() + self.idle;
        match read_some_until(self.stream, self.buf, deadline).await {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(BodyError::SourceIdle),
            Err(e) => Err(BodyError::SourceIo(e)),
        }
    }
}

/// How the destination wants the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reframe {
    /// As it came: length-delimited stays so, chunked is re-chunked, close-delimited stays so.
    Same,
    /// A close-delimited body is sent chunked (to keep the client connection alive).
    CloseToChunked,
    /// A chunked body is sent decoded and close-delimited (to an HTTP/1.0 client).
    ChunkedToRaw,
}

/// Forwards a body framed as `framing` from `src` to `dst`. `out` may hold bytes to send
/// first (the head), which go out with the first body bytes in one write. `max_body` bounds
/// chunked and close-delimited bodies (length ones are checked before). Returns the payload
/// bytes passed on.
pub(crate) async fn forward<R: Wire, W: Wire>(
    src: &mut Source<'_, R>,
    dst: &W,
    framing: Framing,
    reframe: Reframe,
    out: &mut Vec<u8>,
    max_body: Option<u64>,
) -> Result<u64, BodyError> {
    let result = match framing {
        Framing::None => Ok(0),
        Framing::Length(n) => by_length(src, dst, n, out).await,
        Framing::Chunked => chunked(src, dst, reframe, out, max_body).await,
        Framing::UntilClose => until_close(src, dst, reframe, out, max_body).await,
    };
    let sent = result?;
    flush(dst, out).await?;
    Ok(sent)
}

async fn flush<W: Wire>(dst: &W, out: &mut Vec<u8>) -> Result<(), BodyError> {
    if !out.is_empty() {
        write_all(dst, out).await.map_err(BodyError::Sink)?;
        out.clear();
    }
    Ok(())
}

async fn by_length<R: Wire, W: Wire>(
    src: &mut Source<'_, R>,
    dst: &W,
    len: u64,
    out: &mut Vec<u8>,
) -> Result<u64, BodyError> {
    let mut left = len;
    while left > 0 {
        if src.buf.is_empty() {
            // The head goes out before waiting for the body: a client that sent
            // `Expect: 100-continue` waits for the backend's 100 before sending it.
            flush(dst, out).await?;
            if !src.fill().await? {
                return Err(BodyError::SourceClosed);
            }
        }
        let take = (src.buf.len() as u64).min(left) as usize;
        if out.is_empty() {
            write_all(dst, &src.buf[..take])
                .await
                .map_err(BodyError::Sink)?;
        } else {
            out.extend_from_slice(&src.buf[..take]);
            flush(dst, out).await?;
        }
        src.buf.advance(take);
        left -= take as u64;
    }
    Ok(len)
}

async fn chunked<R: Wire, W: Wire>(
    src: &mut Source<'_, R>,
    dst: &W,
    reframe: Reframe,
    out: &mut Vec<u8>,
    max_body: Option<u64>,
) -> Result<u64, BodyError> {
    let mut decoder = ChunkedDecoder::new();
    if let Some(max) = max_body {
        decoder = decoder.with_max_body(max);
    }
    loop {
        if src.buf.is_empty() {
            flush(dst, out).await?;
            if !src.fill().await? {
                return Err(BodyError::SourceClosed);
            }
        }
        let step = decoder.feed(src.buf).map_err(BodyError::Invalid)?;
        match step.event {
            Event::Data(range) => {
                let raw = reframe == Reframe::ChunkedToRaw;
                if !raw {
                    encode_chunk_header(range.len() as u64, out);
                }
                out.extend_from_slice(&src.buf[range]);
                if !raw {
                    out.extend_from_slice(b"\r\n");
                }
                src.buf.advance(step.consumed);
                if out.len() >= FLUSH_AT {
                    flush(dst, out).await?;
                }
            }
            Event::NeedMore => {
                src.buf.advance(step.consumed);
                flush(dst, out).await?;
                if !src.fill().await? {
                    return Err(BodyError::SourceClosed);
                }
            }
            Event::End(trailers) => {
                if reframe != Reframe::ChunkedToRaw {
                    encode_last_chunk(&trailers, out);
                }
                src.buf.advance(step.consumed);
                return Ok(decoder.body_len());
            }
        }
    }
}

async fn until_close<R: Wire, W: Wire>(
    src: &mut Source<'_, R>,
    dst: &W,
    reframe: Reframe,
    out: &mut Vec<u8>,
    max_body: Option<u64>,
) -> Result<u64, BodyError> {
    let mut total = 0u64;
    loop {
        if src.buf.is_empty() {
            flush(dst, out).await?;
            if !src.fill().await? {
                if reframe == Reframe::CloseToChunked {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
                return Ok(total);
            }
        }
        let n = src.buf.len();
        total += n as u64;
        if let Some(max) = max_body {
            fulcrum_h1::check_body_size(total, max).map_err(BodyError::Invalid)?;
        }
        if reframe == Reframe::CloseToChunked {
            encode_chunk_header(n as u64, out);
            out.extend_from_slice(src.buf);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(src.buf);
        }
        src.buf.advance(n);
        flush(dst, out).await?;
    }
}
