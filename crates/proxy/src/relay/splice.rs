//! One direction of the zero-copy relay: socket -> pipe -> socket with splice(2).

use super::Failure;
use super::auto::Way;
use fulcrum_sys::pipe::Pipe;
use std::io::ErrorKind::WouldBlock;
use tokio::io::Interest;

/// Moves bytes from `way.src` to `way.dst` through `pipe` until the source ends, then passes
/// the end on. Returns with the pipe empty on success.
pub(super) async fn one_way(way: &Way<'_>, pipe: &Pipe, chunk: usize) -> Result<(), Failure> {
    let (src, dst) = (way.src, way.dst);
    loop {
        // Read until the socket says EAGAIN: a splice that moved less than asked does not
        // mean the socket is empty, as a short read() does, because the pipe may have run out
        // of slots (one per page fragment: sixteen segments of 1448 bytes fill a 64 KiB pipe).
        let filled = loop {
            match src.try_io(Interest::READABLE, || pipe.fill_from(src, chunk)) {
                Ok(n) => break n,
                Err(e) if e.kind() == WouldBlock => {
                    src.readable().await.map_err(Failure::source)?
                }
                Err(e) => return Err(Failure::source(e)),
            }
        };
        if filled == 0 {
            return way.finish.end_of_stream(dst);
        }
        let mut pending = filled;
        while pending > 0 {
            match dst.try_io(Interest::WRITABLE, || pipe.drain_into(dst, pending)) {
                Ok(n) => {
                    pending -= n;
                    way.progress.moved(n);
                }
                Err(e) if e.kind() == WouldBlock => {
                    dst.writable().await.map_err(Failure::destination)?
                }
                Err(e) => return Err(Failure::destination(e)),
            }
        }
    }
}
