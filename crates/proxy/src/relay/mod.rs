//! Moving bytes between a client and a backend, both ways at once, until both sides are done.
//!
//! Each direction runs on its own future ([`auto::one_way`], which hands bulk transfers to
//! [`splice::one_way`]); both are polled by one task, together with an idle timer and the
//! worker's force-close signal. A direction that reaches end-of-stream passes the FIN on
//! (`shutdown(SHUT_WR)`) and stops while the other keeps flowing: TCP half-close is honoured.
//! When the relay owns the sockets ([`run_and_close`]), the direction that ends last leaves its
//! FIN to `close()`, which follows at once. An error on either side ends both.

mod auto;
mod splice;

pub(crate) use auto::COPY_BUFFER;

use crate::pipes::PipePool;
use bytes::BytesMut;
use fulcrum_sys::socket::shutdown_write;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

/// How the relay moves bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Splice,
    Copy,
}

/// Why a relayed connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Both directions finished; the client sent its FIN first.
    ClientClosed,
    /// Both directions finished; the backend sent its FIN first.
    BackendClosed,
    /// Reading from or writing to the client failed (reset, broken pipe).
    ClientError,
    /// Reading from or writing to the backend failed.
    BackendError,
    /// No byte moved either way for the idle timeout.
    IdleTimeout,
    /// The worker's shutdown deadline passed.
    Shutdown,
}

impl End {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            End::ClientClosed => "client_closed",
            End::BackendClosed => "backend_closed",
            End::ClientError => "client_error",
            End::BackendError => "backend_error",
            End::IdleTimeout => "idle_timeout",
            End::Shutdown => "shutdown",
        }
    }
}

/// What a relay did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Bytes from client to backend.
    pub up: u64,
    /// Bytes from backend to client.
    pub down: u64,
    pub end: End,
    /// The I/O error that ended it, if one did.
    pub error: Option<io::Error>,
}

/// Everything a relay needs besides the two sockets.
pub(crate) struct Settings<'a> {
    pub mode: Mode,
    pub buffer_size: usize,
    pub idle_timeout: Duration,
    pub pipes: &'a PipePool,
    pub close_now: &'a Notify,
}

/// Which socket an I/O error came from.
#[derive(Debug)]
enum Side {
    Source,
    Destination,
}

/// A direction's failure: which end failed and how.
#[derive(Debug)]
struct Failure {
    side: Side,
    error: io::Error,
}

impl Failure {
    fn source(error: io::Error) -> Self {
        Failure {
            side: Side::Source,
            error,
        }
    }

    fn destination(error: io::Error) -> Self {
        Failure {
            side: Side::Destination,
            error,
        }
    }
}

/// One direction's progress, read by the driver when the relay ends. Atomics only so the
/// task is `Send`; one task writes them, so plain loads and stores suffice.
struct Progress<'a> {
    bytes: AtomicU64,
    activity: &'a Activity,
}

impl Progress<'_> {
    fn moved(&self, n: usize) {
        self.bytes
            .store(self.bytes.load(Relaxed) + n as u64, Relaxed);
        self.activity.touch();
    }
}

/// How a direction passes its source's end-of-stream on to its destination.
struct Finish {
    /// The relay's owner closes both sockets as soon as the relay returns.
    close_follows: bool,
    /// Directions that have reached end-of-stream.
    ended: AtomicU8,
}

impl Finish {
    /// `shutdown(SHUT_WR)` on `dst`, so its peer reads end-of-stream while the other direction
    /// goes on; but when the other direction has ended too and close follows, `close()` sends
    /// the FIN (after any bytes still queued, in the same segment), and the call is saved.
    fn end_of_stream(&self, dst: &TcpStream) -> Result<(), Failure> {
        let others = self.ended.fetch_add(1, Relaxed);
        if self.close_follows && others == 1 {
            return Ok(());
        }
        shutdown_write(dst).map_err(Failure::destination)
    }
}

/// When a byte last moved either way, in milliseconds since the relay started.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Relaxed))
    }
}

