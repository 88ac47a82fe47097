//! An accepted connection's first steps, common to every protocol: count it, read a PROXY
//! protocol header if the peer is trusted to send one, then hand it to the TCP relay or the
//! HTTP code.

use crate::http::{ClientIo, TlsClient, TlsInfo, serve_h2_io};
use crate::listener::{ListenerRuntime, Permit};
use crate::proxy_protocol::{self, Decoded, ProxyHeader};
use crate::worker::WorkerCtx;
use bytes::BytesMut;
use fulcrum_config::Protocol;
use fulcrum_tls::server::ServerTls;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a trusted peer has to send its PROXY header.
const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves one accepted connection to its end.
///
/// An async block, not an async fn, so the arguments are not kept twice in the task (see
/// [`crate::http::serve`]).
pub(crate) fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    permit: Permit,
) -> impl Future<Output = ()> + Send {
    // The first steps are boxed and over before the protocol is served: the task itself
    // carries only what every connection needs for its whole life plus the protocol's state
    // (the HTTP/1.1 one inline, the others boxed), so an idle connection stays small. Made
    // here, so the task holds the box rather than the socket and address it starts from.
    let first = Box::pin(prelude(stream, peer, Arc::clone(&listener)));
    let open = Open::new(listener, worker, permit);
    async move {
        let (listener, worker) = (&open.listener, &open.worker);
        let Some((stream, peer, buf, h2)) = first.await else {
            return;
        };
        let (l, w) = (Arc::clone(listener), Arc::clone(worker));
        if let Some(tls) = listener.tls.clone() {
            return Box::pin(serve_tls(stream, peer, l, w, buf, tls)).await;
        }
        match listener.config.protocol {
            Protocol::Tcp if listener.sni.is_some() => {
                Box::pin(passthrough(stream, peer, listener, worker, buf)).await
            }
            Protocol::Tcp => {
                let client = ClientIo::Tcp(stream);
                Box::pin(crate::tcp::serve(client, peer, listener, worker, buf)).await
            }
            Protocol::Http if h2 => Box::pin(crate::http::serve_h2(stream, peer, l, w, buf)).await,
            Protocol::Http => crate::http::serve(ClientIo::Tcp(stream), peer, l, w, buf).await,
        }
    }
}

/// Reads a PROXY header if the peer is trusted to send one, and, on a cleartext HTTP
/// listener, looks for the HTTP/2 preface. Gives back the connection, the client's address,
/// the bytes read so far and whether they are the preface; `None` closes the connection.
async fn prelude(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
) -> Option<(TcpStream, SocketAddr, BytesMut, bool)> {
    let mut buf = BytesMut::new();
    let from = &listener.config.proxy_protocol_from;
    let peer = if !from.is_empty() && proxy_protocol::trusted(peer.ip(), from) {
        match read_proxy_header(&stream, &mut buf).await {
            Ok(Some(client)) => client,
            Ok(None) => peer,
            Err(why) => {
                listener.stats.proxy_header_errors.fetch_add(1, Relaxed);
                tracing::debug!(%peer, why, "bad PROXY protocol header, closing");
                return None;
            }
        }
    } else {
        peer
    };
    let h2 = listener.tls.is_none()
        && listener.config.protocol == Protocol::Http
        && is_h2(&stream, &mut buf).await;
    Some((stream, peer, buf, h2))
}

