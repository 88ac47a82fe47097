//! Reading and writing on a tokio `TcpStream` by readiness, with the optimistic try first
//! (no poll when the socket is already known to be ready).

use crate::readiness::read_drained;
use bytes::BytesMut;
use std::io::{self, ErrorKind::WouldBlock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// Spare room made in a read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;

/// Reads what is available into `buf`; `Ok(0)` is end of stream.
pub(crate) async fn read_some(s: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    loop {
        let wanted = buf.capacity() - buf.len();
        match read_drained(s, wanted, || s.try_read_buf(buf)) {
            Err(e) if e.kind() == WouldBlock => s.readable().await?,
            other => return other,
        }
    }
}

/// [`read_some`] with a deadline; a timeout is `ErrorKind::TimedOut`.
pub(crate) async fn read_some_until(
    s: &TcpStream,
    buf: &mut BytesMut,
    deadline: Instant,
) -> io::Result<usize> {
    match timeout_at(deadline, read_some(s, buf)).await {
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// Writes all of `data`.
pub(crate) async fn write_all(s: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match s.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == WouldBlock => s.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// [`write_all`] bounded by `limit` (a peer that stops reading cannot hold us forever).
pub(crate) async fn write_all_within(
    s: &TcpStream,
    data: &[u8],
    limit: Duration,
) -> io::Result<()> {
    match tokio::time::timeout(limit, write_all(s, data)).await {
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}