/// Relays until both directions are done, an error, the idle timeout, or a forced close.
/// Each end-of-stream is passed on with `shutdown(SHUT_WR)`; the caller closes the sockets.
pub(crate) async fn run(client: &TcpStream, backend: &TcpStream, s: Settings<'_>) -> Outcome {
    let finish = Finish {
        close_follows: false,
        ended: AtomicU8::new(0),
    };
    relay(client, backend, &s, &finish, BytesMut::new()).await
}

/// [`run`], then closes both sockets. The direction that ends last leaves its FIN to the
/// close (one call fewer). `buf` is a buffer the caller is done with, for the client's bytes.
pub(crate) async fn run_and_close(
    client: TcpStream,
    backend: TcpStream,
    s: Settings<'_>,
    buf: BytesMut,
) -> Outcome {
    let finish = Finish {
        close_follows: true,
        ended: AtomicU8::new(0),
    };
    let outcome = relay(&client, &backend, &s, &finish, buf).await;
    drop(backend);
    drop(client);
    outcome
}

async fn relay(
    client: &TcpStream,
    backend: &TcpStream,
    s: &Settings<'_>,
    finish: &Finish,
    up_buf: BytesMut,
) -> Outcome {
    let last = Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
    };
    let up = Progress {
        bytes: AtomicU64::new(0),
        activity: &last,
    };
    let down = Progress {
        bytes: AtomicU64::new(0),
        activity: &last,
    };
    let pipes = (s.mode == Mode::Splice).then_some(s.pipes);
    let way_up = auto::Way {
        src: client,
        dst: backend,
        progress: &up,
        finish,
    };
    let way_down = auto::Way {
        src: backend,
        dst: client,
        progress: &down,
        finish,
    };
    let fa = auto::one_way(way_up, up_buf, pipes, s.buffer_size);
    let fb = auto::one_way(way_down, BytesMut::new(), pipes, s.buffer_size);
    let (end, error) = drive(fa, fb, &last, s).await;
    Outcome {
        up: up.bytes.load(Relaxed),
        down: down.bytes.load(Relaxed),
        end,
        error,
    }
}

/// Polls both directions, the idle timer and the close signal. Returns why it ended and the
/// error if any.
async fn drive(
    up: impl Future<Output = Result<(), Failure>>,
    down: impl Future<Output = Result<(), Failure>>,
    last: &Activity,
    s: &Settings<'_>,
) -> (End, Option<io::Error>) {
    let mut up = pin!(up);
    let mut down = pin!(down);
    let mut close = pin!(s.close_now.notified());
    let idle = sleep_until(Instant::now() + s.idle_timeout);
    let mut idle = pin!(idle);
    let (mut up_done, mut down_done) = (false, false);
    let mut first_fin = None;
    loop {
        tokio::select! {
            r = &mut up, if !up_done => match r {
                Ok(()) => { up_done = true; first_fin.get_or_insert(End::ClientClosed); }
                Err(f) => return failed(f, End::ClientError, End::BackendError),
            },
            r = &mut down, if !down_done => match r {
                Ok(()) => { down_done = true; first_fin.get_or_insert(End::BackendClosed); }
                Err(f) => return failed(f, End::BackendError, End::ClientError),
            },
            () = &mut idle => {
                let deadline = last.last() + s.idle_timeout;
                if deadline <= Instant::now() {
                    return (End::IdleTimeout, None);
                }
                idle.as_mut().reset(deadline);
            }
            () = &mut close => return (End::Shutdown, None),
        }
        if up_done && down_done {
            return (first_fin.unwrap_or(End::ClientClosed), None);
        }
    }
}

/// Maps a direction's failure to the side that failed: `on_source` if reading failed.
fn failed(f: Failure, on_source: End, on_destination: End) -> (End, Option<io::Error>) {
    let end = match f.side {
        Side::Source => on_source,
        Side::Destination => on_destination,
    };
    (end, Some(f.error))
}
