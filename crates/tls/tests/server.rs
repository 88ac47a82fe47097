//! Real handshakes (tokio-rustls clients over TCP) against `ServerTls`: certificate choice by
//! SNI and key type, ALPN, versions and suites, resumption, client certificates, OCSP,
//! reload, and hostile input.

mod support;

use fulcrum_config::{ClientAuthMode, TlsVersion};
use fulcrum_tls::{ServerTls, TlsError};
use rustls::{CipherSuite, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const V12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const V13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

async fn seen(addr: std::net::SocketAddr, name: &str, alpn: &[&str]) -> Seen {
    let capture = Arc::new(Capture::default());
    let config = capturing_client(capture.clone(), alpn);
    connect(addr, config, name, &capture).await.unwrap().0
}

#[tokio::test]
async fn sni_picks_exact_then_wildcard_then_default() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let default = ca.server(&["default.test"], Kind::EcdsaP256).unwrap();
    let exact = ca.server(&["a.example.com"], Kind::EcdsaP256).unwrap();
    let wild = ca
        .server(&["*.example.com", "example.org"], Kind::EcdsaP256)
        .unwrap();
    let tls = ServerTls::build(
        &settings(vec![
            write_pair(&dir, "default", &default),
            write_pair(&dir, "exact", &exact),
            write_pair(&dir, "wild", &wild),
        ]),
        base(),
    )
    .unwrap();
    assert_eq!(
        tls.store().names(),
        [
            vec!["default.test".to_owned()],
            vec!["a.example.com".to_owned()],
            vec!["*.example.com".to_owned(), "example.org".to_owned()]
        ]
    );
    let server = serve(Arc::new(tls)).await;
    for (name, want, what) in [
        ("a.example.com", &exact, "exact name"),
        ("A.Example.COM", &exact, "exact name, any case"),
        ("b.example.com", &wild, "wildcard"),
        ("example.org", &wild, "second SAN"),
        (
            "x.b.example.com",
            &default,
            "a wildcard covers one label only",
        ),
        (
            "example.com",
            &default,
            "a wildcard does not cover its parent",
        ),
        ("other.test", &default, "unknown name"),
        ("127.0.0.1", &default, "no SNI (connecting by IP)"),
    ] {
        let got = seen(server.addr, name, &[]).await;
        assert_eq!(got.cert, want.der, "{what}: {name}");
    }
}

#[tokio::test]
async fn the_served_chain_verifies_against_the_ca() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["secure.test"], Kind::EcdsaP256).unwrap();
    let tls = ServerTls::build(&settings(vec![write_pair(&dir, "s", &cert)]), base()).unwrap();
    let server = serve(Arc::new(tls)).await;
    for versions in [V12, V13] {
        let config = verifying_client(ca.roots(), None, versions);
        let (got, _) = connect(server.addr, config, "secure.test", &Capture::default())
            .await
            .unwrap();
        assert_eq!(got.identity, "-");
    }
    // A client that trusts another CA refuses it.
    let other = Ca::new("other CA");
    let config = verifying_client(other.roots(), None, BOTH);
    assert!(
        connect(server.addr, config, "secure.test", &Capture::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn ecdsa_and_rsa_side_by_side_chosen_by_what_the_client_offers() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let ecdsa = ca.server(&["dual.test"], Kind::EcdsaP256).unwrap();
    let Some(rsa) = ca.server(&["dual.test"], Kind::Rsa2048) else {
        eprintln!("SKIPPED ecdsa_and_rsa_side_by_side: no openssl CLI to make an RSA key");
        return;
    };
    // RSA listed first: ECDSA still wins when the client can use it.
    let tls = ServerTls::build(
        &settings(vec![
            write_pair(&dir, "rsa", &rsa),
            write_pair(&dir, "ecdsa", &ecdsa),
        ]),
        base(),
    )
    .unwrap();
    let server = serve(Arc::new(tls)).await;
    assert_eq!(seen(server.addr, "dual.test", &[]).await.cert, ecdsa.der);
    // The default (no SNI) is the first certificate's group: ECDSA too.
    assert_eq!(seen(server.addr, "127.0.0.1", &[]).await.cert, ecdsa.der);

    // A client that verifies only RSA signatures gets the RSA certificate.
    let rsa_only = Arc::new(Capture {
        schemes: Some(vec![
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256,
        ]),
        ..Capture::default()
    });
    let config = capturing_client(rsa_only.clone(), &[]);
    let (got, _) = connect(server.addr, config, "dual.test", &rsa_only)
        .await
        .unwrap();
    assert_eq!(got.cert, rsa.der);

    // A TLS 1.2 client offering only ECDHE_RSA suites gets RSA as well.
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|s| s.suite() == CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256);
    let capture = Arc::new(Capture::default());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(V12)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let (got, _) = connect(server.addr, Arc::new(config), "dual.test", &capture)
        .await
        .unwrap();
    assert_eq!(got.cert, rsa.der);
    assert_eq!(
        got.suite,
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
    );
}

