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

mod guard;
mod scan;
#[cfg(test)]
mod tests;

pub use guard::H2Guard;
