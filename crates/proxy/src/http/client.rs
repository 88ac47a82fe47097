//! Backend connections driven by hyper: for requests that arrive over HTTP/2, and for
//! clusters whose backends speak HTTP/2 (`protocol = "h2"`). HTTP/1.1 connections are kept
//! per backend, one request at a time each; an HTTP/2 connection per backend carries all of a
//! worker's requests to it, multiplexed.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::net::TcpStream;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of requests sent through hyper.
pub(crate) type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A ready-to-use hyper connection to one backend.
pub(crate) enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

/// A worker's hyper connections, by backend address.
#[derive(Default)]
pub(crate) struct ClientPool {
    h1: Mutex<HashMap<SocketAddr, Vec<http1::SendRequest<Body>>>>,
    h2: Mutex<HashMap<SocketAddr, http2::SendRequest<Body>>>,
}

impl std::fmt::Debug for ClientPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientPool")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClientPool {
    /// A connection to `addr` that can take a request now, if one is kept.
    pub(crate) fn take(&self, addr: SocketAddr, h2: bool) -> Option<Sender> {
        if h2 {
            let mut map = lock(&self.h2);
            match map.get(&addr) {
                Some(s) if !s.is_closed() => return Some(Sender::H2(s.clone())),
                Some(_) => {
                    map.remove(&addr);
                }
                None => {}
            }
            return None;
        }
        let mut map = lock(&self.h1);
        let list = map.get_mut(&addr)?;
        list.retain(|s| !s.is_closed());
        let ready = list.iter().position(|s| s.is_ready())?;
        Some(Sender::H1(list.swap_remove(ready)))
    }

    /// Keeps a connection for the next request (an HTTP/1.1 one may still be finishing its
    /// response body; it is used again once ready).
    pub(crate) fn put(&self, addr: SocketAddr, sender: Sender, max_idle: usize) {
        match sender {
            Sender::H2(s) => {
                lock(&self.h2).insert(addr, s);
            }
            Sender::H1(s) if max_idle > 0 => {
                let mut map = lock(&self.h1);
                let list = map.entry(addr).or_default();
                if list.len() >= max_idle {
                    list.remove(0);
                }
                list.push(s);
            }
            Sender::H1(_) => {}
        }
    }
}

/// Starts a hyper connection on `stream`; its driver runs as a task of the worker.
pub(crate) async fn handshake(stream: TcpStream, h2: bool) -> hyper::Result<Sender> {
    let io = TokioIo::new(stream);
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(1 << 20)
            .initial_connection_window_size(1 << 21)
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "backend h2 connection ended");
            }
        });
        Ok(Sender::H2(sender))
    } else {
        let (sender, conn) = http1::Builder::new().handshake(io).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "backend connection ended");
            }
        });
        Ok(Sender::H1(sender))
    }
}

impl Sender {
    /// Sends `req`; the sender comes back for reuse with the response.
    pub(crate) async fn send(
        mut self,
        req: Request<Body>,
    ) -> (hyper::Result<Response<Incoming>>, Sender) {
        let result = match &mut self {
            Sender::H1(s) => match s.ready().await {
                Ok(()) => s.send_request(req).await,
                Err(e) => Err(e),
            },
            Sender::H2(s) => s.send_request(req).await,
        };
        (result, self)
    }
}
