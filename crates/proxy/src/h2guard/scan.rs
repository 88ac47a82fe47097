//! Frame scanning: the frame-header state machine and the per-connection rate policy.

use super::*;

// ===== frame scanning =====

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct FrameHead {
    pub(super) len: u32,
    pub(super) ty: u8,
    pub(super) flags: u8,
    pub(super) stream: u32,
}

impl FrameHead {
    pub(super) fn parse(b: &[u8; HEAD_LEN]) -> FrameHead {
        FrameHead {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            ty: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    pub(super) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// What a [`Scanner`] reports to.
pub(super) trait FrameSink {
    /// A frame header is complete. Returns how many payload bytes (0..=4) to capture.
    fn on_head(&mut self, head: &FrameHead) -> Result<u8, Violation>;
    /// The requested payload bytes are in (fewer if the frame is shorter).
    fn on_capture(&mut self, head: &FrameHead, bytes: &[u8]) -> Result<(), Violation>;
}

/// Splits a byte stream into frames, however it is chunked, keeping only a frame header and
/// up to 4 payload bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Scanner {
    pub(super) head: [u8; HEAD_LEN],
    pub(super) head_len: u8,
    pub(super) cur: FrameHead,
    pub(super) cap: [u8; 4],
    pub(super) cap_len: u8,
    pub(super) cap_need: u8,
    /// Payload bytes of the current frame not seen yet.
    pub(super) left: u32,
}

impl Scanner {
    /// Between two frames.
    pub(super) fn at_boundary(&self) -> bool {
        self.head_len == 0 && self.left == 0
    }

    /// When not at a boundary: how many bytes may pass before the next boundary (or before the
    /// current header is complete and the payload length known).
    pub(super) fn bytes_to_boundary(&self) -> usize {
        if self.left > 0 {
            self.left as usize
        } else {
            HEAD_LEN - self.head_len as usize
        }
    }

    /// Scans `data`. On a violation, also returns where in `data` the offending frame began
    /// (0 if it began in an earlier chunk).
    pub(super) fn feed<S: FrameSink>(
        &mut self,
        data: &[u8],
        sink: &mut S,
    ) -> Result<(), (usize, Violation)> {
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
pub(super) struct Bucket {
    pub(super) tokens: f64,
    pub(super) last: Instant,
}

impl Bucket {
    pub(super) fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(rate.burst),
            last: now,
        }
    }

    pub(super) fn take(&mut self, rate: Rate, now: Instant) -> bool {
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

    pub(super) fn credit(&mut self, rate: Rate, n: f64) {
        self.tokens = (self.tokens + n).min(f64::from(rate.burst));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Counter {
    RstStream,
    Settings,
    Ping,
    Priority,
    WindowUpdate,
    Empty,
    Streams,
}

pub(super) const COUNTERS: usize = 7;

impl Counter {
    pub(super) fn kind(self) -> ViolationKind {
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
pub(super) struct Block {
    pub(super) stream: u32,
    pub(super) bytes: u64,
    pub(super) continuations: u32,
}

/// The rules applied to frames read from the client.
#[derive(Debug)]
pub(super) struct RxPolicy {
    pub(super) limits: Limits,
    /// Time of the read being inspected.
    pub(super) now: Instant,
    pub(super) buckets: [Bucket; COUNTERS],
    pub(super) block: Option<Block>,
    /// Highest client stream id seen on a HEADERS frame.
    pub(super) max_stream: u32,
    /// `max_stream` before the current frame.
    pub(super) max_stream_before: u32,
    pub(super) frames: u64,
    /// PING ACKs the client owes for PINGs the server sent.
    pub(super) pings_owed: u32,
    /// SETTINGS ACKs the client owes for SETTINGS the server sent.
    pub(super) settings_acks_owed: u32,
}

impl RxPolicy {
    pub(super) fn new(limits: Limits) -> RxPolicy {
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

    pub(super) fn rate_of(limits: &Limits, i: usize) -> Option<Rate> {
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

    pub(super) fn violation(&self, kind: ViolationKind, head: &FrameHead) -> Violation {
        Violation {
            kind,
            frame_type: head.ty,
            stream_id: head.stream,
            frames_read: self.frames,
        }
    }

    pub(super) fn count(&mut self, c: Counter, head: &FrameHead) -> Result<(), Violation> {
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
    pub(super) fn credit_window_updates(&mut self) {
        let i = Counter::WindowUpdate as usize;
        self.buckets[i].credit(self.limits.window_update, 2.0);
    }

    /// DATA frame with `data_len` bytes of data.
    pub(super) fn check_data(&mut self, head: &FrameHead, data_len: u32) -> Result<(), Violation> {
        if data_len == 0 && !head.has(FLAG_END_STREAM) {
            self.count(Counter::Empty, head)?;
        }
        Ok(())
    }

    /// HEADERS frame whose padding is `pad` bytes (pad length field included).
    pub(super) fn check_headers_fragment(
        &mut self,
        head: &FrameHead,
        pad: u32,
    ) -> Result<(), Violation> {
        let prio = if head.has(FLAG_PRIORITY) { 5 } else { 0 };
        if head.len.saturating_sub(pad).saturating_sub(prio) == 0 {
            self.count(Counter::Empty, head)?;
        }
        Ok(())
    }

    pub(super) fn open_block(&mut self, head: &FrameHead) -> Result<(), Violation> {
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
pub(super) struct TxSink<'a> {
    pub(super) rx: &'a mut RxPolicy,
    pub(super) frames: &'a mut u64,
    /// Lowest last-stream-id of the GOAWAYs h2 wrote.
    pub(super) goaway_last: &'a mut Option<u32>,
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
