//! A worker's pool of splice pipes.
//!
//! Opening and closing a pipe costs three syscalls, so each worker keeps empty pipes for the
//! next connection. The pool also caps pipes in use: every pipe holds two file descriptors,
//! and a connection that cannot get one falls back to the copying relay instead of failing.
//!
//! Pipes are grown to the configured size (`runtime.buffer_size`) when they are opened: a
//! bigger pipe moves more per splice and per wake-up. An unprivileged user may hold only
//! `fs.pipe-user-pages-soft` pipe pages; past that the kernel refuses to grow pipes and opens
//! new ones two pages small. So pipes grow only while the process's pipes stay within half of
//! that limit, and a pipe smaller than [`MIN_CAPACITY`] is not lent (the copy relay does
//! better than a two-page pipe).

use fulcrum_sys::pipe::{Pipe, user_pages_soft_limit};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The smallest pipe worth splicing through: the kernel's default size.
const MIN_CAPACITY: usize = 64 * 1024;

const PAGE: usize = 4096;

/// Pipe pages held by the pools of every worker in this process.
static PAGES: AtomicUsize = AtomicUsize::new(0);

/// Pipes owned by one worker thread. The mutex is never contended (only the worker's own
/// thread touches it); it is there because tasks must be `Send` to run on tokio's scheduler.
#[derive(Debug)]
pub(crate) struct PipePool {
    inner: Mutex<Inner>,
    capacity: usize,
    /// Pipe pages this process may hold before pipes stop growing (half the user's soft
    /// limit); `None` when no limit applies.
    page_budget: Option<usize>,
}

#[derive(Debug)]
struct Inner {
    free: Vec<Pipe>,
    in_use: usize,
    max_in_use: usize,
    max_free: usize,
}

impl PipePool {
    /// A pool that lends at most `max_in_use` pipes of `capacity` bytes each (where the kernel
    /// allows).
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
            page_budget: user_pages_soft_limit().map(|pages| pages / 2),
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
            None => self.open()?,
        };
        inner.in_use += 1;
        Some(pipe)
    }

    /// Opens a pipe and grows it to the configured capacity if the page budget allows.
    fn open(&self) -> Option<Pipe> {
        let mut pipe = Pipe::new().ok()?;
        if pipe.capacity() < MIN_CAPACITY {
            return None;
        }
        let wanted = self.capacity.next_multiple_of(PAGE);
        if wanted > pipe.capacity() {
            let held = PAGES.load(Relaxed) + pipe.capacity() / PAGE;
            if self
                .page_budget
                .is_none_or(|budget| held + (wanted - pipe.capacity()) / PAGE <= budget)
            {
                // Best effort: a smaller pipe only means more syscalls per byte.
                let _ = pipe.set_capacity(wanted);
            }
        }
        PAGES.fetch_add(pipe.capacity() / PAGE, Relaxed);
        Some(pipe)
    }

    /// Returns a pipe. Only an empty pipe may be kept: pass `empty = false` if bytes may still
    /// sit in it, and it is closed instead.
    fn give_back(&self, pipe: Pipe, empty: bool) {
        let mut inner = self.lock();
        inner.in_use -= 1;
        if empty && inner.free.len() < inner.max_free {
            inner.free.push(pipe);
        } else {
            close(pipe);
        }
    }
}

fn close(pipe: Pipe) {
    PAGES.fetch_sub(pipe.capacity() / PAGE, Relaxed);
}

impl Drop for PipePool {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        inner.free.drain(..).for_each(close);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_grow_to_the_configured_size_and_come_back_empty() {
        let pool = PipePool::new(4, 256 * 1024);
        let mut lease = pool.take().expect("a pipe");
        assert_eq!(lease.pipe().capacity(), 256 * 1024);
        lease.set_empty();
        drop(lease);
        let again = pool.take().expect("the pooled pipe");
        assert_eq!(again.pipe().capacity(), 256 * 1024);
    }

    #[test]
    fn the_pool_lends_no_more_than_its_budget() {
        let pool = PipePool::new(2, 64 * 1024);
        let a = pool.take();
        let b = pool.take();
        assert!(a.is_some() && b.is_some());
        assert!(pool.take().is_none());
        drop(a);
        assert!(pool.take().is_some());
    }
}
