//! TLS to backends with real peers: HTTP/2 over TLS to nghttpd, chosen by ALPN, and a client
//! certificate for an `openssl s_server` that requires one. Certificates are made by openssl
//! for each test (no keys checked in).

mod support;
mod tls_common;

use std::path::Path;
use support::raw::{Helper, curl};
use support::*;
use tls_common::make_pki;

/// An HTTP listener in front of cluster `c` (one backend, one connect attempt, `extra` lines).
fn start_in_front_of(backend: std::net::SocketAddr, extra: &str) -> (Fulcrum, String) {
    let (admin, http) = (free_port(), free_addr());
    let cfg = config_head(admin, 1)
        + &format!(
            "[[listener]]\nname = \"web\"\nbind = \"{http}\"\nprotocol = \"http\"\ncluster = \"c\"\n\n\
             [[cluster]]\nname = \"c\"\nbackends = [\"{backend}\"]\nconnect_attempts = 1\n{extra}\n"
        );
    (Fulcrum::start(&cfg), format!("http://{http}"))
}

/// `GET url`: the status code, then the body.
fn get(url: &str) -> (String, String) {
    let out = curl(&["-w", "\n%{http_code}", url]);
    let text = out.stdout_text();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_owned(), body.to_owned())
}

fn nghttpd_tls(dir: &Path, docroot: &Path) -> Helper {
    let port = free_port();
    let args = [
        "-a".to_owned(),
        "127.0.0.1".to_owned(),
        "-d".to_owned(),
        docroot.display().to_string(),
        port.to_string(),
        dir.join("server.key").display().to_string(),
        dir.join("server.pem").display().to_string(),
    ];
    Helper::on_port("nghttpd", &args, port)
}

/// nghttpd speaks only HTTP/2, and over TLS only to a client that offers h2 by ALPN: a
/// `protocol = "h2"` cluster with `tls` reaches it, and its certificate is verified by name.
#[test]
fn h2_over_tls_to_a_backend_chosen_by_alpn() {
    let dir = TempDir::new("tls-h2-origin");
    make_pki(dir.path());
    let docroot = dir.path().join("www");
    std::fs::create_dir(&docroot).unwrap();
    std::fs::write(docroot.join("hello.txt"), b"hello over h2 and tls\n").unwrap();
    let backend = nghttpd_tls(dir.path(), &docroot);
    let d = dir.path().display();
    let tls = format!(
        "protocol = \"h2\"\ntls = {{ ca = \"{d}/ca.pem\", server_name = \"fulcrum.test\" }}"
    );
    let (f, base) = start_in_front_of(backend.addr(), &tls);
    let (code, body) = get(&format!("{base}/hello.txt"));
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello over h2 and tls\n"),
        "HTTP/1.1 client -> h2 over TLS: {}{}",
        backend.stderr_text(),
        f.diag()
    );

    // Offering only http/1.1 by ALPN, the same backend cannot be spoken to.
    let http1 = format!(
        "tls = {{ ca = \"{d}/ca.pem\", server_name = \"fulcrum.test\", alpn = [\"http/1.1\"] }}"
    );
    let (f2, base2) = start_in_front_of(backend.addr(), &http1);
    let (code, _) = get(&format!("{base2}/hello.txt"));
    assert_eq!(
        code,
        "502",
        "an h2-only backend without h2 offered: {}",
        f2.diag()
    );
}

/// `openssl s_server -Verify 1` requires a client certificate that chains to its CA: with
/// `client_cert` the request goes through and the backend saw the certificate's subject;
/// without, the backend refuses the handshake and the client gets a 502.
#[test]
fn a_client_certificate_for_a_backend_that_requires_one() {
    let dir = TempDir::new("tls-mtls-origin");
    make_pki(dir.path());
    let d = dir.path().display();
    let port = free_port();
    let files = ["ca.pem", "server.pem", "server.key"].map(|f| format!("{d}/{f}"));
    let args = [
        "s_server",
        "-quiet",
        "-www",
        "-Verify",
        "1",
        "-accept",
        &port.to_string(),
        "-CAfile",
        &files[0],
        "-cert",
        &files[1],
        "-key",
        &files[2],
    ]
    .map(String::from);
    let backend = Helper::on_port("openssl", &args, port);

    let with = format!(
        "tls = {{ ca = \"{d}/ca.pem\", server_name = \"fulcrum.test\", \
         client_cert = {{ cert = \"{d}/client.pem\", key = \"{d}/client.key\" }} }}"
    );
    let (f, base) = start_in_front_of(backend.addr(), &with);
    let (code, body) = get(&format!("{base}/"));
    assert_eq!(
        code,
        "200",
        "with a client certificate: {body:.300}{}",
        f.diag()
    );
    assert!(
        body.contains("Subject: CN=alice, O=test"),
        "the backend did not see the client certificate: {body:.2000}"
    );

    let without = format!("tls = {{ ca = \"{d}/ca.pem\", server_name = \"fulcrum.test\" }}");
    let (f2, base2) = start_in_front_of(backend.addr(), &without);
    let (code, _) = get(&format!("{base2}/"));
    assert_eq!(code, "502", "without a client certificate: {}", f2.diag());
}
