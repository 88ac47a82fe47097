//! HTTP/2 frame-level flood guard for the downstream (client-facing) side of an h2c server.
//!
//! [`H2Guard`] wraps the client connection *below* hyper/h2. Every byte is passed through
//! unchanged; on the way in, the guard parses the 24-byte client preface and then only the
//! 9-byte frame headers (plus at most 4 payload bytes of a few frame types: the pad length of
//! padded DATA/HEADERS and the WINDOW_UPDATE increment). Payloads are counted and skipped, never
//! buffered: the guard's whole state is a fixed-size struct (see the `guard_state_is_fixed_size`
//! test), however the client splits or floods its frames.
//!
//! What it limits (thresholds in [`Limits`], all per connection):
//! - rates of RST_STREAM (Rapid Reset, CVE-2023-44487), SETTINGS, PING, PRIORITY and
//!   WINDOW_UPDATE frames, of "empty" frames (DATA with no data and no END_STREAM, HEADERS or
//!   CONTINUATION with an empty fragment, WINDOW_UPDATE of 0, unsolicited ACKs, unknown
//!   extension frames, client GOAWAYs) and, optionally, of new streams; each is a token bucket
//!   (a sustained rate plus a burst);
//! - CONTINUATION floods: the encoded size of one header block (HEADERS + CONTINUATIONs up to
//!   END_HEADERS) and the number of CONTINUATION frames in it; a frame other than the block's
//!   CONTINUATION inside a block is a protocol error;
//! - any frame longer than the SETTINGS_MAX_FRAME_SIZE we advertise (checked on the header,
//!   before its payload arrives).
//!
//! h2 itself bounds other things (concurrent streams, decoded header list size, pending-accept
//! resets, locally reset streams, CONTINUATION count since 0.4.4): [`server_builder_settings`]
//! sets those on hyper's HTTP/2 builder to values that fit the guard.
//!
//! # On a violation
//! 1. The violation is recorded ([`H2Guard::violation`], [`GuardReport`]) and logged at debug.
//!    h2 gets the bytes before the offending frame, and never again a byte from the client.
//! 2. The guard writes its own GOAWAY (last-stream-id = the highest client stream id h2 was
//!    given, lowered to any GOAWAY h2 already sent; error code ENHANCE_YOUR_CALM for floods,
//!    FRAME_SIZE_ERROR for an oversized frame, PROTOCOL_ERROR for a broken header block; the
//!    violation's name as debug data), flushes and shuts down the write side (FIN).
//!    *Write ordering:* the guard tracks frame boundaries in what h2 writes too. If h2 is in the
//!    middle of a frame (a partial write), its following writes are still passed on, cut at the
//!    end of that frame; at the first frame boundary the GOAWAY goes out, and from then on
//!    everything h2 writes is swallowed (reported as written). So the client sees whole frames,
//!    then the GOAWAY, then EOF. If h2 had written nothing at all yet, an empty SETTINGS frame
//!    is sent first so that the server preface stays valid.
//! 3. It then drains (reads and discards) what the client still sends, until the client's EOF,
//!    [`Limits::drain_bytes`] or [`Limits::close_timeout`] after the violation, so that closing
//!    the socket with unread input does not make the kernel reset the connection before the
//!    client has read the GOAWAY.
//! 4. Finally reads, writes and flushes fail with `ConnectionAborted` (the error wraps the
//!    [`Violation`]), which ends hyper's connection future with an error. `close_timeout` also
//!    bounds steps 2-3 when the client does not read (the socket stays unwritable): the guard gives
//!    up and fails the connection without a GOAWAY.
//!
//! If the first bytes are not the HTTP/2 client preface the guard switches itself off and passes
//! everything through (so it can sit below a protocol sniffer that also serves HTTP/1.1).
//!
//! Reading the guard needs a tokio runtime with the time driver when `close_timeout` is not
//! zero (the proxy's workers use `enable_all`).

// Some accessors (`violation`, `frames_read`, `get_ref`, `ViolationKind::ALL`, ...) are for
// callers to come.
#![allow(dead_code)]

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Length of an HTTP/2 frame header.
const HEAD_LEN: usize = 9;

// Frame types (RFC 9113 §6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

// Flags.
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_ACK: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;

// Error codes (RFC 9113 §7).
const PROTOCOL_ERROR: u32 = 0x1;
const FRAME_SIZE_ERROR: u32 = 0x6;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// A token bucket: `burst` frames at once, refilled at `per_second`. A frame that finds the
/// bucket empty is a violation. `burst: 0` makes every such frame a violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_second: u32, burst: u32) -> Rate {
        Rate { per_second, burst }
    }
}

/// Thresholds of the guard, all per connection. [`Limits::default`] documents the defaults;
/// they are far above what browsers, curl, gRPC and h2load send, and far below a flood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame payload accepted: must equal the SETTINGS_MAX_FRAME_SIZE the server
    /// advertises (16 384, h2's and hyper's default; [`server_builder_settings`] sets both).
    pub max_frame_size: u32,
    /// Largest encoded header block (HEADERS or PUSH_PROMISE + CONTINUATIONs, whole frame
    /// payloads counted) in bytes. Default 64 KiB.
    pub max_header_block_bytes: u32,
    /// Most CONTINUATION frames in one header block. Default 16 (64 KiB needs 4 full frames).
    pub max_continuation_frames: u32,
    /// RST_STREAM frames (Rapid Reset). Default 100/s, burst 200.
    pub rst_stream: Rate,
    /// SETTINGS frames without ACK. Default 10/s, burst 20.
    pub settings: Rate,
    /// PING frames without ACK. Default 20/s, burst 50.
    pub ping: Rate,
    /// PRIORITY frames. Default 100/s, burst 200.
    pub priority: Rate,
    /// WINDOW_UPDATE frames with a non-zero increment. Each DATA frame the server writes adds
    /// 2 tokens (the client may answer it with a stream and a connection update), so fast
    /// downloads are never limited. Default 200/s, burst 1000.
    pub window_update: Rate,
    /// "Empty" frames: DATA with no data (after padding) and no END_STREAM, HEADERS or
    /// CONTINUATION with an empty header block fragment, WINDOW_UPDATE with increment 0, PING
    /// and SETTINGS ACKs beyond the PINGs and SETTINGS the server sent, GOAWAY, PUSH_PROMISE
    /// and unknown (extension) frame types. Default 100/s, burst 200.
    pub empty_frames: Rate,
    /// HEADERS frames that open a new stream. Default `None` (no limit): a busy client
    /// legitimately opens tens of thousands of streams per second on one connection (h2load),
    /// and concurrency is already bounded by SETTINGS_MAX_CONCURRENT_STREAMS.
    pub new_streams: Option<Rate>,
    /// After a violation: how long the guard keeps trying to deliver the GOAWAY and drain the
    /// client's input before failing the connection. Zero: no waiting and no draining.
    /// Default 2 s.
    pub close_timeout: Duration,
    /// After the GOAWAY: most bytes read and discarded while waiting for the client's EOF.
    /// Default 1 MiB.
    pub drain_bytes: u64,
}

impl Limits {
    /// The defaults, as a constant.
    pub const DEFAULT: Limits = Limits {
        max_frame_size: 16_384,
        max_header_block_bytes: 64 * 1024,
        max_continuation_frames: 16,
        rst_stream: Rate::new(100, 200),
        settings: Rate::new(10, 20),
        ping: Rate::new(20, 50),
        priority: Rate::new(100, 200),
        window_update: Rate::new(200, 1000),
        empty_frames: Rate::new(100, 200),
        new_streams: None,
        close_timeout: Duration::from_secs(2),
        drain_bytes: 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// What the client did wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// Too many RST_STREAM frames (Rapid Reset).
    RstStreamFlood,
    /// Too many SETTINGS frames.
    SettingsFlood,
    /// Too many PING frames.
    PingFlood,
    /// Too many PRIORITY frames.
    PriorityFlood,
    /// Too many WINDOW_UPDATE frames.
    WindowUpdateFlood,
    /// Too many empty or no-op frames.
    EmptyFrameFlood,
    /// Too many new streams ([`Limits::new_streams`]).
    StreamFlood,
    /// A header block larger than [`Limits::max_header_block_bytes`].
    HeaderBlockTooLarge,
    /// More CONTINUATION frames in one header block than [`Limits::max_continuation_frames`].
    TooManyContinuations,
    /// A frame longer than [`Limits::max_frame_size`].
    FrameTooLarge,
    /// A CONTINUATION outside a header block, or another frame inside one.
    BrokenHeaderBlock,
}

impl ViolationKind {
    /// Every kind, for metrics.
    pub const ALL: [ViolationKind; 11] = [
        ViolationKind::RstStreamFlood,
        ViolationKind::SettingsFlood,
        ViolationKind::PingFlood,
        ViolationKind::PriorityFlood,
        ViolationKind::WindowUpdateFlood,
        ViolationKind::EmptyFrameFlood,
        ViolationKind::StreamFlood,
        ViolationKind::HeaderBlockTooLarge,
        ViolationKind::TooManyContinuations,
        ViolationKind::FrameTooLarge,
        ViolationKind::BrokenHeaderBlock,
    ];

