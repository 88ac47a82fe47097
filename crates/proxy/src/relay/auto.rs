//! One direction that copies small messages and splices bulk transfers.
//!
//! Messages that fit in one small buffer cost two syscalls either way, and copying avoids the
//! pipe's overhead; a read that fills the buffer means a bulk transfer, and from then on the
//! direction moves through a pipe with splice(2), pages never entering user space.

use super::{Failure, Progress, splice};
use crate::pipes::PipePool;
use crate::readiness::read_drained;
use bytes::BytesMut;
use fulcrum_sys::socket::shutdown_write;
use std::io::ErrorKind::WouldBlock;
use tokio::net::TcpStream;

/// The copy buffer: small, since small messages are what it is for.
const COPY_BUFFER: usize = 16 * 1024;

/// Moves bytes from `src` to `dst` until `src` ends, then half-closes `dst`. With `pipes`,
/// switches to splice (chunks of `splice_chunk`) once a read fills the copy buffer.
pub(super) async fn one_way(
    src: &TcpStream,
    dst: &TcpStream,
    pipes: Option<&PipePool>,
    splice_chunk: usize,
    progress: &Progress<'_>,
) -> Result<(), Failure> {
    // Allocated on first use, so a direction that never carries data costs nothing.
    let mut buf = BytesMut::new();
    loop {
        src.readable().await.map_err(Failure::source)?;
        if buf.capacity() == 0 {
            buf.reserve(COPY_BUFFER);
        }
        buf.clear();
        let wanted = buf.capacity();
        let n = match read_drained(src, wanted, || src.try_read_buf(&mut buf)) {
            Ok(n) => n,
            Err(e) if e.kind() == WouldBlock => continue,
            Err(e) => return Err(Failure::source(e)),
        };
        if n == 0 {
            return shutdown_write(dst).map_err(Failure::destination);
        }
        write_all(dst, &buf[..n], progress).await?;
        if n == wanted
            && let Some(pool) = pipes
            && let Some(mut lease) = pool.take()
        {
            drop(buf);
            let result = splice::one_way(src, dst, lease.pipe(), splice_chunk, progress).await;
            if result.is_ok() {
                lease.set_empty();
            }
            return result;
        }
    }
}

async fn write_all(dst: &TcpStream, data: &[u8], progress: &Progress<'_>) -> Result<(), Failure> {
    let mut sent = 0;
    while sent < data.len() {
        match dst.try_write(&data[sent..]) {
            Ok(m) => {
                sent += m;
                progress.moved(m);
            }
            Err(e) if e.kind() == WouldBlock => {
                dst.writable().await.map_err(Failure::destination)?
            }
            Err(e) => return Err(Failure::destination(e)),
        }
    }
    Ok(())
}
