//! TLS termination: a listener's rustls `ServerConfig`, its reload, and the handshake.
//!
//! One [`ServerTls`] per listener, shared by every worker thread (it is `Send + Sync`; hold it
//! in an `Arc`). What it shares between them: the certificate [`Resolver`], the ticket keys
//! (rustls's rotating `Ticketer`, or a [`FileTicketer`]) and the session cache, so a session
//! made on one worker resumes on any other. [`ServerTls::reload`] re-reads the certificates,
//! OCSP responses, the client CA bundle and the ticket key file, and keeps tickets and cache.
//!
//! **0-RTT.** With `early_data = true`, rustls accepts early data on sessions resumed from the
//! server-side cache (each usable once, which is why config validation requires
//! `session_tickets = false`), and [`ServerTls::accept`] returns as soon as the server's
//! flight is sent: the connection is then still handshaking ([`TlsConn::is_handshaking`]) and
//! its first reads return the early data. The HTTP layer decides what may be served before
//! the handshake completes (RFC 8470) and calls [`TlsConn::complete_handshake`] for the rest.
//! Responses to early requests go out at once (half-RTT data).

use crate::conn::TlsConn;
use crate::error::TlsError;
use crate::files;
use crate::store::{Resolver, Store};
use crate::tickets::FileTicketer;
use crate::watch::Watch;
use arc_swap::ArcSwap;
use fulcrum_config::{ClientAuthMode, TlsListenerConfig, TlsVersion};
use rustls::crypto::CryptoProvider;
use rustls::server::ClientHello;
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
    WebPkiClientVerifier,
};
use rustls::{CipherSuite, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Early data accepted per connection at most (0-RTT), in bytes.
pub const EARLY_DATA_MAX: u32 = 16 * 1024;

/// A listener's TLS: build once, share between workers, reload in place.
pub struct ServerTls {
    settings: TlsListenerConfig,
    base: PathBuf,
    configs: ArcSwap<Configs>,
    resolver: Arc<Resolver>,
    ticketer: Arc<dyn ProducesTickets>,
    file_ticketer: Option<Arc<FileTicketer>>,
    cache: Arc<dyn StoresServerSessions>,
    watch: Watch,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("names", &self.resolver.store().names())
            .field("files", &self.watch.files())
            .finish()
    }
}

impl ServerTls {
    /// Loads every file of a listener's `tls` and builds its rustls config. Relative paths are
    /// relative to `base_dir` (`Config::base_dir`).
    pub fn build(settings: &TlsListenerConfig, base_dir: &Path) -> Result<ServerTls, TlsError> {
        ServerTls::build_keeping(settings, base_dir, None)
    }

    /// Builds the TLS of a listener whose `tls` settings changed in a config reload, keeping
    /// this one's resumption state where the new settings allow (the rotating ticket keys
    /// when both use them, the session cache when its size is the same), so that clients
    /// resume across the reload.
    pub fn rebuild(
        &self,
        settings: &TlsListenerConfig,
        base_dir: &Path,
    ) -> Result<ServerTls, TlsError> {
        ServerTls::build_keeping(settings, base_dir, Some(self))
    }