#[tokio::test]
async fn alpn_picks_the_protocol() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["alpn.test"], Kind::EcdsaP256).unwrap();
    let tls = ServerTls::build(&settings(vec![write_pair(&dir, "s", &cert)]), base()).unwrap();
    let server = serve(Arc::new(tls)).await;
    let alpn = |offer: &'static [&'static str]| async move {
        seen(server.addr, "alpn.test", offer).await.alpn
    };
    assert_eq!(alpn(&["h2", "http/1.1"]).await, Some(b"h2".to_vec()));
    assert_eq!(
        alpn(&["http/1.1", "h2"]).await,
        Some(b"h2".to_vec()),
        "server order wins"
    );
    assert_eq!(alpn(&["http/1.1"]).await, Some(b"http/1.1".to_vec()));
    assert_eq!(alpn(&[]).await, None);
    // No protocol in common: the handshake fails, and the server says why.
    let capture = Arc::new(Capture::default());
    let config = capturing_client(capture.clone(), &["spdy/3"]);
    assert!(
        connect(server.addr, config, "alpn.test", &capture)
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*server.failures.lock().unwrap(), ["incompatible"]);
}

#[tokio::test]
async fn min_version_and_ciphers_are_enforced() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["v.test"], Kind::EcdsaP256).unwrap();
    let mut s = settings(vec![write_pair(&dir, "s", &cert)]);
    s.min_version = TlsVersion::Tls13;
    s.ciphers = vec![
        "TLS13_CHACHA20_POLY1305_SHA256".into(),
        "TLS13_AES_128_GCM_SHA256".into(),
    ];
    let server = serve(Arc::new(ServerTls::build(&s, base()).unwrap())).await;
    let config = verifying_client(ca.roots(), None, BOTH);
    let (got, _) = connect(server.addr, config, "v.test", &Capture::default())
        .await
        .unwrap();
    assert_eq!(got.version, Some(rustls::ProtocolVersion::TLSv1_3));
    // The configured order wins over the client's (rustls prefers AES-GCM).
    assert_eq!(got.suite, Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256));
    let config = verifying_client(ca.roots(), None, V12);
    assert!(
        connect(server.addr, config, "v.test", &Capture::default())
            .await
            .is_err()
    );
}

/// Without `ciphers`: AES-128-GCM first whatever the client's order, unless the client lists
/// ChaCha20 before AES-GCM; TLS 1.2 likewise.
#[tokio::test]
async fn default_suites_prefer_aes_128_unless_the_client_prefers_chacha() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["s.test"], Kind::EcdsaP256).unwrap();
    let tls = ServerTls::build(&settings(vec![write_pair(&dir, "s", &cert)]), base()).unwrap();
    let server = serve(Arc::new(tls)).await;
    let suite = |order: &'static [CipherSuite], versions| {
        let roots = ca.roots();
        async move {
            let mut provider = rustls::crypto::aws_lc_rs::default_provider();
            provider.cipher_suites = order
                .iter()
                .map(|n| {
                    *rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
                        .iter()
                        .find(|s| s.suite() == *n)
                        .unwrap()
                })
                .collect();
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let (got, _) = connect(server.addr, Arc::new(config), "s.test", &Capture::default())
                .await
                .unwrap();
            got.suite.unwrap()
        }
    };
    use CipherSuite as C;
    let aes256_first = &[
        C::TLS13_AES_256_GCM_SHA384,
        C::TLS13_CHACHA20_POLY1305_SHA256,
        C::TLS13_AES_128_GCM_SHA256,
    ];
    assert_eq!(suite(aes256_first, V13).await, C::TLS13_AES_128_GCM_SHA256);
    let chacha_first = &[
        C::TLS13_CHACHA20_POLY1305_SHA256,
        C::TLS13_AES_256_GCM_SHA384,
        C::TLS13_AES_128_GCM_SHA256,
    ];
    assert_eq!(
        suite(chacha_first, V13).await,
        C::TLS13_CHACHA20_POLY1305_SHA256
    );
    assert_eq!(
        suite(&[C::TLS13_AES_256_GCM_SHA384], V13).await,
        C::TLS13_AES_256_GCM_SHA384,
        "what the client can do"
    );
    let v12 = &[
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    assert_eq!(
        suite(v12, V12).await,
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    );
    let v12_chacha = &[
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ];
    assert_eq!(
        suite(v12_chacha, V12).await,
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    );
}

