//! Real peers against `ServerTls`: `openssl s_client` and `curl` (OpenSSL). Each test is
//! skipped, saying so, when its tool is not installed.

mod support;

use fulcrum_config::ClientAuthMode;
use fulcrum_tls::ServerTls;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// An HTTPS server: answers each request with the client's identity as the body.
async fn https(tls: Arc<ServerTls>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = tls.accept(tcp, &[]).await else {
                    return;
                };
                let id = stream.identity().map_or("-".to_owned(), |i| i.subject);
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{id}",
                    id.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

/// Runs a command off the runtime's thread (the server runs on it), with stdin written and
/// then held open for `hold`.
async fn run(cmd: Vec<String>, stdin: &'static [u8], hold: Duration) -> (bool, String) {
    run_steps(cmd, vec![(stdin, hold)]).await
}

/// [`run`] with stdin written in steps, each followed by its pause (s_client reads its
/// commands, such as `K`, only at the start of a read).
async fn run_steps(cmd: Vec<String>, steps: Vec<(&'static [u8], Duration)>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        for (bytes, pause) in steps {
            let _ = input.write_all(bytes);
            let _ = input.flush();
            std::thread::sleep(pause);
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

struct Setup {
    dir: TempDir,
    ca: Ca,
    exact: Issued,
    wild: Issued,
}

fn setup() -> Setup {
    let ca = Ca::new("peer CA");
    let default = ca.server(&["default.test"], Kind::EcdsaP256).unwrap();
    let exact = ca.server(&["a.example.com"], Kind::EcdsaP256).unwrap();
    let wild = ca.server(&["*.example.com"], Kind::EcdsaP256).unwrap();
    let dir = TempDir::new();
    dir.write("ca.pem", &ca.cert_pem);
    write_pair(&dir, "default", &default);
    write_pair(&dir, "exact", &exact);
    write_pair(&dir, "wild", &wild);
    Setup {
        dir,
        ca,
        exact,
        wild,
    }
}

fn listener(s: &Setup) -> fulcrum_config::TlsListenerConfig {
    let pair = |n: &str| fulcrum_config::CertificateConfig {
        cert: s.dir.path(&format!("{n}.pem")),
        key: s.dir.path(&format!("{n}.key")),
        ocsp: None,
    };
    settings(vec![pair("default"), pair("exact"), pair("wild")])
}

#[tokio::test]
async fn openssl_s_client_sni_alpn_resumption_renegotiation_and_key_update() {
    if !have("openssl") {
        eprintln!("SKIPPED openssl_s_client: no openssl CLI");
        return;
    }
    let s = setup();
    let tls = Arc::new(ServerTls::build(&listener(&s), base()).unwrap());
    let server = serve(tls).await;
    let connect = format!("127.0.0.1:{}", server.addr.port());
    let ca = s.dir.path("ca.pem").display().to_string();
    let session = s.dir.path("session.pem").display().to_string();
    let s_client = |extra: &[&str]| {
        let mut a = args(&[
            "openssl",
            "s_client",
            "-connect",
            &connect,
            "-CAfile",
            &ca,
            "-verify_return_error",
        ]);
        a.extend(args(extra));
        a
    };
    // SNI: each name verifies against the certificate chosen for it.
    for name in ["a.example.com", "b.example.com"] {
        let (ok, out) = run(
            s_client(&["-servername", name, "-verify_hostname", name]),
            b"",
            Duration::from_millis(300),
        )
        .await;
        assert!(ok && out.contains("Verification: OK"), "{name}:\n{out}");
    }
    // No SNI: the default certificate, which is not a.example.com's.
    let (ok, out) = run(
        s_client(&["-noservername", "-verify_hostname", "default.test"]),
        b"",
        Duration::from_millis(300),
    )
    .await;
    assert!(ok && out.contains("Verification: OK"), "{out}");
    // ALPN.
    let (_, out) = run(
        s_client(&["-servername", "a.example.com", "-alpn", "http/1.1,h2"]),
        b"",
        Duration::from_millis(300),
    )
    .await;
    assert!(out.contains("ALPN protocol: h2"), "{out}");
    // Resumption, TLS 1.3 and 1.2: save the session, then offer it.
    for version in ["-tls1_3", "-tls1_2"] {
        let (_, first) = run(
            s_client(&[
                "-servername",
                "a.example.com",
                version,
                "-sess_out",
                &session,
            ]),
            b"",
            Duration::from_millis(500),
        )
        .await;
        assert!(first.contains("New, TLSv1."), "{first}");
        let (_, second) = run(
            s_client(&[
                "-servername",
                "a.example.com",
                version,
                "-sess_in",
                &session,
            ]),
            b"",
            Duration::from_millis(300),
        )
        .await;
        assert!(second.contains("Reused, TLSv1."), "{version}:\n{second}");
    }
    // Renegotiation (TLS 1.2, "R" on stdin): refused, the server stays up.
    let (_, out) = run(
        s_client(&["-servername", "a.example.com", "-tls1_2"]),
        b"R\n",
        Duration::from_millis(500),
    )
    .await;
    assert!(out.contains("RENEGOTIATING"), "{out}");
    let (ok, _) = run(
        s_client(&["-servername", "a.example.com"]),
        b"",
        Duration::from_millis(200),
    )
    .await;
    assert!(ok, "the server still serves after a renegotiation attempt");
    // Key update (TLS 1.3, "K": update and ask the server to update too), then data both
    // ways under the new keys.
    let (_, out) = run_steps(
        s_client(&["-servername", "a.example.com", "-tls1_3"]),
        vec![
            (b"K\n", Duration::from_millis(300)),
            (b"after-the-update\n", Duration::from_millis(400)),
        ],
    )
    .await;
    assert!(out.contains("KEYUPDATE"), "{out}");
    assert!(
        out.contains("after-the-update"),
        "echoed under the new keys:\n{out}"
    );
    let _ = (&s.exact, &s.wild);
}

#[tokio::test]
async fn openssl_s_client_and_curl_with_client_certificates() {
    if !have("openssl") || !have("curl") {
        eprintln!("SKIPPED client certificates with real peers: needs openssl and curl");
        return;
    }
    let s = setup();
    let alice = s.ca.client("alice");
    s.dir.write("alice.pem", &alice.cert_pem);
    s.dir.write("alice.key", &alice.key_pem);
    let mut required = listener(&s);
    required.alpn = vec!["http/1.1".into()];
    required.client_auth = client_auth(s.dir.path("ca.pem"), ClientAuthMode::Required);
    let mut optional = required.clone();
    optional.client_auth = client_auth(s.dir.path("ca.pem"), ClientAuthMode::Optional);
    let required = https(Arc::new(ServerTls::build(&required, base()).unwrap())).await;
    let optional = https(Arc::new(ServerTls::build(&optional, base()).unwrap())).await;
    let path = |n: &str| s.dir.path(n).display().to_string();
    let curl = |addr: SocketAddr, cert: bool, version: &str| {
        let port = addr.port();
        let mut a = args(&[
            "curl",
            "-sS",
            "--max-time",
            "5",
            "--cacert",
            &path("ca.pem"),
            "--resolve",
            &format!("a.example.com:{port}:127.0.0.1"),
            version,
            &format!("https://a.example.com:{port}/"),
        ]);
        if version == "--tlsv1.2" {
            a.extend(args(&["--tls-max", "1.2"]));
        }
        if cert {
            a.extend(args(&[
                "--cert",
                &path("alice.pem"),
                "--key",
                &path("alice.key"),
            ]));
        }
        a
    };
    for version in ["--tlsv1.3", "--tlsv1.2"] {
        for addr in [required, optional] {
            let (ok, out) = run(curl(addr, true, version), b"", Duration::ZERO).await;
            assert!(ok && out == "CN=alice,O=Example,C=DE", "{version}: {out}");
        }
        let (ok, out) = run(curl(required, false, version), b"", Duration::ZERO).await;
        assert!(!ok, "required, no certificate ({version}): {out}");
        let (ok, out) = run(curl(optional, false, version), b"", Duration::ZERO).await;
        assert!(
            ok && out == "-",
            "optional, no certificate ({version}): {out}"
        );
    }
    // s_client: accepted with a certificate, refused without.
    let s_client = |cert: bool| {
        let mut a = args(&[
            "openssl",
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", required.port()),
            "-servername",
            "a.example.com",
            "-CAfile",
            &path("ca.pem"),
        ]);
        if cert {
            a.extend(args(&[
                "-cert",
                &path("alice.pem"),
                "-key",
                &path("alice.key"),
            ]));
        }
        a
    };
    let (_, out) = run(
        s_client(true),
        b"GET / HTTP/1.1\r\n\r\n",
        Duration::from_millis(500),
    )
    .await;
    assert!(out.contains("CN=alice,O=Example,C=DE"), "{out}");
    let (_, out) = run(
        s_client(false),
        b"GET / HTTP/1.1\r\n\r\n",
        Duration::from_millis(500),
    )
    .await;
    assert!(!out.contains("CN=alice") && out.contains("alert"), "{out}");
}
