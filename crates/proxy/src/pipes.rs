//! A worker's pool of splice pipes.
//!
//! Opening and closing a pipe costs three syscalls, so each worker keeps empty pipes for the
//! next connection. The pool also caps pipes in use: every pipe holds two file descriptors,
//! and a connection that cannot get one falls back to the copying relay instead of failing.

use fulcrum_sys::pipe::Pipe;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Pipes owned by one worker thread. The mutex is never contended (only the worker's own
/// thread touches it); it is there because tasks must be `Send` to run on tokio's scheduler.
#[derive(Debug)]
pub(crate) struct PipePool {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug)]
struct Inner {
    free: Vec<Pipe>,
    in_use: usize,
    max_in_use: usize,
    max_free: usize,
}

impl PipePool {
    /// A pool that lends at most `max_in_use` pipes of `capacity` bytes each.
    pub(crate) fn new(max_in_use: usize, capacity: usize) -> Self {
        let max_free = (max_in_use / 4).clamp(1, 256);
        let inner = Inner {
            free: Vec::new(),
            in_use: 0,
            max_in_use,
            max_free,
        };
        PipePool {
            inner: Mutex::new(inner),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty pipe, or `None` when the budget is spent or the kernel refuses a new one. The
    /// lease gives it back when dropped: kept if it was marked empty, closed otherwise.
    pub(crate) fn take(&self) -> Option<Lease<'_>> {
        let pipe = self.take_pipe()?;
        Some(Lease {
            pool: self,
            pipe: Some(pipe),
            empty: false,
        })
    }

    fn take_pipe(&self) -> Option<Pipe> {
        let mut inner = self.lock();
        if inner.in_use >= inner.max_in_use {
            return None;
        }
        let pipe = match inner.free.pop() {
            Some(p) => p,
            None => {
                let p = Pipe::new().ok()?;
                if self.capacity > 64 * 1024 {
                    // Best effort: a smaller pipe only means more syscalls per byte.
                    let _ = p.set_capacity(self.capacity);
                }
                p
            }
        };
        inner.in_use += 1;
        Some(pipe)
    }

    /// Returns a pipe. Only an empty pipe may be kept: pass `empty = false` if bytes may still
    /// sit in it, and it is closed instead.
    fn give_back(&self, pipe: Pipe, empty: bool) {
        let mut inner = self.lock();
        inner.in_use -= 1;
        if empty && inner.free.len() < inner.max_free {
            inner.free.push(pipe);
        }
    }
}

/// A pipe on loan from a [`PipePool`].
pub(crate) struct Lease<'a> {
    pool: &'a PipePool,
    pipe: Option<Pipe>,
    empty: bool,
}

impl Lease<'_> {
    pub(crate) fn pipe(&self) -> &Pipe {
        self.pipe
            .as_ref()
            .expect("a lease holds its pipe until dropped")
    }

    /// Marks the pipe as holding no bytes, so it can be lent again.
    pub(crate) fn set_empty(&mut self) {
        self.empty = true;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(pipe) = self.pipe.take() {
            self.pool.give_back(pipe, self.empty);
        }
    }
}