#[test]
fn the_cipher_names_of_the_config_are_rustls_names() {
    let ours: Vec<(&str, TlsVersion)> = fulcrum_config::defaults::TLS_CIPHERS.to_vec();
    let rustls: Vec<(&str, TlsVersion)> = rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
        .iter()
        .map(|s| {
            let version = match s {
                rustls::SupportedCipherSuite::Tls12(_) => TlsVersion::Tls12,
                rustls::SupportedCipherSuite::Tls13(_) => TlsVersion::Tls13,
            };
            (s.suite().as_str().unwrap(), version)
        })
        .collect();
    assert_eq!(ours, rustls);
}

/// Two connections with the same client config: the second resumes.
async fn resumes(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: &str,
) -> bool {
    let capture = Capture::default();
    let (first, _) = connect(addr, config.clone(), name, &capture).await.unwrap();
    assert!(!first.resumed);
    let (second, _) = connect(addr, config, name, &capture).await.unwrap();
    second.resumed
}

#[tokio::test]
async fn sessions_resume_by_ticket_and_by_cache() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["r.test"], Kind::EcdsaP256).unwrap();
    let pair = write_pair(&dir, "s", &cert);
    // Tickets (the default), TLS 1.3 and 1.2.
    let tickets = serve(Arc::new(
        ServerTls::build(&settings(vec![pair.clone()]), base()).unwrap(),
    ))
    .await;
    for versions in [V13, V12] {
        let config = verifying_client(ca.roots(), None, versions);
        assert!(
            resumes(tickets.addr, config, "r.test").await,
            "tickets, {versions:?}"
        );
    }
    // The server-side cache alone.
    let mut s = settings(vec![pair.clone()]);
    s.session_tickets = false;
    s.session_cache = 16;
    let cache = serve(Arc::new(ServerTls::build(&s, base()).unwrap())).await;
    for versions in [V13, V12] {
        let config = verifying_client(ca.roots(), None, versions);
        assert!(
            resumes(cache.addr, config, "r.test").await,
            "cache, {versions:?}"
        );
    }
    // Neither: no resumption.
    s.session_cache = 0;
    let none = serve(Arc::new(ServerTls::build(&s, base()).unwrap())).await;
    for versions in [V13, V12] {
        let config = verifying_client(ca.roots(), None, versions);
        assert!(
            !resumes(none.addr, config, "r.test").await,
            "none, {versions:?}"
        );
    }
}

