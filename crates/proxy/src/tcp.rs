//! A TCP (L4) connection's life: pick a backend, connect (trying the next on failure), relay,
//! count, and log one line when it closes.

use crate::listener::{ListenerRuntime, Permit};
use crate::relay::{self, End, Outcome, Settings};
use crate::upstream;
use crate::worker::WorkerCtx;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::net::TcpStream;

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
    let Some((index, upstream)) = upstream::connect(cluster, listener.config.tcp_nodelay).await
    else {
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

/// Counts a connection as open for the listener and the worker, and closed again on drop,
/// whichever way the connection's task ends.
pub(crate) struct Open {
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    _permit: Permit,
}

impl Open {
    pub(crate) fn new(
        listener: &Arc<ListenerRuntime>,
        worker: &Arc<WorkerCtx>,
        permit: Permit,
    ) -> Self {
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
