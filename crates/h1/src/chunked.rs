//! The chunked transfer coding (RFC 9112 §7.1), decoded strictly and in a streaming way.

use std::ops::Range;

use http::HeaderMap;

use crate::raw::build_raw;
use crate::scan::{Mode, Scanner, TOKEN, byte_error};
use crate::{Error, ErrorKind, Limits};

/// The longest chunk line (size, extensions and CRLF) accepted.
pub const MAX_CHUNK_LINE: usize = 4096;
/// The most hex digits in a chunk size, leading zeros included.
pub const MAX_CHUNK_SIZE_DIGITS: u8 = 16;

/// A streaming decoder for one chunked body. Feed it bytes as they arrive; each call consumes
/// a prefix of its input and says what that prefix held.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Data bytes left in the current chunk; while reading a chunk line, the size so far.
    size: u64,
    digits: u8,
    line_len: usize,
    total: u64,
    max_body: u64,
    limits: Limits,
    trailers: Vec<u8>,
    scanner: Scanner,
}

/// What [`ChunkedDecoder::feed`] did with a prefix of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// How many input bytes were used; feed the rest again, with more appended if need be.
    pub consumed: usize,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// These bytes of the input are payload, to forward. Framing bytes before them are
    /// consumed too.
    Data(Range<usize>),
    /// All the input was used (and, if need be, remembered); more is needed.
    NeedMore,
    /// The body ended with these trailer fields (often none). Input after `consumed` belongs
    /// to the next message. Further calls report `End` again with no fields and consume
    /// nothing.
    End(HeaderMap),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Ext(Ext),
    /// After the CR of a chunk line.
    LineLf,
    Data,
    DataCr,
    DataLf,
    Trailers,
    Done,
}

