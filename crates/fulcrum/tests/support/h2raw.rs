//! Raw HTTP/2 frames for the flood tests: encode the frames a misbehaving client sends, read
//! and parse what the server answers (looking for its GOAWAY), and a minimal HPACK encoder
//! (literal fields, no Huffman, no dynamic table).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const CANCEL: u32 = 0x8;
pub const FRAME_SIZE_ERROR: u32 = 0x6;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame.
pub fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(ty);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn settings(params: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in params {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &p)
}

pub fn settings_ack() -> Vec<u8> {
    frame(SETTINGS, ACK, 0, &[])
}

pub fn ping(data: u64) -> Vec<u8> {
    frame(PING, 0, 0, &data.to_be_bytes())
}

pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

pub fn data(stream: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    frame(
        DATA,
        if end_stream { END_STREAM } else { 0 },
        stream,
        payload,
    )
}

pub fn headers(stream: u32, block: &[u8], end_stream: bool, end_headers: bool) -> Vec<u8> {
    let mut flags = 0;
    if end_stream {
        flags |= END_STREAM;
    }
    if end_headers {
        flags |= END_HEADERS;
    }
    frame(HEADERS, flags, stream, block)
}

pub fn continuation(stream: u32, block: &[u8], end_headers: bool) -> Vec<u8> {
    frame(
        CONTINUATION,
        if end_headers { END_HEADERS } else { 0 },
        stream,
        block,
    )
}

/// HPACK integer with an `n`-bit prefix, the first byte's high bits from `first`.
fn hpack_int(first: u8, n: u8, mut v: usize, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

fn hpack_string(s: &[u8], out: &mut Vec<u8>) {
    hpack_int(0, 7, s.len(), out);
    out.extend_from_slice(s);
}

/// A literal field without indexing, new name.
pub fn hpack_literal(name: &str, value: &[u8], out: &mut Vec<u8>) {
    out.push(0x00);
    hpack_string(name.as_bytes(), out);
    hpack_string(value, out);
}

/// A request header block: `:method`, `:scheme http`, `:authority`, `:path`, then `extra`.
pub fn request_block(method: &str, authority: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    match method {
        "GET" => b.push(0x82),
        "POST" => b.push(0x83),
        m => {
            // Literal without indexing, indexed name 2 (:method).
            hpack_int(0x00, 4, 2, &mut b);
            hpack_string(m.as_bytes(), &mut b);
        }
    }
    b.push(0x86); // :scheme http
    hpack_int(0x00, 4, 1, &mut b); // :authority, literal value
    hpack_string(authority.as_bytes(), &mut b);
    hpack_int(0x00, 4, 4, &mut b); // :path, literal value
    hpack_string(path.as_bytes(), &mut b);
    for (n, v) in extra {
        hpack_literal(n, v.as_bytes(), &mut b);
    }
    b
}

/// A frame as read.
#[derive(Debug, Clone)]
pub struct Frame {
    pub ty: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// A GOAWAY's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoAway {
    pub last_stream: u32,
    pub code: u32,
    pub debug: String,
}

impl Frame {
    pub fn goaway(&self) -> Option<GoAway> {
        if self.ty != GOAWAY || self.payload.len() < 8 {
            return None;
        }
        let p = &self.payload;
        Some(GoAway {
            last_stream: u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff,
            code: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            debug: String::from_utf8_lossy(&p[8..]).into_owned(),
        })
    }
}

/// How a flooded connection ended.
#[derive(Debug, Clone)]
pub struct Ending {
    pub goaway: Option<GoAway>,
    /// After the GOAWAY (or instead of one): EOF or reset seen.
    pub closed: bool,
    pub elapsed: Duration,
    /// Frame types read, in order (for messages).
    pub frames: Vec<(u8, u32)>,
    pub error: Option<String>,
}

/// A raw HTTP/2 client connection.
pub struct H2Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Every frame read so far.
    pub seen: Vec<Frame>,
}

impl H2Conn {
    /// Connects and sends the preface with an empty SETTINGS; reads until the server's
    /// SETTINGS and acknowledges it.
    pub fn handshake(addr: SocketAddr) -> io::Result<H2Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let mut c = H2Conn {
            stream,
            buf: Vec::new(),
            seen: Vec::new(),
        };
        let mut hello = PREFACE.to_vec();
        hello.extend(settings(&[]));
        c.stream.write_all(&hello)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let f = c.read_frame(deadline)?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "EOF before server SETTINGS")
            })?;
            if f.ty == SETTINGS && f.flags & ACK == 0 {
                c.stream.write_all(&settings_ack())?;
                return Ok(c);
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one frame before `deadline`; `None` at EOF.
    pub fn read_frame(&mut self, deadline: Instant) -> io::Result<Option<Frame>> {
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let f = Frame {
                        ty: self.buf[3],
                        flags: self.buf[4],
                        stream: u32::from_be_bytes([
                            self.buf[5],
                            self.buf[6],
                            self.buf[7],
                            self.buf[8],
                        ]) & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    self.seen.push(f.clone());
                    return Ok(Some(f));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no frame in time"));
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut tmp = [0u8; 65_536];
            match self.stream.read(&mut tmp) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads frames until a GOAWAY and then the connection's end (EOF or reset), `timeout` at
    /// most. Answers nothing.
    pub fn wait_goaway(&mut self, timeout: Duration) -> Ending {
        let t0 = Instant::now();
        let deadline = t0 + timeout;
        let mut end = Ending {
            goaway: None,
            closed: false,
            elapsed: Duration::ZERO,
            frames: Vec::new(),
            error: None,
        };
        loop {
            match self.read_frame(deadline) {
                Ok(Some(f)) => {
                    end.frames.push((f.ty, f.stream));
                    if let Some(g) = f.goaway()
                        && end.goaway.is_none()
                    {
                        end.goaway = Some(g);
                    }
                }
                Ok(None) => {
                    end.closed = true;
                    break;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::TimedOut
                        || e.kind() == io::ErrorKind::WouldBlock =>
                {
                    end.error = Some("timed out".into());
                    break;
                }
                Err(e) => {
                    end.closed = true;
                    end.error = Some(e.to_string());
                    break;
                }
            }
        }
        end.elapsed = t0.elapsed();
        end
    }
}
