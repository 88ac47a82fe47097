//! One health check: a TCP connect, or an HTTP/1.1 request whose answer is judged by status
//! and, optionally, by what its body contains. The whole check, connect included, is bounded
//! by the configured `timeout`.

use super::Spec;
use fulcrum_config::{HealthKind, ProxyProtocolVersion};
use fulcrum_h1::{ChunkedDecoder, Event, Framing, Limits, Parsed, ResponseHead, parse_response};
use http::Method;
use std::io::Write;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Body bytes read at most when looking for `expect_body`.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Why a check failed, for the log line of a state change.
pub(crate) type Failure = String;

/// Runs one check of `addr`.
pub(crate) async fn check(addr: SocketAddr, spec: &Spec) -> Result<(), Failure> {
    let timeout = spec.health.timeout;
    match tokio::time::timeout(timeout, run(addr, spec)).await {
        Ok(result) => result,
        Err(_) => Err(format!("timed out after {timeout:?}")),
    }
}

async fn run(addr: SocketAddr, spec: &Spec) -> Result<(), Failure> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    match &spec.health.kind {
        HealthKind::Tcp => Ok(()),
        HealthKind::Http {
            method,
            path,
            host,
            expect_status,
            expect_body,
        } => {
            let method = Method::from_bytes(method.as_bytes())
                .map_err(|_| format!("bad method {method}"))?;
            let host = host.clone().unwrap_or_else(|| addr.to_string());
            let request = request(&method, path, &host, spec.proxy_protocol);
            stream
                .write_all(&request)
                .await
                .map_err(|e| format!("send: {e}"))?;
            let (head, mut buf) = read_head(&mut stream, &method).await?;
            let code = head.status.as_u16();
            if !expect_status
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&code))
            {
                return Err(format!("status {code}"));
            }
            let Some(needle) = expect_body else {
                return Ok(());
            };
            let body = read_body(&mut stream, head.framing, &mut buf).await?;
            if contains(&body, needle.as_bytes()) {
                Ok(())
            } else {
                Err(format!("body does not contain {needle:?}"))
            }
        }
    }
}

/// The request bytes: a PROXY `LOCAL` header if the backends expect one, then the head.
pub(crate) fn request(
    method: &Method,
    path: &str,
    host: &str,
    proxy: Option<ProxyProtocolVersion>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    match proxy {
        Some(ProxyProtocolVersion::V1) => out.extend_from_slice(b"PROXY UNKNOWN\r\n"),
        Some(ProxyProtocolVersion::V2) => crate::proxy_protocol::encode_v2_local(&mut out),
        None => {}
    }
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: fulcrum-health-check\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    out
}

/// Reads until a final (non-1xx) response head; returns it and the bytes after it.
async fn read_head(
    stream: &mut TcpStream,
    method: &Method,
) -> Result<(ResponseHead, Vec<u8>), Failure> {
    let limits = Limits::default();
    let mut buf = Vec::with_capacity(4096);
    loop {
        match parse_response(&buf, &limits, method) {
            Ok(Parsed::Complete { head, len }) => {
                buf.drain(..len);
                if head.status.is_informational() && head.status.as_u16() != 101 {
                    continue;
                }
                return Ok((head, buf));
            }
            Ok(Parsed::Partial) => {}
            Err(e) => return Err(format!("bad response: {}", e.reason())),
        }
        if read_more(stream, &mut buf).await? == 0 {
            return Err(if buf.is_empty() {
                "closed without a response".to_string()
            } else {
                "closed in the response head".to_string()
            });
        }
    }
}

/// Reads the body (its first [`MAX_BODY`] bytes) as `framing` delimits it; `buf` holds what
/// was read past the head.
async fn read_body(
    stream: &mut TcpStream,
    framing: Framing,
    buf: &mut Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    match framing {
        Framing::None => {}
        Framing::Length(n) => {
            let want = usize::try_from(n).unwrap_or(usize::MAX).min(MAX_BODY);
            while buf.len() < want && read_more(stream, buf).await? > 0 {}
            buf.truncate(want);
            body = std::mem::take(buf);
        }
        Framing::UntilClose => {
            while buf.len() < MAX_BODY && read_more(stream, buf).await? > 0 {}
            buf.truncate(MAX_BODY);
            body = std::mem::take(buf);
        }
        Framing::Chunked => {
            let mut decoder = ChunkedDecoder::new();
            while body.len() < MAX_BODY {
                let step = decoder
                    .feed(buf)
                    .map_err(|e| format!("bad chunked body: {}", e.reason()))?;
                let need_more = match step.event {
                    Event::Data(range) => {
                        body.extend_from_slice(&buf[range]);
                        false
                    }
                    Event::End(_) => break,
                    Event::NeedMore => true,
                };
                buf.drain(..step.consumed);
                if need_more && read_more(stream, buf).await? == 0 {
                    break;
                }
            }
            body.truncate(MAX_BODY);
        }
    }
    Ok(body)
}

/// Appends what one read returns to `buf`; 0 at EOF.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, Failure> {
    let mut chunk = [0u8; 8192];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(|e| format!("receive: {e}"))?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests;
