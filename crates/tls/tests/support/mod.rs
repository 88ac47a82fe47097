//! Shared by the tls tests: a throwaway PKI (rcgen; RSA keys from the openssl CLI), a temp
//! directory, a test server over `ServerTls`, and clients that record what the server sent.
#![allow(dead_code)]

use fulcrum_config::{
    CertificateConfig, ClientAuthConfig, ClientAuthMode, TlsListenerConfig, TlsVersion,
};
use fulcrum_tls::ServerTls;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("fulcrum-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        // Write beside and rename, as a deployment would (and so the inode changes).
        let tmp = self.path(&format!(".{name}.tmp"));
        std::fs::write(&tmp, contents).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Key types for issued certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    EcdsaP256,
    Rsa2048,
}

/// A certificate and its key, as PEM and DER.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl Issued {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        use rustls_pki_types::pem::PemObject;
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }
}

/// A CA that issues server and client certificates.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pub cert_pem: String,
    pub der: CertificateDer<'static>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert_pem: cert.pem(),
            der: cert.der().clone(),
            params,
            key,
        }
    }

    /// A server certificate for `names` (DNS names or IPs), or `None` when an RSA key is
    /// wanted and the openssl CLI is not there to make one.
    pub fn server(&self, names: &[&str], kind: Kind) -> Option<Issued> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, kind)
    }

    /// A client certificate with subject `C=DE, O=Example, CN=<cn>` (in certificate order).
    pub fn client(&self, cn: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "DE");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, Kind::EcdsaP256).unwrap()
    }

    pub fn issue(&self, params: CertificateParams, kind: Kind) -> Option<Issued> {
        let key = match kind {
            Kind::EcdsaP256 => KeyPair::generate().unwrap(),
            Kind::Rsa2048 => KeyPair::from_pem(&rsa_key_pem()?).unwrap(),
        };
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Some(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        })
    }

    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        roots
    }
}

/// A 2048-bit RSA key (PKCS#8 PEM) from `openssl genpkey`; `None` without openssl.
pub fn rsa_key_pem() -> Option<String> {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

pub fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        || std::process::Command::new(tool)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Writes a certificate and key as `<name>.pem` and `<name>.key`.
pub fn write_pair(dir: &TempDir, name: &str, issued: &Issued) -> CertificateConfig {
    CertificateConfig {
        cert: dir.write(&format!("{name}.pem"), &issued.cert_pem),
        key: dir.write(&format!("{name}.key"), &issued.key_pem),
        ocsp: None,
    }
}

/// A listener `tls` with the defaults of an https listener.
pub fn settings(certificates: Vec<CertificateConfig>) -> TlsListenerConfig {
    TlsListenerConfig {
        certificates,
        min_version: TlsVersion::Tls12,
        ciphers: vec![],
        alpn: vec!["h2".into(), "http/1.1".into()],
        session_tickets: true,
        ticket_key_file: None,
        session_cache: 4096,
        early_data: false,
        handshake_timeout: Duration::from_secs(5),
        client_auth: None,
    }
}

pub fn client_auth(ca: PathBuf, mode: ClientAuthMode) -> Option<ClientAuthConfig> {
    Some(ClientAuthConfig {
        ca,
        mode,
        subject_header: Some("x-client-subject".into()),
        fingerprint_header: Some("x-client-fingerprint".into()),
    })
}

/// A TLS server on 127.0.0.1: each connection gets one line, the client's identity
/// (`subject|fingerprint`, or `-`), then the server echoes until EOF. Handshake failures are
/// recorded with their reason.
pub struct Server {
    pub addr: SocketAddr,
    pub failures: Arc<Mutex<Vec<&'static str>>>,
    pub tls: Arc<ServerTls>,
}

pub async fn serve(tls: Arc<ServerTls>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (f, t) = (failures.clone(), tls.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (f, t) = (f.clone(), t.clone());
            tokio::spawn(async move {
                let mut stream = match t.accept(stream, &[]).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        f.lock().unwrap().push(e.reason());
                        return;
                    }
                };
                let id = stream.identity().map_or("-".to_owned(), |i| {
                    format!("{}|{}", i.subject, i.fingerprint)
                });
                let line = format!("{id}\n");
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                let _ = stream.flush().await;
                let mut buf = [0u8; 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    Server {
        addr,
        failures,
        tls,
    }
}

/// What a client saw of one connection.
#[derive(Debug)]
pub struct Seen {
    pub cert: CertificateDer<'static>,
    pub ocsp: Vec<u8>,
    pub alpn: Option<Vec<u8>>,
    pub resumed: bool,
    pub version: Option<rustls::ProtocolVersion>,
    pub suite: Option<rustls::CipherSuite>,
    /// The server's first line: the identity it saw.
    pub identity: String,
}

/// Connects, completes the handshake, reads the server's identity line.
pub async fn connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
    capture: &Capture,
) -> Result<(Seen, tokio_rustls::client::TlsStream<TcpStream>), std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(server_name, tcp)
        .await?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = tls.read(&mut byte).await?;
        if n == 0 || byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    let conn = tls.get_ref().1;
    let seen = Seen {
        cert: conn.peer_certificates().unwrap()[0].clone().into_owned(),
        ocsp: capture.ocsp.lock().unwrap().clone(),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        version: conn.protocol_version(),
        suite: conn.negotiated_cipher_suite().map(|s| s.suite()),
        identity: String::from_utf8(line).unwrap(),
    };
    Ok((seen, tls))
}

/// A verifier that accepts any certificate (signatures still checked), records the OCSP
/// response, and offers only `schemes` when given.
#[derive(Debug, Default)]
pub struct Capture {
    pub ocsp: Mutex<Vec<u8>>,
    pub schemes: Option<Vec<SignatureScheme>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        ocsp: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.ocsp.lock().unwrap() = ocsp.to_vec();
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        match &self.schemes {
            Some(s) => s.clone(),
            None => rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms
                .supported_schemes(),
        }
    }
}

/// A client config that accepts any server certificate through `capture`.
pub fn capturing_client(capture: Arc<Capture>, alpn: &[&str]) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(capture)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// A client config that verifies against `roots`, with an optional client certificate.
pub fn verifying_client(
    roots: rustls::RootCertStore,
    client_cert: Option<&Issued>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let config = match client_cert {
        Some(c) => builder
            .with_client_auth_cert(vec![c.der.clone()], c.key_der())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

pub fn base() -> &'static Path {
    Path::new("/")
}
