//! A worker's keep-alive connections to backends, reused across requests and clients.
//!
//! Per worker, so no connection crosses threads and the lock is never contended. Idle
//! connections are kept newest first (the newest is likeliest still open and warm) and dropped
//! when they pass the cluster's idle timeout, when the backend closed them, or when the list
//! for a backend is full.

use crate::addr_hash::AddrHash;
use bytes::BytesMut;
use std::collections::HashMap;
use std::io::ErrorKind::WouldBlock;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// A connection to a backend, with how many requests it has carried.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) stream: TcpStream,
    pub(crate) requests: u64,
    /// Taken from the pool (so a failure before any response byte may be a stale connection).
    pub(crate) reused: bool,
    /// This connection's place in the cluster's open-connection count.
    pub(crate) _slot: Option<crate::load::Held>,
    /// Carries a PROXY header for one client: never reused for another.
    pub(crate) private: bool,
    /// The response timeout, one timer for the connection's life, moved lazily (see
    /// [`super::io::poll_until`]).
    pub(crate) timer: Pin<Box<Sleep>>,
    /// The read buffer kept between requests ([`Upstream::take_buf`], [`Upstream::keep_buf`]):
    /// none at first, and none once a sweep finds the connection among its backend's older
    /// idle ones.
    pub(crate) buf: BytesMut,
    /// When the current request got this connection (opened, or taken from the pool): its
    /// response timeout counts from then.
    pub(crate) acquired: Instant,
}

/// A backend connection's read buffer to start with, and the most an idle one keeps.
const READ_BUFFER: usize = 4096;

impl Upstream {
    /// The read buffer for a request on this connection: the one it kept, or a new one.
    pub(crate) fn take_buf(&mut self) -> BytesMut {
        let mut buf = std::mem::take(&mut self.buf);
        if buf.capacity() == 0 {
            buf.reserve(READ_BUFFER);
        }
        buf
    }

    /// Keeps `buf` (read to its end) for the next request, rewound to its start, unless a
    /// large response grew it or bytes still in use share it: an idle connection keeps at
    /// most a small buffer.
    pub(crate) fn keep_buf(&mut self, mut buf: BytesMut) {
        if buf.is_empty() && buf.try_reclaim(READ_BUFFER) && buf.capacity() <= READ_BUFFER {
            self.buf = buf;
        }
    }

    /// A connection just opened (or taken over) for requests.
    pub(crate) fn new(stream: TcpStream, slot: Option<crate::load::Held>) -> Upstream {
        Upstream {
            stream,
            requests: 0,
            reused: false,
            _slot: slot,
            private: false,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            buf: BytesMut::new(),
            acquired: Instant::now(),
        }
    }
}

#[derive(Debug)]
struct Idle {
    upstream: Upstream,
    expires: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<SocketAddr, Vec<Idle>, AddrHash>>,
}

/// After each sweep only this many of the newest idle connections to a backend keep their
/// read buffer: under load every pooled connection keeps its buffer between sweeps, and once
/// the load is gone the pool holds a few, not one per idle connection.
const BUFFERED_IDLE: usize = 8;

/// How often each worker sweeps its pool.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl Pool {
    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, Vec<Idle>, AddrHash>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest idle connection to `addr` that is still usable.
    pub(crate) fn take(&self, addr: SocketAddr) -> Option<Upstream> {
        let mut map = self.lock();
        let list = map.get_mut(&addr)?;
        let now = Instant::now();
        while let Some(idle) = list.pop() {
            if now < idle.expires && still_open(&idle.upstream.stream) {
                let mut upstream = idle.upstream;
                upstream.reused = true;
                upstream.acquired = now;
                return Some(upstream);
            }
        }
        None
    }

    /// Keeps `upstream` for reuse for up to `idle_timeout`, dropping the oldest idle one if
    /// the list for `addr` already holds `max_idle`. The time counts from when the last
    /// request got the connection (no clock read here), so a connection idles a little less
    /// than `idle_timeout` (by that request's duration), never more.
    pub(crate) fn put(
        &self,
        addr: SocketAddr,
        upstream: Upstream,
        max_idle: usize,
        idle_timeout: Duration,
    ) {
        if max_idle == 0 {
            return;
        }
        let mut map = self.lock();
        let list = map.entry(addr).or_default();
        if list.len() >= max_idle {
            list.remove(0);
        }
        let expires = upstream.acquired + idle_timeout;
        list.push(Idle { upstream, expires });
    }

    /// Drops idle connections past their idle timeout or closed by the backend, and the read
    /// buffers of all but each backend's [`BUFFERED_IDLE`] newest idle connections.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        let mut map = self.lock();
        for list in map.values_mut() {
            list.retain(|i| now < i.expires && still_open(&i.upstream.stream));
            let older = list.len().saturating_sub(BUFFERED_IDLE);
            for idle in &mut list[..older] {
                idle.upstream.buf = BytesMut::new();
            }
        }
        map.retain(|_, list| !list.is_empty());
    }
}

/// An idle connection is usable if it has nothing to read: no FIN, no stray bytes. While the
/// reactor has seen no event on it this costs no syscall.
fn still_open(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// `n` connected streams to one local listener (kept open by the returned accepted ends).
    async fn streams(n: usize) -> (SocketAddr, Vec<TcpStream>, Vec<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..n {
            ours.push(TcpStream::connect(addr).await.unwrap());
            theirs.push(listener.accept().await.unwrap().0);
        }
        (addr, ours, theirs)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn after_a_sweep_only_the_newest_idle_connections_keep_their_buffer() {
        let (addr, ours, _theirs) = streams(BUFFERED_IDLE + 4).await;
        let pool = Pool::default();
        for stream in ours {
            let mut up = Upstream::new(stream, None);
            up.buf = BytesMut::with_capacity(4096);
            pool.put(addr, up, 64, Duration::from_secs(60));
        }
        pool.sweep();
        let mut buffered = Vec::new();
        while let Some(up) = pool.take(addr) {
            assert!(up.reused);
            buffered.push(up.buf.capacity() > 0);
        }
        let mut expected = vec![true; BUFFERED_IDLE];
        expected.extend([false; 4]);
        assert_eq!(
            buffered, expected,
            "newest first, and only the newest keep a buffer"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn expiry_counts_from_when_the_request_got_the_connection() {
        let (addr, mut ours, _theirs) = streams(1).await;
        let pool = Pool::default();
        let mut up = Upstream::new(ours.pop().unwrap(), None);
        up.acquired = Instant::now() - Duration::from_secs(2);
        pool.put(addr, up, 64, Duration::from_secs(1));
        assert!(
            pool.take(addr).is_none(),
            "acquired 2 s ago with a 1 s idle timeout"
        );
    }
}
