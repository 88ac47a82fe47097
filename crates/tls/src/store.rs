//! Server certificates: loading them, the names each serves, and choosing one per handshake.
//!
//! A [`Store`] is built from the listener's certificates; the names a certificate serves come
//! from its SAN dNSName entries (its subject CN only when it has no SAN extension at all). The
//! [`Resolver`] holds the current store in an `ArcSwap`: a reload builds a new store and swaps
//! it in, and a handshake in progress keeps the `Arc<CertifiedKey>` it already chose.
//!
//! Choosing, for the ClientHello's server name: an exact name, else a wildcard `*.parent` for a
//! name one label below `parent`, else the default (the first certificate's group). Within a
//! name, certificates of different key types (ECDSA, Ed25519, RSA) sit side by side; the first
//! the client can use wins, in that order (so ECDSA whenever the client offers it).

use crate::error::TlsError;
use crate::files;
use arc_swap::ArcSwap;
use fulcrum_config::CertificateConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, SignatureAlgorithm};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// One loaded certificate with its key, its names and its key type.
#[derive(Clone)]
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    /// Lower-cased DNS names, wildcards as written (`*.example.com`).
    pub names: Vec<String>,
    pub algorithm: SignatureAlgorithm,
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("names", &self.names)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// Loads one `{ cert, key, ocsp }`: the chain, the key (which must match the certificate), the
/// OCSP response to staple, and the names. Relative paths are relative to `base`.
pub fn load(config: &CertificateConfig, base: &Path) -> Result<Loaded, TlsError> {
    let cert_path = files::resolve(base, &config.cert);
    let key_path = files::resolve(base, &config.key);
    let chain = files::certificates(&cert_path)?;
    let der = files::private_key(&key_path)?;
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&der)
        .map_err(|e| TlsError::invalid(&key_path, format!("unsupported private key: {e}")))?;
    let algorithm = signing.algorithm();
    let mut key = CertifiedKey::new(chain, signing);
    match key.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(TlsError::invalid(
                &key_path,
                format!(
                    "this key does not match the certificate in {}",
                    cert_path.display()
                ),
            ));
        }
        Err(e) => {
            return Err(TlsError::invalid(
                &cert_path,
                format!("bad certificate: {e}"),
            ));
        }
    }
    let names = names(&key.cert[0]).map_err(|what| TlsError::invalid(&cert_path, what))?;
    if let Some(ocsp) = &config.ocsp {
        key.ocsp = Some(files::ocsp(&files::resolve(base, ocsp))?);
    }
    Ok(Loaded {
        key: Arc::new(key),
        names,
        algorithm,
    })
}

/// The DNS names of an end-entity certificate: its SAN dNSName entries, or its subject CN when
/// it has no SAN extension. Also warns about a certificate outside its validity period.
fn names(der: &[u8]) -> Result<Vec<String>, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("bad certificate: {e}"))?;
    if !cert.validity().is_valid() {
        let v = cert.validity();
        tracing::warn!(
            subject = %cert.subject(),
            not_before = %v.not_before,
            not_after = %v.not_after,
            "certificate is outside its validity period"
        );
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|e| format!("bad subjectAltName extension: {e}"))?;
    let mut out: Vec<String> = Vec::new();
    match san {
        Some(san) => {
            for name in &san.value.general_names {
                if let GeneralName::DNSName(n) = name {
                    push_name(&mut out, n);
                }
            }
        }
        None => {
            for cn in cert.subject().iter_common_name() {
                if let Ok(n) = cn.as_str() {
                    push_name(&mut out, n);
                }
            }
        }
    }
    Ok(out)
}

fn push_name(out: &mut Vec<String>, name: &str) {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if !name.is_empty() && !out.contains(&name) {
        out.push(name);
    }
}

/// The certificates of one name, one per key type, in preference order.
#[derive(Debug, Clone, Default)]
struct Group {
    ecdsa: Option<Arc<CertifiedKey>>,
    ed25519: Option<Arc<CertifiedKey>>,
    rsa: Option<Arc<CertifiedKey>>,
}