    /// A short snake_case name: a metrics label, and the GOAWAY's debug data.
    pub const fn as_str(self) -> &'static str {
        match self {
            ViolationKind::RstStreamFlood => "rst_stream_flood",
            ViolationKind::SettingsFlood => "settings_flood",
            ViolationKind::PingFlood => "ping_flood",
            ViolationKind::PriorityFlood => "priority_flood",
            ViolationKind::WindowUpdateFlood => "window_update_flood",
            ViolationKind::EmptyFrameFlood => "empty_frame_flood",
            ViolationKind::StreamFlood => "stream_flood",
            ViolationKind::HeaderBlockTooLarge => "header_block_too_large",
            ViolationKind::TooManyContinuations => "too_many_continuations",
            ViolationKind::FrameTooLarge => "frame_too_large",
            ViolationKind::BrokenHeaderBlock => "broken_header_block",
        }
    }

    /// The HTTP/2 error code the GOAWAY carries.
    pub const fn error_code(self) -> u32 {
        match self {
            ViolationKind::FrameTooLarge => FRAME_SIZE_ERROR,
            ViolationKind::BrokenHeaderBlock => PROTOCOL_ERROR,
            _ => ENHANCE_YOUR_CALM,
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A violation, for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    /// Type of the frame that tripped the guard.
    pub frame_type: u8,
    /// Its stream id.
    pub stream_id: u32,
    /// Frames read from the client, that one included.
    pub frames_read: u64,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP/2 flood guard: {} (frame type {:#x} on stream {}, frame {} of the connection)",
            self.kind, self.frame_type, self.stream_id, self.frames_read
        )
    }
}

impl std::error::Error for Violation {}

/// A handle to a guard's violation that outlives the guard (hyper owns the guard until the
/// connection ends).
#[derive(Clone, Debug, Default)]
pub struct GuardReport(Arc<ReportInner>);

#[derive(Debug, Default)]
struct ReportInner {
    violation: OnceLock<Violation>,
    /// The violation came while h2 was in the middle of writing a frame.
    #[cfg(test)]
    mid_frame: std::sync::atomic::AtomicBool,
}

impl GuardReport {
    /// The violation, if the connection had one.
    pub fn get(&self) -> Option<Violation> {
        self.0.violation.get().copied()
    }
}

/// Makes hyper's HTTP/2 server fit the guard, and bounds what h2 itself tracks. Sets:
///
/// | method | value | why |
/// | --- | --- | --- |
/// | `max_frame_size` | `limits.max_frame_size` | the guard rejects longer frames |
/// | `max_concurrent_streams` | 100 ([`MAX_CONCURRENT_STREAMS`]) | RFC's recommended minimum; bounds per-connection state |
/// | `max_header_list_size` | 64 KiB ([`MAX_HEADER_LIST_SIZE`]) | decoded size (HPACK can amplify the encoded size the guard bounds); larger: 431 on the stream |
/// | `max_pending_accept_reset_streams` | 20 | h2's Rapid Reset bound, made explicit |
/// | `max_local_error_reset_streams` | 256 | streams h2 resets for the client's errors before GOAWAY |
/// | `initial_stream_window_size` | 256 KiB | request body bytes buffered per stream |
/// | `initial_connection_window_size` | 1 MiB | request body bytes buffered per connection, all streams |
/// | `max_send_buf_size` | 128 KiB | response bytes queued per stream beyond the client's window |
/// | `keep_alive_interval` / `keep_alive_timeout` | 20 s / 10 s | find dead peers |
/// | `timer` | `hyper_util::rt::TokioTimer` | needed by the keep-alive |
///
/// `header_table_size` stays at 4096 and `adaptive_window` off (setting the window sizes
/// turns it off; it would send a PING per round trip).
pub fn server_builder_settings<'a, E>(
    builder: &'a mut hyper::server::conn::http2::Builder<E>,
    limits: &Limits,
) -> &'a mut hyper::server::conn::http2::Builder<E> {
    builder
        .max_frame_size(limits.max_frame_size)
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(MAX_LOCAL_ERROR_RESET_STREAMS)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_send_buf_size(MAX_SEND_BUF_SIZE)
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .timer(hyper_util::rt::TokioTimer::new())
}

/// SETTINGS_MAX_CONCURRENT_STREAMS for client connections.
pub const MAX_CONCURRENT_STREAMS: u32 = 100;
/// SETTINGS_MAX_HEADER_LIST_SIZE (decoded) for client connections.
pub const MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;
/// h2's bound on streams reset by the client before the server accepted them.
pub const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// h2's bound on streams it resets because of the client's errors.
pub const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 256;
/// SETTINGS_INITIAL_WINDOW_SIZE for client connections.
pub const STREAM_WINDOW: u32 = 256 * 1024;
/// Connection-level receive window for client connections.
pub const CONNECTION_WINDOW: u32 = 1024 * 1024;
/// Response bytes h2 queues per stream.
pub const MAX_SEND_BUF_SIZE: usize = 128 * 1024;
/// HTTP/2 keep-alive PING interval.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// HTTP/2 keep-alive PING timeout.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

// ===== frame scanning =====

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FrameHead {
    len: u32,
    ty: u8,
    flags: u8,
    stream: u32,
}

