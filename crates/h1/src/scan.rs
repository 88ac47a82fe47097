//! Phase one of head parsing: a strict, resumable byte scan.
//!
//! The scanner walks a head (or a trailer section) once, byte by byte through lookup tables,
//! and refuses everything the grammar forbids at the byte and line level: bare CR or LF, NUL
//! and control bytes, obs-fold, whitespace before the colon, bad field-name bytes, lines
//! without a colon, and the size limits. It remembers where it stopped, so a head that arrives
//! one byte at a time costs linear time, not quadratic. Once it has seen the empty line that
//! ends the head, phase two ([`crate::head`]) splits the validated lines without re-checking.

use crate::inline::InlineVec;
use crate::{Error, ErrorKind, Limits};

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) static TOKEN: [bool; 256] = byte_set(true, b"!#$%&'*+-.^_`|~");
/// Field-value bytes: VCHAR, obs-text, SP and HTAB.
static VALUE: [bool; 256] = bytes_from(0x20, b"\t");
/// Start-line bytes other than SP: VCHAR and obs-text.
static VISIBLE: [bool; 256] = bytes_from(0x21, b"");

/// A byte table: ASCII letters and digits if `alnum`, and the bytes of `extra`.
pub(crate) const fn byte_set(alnum: bool, extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alnum && (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
}

/// A byte table: every byte from `low` up except DEL, and the bytes of `extra`.
const fn bytes_from(low: u8, extra: &[u8]) -> [bool; 256] {
    let mut t = byte_set(false, extra);
    let mut i = low as usize;
    while i < 256 {
        t[i] = i != 0x7f;
        i += 1;
    }
    t
}

/// Empty lines tolerated before a request line (RFC 9112 §2.2 asks to ignore at least one).
pub const MAX_EMPTY_LINES: u8 = 2;
/// The longest method accepted; the registered ones have at most 17 bytes.
pub const MAX_METHOD_BYTES: usize = 32;

/// What the scanned bytes must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Request,
    Response,
    /// A field section without start line: chunked trailers.
    Fields,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    LineStart,
    /// After the CR of an empty line before the request line.
    LeadLf,
    StartLine,
    Name,
    Value,
    /// After the CR that ends a non-empty line.
    LineLf,
    /// After the CR of the empty line that ends the head.
    EndLf,
}

/// A finished scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Offset of the start line (after tolerated empty lines).
    pub start: usize,
    /// Offset of the CR that ends the start line.
    pub start_end: usize,
    /// Offset of the first field line (or of the final empty line).
    pub fields_start: usize,
    /// Bytes of the head including the final CRLF CRLF.
    pub len: usize,
}

/// For each field line, the offsets of its colon and of its CR: phase two needs no search.
/// Sixteen lines' marks are kept inline, more than most heads have.
type Marks = InlineVec<u32, 32>;

#[derive(Clone, Debug)]
pub(crate) struct Scanner {
    marks: Marks,
    finished: bool,
    mode: Mode,
    state: State,
    pos: usize,
    in_start_line: bool,
    start: usize,
    start_end: usize,
    line_start: usize,
    spaces: u8,
    last_sp: usize,
    fields: usize,
    empty_lines: u8,
}

impl Scanner {
    pub(crate) fn new(mode: Mode) -> Self {
        Scanner::fresh(mode, Marks::new())
    }

    fn fresh(mode: Mode, marks: Marks) -> Self {
        Scanner {
            marks,
            finished: false,
            mode,
            state: State::LineStart,
            pos: 0,
            in_start_line: mode != Mode::Fields,
            start: 0,
            start_end: 0,
            line_start: 0,
            spaces: 0,
            last_sp: 0,
            fields: 0,
            empty_lines: 0,
        }
    }

    /// Starts over, keeping the allocation.
    pub(crate) fn restart(&mut self) {
        let mut marks = std::mem::replace(&mut self.marks, Marks::new());
        marks.clear();
        *self = Scanner::fresh(self.mode, marks);
    }

