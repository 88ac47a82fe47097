//! `fulcrum check`: every TLS file of a config, loaded the way a start or reload would.

use crate::error::TlsError;
use crate::{client, files, store, tickets};
use fulcrum_config::Config;

/// Loads every certificate, key, OCSP response, CA bundle and ticket key file the config
/// names (relative to [`Config::base_dir`]) and returns one readable line per problem, each
/// naming the listener or cluster, the key and the file. Empty: everything loads, so building
/// the listeners' [`crate::ServerTls`] and clusters' [`crate::ClientTls`] will not fail on a
/// file.
pub fn check(config: &Config) -> Vec<String> {
    let base = config.base_dir();
    let mut out = Vec::new();
    let mut report = |owner: &str, key: &str, result: Result<(), TlsError>| {
        if let Err(e) = result {
            out.push(format!("{owner}: {key}: {e}"));
        }
    };
    for l in &config.listeners {
        let Some(tls) = &l.tls else { continue };
        let owner = format!("listener `{}`", l.name);
        for (i, c) in tls.certificates.iter().enumerate() {
            report(
                &owner,
                &format!("tls.certificates[{i}]"),
                store::load(c, &base).map(|_| ()),
            );
        }
        if let Some(auth) = &tls.client_auth {
            let ca = files::roots(&files::resolve(&base, &auth.ca)).map(|_| ());
            report(&owner, "tls.client_auth.ca", ca);
        }
        if let Some(path) = &tls.ticket_key_file {
            let keys = tickets::check(&files::resolve(&base, path));
            report(&owner, "tls.ticket_key_file", keys);
        }
    }
    for c in &config.clusters {
        let Some(tls) = &c.tls else { continue };
        let owner = format!("cluster `{}`", c.name);
        if let Some(ca) = &tls.ca {
            report(
                &owner,
                "tls.ca",
                files::roots(&files::resolve(&base, ca)).map(|_| ()),
            );
        }
        if tls.client_cert.is_some() {
            // Building the config loads the client certificate and checks its key.
            let built = client::ClientTls::build(tls, &base).map(|_| ());
            report(&owner, "tls.client_cert", built);
        }
    }
    out
}
