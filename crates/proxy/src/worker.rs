//! A worker thread: pinned to one CPU, running a current-thread runtime, owning one socket per
//! listener and every connection it accepts. Commands from the [`Server`](crate::Server)
//! arrive on a channel: start or stop a listener, or shut down.

use crate::http::pool::Pool;
use crate::listener::{ListenerSlot, accept_loop};
use crate::pipes::PipePool;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

/// What identifies a listening socket: address and backlog.
pub(crate) type SocketKey = (SocketAddr, u32);

pub(crate) enum Command {
    /// Start accepting on `socket` (this worker's own `SO_REUSEPORT` socket for `slot`).
    Listen {
        key: SocketKey,
        slot: Arc<ListenerSlot>,
        socket: std::net::TcpListener,
    },
    /// Stop accepting on the socket for `key` and close it; open connections carry on.
    Unlisten { key: SocketKey },
    /// Stop accepting everywhere, wait up to `deadline` for open connections, then close them.
    Shutdown { deadline: Duration },
}

/// What a worker's tasks share. Only the worker's own thread touches it; the atomics are
/// there because tokio wants `Send` tasks, and uncontended they cost what a plain cell does.
#[derive(Debug)]
pub(crate) struct WorkerCtx {
    pub(crate) pipes: PipePool,
    /// Keep-alive connections to backends (HTTP). Shared with the response bodies that put
    /// their connection back when they end.
    pub(crate) pool: Arc<Pool>,
    /// hyper connections to backends (HTTP/2 clients, HTTP/2 backends).
    pub(crate) clients: crate::http::ClientPool,
    /// Set when a graceful stop begins: keep-alive connections close after their current
    /// request, idle ones at once.
    draining: AtomicBool,
    /// Woken when a graceful stop begins ([`DrainWatch`]).
    drain_watchers: Mutex<Watchers>,
    /// Set when the shutdown deadline passed: connections still starting close at once.
    pub(crate) closing: AtomicBool,
    /// Woken when the shutdown deadline passed: open relays end.
    pub(crate) close_now: Notify,
    active: AtomicUsize,
    idle: Notify,
}

impl WorkerCtx {
    pub(crate) fn opened(&self) {
        self.active.fetch_add(1, Relaxed);
    }

    pub(crate) fn closed(&self) {
        if self.active.fetch_sub(1, Relaxed) == 1 {
            self.idle.notify_waiters();
        }
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Relaxed)
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Relaxed)
    }

    /// Registers a connection to be woken when a graceful stop begins.
    pub(crate) fn watch_drain(&self) -> DrainWatch<'_> {
        let mut w = self.lock_watchers();
        let key = match w.free.pop() {
            Some(key) => key,
            None => {
                w.slots.push(None);
                w.slots.len() - 1
            }
        };
        DrainWatch { ctx: self, key }
    }

    fn wake_drain_watchers(&self) {
        for waker in self.lock_watchers().slots.iter().flatten() {
            waker.wake_by_ref();
        }
    }

    fn lock_watchers(&self) -> MutexGuard<'_, Watchers> {
        self.drain_watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until no connection is open or `deadline` passes; true if none is open.
    async fn wait_idle(&self, deadline: Instant) -> bool {
        loop {
            let idle = self.idle.notified();
            if self.active.load(Relaxed) == 0 {
                return true;
            }
            if timeout_at(deadline, idle).await.is_err() {
                return self.active.load(Relaxed) == 0;
            }
        }
    }
}

/// The wakers of the connections watching for a graceful stop, by key; free keys are reused.
#[derive(Debug, Default)]
struct Watchers {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

/// A connection's registration for the start of a graceful stop, made once for the
/// connection's life. Waiting between requests then costs a lock and a waker comparison,
/// where a `Notify` waiter would join a list and leave it again for every request.
#[derive(Debug)]
pub(crate) struct DrainWatch<'a> {
    ctx: &'a WorkerCtx,
    key: usize,
}