#[tokio::test]
async fn a_shared_ticket_key_file_resumes_across_instances() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["shared.test"], Kind::EcdsaP256).unwrap();
    let pair = write_pair(&dir, "s", &cert);
    let key = "# shared by both instances\nMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm\n";
    let mut s = settings(vec![pair.clone()]);
    s.ticket_key_file = Some(dir.write("tickets.key", key));
    let a = serve(Arc::new(ServerTls::build(&s, base()).unwrap())).await;
    let b = serve(Arc::new(ServerTls::build(&s, base()).unwrap())).await;
    let mut other = settings(vec![pair]);
    other.ticket_key_file = Some(dir.write(
        "other.key",
        "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTBmZWRjYmE5ODc2NTQzMjEw\n",
    ));
    let c = serve(Arc::new(ServerTls::build(&other, base()).unwrap())).await;
    for versions in [V13, V12] {
        let config = verifying_client(ca.roots(), None, versions);
        let capture = Capture::default();
        let (first, _) = connect(a.addr, config.clone(), "shared.test", &capture)
            .await
            .unwrap();
        assert!(!first.resumed);
        let (on_b, _) = connect(b.addr, config.clone(), "shared.test", &capture)
            .await
            .unwrap();
        assert!(
            on_b.resumed,
            "instance b resumes a's session ({versions:?})"
        );
        let (on_c, _) = connect(c.addr, config, "shared.test", &capture)
            .await
            .unwrap();
        assert!(!on_c.resumed, "another key file does not ({versions:?})");
    }
    // A bad key file is refused with its path.
    let mut bad = settings(vec![write_pair(&dir, "t", &cert)]);
    bad.ticket_key_file = Some(dir.write("short.key", "c2hvcnQ=\n"));
    let err = ServerTls::build(&bad, base()).unwrap_err().to_string();
    assert!(err.contains("short.key") && err.contains("line 1"), "{err}");
}

#[tokio::test]
async fn client_certificates_required_and_optional() {
    let dir = TempDir::new();
    let ca = Ca::new("client CA");
    let cert = ca.server(&["m.test"], Kind::EcdsaP256).unwrap();
    let alice = ca.client("alice");
    let stranger = Ca::new("other CA").client("mallory");
    let ca_path = dir.write("clients.pem", &ca.cert_pem);
    let mut s = settings(vec![write_pair(&dir, "s", &cert)]);
    s.client_auth = client_auth(ca_path.clone(), ClientAuthMode::Required);
    let required = serve(Arc::new(ServerTls::build(&s, base()).unwrap())).await;
    s.client_auth = client_auth(ca_path, ClientAuthMode::Optional);
    let optional = serve(Arc::new(ServerTls::build(&s, base()).unwrap())).await;

    let expect = format!(
        "CN=alice,O=Example,C=DE|{}",
        fulcrum_tls::identity::fingerprint(alice.der.as_ref())
    );
    for server in [&required, &optional] {
        for versions in [V13, V12] {
            let config = verifying_client(ca.roots(), Some(&alice), versions);
            let capture = Capture::default();
            let (got, _) = connect(server.addr, config.clone(), "m.test", &capture)
                .await
                .unwrap();
            assert_eq!(got.identity, expect);
            // A resumed session keeps the client's identity.
            let (again, _) = connect(server.addr, config, "m.test", &capture)
                .await
                .unwrap();
            assert!(again.resumed);
            assert_eq!(again.identity, expect);
        }
    }
    // Without a certificate: refused when required, anonymous when optional.
    for versions in [V13, V12] {
        let config = verifying_client(ca.roots(), None, versions);
        let refused = connect(required.addr, config.clone(), "m.test", &Capture::default()).await;
        assert!(
            refused.is_err(),
            "no client certificate must fail ({versions:?})"
        );
        let (got, _) = connect(optional.addr, config, "m.test", &Capture::default())
            .await
            .unwrap();
        assert_eq!(got.identity, "-");
    }
    // A certificate from another CA is refused by both.
    for server in [&required, &optional] {
        let config = verifying_client(ca.roots(), Some(&stranger), BOTH);
        assert!(
            connect(server.addr, config, "m.test", &Capture::default())
                .await
                .is_err()
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let failures = required.failures.lock().unwrap().clone();
    assert!(failures.iter().all(|r| *r == "client_cert"), "{failures:?}");
}

#[tokio::test]
async fn ocsp_responses_are_stapled_and_reloaded() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["ocsp.test"], Kind::EcdsaP256).unwrap();
    let mut pair = write_pair(&dir, "s", &cert);
    // The test only needs bytes shaped like a DER response; clients check real ones.
    let first = [0x30, 0x03, 0x0a, 0x01, 0x00];
    pair.ocsp = Some(dir.write("s.ocsp", first));
    let tls = Arc::new(ServerTls::build(&settings(vec![pair]), base()).unwrap());
    let server = serve(tls.clone()).await;
    assert_eq!(seen(server.addr, "ocsp.test", &[]).await.ocsp, first);
    let second = [0x30, 0x04, 0x0a, 0x01, 0x00, 0x00];
    assert!(!tls.changed());
    dir.write("s.ocsp", second);
    assert!(tls.reload_if_changed().unwrap().is_ok());
    assert_eq!(seen(server.addr, "ocsp.test", &[]).await.ocsp, second);
    // A PEM file where the DER response should be is refused, and the old staple stays.
    dir.write("s.ocsp", "-----BEGIN OCSP RESPONSE-----\n");
    let err = tls.reload_if_changed().unwrap().unwrap_err();
    assert!(err.to_string().contains("not a DER OCSP response"), "{err}");
    assert_eq!(seen(server.addr, "ocsp.test", &[]).await.ocsp, second);
}