    fn build_keeping(
        settings: &TlsListenerConfig,
        base_dir: &Path,
        previous: Option<&ServerTls>,
    ) -> Result<ServerTls, TlsError> {
        crate::warm_rng();
        let watch = Watch::new(files_of(settings, base_dir));
        let store = Store::load(&settings.certificates, base_dir)?;
        let resolver = Arc::new(Resolver::new(store));
        let file_ticketer = match (&settings.ticket_key_file, settings.session_tickets) {
            (Some(path), true) => Some(Arc::new(FileTicketer::load(&files::resolve(
                base_dir, path,
            ))?)),
            _ => None,
        };
        // The previous rotating ticketer, if it was one.
        let rotating = previous
            .filter(|p| p.settings.session_tickets && p.file_ticketer.is_none())
            .map(|p| p.ticketer.clone());
        let ticketer: Arc<dyn ProducesTickets> = match (&file_ticketer, settings.session_tickets) {
            (Some(t), _) => t.clone(),
            (None, true) => match rotating {
                Some(t) => t,
                None => rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| {
                    TlsError::Config(format!("cannot make a session ticketer: {e}"))
                })?,
            },
            (None, false) => Arc::new(NoTickets),
        };
        let same_cache = previous.filter(|p| p.settings.session_cache == settings.session_cache);
        let cache: Arc<dyn StoresServerSessions> = match (settings.session_cache, same_cache) {
            (0, _) => Arc::new(NoServerSessionStorage {}),
            (_, Some(p)) => p.cache.clone(),
            (n, None) => ServerSessionMemoryCache::new(n),
        };
        let configs = Configs::build(settings, base_dir, &resolver, &ticketer, &cache)?;
        Ok(ServerTls {
            settings: settings.clone(),
            base: base_dir.to_path_buf(),
            configs: ArcSwap::from_pointee(configs),
            resolver,
            ticketer,
            file_ticketer,
            cache,
            watch,
        })
    }

    /// The current rustls config (a new connection takes it; an open one keeps its own); with
    /// the default cipher suites, the one for clients that do not prefer ChaCha20.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.configs.load().main.clone()
    }

    /// How long a handshake may take (`handshake_timeout`).
    pub fn handshake_timeout(&self) -> Duration {
        self.settings.handshake_timeout
    }

    /// The listener settings this was built from.
    pub fn settings(&self) -> &TlsListenerConfig {
        &self.settings
    }

    /// The current certificates.
    pub fn store(&self) -> Arc<Store> {
        self.resolver.store()
    }

    /// The handshake on an accepted socket, bounded by `handshake_timeout`; `prefix` holds
    /// bytes of the connection already read (after a PROXY header), fed to TLS first. With
    /// 0-RTT accepted it returns before the client's Finished (see the module doc). On
    /// failure, why, for a counter.
    pub async fn accept(&self, tcp: TcpStream, prefix: &[u8]) -> Result<TlsConn, AcceptError> {
        let deadline = Instant::now() + self.handshake_timeout();
        let configs = self.configs.load_full();
        let handshake = TlsConn::handshake(tcp, prefix, |hello| configs.pick(hello), deadline);
        match tokio::time::timeout_at(deadline, handshake).await {
            Err(_) => Err(AcceptError::Timeout),
            Ok(result) => result,
        }
    }

    /// Re-reads certificates, keys and OCSP responses, the client CA bundle and the ticket key
    /// file, and swaps them in. On any error nothing changes and the error is returned: the
    /// running certificates keep serving. Tickets and the session cache are kept.
    pub fn reload(&self) -> Result<(), TlsError> {
        // Stamp first: a file that changes while it is being read is read again next time.
        self.watch.changed();
        let store = Store::load(&self.settings.certificates, &self.base)?;
        let configs = Configs::build(
            &self.settings,
            &self.base,
            &self.resolver,
            &self.ticketer,
            &self.cache,
        )?;
        if let Some(t) = &self.file_ticketer {
            t.reload()?;
        }
        self.resolver.swap(store);
        self.configs.store(Arc::new(configs));
        Ok(())
    }

    /// Whether any file this was built from changed since it was last read. A cheap poll of
    /// file metadata: call it every few seconds, then [`ServerTls::reload`].
    pub fn changed(&self) -> bool {
        self.watch.changed()
    }

    /// [`ServerTls::changed`], then [`ServerTls::reload`] if so: `None` when nothing changed.
    pub fn reload_if_changed(&self) -> Option<Result<(), TlsError>> {
        self.changed().then(|| self.reload())
    }

    /// Every file this listener's TLS reads, resolved.
    pub fn files(&self) -> &[PathBuf] {
        self.watch.files()
    }
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("TLS handshake timed out")]
    Timeout,
    #[error("connection closed during the TLS handshake")]
    Closed,
    #[error("TLS handshake failed: {0}")]
    Tls(rustls::Error),
    #[error("I/O error during the TLS handshake: {0}")]
    Io(io::Error),
}

