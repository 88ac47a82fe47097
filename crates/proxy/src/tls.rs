//! The TLS side of a config generation: one [`ServerTls`] per listener with `tls`, kept
//! across reloads while the listener's TLS settings are unchanged, rebuilt from the old one
//! (keeping ticket keys and the session cache, so clients still resume) when they change.

use crate::snapshot::Snapshot;
use fulcrum_config::Config;
use fulcrum_tls::ClientTls;
use fulcrum_tls::server::ServerTls;
use std::sync::Arc;

/// TLS objects by listener name.
#[derive(Debug, Default)]
pub struct TlsSet {
    servers: Vec<(String, Arc<ServerTls>)>,
    clients: Vec<(String, Arc<ClientTls>)>,
}

impl TlsSet {
    /// Builds (or keeps) the TLS objects `config` needs. Fails on unreadable or invalid files,
    /// naming the listener or cluster.
    pub fn build(config: &Config, previous: Option<&Snapshot>) -> Result<TlsSet, String> {
        let base = config.base_dir();
        let mut servers = Vec::new();
        for l in &config.listeners {
            let Some(settings) = &l.tls else { continue };
            let old = previous.and_then(|p| p.listener(&l.name));
            let server = match old.and_then(|o| Some((o, o.tls.clone()?))) {
                Some((o, tls)) if o.config.tls.as_ref() == Some(settings) => tls,
                Some((_, tls)) => Arc::new(
                    tls.rebuild(settings, &base)
                        .map_err(|e| format!("listener `{}`: {e}", l.name))?,
                ),
                None => Arc::new(
                    ServerTls::build(settings, &base)
                        .map_err(|e| format!("listener `{}`: {e}", l.name))?,
                ),
            };
            servers.push((l.name.clone(), server));
        }
        let mut clients = Vec::new();
        for c in &config.clusters {
            let Some(settings) = &c.tls else { continue };
            let kept = previous
                .and_then(|p| p.cluster(&c.name))
                .filter(|old| old.config.tls.as_ref() == Some(settings))
                .and_then(|old| old.tls.clone());
            let client = match kept {
                Some(tls) => tls,
                None => Arc::new(
                    ClientTls::build(settings, &base)
                        .map_err(|e| format!("cluster `{}`: {e}", c.name))?,
                ),
            };
            clients.push((c.name.clone(), client));
        }
        Ok(TlsSet { servers, clients })
    }

    pub(crate) fn client(&self, cluster: &str) -> Option<Arc<ClientTls>> {
        self.clients
            .iter()
            .find(|(n, _)| n == cluster)
            .map(|(_, c)| Arc::clone(c))
    }

    pub(crate) fn server(&self, listener: &str) -> Option<Arc<ServerTls>> {
        self.servers
            .iter()
            .find(|(n, _)| n == listener)
            .map(|(_, s)| Arc::clone(s))
    }

    /// Every listener's TLS object, for the certificate-file watcher.
    pub fn servers(&self) -> impl Iterator<Item = (&str, &Arc<ServerTls>)> {
        self.servers.iter().map(|(n, s)| (n.as_str(), s))
    }
}
