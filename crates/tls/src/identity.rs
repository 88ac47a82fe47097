//! The identity of a verified client certificate, for the headers sent to backends.
//!
//! - subject: the distinguished name in RFC 4514 form, most specific RDN first
//!   (`CN=alice,OU=eng,O=Example,C=DE`), with the RFC's escapes; every byte outside visible
//!   ASCII is escaped as `\XX`, so the string is always a valid header value.
//! - fingerprint: SHA-256 of the certificate's DER, 64 lower-case hex digits.

use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::ToDer;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::AttributeTypeAndValue;

/// What the backend is told about a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub subject: String,
    pub fingerprint: String,
}

impl ClientIdentity {
    /// From the end-entity certificate (DER) of a verified chain; `None` if it does not parse
    /// (it cannot happen for a certificate rustls verified).
    pub fn from_der(der: &[u8]) -> Option<ClientIdentity> {
        Some(ClientIdentity {
            subject: subject(der)?,
            fingerprint: fingerprint(der),
        })
    }
}

/// SHA-256 of `der`, lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 0xf));
    }
    out
}

/// The subject DN of a certificate in RFC 4514 form.
pub fn subject(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let rdns: Vec<String> = cert
        .subject()
        .iter_rdn()
        .map(|rdn| {
            let parts: Vec<String> = rdn.iter().map(attribute).collect();
            parts.join("+")
        })
        .collect();
    // RFC 4514: the last RDN of the sequence comes first.
    Some(rdns.into_iter().rev().collect::<Vec<_>>().join(","))
}

/// `type=value` of one attribute.
fn attribute(attr: &AttributeTypeAndValue<'_>) -> String {
    let oid = attr.attr_type().to_id_string();
    let name = match oid.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        other => other,
    };
    let value = match attr.as_str() {
        Ok(text) => escape(text),
        // Not a string type: `#` and the hex of its DER encoding (RFC 4514, 2.4).
        Err(_) => {
            let der = attr.attr_value().to_der_vec().unwrap_or_default();
            let mut out = String::from("#");
            for b in der {
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0xf));
            }
            out
        }
    };
    format!("{name}={value}")
}

/// RFC 4514 escaping, plus `\XX` for every byte outside visible ASCII and space.
fn escape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    for (i, &b) in bytes.iter().enumerate() {
        let special = matches!(b, b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\')
            || (i == 0 && (b == b'#' || b == b' '))
            || (i + 1 == bytes.len() && b == b' ');
        if special {
            out.push('\\');
            out.push(char::from(b));
        } else if (0x20..=0x7e).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('\\');
            out.push(hex_digit(b >> 4).to_ascii_uppercase());
            out.push(hex_digit(b & 0xf).to_ascii_uppercase());
        }
    }
    out
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_rfc_4514_and_stay_ascii() {
        assert_eq!(escape("alice"), "alice");
        assert_eq!(escape("Doe, John"), "Doe\\, John");
        assert_eq!(escape("#1 "), "\\#1\\ ");
        assert_eq!(escape(" a+b"), "\\ a\\+b");
        assert_eq!(escape("Jürgen"), "J\\C3\\BCrgen");
        assert_eq!(escape("a\nb"), "a\\0Ab");
    }

    #[test]
    fn fingerprint_is_lower_hex_sha256() {
        assert_eq!(
            fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
