use super::*;
use fulcrum_config::HealthConfig;
use std::time::Duration;
use tokio::net::TcpListener;

fn spec(kind: HealthKind) -> Spec {
    Spec {
        health: HealthConfig {
            kind,
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            jitter: 0,
            rise: 1,
            fall: 1,
        },
        proxy_protocol: None,
    }
}

fn http(status: (u16, u16), body: Option<&str>) -> Spec {
    spec(HealthKind::Http {
        method: "GET".into(),
        path: "/healthz".into(),
        host: None,
        expect_status: vec![status],
        expect_body: body.map(str::to_string),
    })
}

/// A one-connection server that reads the request head, answers `response` (in pieces, to
/// exercise partial reads) and closes; returns its address and the request it saw.
async fn serve(response: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        while !req.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1024];
            let n = s.read(&mut b).await.unwrap();
            if n == 0 {
                break;
            }
            req.extend_from_slice(&b[..n]);
        }
        for piece in response.chunks(7) {
            if s.write_all(piece).await.is_err() {
                break;
            }
            s.flush().await.unwrap();
        }
        String::from_utf8_lossy(&req).into_owned()
    });
    (addr, task)
}

#[tokio::test]
async fn tcp_check_is_a_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert_eq!(check(addr, &spec(HealthKind::Tcp)).await, Ok(()));
    drop(listener);
    let err = check(addr, &spec(HealthKind::Tcp)).await.unwrap_err();
    assert!(err.starts_with("connect: "), "{err}");
}

#[tokio::test]
async fn http_check_sends_a_proper_request_and_judges_the_status() {
    let (addr, seen) = serve(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    assert_eq!(check(addr, &http((200, 299), None)).await, Ok(()));
    let req = seen.await.unwrap();
    assert_eq!(
        req,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: fulcrum-health-check\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        )
    );
    let (addr, _) = serve(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n").await;
    assert_eq!(
        check(addr, &http((200, 399), None)).await,
        Err("status 500".into())
    );
}

#[tokio::test]
async fn http_check_skips_interim_responses() {
    let (addr, _) = serve(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n").await;
    assert_eq!(check(addr, &http((200, 200), None)).await, Ok(()));
}

#[tokio::test]
async fn http_check_matches_the_body_in_every_framing() {
    let bodies: [&'static [u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nstatus: ready",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nstatus: \r\n5\r\nready\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nstatus: ready",
    ];
    for body in bodies {
        let (addr, _) = serve(body).await;
        assert_eq!(check(addr, &http((200, 200), Some("s: re"))).await, Ok(()));
        let (addr, _) = serve(body).await;
        let err = check(addr, &http((200, 200), Some("ready!"))).await;
        assert_eq!(err, Err("body does not contain \"ready!\"".into()));
    }
}

#[tokio::test]
async fn http_check_fails_on_garbage_silence_and_early_close() {
    let (addr, _) = serve(b"SSH-2.0-OpenSSH\r\n\r\n").await;
    let err = check(addr, &http((200, 399), None)).await.unwrap_err();
    assert!(err.starts_with("bad response"), "{err}");
    let (addr, _) = serve(b"").await;
    let err = check(addr, &http((200, 399), None)).await.unwrap_err();
    assert_eq!(err, "closed without a response");
    // Accepts, reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(s);
    });
    let err = check(addr, &http((200, 399), None)).await.unwrap_err();
    assert!(err.starts_with("timed out"), "{err}");
}

#[test]
fn request_carries_a_proxy_header_when_backends_expect_one() {
    let get = Method::GET;
    let v1 = request(&get, "/", "h", Some(ProxyProtocolVersion::V1));
    assert!(v1.starts_with(b"PROXY UNKNOWN\r\nGET / HTTP/1.1\r\nHost: h\r\n"));
    let v2 = request(&get, "/", "h", Some(ProxyProtocolVersion::V2));
    assert_eq!(&v2[..12], b"\r\n\r\n\0\r\nQUIT\n");
    assert_eq!(&v2[12..16], &[0x20, 0x00, 0, 0]);
    assert!(v2[16..].starts_with(b"GET / HTTP/1.1\r\n"));
}

#[test]
fn contains_finds_substrings() {
    assert!(contains(b"abc", b""));
    assert!(contains(b"abc", b"bc"));
    assert!(!contains(b"abc", b"abcd"));
}
