//! TLS origination: a cluster's rustls `ClientConfig` for its backends.
//!
//! Roots: the cluster's `ca` bundle, else the system's (rustls-native-certs, read once per
//! process), else, when the system has none, the Mozilla roots built in (webpki-roots). The
//! name sent as SNI and verified is `server_name`, else the backend's IP address (verified
//! against the certificate's IP SANs; no SNI is sent for an IP). One `ClientTls` per cluster,
//! shared by every worker: its config keeps rustls's in-memory session cache, so connections
//! to the backends resume.
//!
//! `verify = false` accepts any certificate from the backends (the handshake signature is
//! still checked against the certificate it presents). Anyone on the network path can then
//! impersonate a backend: it exists for tests and for backends on a trusted loopback with
//! throwaway certificates, and building such a config logs a warning.

use crate::error::TlsError;
use crate::files;
use crate::watch::Watch;
use arc_swap::ArcSwap;
use fulcrum_config::ClusterTlsConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A cluster's TLS to its backends.
pub struct ClientTls {
    settings: ClusterTlsConfig,
    base: PathBuf,
    config: ArcSwap<ClientConfig>,
    /// The configured name, parsed once.
    server_name: Option<ServerName<'static>>,
    watch: Watch,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .field("files", &self.watch.files())
            .finish()
    }
}

impl ClientTls {
    /// Loads the CA bundle and client certificate (relative to `base_dir`) and builds the
    /// config.
    pub fn build(settings: &ClusterTlsConfig, base_dir: &Path) -> Result<ClientTls, TlsError> {
        crate::warm_rng();
        let watch = Watch::new(files_of(settings, base_dir));
        let server_name = match &settings.server_name {
            None => None,
            Some(name) => Some(
                ServerName::try_from(name.clone())
                    .map_err(|e| TlsError::Config(format!("bad server_name {name:?}: {e}")))?,
            ),
        };
        let config = client_config(settings, base_dir)?;
        Ok(ClientTls {
            settings: settings.clone(),
            base: base_dir.to_path_buf(),
            config: ArcSwap::from_pointee(config),
            server_name,
            watch,
        })
    }

    /// The current rustls config.
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.load_full()
    }

    /// A tokio-rustls connector over the current config.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.config())
    }

    /// The name to send as SNI and verify for a backend: `server_name`, else its IP.
    pub fn server_name(&self, backend: SocketAddr) -> ServerName<'static> {
        match &self.server_name {
            Some(name) => name.clone(),
            None => ServerName::IpAddress(backend.ip().into()),
        }
    }

    /// The handshake with a backend over a connected stream (the caller bounds it with the
    /// cluster's connect timeout). `alpn_protocol()` of the result says what was negotiated.
    pub async fn connect<IO>(&self, io: IO, backend: SocketAddr) -> std::io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        self.connector()
            .connect(self.server_name(backend), io)
            .await
    }

    /// The cluster settings this was built from.
    pub fn settings(&self) -> &ClusterTlsConfig {
        &self.settings
    }

    /// Re-reads the CA bundle and the client certificate; on error the running config stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.watch.changed();
        let config = client_config(&self.settings, &self.base)?;
        self.config.store(Arc::new(config));
        Ok(())
    }

    /// Whether a file this was built from changed since it was last read (a metadata poll).
    pub fn changed(&self) -> bool {
        self.watch.changed()
    }

    /// [`ClientTls::changed`], then [`ClientTls::reload`] if so.
    pub fn reload_if_changed(&self) -> Option<Result<(), TlsError>> {
        self.changed().then(|| self.reload())
    }

    /// Every file this cluster's TLS reads, resolved.
    pub fn files(&self) -> &[PathBuf] {
        self.watch.files()
    }
}

fn client_config(settings: &ClusterTlsConfig, base: &Path) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(format!("TLS versions: {e}")))?;
    let builder = if settings.verify {
        let roots = match &settings.ca {
            Some(ca) => Arc::new(files::roots(&files::resolve(base, ca))?),
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    } else {
        tracing::warn!(
            "cluster tls has verify = false: backend certificates are not checked, \
             anyone on the path can impersonate a backend"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    };
    let mut config = match &settings.client_cert {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let cert_path = files::resolve(base, &c.cert);
            let key_path = files::resolve(base, &c.key);
            let chain = files::certificates(&cert_path)?;
            let key = files::private_key(&key_path)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                TlsError::invalid(
                    &key_path,
                    format!("unusable with {}: {e}", cert_path.display()),
                )
            })?
        }
    };
    config.alpn_protocols = settings
        .alpn
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    Ok(config)
}

/// The system's roots, read once per process; the built-in Mozilla roots when it has none.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    errors = ?found.errors,
                    "no system CA certificates found; using the built-in Mozilla roots"
                );
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(roots)
        })
        .clone()
}

/// Every file a cluster's TLS reads, resolved against `base`.
pub(crate) fn files_of(settings: &ClusterTlsConfig, base: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(ca) = &settings.ca {
        out.push(files::resolve(base, ca));
    }
    if let Some(c) = &settings.client_cert {
        out.push(files::resolve(base, &c.cert));
        out.push(files::resolve(base, &c.key));
    }
    out
}

/// `verify = false`: any certificate is accepted; signatures are still checked.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
