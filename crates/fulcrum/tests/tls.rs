//! TLS termination with real peers: curl and openssl against `protocol = "https"` and
//! `"tls"` listeners, certificates made by openssl for each test (no keys checked in).

mod support;
mod tls_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::http_backend::HttpBackend;
use support::raw::{curl, echo_header};
use support::*;
use tls_common::{curl_https, make_pki};

struct Tls {
    f: Fulcrum,
    https: std::net::SocketAddr,
    tcp: std::net::SocketAddr,
    dir: TempDir,
}

fn start(backend: &HttpBackend, client_auth: &str) -> Tls {
    let dir = TempDir::new("tls-pki");
    make_pki(dir.path());
    let client_auth = client_auth.replace("{dir}", &dir.path().display().to_string());
    let d = dir.path().display();
    let admin = free_port();
    let https = free_addr();
    let tcp = free_addr();
    let cfg = config_head(admin, 2)
        + &format!(
            "[[listener]]\nname = \"secure\"\nbind = \"{https}\"\nprotocol = \"https\"\ncluster = \"c\"\n\
             tls = {{ certificates = [{{ cert = \"{d}/server.pem\", key = \"{d}/server.key\" }}]{client_auth} }}\n\n\
             [[listener]]\nname = \"tcp\"\nbind = \"{tcp}\"\nprotocol = \"tls\"\ncluster = \"c\"\n\
             tls = {{ certificates = [{{ cert = \"{d}/server.pem\", key = \"{d}/server.key\" }}] }}\n\n\
             [[cluster]]\nname = \"c\"\nbackends = [\"{}\"]\n",
            backend.addr()
        );
    Tls {
        f: Fulcrum::start(&cfg),
        https,
        tcp,
        dir,
    }
}

fn curl_tls(
    t: &Tls,
    addr: std::net::SocketAddr,
    host: &str,
    extra: &[&str],
    path: &str,
) -> support::raw::Output {
    curl_https(t.dir.path(), addr, host, extra, path)
}

#[test]
fn https_serves_http1_and_h2_by_alpn_with_x_forwarded_proto() {
    let backend = HttpBackend::start("b");
    let t = start(&backend, "");
    for (flag, want) in [("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2")] {
        let out = curl_tls(
            &t,
            t.https,
            "fulcrum.test",
            &[flag, "-w", "\n%{http_version}"],
            "/hello",
        );
        assert!(out.ok(), "{flag}: {}{}", out.describe(), t.f.diag());
        let text = out.stdout_text();
        let version = format!("HTTP/{}", text.lines().last().unwrap_or(""));
        assert_eq!(version, want, "{flag}: {text}");
        let seen = backend.last("after https");
        assert_eq!(
            seen.header("x-forwarded-proto"),
            Some("https"),
            "{flag}{}",
            t.f.diag()
        );
    }
    // A wildcard name is served by the same certificate (its SAN).
    let out = curl_tls(&t, t.https, "api.fulcrum.test", &[], "/w");
    assert!(out.ok(), "wildcard SAN: {}", out.describe());
}

#[test]
fn tls_listener_relays_tcp_after_termination() {
    let backend = HttpBackend::start("b");
    let t = start(&backend, "");
    let out = curl_tls(&t, t.tcp, "fulcrum.test", &["--http1.1"], "/over-tls");
    assert!(out.ok(), "{}{}", out.describe(), t.f.diag());
    let echo = out.stdout_text();
    let json: serde_json::Value = serde_json::from_str(&echo).unwrap_or_default();
    // A TCP relay adds nothing: the backend sees the client's own request.
    assert_eq!(echo_header(&json, "x-forwarded-for"), None, "{echo}");
    assert_eq!(backend.last("tls tcp").target, "/over-tls");
}