#[tokio::test]
async fn reload_swaps_certificates_without_touching_open_connections() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let old = ca.server(&["r.test"], Kind::EcdsaP256).unwrap();
    let new = ca.server(&["r.test", "new.test"], Kind::EcdsaP256).unwrap();
    let pair = write_pair(&dir, "s", &old);
    let tls = Arc::new(ServerTls::build(&settings(vec![pair]), base()).unwrap());
    let server = serve(tls.clone()).await;
    let capture = Capture::default();
    let config = capturing_client(Arc::new(Capture::default()), &[]);
    let (before, mut open) = connect(server.addr, config.clone(), "r.test", &capture)
        .await
        .unwrap();
    assert_eq!(before.cert, old.der);
    assert!(tls.reload_if_changed().is_none(), "nothing changed yet");

    write_pair(&dir, "s", &new);
    assert!(tls.changed());
    tls.reload().unwrap();
    assert_eq!(seen(server.addr, "r.test", &[]).await.cert, new.der);
    assert_eq!(tls.store().names()[0], ["r.test", "new.test"]);

    // The connection made before the reload still works.
    open.write_all(b"still here").await.unwrap();
    let mut echo = [0u8; 10];
    open.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"still here");

    // A key that does not match its certificate: refused, the new certificate keeps serving.
    let other = ca.server(&["r.test"], Kind::EcdsaP256).unwrap();
    dir.write("s.key", &other.key_pem);
    let err = tls.reload_if_changed().unwrap().unwrap_err();
    assert!(
        err.to_string().contains("does not match the certificate"),
        "{err}"
    );
    assert_eq!(seen(server.addr, "r.test", &[]).await.cert, new.der);
    // A missing file: the same.
    std::fs::remove_file(dir.path("s.pem")).unwrap();
    let err = tls.reload_if_changed().unwrap().unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err}");
    assert_eq!(seen(server.addr, "r.test", &[]).await.cert, new.der);
}

/// A handshake that has chosen its certificate finishes with it even if a reload swaps the
/// store in between (driven by hand, sans-io, to stop in the middle).
#[test]
fn a_handshake_in_progress_keeps_its_certificate_across_a_reload() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let old = ca.server(&["mid.test"], Kind::EcdsaP256).unwrap();
    let new = ca.server(&["mid.test"], Kind::EcdsaP256).unwrap();
    let tls = ServerTls::build(&settings(vec![write_pair(&dir, "s", &old)]), base()).unwrap();
    let mut server = rustls::ServerConnection::new(tls.config()).unwrap();
    let config = verifying_client(ca.roots(), None, BOTH);
    let name = rustls_pki_types::ServerName::try_from("mid.test").unwrap();
    let mut client = rustls::ClientConnection::new(config, name).unwrap();
    let mut wire = Vec::new();
    // ClientHello to the server: the server picks its certificate here.
    client.write_tls(&mut wire).unwrap();
    server.read_tls(&mut wire.as_slice()).unwrap();
    server.process_new_packets().unwrap();
    // Reload between ClientHello and the server's answer.
    write_pair(&dir, "s", &new);
    tls.reload().unwrap();
    loop {
        let mut to_client = Vec::new();
        server.write_tls(&mut to_client).unwrap();
        client.read_tls(&mut to_client.as_slice()).unwrap();
        client.process_new_packets().unwrap();
        let mut to_server = Vec::new();
        client.write_tls(&mut to_server).unwrap();
        server.read_tls(&mut to_server.as_slice()).unwrap();
        server.process_new_packets().unwrap();
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    assert_eq!(client.peer_certificates().unwrap()[0], old.der);
}