impl DrainWatch<'_> {
    /// Ready once a graceful stop has begun; else the task is woken when one does.
    pub(crate) fn poll_started(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ctx.is_draining() {
            return Poll::Ready(());
        }
        let mut w = self.ctx.lock_watchers();
        let slot = &mut w.slots[self.key];
        if !slot.as_ref().is_some_and(|old| old.will_wake(cx.waker())) {
            *slot = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits until a graceful stop begins.
    pub(crate) async fn started(&self) {
        std::future::poll_fn(|cx| self.poll_started(cx)).await
    }
}

impl Drop for DrainWatch<'_> {
    fn drop(&mut self) {
        let mut w = self.ctx.lock_watchers();
        w.slots[self.key] = None;
        w.free.push(self.key);
    }
}

/// How a worker is set up.
pub(crate) struct Spec {
    pub(crate) index: usize,
    pub(crate) cpu: Option<usize>,
    pub(crate) max_pipes: usize,
    pub(crate) pipe_capacity: usize,
}

/// Starts a worker thread; it runs until it receives `Shutdown` or its channel closes.
pub(crate) fn spawn(
    spec: Spec,
    commands: mpsc::UnboundedReceiver<Command>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("fulcrum-w{}", spec.index))
        .spawn(move || {
            if let Some(cpu) = spec.cpu
                && let Err(e) = fulcrum_sys::affinity::pin_current_thread(cpu)
            {
                tracing::warn!(worker = spec.index, cpu, error = %e, "cannot pin worker");
            }
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(worker = spec.index, error = %e, "cannot start worker runtime");
                    return;
                }
            };
            let ctx = Arc::new(WorkerCtx {
                pipes: PipePool::new(spec.max_pipes, spec.pipe_capacity),
                pool: Arc::default(),
                clients: crate::http::ClientPool::default(),
                draining: AtomicBool::new(false),
                drain_watchers: Mutex::default(),
                closing: AtomicBool::new(false),
                close_now: Notify::new(),
                active: AtomicUsize::new(0),
                idle: Notify::new(),
            });
            // Plain `spawn` on a current-thread runtime: a task spawned from the worker's own
            // thread goes straight to its run queue with no wake-up syscall (a LocalSet writes
            // to the runtime's eventfd for every new connection).
            runtime.block_on(run(commands, ctx));
        })
}

async fn run(mut commands: mpsc::UnboundedReceiver<Command>, ctx: Arc<WorkerCtx>) {
    let mut accepting: HashMap<SocketKey, JoinHandle<()>> = HashMap::new();
    let sweeper = tokio::spawn(sweep_pool(Arc::clone(&ctx)));
    while let Some(command) = commands.recv().await {
        match command {
            Command::Listen { key, slot, socket } => {
                match tokio::net::TcpListener::from_std(socket) {
                    Ok(socket) => {
                        let task = tokio::spawn(accept_loop(slot, socket, Arc::clone(&ctx)));
                        if let Some(old) = accepting.insert(key, task) {
                            old.abort();
                        }
                    }
                    Err(e) => {
                        tracing::error!(addr = %key.0, error = %e, "cannot register listener")
                    }
                }
            }
            Command::Unlisten { key } => {
                if let Some(task) = accepting.remove(&key) {
                    task.abort();
                }
            }
            Command::Shutdown { deadline } => {
                accepting.drain().for_each(|(_, task)| task.abort());
                drain(&ctx, deadline).await;
                sweeper.abort();
                return;
            }
        }
    }
}

/// Now and then: closes idle backend connections that timed out, and gives memory the worker
/// no longer uses back to the system.
async fn sweep_pool(ctx: Arc<WorkerCtx>) {
    loop {
        tokio::time::sleep(crate::http::pool::SWEEP_EVERY).await;
        ctx.pool.sweep();
        fulcrum_sys::memory::release_free_memory();
    }
}

/// Lets open connections finish until `deadline`, then ends the rest (each still logs its line).
async fn drain(ctx: &WorkerCtx, deadline: Duration) {
    ctx.draining.store(true, Relaxed);
    ctx.wake_drain_watchers();
    if ctx.wait_idle(Instant::now() + deadline).await {
        return;
    }
    ctx.closing.store(true, Relaxed);
    ctx.close_now.notify_waiters();
    ctx.wait_idle(Instant::now() + Duration::from_secs(1)).await;
}
