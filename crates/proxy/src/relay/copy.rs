//! One direction of the copying relay: read into a user-space buffer, write it out.
//!
//! Used when splice is turned off or no pipe is available.

use super::{Failure, Progress};
use fulcrum_sys::socket::shutdown_write;
use std::io::ErrorKind::WouldBlock;
use tokio::net::TcpStream;

/// Moves bytes from `src` to `dst` until `src` ends, then half-closes `dst`.
pub(super) async fn one_way(
    src: &TcpStream,
    dst: &TcpStream,
    buffer_size: usize,
    progress: &Progress<'_>,
) -> Result<(), Failure> {
    // Allocated on first use, so a direction that never carries data costs nothing.
    let mut buf: Vec<u8> = Vec::new();
    loop {
        src.readable().await.map_err(Failure::source)?;
        if buf.is_empty() {
            buf = vec![0; buffer_size];
        }
        let n = match src.try_read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == WouldBlock => continue,
            Err(e) => return Err(Failure::source(e)),
        };
        if n == 0 {
            return shutdown_write(dst).map_err(Failure::destination);
        }
        let mut sent = 0;
        while sent < n {
            match dst.try_write(&buf[sent..n]) {
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
    }
}