impl Group {
    /// Adds a certificate unless one of its key type is there already (the first wins).
    fn add(&mut self, cert: &Loaded) {
        let slot = match cert.algorithm {
            SignatureAlgorithm::ECDSA => &mut self.ecdsa,
            SignatureAlgorithm::ED25519 => &mut self.ed25519,
            _ => &mut self.rsa,
        };
        if slot.is_none() {
            *slot = Some(cert.key.clone());
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<CertifiedKey>> {
        [&self.ecdsa, &self.ed25519, &self.rsa]
            .into_iter()
            .flatten()
    }

    /// The first certificate the client can use, else the first there is (the handshake then
    /// fails with a clear alert).
    fn pick(&self, usable: &dyn Fn(&CertifiedKey) -> bool) -> Option<Arc<CertifiedKey>> {
        (self.iter().find(|k| usable(k)))
            .or_else(|| self.iter().next())
            .cloned()
    }
}

/// The certificates of a listener, by name.
#[derive(Debug)]
pub struct Store {
    default: Group,
    exact: HashMap<String, Group>,
    /// `*.example.com` under `example.com`.
    wildcard: HashMap<String, Group>,
    /// Every certificate's names, in config order (for logs and tests).
    names: Vec<Vec<String>>,
}

impl Store {
    /// Builds the store; `certs` in config order, the first being the default. At least one.
    pub fn new(certs: &[Loaded]) -> Store {
        let mut exact: HashMap<String, Group> = HashMap::new();
        let mut wildcard: HashMap<String, Group> = HashMap::new();
        for cert in certs {
            for name in &cert.names {
                match name.strip_prefix("*.") {
                    Some(parent) => wildcard.entry(parent.to_owned()).or_default().add(cert),
                    None => exact.entry(name.clone()).or_default().add(cert),
                }
            }
        }
        // The default: the first certificate, with the others of its first name beside it.
        let mut default = Group::default();
        if let Some(first) = certs.first() {
            default.add(first);
            let same = first
                .names
                .first()
                .and_then(|n| match n.strip_prefix("*.") {
                    Some(parent) => wildcard.get(parent),
                    None => exact.get(n),
                });
            if let Some(group) = same {
                for key in group.iter() {
                    let loaded = certs.iter().find(|c| Arc::ptr_eq(&c.key, key));
                    if let Some(c) = loaded {
                        default.add(c);
                    }
                }
            }
        }
        Store {
            default,
            exact,
            wildcard,
            names: certs.iter().map(|c| c.names.clone()).collect(),
        }
    }

    /// Loads every certificate of a listener and builds the store.
    pub fn load(certs: &[CertificateConfig], base: &Path) -> Result<Store, TlsError> {
        let loaded = (certs.iter())
            .map(|c| load(c, base))
            .collect::<Result<Vec<_>, _>>()?;
        if loaded.is_empty() {
            return Err(TlsError::Config(
                "a TLS listener needs a certificate".into(),
            ));
        }
        Ok(Store::new(&loaded))
    }

    /// The certificate for a server name (`None`: the client sent no SNI), choosing among key
    /// types with `usable`.
    pub fn choose(
        &self,
        server_name: Option<&str>,
        usable: &dyn Fn(&CertifiedKey) -> bool,
    ) -> Option<Arc<CertifiedKey>> {
        let group = server_name.and_then(|name| self.group(name));
        group.unwrap_or(&self.default).pick(usable)
    }

    fn group(&self, name: &str) -> Option<&Group> {
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if let Some(group) = self.exact.get(name) {
            return Some(group);
        }
        // A wildcard covers exactly one label.
        let (_, parent) = name.split_once('.')?;
        self.wildcard.get(parent)
    }

    /// Each certificate's names, in config order.
    pub fn names(&self) -> &[Vec<String>] {
        &self.names
    }
}

/// rustls's certificate resolver over the current [`Store`].
#[derive(Debug)]
pub struct Resolver {
    store: ArcSwap<Store>,
}

impl Resolver {
    pub fn new(store: Store) -> Resolver {
        Resolver {
            store: ArcSwap::from_pointee(store),
        }
    }

    /// Swaps in a new store; handshakes in progress keep the certificate they chose.
    pub fn swap(&self, store: Store) {
        self.store.store(Arc::new(store));
    }

    /// The current store.
    pub fn store(&self) -> Arc<Store> {
        self.store.load_full()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let schemes = hello.signature_schemes();
        let suites = hello.cipher_suites();
        let tls13 = suites.iter().any(|s| is_tls13(*s));
        let usable = |key: &CertifiedKey| {
            // TLS 1.2 suites name the key type; TLS 1.3 suites do not.
            let alg = key.key.algorithm();
            let suite_ok = tls13 || suites.iter().any(|s| tls12_suite_fits(*s, alg));
            suite_ok && key.key.choose_scheme(schemes).is_some()
        };
        self.store.load().choose(hello.server_name(), &usable)
    }
}

fn is_tls13(suite: CipherSuite) -> bool {
    matches!(
        suite,
        CipherSuite::TLS13_AES_128_GCM_SHA256
            | CipherSuite::TLS13_AES_256_GCM_SHA384
            | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
    )
}

/// Whether a TLS 1.2 ECDHE suite can be used with a key of this type.
fn tls12_suite_fits(suite: CipherSuite, alg: SignatureAlgorithm) -> bool {
    match suite {
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            matches!(alg, SignatureAlgorithm::ECDSA | SignatureAlgorithm::ED25519)
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
            alg == SignatureAlgorithm::RSA
        }
        _ => false,
    }
}
