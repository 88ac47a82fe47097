//! Listeners: the per-generation view ([`ListenerRuntime`]), the state shared by every worker's
//! socket on one address ([`ListenerSlot`]), and the accept loop each worker runs.

use crate::cluster::ClusterRuntime;
use crate::connection;
use crate::relay::Mode;
use crate::stats::ListenerStats;
use crate::worker::WorkerCtx;
use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use fulcrum_config::ListenerConfig;
use fulcrum_sys::socket::{StreamOptions, apply_stream_options, is_resource_exhaustion};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A listener as one config generation sees it: its settings, the cluster it sends to, and its
/// counters (kept across reloads while the listener's name is kept).
#[derive(Debug)]
pub struct ListenerRuntime {
    pub config: ListenerConfig,
    /// The cluster a TCP listener sends to (validation guarantees one for TCP listeners).
    pub cluster: Option<Arc<ClusterRuntime>>,
    pub stats: Arc<ListenerStats>,
    pub(crate) relay_mode: Mode,
    pub(crate) buffer_size: usize,
    pub(crate) log_connections: bool,
    /// Compiled HTTP settings, for `protocol = "http"`.
    pub(crate) http: Option<Arc<crate::http::HttpRuntime>>,
    /// SNI passthrough routes, for TCP listeners with `sni_routes`.
    pub(crate) sni: Option<Arc<crate::sni::SniRuntime>>,
    /// TLS termination, for `protocol = "https"` and `"tls"`.
    pub(crate) tls: Option<Arc<fulcrum_tls::server::ServerTls>>,
    /// The load counters of `cluster`.
    pub(crate) cluster_load: Option<Arc<crate::load::ClusterLoad>>,
}

/// What every worker's socket for one address shares: the current [`ListenerRuntime`]
/// (replaced on reload while the sockets stay) and the connection limit.
#[derive(Debug)]
pub(crate) struct ListenerSlot {
    pub(crate) current: ArcSwap<ListenerRuntime>,
    /// Connections open or being accepted, across all workers; bounded by `max_connections`.
    reserved: CachePadded<AtomicUsize>,
    room: Notify,
}

/// A place under the listener's connection limit; given back on drop.
pub(crate) struct Permit {
    slot: Arc<ListenerSlot>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let before = self.slot.reserved.fetch_sub(1, Relaxed);
        if before >= self.slot.current.load().config.max_connections {
            self.slot.room.notify_waiters();
        }
    }
}

impl ListenerSlot {
    pub(crate) fn new(runtime: Arc<ListenerRuntime>) -> Arc<Self> {
        Arc::new(ListenerSlot {
            current: ArcSwap::new(runtime),
            reserved: CachePadded::new(AtomicUsize::new(0)),
            room: Notify::new(),
        })
    }

    fn try_reserve(&self, max: usize) -> bool {
        self.reserved
            .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
            .is_ok()
    }

    /// Waits until the listener is under `max_connections`. With `take`, takes a place and
    /// returns its permit; without, only waits (so an idle worker holds no place while it
    /// sits in accept). While the listener is full the worker does not call accept: new
    /// clients wait in the kernel's backlog.
    async fn wait_for_room(self: &Arc<Self>, take: bool) -> Option<Permit> {
        let mut paused = false;
        loop {
            let room = self.room.notified();
            let mut room = std::pin::pin!(room);
            room.as_mut().enable();
            let current = self.current.load();
            let max = current.config.max_connections;
            if take && self.try_reserve(max) {
                return Some(Permit {
                    slot: Arc::clone(self),
                });
            }
            if !take && self.reserved.load(Relaxed) < max {
                return None;
            }
            if !paused && !take {
                paused = true;
                current.stats.limit_reached.fetch_add(1, Relaxed);
                tracing::debug!(listener = %current.config.name, "connection limit reached, pausing accept");
            }
            drop(current);
            // A reload may raise the limit without anyone closing: look again now and then.
            let _ = tokio::time::timeout(Duration::from_millis(500), room).await;
        }
    }
}

/// Accepts connections on one worker's socket until the task is aborted (listener removed,
/// or the worker stopping).
pub(crate) async fn accept_loop(
    slot: Arc<ListenerSlot>,
    socket: TcpListener,
    worker: Arc<WorkerCtx>,
) {
    let mut backoff = Backoff::default();
    let mut applied = None;
    loop {
        slot.wait_for_room(false).await;
        ensure_options(&socket, &mut applied, &slot.current.load().config, None);
        match socket.accept().await {
            Ok((stream, peer)) => {
                backoff.reset();
                // Normally at once; if another worker took the last place meanwhile, this
                // client waits here as it would have in the backlog.
                let Some(permit) = slot.wait_for_room(true).await else {
                    continue;
                };
                let runtime = slot.current.load_full();
                ensure_options(&socket, &mut applied, &runtime.config, Some(&stream));
                runtime.stats.accepted.fetch_add(1, Relaxed);
                let task = connection::serve(stream, peer, runtime, Arc::clone(&worker), permit);
                tokio::spawn(task);
            }
            Err(e) if is_resource_exhaustion(&e) => {
                let runtime = slot.current.load();
                runtime.stats.accept_exhausted.fetch_add(1, Relaxed);
                backoff.wait(&runtime.config.name, &e).await;
            }
            // ECONNABORTED and friends: the client gave up before we accepted; nothing to do.
            Err(e) => tracing::debug!(error = %e, "accept failed"),
        }
    }
}

/// The options of `config`, as accepted sockets should carry them.
fn stream_options(config: &ListenerConfig) -> StreamOptions {
    StreamOptions {
        nodelay: config.tcp_nodelay,
        keepalive: config.tcp_keepalive,
    }
}

/// Sets TCP options on the listening socket, whose accepted sockets inherit them, whenever
/// they differ from what was last applied (at start, and after a reload that changed them).
/// A socket accepted before the change gets them set directly.
fn ensure_options(
    socket: &TcpListener,
    applied: &mut Option<StreamOptions>,
    config: &ListenerConfig,
    accepted: Option<&tokio::net::TcpStream>,
) {
    let wanted = stream_options(config);
    if *applied == Some(wanted) {
        return;
    }
    if let Err(error) = apply_stream_options(socket, wanted) {
        tracing::warn!(listener = %config.name, %error, "cannot set socket options");
    }
    if let Some(stream) = accepted {
        let _ = apply_stream_options(stream, wanted);
    }
    *applied = Some(wanted);
}

/// Exponential back-off for accept when the process is out of file descriptors, so the loop
/// sleeps instead of spinning on a socket that stays readable.
#[derive(Default)]
struct Backoff {
    delay: Option<Duration>,
    last_warning: Option<tokio::time::Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_millis(500);

    fn reset(&mut self) {
        self.delay = None;
    }

    async fn wait(&mut self, listener: &str, error: &std::io::Error) {
        let delay = self.delay.map_or(Self::FIRST, |d| (d * 2).min(Self::MAX));
        self.delay = Some(delay);
        let now = tokio::time::Instant::now();
        if self
            .last_warning
            .is_none_or(|t| now - t > Duration::from_secs(10))
        {
            self.last_warning = Some(now);
            tracing::warn!(listener, %error, "cannot accept: out of resources, backing off");
        }
        tokio::time::sleep(delay).await;
    }
}
