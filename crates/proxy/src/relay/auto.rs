//! One direction that copies small messages and splices bulk transfers.
//!
//! Messages that fit in one small buffer cost two syscalls either way, and copying avoids the
//! pipe's overhead; a read that fills the buffer means a bulk transfer, and from then on the
//! direction moves through a pipe with splice(2), pages never entering user space.
//!
//! Fewer packets: when the source's FIN had already arrived before a read that emptied it,
//! the bytes read are the last ones, so they are sent with `MSG_MORE` and the FIN that follows
//! leaves in the same segment (one packet, and one ACK from the peer, fewer).

use super::{Failure, Finish, Progress, splice};
use crate::pipes::PipePool;
use crate::readiness::read_drained;
use bytes::BytesMut;
use fulcrum_sys::socket::{push, send_more};
use std::io::ErrorKind::WouldBlock;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// The copy buffer: small, since small messages are what it is for.
pub(crate) const COPY_BUFFER: usize = 16 * 1024;

/// One direction's two sockets and what it shares with the other direction.
pub(super) struct Way<'a> {
    pub(super) src: &'a TcpStream,
    pub(super) dst: &'a TcpStream,
    pub(super) progress: &'a Progress<'a>,
    pub(super) finish: &'a Finish,
}

/// Moves bytes from `src` to `dst` until `src` ends, then passes the end on (see [`Finish`]).
/// With `pipes`, switches to splice (chunks of `splice_chunk`) once a read fills the copy
/// buffer.
/// `buf` may come with room already (it is grown to the copy buffer's size on first use, so
/// a direction that never carries data costs nothing).
pub(super) async fn one_way(
    way: Way<'_>,
    mut buf: BytesMut,
    pipes: Option<&PipePool>,
    splice_chunk: usize,
) -> Result<(), Failure> {
    let (src, dst) = (way.src, way.dst);
    // Bytes sent with MSG_MORE that still wait in `dst` for what follows them.
    let mut held = false;
    loop {
        let ready = src
            .ready(Interest::READABLE)
            .await
            .map_err(Failure::source)?;
        if buf.capacity() == 0 {
            buf.reserve(COPY_BUFFER);
        }
        buf.clear();
        let wanted = buf.capacity();
        let n = match read_drained(src, wanted, || src.try_read_buf(&mut buf)) {
            Ok(n) => n,
            Err(e) if e.kind() == WouldBlock => {
                // Not the end after all (cannot happen once the FIN is in): send what waits.
                if std::mem::take(&mut held) {
                    push(dst).map_err(Failure::destination)?;
                }
                continue;
            }
            Err(e) => return Err(Failure::source(e)),
        };
        if n == 0 {
            return way.finish.end_of_stream(dst);
        }
        // The FIN came before this read and the read emptied the socket: the next read
        // returns 0, so hold these bytes for the FIN's segment.
        held = ready.is_read_closed() && n < wanted;
        write_all(dst, &buf[..n], held, way.progress).await?;
        if n == wanted
            && let Some(pool) = pipes
            && let Some(mut lease) = pool.take()
        {
            drop(buf);
            let chunk = splice_chunk.min(lease.pipe().capacity());
            let result = splice::one_way(&way, lease.pipe(), chunk).await;
            if result.is_ok() {
                lease.set_empty();
            }
            return result;
        }
    }
}

/// Writes all of `data`; with `more`, with `MSG_MORE` (the caller sends a FIN or more bytes
/// right after).
async fn write_all(
    dst: &TcpStream,
    data: &[u8],
    more: bool,
    progress: &Progress<'_>,
) -> Result<(), Failure> {
    let mut sent = 0;
    while sent < data.len() {
        let rest = &data[sent..];
        let written = if more {
            dst.try_io(Interest::WRITABLE, || send_more(dst, rest))
        } else {
            dst.try_write(rest)
        };
        match written {
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