    /// The colon and CR offsets of each field line of the head the last scan finished.
    pub(crate) fn marks(&self) -> &[u32] {
        self.marks.as_slice()
    }

    /// Scans `buf` from where the last call stopped, or from its start after a finished head.
    /// `buf` must be the same bytes as before, possibly longer. `Ok(None)`: more are needed.
    pub(crate) fn scan(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<Scanned>, Error> {
        if self.finished || self.pos > buf.len() {
            self.restart();
        }
        let cap = limits.max_head_bytes.min(u32::MAX as usize);
        let buf = &buf[..buf.len().min(cap)];
        while let Some(&c) = buf.get(self.pos) {
            match self.state {
                State::LineStart => self.line_start(c)?,
                State::LeadLf | State::LineLf | State::EndLf => {
                    if c != b'\n' {
                        return Err(ErrorKind::BareCr.into());
                    }
                    self.pos += 1;
                    match self.state {
                        State::EndLf => return Ok(Some(self.done())),
                        State::LineLf => self.line_done(limits)?,
                        _ => {}
                    }
                    self.state = State::LineStart;
                }
                State::StartLine => {
                    self.pos += run_swar(&buf[self.pos..], 0x21, &VISIBLE);
                    self.check_start_line(limits)?;
                    if let Some(&c) = buf.get(self.pos) {
                        self.start_line_stop(c)?;
                    }
                }
                State::Name => {
                    self.pos += run(&buf[self.pos..], &TOKEN);
                    if let Some(&c) = buf.get(self.pos) {
                        self.name_stop(c, self.pos == self.line_start)?;
                    }
                }
                State::Value => {
                    self.pos += run_swar(&buf[self.pos..], 0x20, &VALUE);
                    if let Some(&c) = buf.get(self.pos) {
                        self.value_stop(c)?;
                    }
                }
            }
        }
        if buf.len() >= cap {
            let kind = match self.mode {
                Mode::Fields => ErrorKind::TrailersTooLarge,
                _ => ErrorKind::HeadTooLarge,
            };
            return Err(kind.into());
        }
        Ok(None)
    }

    fn done(&mut self) -> Scanned {
        self.finished = true;
        let fields_start = if self.mode == Mode::Fields {
            0
        } else {
            self.start_end + 2
        };
        Scanned {
            start: self.start,
            start_end: self.start_end,
            fields_start,
            len: self.pos,
        }
    }

    fn line_start(&mut self, c: u8) -> Result<(), Error> {
        if !self.in_start_line {
            match c {
                b'\r' => {
                    self.pos += 1;
                    self.state = State::EndLf;
                }
                b'\n' => return Err(ErrorKind::BareLf.into()),
                b' ' | b'\t' => return Err(ErrorKind::ObsFold.into()),
                _ => {
                    self.line_start = self.pos;
                    self.state = State::Name;
                }
            }
            return Ok(());
        }
        let bad_line = match self.mode {
            Mode::Response => ErrorKind::InvalidStatusLine,
            _ => ErrorKind::InvalidRequestLine,
        };
        match c {
            b'\r' if self.mode == Mode::Request => {
                if self.empty_lines == MAX_EMPTY_LINES {
                    return Err(ErrorKind::TooManyEmptyLines.into());
                }
                self.empty_lines += 1;
                self.pos += 1;
                self.state = State::LeadLf;
            }
            b'\n' => return Err(ErrorKind::BareLf.into()),
            b'\r' | b' ' | b'\t' => return Err(bad_line.into()),
            _ => {
                self.start = self.pos;
                self.state = State::StartLine;
            }
        }
        Ok(())
    }

    fn line_done(&mut self, limits: &Limits) -> Result<(), Error> {
        if self.in_start_line {
            self.in_start_line = false;
        } else {
            self.fields += 1;
            if self.fields > limits.max_headers {
                return Err(ErrorKind::TooManyHeaders.into());
            }
        }
        Ok(())
    }

    fn start_line_stop(&mut self, c: u8) -> Result<(), Error> {
        match c {
            b' ' => {
                // A request line has exactly two single spaces; a status line's reason phrase
                // may hold more.
                let empty_part = self.spaces > 0 && self.pos == self.last_sp + 1;
                if self.mode == Mode::Request && (self.spaces == 2 || empty_part) {
                    return Err(ErrorKind::InvalidRequestLine.into());
                }
                self.spaces = self.spaces.saturating_add(1);
                self.last_sp = self.pos;
            }
            b'\t' if self.mode == Mode::Response && self.spaces >= 2 => {}
            b'\r' => {
                self.start_end = self.pos;
                self.state = State::LineLf;
            }
            _ => return Err(byte_error(c)),
        }
        self.pos += 1;
        Ok(())
    }

    /// Refuses a start line early once a part of it is too long to ever be valid.
    fn check_start_line(&self, limits: &Limits) -> Result<(), Error> {
        let part = self.pos
            - if self.spaces == 0 {
                self.start
            } else {
                self.last_sp + 1
            };
        let kind = match (self.mode, self.spaces) {
            (Mode::Request, 0) if part > MAX_METHOD_BYTES => ErrorKind::InvalidMethod,
            (Mode::Request, 1) if part > limits.max_uri_bytes => ErrorKind::UriTooLong,
            (Mode::Request, 2) if part > "HTTP/1.1".len() => ErrorKind::InvalidVersion,
            (Mode::Response, 0) if part > "HTTP/1.1".len() => ErrorKind::InvalidVersion,
            (Mode::Response, 1) if part > "200".len() => ErrorKind::InvalidStatusLine,
            _ => return Ok(()),
        };
        Err(kind.into())
    }

    fn name_stop(&mut self, c: u8, empty: bool) -> Result<(), Error> {
        let kind = match c {
            b':' if empty => ErrorKind::EmptyFieldName,
            b':' => {
                self.marks.push(self.pos as u32);
                self.pos += 1;
                self.state = State::Value;
                return Ok(());
            }
            b' ' | b'\t' => ErrorKind::WhitespaceBeforeColon,
            b'\r' => ErrorKind::MissingColon,
            0x00..=0x1f | 0x7f => return Err(byte_error(c)),
            _ => ErrorKind::InvalidFieldName,
        };
        Err(kind.into())
    }

    fn value_stop(&mut self, c: u8) -> Result<(), Error> {
        if c != b'\r' {
            return Err(byte_error(c));
        }
        self.marks.push(self.pos as u32);
        self.pos += 1;
        self.state = State::LineLf;
        Ok(())
    }
}

/// The error for a byte that is not allowed where it was found.
pub(crate) fn byte_error(c: u8) -> Error {
    match c {
        b'\n' => ErrorKind::BareLf,
        b'\r' => ErrorKind::BareCr,
        0 => ErrorKind::NulByte,
        _ => ErrorKind::ControlByte,
    }
    .into()
}

/// Length of the prefix of `bytes` whose bytes are all in `table`.
#[inline]
fn run(bytes: &[u8], table: &[bool; 256]) -> usize {
    bytes
        .iter()
        .position(|&b| !table[b as usize])
        .unwrap_or(bytes.len())
}

/// [`run`] for a table that holds every byte from `low` up except DEL, and maybe a few below
/// `low`: eight bytes at a time while no byte is below `low` or DEL, then one at a time.
#[inline]
fn run_swar(bytes: &[u8], low: u8, table: &[bool; 256]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let below = ONES * u64::from(low);
    let del = ONES * 0x7f;
    let (words, _) = bytes.as_chunks::<8>();
    let mut i = 0;
    for word in words {
        let w = u64::from_ne_bytes(*word);
        // Bytes under 0x80 that are below `low`, or equal to DEL (their xor is zero).
        let low_byte = w.wrapping_sub(below) & !w;
        let x = w ^ del;
        let del_byte = x.wrapping_sub(ONES) & !x;
        if (low_byte | del_byte) & HIGH != 0 {
            break;
        }
        i += 8;
    }
    i + run(&bytes[i..], table)
}
