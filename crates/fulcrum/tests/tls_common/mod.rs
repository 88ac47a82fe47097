//! What the TLS end-to-end tests share: a test PKI made by openssl (no keys checked in), and
//! curl against an https address with that PKI's CA.

#![allow(dead_code)]

use super::support::raw::{Output, curl};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

/// Writes a CA, a server certificate for `fulcrum.test` and `*.fulcrum.test` signed by it,
/// and a client certificate signed by it, into `dir`.
pub fn make_pki(dir: &Path) {
    let sh = format!(
        "set -e; cd {d}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=fulcrum.test 2>/dev/null
printf 'subjectAltName=DNS:fulcrum.test,DNS:*.fulcrum.test' > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr -subj /CN=alice/O=test 2>/dev/null
printf 'extendedKeyUsage=clientAuth' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null",
        d = dir.display()
    );
    let ok = Command::new("sh")
        .arg("-c")
        .arg(&sh)
        .status()
        .expect("run openssl");
    assert!(ok.success(), "openssl could not make the test certificates");
}

/// `curl https://HOST:PORT/PATH` to `addr` (resolved there), trusting the CA in `dir`.
pub fn curl_https(dir: &Path, addr: SocketAddr, host: &str, extra: &[&str], path: &str) -> Output {
    let ca = format!("{}/ca.pem", dir.display());
    let resolve = format!("{host}:{}:127.0.0.1", addr.port());
    let url = format!("https://{host}:{}{path}", addr.port());
    let mut args = vec![
        "-sS",
        "--max-time",
        "30",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args)
}
