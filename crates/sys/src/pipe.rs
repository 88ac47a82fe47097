//! Pipes for zero-copy relaying with splice(2).
//!
//! A [`Pipe`] is a kernel buffer between two sockets: `splice` moves pages from a socket into
//! the pipe and from the pipe into another socket without copying them through user space.
//! Both ends are non-blocking, so a caller drives them from its own readiness loop.

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, SpliceFlags, fcntl_setpipe_size, pipe_with, splice};
use std::io;

/// A non-blocking pipe pair used as a splice buffer.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

fn flags() -> SpliceFlags {
    SpliceFlags::NONBLOCK | SpliceFlags::MOVE
}

impl Pipe {
    /// Opens a new non-blocking, close-on-exec pipe.
    pub fn new() -> io::Result<Self> {
        let (read, write) = pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
        Ok(Pipe { read, write })
    }

    /// Asks the kernel for a pipe buffer of `bytes` (rounded up to pages); returns the size set.
    pub fn set_capacity(&self, bytes: usize) -> io::Result<usize> {
        Ok(fcntl_setpipe_size(&self.write, bytes)?)
    }

    /// Moves up to `len` bytes from `src` (a socket) into the pipe. `Ok(0)` means end of stream.
    pub fn fill_from<Fd: AsFd>(&self, src: Fd, len: usize) -> io::Result<usize> {
        retry_eintr(|| splice(&src, None, &self.write, None, len, flags()))
    }

    /// Moves up to `len` bytes from the pipe into `dst` (a socket).
    pub fn drain_into<Fd: AsFd>(&self, dst: Fd, len: usize) -> io::Result<usize> {
        retry_eintr(|| splice(&self.read, None, &dst, None, len, flags()))
    }
}

fn retry_eintr(mut f: impl FnMut() -> Result<usize, Errno>) -> io::Result<usize> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn bytes_cross_two_sockets_through_the_pipe() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        let l2 = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l2.local_addr().unwrap()).unwrap();
        let (mut d, _) = l2.accept().unwrap();

        let pipe = Pipe::new().unwrap();
        assert!(pipe.set_capacity(1 << 16).unwrap() >= 1 << 16);
        a.write_all(b"hello splice").unwrap();
        let mut moved = 0;
        while moved < 12 {
            match pipe.fill_from(&b, 1 << 16) {
                Ok(n) => moved += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(pipe.drain_into(&c, moved).unwrap(), 12);
        let mut got = [0u8; 12];
        d.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello splice");
    }
}
