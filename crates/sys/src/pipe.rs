//! Pipes for zero-copy relaying with splice(2).
//!
//! A [`Pipe`] is a kernel buffer between two sockets: `splice` moves pages from a socket into
//! the pipe and from the pipe into another socket without copying them through user space.
//! Both ends are non-blocking, so a caller drives them from its own readiness loop.

use crate::socket::retry_intr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::pipe::{
    PipeFlags, SpliceFlags, fcntl_getpipe_size, fcntl_setpipe_size, pipe_with, splice,
};
use std::io;

/// A non-blocking pipe pair used as a splice buffer.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

fn flags() -> SpliceFlags {
    SpliceFlags::NONBLOCK | SpliceFlags::MOVE
}

impl Pipe {
    /// Opens a new non-blocking, close-on-exec pipe and reads its capacity: 64 KiB normally,
    /// two pages once the user holds more pipe pages than `fs.pipe-user-pages-soft` allows.
    pub fn new() -> io::Result<Self> {
        let (read, write) = pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
        let capacity = fcntl_getpipe_size(&write)?;
        Ok(Pipe {
            read,
            write,
            capacity,
        })
    }

    /// The pipe's capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Asks the kernel for a pipe buffer of `bytes` (rounded up to pages); returns the size set.
    pub fn set_capacity(&mut self, bytes: usize) -> io::Result<usize> {
        self.capacity = fcntl_setpipe_size(&self.write, bytes)?;
        Ok(self.capacity)
    }

    /// Moves up to `len` bytes from `src` (a socket) into the pipe. `Ok(0)` means end of stream.
    pub fn fill_from<Fd: AsFd>(&self, src: Fd, len: usize) -> io::Result<usize> {
        retry_intr(|| splice(&src, None, &self.write, None, len, flags()))
    }

    /// Moves up to `len` bytes from the pipe into `dst` (a socket).
    pub fn drain_into<Fd: AsFd>(&self, dst: Fd, len: usize) -> io::Result<usize> {
        retry_intr(|| splice(&self.read, None, &dst, None, len, flags()))
    }
}

/// How many pipe pages an unprivileged user may hold (`fs.pipe-user-pages-soft`) before the
/// kernel refuses to grow pipes and makes new ones two pages small; `None` when no such limit
/// applies (root, or a limit of 0).
pub fn user_pages_soft_limit() -> Option<usize> {
    if rustix::process::geteuid().is_root() {
        return None;
    }
    let text = std::fs::read_to_string("/proc/sys/fs/pipe-user-pages-soft").ok()?;
    match text.trim().parse::<usize>().ok()? {
        0 => None,
        pages => Some(pages),
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

        let mut pipe = Pipe::new().unwrap();
        assert!(pipe.capacity() >= 4096);
        assert!(pipe.set_capacity(1 << 18).unwrap() >= 1 << 18);
        assert_eq!(pipe.capacity(), 1 << 18);
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
