//! Records after the handshake, which Fulcrum opens and seals itself: every suite Fulcrum
//! offers, in both versions, against a real rustls client: data both ways across many
//! records, key updates asked by the client (TLS 1.3), and close_notify both ways.

mod support;

use fulcrum_tls::ServerTls;
use rustls::CipherSuite as C;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use support::*;

/// Echoes what a connection sends until it ends, then closes with close_notify.
async fn echo_server(tls: Arc<ServerTls>, errors: Arc<AtomicUsize>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (tls, errors) = (tls.clone(), errors.clone());
            tokio::spawn(async move {
                let conn = tls.accept(tcp, &[]).await.unwrap();
                conn.count_errors(move || {
                    errors.fetch_add(1, Relaxed);
                });
                loop {
                    let mut got = Vec::new();
                    let read = conn.read_with(|chunk| {
                        got.extend_from_slice(chunk);
                        chunk.len()
                    });
                    match read.await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => conn.write_all(&got).await.unwrap(),
                    }
                }
                conn.shutdown().await.unwrap();
            });
        }
    });
    addr
}

/// An echo server for `r.test` (ECDSA P-256, issued by the returned CA; the certificate lives
/// in the returned directory), and the count of misbehaviour it saw.
async fn serve_r_test() -> (TempDir, Ca, std::net::SocketAddr, Arc<AtomicUsize>) {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["r.test"], Kind::EcdsaP256).unwrap();
    let tls = ServerTls::build(&settings(vec![write_pair(&dir, "r", &cert)]), base()).unwrap();
    let errors = Arc::new(AtomicUsize::new(0));
    let addr = echo_server(Arc::new(tls), errors.clone()).await;
    (dir, ca, addr, errors)
}

fn client(roots: rustls::RootCertStore, suite: C) -> Arc<rustls::ClientConfig> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites.retain(|s| s.suite() == suite);
    let tls13 = format!("{suite:?}").starts_with("TLS13");
    let versions: &[&rustls::SupportedProtocolVersion] = if tls13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12]
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A blocking rustls client connection to `addr` (as `r.test`), handshake done; reads on the
/// socket time out after 10 s.
fn handshake(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> (rustls::ClientConnection, std::net::TcpStream) {
    let name = rustls_pki_types::ServerName::try_from("r.test").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    (conn, sock)
}

/// Sends `rounds` messages of `size` bytes, each read back before the next; on TLS 1.3 the
/// client updates its keys (asking the server to update its own) before every other one.
fn exchange(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
    suite: C,
    size: usize,
    rounds: usize,
) {
    let (mut conn, mut sock) = handshake(addr, config);
    let tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(conn.negotiated_cipher_suite().unwrap().suite(), suite);
    for round in 0..rounds {
        if tls13 && round % 2 == 1 {
            conn.refresh_traffic_keys().unwrap();
        }
        let sent: Vec<u8> = (0..size).map(|i| (i * 7 + round) as u8).collect();
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        tls.write_all(&sent).unwrap();
        let mut back = vec![0; size];
        tls.read_exact(&mut back).unwrap();
        assert!(back == sent, "round {round}: the echo differs");
    }
    conn.send_close_notify();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.flush().unwrap();
    let mut rest = Vec::new();
    // The server's close_notify: a clean end, not an error.
    assert_eq!(tls.read_to_end(&mut rest).unwrap(), 0);
}

#[tokio::test]
async fn every_suite_carries_data_both_ways_through_key_updates_and_closes_cleanly() {
    let (_dir, ca, addr, errors) = serve_r_test().await;
    for suite in [
        C::TLS13_AES_128_GCM_SHA256,
        C::TLS13_AES_256_GCM_SHA384,
        C::TLS13_CHACHA20_POLY1305_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ] {
        let config = client(ca.roots(), suite);
        // Small messages (one record each), then ones of several full records.
        let c = config.clone();
        tokio::task::spawn_blocking(move || exchange(addr, c, suite, 300, 6))
            .await
            .unwrap_or_else(|e| panic!("{suite:?}, small: {e}"));
        tokio::task::spawn_blocking(move || exchange(addr, config, suite, 70_000, 4))
            .await
            .unwrap_or_else(|e| panic!("{suite:?}, large: {e}"));
    }
    assert_eq!(
        errors.load(Relaxed),
        0,
        "key updates and close_notify are no misbehaviour"
    );
}

/// Bad records after the handshake end the connection with the alert that says why, which
/// the client decrypts, then a close.
#[tokio::test]
async fn a_bad_record_after_the_handshake_gets_its_alert_and_a_close() {
    use rustls::AlertDescription as A;
    let (_dir, ca, addr, errors) = serve_r_test().await;
    let mut forged = vec![23, 3, 3, 0, 40];
    forged.extend((0..40u8).map(|i| i.wrapping_mul(37)));
    let cases: [(C, Vec<u8>, A); 4] = [
        (C::TLS13_AES_128_GCM_SHA256, forged.clone(), A::BadRecordMac),
        (
            C::TLS13_AES_128_GCM_SHA256,
            vec![23, 3, 3, 0xff, 0xff],
            A::RecordOverflow,
        ),
        (
            C::TLS13_AES_128_GCM_SHA256,
            vec![22, 3, 3, 0, 2, 1, 2],
            A::UnexpectedMessage,
        ),
        (
            C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            forged,
            A::BadRecordMac,
        ),
    ];
    for (suite, bad, want) in cases {
        let config = client(ca.roots(), suite);
        let sent = bad.clone();
        let got = tokio::task::spawn_blocking(move || {
            let (mut conn, mut sock) = handshake(addr, config);
            // One echo first: the server is then past its handshake, on its own records.
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            tls.write_all(b"ping").unwrap();
            tls.read_exact(&mut [0; 4]).unwrap();
            sock.write_all(&sent).unwrap();
            // Everything until the server's close (a timeout here would fail the test).
            let mut back = Vec::new();
            sock.read_to_end(&mut back).expect("the server closes");
            let mut rest = &back[..];
            while !rest.is_empty() {
                conn.read_tls(&mut rest).unwrap();
                if let Err(e) = conn.process_new_packets() {
                    return Some(e);
                }
            }
            None
        })
        .await
        .unwrap();
        assert_eq!(
            got,
            Some(rustls::Error::AlertReceived(want)),
            "{suite:?}, {bad:?}"
        );
    }
    assert_eq!(errors.load(Relaxed), 4, "each bad record counted once");
}
