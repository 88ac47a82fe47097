//! Reads that know when a socket is drained.
//!
//! With edge-triggered readiness, the usual loop reads until `EAGAIN`, which costs one wasted
//! syscall per message. A read that returns fewer bytes than asked has emptied the socket's
//! receive queue, so the readiness tokio keeps for the socket can be cleared right away:
//! returning `WouldBlock` from inside `try_io` does that, and tokio clears only if no newer
//! event arrived meanwhile (it compares the event's tick), so data that lands after the read
//! still wakes the reader. End of stream (`0`) is not a short read: it stays readable.

use std::io::{self, ErrorKind::WouldBlock};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Runs `read` (which reads at most `wanted` bytes from `stream`) through the socket's
/// readiness; a short read clears the readiness. `WouldBlock` means wait for readable.
pub(crate) fn read_drained(
    stream: &TcpStream,
    wanted: usize,
    read: impl FnOnce() -> io::Result<usize>,
) -> io::Result<usize> {
    let mut short = None;
    let result = stream.try_io(Interest::READABLE, || {
        let n = read()?;
        if n > 0 && n < wanted {
            short = Some(n);
            return Err(WouldBlock.into());
        }
        Ok(n)
    });
    match (result, short) {
        (Err(e), Some(n)) if e.kind() == WouldBlock => Ok(n),
        (result, _) => result,
    }
}