#[test]
fn garbage_on_a_tls_port_is_closed_and_counted() {
    let backend = HttpBackend::start("b");
    let t = start(&backend, "");
    let mut s = std::net::TcpStream::connect(t.https).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::io::Write::write_all(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = std::io::Read::read(&mut s, &mut buf).unwrap_or(0);
    assert!(
        n == 0 || buf[0] == 0x15,
        "plain HTTP on a TLS port gets an alert or a close"
    );
    assert!(
        wait_until(Duration::from_secs(5), || backend.requests().is_empty()),
        "nothing reached the backend"
    );
    let errors = "fulcrum_listener_tls_handshake_errors_total{listener=\"secure\"}";
    let counted =
        t.f.wait_metric(errors, Duration::from_secs(5), |v| v == 1.0);
    assert_eq!(
        counted,
        Some(1.0),
        "the failed handshake is counted{}",
        t.f.diag()
    );
    // A good request is counted too, in its status class.
    let ok = curl_tls(&t, t.https, "fulcrum.test", &["--http1.1"], "/counted");
    assert!(ok.ok(), "{}", ok.describe());
    let responses = "fulcrum_listener_responses_total{listener=\"secure\",class=\"2xx\"}";
    assert_eq!(t.f.metric(responses), Some(1.0), "{}", t.f.metrics());
    assert_eq!(t.f.metric(errors), Some(1.0));
}

#[test]
fn mtls_required_rejects_without_a_certificate_and_passes_identity_headers() {
    let backend = HttpBackend::start("b");
    let auth = ", client_auth = { ca = \"{dir}/ca.pem\", mode = \"required\" }";
    let t = start(&backend, auth);
    let no_cert = curl_tls(&t, t.https, "fulcrum.test", &["--http1.1"], "/x");
    assert!(
        !no_cert.ok(),
        "a client without a certificate is refused: {}",
        no_cert.describe()
    );
    let d = t.dir.path().display().to_string();
    let (cert, key) = (format!("{d}/client.pem"), format!("{d}/client.key"));
    let forged = "x-client-subject: CN=mallory";
    let with_cert = curl_tls(
        &t,
        t.https,
        "fulcrum.test",
        &["--http1.1", "--cert", &cert, "--key", &key, "-H", forged],
        "/y",
    );
    assert!(with_cert.ok(), "{}{}", with_cert.describe(), t.f.diag());
    let seen = backend.last("mtls");
    let subject = seen.header("x-client-subject").unwrap_or("");
    assert!(
        subject.contains("CN=alice"),
        "verified subject passed on, forged one dropped: {subject:?}"
    );
    assert_eq!(seen.headers_named("x-client-subject").len(), 1);
    let fp = seen.header("x-client-fingerprint").unwrap_or("");
    assert_eq!(fp.len(), 64, "sha-256 fingerprint in hex: {fp:?}");
}

/// Sends a real ClientHello for `name` (curl; the handshake itself fails, the backends are
/// not TLS servers) to a passthrough listener.
fn hello_for(listen: std::net::SocketAddr, name: &str) {
    let resolve = format!("{name}:{}:127.0.0.1", listen.port());
    let url = format!("https://{name}:{}/", listen.port());
    let _ = curl(&["-sk", "--max-time", "2", "--resolve", &resolve, &url]);
}

#[test]
fn sni_passthrough_routes_on_the_server_name_without_terminating() {
    let (a, w, d) = (
        HttpBackend::start("a"),
        HttpBackend::start("w"),
        HttpBackend::start("d"),
    );
    let admin = free_port();
    let listen = free_addr();
    let cfg = config_head(admin, 2)
        + &format!(
            "[[listener]]\nname = \"pass\"\nbind = \"{listen}\"\nprotocol = \"tcp\"\ncluster = \"d\"\n\
             sni_routes = [{{ server_name = \"a.example.test\", cluster = \"a\" }}, \
             {{ server_name = \"*.wild.test\", cluster = \"w\" }}]\n\n\
             [[cluster]]\nname = \"a\"\nbackends = [\"{}\"]\n\n\
             [[cluster]]\nname = \"w\"\nbackends = [\"{}\"]\n\n\
             [[cluster]]\nname = \"d\"\nbackends = [\"{}\"]\n",
            a.addr(),
            w.addr(),
            d.addr()
        );
    let f = Fulcrum::start(&cfg);
    hello_for(listen, "a.example.test");
    hello_for(listen, "x.wild.test");
    hello_for(listen, "other.test");
    let counts = || (a.accepted(), w.accepted(), d.accepted());
    assert!(
        wait_until(Duration::from_secs(5), || counts() == (1, 1, 1)),
        "exact, wildcard and default routes each got one connection: {:?}{}",
        counts(),
        f.diag()
    );
    // The backend got the client's own TLS bytes: a ClientHello record (0x16 0x03).
    // Garbage instead of a hello is closed and reaches no backend.
    let mut s = std::net::TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::io::Write::write_all(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        std::io::Read::read(&mut s, &mut buf).unwrap_or(0),
        0,
        "closed"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(counts(), (1, 1, 1), "garbage reached no backend");
}

/// `openssl s_server -www` on a free port with the test PKI's server certificate: a real TLS
/// backend that answers any GET with a status page. Killed on drop.
struct TlsBackend(std::process::Child, std::net::SocketAddr);

impl TlsBackend {
    fn start(dir: &Path) -> TlsBackend {
        let addr = free_addr();
        let child = Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-accept",
                &addr.port().to_string(),
            ])
            .arg("-cert")
            .arg(dir.join("server.pem"))
            .arg("-key")
            .arg(dir.join("server.key"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let up = wait_until(Duration::from_secs(5), || {
            std::net::TcpStream::connect(addr).is_ok()
        });
        assert!(up, "openssl s_server listening");
        TlsBackend(child, addr)
    }
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn clusters_speak_tls_to_backends_verified_against_a_ca() {
    let dir = TempDir::new("tls-origin");
    make_pki(dir.path());
    let backend = TlsBackend::start(dir.path());
    let d = dir.path().display();
    let (admin, http, tcp) = (free_port(), free_addr(), free_addr());
    let tls = format!("tls = {{ ca = \"{d}/ca.pem\", server_name = \"fulcrum.test\" }}");
    let bad = format!("tls = {{ ca = \"{d}/server.pem\", server_name = \"fulcrum.test\" }}");
    let cfg = config_head(admin, 2)
        + &format!(
            "[[listener]]\nname = \"web\"\nbind = \"{http}\"\nprotocol = \"http\"\ncluster = \"good\"\n\n\
             [[listener.route]]\npath_prefix = \"/bad\"\ncluster = \"bad\"\n\n\
             [[listener]]\nname = \"tcp\"\nbind = \"{tcp}\"\nprotocol = \"tcp\"\ncluster = \"good\"\n\n\
             [[cluster]]\nname = \"good\"\nbackends = [\"{b}\"]\n{tls}\n\n\
             [[cluster]]\nname = \"bad\"\nbackends = [\"{b}\"]\nconnect_attempts = 1\n{bad}\n",
            b = backend.1
        );
    let f = Fulcrum::start(&cfg);
    let url = format!("http://{http}/");
    let ok = curl(&[
        "-sS",
        "--max-time",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url,
    ]);
    assert_eq!(
        ok.stdout_text(),
        "200",
        "HTTP through TLS to the backend: {}{}",
        ok.describe(),
        f.diag()
    );
    // A backend whose certificate does not chain to the configured CA is refused.
    let url = format!("http://{http}/bad");
    let bad = curl(&[
        "-sS",
        "--max-time",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url,
    ]);
    assert_eq!(
        bad.stdout_text(),
        "502",
        "unverified backend: {}",
        bad.describe()
    );
    // A TCP listener relays into TLS too.
    let mut s = std::net::TcpStream::connect(tcp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut s, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.0 200"),
        "TCP into TLS: {text:.200}{}",
        f.diag()
    );
}

/// A TLS 1.2 renegotiation attempt (OpenSSL's `s_client`, "R" on stdin) is turned down with
/// a warning, counted, and the listener goes on serving.
#[test]
fn a_renegotiation_attempt_is_turned_down_and_counted() {
    use std::io::Write;
    let backend = HttpBackend::start("b");
    let t = start(&backend, "");
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-tls1_2",
            "-servername",
            "fulcrum.test",
            "-connect",
        ])
        .arg(t.https.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"R\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("RENEGOTIATING"), "{text}");
    let key = "fulcrum_listener_tls_errors_total{listener=\"secure\"}";
    let counted = t.f.wait_metric(key, Duration::from_secs(5), |v| v == 1.0);
    assert_eq!(counted, Some(1.0), "{key}{}", t.f.diag());
    let ok = curl_tls(&t, t.https, "fulcrum.test", &["--http1.1"], "/after");
    assert!(ok.ok(), "still serving: {}", ok.describe());
}
