//! WebSocket through an HTTP listener: the HTTP/1.1 Upgrade handshake is passed on, and after
//! `101 Switching Protocols` fulcrum tunnels bytes both ways. A real client and server
//! (Debian's python3-websockets: tests/fixtures/ws_*.py), and a hand-written RFC 6455 client
//! that checks frames and the close handshake byte by byte.

mod support;

use std::io::{Read, Write};
use std::time::Duration;
use support::http_backend::HttpBackend;
use support::raw::*;

fn ws_server() -> Helper {
    Helper::start(PYTHON, &[fixture("ws_echo_server.py")])
}

fn pairs(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap_or("").to_ascii_lowercase(),
                        p[1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn value<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn python_websockets_client_and_server_through_fulcrum() {
    let server = ws_server();
    let (f, listen) = start_http("cluster = \"c\"", &[server.addr()], "");
    let out = run_cmd(
        PYTHON,
        &[
            fixture("ws_client.py"),
            format!("ws://{listen}/chat?room=1"),
        ],
        b"",
        Duration::from_secs(40),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ws client printed no report ({e}): {}; server stderr {}{}",
            out.describe(),
            server.stderr_text(),
            f.diag()
        )
    });
    assert!(
        out.ok() && report["failures"].as_array().is_some_and(|a| a.is_empty()),
        "WebSocket through fulcrum failed: {}; server stderr {}{}",
        report["failures"],
        server.stderr_text(),
        f.diag()
    );
    assert!(report["checks"].as_array().unwrap().len() >= 19, "{report}");
    let seen = pairs(&report["server_saw_headers"]);
    assert_eq!(value(&seen, "upgrade"), Some("websocket"), "{seen:?}");
    assert!(
        value(&seen, "connection").is_some_and(|v| v.to_ascii_lowercase().contains("upgrade")),
        "Connection: upgrade reaches the backend: {seen:?}"
    );
    assert!(value(&seen, "sec-websocket-key").is_some(), "{seen:?}");
    assert_eq!(value(&seen, "x-client"), Some("ws-test"), "{seen:?}");
    assert_eq!(
        value(&seen, "x-forwarded-for"),
        Some("127.0.0.1"),
        "{seen:?}"
    );
    let resp = pairs(&report["response_headers"]);
    assert!(value(&resp, "sec-websocket-accept").is_some(), "{resp:?}");
    assert_eq!(
        value(&resp, "upgrade")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("websocket"),
        "{resp:?}"
    );
}

/// A client frame (masked, FIN set).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65_536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads one server frame: (fin, opcode, payload). Server frames are not masked.
fn read_frame(
    s: &mut std::net::TcpStream,
    pre: &mut Vec<u8>,
) -> std::io::Result<(bool, u8, Vec<u8>)> {
    fn need(s: &mut std::net::TcpStream, pre: &mut Vec<u8>, n: usize) -> std::io::Result<()> {
        let mut tmp = [0u8; 65_536];
        while pre.len() < n {
            let k = s.read(&mut tmp)?;
            if k == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "EOF in a frame",
                ));
            }
            pre.extend_from_slice(&tmp[..k]);
        }
        Ok(())
    }
    need(s, pre, 2)?;
    let (b0, b1) = (pre[0], pre[1]);
    assert_eq!(b1 & 0x80, 0, "server frames are not masked");
    let (len, hdr) = match b1 & 0x7f {
        126 => {
            need(s, pre, 4)?;
            (u16::from_be_bytes([pre[2], pre[3]]) as usize, 4)
        }
        127 => {
            need(s, pre, 10)?;
            (
                u64::from_be_bytes(pre[2..10].try_into().unwrap()) as usize,
                10,
            )
        }
        n => (n as usize, 2),
    };
    need(s, pre, hdr + len)?;
    let payload = pre[hdr..hdr + len].to_vec();
    pre.drain(..hdr + len);
    Ok((b0 & 0x80 != 0, b0 & 0x0f, payload))
}

#[test]
fn raw_frames_and_close_handshake_through_the_tunnel() {
    let server = ws_server();
    let (f, listen) = start_http("cluster = \"c\"", &[server.addr()], "");
    let mut c = RawClient::connect(listen);
    c.send(
        b"GET /raw HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let r = c.read_response().unwrap_or_else(|e| {
        panic!(
            "no handshake response: {e}; {}{}",
            server.stderr_text(),
            f.diag()
        )
    });
    assert_eq!(r.status, 101, "{}{}", r.describe(), f.diag());
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "RFC 6455's example key and accept: {}",
        r.describe()
    );
    assert!(
        r.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("upgrade")),
        "{}",
        r.describe()
    );
    let mut pre = std::mem::take(&mut c.buf);
    let s = &mut c.stream;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    // Text, binary (16-bit length), and a 70 000-byte text (64-bit length).
    let big = "z".repeat(70_000);
    for (op, payload) in [
        (1u8, b"hello through fulcrum".to_vec()),
        (2u8, (0..=255u8).cycle().take(300).collect::<Vec<u8>>()),
        (1u8, big.into_bytes()),
    ] {
        s.write_all(&client_frame(op, &payload)).unwrap();
        let (fin, got_op, got) = read_frame(s, &mut pre)
            .unwrap_or_else(|e| panic!("echo of opcode {op}: {e}{}", f.diag()));
        assert!(fin);
        assert_eq!(got_op, op);
        assert_eq!(got.len(), payload.len());
        assert!(got == payload, "echo differs for opcode {op}");
    }
    // Ping gets a pong with the same payload.
    s.write_all(&client_frame(9, b"p1")).unwrap();
    let (_, op, got) = read_frame(s, &mut pre).unwrap();
    assert_eq!((op, got.as_slice()), (10, &b"p1"[..]), "pong");

    // Close handshake: 1000 "bye" comes back as a close frame, then the connection ends.
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    s.write_all(&client_frame(8, &close)).unwrap();
    let (_, op, got) =
        read_frame(s, &mut pre).unwrap_or_else(|e| panic!("no close frame back: {e}{}", f.diag()));
    assert_eq!(op, 8, "close frame");
    assert_eq!(&got[..2], &1000u16.to_be_bytes(), "close code echoed");
    let mut rest = [0u8; 16];
    let n = s.read(&mut rest);
    assert!(
        matches!(n, Ok(0)) || n.is_err(),
        "after the close handshake the tunnel must end: {n:?}{}",
        f.diag()
    );
}

/// An Upgrade the backend does not take (it answers 200): no tunnel, the connection goes on
/// as HTTP.
#[test]
fn upgrade_refused_by_the_backend_stays_http() {
    let b = HttpBackend::start("plain");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let mut c = RawClient::connect(listen);
    c.send(
        b"GET /no-ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}", r.describe());
    let seen = b.last("upgrade request");
    assert_eq!(
        seen.header("upgrade"),
        Some("websocket"),
        "{:?}",
        seen.headers
    );
    c.send(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let r = c.read_response().unwrap_or_else(|e| {
        panic!(
            "the connection must stay HTTP after a refused upgrade: {e}{}",
            f.diag()
        )
    });
    assert_eq!(r.json()["target"], "/next", "{}", r.describe());
}
