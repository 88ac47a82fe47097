//! One client connection's life: pick a backend, connect (trying the next on failure), relay,
//! count, and log one line when it closes.

use crate::cluster::ClusterRuntime;
use crate::listener::{ListenerRuntime, Permit};
use crate::relay::{self, End, Outcome, Settings};
use crate::worker::WorkerCtx;
use fulcrum_sys::socket::set_nodelay;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::net::TcpStream;

/// Most backends tried for one connection, whatever the config says.
const MAX_ATTEMPTS: usize = 16;

/// Serves one accepted client to its end. Never fails: every outcome is counted and logged.
pub(crate) async fn serve(
    client: TcpStream,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    permit: Permit,
) {
    let _open = Open::new(&listener, &worker, permit);
    let started = Instant::now();
    // The client socket inherited its options from the listening socket.
    let cluster = &listener.cluster;
    let Some((index, upstream)) = connect(cluster, listener.config.tcp_nodelay).await else {
        listener.stats.no_backend.fetch_add(1, Relaxed);
        tracing::warn!(listener = %listener.config.name, client = %peer, cluster = cluster.name(),
            "connection closed: no backend reachable");
        return;
    };
    let backend = &cluster.backends[index];
    backend.stats.connections.fetch_add(1, Relaxed);
    let settings = Settings {
        mode: listener.relay_mode,
        buffer_size: listener.buffer_size,
        idle_timeout: listener.config.idle_timeout,
        pipes: &worker.pipes,
        close_now: &worker.close_now,
    };
    let outcome = if worker.is_closing() {
        Outcome {
            up: 0,
            down: 0,
            end: End::Shutdown,
            error: None,
        }
    } else {
        relay::run(&client, &upstream, settings).await
    };
    backend.stats.active.fetch_sub(1, Relaxed);
    backend.stats.bytes_sent.fetch_add(outcome.up, Relaxed);
    backend
        .stats
        .bytes_received
        .fetch_add(outcome.down, Relaxed);
    listener.stats.bytes_in.fetch_add(outcome.up, Relaxed);
    listener.stats.bytes_out.fetch_add(outcome.down, Relaxed);
    if listener.log_connections {
        log_close(&listener, peer, backend.address, &outcome, started);
    }
}

fn log_close(
    l: &ListenerRuntime,
    client: SocketAddr,
    backend: SocketAddr,
    o: &Outcome,
    t: Instant,
) {
    tracing::info!(
        listener = %l.config.name,
        %client,
        %backend,
        bytes_in = o.up,
        bytes_out = o.down,
        duration_ms = t.elapsed().as_millis() as u64,
        end = %o.end.as_str(),
        error = o.error.as_ref().map(tracing::field::display),
        "connection closed"
    );
}

/// Connects to a backend of `cluster`, trying up to `connect_attempts` different ones. The
/// chosen backend's `active` counter is raised before connecting (so concurrent picks see it)
/// and stays raised on success; the caller lowers it when the connection ends.
async fn connect(cluster: &ClusterRuntime, nodelay: bool) -> Option<(usize, TcpStream)> {
    let attempts = (cluster.config.connect_attempts as usize).clamp(1, MAX_ATTEMPTS);
    let mut tried = [0usize; MAX_ATTEMPTS];
    for n in 0..attempts {
        let index = cluster.pick(&tried[..n])?;
        tried[n] = index;
        let backend = &cluster.backends[index];
        backend.stats.active.fetch_add(1, Relaxed);
        match connect_one(backend.address, cluster.config.connect_timeout).await {
            Ok(stream) => {
                if nodelay {
                    // Only fails if the backend already went away; the relay will see that.
                    let _ = set_nodelay(&stream, true);
                }
                return Some((index, stream));
            }
            Err(error) => {
                backend.stats.active.fetch_sub(1, Relaxed);
                backend.stats.connect_errors.fetch_add(1, Relaxed);
                tracing::debug!(backend = %backend.address, %error, "connect failed");
            }
        }
    }
    None
}

async fn connect_one(addr: SocketAddr, timeout: std::time::Duration) -> io::Result<TcpStream> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
}

/// Counts a connection as open for the listener and the worker, and closed again on drop,
/// whichever way the connection's task ends.
struct Open {
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    _permit: Permit,
}

impl Open {
    fn new(listener: &Arc<ListenerRuntime>, worker: &Arc<WorkerCtx>, permit: Permit) -> Self {
        listener.stats.active.fetch_add(1, Relaxed);
        worker.opened();
        Open {
            listener: Arc::clone(listener),
            worker: Arc::clone(worker),
            _permit: permit,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.listener.stats.active.fetch_sub(1, Relaxed);
        self.worker.closed();
    }
}
