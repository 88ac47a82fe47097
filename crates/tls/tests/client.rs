//! `ClientTls` (TLS to backends) against a TLS backend made of `ServerTls`; and `check()`.

mod support;

use fulcrum_config::{ClientAuthMode, ClientCertConfig, ClusterTlsConfig};
use fulcrum_tls::ClientTls;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

fn cluster_tls(ca: Option<PathBuf>, server_name: Option<&str>) -> ClusterTlsConfig {
    ClusterTlsConfig {
        ca,
        server_name: server_name.map(str::to_owned),
        client_cert: None,
        alpn: vec![],
        verify: true,
    }
}

/// Connects through `ClientTls`; the backend's identity line, the ALPN, whether resumed.
async fn talk(
    client: &ClientTls,
    backend: SocketAddr,
) -> std::io::Result<(String, Option<Vec<u8>>, bool)> {
    let tcp = TcpStream::connect(backend).await?;
    let mut tls = client.connect(tcp, backend).await?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while tls.read(&mut byte).await? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let conn = tls.get_ref().1;
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    Ok((String::from_utf8(line).unwrap(), alpn, resumed))
}

#[tokio::test]
async fn verified_by_name_or_by_ip_against_a_ca_file() {
    let dir = TempDir::new();
    let ca = Ca::new("backend CA");
    let cert = ca
        .server(&["backend.internal", "127.0.0.1"], Kind::EcdsaP256)
        .unwrap();
    let backend = serve(Arc::new(
        fulcrum_tls::ServerTls::build(&settings(vec![write_pair(&dir, "b", &cert)]), base())
            .unwrap(),
    ))
    .await;
    let ca_path = dir.write("ca.pem", &ca.cert_pem);
    // The configured name, and the backend's IP (no SNI; the IP SAN matches).
    for name in [Some("backend.internal"), None] {
        let client = ClientTls::build(&cluster_tls(Some(ca_path.clone()), name), base()).unwrap();
        let (line, _, _) = talk(&client, backend.addr).await.unwrap();
        assert_eq!(line, "-", "server_name {name:?}");
    }
    // A name the certificate does not have.
    let client = ClientTls::build(
        &cluster_tls(Some(ca_path.clone()), Some("other.internal")),
        base(),
    )
    .unwrap();
    assert!(talk(&client, backend.addr).await.is_err());
    // Another CA; the system roots (which do not know this CA).
    let other = dir.write("other.pem", &Ca::new("other").cert_pem);
    let client =
        ClientTls::build(&cluster_tls(Some(other), Some("backend.internal")), base()).unwrap();
    assert!(talk(&client, backend.addr).await.is_err());
    let client = ClientTls::build(&cluster_tls(None, Some("backend.internal")), base()).unwrap();
    assert!(talk(&client, backend.addr).await.is_err());
    // verify = false: accepted whatever the certificate.
    let mut insecure = cluster_tls(None, Some("any.name"));
    insecure.verify = false;
    let client = ClientTls::build(&insecure, base()).unwrap();
    assert_eq!(talk(&client, backend.addr).await.unwrap().0, "-");
}

#[tokio::test]
async fn client_certificate_alpn_and_resumption_to_the_backend() {
    let dir = TempDir::new();
    let ca = Ca::new("backend CA");
    let cert = ca.server(&["backend.internal"], Kind::EcdsaP256).unwrap();
    let proxy = ca.client("fulcrum");
    let mut s = settings(vec![write_pair(&dir, "b", &cert)]);
    s.client_auth = client_auth(
        dir.write("clients.pem", &ca.cert_pem),
        ClientAuthMode::Required,
    );
    let backend = serve(Arc::new(fulcrum_tls::ServerTls::build(&s, base()).unwrap())).await;
    let mut c = cluster_tls(
        Some(dir.write("ca.pem", &ca.cert_pem)),
        Some("backend.internal"),
    );
    // Without a client certificate the backend refuses.
    let client = ClientTls::build(&c, base()).unwrap();
    assert!(talk(&client, backend.addr).await.is_err());
    c.client_cert = Some(ClientCertConfig {
        cert: dir.write("proxy.pem", &proxy.cert_pem),
        key: dir.write("proxy.key", &proxy.key_pem),
    });
    c.alpn = vec!["h2".into()];
    let client = ClientTls::build(&c, base()).unwrap();
    let (line, alpn, resumed) = talk(&client, backend.addr).await.unwrap();
    assert!(line.starts_with("CN=fulcrum,O=Example,C=DE|"), "{line}");
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert!(!resumed);
    // The second connection resumes (the config's session cache is shared).
    let (_, _, resumed) = talk(&client, backend.addr).await.unwrap();
    assert!(resumed);
}