impl FrameHead {
    fn parse(b: &[u8; HEAD_LEN]) -> FrameHead {
        FrameHead {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            ty: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// What a [`Scanner`] reports to.
trait FrameSink {
    /// A frame header is complete. Returns how many payload bytes (0..=4) to capture.
    fn on_head(&mut self, head: &FrameHead) -> Result<u8, Violation>;
    /// The requested payload bytes are in (fewer if the frame is shorter).
    fn on_capture(&mut self, head: &FrameHead, bytes: &[u8]) -> Result<(), Violation>;
}

/// Splits a byte stream into frames, however it is chunked, keeping only a frame header and
/// up to 4 payload bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Scanner {
    head: [u8; HEAD_LEN],
    head_len: u8,
    cur: FrameHead,
    cap: [u8; 4],
    cap_len: u8,
    cap_need: u8,
    /// Payload bytes of the current frame not seen yet.
    left: u32,
}

impl Scanner {
    /// Between two frames.
    fn at_boundary(&self) -> bool {
        self.head_len == 0 && self.left == 0
    }

    /// When not at a boundary: how many bytes may pass before the next boundary (or before the
    /// current header is complete and the payload length known).
    fn bytes_to_boundary(&self) -> usize {
        if self.left > 0 {
            self.left as usize
        } else {
            HEAD_LEN - self.head_len as usize
        }
    }

    /// Scans `data`. On a violation, also returns where in `data` the offending frame began
    /// (0 if it began in an earlier chunk).
    fn feed<S: FrameSink>(&mut self, data: &[u8], sink: &mut S) -> Result<(), (usize, Violation)> {
        let mut rest = data;
        let mut frame_start = 0;
        while !rest.is_empty() {
            let pos = data.len() - rest.len();
            let data = rest;
            if self.left == 0 {
                let at = self.head_len as usize;
                if at == 0 {
                    frame_start = pos;
                }
                let take = (HEAD_LEN - at).min(data.len());
                self.head[at..at + take].copy_from_slice(&data[..take]);
                self.head_len += take as u8;
                rest = &data[take..];
                if (self.head_len as usize) < HEAD_LEN {
                    continue;
                }
                self.head_len = 0;
                let head = FrameHead::parse(&self.head);
                self.cur = head;
                let want = sink.on_head(&head).map_err(|v| (frame_start, v))?;
                self.cap_need = (want.min(4) as u32).min(head.len) as u8;
                self.cap_len = 0;
                self.left = head.len;
            } else {
                let take = (self.left as usize).min(data.len());
                if self.cap_len < self.cap_need {
                    let at = self.cap_len as usize;
                    let c = (self.cap_need - self.cap_len).min(take as u8) as usize;
                    self.cap[at..at + c].copy_from_slice(&data[..c]);
                    self.cap_len += c as u8;
                    if self.cap_len == self.cap_need {
                        let cap = self.cap;
                        sink.on_capture(&self.cur, &cap[..self.cap_need as usize])
                            .map_err(|v| (frame_start, v))?;
                    }
                }
                self.left -= take as u32;
                rest = &data[take..];
            }
        }
        Ok(())
    }
}

/// A token bucket's state.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(rate.burst),
            last: now,
        }
    }

    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + elapsed * f64::from(rate.per_second)).min(f64::from(rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn credit(&mut self, rate: Rate, n: f64) {
        self.tokens = (self.tokens + n).min(f64::from(rate.burst));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counter {
    RstStream,
    Settings,
    Ping,
    Priority,
    WindowUpdate,
    Empty,
    Streams,
}

const COUNTERS: usize = 7;

impl Counter {
    fn kind(self) -> ViolationKind {
        match self {
            Counter::RstStream => ViolationKind::RstStreamFlood,
            Counter::Settings => ViolationKind::SettingsFlood,
            Counter::Ping => ViolationKind::PingFlood,
            Counter::Priority => ViolationKind::PriorityFlood,
            Counter::WindowUpdate => ViolationKind::WindowUpdateFlood,
            Counter::Empty => ViolationKind::EmptyFrameFlood,
            Counter::Streams => ViolationKind::StreamFlood,
        }
    }
}

/// An open header block (HEADERS or PUSH_PROMISE without END_HEADERS).
#[derive(Clone, Copy, Debug)]
struct Block {
    stream: u32,
    bytes: u64,
    continuations: u32,
}

/// The rules applied to frames read from the client.
#[derive(Debug)]
struct RxPolicy {
    limits: Limits,
    /// Time of the read being inspected.
    now: Instant,
    buckets: [Bucket; COUNTERS],
    block: Option<Block>,
    /// Highest client stream id seen on a HEADERS frame.
    max_stream: u32,
    /// `max_stream` before the current frame.
    max_stream_before: u32,
    frames: u64,
    /// PING ACKs the client owes for PINGs the server sent.
    pings_owed: u32,
    /// SETTINGS ACKs the client owes for SETTINGS the server sent.
    settings_acks_owed: u32,
}

impl RxPolicy {
    fn new(limits: Limits) -> RxPolicy {
        let now = Instant::now();
        let mut buckets = [Bucket::full(Rate::new(0, 0), now); COUNTERS];
        for (i, b) in buckets.iter_mut().enumerate() {
            if let Some(rate) = Self::rate_of(&limits, i) {
                *b = Bucket::full(rate, now);
            }
        }
        RxPolicy {
            limits,
            now,
            buckets,
            block: None,
            max_stream: 0,
            max_stream_before: 0,
            frames: 0,
            pings_owed: 0,
            settings_acks_owed: 0,
        }
    }

    fn rate_of(limits: &Limits, i: usize) -> Option<Rate> {
        Some(match i {
            0 => limits.rst_stream,
            1 => limits.settings,
            2 => limits.ping,
            3 => limits.priority,
            4 => limits.window_update,
            5 => limits.empty_frames,
            _ => return limits.new_streams,
        })
    }

    fn violation(&self, kind: ViolationKind, head: &FrameHead) -> Violation {
        Violation {
            kind,
            frame_type: head.ty,
            stream_id: head.stream,
            frames_read: self.frames,
        }
    }

    fn count(&mut self, c: Counter, head: &FrameHead) -> Result<(), Violation> {
        let i = c as usize;
        let Some(rate) = Self::rate_of(&self.limits, i) else {
            return Ok(());
        };
        if self.buckets[i].take(rate, self.now) {
            Ok(())
        } else {
            Err(self.violation(c.kind(), head))
        }
    }

    /// The server wrote a DATA frame: the client may answer with two WINDOW_UPDATEs.
    fn credit_window_updates(&mut self) {
        let i = Counter::WindowUpdate as usize;
        self.buckets[i].credit(self.limits.window_update, 2.0);
    }

    /// DATA frame with `data_len` bytes of data.
    fn check_data(&mut self, head: &FrameHead, data_len: u32) -> Result<(), Violation> {
        if data_len == 0 && !head.has(FLAG_END_STREAM) {
            self.count(Counter::Empty, head)?;
        }
        Ok(())
    }

    /// HEADERS frame whose padding is `pad` bytes (pad length field included).
    fn check_headers_fragment(&mut self, head: &FrameHead, pad: u32) -> Result<(), Violation> {
        let prio = if head.has(FLAG_PRIORITY) { 5 } else { 0 };
        if head.len.saturating_sub(pad).saturating_sub(prio) == 0 {
            self.count(Counter::Empty, head)?;
        }
        Ok(())
    }

    fn open_block(&mut self, head: &FrameHead) -> Result<(), Violation> {
        if head.len > self.limits.max_header_block_bytes {
            return Err(self.violation(ViolationKind::HeaderBlockTooLarge, head));
        }
        if !head.has(FLAG_END_HEADERS) {
            self.block = Some(Block {
                stream: head.stream,
                bytes: u64::from(head.len),
                continuations: 0,
            });
        }
        Ok(())
    }
}

impl FrameSink for RxPolicy {
    fn on_head(&mut self, head: &FrameHead) -> Result<u8, Violation> {
        self.frames += 1;
        self.max_stream_before = self.max_stream;
        if head.len > self.limits.max_frame_size {
            return Err(self.violation(ViolationKind::FrameTooLarge, head));
        }
        if let Some(mut block) = self.block {
            if head.ty != CONTINUATION || head.stream != block.stream {
                return Err(self.violation(ViolationKind::BrokenHeaderBlock, head));
            }
            block.continuations += 1;
            block.bytes += u64::from(head.len);
            if block.continuations > self.limits.max_continuation_frames {
                return Err(self.violation(ViolationKind::TooManyContinuations, head));
            }
            if block.bytes > u64::from(self.limits.max_header_block_bytes) {
                return Err(self.violation(ViolationKind::HeaderBlockTooLarge, head));
            }
            self.block = if head.has(FLAG_END_HEADERS) {
                None
            } else {
                Some(block)
            };
            if head.len == 0 {
                self.count(Counter::Empty, head)?;
            }
            return Ok(0);
        }
        match head.ty {
            DATA => {
                if head.has(FLAG_PADDED) && head.len > 0 {
                    return Ok(1);
                }
                self.check_data(head, head.len)?;
            }
            HEADERS => {
                if head.stream % 2 == 1 && head.stream > self.max_stream {
                    self.max_stream = head.stream;
                    self.count(Counter::Streams, head)?;
                }
                self.open_block(head)?;
                if head.has(FLAG_PADDED) && head.len > 0 {
                    return Ok(1);
                }
                self.check_headers_fragment(head, 0)?;
            }
            PRIORITY => self.count(Counter::Priority, head)?,
            RST_STREAM => self.count(Counter::RstStream, head)?,
            SETTINGS if head.has(FLAG_ACK) => {
                if self.settings_acks_owed > 0 {
                    self.settings_acks_owed -= 1;
                } else {
                    self.count(Counter::Empty, head)?;
                }
            }
            SETTINGS => self.count(Counter::Settings, head)?,
            PING if head.has(FLAG_ACK) => {
                if self.pings_owed > 0 {
                    self.pings_owed -= 1;
                } else {
                    self.count(Counter::Empty, head)?;
                }
            }
            PING => self.count(Counter::Ping, head)?,
            WINDOW_UPDATE => return Ok(4),
            CONTINUATION => return Err(self.violation(ViolationKind::BrokenHeaderBlock, head)),
            PUSH_PROMISE => {
                // A client must not push (h2 answers PROTOCOL_ERROR); keep the block state right.
                self.count(Counter::Empty, head)?;
                self.open_block(head)?;
            }
            _ => self.count(Counter::Empty, head)?,
        }
        Ok(0)
    }

    fn on_capture(&mut self, head: &FrameHead, bytes: &[u8]) -> Result<(), Violation> {
        match head.ty {
            DATA => {
                let pad = 1 + u32::from(bytes[0]);
                self.check_data(head, head.len.saturating_sub(pad))
            }
            HEADERS => self.check_headers_fragment(head, 1 + u32::from(bytes[0])),
            WINDOW_UPDATE if bytes.len() == 4 => {
                let increment =
                    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & 0x7fff_ffff;
                if increment == 0 {
                    self.count(Counter::Empty, head)
                } else {
                    self.count(Counter::WindowUpdate, head)
                }
            }
            // A short WINDOW_UPDATE: h2 answers FRAME_SIZE_ERROR.
            _ => Ok(()),
        }
    }
}

/// What the guard learns from the frames h2 writes.
struct TxSink<'a> {
    rx: &'a mut RxPolicy,
    frames: &'a mut u64,
    /// Lowest last-stream-id of the GOAWAYs h2 wrote.
    goaway_last: &'a mut Option<u32>,
}

impl FrameSink for TxSink<'_> {
    fn on_head(&mut self, head: &FrameHead) -> Result<u8, Violation> {
        *self.frames += 1;
        match head.ty {
            DATA => self.rx.credit_window_updates(),
            PING if !head.has(FLAG_ACK) => {
                self.rx.pings_owed = self.rx.pings_owed.saturating_add(1);
            }
            SETTINGS if !head.has(FLAG_ACK) => {
                self.rx.settings_acks_owed = self.rx.settings_acks_owed.saturating_add(1);
            }
            GOAWAY => return Ok(4),
            _ => {}
        }
        Ok(0)
    }

    fn on_capture(&mut self, head: &FrameHead, bytes: &[u8]) -> Result<(), Violation> {
        if head.ty == GOAWAY && bytes.len() == 4 {
            let last = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & 0x7fff_ffff;
            *self.goaway_last = Some(self.goaway_last.map_or(last, |l| l.min(last)));
        }
        Ok(())
    }
}

// ===== the guard =====

/// Longest debug data in our GOAWAY.
const MAX_DEBUG: usize = 32;
/// An empty SETTINGS frame, then a GOAWAY with its debug data.
const GOAWAY_BUF: usize = HEAD_LEN + HEAD_LEN + 8 + MAX_DEBUG;

/// Where the guard's own GOAWAY is.
#[derive(Clone, Copy, Debug)]
enum Goaway {
    /// No violation.
    Idle,
    /// Violation; h2 is in the middle of writing a frame.
    Waiting,
    Writing {
        buf: [u8; GOAWAY_BUF],
        len: u8,
        pos: u8,
    },
    Flushing,
    ShuttingDown,
    /// Sent, or given up.
    Done,
}

/// Builds the guard's GOAWAY: an empty SETTINGS first if the server has sent no frame yet.
fn encode_goaway(
    last_stream: u32,
    code: u32,
    debug: &str,
    settings_first: bool,
) -> ([u8; GOAWAY_BUF], u8) {
    let mut buf = [0u8; GOAWAY_BUF];
    let mut at = 0;
    if settings_first {
        buf[3] = SETTINGS;
        at = HEAD_LEN;
    }
    let debug = &debug.as_bytes()[..debug.len().min(MAX_DEBUG)];
    let len = (8 + debug.len()) as u32;
    buf[at..at + 3].copy_from_slice(&len.to_be_bytes()[1..]);
    buf[at + 3] = GOAWAY;
    at += HEAD_LEN;
    buf[at..at + 4].copy_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    buf[at + 4..at + 8].copy_from_slice(&code.to_be_bytes());
    at += 8;
    buf[at..at + debug.len()].copy_from_slice(debug);
    at += debug.len();
    (buf, at as u8)
}

/// Wraps the client side of an HTTP/2 (h2c) server connection; see the module docs.
///
/// Reading and writing need `T: AsyncRead + AsyncWrite + Unpin` (the guard writes its GOAWAY
/// from whichever side notices first); box-pin a `!Unpin` stream. The guard is `Unpin` when
/// `T` is.
pub struct H2Guard<T> {
    inner: T,
    /// Bytes of the client preface still to check.
    preface_left: u8,
    /// Not HTTP/2: inspect nothing.
    passthrough: bool,
    rx_scan: Scanner,
    rx: RxPolicy,
    /// Highest client stream id in what was passed to h2.
    passed_stream: u32,
    tx_scan: Scanner,
    tx_frames: u64,
    tx_goaway_last: Option<u32>,
    violation: Option<Violation>,
    report: GuardReport,
    goaway: Goaway,
    /// The reader waiting for h2 to finish a frame.
    read_waker: Option<Waker>,
    /// Runs out `close_timeout` after the violation.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    drained: u64,
    /// Everything is over: reads, writes and flushes fail.
    finished: bool,
}

impl<T> H2Guard<T> {
    pub fn new(inner: T, limits: Limits) -> H2Guard<T> {
        H2Guard {
            inner,
            preface_left: PREFACE.len() as u8,
            passthrough: false,
            rx_scan: Scanner::default(),
            rx: RxPolicy::new(limits),
            passed_stream: 0,
            tx_scan: Scanner::default(),
            tx_frames: 0,
            tx_goaway_last: None,
            violation: None,
            report: GuardReport::default(),
            goaway: Goaway::Idle,
            read_waker: None,
            deadline: None,
            drained: 0,
            finished: false,
        }
    }

    /// What tripped the guard, if anything did.
    pub fn violation(&self) -> Option<Violation> {
        self.violation
    }

    /// A handle that tells the violation after hyper has dropped the guard.
    pub fn report(&self) -> GuardReport {
        self.report.clone()
    }

    /// Frames read from the client so far.
    pub fn frames_read(&self) -> u64 {
        self.rx.frames
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.rx.limits
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    pub fn into_inner(self) -> T {
        self.inner
    }

    fn aborted(&self) -> io::Error {
        match self.violation {
            Some(v) => io::Error::new(io::ErrorKind::ConnectionAborted, v),
            None => io::Error::from(io::ErrorKind::ConnectionAborted),
        }
    }

    /// Inspects bytes just read from the client. On a violation, also returns how many of them
    /// come before the offending frame.
    fn inspect(&mut self, data: &[u8]) -> Result<(), (usize, Violation)> {
        let mut skipped = 0;
        if self.preface_left > 0 {
            let at = PREFACE.len() - self.preface_left as usize;
            let take = data.len().min(self.preface_left as usize);
            if data[..take] != PREFACE[at..at + take] {
                tracing::debug!("h2 guard: no HTTP/2 client preface, passing through");
                self.passthrough = true;
                return Ok(());
            }
            self.preface_left -= take as u8;
            skipped = take;
        }
        if data.len() == skipped {
            return Ok(());
        }
        self.rx.now = Instant::now();
        match self.rx_scan.feed(&data[skipped..], &mut self.rx) {
            Ok(()) => {
                self.passed_stream = self.rx.max_stream;
                Ok(())
            }
            Err((start, v)) => {
                self.passed_stream = self.rx.max_stream_before;
                Err((skipped + start, v))
            }
        }
    }

    /// Notes bytes h2 got written.
    fn wrote(&mut self, data: &[u8]) {
        if self.passthrough || data.is_empty() {
            return;
        }
        let mut sink = TxSink {
            rx: &mut self.rx,
            frames: &mut self.tx_frames,
            goaway_last: &mut self.tx_goaway_last,
        };
        // The sink never fails.
        let _ = self.tx_scan.feed(data, &mut sink);
    }

    fn flag(&mut self, v: Violation) {
        tracing::debug!(violation = %v, "h2 guard: closing the connection");
        self.violation = Some(v);
        let _ = self.report.0.violation.set(v);
        #[cfg(test)]
        self.report.0.mid_frame.store(
            !self.tx_scan.at_boundary(),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.goaway = Goaway::Waiting;
        let timeout = self.rx.limits.close_timeout;
        if !timeout.is_zero() {
            self.deadline = Some(Box::pin(tokio::time::sleep(timeout)));
        }
    }

    /// Whether `close_timeout` has run out (with no timeout: at once). Registers the waker.
    fn deadline_passed(&mut self, cx: &mut Context<'_>) -> bool {
        match self.deadline.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => true,
        }
    }

    fn finish(&mut self) {
        self.finished = true;
        self.goaway = Goaway::Done;
        self.deadline = None;
        self.wake_reader();
    }

    fn wake_reader(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> H2Guard<T> {
    /// Moves the GOAWAY along: Ready once it is written, flushed and the write side shut down
    /// (or that failed). Pending while h2 is mid-frame (no waker registered: h2's own write is
    /// pending then, or about to go on) or while the socket is not writable.
    fn drive_goaway(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match &mut self.goaway {
                Goaway::Idle | Goaway::Done => return Poll::Ready(()),
                Goaway::Waiting => {
                    if !self.tx_scan.at_boundary() {
                        return Poll::Pending;
                    }
                    let v = self
                        .violation
                        .expect("waiting for a GOAWAY without a violation");
                    let last = match self.tx_goaway_last {
                        Some(l) => l.min(self.passed_stream),
                        None => self.passed_stream,
                    };
                    let (buf, len) = encode_goaway(
                        last,
                        v.kind.error_code(),
                        v.kind.as_str(),
                        self.tx_frames == 0,
                    );
                    self.goaway = Goaway::Writing { buf, len, pos: 0 };
                }
                Goaway::Writing { buf, len, pos } => {
                    while *pos < *len {
                        match Pin::new(&mut self.inner)
                            .poll_write(cx, &buf[*pos as usize..*len as usize])
                        {
                            Poll::Pending => return Poll::Pending,
                            Poll::Ready(Ok(n)) if n > 0 => *pos += n as u8,
                            Poll::Ready(_) => {
                                self.goaway = Goaway::Done;
                                return Poll::Ready(());
                            }
                        }
                    }
                    self.goaway = Goaway::Flushing;
                }
                Goaway::Flushing => match Pin::new(&mut self.inner).poll_flush(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => self.goaway = Goaway::ShuttingDown,
                    Poll::Ready(Err(_)) => self.goaway = Goaway::Done,
                },
                Goaway::ShuttingDown => {
                    if Pin::new(&mut self.inner).poll_shutdown(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.goaway = Goaway::Done;
                }
            }
        }
    }

    /// Something would wait after a violation: whether to give up instead (`close_timeout`
    /// has run out). Registers the waker for the timeout.
    fn give_up(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deadline_passed(cx) {
            self.finish();
            true
        } else {
            false
        }
    }

    /// Reads after a violation: GOAWAY, drain, then the error.
    fn poll_read_violated(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.finished && self.drive_goaway(cx).is_pending() && !self.give_up(cx) {
            self.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        while !self.finished {
            if self.drained >= self.rx.limits.drain_bytes || self.deadline_passed(cx) {
                break;
            }
            let before = buf.filled().len();
            match Pin::new(&mut self.inner).poll_read(cx, buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => break,
                Poll::Ready(Ok(())) => {
                    let n = buf.filled().len() - before;
                    buf.set_filled(before);
                    if n == 0 {
                        break;
                    }
                    self.drained += n as u64;
                }
            }
        }
        self.finish();
        Poll::Ready(Err(self.aborted()))
    }

    /// Writes after a violation. `Some` is the answer; `None`: the GOAWAY is out, swallow.
    fn poll_write_violated(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        if self.finished {
            return Some(Poll::Ready(Err(self.aborted())));
        }
        if matches!(self.goaway, Goaway::Waiting) && !self.tx_scan.at_boundary() {
            // Finish h2's frame, not a byte more.
            let cut = buf.len().min(self.tx_scan.bytes_to_boundary());
            let n = match Pin::new(&mut self.inner).poll_write(cx, &buf[..cut]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => {
                    self.finish();
                    return Some(Poll::Ready(Err(e)));
                }
                Poll::Pending if self.give_up(cx) => {
                    return Some(Poll::Ready(Err(self.aborted())));
                }
                Poll::Pending => return Some(Poll::Pending),
            };
            self.wrote(&buf[..n]);
            if self.tx_scan.at_boundary() {
                self.wake_reader();
                // h2's bytes were taken, so this returns Ready(n) whatever the GOAWAY does; a
                // Pending left a waker behind.
                let _ = self.drive_goaway(cx);
            }
            return Some(Poll::Ready(Ok(n)));
        }
        match self.drive_goaway(cx) {
            Poll::Pending if self.give_up(cx) => Some(Poll::Ready(Err(self.aborted()))),
            Poll::Pending => Some(Poll::Pending),
            Poll::Ready(()) => {
                self.wake_reader();
                None
            }
        }
    }

    fn poll_flush_violated(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.finished {
            return Poll::Ready(Err(self.aborted()));
        }
        if matches!(self.goaway, Goaway::Waiting) && !self.tx_scan.at_boundary() {
            return match Pin::new(&mut self.inner).poll_flush(cx) {
                Poll::Pending if self.give_up(cx) => Poll::Ready(Err(self.aborted())),
                other => other,
            };
        }
        match self.drive_goaway(cx) {
            Poll::Pending if self.give_up(cx) => Poll::Ready(Err(self.aborted())),
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.wake_reader();
                Poll::Ready(Ok(()))
            }
        }
    }

    fn poll_shutdown_violated(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.finished {
            return Poll::Ready(Ok(()));
        }
        if matches!(self.goaway, Goaway::Waiting) && !self.tx_scan.at_boundary() {
            // h2 flushes before it shuts down, so this does not happen; no GOAWAY then.
            self.finish();
            return Pin::new(&mut self.inner).poll_shutdown(cx);
        }
        if self.drive_goaway(cx).is_pending() && !self.give_up(cx) {
            return Poll::Pending;
        }
        self.wake_reader();
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for H2Guard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.violation.is_some() {
            return this.poll_read_violated(cx, buf);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        if this.passthrough {
            return Poll::Ready(Ok(()));
        }
        match this.inspect(&buf.filled()[before..]) {
            Ok(()) => Poll::Ready(Ok(())),
            Err((start, v)) => {
                // h2 gets the frames before the offending one, and nothing from it on.
                buf.set_filled(before + start);
                this.flag(v);
                if start > 0 {
                    Poll::Ready(Ok(()))
                } else {
                    this.poll_read_violated(cx, buf)
                }
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for H2Guard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.violation.is_some() {
            return match this.poll_write_violated(cx, buf) {
                Some(p) => p,
                None => Poll::Ready(Ok(buf.len())),
            };
        }
        let n = match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        this.wrote(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.violation.is_some() {
            let buf = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            let total = bufs.iter().map(|b| b.len()).sum();
            return match this.poll_write_violated(cx, buf) {
                Some(p) => p,
                None => Poll::Ready(Ok(total)),
            };
        }
        let n = match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        let mut left = n;
        for b in bufs {
            if left == 0 {
                break;
            }
            let take = left.min(b.len());
            this.wrote(&b[..take]);
            left -= take;
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.violation.is_some() {
            return this.poll_flush_violated(cx);
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.violation.is_some() {
            return this.poll_shutdown_violated(cx);
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<T> fmt::Debug for H2Guard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Guard")
            .field("frames_read", &self.rx.frames)
            .field("passthrough", &self.passthrough)
            .field("violation", &self.violation)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    // ----- raw frames -----

    fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(HEAD_LEN + payload.len());
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        f.push(ty);
        f.push(flags);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// HPACK for `GET http://localhost/` from static-table entries only (:method GET,
    /// :scheme http, :path /, :authority as a literal without indexing).
    const GET_BLOCK: &[u8] = b"\x82\x86\x84\x01\x09localhost";

    /// A request on `stream` (END_HEADERS, and END_STREAM when `end`).
    fn get(stream: u32, end: bool) -> Vec<u8> {
        let flags = FLAG_END_HEADERS | if end { FLAG_END_STREAM } else { 0 };
        frame(HEADERS, flags, stream, GET_BLOCK)
    }

    /// The client preface and an empty SETTINGS frame.
    fn preamble() -> Vec<u8> {
        let mut p = PREFACE.to_vec();
        p.extend(frame(SETTINGS, 0, 0, &[]));
        p
    }

    fn ping(ack: bool) -> Vec<u8> {
        frame(PING, if ack { FLAG_ACK } else { 0 }, 0, &[7; 8])
    }

    fn window_update(stream: u32, increment: u32) -> Vec<u8> {
        frame(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
    }

    // ----- servers -----

    /// h2's own limits far out of the way, so that the guard is what trips.
    fn loose_h2() -> h2::server::Builder {
        let mut b = h2::server::Builder::new();
        b.max_concurrent_streams(100_000)
            .max_pending_accept_reset_streams(1_000_000)
            .max_local_error_reset_streams(None)
            .max_header_list_size(16 << 20);
        b
    }

    /// Answers every request with 200: an empty body, or 256 KiB for `/big`.
    async fn serve_h2<T: AsyncRead + AsyncWrite + Unpin>(io: T, builder: h2::server::Builder) {
        let Ok(mut conn) = builder.handshake::<_, Bytes>(io).await else {
            return;
        };
        while let Some(Ok((req, mut respond))) = conn.accept().await {
            let big = req.uri().path() == "/big";
            tokio::spawn(async move {
                let Ok(mut body) = respond.send_response(http::Response::new(()), !big) else {
                    return;
                };
                if big {
                    let _ = body.send_data(Bytes::from(vec![b'x'; 256 * 1024]), true);
                }
            });
        }
    }

    const BIG: usize = 1024 * 1024;

    /// Echoes the request body; `/big` answers 1 MiB.
    async fn echo(req: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
        if req.uri().path() == "/big" {
            return Ok(http::Response::new(Full::new(Bytes::from(vec![b'x'; BIG]))));
        }
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        };
        Ok(http::Response::new(Full::new(body)))
    }

    /// hyper's HTTP/2 server with [`server_builder_settings`].
    async fn serve_hyper<T>(io: T)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        server_builder_settings(&mut b, &Limits::DEFAULT);
        let _ = b
            .serve_connection(TokioIo::new(io), hyper::service::service_fn(echo))
            .await;
    }

    // ----- the raw client -----

    #[derive(Debug, Default)]
    struct Seen {
        frames: u64,
        data_frames: u64,
        /// (last-stream-id, error code, debug data)
        goaways: Vec<(u32, u32, Vec<u8>)>,
        frames_after_goaway: u64,
        /// Clean EOF at a frame boundary.
        eof: bool,
        /// A read error (e.g. a reset) ended the reading.
        error: Option<io::ErrorKind>,
    }

    /// Reads into `buf` until full or EOF; returns how much was read.
    async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
        let mut at = 0;
        while at < buf.len() {
            let n = r.read(&mut buf[at..]).await?;
            if n == 0 {
                break;
            }
            at += n;
        }
        Ok(at)
    }

    /// Reads the server's frames until EOF, checking each is well formed.
    async fn read_frames<R: AsyncRead + Unpin>(mut r: R) -> Seen {
        let mut seen = Seen::default();
        let mut head = [0u8; HEAD_LEN];
        loop {
            match read_full(&mut r, &mut head).await {
                Ok(0) => {
                    seen.eof = true;
                    return seen;
                }
                Ok(HEAD_LEN) => {}
                Ok(n) => panic!("EOF inside a frame header ({n} bytes): {seen:?}"),
                Err(e) => {
                    seen.error = Some(e.kind());
                    return seen;
                }
            }
            let h = FrameHead::parse(&head);
            assert!(
                h.ty <= CONTINUATION && h.len <= 16_384,
                "malformed frame from the server: {h:?} after {seen:?}"
            );
            let mut payload = vec![0u8; h.len as usize];
            match read_full(&mut r, &mut payload).await {
                Ok(n) if n == payload.len() => {}
                Ok(n) => panic!("EOF inside a {h:?} frame ({n} bytes): {seen:?}"),
                Err(e) => {
                    seen.error = Some(e.kind());
                    return seen;
                }
            }
            seen.frames += 1;
            if h.ty == DATA {
                seen.data_frames += 1;
            }
            if h.ty == GOAWAY {
                assert!(h.len >= 8 && h.stream == 0, "malformed GOAWAY {h:?}");
                let last = u32::from_be_bytes(payload[0..4].try_into().unwrap()) & 0x7fff_ffff;
                let code = u32::from_be_bytes(payload[4..8].try_into().unwrap());
                seen.goaways.push((last, code, payload[8..].to_vec()));
                seen.frames_after_goaway = 0;
            } else {
                seen.frames_after_goaway += 1;
            }
        }
    }

    /// Sends `preamble`, then `unit(0..units)`: as fast as the server reads, or one at a time
    /// every `pace`. Meanwhile reads what the server sends until its EOF (bounded by a timeout).
    async fn flood<T, F>(
        io: T,
        preamble: Vec<u8>,
        pace: Option<Duration>,
        mut unit: F,
        units: u32,
    ) -> Seen
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
        F: FnMut(u32) -> Vec<u8> + Send + 'static,
    {
        let (r, mut w) = tokio::io::split(io);
        let writer = tokio::spawn(async move {
            if w.write_all(&preamble).await.is_err() {
                return;
            }
            let mut batch = Vec::new();
            for i in 0..units {
                batch.extend(unit(i));
                if let Some(pace) = pace {
                    tokio::time::sleep(pace).await;
                }
                if batch.len() >= 16 * 1024 || pace.is_some() {
                    if w.write_all(&batch).await.is_err() {
                        return;
                    }
                    batch.clear();
                }
            }
            let _ = w.write_all(&batch).await;
            // Keep our write side open: the server is the one to close.
            std::future::pending::<()>().await;
        });
        let seen = tokio::time::timeout(Duration::from_secs(10), read_frames(r))
            .await
            .expect("the server did not close the connection in time");
        writer.abort();
        seen
    }

    /// Floods a guarded loose h2 server over a duplex pipe; returns what the client saw and
    /// the guard's violation.
    async fn guarded_flood<F>(
        limits: Limits,
        extra: Vec<u8>,
        unit: F,
        units: u32,
    ) -> (Seen, Option<Violation>)
    where
        F: FnMut(u32) -> Vec<u8> + Send + 'static,
    {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let guard = H2Guard::new(server, limits);
        let report = guard.report();
        let srv = tokio::spawn(serve_h2(guard, loose_h2()));
        let mut pre = preamble();
        pre.extend(extra);
        let seen = flood(client, pre, None, unit, units).await;
        tokio::time::timeout(Duration::from_secs(5), srv)
            .await
            .expect("the server task did not end")
            .unwrap();
        (seen, report.get())
    }

    /// The client read a well-formed GOAWAY with `code` as the last frame, then EOF.
    fn assert_goaway(seen: &Seen, code: u32) -> (u32, Vec<u8>) {
        let Some((last, got, debug)) = seen.goaways.last() else {
            panic!("no GOAWAY: {seen:?}");
        };
        assert_eq!(*got, code, "GOAWAY error code: {seen:?}");
        assert_eq!(
            seen.frames_after_goaway, 0,
            "frames after the GOAWAY: {seen:?}"
        );
        assert!(seen.eof, "no EOF after the GOAWAY: {seen:?}");
        (*last, debug.clone())
    }

    /// A guard violation of `kind` ended the connection with the guard's GOAWAY.
    fn assert_guard_goaway(seen: &Seen, violation: Option<Violation>, kind: ViolationKind) -> u32 {
        let v = violation.unwrap_or_else(|| panic!("no violation; client saw {seen:?}"));
        assert_eq!(v.kind, kind, "{v}");
        let (last, debug) = assert_goaway(seen, kind.error_code());
        assert_eq!(debug, kind.as_str().as_bytes());
        assert_eq!(seen.goaways.len(), 1, "{seen:?}");
        last
    }

    // ----- floods -----

    #[tokio::test]
    async fn rapid_reset_flood() {
        let unit = |i: u32| {
            let id = 2 * i + 1;
            let mut u = get(id, true);
            u.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
            u
        };
        let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 10_000).await;
        let last = assert_guard_goaway(&seen, v, ViolationKind::RstStreamFlood);
        // Streams up to about the 200th were passed to h2.
        assert!(
            last % 2 == 1 && (301..=1201).contains(&last),
            "last stream {last}"
        );
    }

    #[tokio::test]
    async fn settings_flood() {
        let unit = |_| frame(SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 0]);
        let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 1_000).await;
        assert_eq!(
            assert_guard_goaway(&seen, v, ViolationKind::SettingsFlood),
            0
        );
    }

    #[tokio::test]
    async fn ping_flood() {
        let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], |_| ping(false), 5_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::PingFlood);
    }

    #[tokio::test]
    async fn unsolicited_ping_ack_flood() {
        let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], |_| ping(true), 5_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood);
    }

    #[tokio::test]
    async fn priority_flood() {
        let unit = |i: u32| frame(PRIORITY, 0, 2 * i + 1, &[0, 0, 0, 0, 16]);
        let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 5_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::PriorityFlood);
    }

    #[tokio::test]
    async fn window_update_flood() {
        let unit = |_| window_update(0, 1);
        let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 10_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::WindowUpdateFlood);
    }

    #[tokio::test]
    async fn zero_window_update_flood() {
        // On streams (on the connection h2 itself fails at the first one).
        let unit = |i: u32| {
            let mut u = get(2 * i + 1, true);
            u.extend(window_update(2 * i + 1, 0));
            u
        };
        let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 5_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood);
    }

    #[tokio::test]
    async fn empty_data_flood() {
        let unit = |_| frame(DATA, 0, 1, &[]);
        let (seen, v) = guarded_flood(Limits::DEFAULT, get(1, false), unit, 10_000).await;
        assert_eq!(
            assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood),
            1
        );
    }

    #[tokio::test]
    async fn empty_padded_data_flood() {
        // Padding only: as empty as no payload.
        let unit = |_| frame(DATA, FLAG_PADDED, 1, &[3, 0, 0, 0]);
        let (seen, v) = guarded_flood(Limits::DEFAULT, get(1, false), unit, 10_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood);
    }

    #[tokio::test]
    async fn empty_continuation_flood() {
        // Each request's header block ends with an empty CONTINUATION.
        let unit = |i: u32| {
            let id = 2 * i + 1;
            let mut u = frame(HEADERS, FLAG_END_STREAM, id, GET_BLOCK);
            u.extend(frame(CONTINUATION, FLAG_END_HEADERS, id, &[]));
            u
        };
        let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 5_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood);
    }

    #[tokio::test]
    async fn continuation_flood_large_block() {
        // One header block that never ends, in full-size frames.
        let opening = frame(HEADERS, FLAG_END_STREAM, 1, GET_BLOCK);
        // Index 16 of the static table: accept-encoding: gzip, deflate.
        let unit = |_| frame(CONTINUATION, 0, 1, &[0x90; 16_000]);
        let (seen, v) = guarded_flood(Limits::DEFAULT, opening, unit, 1_000).await;
        // Stream 1 never reached h2 whole; it may count as seen.
        assert!(assert_guard_goaway(&seen, v, ViolationKind::HeaderBlockTooLarge) <= 1);
    }

    #[tokio::test]
    async fn continuation_flood_many_frames() {
        let opening = frame(HEADERS, FLAG_END_STREAM, 1, GET_BLOCK);
        let unit = |_| frame(CONTINUATION, 0, 1, &[0x82]);
        let (seen, v) = guarded_flood(Limits::DEFAULT, opening, unit, 1_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::TooManyContinuations);
    }

    #[tokio::test]
    async fn huge_header_block_in_one_request() {
        // 80 KiB of encoded headers (one literal header field) in HEADERS + 4 CONTINUATIONs.
        let mut block = GET_BLOCK.to_vec();
        let value_len: usize = 80 * 1024;
        block.extend_from_slice(&[0x00, 5]);
        block.extend_from_slice(b"x-big");
        hpack_int(&mut block, 0x00, 7, value_len);
        block.resize(block.len() + value_len, b'a');
        let chunks: Vec<&[u8]> = block.chunks(16_384).collect();
        let mut raw = frame(HEADERS, FLAG_END_STREAM, 1, chunks[0]);
        for (i, c) in chunks.iter().enumerate().skip(1) {
            let flags = if i == chunks.len() - 1 {
                FLAG_END_HEADERS
            } else {
                0
            };
            raw.extend(frame(CONTINUATION, flags, 1, c));
        }
        let (seen, v) = guarded_flood(Limits::DEFAULT, raw, |_| vec![], 0).await;
        assert_guard_goaway(&seen, v, ViolationKind::HeaderBlockTooLarge);
    }

    #[tokio::test]
    async fn broken_header_block() {
        let mut raw = frame(HEADERS, FLAG_END_STREAM, 1, GET_BLOCK);
        raw.extend(ping(false));
        let (seen, v) = guarded_flood(Limits::DEFAULT, raw, |_| vec![], 0).await;
        assert_guard_goaway(&seen, v, ViolationKind::BrokenHeaderBlock);
    }

    #[tokio::test]
    async fn oversized_frame() {
        // Only the header of a 1 MiB DATA frame: the guard does not wait for the payload.
        let mut raw = get(1, false);
        raw.extend_from_slice(&[0x10, 0, 0, DATA, 0, 0, 0, 0, 1]);
        let (seen, v) = guarded_flood(Limits::DEFAULT, raw, |_| vec![], 0).await;
        assert_eq!(
            assert_guard_goaway(&seen, v, ViolationKind::FrameTooLarge),
            1
        );
    }

    #[tokio::test]
    async fn new_stream_flood_when_limited() {
        let limits = Limits {
            new_streams: Some(Rate::new(100, 100)),
            ..Limits::DEFAULT
        };
        let (seen, v) = guarded_flood(limits, vec![], |i| get(2 * i + 1, true), 5_000).await;
        assert_guard_goaway(&seen, v, ViolationKind::StreamFlood);
    }

    /// Appends an HPACK integer with an `n`-bit prefix.
    fn hpack_int(out: &mut Vec<u8>, first: u8, n: u32, mut v: usize) {
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

    /// Floods a guarded hyper server (with [`server_builder_settings`]) over a duplex pipe.
    async fn guarded_hyper_flood<F>(
        extra: Vec<u8>,
        unit: F,
        units: u32,
    ) -> (Seen, Option<Violation>)
    where
        F: FnMut(u32) -> Vec<u8> + Send + 'static,
    {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let guard = H2Guard::new(server, Limits::DEFAULT);
        let report = guard.report();
        let srv = tokio::spawn(serve_hyper(guard));
        let mut pre = preamble();
        pre.extend(extra);
        let seen = flood(client, pre, None, unit, units).await;
        tokio::time::timeout(Duration::from_secs(5), srv)
            .await
            .expect("the server task did not end")
            .unwrap();
        (seen, report.get())
    }

    #[tokio::test]
    async fn too_many_streams() {
        // Streams that stay open (no END_STREAM; the service waits for the body), far beyond
        // max_concurrent_streams: h2 refuses them, and ends the connection with GOAWAY after
        // MAX_LOCAL_ERROR_RESET_STREAMS refusals. The guard passes its GOAWAY and EOF along.
        let (seen, v) = guarded_hyper_flood(vec![], |i| get(2 * i + 1, false), 5_000).await;
        assert_eq!(v, None);
        assert_goaway(&seen, ENHANCE_YOUR_CALM);
    }

    #[tokio::test]
    async fn huge_decoded_header_lists() {
        // HPACK amplification: a 3000-byte header in the dynamic table, referenced 30 times
        // per request (91 KiB decoded > MAX_HEADER_LIST_SIZE from 45 encoded bytes). h2
        // refuses each such request; repeated, it ends the connection with GOAWAY.
        let unit = |i: u32| {
            let mut block = GET_BLOCK.to_vec();
            if i == 0 {
                block.extend_from_slice(&[0x40, 5]);
                block.extend_from_slice(b"x-big");
                hpack_int(&mut block, 0x00, 7, 3000);
                block.resize(block.len() + 3000, b'a');
            }
            block.extend_from_slice(&[0x80 | 62; 30]);
            frame(
                HEADERS,
                FLAG_END_STREAM | FLAG_END_HEADERS,
                2 * i + 1,
                &block,
            )
        };
        let (seen, v) = guarded_hyper_flood(vec![], unit, 5_000).await;
        assert_eq!(v, None);
        assert_goaway(&seen, ENHANCE_YOUR_CALM);
    }

    // ----- write side, socket, slow clients -----

    /// Cuts reads to 7 bytes and writes to `max_write`, and answers every other write Pending:
    /// frames straddle every boundary, and h2 is often mid-frame.
    struct Choppy<T> {
        inner: T,
        max_write: usize,
        writes: u64,
    }

    impl<T: AsyncRead + Unpin> AsyncRead for Choppy<T> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let mut small = [0u8; 7];
            let n = small.len().min(buf.remaining());
            let mut tmp = ReadBuf::new(&mut small[..n]);
            match Pin::new(&mut self.inner).poll_read(cx, &mut tmp) {
                Poll::Ready(Ok(())) => {
                    buf.put_slice(tmp.filled());
                    Poll::Ready(Ok(()))
                }
                other => other,
            }
        }
    }

    impl<T: AsyncWrite + Unpin> AsyncWrite for Choppy<T> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes += 1;
            if self.writes.is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = buf.len().min(self.max_write);
            Pin::new(&mut self.inner).poll_write(cx, &buf[..n])
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    #[tokio::test]
    async fn goaway_well_formed_after_partial_writes() {
        // Big responses and PING ACKs are being written, 5 bytes at a time, when the PING flood
        // trips the guard: the client still reads whole frames, then the GOAWAY, then EOF.
        // Until that has happened with h2 mid-frame 3 times.
        let mut mid_frame = 0;
        for _ in 0..50 {
            if mid_frame == 3 {
                break;
            }
            let (client, server) = tokio::io::duplex(64 * 1024);
            let guard = H2Guard::new(
                Choppy {
                    inner: server,
                    max_write: 5,
                    writes: 0,
                },
                Limits::DEFAULT,
            );
            let report = guard.report();
            let srv = tokio::spawn(serve_h2(guard, loose_h2()));
            let mut pre = preamble();
            // 8 MiB windows, and two big responses.
            pre.extend(frame(SETTINGS, 0, 0, &[0, 4, 0, 0x80, 0, 0]));
            pre.extend(window_update(0, 8 << 20));
            pre.extend(frame(
                HEADERS,
                FLAG_END_HEADERS | FLAG_END_STREAM,
                1,
                b"\x82\x86\x04\x04/big\x01\x09localhost",
            ));
            pre.extend(frame(
                HEADERS,
                FLAG_END_HEADERS | FLAG_END_STREAM,
                3,
                b"\x82\x86\x04\x04/big\x01\x09localhost",
            ));
            // One PING per millisecond: h2 reads each between partial writes of its PING ACKs.
            let pace = Some(Duration::from_millis(1));
            let seen = flood(client, pre, pace, |_| ping(false), 2_000).await;
            tokio::time::timeout(Duration::from_secs(5), srv)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                assert_guard_goaway(&seen, report.get(), ViolationKind::PingFlood),
                3
            );
            assert!(seen.data_frames > 0, "{seen:?}");
            if report
                .0
                .mid_frame
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                mid_frame += 1;
            }
        }
        assert_eq!(mid_frame, 3, "the violation never came mid-frame");
    }

    #[tokio::test]
    async fn goaway_delivered_over_tcp() {
        // A real socket, and a client that keeps flooding: the guard drains its input so that
        // the GOAWAY is not lost to a reset.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let srv = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let guard = H2Guard::new(sock, Limits::DEFAULT);
            let report = guard.report();
            serve_h2(guard, loose_h2()).await;
            report.get()
        });
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let seen = flood(client, preamble(), None, |_| ping(false), 200_000).await;
        let v = tokio::time::timeout(Duration::from_secs(5), srv)
            .await
            .unwrap()
            .unwrap();
        assert_guard_goaway(&seen, v, ViolationKind::PingFlood);
    }

    #[tokio::test]
    async fn client_that_does_not_read_is_dropped() {
        // The client floods but never reads: the server's PING ACKs fill the pipe, h2 stalls
        // mid-frame and the GOAWAY cannot be written. The guard gives up after close_timeout.
        let limits = Limits {
            close_timeout: Duration::from_millis(300),
            ..Limits::DEFAULT
        };
        let (mut client, server) = tokio::io::duplex(256);
        let guard = H2Guard::new(server, limits);
        let report = guard.report();
        let srv = tokio::spawn(serve_h2(guard, loose_h2()));
        let mut raw = preamble();
        for _ in 0..2_000 {
            raw.extend(ping(false));
        }
        let writer = tokio::spawn(async move {
            let _ = client.write_all(&raw).await;
            std::future::pending::<()>().await;
        });
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), srv)
            .await
            .expect("the connection was not dropped")
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(report.get().map(|v| v.kind), Some(ViolationKind::PingFlood));
        writer.abort();
    }

    // ----- normal traffic -----

    /// `posts` POSTs with bodies (10 at a time), then `downloads` downloads of 1 MiB, and a few
    /// PINGs, through the guard to hyper's server; returns the guard's violation.
    async fn normal_traffic<T>(
        server_io: T,
        client_io: DuplexStream,
        posts: usize,
        downloads: usize,
    ) -> Option<Violation>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let guard = H2Guard::new(server_io, Limits::DEFAULT);
        let report = guard.report();
        let srv = tokio::spawn(serve_hyper(guard));
        let (send, mut conn) = h2::client::handshake(client_io).await.unwrap();
        let mut pings = conn.ping_pong().unwrap();
        let conn = tokio::spawn(conn);

        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..posts + downloads {
            let send = send.clone();
            tasks.spawn(async move {
                let mut send = send.ready().await.unwrap();
                let (path, body) = if i < posts {
                    ("/echo", vec![i as u8; 1000 + i * 200])
                } else {
                    ("/big", vec![])
                };
                let req = http::Request::post(format!("http://localhost{path}"))
                    .body(())
                    .unwrap();
                let (resp, mut stream) = send.send_request(req, false).unwrap();
                stream.send_data(Bytes::from(body.clone()), true).unwrap();
                let resp = resp.await.unwrap();
                assert_eq!(resp.status(), 200);
                let mut recv = resp.into_body();
                let mut got = Vec::new();
                while let Some(chunk) = recv.data().await {
                    let chunk = chunk.unwrap();
                    got.extend_from_slice(&chunk);
                    recv.flow_control().release_capacity(chunk.len()).unwrap();
                }
                if i < posts {
                    assert_eq!(got, body, "request {i}");
                } else {
                    assert_eq!(got.len(), BIG);
                }
            });
            if tasks.len() >= 10 {
                tasks.join_next().await.unwrap().unwrap();
            }
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        for _ in 0..5 {
            pings.ping(h2::Ping::opaque()).await.unwrap();
        }
        drop(send);
        drop(pings);
        tokio::time::timeout(Duration::from_secs(5), conn)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), srv)
            .await
            .unwrap()
            .unwrap();
        report.get()
    }

    #[tokio::test]
    async fn normal_traffic_passes() {
        let (client, server) = tokio::io::duplex(256 * 1024);
        assert_eq!(normal_traffic(server, client, 100, 30).await, None);
    }

    #[tokio::test]
    async fn normal_traffic_passes_in_tiny_pieces() {
        let (client, server) = tokio::io::duplex(256 * 1024);
        let server = Choppy {
            inner: server,
            max_write: 1000,
            writes: 0,
        };
        assert_eq!(normal_traffic(server, client, 30, 2).await, None);
    }

    #[tokio::test]
    async fn not_http2_passes_through() {
        let (mut client, server) = tokio::io::duplex(4096);
        let mut guard = H2Guard::new(server, Limits::DEFAULT);
        let junk = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\0\0\0\x01\x02\x03\x04\x05\x06\x07";
        client.write_all(junk).await.unwrap();
        client.write_all(&[0xff; 64 * 1024][..2048]).await.unwrap();
        let mut got = vec![0u8; junk.len() + 2048];
        guard.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..junk.len()], junk);
        assert_eq!(guard.violation(), None);
        assert!(guard.passthrough);
        guard.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let mut resp = [0u8; 19];
        client.read_exact(&mut resp).await.unwrap();
        assert_eq!(&resp, b"HTTP/1.1 200 OK\r\n\r\n");
    }

    // ----- unit tests -----

    /// A client byte stream that trips the guard at its last frame.
    fn mixed_stream() -> Vec<u8> {
        let mut s = preamble();
        s.extend(frame(SETTINGS, FLAG_ACK, 0, &[]));
        s.extend(window_update(0, 1 << 20));
        s.extend(frame(HEADERS, FLAG_PADDED, 1, &[2, 0x82, 0x86, 0, 0]));
        s.extend(frame(CONTINUATION, FLAG_END_HEADERS, 1, &[0x84]));
        s.extend(frame(DATA, 0, 1, &[1; 5000]));
        s.extend(frame(
            DATA,
            FLAG_PADDED | FLAG_END_STREAM,
            1,
            &[4, 9, 0, 0, 0, 0],
        ));
        for i in 0..30 {
            s.extend(ping(false));
            s.extend(frame(DATA, 0, 3 + 2 * i, &[]));
        }
        for _ in 0..30 {
            s.extend(ping(false));
        }
        s
    }

    #[test]
    fn any_split_gives_the_same_verdict() {
        let stream = mixed_stream();
        let (start, whole) = {
            let mut g = H2Guard::new((), Limits::DEFAULT);
            g.inspect(&stream).unwrap_err()
        };
        assert_eq!(whole.kind, ViolationKind::PingFlood);
        assert_eq!(whole.frames_read, 7 + 30 * 2 + 21);
        // Where the offending PING begins: h2 gets the bytes before it.
        assert_eq!(start, stream.len() - 10 * 17);
        for size in [1, 2, 3, 5, 8, 9, 10, 17, 24, 25, 100, 4096] {
            let mut g = H2Guard::new((), Limits::DEFAULT);
            let mut verdict = None;
            for chunk in stream.chunks(size) {
                if let Err((_, v)) = g.inspect(chunk) {
                    verdict = Some(v);
                    break;
                }
            }
            assert_eq!(verdict, Some(whole), "chunks of {size}");
            assert!(!g.passthrough);
        }
    }

    #[test]
    fn server_data_frames_earn_window_updates() {
        // A fast download: for each DATA frame written (in odd pieces), a stream and a
        // connection WINDOW_UPDATE come back. 10 000 of each at once: fine.
        let mut g = H2Guard::new((), Limits::DEFAULT);
        g.inspect(&preamble()).unwrap();
        let data = frame(DATA, 0, 1, &[0; 100]);
        let mut updates = window_update(1, 100);
        updates.extend(window_update(0, 100));
        for _ in 0..10_000 {
            for piece in data.chunks(33) {
                g.wrote(piece);
            }
            g.inspect(&updates).unwrap();
        }
        // Without the DATA frames, the same updates are a flood.
        let mut g = H2Guard::new((), Limits::DEFAULT);
        g.inspect(&preamble()).unwrap();
        let all: Vec<u8> = (0..10_000).flat_map(|_| updates.clone()).collect();
        let (_, v) = g.inspect(&all).unwrap_err();
        assert_eq!(v.kind, ViolationKind::WindowUpdateFlood);
    }

    #[test]
    fn acks_for_server_pings_and_settings_are_free() {
        let mut g = H2Guard::new((), Limits::DEFAULT);
        g.inspect(&preamble()).unwrap();
        for _ in 0..1_000 {
            g.wrote(&ping(false));
            g.wrote(&frame(SETTINGS, 0, 0, &[]));
        }
        let mut acks = Vec::new();
        for _ in 0..1_000 {
            acks.extend(ping(true));
            acks.extend(frame(SETTINGS, FLAG_ACK, 0, &[]));
        }
        g.inspect(&acks).unwrap();
        // Beyond what was asked: empty frames.
        let (_, v) = g.inspect(&acks).unwrap_err();
        assert_eq!(v.kind, ViolationKind::EmptyFrameFlood);
    }

    #[test]
    fn buckets_refill_at_their_rate() {
        let rate = Rate::new(10, 20);
        let t0 = Instant::now();
        let mut b = Bucket::full(rate, t0);
        assert!((0..20).all(|_| b.take(rate, t0)));
        assert!(!b.take(rate, t0));
        let t1 = t0 + Duration::from_millis(500);
        assert!((0..5).all(|_| b.take(rate, t1)));
        assert!(!b.take(rate, t1));
        // Idle time refills up to the burst, no more.
        let t2 = t1 + Duration::from_secs(60);
        assert!((0..20).all(|_| b.take(rate, t2)));
        assert!(!b.take(rate, t2));
    }

    #[test]
    fn goaway_encoding() {
        let (buf, len) = encode_goaway(7, ENHANCE_YOUR_CALM, "ping_flood", false);
        let buf = &buf[..len as usize];
        let h = FrameHead::parse(buf[..HEAD_LEN].try_into().unwrap());
        assert_eq!((h.len, h.ty, h.flags, h.stream), (18, GOAWAY, 0, 0));
        assert_eq!(&buf[9..13], &[0, 0, 0, 7]);
        assert_eq!(&buf[13..17], &[0, 0, 0, 0xb]);
        assert_eq!(&buf[17..], b"ping_flood");
        let (buf, len) = encode_goaway(0, PROTOCOL_ERROR, "x", true);
        assert_eq!(&buf[..HEAD_LEN], &[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
        assert_eq!(len as usize, 2 * HEAD_LEN + 9);
        for kind in ViolationKind::ALL {
            assert!(kind.as_str().len() <= MAX_DEBUG);
        }
    }

    #[test]
    fn guard_state_is_fixed_size() {
        // No buffers: the guard is this struct (plus one Arc'd report and, after a violation,
        // one boxed timer), whatever the client sends.
        let size = std::mem::size_of::<H2Guard<DuplexStream>>();
        assert!(size <= 768, "H2Guard is {size} bytes");
    }
}
