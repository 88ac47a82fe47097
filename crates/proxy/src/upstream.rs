//! Connecting to a cluster's backends: pick, connect with a timeout, try another on failure.

use crate::cluster::ClusterRuntime;
use fulcrum_sys::socket::set_nodelay;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use tokio::net::TcpStream;

/// Most backends tried for one connection, whatever the config says.
const MAX_ATTEMPTS: usize = 16;

/// Connects to a backend of `cluster`, trying up to `connect_attempts` different ones. The
/// chosen backend's `active` counter is raised before connecting (so concurrent picks see it)
/// and stays raised on success; the caller lowers it when the connection ends.
pub(crate) async fn connect(cluster: &ClusterRuntime, nodelay: bool) -> Option<(usize, TcpStream)> {
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