/// Where in `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )` the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    BeforeSemi,
    BeforeName,
    Name,
    AfterName,
    BeforeValue,
    Token,
    Quoted,
    Escape,
    AfterQuoted,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder with default trailer limits and no body limit.
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A decoder whose trailer section obeys `limits` (head bytes and field count).
    pub fn with_limits(limits: Limits) -> Self {
        ChunkedDecoder {
            state: State::Size,
            size: 0,
            digits: 0,
            line_len: 0,
            total: 0,
            max_body: u64::MAX,
            limits,
            trailers: Vec::new(),
            scanner: Scanner::new(Mode::Fields),
        }
    }

    /// Refuses (413) a body whose payload would exceed `max_body`, as soon as a chunk line
    /// announces it.
    pub fn with_max_body(mut self, max_body: u64) -> Self {
        self.max_body = max_body;
        self
    }

    /// Payload bytes announced so far by chunk lines.
    pub fn body_len(&self) -> u64 {
        self.total
    }

    /// The last chunk and the trailer section have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes a prefix of `input`; see [`Step`].
    pub fn feed(&mut self, input: &[u8]) -> Result<Step, Error> {
        let mut i = 0;
        loop {
            match self.state {
                State::Data => {
                    let n = self.size.min((input.len() - i) as u64) as usize;
                    if n == 0 {
                        return Ok(Step {
                            consumed: i,
                            event: Event::NeedMore,
                        });
                    }
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(Step {
                        consumed: i + n,
                        event: Event::Data(i..i + n),
                    });
                }
                State::Trailers => return self.trailers(input, i),
                State::Done => {
                    return Ok(Step {
                        consumed: 0,
                        event: Event::End(HeaderMap::new()),
                    });
                }
                _ => {
                    let Some(&c) = input.get(i) else {
                        return Ok(Step {
                            consumed: i,
                            event: Event::NeedMore,
                        });
                    };
                    i += 1;
                    self.framing_byte(c)?;
                }
            }
        }
    }

    fn framing_byte(&mut self, c: u8) -> Result<(), Error> {
        if matches!(self.state, State::Size | State::Ext(_) | State::LineLf) {
            self.line_len += 1;
            if self.line_len > MAX_CHUNK_LINE {
                return Err(ErrorKind::ChunkLineTooLong.into());
            }
        }
        match self.state {
            State::Size => self.size_byte(c),
            State::Ext(ext) => {
                self.state = ext_byte(ext, c)?;
                Ok(())
            }
            State::LineLf if c == b'\n' => self.line_done(),
            State::DataCr if c == b'\r' => {
                self.state = State::DataLf;
                Ok(())
            }
            State::DataLf if c == b'\n' => {
                self.state = State::Size;
                self.line_len = 0;
                self.digits = 0;
                Ok(())
            }
            State::DataCr => Err(ErrorKind::MissingChunkCrlf.into()),
            _ => Err(ErrorKind::BareCr.into()),
        }
    }

    fn size_byte(&mut self, c: u8) -> Result<(), Error> {
        if let Some(digit) = (c as char).to_digit(16) {
            if self.digits == MAX_CHUNK_SIZE_DIGITS {
                return Err(ErrorKind::ChunkSizeOverflow.into());
            }
            self.digits += 1;
            self.size = self.size << 4 | u64::from(digit);
            return Ok(());
        }
        self.state = match c {
            _ if self.digits == 0 => return Err(ErrorKind::InvalidChunkSize.into()),
            b'\r' => State::LineLf,
            b';' => State::Ext(Ext::BeforeName),
            b' ' | b'\t' => State::Ext(Ext::BeforeSemi),
            b'\n' => return Err(ErrorKind::BareLf.into()),
            _ => return Err(ErrorKind::InvalidChunkSize.into()),
        };
        Ok(())
    }

    /// The CRLF of a chunk line: data follows, or the trailer section after the last chunk.
    fn line_done(&mut self) -> Result<(), Error> {
        if self.size == 0 {
            self.state = State::Trailers;
            return Ok(());
        }
        self.total = self.total.saturating_add(self.size);
        if self.total > self.max_body {
            return Err(ErrorKind::BodyTooLarge.into());
        }
        self.state = State::Data;
        Ok(())
    }

    /// The trailer section: field lines validated like a head's, then an empty line.
    fn trailers(&mut self, input: &[u8], i: usize) -> Result<Step, Error> {
        let rest = &input[i..];
        if self.trailers.is_empty() && rest.starts_with(b"\r\n") {
            self.state = State::Done;
            return Ok(Step {
                consumed: i + 2,
                event: Event::End(HeaderMap::new()),
            });
        }
        let old = self.trailers.len();
        let take = rest
            .len()
            .min(self.limits.max_head_bytes.saturating_sub(old));
        self.trailers.extend_from_slice(&rest[..take]);
        let Some(scanned) = self.scanner.scan(&self.trailers, &self.limits)? else {
            return Ok(Step {
                consumed: i + take,
                event: Event::NeedMore,
            });
        };
        let (fields, facts) = build_raw(&self.trailers, 0, self.scanner.marks())?;
        self.trailers = Vec::new();
        if facts.te || facts.content_length.is_some() || facts.hosts > 0 {
            return Err(ErrorKind::ForbiddenTrailer.into());
        }
        let fields = fields.into_header_map()?;
        self.state = State::Done;
        Ok(Step {
            consumed: i + scanned.len - old,
            event: Event::End(fields),
        })
    }
}

/// One byte of chunk extensions, strictly per RFC 9112 §7.1.1: no trailing whitespace, and
/// values are tokens or quoted strings.
fn ext_byte(ext: Ext, c: u8) -> Result<State, Error> {
    use Ext::*;
    let ws = c == b' ' || c == b'\t';
    let token = TOKEN[c as usize];
    let next = match (ext, c) {
        (BeforeSemi | BeforeName | BeforeValue, _) if ws => ext,
        (BeforeSemi | Name | AfterName | Token | AfterQuoted, b';') => BeforeName,
        (BeforeName | Name, _) if token => Name,
        (Name | AfterName, _) if ws => AfterName,
        (Name | AfterName, b'=') => BeforeValue,
        (BeforeValue, b'"') => Quoted,
        (BeforeValue | Token, _) if token => Token,
        (Token | AfterQuoted, _) if ws => BeforeSemi,
        (Quoted, b'"') => AfterQuoted,
        (Quoted, b'\\') => Escape,
        (Quoted | Escape, _) if ws || (c > 0x20 && c != 0x7f) => Quoted,
        (Name | Token | AfterQuoted, b'\r') => return Ok(State::LineLf),
        (_, b'\r') => return Err(ErrorKind::InvalidChunkExtension.into()),
        (_, 0x00..=0x1f | 0x7f) => return Err(byte_error(c)),
        _ => return Err(ErrorKind::InvalidChunkExtension.into()),
    };
    Ok(State::Ext(next))
}
