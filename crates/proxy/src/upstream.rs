//! Connecting to a cluster's backends: pick, connect with a timeout, try another on failure.

use crate::cluster::ClusterRuntime;
use fulcrum_sys::socket::{send_now, start_connect, take_error};
use std::io;
use std::io::ErrorKind::WouldBlock;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Most backends tried for one connection, whatever the config says.
const MAX_ATTEMPTS: usize = 16;

/// A connection to the chosen backend: a new one, or one the caller had kept (`R`).
pub(crate) enum Conn<R> {
    New(TcpStream),
    Reused(R),
}

/// How to open a new backend connection.
pub(crate) struct Dial<'a> {
    pub(crate) nodelay: bool,
    /// Bytes to send as soon as a new connection is up (a TCP client's first bytes): they
    /// leave with the ACK that completes the handshake, and no wait for writability comes
    /// first when the connection is up at once (loopback, or a fast LAN). What was sent is
    /// cut from the front; the rest is the caller's to send.
    pub(crate) first: &'a [u8],
}

impl Dial<'_> {
    /// No bytes to send first (HTTP writes its request once it has a connection, kept or new).
    pub(crate) fn plain(nodelay: bool) -> Self {
        Dial {
            nodelay,
            first: &[],
        }
    }
}

/// Why no backend connection could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectError {
    /// Nothing to pick: no backend, or all skipped.
    NoBackend,
    /// Every backend tried refused or timed out.
    Failed,
}

/// Connects to a backend of `cluster`, trying up to `connect_attempts` different ones.
/// `exclude` lists backends already tried by earlier tries of the same request. `hash` is the balancing key's hash for hashing algorithms. Before connecting to a backend,
/// `reuse` may offer a kept connection to it (the HTTP pool). The chosen backend's `active`
/// counter is raised before connecting (so concurrent picks see it) and stays raised on
/// success; the caller lowers it when done.
pub(crate) async fn connect<R>(
    cluster: &ClusterRuntime,
    exclude: &[usize],
    hash: Option<u64>,
    preferred: Option<usize>,
    dial: &mut Dial<'_>,
    mut reuse: impl FnMut(SocketAddr) -> Option<R>,
) -> Result<(usize, Conn<R>), ConnectError> {
    let attempts = (cluster.config.connect_attempts as usize).clamp(1, MAX_ATTEMPTS);
    let mut tried = [0usize; MAX_ATTEMPTS];
    let excluded = exclude.len().min(MAX_ATTEMPTS / 2);
    tried[..excluded].copy_from_slice(&exclude[..excluded]);
    let mut n = excluded;
    while n < excluded + attempts.min(MAX_ATTEMPTS - excluded) {
        let Some(index) = cluster.pick_preferring(preferred, &tried[..n], hash) else {
            break;
        };
        tried[n] = index;
        n += 1;
        let backend = &cluster.backends[index];
        backend.stats.active.fetch_add(1, Relaxed);
        if let Some(kept) = reuse(backend.address) {
            return Ok((index, Conn::Reused(kept)));
        }
        match connect_one(backend.address, cluster.config.connect_timeout, dial).await {
            Ok(stream) => {
                backend.stats.connections.fetch_add(1, Relaxed);
                cluster.report(index, fulcrum_balance::outlier::Outcome::Connected);
                return Ok((index, Conn::New(stream)));
            }
            Err(error) => {
                backend.stats.active.fetch_sub(1, Relaxed);
                backend.stats.connect_errors.fetch_add(1, Relaxed);
                cluster.report(index, fulcrum_balance::outlier::Outcome::ConnectFailure);
                tracing::debug!(backend = %backend.address, %error, "connect failed");
            }
        }
    }
    Err(if n == excluded {
        ConnectError::NoBackend
    } else {
        ConnectError::Failed
    })
}

async fn connect_one(
    addr: SocketAddr,
    timeout: std::time::Duration,
    dial: &mut Dial<'_>,
) -> io::Result<TcpStream> {
    let first = !dial.first.is_empty();
    let stream = TcpStream::from_std(start_connect(addr, dial.nodelay, first)?)?;
    if first {
        // Up already (loopback completes the handshake inside connect()): send now.
        match send_now(&stream, dial.first) {
            Ok(n) => {
                dial.first = &dial.first[n..];
                return Ok(stream);
            }
            Err(e) if e.kind() == WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    match tokio::time::timeout(timeout, established(&stream)).await {
        Ok(Ok(())) => Ok(stream),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
}

/// Waits until a connecting socket is writable. The kernel is asked for the socket's error
/// (`SO_ERROR`) only when the readiness says the connection failed (`EPOLLERR`/`EPOLLHUP`),
/// which saves a system call per connection that succeeds.
async fn established(stream: &TcpStream) -> io::Result<()> {
    let ready = stream.ready(Interest::WRITABLE).await?;
    if ready.is_write_closed()
        && let Some(error) = take_error(stream)?
    {
        return Err(error);
    }
    Ok(())
}
