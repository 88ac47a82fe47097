//! Reading PEM files: certificate chains, private keys, CA bundles, and DER OCSP responses.

use crate::error::TlsError;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

/// `path` as is when absolute, else relative to `base` (the config file's directory).
pub fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::read(path, e))
}

/// Every `CERTIFICATE` block of a PEM file, in order; at least one.
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::invalid(path, format!("bad PEM: {}", pem_error(&e))))?;
    if certs.is_empty() {
        return Err(TlsError::invalid(
            path,
            "no certificate in it (expected a PEM \"BEGIN CERTIFICATE\" block)",
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub(crate) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = read(path)?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::invalid(
            path,
            "no private key in it (expected a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" \
             or \"BEGIN EC PRIVATE KEY\" block)",
        ),
        e => TlsError::invalid(path, format!("bad PEM: {}", pem_error(&e))),
    })
}

/// A CA bundle: every certificate of a PEM file into a root store; at least one must be usable
/// as a trust anchor.
pub(crate) fn roots(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let certs = certificates(path)?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsError::invalid(
            path,
            format!("none of its {ignored} certificate(s) can be used as a trust anchor"),
        ));
    }
    if ignored > 0 {
        tracing::warn!(path = %path.display(), ignored, "CA bundle: some certificates were not usable and are ignored");
    }
    Ok(roots)
}

/// A DER-encoded OCSP response to staple. Checked for its outer shape only (one DER
/// SEQUENCE filling the file): a PEM or text file here is a mistake worth reporting.
pub(crate) fn ocsp(path: &Path) -> Result<Vec<u8>, TlsError> {
    let der = read(path)?;
    if !is_der_sequence(&der) {
        return Err(TlsError::invalid(
            path,
            "not a DER OCSP response (expected the binary response, as `openssl ocsp -respout` writes it)",
        ));
    }
    Ok(der)
}

/// One DER SEQUENCE with a definite length that ends exactly at the end of `der`.
fn is_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (len, body) = match *first {
        n @ 0..=0x7f => (usize::from(n), rest),
        0x81..=0x84 => {
            let count = usize::from(first & 0x7f);
            if rest.len() < count {
                return false;
            }
            let (bytes, body) = rest.split_at(count);
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, body)
        }
        _ => return false,
    };
    len == body.len() && len > 0
}

fn pem_error(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            format!("a section has no {}", String::from_utf8_lossy(end_marker))
        }
        pem::Error::IllegalSectionStart { line } => {
            format!("bad BEGIN line {:?}", String::from_utf8_lossy(line))
        }
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_sequence_shape() {
        assert!(is_der_sequence(&[0x30, 0x01, 0x00]));
        assert!(is_der_sequence(&[0x30, 0x81, 0x01, 0x00]));
        assert!(!is_der_sequence(&[0x30, 0x02, 0x00]));
        assert!(!is_der_sequence(&[0x30, 0x00]));
        assert!(!is_der_sequence(b"-----BEGIN"));
        assert!(!is_der_sequence(&[0x30, 0x84, 0xff]));
        assert!(!is_der_sequence(&[]));
    }

    #[test]
    fn relative_paths_are_joined_to_the_base() {
        let base = Path::new("/etc/fulcrum");
        assert_eq!(
            resolve(base, Path::new("a.pem")),
            Path::new("/etc/fulcrum/a.pem")
        );
        assert_eq!(resolve(base, Path::new("/x/a.pem")), Path::new("/x/a.pem"));
    }
}