#[tokio::test]
async fn client_files_reload_and_report_errors() {
    let dir = TempDir::new();
    let ca = Ca::new("backend CA");
    let cert = ca.server(&["backend.internal"], Kind::EcdsaP256).unwrap();
    let backend = serve(Arc::new(
        fulcrum_tls::ServerTls::build(&settings(vec![write_pair(&dir, "b", &cert)]), base())
            .unwrap(),
    ))
    .await;
    let ca_path = dir.write("ca.pem", &Ca::new("old CA").cert_pem);
    let client = ClientTls::build(
        &cluster_tls(Some(ca_path), Some("backend.internal")),
        base(),
    )
    .unwrap();
    assert!(talk(&client, backend.addr).await.is_err());
    assert!(client.reload_if_changed().is_none());
    dir.write("ca.pem", &ca.cert_pem);
    client.reload_if_changed().unwrap().unwrap();
    assert_eq!(talk(&client, backend.addr).await.unwrap().0, "-");
    // A broken CA file: the error names it, the running config stays.
    dir.write("ca.pem", "not a certificate");
    let err = client.reload_if_changed().unwrap().unwrap_err().to_string();
    assert!(err.contains("ca.pem: no certificate"), "{err}");
    assert_eq!(talk(&client, backend.addr).await.unwrap().0, "-");
}

#[test]
fn check_reports_every_bad_file_of_a_config() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cert = ca.server(&["a.test"], Kind::EcdsaP256).unwrap();
    let other = ca.server(&["b.test"], Kind::EcdsaP256).unwrap();
    dir.write("a.pem", &cert.cert_pem);
    dir.write("a2.pem", &cert.cert_pem);
    dir.write("a.key", &cert.key_pem);
    dir.write("b.key", &other.key_pem);
    dir.write("ca.pem", &ca.cert_pem);
    dir.write(
        "tickets.key",
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm\n",
    );
    let config = |listener_tls: &str, cluster_tls: &str| {
        let text = format!(
            r#"
[[listener]]
name = "secure"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "web"
tls = {listener_tls}

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
tls = {cluster_tls}
"#
        );
        let path = dir.write("fulcrum.toml", text);
        fulcrum_config::load(&path).unwrap_or_else(|e| panic!("{e}"))
    };
    // Everything in order; paths relative to the config file's directory.
    let good = config(
        r#"{ certificates = [{ cert = "a.pem", key = "a.key" }], ticket_key_file = "tickets.key", client_auth = { ca = "ca.pem" } }"#,
        r#"{ ca = "ca.pem", client_cert = { cert = "a.pem", key = "a.key" } }"#,
    );
    assert_eq!(fulcrum_tls::check(&good), Vec::<String>::new());

    let bad = config(
        r#"{ certificates = [{ cert = "a.pem", key = "b.key" }, { cert = "missing.pem", key = "a.key" }, { cert = "a2.pem", key = "a.key", ocsp = "a.key" }], ticket_key_file = "a.key", client_auth = { ca = "a.key" } }"#,
        r#"{ ca = "nope.pem", client_cert = { cert = "a.pem", key = "b.key" } }"#,
    );
    let problems = fulcrum_tls::check(&bad);
    let base = dir.0.display().to_string();
    let expected = [
        format!(
            "listener `secure`: tls.certificates[0]: {base}/b.key: this key does not match the certificate in {base}/a.pem"
        ),
        format!(
            "listener `secure`: tls.certificates[1]: {base}/missing.pem: cannot read: No such file or directory (os error 2)"
        ),
        format!(
            "listener `secure`: tls.certificates[2]: {base}/a.key: not a DER OCSP response (expected the binary response, as `openssl ocsp -respout` writes it)"
        ),
        format!(
            "listener `secure`: tls.client_auth.ca: {base}/a.key: no certificate in it (expected a PEM \"BEGIN CERTIFICATE\" block)"
        ),
        format!("listener `secure`: tls.ticket_key_file: {base}/a.key: line 1: not base64"),
        format!(
            "cluster `web`: tls.ca: {base}/nope.pem: cannot read: No such file or directory (os error 2)"
        ),
    ];
    assert_eq!(problems[..expected.len()], expected[..], "{problems:#?}");
    // The client certificate check builds the whole config, so the CA error comes first there.
    assert_eq!(problems.len(), expected.len() + 1, "{problems:#?}");
    assert!(
        problems[expected.len()].starts_with("cluster `web`: tls.client_cert: "),
        "{problems:#?}"
    );
}
