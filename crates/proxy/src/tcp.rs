//! A TCP (L4) connection's life: pick a backend, connect (trying the next on failure), relay,
//! count, and log one line when it closes.

use crate::cluster::ClusterRuntime;
use crate::http::{ClientIo, copy_both};
use crate::listener::ListenerRuntime;
use crate::load::Gauge;
use crate::readiness::read_drained;
use crate::relay::{self, COPY_BUFFER, End, Outcome, Settings};
use crate::upstream::{self, Conn};
use crate::worker::WorkerCtx;
use bytes::BytesMut;
use fulcrum_sys::socket::recv_now;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::net::TcpStream;

/// Serves one accepted client to its end, with the listener's cluster. Never fails: every
/// outcome is counted and logged.
pub(crate) async fn serve(
    client: ClientIo,
    peer: SocketAddr,
    listener: &ListenerRuntime,
    worker: &WorkerCtx,
    early: BytesMut,
) {
    let Some(cluster) = &listener.cluster else {
        return;
    };
    let load = listener.cluster_load.as_ref();
    serve_with(client, peer, listener, worker, early, cluster, load).await;
}

/// [`serve`] with a given cluster (SNI passthrough picks one per connection).
pub(crate) async fn serve_with(
    client: ClientIo,
    peer: SocketAddr,
    listener: &ListenerRuntime,
    worker: &WorkerCtx,
    early: BytesMut,
    cluster: &ClusterRuntime,
    load: Option<&std::sync::Arc<crate::load::ClusterLoad>>,
) {
    let started = Instant::now();
    // The client socket inherited its options from the listening socket.
    let limit = cluster.config.limits.max_connections;
    let _slot = match load.map(|l| l.enter(Gauge::Connections, limit)) {
        Some(None) => {
            tracing::warn!(listener = %listener.config.name, client = %peer, cluster = cluster.name(),
                "connection closed: the cluster is at max_connections");
            return;
        }
        slot => slot.flatten(),
    };
    let hash = cluster
        .uses_hash()
        .then(|| fulcrum_balance::hash::hash_ip(peer.ip()));
    // A plain-TCP backend gets the client's first bytes with the handshake's last ACK.
    let mut first = BytesMut::new();
    let mut from_client = 0;
    if cluster.tls.is_none() {
        match first_flight(&client, cluster, peer, &early, &mut first) {
            Ok(n) => from_client = n,
            Err(error) => {
                tracing::debug!(listener = %listener.config.name, client = %peer, %error,
                    "connection closed: no local address for the PROXY header");
                return;
            }
        }
    }
    let sticky = cluster.persisted(peer.ip(), None);
    let mut dial = upstream::Dial {
        nodelay: listener.config.tcp_nodelay,
        first: &first,
    };
    let connected =
        upstream::connect(cluster, &[], hash, sticky, &mut dial, |_| None::<TcpStream>).await;
    let Ok((index, Conn::New(upstream))) = connected else {
        listener.stats.no_backend.fetch_add(1, Relaxed);
        tracing::warn!(listener = %listener.config.name, client = %peer, cluster = cluster.name(),
            "connection closed: no backend reachable");
        return;
    };
    let unsent = dial.first;
    cluster.persist(peer.ip(), None, index);
    let backend = &cluster.backends[index];
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
    } else if let Some(tls) = &cluster.tls {
        let addr = cluster.backends[index].address;
        relay_to_tls(
            &client,
            upstream,
            (cluster, tls, addr),
            peer,
            &early,
            listener,
        )
        .await
    } else if let Err(error) = send_ahead(&upstream, unsent).await {
        Outcome {
            up: 0,
            down: 0,
            end: End::BackendError,
            error: Some(error),
        }
    } else {
        let mut outcome = match client {
            ClientIo::Tcp(tcp) => relay::run_and_close(tcp, upstream, settings, first).await,
            client => relay_terminated(&client, &upstream, listener).await,
        };
        outcome.up += from_client as u64;
        outcome
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
        log_close(listener, peer, backend.address, &outcome, started);
    }
}