#[tokio::test]
async fn build_errors_name_the_file() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["e.test"], Kind::EcdsaP256).unwrap();
    let mut pair = write_pair(&dir, "s", &cert);
    let err = |p: &fulcrum_config::CertificateConfig| {
        ServerTls::build(&settings(vec![p.clone()]), base())
            .unwrap_err()
            .to_string()
    };
    let missing = fulcrum_config::CertificateConfig {
        cert: dir.path("nope.pem"),
        ..pair.clone()
    };
    assert!(
        err(&missing).contains("nope.pem: cannot read"),
        "{}",
        err(&missing)
    );
    pair.key = dir.write("empty.key", "");
    assert!(
        err(&pair).contains("empty.key: no private key"),
        "{}",
        err(&pair)
    );
    pair.key = dir.write(
        "garbage.key",
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    );
    assert!(
        err(&pair).contains("garbage.key: bad PEM"),
        "{}",
        err(&pair)
    );
    pair.key = dir.write("k.key", &cert.key_pem);
    pair.cert = dir.write("k.pem", &cert.key_pem);
    assert!(
        err(&pair).contains("k.pem: no certificate"),
        "{}",
        err(&pair)
    );
    // Relative paths are relative to the base directory.
    let relative = fulcrum_config::CertificateConfig {
        cert: "s.pem".into(),
        key: "s.key".into(),
        ocsp: None,
    };
    assert!(ServerTls::build(&settings(vec![relative]), &dir.0).is_ok());
}

#[tokio::test]
async fn hostile_input_ends_with_a_clean_close_and_a_reason() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["h.test"], Kind::EcdsaP256).unwrap();
    let mut s = settings(vec![write_pair(&dir, "s", &cert)]);
    s.handshake_timeout = Duration::from_millis(300);
    let server = serve(Arc::new(ServerTls::build(&s, base()).unwrap())).await;
    // The server closes; whatever it sent before (an alert) is read up to EOF.
    async fn send(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let _ = tcp.write_all(bytes).await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut out)).await;
        assert!(read.is_ok(), "the server must close the connection");
        out
    }
    // An HTTP request on the TLS port.
    send(server.addr, b"GET / HTTP/1.1\r\nhost: h.test\r\n\r\n").await;
    // Random bytes.
    send(
        server.addr,
        &[0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00],
    )
    .await;
    // A record that announces a 2^24-byte handshake message.
    send(
        server.addr,
        &[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff],
    )
    .await;
    // A record larger than TLS allows.
    let mut big = vec![0x16, 0x03, 0x01, 0xff, 0xff];
    big.extend(std::iter::repeat_n(0u8, 70_000));
    send(server.addr, &big).await;
    // A stalled handshake: half a record, then nothing (the timeout closes it).
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(&[0x16, 0x03, 0x01, 0x01]).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "a stalled handshake must be closed");
    // Connect and close at once.
    drop(TcpStream::connect(server.addr).await.unwrap());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut failures = server.failures.lock().unwrap().clone();
    failures.sort();
    assert_eq!(
        failures,
        [
            "closed", "not_tls", "not_tls", "not_tls", "not_tls", "timeout"
        ]
    );
}