impl AcceptError {
    /// Classifies an I/O error of a TLS stream: during the handshake, or later (a read that
    /// fails after the handshake, e.g. on a second renegotiation attempt, which rustls refuses
    /// with `misbehaved`; the first is turned down with a warning alert).
    pub fn from_io(e: io::Error) -> AcceptError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return AcceptError::Closed;
        }
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => AcceptError::Tls(tls.clone()),
            None => AcceptError::Io(e),
        }
    }

    /// A short label for a counter: `timeout`, `closed`, `io`, `not_tls` (bytes that are not
    /// TLS records, or a malformed message), `incompatible` (no common version, suite, ALPN or
    /// key type), `client_cert` (missing or invalid client certificate), `alert` (the client
    /// gave up), `misbehaved` (a protocol violation, renegotiation included), `other`.
    pub fn reason(&self) -> &'static str {
        use rustls::Error as E;
        match self {
            AcceptError::Timeout => "timeout",
            AcceptError::Closed => "closed",
            AcceptError::Io(_) => "io",
            AcceptError::Tls(e) => match e {
                E::InvalidMessage(_) | E::InappropriateMessage { .. } => "not_tls",
                E::InappropriateHandshakeMessage { .. } => "misbehaved",
                E::PeerIncompatible(_) | E::NoApplicationProtocol => "incompatible",
                E::NoCertificatesPresented | E::InvalidCertificate(_) => "client_cert",
                E::AlertReceived(_) => "alert",
                E::PeerMisbehaved(_) => "misbehaved",
                _ => "other",
            },
        }
    }
}

/// Tickets off (stateful resumption only, from the cache).
#[derive(Debug)]
struct NoTickets;

impl ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// A listener's rustls configs: `main`, and with the default cipher suites `chacha` for
/// clients that prefer ChaCha20. Both share the certificates, tickets and session cache.
struct Configs {
    main: Arc<ServerConfig>,
    chacha: Option<Arc<ServerConfig>>,
}

impl Configs {
    fn build(
        settings: &TlsListenerConfig,
        base: &Path,
        resolver: &Arc<Resolver>,
        ticketer: &Arc<dyn ProducesTickets>,
        cache: &Arc<dyn StoresServerSessions>,
    ) -> Result<Configs, TlsError> {
        let parts = (resolver, ticketer, cache);
        if !settings.ciphers.is_empty() {
            let suites = named_suites(&settings.ciphers)?;
            let main = server_config(settings, base, suites, parts)?;
            return Ok(Configs {
                main: Arc::new(main),
                chacha: None,
            });
        }
        let main = server_config(settings, base, ordered(&DEFAULT_ORDER), parts)?;
        let chacha = server_config(settings, base, ordered(&CHACHA_FIRST), parts)?;
        Ok(Configs {
            main: Arc::new(main),
            chacha: Some(Arc::new(chacha)),
        })
    }

    /// The config for a client, by the cipher suites it offers (see [`DEFAULT_ORDER`]).
    fn pick(&self, hello: &ClientHello<'_>) -> Arc<ServerConfig> {
        match &self.chacha {
            Some(chacha) if prefers_chacha(hello.cipher_suites()) => chacha.clone(),
            _ => self.main.clone(),
        }
    }
}

