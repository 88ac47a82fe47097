//! The accept loop and one task per connection: hyper's HTTP/1 server with bounds on every
//! resource a client could hold.

use crate::routes;
use crate::view::Source;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

/// Connections open at once at most; a connection beyond it is closed as soon as accepted.
const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a request head, counted from the connection's start or the end
/// of its previous response; so it is also the keep-alive idle timeout.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Age after which a connection is asked to close once its current request is done.
const MAX_CONNECTION_AGE: Duration = Duration::from_secs(60);
/// How long a connection asked to close may take to finish its response before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Request body bytes read at most (a weight fits in a few).
const MAX_BODY: usize = 1024;
/// Pause after a failed accept (out of file descriptors, ...) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts connections until `shutdown` resolves, then closes the listener and waits (at most
/// [`CLOSE_GRACE`]) for open connections to finish.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    source: Source,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    tracing::warn!(error = %e, "admin connection task failed");
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if tasks.len() < MAX_CONNECTIONS => {
                    let conn = connection(builder.clone(), stream, peer, source.clone(), stopped.clone());
                    tasks.spawn(conn);
                }
                Ok((_, peer)) => {
                    tracing::warn!(%peer, limit = MAX_CONNECTIONS, "admin connection limit reached, closing");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }
    drop(listener);
    // Every connection is either waiting for `stop` or finishing on its own.
    let _ = stop.send(true);
    let drained = timeout(CLOSE_GRACE, async {
        while tasks.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::debug!(open = tasks.len(), "admin connections dropped at shutdown");
    }
    Ok(())
}

/// Reads the body of a request that may change something (at most [`MAX_BODY`] bytes, within
/// [`HEADER_READ_TIMEOUT`]); other requests' bodies are ignored.
async fn read_body(method: &Method, body: Incoming) -> Result<Bytes, StatusCode> {
    if !matches!(*method, Method::POST | Method::PUT | Method::DELETE) {
        return Ok(Bytes::new());
    }
    match timeout(HEADER_READ_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(_)) => Err(StatusCode::PAYLOAD_TOO_LARGE),
        Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
    }
}

/// Serves one connection until the client closes it, it reaches [`MAX_CONNECTION_AGE`] or the
/// server stops; the last two close it after the response in flight.
async fn connection(
    builder: http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    source: Source,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req: Request<Incoming>| {
        let source = source.clone();
        async move {
            let (parts, body) = req.into_parts();
            let req = Request::from_parts(parts, ());
            let resp = match read_body(req.method(), body).await {
                Ok(body) => routes::handle(&req, &body, || source()),
                Err(status) => routes::respond(status, routes::TEXT, "cannot read the body\n"),
            };
            Ok::<_, Infallible>(resp)
        }
    });
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let finished = tokio::select! {
        result = conn.as_mut() => Some(result),
        _ = stopped.wait_for(|stop| *stop) => None,
        () = sleep(MAX_CONNECTION_AGE) => None,
    };
    let result = match finished {
        Some(result) => result,
        None => {
            // Close after the response in flight; give it CLOSE_GRACE to get there.
            conn.as_mut().graceful_shutdown();
            timeout(CLOSE_GRACE, conn).await.unwrap_or(Ok(()))
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "admin connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;

    async fn start() -> (
        SocketAddr,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let source = testutil::source(&testutil::snapshot());
        let task = tokio::spawn(accept_loop(listener, source, async {
            let _ = rx.await;
        }));
        (addr, tx, task)
    }

    async fn exchange(addr: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        timeout(Duration::from_secs(5), stream.read_to_string(&mut out))
            .await
            .unwrap()
            .unwrap();
        out
    }

    #[tokio::test]
    async fn serves_http_and_stops_on_shutdown() {
        let (addr, stop, task) = start().await;

        let resp = exchange(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.ends_with("\r\n\r\nok\n"), "{resp}");

        let resp = exchange(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(
            resp.contains(r#"fulcrum_listener_connections_total{listener="web"} 0"#),
            "{resp}"
        );

        let resp = exchange(
            addr,
            "HEAD /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(
            resp.starts_with("HTTP/1.1 200 OK\r\n") && resp.ends_with("\r\n\r\n"),
            "{resp}"
        );

        let resp = exchange(
            addr,
            "DELETE /config HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(
            resp.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{resp}"
        );

        // An idle keep-alive connection must not hold up shutdown.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(buf[..n].ends_with(b"ok\n"));

        stop.send(()).unwrap();
        timeout(Duration::from_secs(2), task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let closed = timeout(Duration::from_secs(2), idle.read(&mut buf))
            .await
            .unwrap();
        assert!(
            matches!(closed, Ok(0) | Err(_)),
            "idle connection still open"
        );
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "listener still open"
        );
    }

    #[tokio::test]
    async fn control_requests_read_their_body() {
        let (addr, _stop, _task) = start().await;
        let resp = exchange(
            addr,
            "PUT /backends/app/127.0.0.1:9002/weight HTTP/1.1\r\nHost: a\r\n\
             Content-Length: 1\r\nConnection: close\r\n\r\n5",
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.contains("\"weight_override\": 5"), "{resp}");
        let big = "9".repeat(MAX_BODY + 1);
        let resp = exchange(
            addr,
            &format!(
                "PUT /backends/app/127.0.0.1:9002/weight HTTP/1.1\r\nHost: a\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{big}",
                big.len()
            ),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 413 "), "{resp}");
    }

    #[tokio::test]
    async fn garbage_gets_400_and_the_server_keeps_serving() {
        let (addr, _stop, _task) = start().await;
        let resp = exchange(addr, "\x00\x01 nonsense\r\n\r\n").await;
        assert!(
            resp.is_empty() || resp.starts_with("HTTP/1.1 400"),
            "{resp}"
        );
        let resp = exchange(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(resp.ends_with("ok\n"), "{resp}");
    }
}
