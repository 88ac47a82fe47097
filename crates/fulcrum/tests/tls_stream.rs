//! Bytes through terminated TLS, in bulk: request and response bodies of several MiB over
//! HTTPS (HTTP/1.1 with Content-Length and chunked, HTTP/2), a `tls` (TCP) listener's relay,
//! and pipelined requests in one TLS record, with curl and openssl s_client as clients. Each
//! body is checked byte for byte (checksums), so a lost, repeated or reordered record fails.

mod support;
mod tls_common;

use std::net::SocketAddr;
use std::time::Duration;
use support::http_backend::{DOWNLOAD_SEED, HttpBackend, fnv_hex, pattern_vec};
use support::raw::run_cmd;
use support::*;
use tls_common::{curl_https, make_pki};

struct Setup {
    f: Fulcrum,
    https: SocketAddr,
    tcp: SocketAddr,
    dir: TempDir,
}

fn start(backend: &HttpBackend) -> Setup {
    let dir = TempDir::new("tls-stream");
    make_pki(dir.path());
    let d = dir.path().display();
    let (https, tcp) = (free_addr(), free_addr());
    let cert = format!(
        "tls = {{ certificates = [{{ cert = \"{d}/server.pem\", key = \"{d}/server.key\" }}] }}"
    );
    let cfg = config_head(free_port(), 1)
        + &format!(
            "[[listener]]\nname = \"secure\"\nbind = \"{https}\"\nprotocol = \"https\"\ncluster = \"c\"\n{cert}\n\n\
             [[listener]]\nname = \"tcp\"\nbind = \"{tcp}\"\nprotocol = \"tls\"\ncluster = \"c\"\n{cert}\n\n\
             [[cluster]]\nname = \"c\"\nbackends = [\"{}\"]\n",
            backend.addr()
        );
    Setup {
        f: Fulcrum::start(&cfg),
        https,
        tcp,
        dir,
    }
}

/// The echo's `body_len` and `body_sum` for a request curl sent.
fn echoed(out: &support::raw::Output) -> (u64, String) {
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", out.describe()));
    (
        json["body_len"].as_u64().unwrap_or(0),
        json["body_sum"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn https_streams_large_bodies_both_ways() {
    let backend = HttpBackend::start("b");
    let s = start(&backend);
    let upload = pattern_vec(7, 6 * 1024 * 1024 + 12_345);
    let file = s.dir.path().join("upload.bin");
    std::fs::write(&file, &upload).unwrap();
    let data = format!("@{}", file.display());
    for (proto, extra) in [
        ("--http1.1", None),
        ("--http1.1", Some("Transfer-Encoding: chunked")),
        ("--http2", None),
    ] {
        let mut args = vec![proto, "--data-binary", &data, "-H", "Expect:"];
        if let Some(h) = extra {
            args.extend(["-H", h]);
        }
        let out = curl_https(s.dir.path(), s.https, "fulcrum.test", &args, "/upload");
        assert!(
            out.ok(),
            "{proto} {extra:?}: {}{}",
            out.describe(),
            s.f.diag()
        );
        assert_eq!(
            echoed(&out),
            (upload.len() as u64, fnv_hex(&upload)),
            "{proto} {extra:?}: the backend got the upload whole"
        );
    }
    let want = pattern_vec(DOWNLOAD_SEED, 12 * 1024 * 1024);
    for proto in ["--http1.1", "--http2"] {
        let out = curl_https(s.dir.path(), s.https, "fulcrum.test", &[proto], "/big/12");
        assert!(out.ok(), "{proto}: {}{}", out.describe(), s.f.diag());
        assert_eq!(out.stdout.len(), want.len(), "{proto}: download length");
        assert!(out.stdout == want, "{proto}: download bytes differ");
    }
}

#[test]
fn tls_listener_relays_large_bodies() {
    let backend = HttpBackend::start("b");
    let s = start(&backend);
    let out = curl_https(
        s.dir.path(),
        s.tcp,
        "fulcrum.test",
        &["--http1.1"],
        "/big/8",
    );
    assert!(out.ok(), "{}{}", out.describe(), s.f.diag());
    assert!(
        out.stdout == pattern_vec(DOWNLOAD_SEED, 8 * 1024 * 1024),
        "download through the TLS relay: {} bytes",
        out.stdout.len()
    );
    let upload = pattern_vec(9, 3 * 1024 * 1024);
    let file = s.dir.path().join("up.bin");
    std::fs::write(&file, &upload).unwrap();
    let data = format!("@{}", file.display());
    let args = ["--http1.1", "--data-binary", &data, "-H", "Expect:"];
    let out = curl_https(s.dir.path(), s.tcp, "fulcrum.test", &args, "/upload");
    assert!(out.ok(), "{}{}", out.describe(), s.f.diag());
    assert_eq!(echoed(&out), (upload.len() as u64, fnv_hex(&upload)));
}

/// Three requests written at once (one TLS record): three responses, in order.
#[test]
fn pipelined_requests_in_one_record_are_answered_in_order() {
    let backend = HttpBackend::start("b");
    let s = start(&backend);
    let mut input = String::new();
    for (i, close) in [(1, false), (2, false), (3, true)] {
        input.push_str(&format!(
            "GET /p{i} HTTP/1.1\r\nHost: fulcrum.test\r\n{}\r\n",
            if close { "Connection: close\r\n" } else { "" }
        ));
    }
    let args: Vec<String> = [
        "s_client",
        "-quiet",
        "-ign_eof",
        "-connect",
        &s.https.to_string(),
        "-servername",
        "fulcrum.test",
        "-alpn",
        "http/1.1",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let out = run_cmd("openssl", &args, input.as_bytes(), Duration::from_secs(20));
    let text = out.stdout_text();
    let statuses = text.matches("HTTP/1.1 200").count();
    assert_eq!(statuses, 3, "{}{}", out.describe(), s.f.diag());
    let targets: Vec<String> = backend
        .requests()
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(targets, ["/p1", "/p2", "/p3"]);
    let p1 = text.find("\"/p1\"").unwrap_or(usize::MAX);
    let p3 = text.find("\"/p3\"").unwrap_or(0);
    assert!(p1 < p3, "responses in request order: {text}");
}