/// What a plain-TCP backend gets before the relay starts, into `out`: a PROXY header if the
/// cluster asks for one, the bytes the client sent while its own PROXY header or TLS hello was
/// read (`early`), and, when there were none, whatever the client has sent by now (read
/// without waiting: most protocols have the client speak first). Returns how many of the
/// bytes came from the client.
fn first_flight(
    client: &ClientIo,
    cluster: &ClusterRuntime,
    peer: SocketAddr,
    early: &[u8],
    out: &mut BytesMut,
) -> std::io::Result<usize> {
    out.extend_from_slice(&proxy_header(client, cluster, peer)?);
    let start = out.len();
    out.extend_from_slice(early);
    if let (true, ClientIo::Tcp(tcp)) = (early.is_empty(), client) {
        // A short read clears the socket's readiness, so the relay does not read it again
        // before more arrives. A read that fails here fails again in the relay, which
        // reports it.
        out.resize(start + COPY_BUFFER, 0);
        let n = read_drained(tcp, COPY_BUFFER, || recv_now(tcp, &mut out[start..]));
        out.truncate(start + n.unwrap_or(0));
    }
    Ok(out.len() - start)
}

/// Sends bytes that must precede the relay (the first bytes the connect did not send, when
/// the connection was not up at once; a PROXY header ahead of a TLS handshake), if any.
async fn send_ahead(upstream: &TcpStream, rest: &[u8]) -> std::io::Result<()> {
    if rest.is_empty() {
        return Ok(());
    }
    crate::http::write_all(upstream, rest).await
}

/// The PROXY header the cluster sends ahead of the client's bytes (empty if it sends none).
fn proxy_header(
    client: &ClientIo,
    cluster: &ClusterRuntime,
    peer: SocketAddr,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(version) = cluster.config.send_proxy_protocol {
        crate::proxy_protocol::encode(version, peer, client.local_addr()?, &mut out);
    }
    Ok(out)
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

/// The relay for a client whose TLS Fulcrum terminated: bytes are copied (no splice through
/// TLS), both ways, until both sides are done or the idle timeout.
async fn relay_terminated(client: &ClientIo, upstream: &TcpStream, l: &ListenerRuntime) -> Outcome {
    let (up, down) = copy_both(client, upstream, l.config.idle_timeout).await;
    Outcome {
        up,
        down,
        end: End::ClientClosed,
        error: None,
    }
}

/// The relay when the cluster speaks TLS to its backends: the PROXY header (if any) goes in
/// clear first, then the TLS handshake within the connect timeout, then the client's early
/// bytes and a copy relay both ways through TLS.
async fn relay_to_tls(
    client: &ClientIo,
    upstream: TcpStream,
    (cluster, tls, addr): (&ClusterRuntime, &fulcrum_tls::ClientTls, SocketAddr),
    peer: SocketAddr,
    early: &[u8],
    l: &ListenerRuntime,
) -> Outcome {
    let failed = |error| Outcome {
        up: 0,
        down: 0,
        end: End::BackendError,
        error: Some(error),
    };
    // The PROXY header goes in clear, before the handshake.
    let header = match proxy_header(client, cluster, peer) {
        Ok(header) => header,
        Err(e) => return failed(e),
    };
    if let Err(e) = send_ahead(&upstream, &header).await {
        return failed(e);
    }
    let timeout = cluster.config.connect_timeout;
    let stream = match tokio::time::timeout(timeout, tls.connect(upstream, addr)).await {
        Ok(Ok(s)) => crate::http::Halves::new(s),
        Ok(Err(e)) => return failed(e),
        Err(_) => return failed(std::io::ErrorKind::TimedOut.into()),
    };
    if !early.is_empty()
        && let Err(e) = crate::http::write_all(&stream, early).await
    {
        return failed(e);
    }
    let (up, down) = copy_both(client, &stream, l.config.idle_timeout).await;
    Outcome {
        up: up + early.len() as u64,
        down,
        end: End::ClientClosed,
        error: None,
    }
}