/// The default order of preference, the server's: AES-128-GCM (with SHA-256, whose hashing
/// in the handshake costs less than SHA-384's), then AES-256-GCM, then ChaCha20-Poly1305.
/// A client that lists a ChaCha20 suite before any AES-GCM one (typically one without AES
/// hardware) gets ChaCha20 instead ([`CHACHA_FIRST`]).
const DEFAULT_ORDER: [CipherSuite; 9] = [
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// [`DEFAULT_ORDER`] with ChaCha20 first.
const CHACHA_FIRST: [CipherSuite; 9] = [
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

fn is_chacha(s: CipherSuite) -> bool {
    matches!(
        s,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

/// Whether the first suite of ours that the client lists is a ChaCha20 one.
fn prefers_chacha(offered: &[CipherSuite]) -> bool {
    offered
        .iter()
        .find(|s| DEFAULT_ORDER.contains(s))
        .is_some_and(|s| is_chacha(*s))
}

/// The provider's suites in `order`.
fn ordered(order: &[CipherSuite]) -> Vec<SupportedCipherSuite> {
    let all = rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES;
    order
        .iter()
        .filter_map(|name| all.iter().find(|s| s.suite() == *name).copied())
        .collect()
}

/// The cipher suites named in the config, in its order.
fn named_suites(ciphers: &[String]) -> Result<Vec<SupportedCipherSuite>, TlsError> {
    let all = rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES;
    ciphers
        .iter()
        .map(|name| {
            all.iter()
                .find(|s| s.suite().as_str() == Some(name.as_str()))
                .copied()
                .ok_or_else(|| TlsError::Config(format!("unknown cipher suite {name}")))
        })
        .collect()
}

fn versions(min: TlsVersion) -> &'static [&'static SupportedProtocolVersion] {
    static BOTH: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min {
        TlsVersion::Tls12 => &BOTH,
        TlsVersion::Tls13 => &TLS13,
    }
}

/// One rustls config with `suites` in the server's order of preference.
fn server_config(
    settings: &TlsListenerConfig,
    base: &Path,
    suites: Vec<SupportedCipherSuite>,
    (resolver, ticketer, cache): (
        &Arc<Resolver>,
        &Arc<dyn ProducesTickets>,
        &Arc<dyn StoresServerSessions>,
    ),
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        ..rustls::crypto::aws_lc_rs::default_provider()
    });
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(settings.min_version))
        .map_err(|e| TlsError::Config(format!("TLS versions and cipher suites: {e}")))?;
    let builder = match &settings.client_auth {
        None => builder.with_no_client_auth(),
        Some(auth) => {
            let path = files::resolve(base, &auth.ca);
            let roots = Arc::new(files::roots(&path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = match auth.mode {
                ClientAuthMode::Required => verifier,
                ClientAuthMode::Optional => verifier.allow_unauthenticated(),
            };
            let verifier = verifier.build().map_err(|e| {
                TlsError::invalid(&path, format!("cannot verify clients with it: {e}"))
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = settings
        .alpn
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    config.ticketer = ticketer.clone();
    config.session_storage = cache.clone();
    config.max_early_data_size = if settings.early_data {
        EARLY_DATA_MAX
    } else {
        0
    };
    // Answers to requests served from early data go out before the client's Finished.
    config.send_half_rtt_data = settings.early_data;
    // The server's order of preference (the operator's, or ours).
    config.ignore_client_order = true;
    // After the handshake, Fulcrum protects the records itself (crate::record).
    config.enable_secret_extraction = true;
    Ok(config)
}

/// Every file a listener's TLS reads, resolved against `base`.
pub(crate) fn files_of(settings: &TlsListenerConfig, base: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for c in &settings.certificates {
        out.push(files::resolve(base, &c.cert));
        out.push(files::resolve(base, &c.key));
        if let Some(ocsp) = &c.ocsp {
            out.push(files::resolve(base, ocsp));
        }
    }
    if let Some(auth) = &settings.client_auth {
        out.push(files::resolve(base, &auth.ca));
    }
    if let Some(path) = &settings.ticket_key_file {
        out.push(files::resolve(base, path));
    }
    out
}
