//! The guard itself: the I/O wrapper that passes bytes through and writes the GOAWAY.

use super::scan::*;
use super::*;

// ===== the guard =====

/// Longest debug data in our GOAWAY.
pub(super) const MAX_DEBUG: usize = 32;
/// An empty SETTINGS frame, then a GOAWAY with its debug data.
pub(super) const GOAWAY_BUF: usize = HEAD_LEN + HEAD_LEN + 8 + MAX_DEBUG;

/// Where the guard's own GOAWAY is.
#[derive(Clone, Copy, Debug)]
pub(super) enum Goaway {
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
pub(super) fn encode_goaway(
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
    pub(super) inner: T,
    /// Bytes of the client preface still to check.
    pub(super) preface_left: u8,
    /// Not HTTP/2: inspect nothing.
    pub(super) passthrough: bool,
    pub(super) rx_scan: Scanner,
    pub(super) rx: RxPolicy,
    /// Highest client stream id in what was passed to h2.
    pub(super) passed_stream: u32,
    pub(super) tx_scan: Scanner,
    pub(super) tx_frames: u64,
    pub(super) tx_goaway_last: Option<u32>,
    pub(super) violation: Option<Violation>,
    pub(super) report: GuardReport,
    pub(super) goaway: Goaway,
    /// The reader waiting for h2 to finish a frame.
    pub(super) read_waker: Option<Waker>,
    /// Runs out `close_timeout` after the violation.
    pub(super) deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    pub(super) drained: u64,
    /// Everything is over: reads, writes and flushes fail.
    pub(super) finished: bool,
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

    pub(super) fn aborted(&self) -> io::Error {
        match self.violation {
            Some(v) => io::Error::new(io::ErrorKind::ConnectionAborted, v),
            None => io::Error::from(io::ErrorKind::ConnectionAborted),
        }
    }

    /// Inspects bytes just read from the client. On a violation, also returns how many of them
    /// come before the offending frame.
    pub(super) fn inspect(&mut self, data: &[u8]) -> Result<(), (usize, Violation)> {
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
    pub(super) fn wrote(&mut self, data: &[u8]) {
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

    pub(super) fn flag(&mut self, v: Violation) {
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
    pub(super) fn deadline_passed(&mut self, cx: &mut Context<'_>) -> bool {
        match self.deadline.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => true,
        }
    }

    pub(super) fn finish(&mut self) {
        self.finished = true;
        self.goaway = Goaway::Done;
        self.deadline = None;
        self.wake_reader();
    }

    pub(super) fn wake_reader(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> H2Guard<T> {
    /// Moves the GOAWAY along: Ready once it is written, flushed and the write side shut down
    /// (or that failed). Pending while h2 is mid-frame (no waker registered: h2's own write is
    /// pending then, or about to go on) or while the socket is not writable.
    pub(super) fn drive_goaway(&mut self, cx: &mut Context<'_>) -> Poll<()> {
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
    pub(super) fn give_up(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deadline_passed(cx) {
            self.finish();
            true
        } else {
            false
        }
    }

    /// Reads after a violation: GOAWAY, drain, then the error.
    pub(super) fn poll_read_violated(
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
    pub(super) fn poll_write_violated(
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

    pub(super) fn poll_flush_violated(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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

    pub(super) fn poll_shutdown_violated(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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