/// 0-RTT: on a session resumed from the cache, `accept` returns before the client's Finished
/// and the early data is the first thing read, while the connection still handshakes; what
/// the client sends after the handshake follows in the same stream.
#[tokio::test]
async fn early_data_is_read_first_while_the_handshake_completes() {
    use std::io::{Read, Write};
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["early.test"], Kind::EcdsaP256).unwrap();
    let mut s = settings(vec![write_pair(&dir, "s", &cert)]);
    s.early_data = true;
    s.session_tickets = false;
    s.session_cache = 16;
    let tls = Arc::new(ServerTls::build(&s, base()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let Ok(conn) = tls.accept(tcp, &[]).await else {
                continue;
            };
            // Each read, marked with whether the handshake was still in progress after it.
            let mut seen = String::new();
            while !seen.ends_with("after") {
                let mut got = Vec::new();
                let read = conn.read_with(|chunk| {
                    got.extend_from_slice(chunk);
                    chunk.len()
                });
                if !matches!(read.await, Ok(n) if n > 0) {
                    break;
                }
                let phase = if conn.is_handshaking() {
                    "early"
                } else {
                    "late"
                };
                seen.push_str(&format!("[{phase}]{}", String::from_utf8_lossy(&got)));
            }
            let _ = conn.write_all(format!("{seen}\n").as_bytes()).await;
            let _ = conn.shutdown().await;
        }
    });
    let mut config = (*verifying_client(ca.roots(), None, V13)).clone();
    config.enable_early_data = true;
    let config = Arc::new(config);
    // A blocking rustls client: writes early data when it can, then the rest.
    let exchange = move |early: &'static [u8]| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let name = rustls_pki_types::ServerName::try_from("early.test").unwrap();
            let mut conn = rustls::ClientConnection::new(config, name).unwrap();
            let mut sock = std::net::TcpStream::connect(addr).unwrap();
            let sent_early = match conn.early_data() {
                Some(mut e) => e.write(early).unwrap(),
                None => 0,
            };
            while conn.is_handshaking() {
                conn.complete_io(&mut sock).unwrap();
            }
            let accepted = conn.is_early_data_accepted();
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            tls.write_all(b"after").unwrap();
            let mut out = String::new();
            let _ = tls.read_to_string(&mut out);
            (sent_early, accepted, out)
        })
    };
    let (sent, accepted, out) = exchange(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert_eq!((sent, accepted), (0, false), "no session yet: {out}");
    assert_eq!(out, "[late]after\n");
    let (sent, accepted, out) = exchange(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert_eq!((sent, accepted), (18, true), "{out}");
    assert_eq!(out, "[early]GET / HTTP/1.1\r\n\r\n[late]after\n");
}

/// A config reload that changes a listener's `tls` keeps its resumption state.
#[tokio::test]
async fn rebuild_keeps_sessions_across_a_config_change() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let a = ca.server(&["a.test"], Kind::EcdsaP256).unwrap();
    let b = ca.server(&["b.test"], Kind::EcdsaP256).unwrap();
    let before = settings(vec![write_pair(&dir, "a", &a)]);
    let old = ServerTls::build(&before, base()).unwrap();
    let mut after = before.clone();
    after.certificates.push(write_pair(&dir, "b", &b));
    let new = old.rebuild(&after, base()).unwrap();
    let fresh = ServerTls::build(&after, base()).unwrap();
    let (old, new, fresh) = (
        serve(Arc::new(old)).await,
        serve(Arc::new(new)).await,
        serve(Arc::new(fresh)).await,
    );
    for versions in [V13, V12] {
        let config = verifying_client(ca.roots(), None, versions);
        let capture = Capture::default();
        let (first, _) = connect(old.addr, config.clone(), "a.test", &capture)
            .await
            .unwrap();
        assert!(!first.resumed);
        let (kept, _) = connect(new.addr, config.clone(), "a.test", &capture)
            .await
            .unwrap();
        assert!(kept.resumed, "rebuilt from the old one ({versions:?})");
        let config = verifying_client(ca.roots(), None, versions);
        let (_, _) = connect(old.addr, config.clone(), "a.test", &capture)
            .await
            .unwrap();
        let (lost, _) = connect(fresh.addr, config, "a.test", &capture)
            .await
            .unwrap();
        assert!(!lost.resumed, "built anew ({versions:?})");
    }
}

/// Bytes read before TLS started (after a PROXY header) are fed to the handshake first.
#[tokio::test]
async fn a_handshake_over_bytes_already_read() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["p.test"], Kind::EcdsaP256).unwrap();
    let tls =
        Arc::new(ServerTls::build(&settings(vec![write_pair(&dir, "s", &cert)]), base()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut first = [0u8; 7];
        tcp.read_exact(&mut first).await.unwrap();
        let stream = tls.accept(tcp, &first).await.unwrap();
        stream.write_all(b"-\n").await.unwrap();
        stream.shutdown().await.unwrap();
    });
    let config = verifying_client(ca.roots(), None, BOTH);
    let (got, _) = connect(addr, config, "p.test", &Capture::default())
        .await
        .unwrap();
    assert_eq!(got.identity, "-");
}