/// Terminates TLS (bytes already read, if any, are replayed into the handshake), then serves
/// the protocol inside: HTTP/2 when ALPN chose `h2`, HTTP/1.1 otherwise, or a TCP relay.
/// After a 0-RTT accept only HTTP/1.1 starts before the handshake completes (it judges each
/// early request, RFC 8470); HTTP/2 and the TCP relay wait for the client's Finished, then
/// read the early data as the first bytes of the stream.
async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    buf: BytesMut,
    tls: Arc<ServerTls>,
) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let conn = match tls.accept(stream, &buf).await {
        Ok(conn) => conn,
        Err(e) => {
            listener.stats.tls_handshake_errors.fetch_add(1, Relaxed);
            tracing::debug!(client = %peer, reason = e.reason(), "TLS handshake failed");
            return;
        }
    };
    drop(buf);
    let stats = Arc::clone(&listener.stats);
    conn.count_errors(move || {
        stats.tls_errors.fetch_add(1, Relaxed);
    });
    let h2 = conn.alpn_protocol().as_deref() == Some(b"h2");
    let http1 = listener.config.protocol == Protocol::Http && !h2;
    if !http1 && conn.complete_handshake().await.is_err() {
        listener.stats.tls_handshake_errors.fetch_add(1, Relaxed);
        tracing::debug!(client = %peer, "TLS handshake not completed after early data");
        return;
    }
    let identity = conn.identity();
    if h2 && listener.config.protocol == Protocol::Http {
        let info = TlsInfo { identity };
        return Box::pin(serve_h2_io(conn, peer, listener, worker, Some(info))).await;
    }
    let client = ClientIo::Tls(Box::new(TlsClient {
        conn,
        local,
        identity,
    }));
    if http1 {
        Box::pin(crate::http::serve(
            client,
            peer,
            listener,
            worker,
            BytesMut::new(),
        ))
        .await;
    } else {
        Box::pin(crate::tcp::serve(
            client,
            peer,
            &listener,
            &worker,
            BytesMut::new(),
        ))
        .await;
    }
}

/// SNI passthrough: peek at the ClientHello, route on its server name, relay the connection
/// (the hello included) to that cluster without terminating TLS. A bad, slow or unroutable
/// hello closes the connection, counted.
async fn passthrough(
    stream: TcpStream,
    peer: SocketAddr,
    listener: &ListenerRuntime,
    worker: &WorkerCtx,
    mut buf: BytesMut,
) {
    let Some(sni) = &listener.sni else { return };
    let (_, cluster, load) = match sni.route(&stream, &mut buf).await {
        Ok(found) => found,
        Err(why) => {
            listener.stats.tls_handshake_errors.fetch_add(1, Relaxed);
            tracing::debug!(client = %peer, why, "SNI passthrough: connection closed");
            return;
        }
    };
    let client = ClientIo::Tcp(stream);
    crate::tcp::serve_with(client, peer, listener, worker, buf, cluster, Some(load)).await;
}

/// Reads a PROXY header (v1 or v2); returns the client it names (`None` for LOCAL/UNKNOWN:
/// use the real peer). Bytes after the header stay in `buf`.
async fn read_proxy_header(
    stream: &TcpStream,
    buf: &mut BytesMut,
) -> Result<Option<SocketAddr>, &'static str> {
    let deadline = Instant::now() + PROXY_HEADER_TIMEOUT;
    loop {
        match proxy_protocol::decode(buf) {
            Ok(Decoded::Complete { header, len }) => {
                let _ = buf.split_to(len);
                return Ok(match header {
                    ProxyHeader::Proxy { source, .. } => Some(source),
                    ProxyHeader::Local => None,
                });
            }
            Ok(Decoded::Partial) => {}
            Err(e) => return Err(e.reason()),
        }
        match crate::http::read_some_until(stream, buf, deadline).await {
            Ok(0) => return Err("closed before the PROXY header ended"),
            Ok(_) => {}
            Err(_) => return Err("no PROXY header in time"),
        }
    }
}

/// Whether the client starts with the HTTP/2 preface. Reads only while the bytes so far could
/// still be the preface; whatever was read stays in `buf`.
async fn is_h2(stream: &TcpStream, buf: &mut BytesMut) -> bool {
    let deadline = Instant::now() + PROXY_HEADER_TIMEOUT;
    loop {
        let n = buf.len().min(H2_PREFACE.len());
        if buf[..n] != H2_PREFACE[..n] {
            return false;
        }
        if n == H2_PREFACE.len() {
            return true;
        }
        match crate::http::read_some_until(stream, buf, deadline).await {
            Ok(k) if k > 0 => {}
            // Closed or silent: let the HTTP/1 code deal with it (it times out or closes).
            _ => return false,
        }
    }
}

/// Counts a connection as open for the listener and the worker, and closed again on drop,
/// whichever way the connection's task ends. It holds the connection's listener and worker.
pub(crate) struct Open {
    listener: Arc<ListenerRuntime>,
    worker: Arc<WorkerCtx>,
    _permit: Permit,
}

impl Open {
    fn new(listener: Arc<ListenerRuntime>, worker: Arc<WorkerCtx>, permit: Permit) -> Self {
        listener.stats.active.fetch_add(1, Relaxed);
        worker.opened();
        Open {
            listener,
            worker,
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
