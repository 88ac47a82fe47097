//! One direction of the zero-copy relay: socket -> pipe -> socket with splice(2).

use super::{Failure, Progress};
use crate::readiness::read_drained;
use fulcrum_sys::pipe::Pipe;
use fulcrum_sys::socket::shutdown_write;
use std::io::ErrorKind::WouldBlock;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Moves bytes from `src` to `dst` through `pipe` until `src` ends, then half-closes `dst`.
/// Returns with the pipe empty on success.
pub(super) async fn one_way(
    src: &TcpStream,
    dst: &TcpStream,
    pipe: &Pipe,
    chunk: usize,
    progress: &Progress<'_>,
) -> Result<(), Failure> {
    loop {
        let filled = loop {
            match read_drained(src, chunk, || pipe.fill_from(src, chunk)) {
                Ok(n) => break n,
                Err(e) if e.kind() == WouldBlock => {
                    src.readable().await.map_err(Failure::source)?
                }
                Err(e) => return Err(Failure::source(e)),
            }
        };
        if filled == 0 {
            return shutdown_write(dst).map_err(Failure::destination);
        }
        let mut pending = filled;
        while pending > 0 {
            match dst.try_io(Interest::WRITABLE, || pipe.drain_into(dst, pending)) {
                Ok(n) => {
                    pending -= n;
                    progress.moved(n);
                }
                Err(e) if e.kind() == WouldBlock => {
                    dst.writable().await.map_err(Failure::destination)?
                }
                Err(e) => return Err(Failure::destination(e)),
            }
        }
    }
}
