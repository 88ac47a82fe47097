//! Phase one of head parsing: a strict, resumable byte scan.
//!
//! The scanner walks a head (or a trailer section) once and refuses everything the grammar
//! forbids at the byte and line level: bare CR or LF, NUL and control bytes, obs-fold,
//! whitespace before the colon, bad field-name bytes, lines without a colon, and the size
//! limits. Lines that have arrived whole it takes a line at a time, searching eight bytes at a
//! time for the byte that ends each part; a line still arriving, or one that is malformed or
//! unusual, goes byte by byte through a state machine that finds the same errors. It remembers
//! where it stopped, so a head that arrives one byte at a time costs linear time, not
//! quadratic. Once it has seen the empty line that ends the head, phase two ([`crate::head`])
//! splits the validated lines without re-checking.

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
                State::LineStart => {
                    if self.whole_lines(buf, limits) {
                        return Ok(Some(self.done()));
                    }
                    match buf.get(self.pos) {
                        Some(&c) => self.line_start(c)?,
                        None => break,
                    }
                }
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

    /// The fast path: takes the whole, well-formed lines that `buf` holds from a line start
    /// at `self.pos` a line at a time, leaving the scanner as the byte loop would have. Stops
    /// at the first line that is incomplete, malformed, or unusual (empty lines before a
    /// request line, empty start-line parts, a limit reached), which the byte loop then takes
    /// from its start, finding the same errors. True once the head's final CRLF is taken.
    fn whole_lines(&mut self, buf: &[u8], limits: &Limits) -> bool {
        if self.in_start_line {
            let line = &buf[self.pos..];
            let end = match self.mode {
                Mode::Request => request_line(line, limits),
                _ => status_line(line),
            };
            let Some(end) = end else {
                return false;
            };
            self.start = self.pos;
            self.start_end = self.pos + end;
            self.pos += end + 2;
            self.in_start_line = false;
        }
        loop {
            let line = &buf[self.pos..];
            if line.starts_with(b"\r\n") {
                self.pos += 2;
                return true;
            }
            let Some((colon, end)) = field_line(line) else {
                return false;
            };
            if self.fields == limits.max_headers {
                return false;
            }
            self.fields += 1;
            self.marks.push((self.pos + colon) as u32);
            self.marks.push((self.pos + end) as u32);
            self.pos += end + 2;
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

/// Offset of the CR of `line` if it is a whole request line the byte loop accepts, with
/// non-empty parts that are within their limits.
fn request_line(line: &[u8], limits: &Limits) -> Option<usize> {
    let method = run_swar(line, 0x21, &VISIBLE);
    let target = method + 1 + run_swar(line.get(method + 1..)?, 0x21, &VISIBLE);
    let end = target + 1 + run_swar(line.get(target + 1..)?, 0x21, &VISIBLE);
    let fits = (1..=MAX_METHOD_BYTES).contains(&method)
        && (1..=limits.max_uri_bytes).contains(&(target - method - 1))
        && end - target - 1 <= "HTTP/1.1".len();
    let shaped = line[method] == b' ' && line[target] == b' ' && ends_line(line, end);
    (fits && shaped).then_some(end)
}

/// Offset of the CR of `line` if it is a whole status line the byte loop accepts, with a
/// non-empty version and status code within their limits.
fn status_line(line: &[u8]) -> Option<usize> {
    let version = run_swar(line, 0x21, &VISIBLE);
    let code = version + 1 + run_swar(line.get(version + 1..)?, 0x21, &VISIBLE);
    // The reason phrase (possibly empty) may hold spaces and tabs.
    let end = match line.get(code) {
        Some(b' ') => code + 1 + run_swar(&line[code + 1..], 0x20, &VALUE),
        _ => code,
    };
    let fits = (1..="HTTP/1.1".len()).contains(&version)
        && (1..="200".len()).contains(&(code - version - 1));
    let shaped = line[version] == b' ' && ends_line(line, end);
    (fits && shaped).then_some(end)
}

/// The offsets of the colon and of the CR of `line` if it is a whole field line the byte loop
/// accepts.
fn field_line(line: &[u8]) -> Option<(usize, usize)> {
    // The first colon, space or control byte, then a check of the name before it as a whole:
    // cheaper than a byte-at-a-time search for the first byte that is not a `tchar`.
    let colon = find(line, colon_or_below_sp, |b| {
        b == b':' || !VISIBLE[b as usize]
    });
    let name = &line[..colon];
    let token = name.iter().fold(true, |ok, &b| ok & TOKEN[b as usize]);
    if name.is_empty() || !token || line.get(colon) != Some(&b':') {
        return None;
    }
    let end = colon + 1 + run_swar(&line[colon + 1..], 0x20, &VALUE);
    ends_line(line, end).then_some((colon, end))
}

/// Whether `line` holds a CRLF at `end`.
fn ends_line(line: &[u8], end: usize) -> bool {
    line.get(end..end + 2) == Some(b"\r\n")
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
/// `low`.
#[inline]
fn run_swar(bytes: &[u8], low: u8, table: &[bool; 256]) -> usize {
    find(bytes, |w| below_or_del(w, low), |b| !table[b as usize])
}

/// Offset of the first byte of `bytes` that `stop` holds, or `bytes.len()`: eight bytes at a
/// time, then one at a time for the last few. `marks` marks, in a little-endian word, bytes
/// by their high bit: the lowest marked one must be the first one that `stop` holds, if any,
/// or one before it that `stop` does not hold (the search goes on after that one).
#[inline]
fn find(bytes: &[u8], marks: impl Fn(u64) -> u64, stop: impl Fn(u8) -> bool) -> usize {
    let mut i = 0;
    while let Some(word) = bytes[i..].first_chunk::<8>() {
        let marked = marks(u64::from_le_bytes(*word));
        if marked == 0 {
            i += 8;
            continue;
        }
        i += marked.trailing_zeros() as usize / 8;
        if stop(bytes[i]) {
            return i;
        }
        i += 1;
    }
    i + bytes[i..]
        .iter()
        .position(|&b| stop(b))
        .unwrap_or(bytes.len() - i)
}

/// The colons, and the bytes below `!` or DEL, of `w` (see [`below_or_del`]).
#[inline]
fn colon_or_below_sp(w: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let x = w ^ (ONES * u64::from(b':'));
    below_or_del(w, 0x21) | (x.wrapping_sub(ONES) & !x & HIGH)
}

/// The bytes of `w` (little-endian) that are below `low` (at most 0x80) or DEL, marked by
/// their high bit. Bytes above the lowest marked one may be marked wrongly (a borrow runs on
/// upwards), but the lowest one never is.
#[inline]
fn below_or_del(w: u64, low: u8) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let low_byte = w.wrapping_sub(ONES * u64::from(low)) & !w;
    let x = w ^ (ONES * 0x7f);
    let del_byte = x.wrapping_sub(ONES) & !x;
    (low_byte | del_byte) & HIGH
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What a scan ends with: an error, or the finished head and its marks.
    type Outcome = Result<Option<(Scanned, Vec<u32>)>, Error>;

    fn whole(mode: Mode, buf: &[u8], limits: &Limits) -> Outcome {
        let mut scanner = Scanner::new(mode);
        let scanned = scanner.scan(buf, limits)?;
        Ok(scanned.map(|s| (s, scanner.marks().to_vec())))
    }

    /// Scans `buf` one byte more at a time: the fast path never sees a whole line, so this is
    /// the byte loop's answer.
    fn bytewise(mode: Mode, buf: &[u8], limits: &Limits) -> Outcome {
        let mut scanner = Scanner::new(mode);
        for end in 0..=buf.len() {
            if let Some(s) = scanner.scan(&buf[..end], limits)? {
                return Ok(Some((s, scanner.marks().to_vec())));
            }
        }
        Ok(None)
    }

    #[track_caller]
    fn agree(mode: Mode, buf: &[u8], limits: &Limits) -> Outcome {
        let whole = whole(mode, buf, limits);
        let text = String::from_utf8_lossy(buf);
        assert_eq!(whole, bytewise(mode, buf, limits), "{mode:?} {text:?}");
        whole
    }

    const REQUEST: &[u8] =
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:19007\r\nUser-Agent: h2load nghttp2/1.52.0\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\
        Date: Tue, 25 Nov 2026 10:00:00 GMT\r\nContent-Type: text/plain\r\n\
        Content-Length: 6\r\nConnection: keep-alive\r\n\r\n";

    #[test]
    fn typical_heads_whole_and_bytewise_agree() {
        let limits = Limits::default();
        let (scanned, marks) = agree(Mode::Request, REQUEST, &limits).unwrap().unwrap();
        assert_eq!((scanned.start_end, scanned.len), (14, REQUEST.len()));
        assert_eq!(marks, [20, 37, 49, 72]);
        let (scanned, marks) = agree(Mode::Response, RESPONSE, &limits).unwrap().unwrap();
        assert_eq!((scanned.start_end, scanned.len), (15, RESPONSE.len()));
        assert_eq!(marks.len(), 10);
        agree(Mode::Fields, b"A: b\r\nC-D:\te \t\r\n\r\n", &limits).unwrap();
    }

    #[test]
    fn unusual_and_malformed_lines_agree() {
        let limits = Limits::default();
        let requests: [&[u8]; 18] = [
            b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1 \r\n\r\n",
            b"GET / \r\n\r\n",
            b"GET /\r\n\r\n",
            b"GET / HTTP/1.10\r\n\r\n",
            b"GET / HTTP/1.1\n\r\n",
            b"GET / HTTP/1.1\r\r\n",
            b"GET /\t HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\n: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost\r\n\r\n",
            b"GET / HTTP/1.1\r\nH\x7fst: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\r",
            b"GET / HTTP/1.1\r\nA: \xff\t\x80 b\r\nB:\r\n\r\n",
        ];
        for raw in requests {
            agree(Mode::Request, raw, &limits).ok();
        }
        let long_method = [b'M'; MAX_METHOD_BYTES + 1];
        agree(
            Mode::Request,
            &[&long_method[..], b" / HTTP/1.1\r\n\r\n"].concat(),
            &limits,
        )
        .unwrap_err();
        let responses: [&[u8]; 8] = [
            b"HTTP/1.1 200\r\n\r\n",
            b"HTTP/1.1 200 \r\n\r\n",
            b"HTTP/1.1 200  Very\tOK \r\n\r\n",
            b"HTTP/1.1  200 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1\t200 OK\r\n\r\n",
            b"HTTP/1.1 200\tOK\r\n\r\n",
            b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        ];
        for raw in responses {
            agree(Mode::Response, raw, &limits).ok();
        }
    }

    #[test]
    fn limits_agree() {
        let tight = Limits {
            max_head_bytes: 60,
            max_headers: 1,
            max_uri_bytes: 4,
        };
        for raw in [
            REQUEST,
            b"GET /abcd HTTP/1.1\r\nA: b\r\n\r\n",
            b"GET /abcde HTTP/1.1\r\n\r\n",
        ] {
            agree(Mode::Request, raw, &tight).ok();
        }
        assert_eq!(
            agree(
                Mode::Request,
                b"GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n",
                &tight
            ),
            Err(ErrorKind::TooManyHeaders.into())
        );
        assert_eq!(
            agree(Mode::Response, RESPONSE, &tight),
            Err(ErrorKind::HeadTooLarge.into())
        );
    }

    /// Bytes that matter to the scanner, and a few that do not.
    fn byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            4 => prop::sample::select(b"\r\n \t:\x00\x7f\x80\xff\"/@aZ0-".to_vec()),
            1 => any::<u8>(),
        ]
    }

    /// A well-formed head of `mode` with a few bytes changed, inserted or cut off.
    fn near_head() -> impl Strategy<Value = (Mode, Vec<u8>)> {
        let mode = prop::sample::select(vec![Mode::Request, Mode::Response, Mode::Fields]);
        let field = ("[A-Za-z-]{1,12}", "[ \t]{0,2}[ -~]{0,20}[ \t]{0,2}");
        let fields = prop::collection::vec(field, 0..6);
        let edits = prop::collection::vec((any::<prop::sample::Index>(), byte(), 0..3u8), 0..3);
        (mode, fields, edits, any::<prop::sample::Index>()).prop_map(
            |(mode, fields, edits, cut)| {
                let mut raw = match mode {
                    Mode::Request => b"\r\nPOST /a?b=c HTTP/1.1\r\n".to_vec(),
                    Mode::Response => b"HTTP/1.1 404 Not Found\r\n".to_vec(),
                    Mode::Fields => Vec::new(),
                };
                for (name, value) in fields {
                    raw.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
                }
                raw.extend_from_slice(b"\r\n");
                for (at, byte, how) in edits {
                    let at = at.index(raw.len());
                    match how {
                        0 => raw[at] = byte,
                        1 => raw.insert(at, byte),
                        _ => {
                            raw.remove(at);
                        }
                    }
                }
                if cut.index(4) == 0 {
                    raw.truncate(cut.index(raw.len() + 1));
                }
                (mode, raw)
            },
        )
    }

    proptest! {
        #[test]
        fn near_heads_whole_and_bytewise_agree((mode, raw) in near_head()) {
            let limits = Limits::default();
            let tight = Limits { max_head_bytes: 40, max_headers: 2, max_uri_bytes: 3 };
            prop_assert_eq!(whole(mode, &raw, &limits), bytewise(mode, &raw, &limits));
            prop_assert_eq!(whole(mode, &raw, &tight), bytewise(mode, &raw, &tight));
        }

        #[test]
        fn word_searches_agree_with_run(bytes in prop::collection::vec(byte(), 0..40)) {
            prop_assert_eq!(run_swar(&bytes, 0x20, &VALUE), run(&bytes, &VALUE));
            prop_assert_eq!(run_swar(&bytes, 0x21, &VISIBLE), run(&bytes, &VISIBLE));
            let colon = bytes.iter().position(|&b| b == b':' || !VISIBLE[b as usize]);
            let found = find(&bytes, colon_or_below_sp, |b| b == b':' || !VISIBLE[b as usize]);
            prop_assert_eq!(found, colon.unwrap_or(bytes.len()));
        }
    }
}
