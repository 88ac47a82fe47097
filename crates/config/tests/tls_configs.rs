//! The TLS keys: good configs and the model they give, and bad ones with the exact error
//! text (the same conventions as `bad_configs.rs`).

use fulcrum_config::*;
use std::path::PathBuf;
use std::time::Duration;

const ORIGIN: &str = "/etc/fulcrum.toml";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ok(text: &str) -> Config {
    parse(text, ORIGIN).unwrap_or_else(|e| panic!("{e}"))
}

/// The shape from the TLS issue: two certificates, minimum version, ALPN.
#[test]
fn the_issue_example_loads() {
    let cfg = ok(r#"
[[listener]]
name = "secure"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "web"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }, { cert = "b.pem", key = "b.key" }],
        min_version = "1.2", alpn = ["h2", "http/1.1"] }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"#);
    let l = &cfg.listeners[0];
    // https is HTTP (every HTTP key applies) over TLS.
    assert_eq!(l.protocol, Protocol::Http);
    assert!(l.http.is_some());
    let tls = l.tls.as_ref().unwrap();
    assert_eq!(tls.certificates.len(), 2);
    assert_eq!(tls.certificates[1].key, PathBuf::from("b.key"));
}

#[test]
fn an_https_listener_with_every_key() {
    let cfg = ok(r#"
[[listener]]
name = "secure"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "web"
via = false

[listener.tls]
certificates = [
  { cert = "/etc/tls/ecdsa.pem", key = "/etc/tls/ecdsa.key", ocsp = "/etc/tls/ecdsa.ocsp" },
  { cert = "rsa.pem", key = "rsa.key" },
]
min_version = "1.3"
ciphers = ["TLS13_CHACHA20_POLY1305_SHA256", "TLS13_AES_128_GCM_SHA256"]
alpn = ["http/1.1"]
session_tickets = false
session_cache = 100
early_data = true
handshake_timeout = "3s"
client_auth = { ca = "clients.pem", mode = "optional", subject_header = "x-ssl-subject", fingerprint_header = false }

[[cluster]]
name = "web"
backends = ["127.0.0.1:9000"]
"#);
    assert_eq!(
        cfg.listeners[0].tls,
        Some(TlsListenerConfig {
            certificates: vec![
                CertificateConfig {
                    cert: "/etc/tls/ecdsa.pem".into(),
                    key: "/etc/tls/ecdsa.key".into(),
                    ocsp: Some("/etc/tls/ecdsa.ocsp".into()),
                },
                CertificateConfig {
                    cert: "rsa.pem".into(),
                    key: "rsa.key".into(),
                    ocsp: None,
                },
            ],
            min_version: TlsVersion::Tls13,
            ciphers: vec![
                "TLS13_CHACHA20_POLY1305_SHA256".into(),
                "TLS13_AES_128_GCM_SHA256".into()
            ],
            alpn: vec!["http/1.1".into()],
            session_tickets: false,
            ticket_key_file: None,
            session_cache: 100,
            early_data: true,
            handshake_timeout: secs(3),
            client_auth: Some(ClientAuthConfig {
                ca: "clients.pem".into(),
                mode: ClientAuthMode::Optional,
                subject_header: Some("x-ssl-subject".into()),
                fingerprint_header: None,
            }),
        })
    );
    assert!(!cfg.listeners[0].http.as_ref().unwrap().via);
}

#[test]
fn https_and_tls_listeners_get_their_defaults() {
    let cfg = ok(r#"
[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem" }, ticket_key_file = "t.key" }

[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "tls"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem" } }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"#);
    let https = cfg.listeners[0].tls.clone().unwrap();
    let defaults = TlsListenerConfig {
        certificates: vec![CertificateConfig {
            cert: "a.pem".into(),
            key: "a.key".into(),
            ocsp: None,
        }],
        min_version: TlsVersion::Tls12,
        ciphers: vec![],
        alpn: vec!["h2".into(), "http/1.1".into()],
        session_tickets: true,
        ticket_key_file: Some("t.key".into()),
        session_cache: 4096,
        early_data: false,
        handshake_timeout: secs(10),
        client_auth: Some(ClientAuthConfig {
            ca: "ca.pem".into(),
            mode: ClientAuthMode::Required,
            subject_header: Some("x-client-subject".into()),
            fingerprint_header: Some("x-client-fingerprint".into()),
        }),
    };
    assert_eq!(https, defaults);
    // tls: TCP over TLS; no ALPN and no identity headers by default.
    let db = &cfg.listeners[1];
    assert_eq!((db.protocol, db.http.is_none()), (Protocol::Tcp, true));
    let tls = db.tls.clone().unwrap();
    assert_eq!(tls.alpn, Vec::<String>::new());
    let auth = tls.client_auth.unwrap();
    assert_eq!((auth.subject_header, auth.fingerprint_header), (None, None));
    assert_eq!(cfg.listeners[0].sni, None);
}

#[test]
fn sni_passthrough_routes() {
    let cfg = ok(r#"
[[listener]]
name = "pt"
bind = "0.0.0.0:443"
cluster = "fallback"
sni_routes = [
  { server_name = "API.example.com", cluster = "api" },
  { server_name = "*.example.com", cluster = "web" },
]
sni_peek_timeout = "2s"
sni_max_hello = "8KiB"

[[listener]]
name = "strict"
bind = "0.0.0.0:8443"
sni_routes = [{ server_name = "*.example.org", cluster = "web" }, { server_name = "x.test", cluster = "api" }]

[[cluster]]
name = "api"
backends = ["10.0.0.1:443"]

[[cluster]]
name = "web"
backends = ["10.0.0.2:443"]

[[cluster]]
name = "fallback"
backends = ["10.0.0.3:443"]
"#);
    let pt = &cfg.listeners[0];
    assert_eq!(
        pt.sni,
        Some(SniConfig {
            routes: vec![
                SniRoute {
                    server_name: HostMatch::Exact("api.example.com".into()),
                    cluster: "api".into(),
                },
                SniRoute {
                    server_name: HostMatch::Suffix(".example.com".into()),
                    cluster: "web".into(),
                },
            ],
            default: Some("fallback".into()),
            peek_timeout: secs(2),
            max_hello: 8192,
        })
    );
    assert_eq!(pt.cluster, "fallback");
    assert_eq!(pt.clusters(), ["api", "web", "fallback"]);
    // Without `cluster`: no default (no match closes), and the model's `cluster` is the first
    // route's; the defaults of the tuning keys.
    let strict = &cfg.listeners[1];
    let sni = strict.sni.as_ref().unwrap();
    assert_eq!(sni.default, None);
    assert_eq!((sni.peek_timeout, sni.max_hello), (secs(5), 16384));
    assert_eq!(strict.cluster, "web");
    assert_eq!(strict.clusters(), ["web", "api"]);
}

#[test]
fn cluster_tls() {
    let cfg = ok(r#"
[[cluster]]
name = "plain"
backends = ["10.0.0.1:443"]
tls = {}

[[cluster]]
name = "grpc"
protocol = "h2"
backends = ["10.0.0.2:443"]
tls = { ca = "internal-ca.pem", server_name = "GRPC.internal", client_cert = { cert = "me.pem", key = "me.key" } }

[[cluster]]
name = "lab"
backends = ["10.0.0.3:443"]
tls = { verify = false, server_name = "10.0.0.3", alpn = ["http/1.1"] }
"#);
    assert_eq!(
        cfg.clusters[0].tls,
        Some(ClusterTlsConfig {
            ca: None,
            server_name: None,
            client_cert: None,
            alpn: vec![],
            verify: true,
        })
    );
    assert_eq!(
        cfg.clusters[1].tls,
        Some(ClusterTlsConfig {
            ca: Some("internal-ca.pem".into()),
            server_name: Some("grpc.internal".into()),
            client_cert: Some(ClientCertConfig {
                cert: "me.pem".into(),
                key: "me.key".into(),
            }),
            // h2 over TLS offers h2 by default.
            alpn: vec!["h2".into()],
            verify: true,
        })
    );
    let lab = cfg.clusters[2].tls.as_ref().unwrap();
    assert_eq!(
        (lab.verify, lab.server_name.as_deref()),
        (false, Some("10.0.0.3"))
    );
    assert_eq!(cfg.clusters[2].protocol, UpstreamProtocol::Http1);
}

#[test]
fn relative_paths_are_relative_to_the_config_file() {
    let dir = std::env::temp_dir().join(format!("fulcrum-config-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fulcrum.toml");
    std::fs::write(
        &path,
        "[[cluster]]\nname = \"c\"\nbackends = [\"127.0.0.1:1\"]\n",
    )
    .unwrap();
    let cfg = load(&path).unwrap();
    assert_eq!(cfg.base_dir(), dir);
    assert_eq!(ok("").base_dir(), PathBuf::from("."));
    let _ = std::fs::remove_dir_all(&dir);
}

struct Case {
    name: &'static str,
    toml: &'static str,
    kind: ErrorKind,
    key: &'static str,
    expected: &'static str,
}

#[test]
fn bad_tls_configs_give_the_expected_errors() {
    let mut failures = Vec::new();
    for case in CASES {
        let err = match parse(case.toml, ORIGIN) {
            Ok(_) => {
                failures.push(format!("{}: parsed, but should fail", case.name));
                continue;
            }
            Err(e) => e,
        };
        let actual = err.to_string();
        if actual != case.expected {
            failures.push(format!(
                "{}: wrong text\n--- expected\n{}\n--- actual\n{actual}\n",
                case.name, case.expected
            ));
        }
        let first = &err.diagnostics()[0];
        if (first.kind, first.key.as_str()) != (case.kind, case.key) {
            failures.push(format!(
                "{}: first diagnostic is {:?} at `{}`, expected {:?} at `{}`",
                case.name, first.kind, first.key, case.kind, case.key
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case {
        name: "https_without_tls",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].tls",
        expected: r##"error: missing key `tls` in listener[0]
 --> /etc/fulcrum.toml:1:1
  |
1 | [[listener]]
  | ^^^^^^^^^^^^ protocol = "https" needs `tls`, like tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }"##,
    },
    Case {
        name: "tls_on_an_http_listener",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "http"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls",
        expected: r##"error: `tls` in listener[0] needs protocol = "https"
 --> /etc/fulcrum.toml:6:7
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }
  |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ an http listener does not terminate TLS; listener[0] has protocol "http""##,
    },
    Case {
        name: "tls_on_a_tcp_listener",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls",
        expected: r##"error: `tls` in listener[0] needs protocol = "tls"
 --> /etc/fulcrum.toml:5:7
  |
5 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }
  |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ a tcp listener does not terminate TLS; listener[0] has no `protocol`, so "tcp"; to route TLS by server name without terminating it, use `sni_routes`"##,
    },
    Case {
        name: "no_certificates",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.certificates",
        expected: r##"error: invalid value for listener[0].tls.certificates: found `[]`, expected at least one certificate
 --> /etc/fulcrum.toml:6:24
  |
6 | tls = { certificates = [] }
  |                        ^^ expected at least one certificate"##,
    },
    Case {
        name: "certificate_without_key",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem" }] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].tls.certificates[0].key",
        expected: r##"error: missing key `key` in listener[0].tls.certificates[0]
 --> /etc/fulcrum.toml:6:25
  |
6 | tls = { certificates = [{ cert = "a.pem" }] }
  |                         ^^^^^^^^^^^^^^^^^^ this table needs `key`: a file path"##,
    },
    Case {
        name: "certificate_listed_twice",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }, { cert = "a.pem", key = "b.key" }] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[0].tls.certificates[1].cert",
        expected: r##"error: duplicate certificate "a.pem" at listener[0].tls.certificates[1].cert
 --> /etc/fulcrum.toml:6:69
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }, { cert = "a.pem", key = "b.key" }] }
  |                                                                     ^^^^^^^ already listed as listener[0].tls.certificates[0] (line 6)"##,
    },
    Case {
        name: "certificates_key_typo",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificate = [{ cert = "a.pem", key = "a.key" }] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::UnknownKey,
        key: "listener[0].tls.certificate",
        expected: r##"error: unknown key `certificate` in listener[0].tls
 --> /etc/fulcrum.toml:6:9
  |
6 | tls = { certificate = [{ cert = "a.pem", key = "a.key" }] }
  |         ^^^^^^^^^^^ expected one of `certificates`, `min_version`, `ciphers`, `alpn`, `session_tickets`, `ticket_key_file`, `session_cache`, `early_data`, `handshake_timeout`, `client_auth`; did you mean `certificates`?"##,
    },
    Case {
        name: "tls_is_a_string",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = "a.pem"

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::WrongType,
        key: "listener[0].tls",
        expected: r##"error: wrong type for listener[0].tls: found string `"a.pem"`, expected a table, written [listener.tls]
 --> /etc/fulcrum.toml:6:7
  |
6 | tls = "a.pem"
  |       ^^^^^^^ expected a table, written [listener.tls]"##,
    },
    Case {
        name: "min_version_1_1",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], min_version = "1.1" }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.min_version",
        expected: r##"error: invalid value for listener[0].tls.min_version: found `"1.1"`, expected one of "1.2", "1.3"
 --> /etc/fulcrum.toml:6:75
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], min_version = "1.1" }
  |                                                                           ^^^^^ expected one of "1.2", "1.3"; did you mean "1.3"?"##,
    },
    Case {
        name: "cipher_openssl_name",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], ciphers = ["ECDHE-ECDSA-AES128-GCM-SHA256"] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.ciphers[0]",
        expected: r##"error: invalid value for listener[0].tls.ciphers[0]: found `"ECDHE-ECDSA-AES128-GCM-SHA256"`, expected a cipher suite name like "TLS13_AES_128_GCM_SHA256" (rustls's names)
 --> /etc/fulcrum.toml:6:72
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], ciphers = ["ECDHE-ECDSA-AES128-GCM-SHA256"] }
  |                                                                        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ expected a cipher suite name like "TLS13_AES_128_GCM_SHA256" (rustls's names); that is OpenSSL's name; here it is "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256""##,
    },
    Case {
        name: "cipher_typo",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], ciphers = ["TLS13_AES_128_GCM_SHA265"] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.ciphers[0]",
        expected: r##"error: invalid value for listener[0].tls.ciphers[0]: found `"TLS13_AES_128_GCM_SHA265"`, expected a cipher suite name like "TLS13_AES_128_GCM_SHA256" (rustls's names)
 --> /etc/fulcrum.toml:6:72
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], ciphers = ["TLS13_AES_128_GCM_SHA265"] }
  |                                                                        ^^^^^^^^^^^^^^^^^^^^^^^^^^ expected a cipher suite name like "TLS13_AES_128_GCM_SHA256" (rustls's names); did you mean "TLS13_AES_128_GCM_SHA256"?"##,
    },
    Case {
        name: "cipher_tls12_with_min_13",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], min_version = "1.3", ciphers = ["TLS13_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.ciphers[1]",
        expected: r##"error: TLS 1.2 cipher suite "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" at listener[0].tls.ciphers[1] with min_version = "1.3"
 --> /etc/fulcrum.toml:6:121
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], min_version = "1.3", ciphers = ["TLS13_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] }
  |                                                                                                                         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ it could never be used: TLS 1.3 has its own suites (TLS13_*)"##,
    },
    Case {
        name: "ciphers_without_tls12",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], ciphers = ["TLS13_AES_128_GCM_SHA256"] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.ciphers",
        expected: r##"error: listener[0].tls.ciphers has no TLS 1.2 cipher suite
 --> /etc/fulcrum.toml:6:71
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], ciphers = ["TLS13_AES_128_GCM_SHA256"] }
  |                                                                       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^ TLS 1.2 clients could not connect; add a TLS_ECDHE_* suite or set min_version = "1.3""##,
    },
    Case {
        name: "ciphers_without_tls13",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], ciphers = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.ciphers",
        expected: r##"error: listener[0].tls.ciphers has no TLS 1.3 cipher suite
 --> /etc/fulcrum.toml:6:71
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], ciphers = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"] }
  |                                                                       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ TLS 1.3 clients would fall back to TLS 1.2; add a TLS13_* suite"##,
    },
    Case {
        name: "cipher_twice",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], min_version = "1.3", ciphers = ["TLS13_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[0].tls.ciphers[1]",
        expected: r##"error: duplicate cipher suite "TLS13_AES_128_GCM_SHA256" at listener[0].tls.ciphers[1]
 --> /etc/fulcrum.toml:6:121
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], min_version = "1.3", ciphers = ["TLS13_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"] }
  |                                                                                                                         ^^^^^^^^^^^^^^^^^^^^^^^^^^ each suite may be listed once"##,
    },
    Case {
        name: "https_alpn_h3",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], alpn = ["h3"] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.alpn[0]",
        expected: r##"error: invalid value for listener[0].tls.alpn[0]: found `"h3"`, expected one of "h2", "http/1.1"
 --> /etc/fulcrum.toml:6:69
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], alpn = ["h3"] }
  |                                                                     ^^^^ expected one of "h2", "http/1.1""##,
    },
    Case {
        name: "alpn_twice",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], alpn = ["h2", "h2"] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[0].tls.alpn[1]",
        expected: r##"error: duplicate ALPN protocol "h2" at listener[0].tls.alpn[1]
 --> /etc/fulcrum.toml:6:75
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], alpn = ["h2", "h2"] }
  |                                                                           ^^^^ each protocol may be listed once"##,
    },
    Case {
        name: "tls_alpn_empty_name",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "tls"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], alpn = [""] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.alpn[0]",
        expected: r##"error: invalid value for listener[0].tls.alpn[0]: found `""`, expected an ALPN protocol name of 1 to 255 visible ASCII characters
 --> /etc/fulcrum.toml:6:69
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], alpn = [""] }
  |                                                                     ^^ expected an ALPN protocol name of 1 to 255 visible ASCII characters"##,
    },
    Case {
        name: "ticket_key_file_without_tickets",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], session_tickets = false, ticket_key_file = "t.key" }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.ticket_key_file",
        expected: r##"error: `ticket_key_file` in listener[0].tls needs session_tickets = true
 --> /etc/fulcrum.toml:6:104
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], session_tickets = false, ticket_key_file = "t.key" }
  |                                                                                                        ^^^^^^^ with session_tickets = false no tickets are issued"##,
    },
    Case {
        name: "session_cache_negative",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], session_cache = -1 }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.session_cache",
        expected: r##"error: invalid value for listener[0].tls.session_cache: found `-1`, expected an integer in 0..=1000000
 --> /etc/fulcrum.toml:6:77
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], session_cache = -1 }
  |                                                                             ^^ expected an integer in 0..=1000000"##,
    },
    Case {
        name: "handshake_timeout_zero",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], handshake_timeout = "0s" }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.handshake_timeout",
        expected: r##"error: invalid value for listener[0].tls.handshake_timeout: found `"0s"`, expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)
 --> /etc/fulcrum.toml:6:81
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], handshake_timeout = "0s" }
  |                                                                                 ^^^^ expected a duration greater than 0 like "30s", "250ms" or "1m30s" (units h, m, s, ms, us, ns)"##,
    },
    Case {
        name: "early_data_with_tickets",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], early_data = true }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.early_data",
        expected: r##"error: `early_data` in listener[0].tls needs session_tickets = false
 --> /etc/fulcrum.toml:6:74
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], early_data = true }
  |                                                                          ^^^^ rustls accepts 0-RTT only on sessions resumed from the server-side cache, each usable once (which limits replays); session_tickets is true by default"##,
    },
    Case {
        name: "early_data_without_cache",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], early_data = true, session_tickets = false, session_cache = 0 }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.early_data",
        expected: r##"error: `early_data` in listener[0].tls needs session_cache > 0
 --> /etc/fulcrum.toml:6:74
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], early_data = true, session_tickets = false, session_cache = 0 }
  |                                                                          ^^^^ rustls accepts 0-RTT only on sessions resumed from the server-side cache, each usable once (which limits replays)"##,
    },
    Case {
        name: "early_data_on_a_tls_listener",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "tls"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], early_data = true, session_tickets = false }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.early_data",
        expected: r##"error: `early_data` in listener[0].tls needs protocol = "https"
 --> /etc/fulcrum.toml:6:74
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], early_data = true, session_tickets = false }
  |                                                                          ^^^^ 0-RTT requests can be replayed; Fulcrum accepts them per HTTP request (safe methods only), which a tls listener cannot judge"##,
    },
    Case {
        name: "client_auth_without_ca",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { mode = "optional" } }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].tls.client_auth.ca",
        expected: r##"error: missing key `ca` in listener[0].tls.client_auth
 --> /etc/fulcrum.toml:6:75
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { mode = "optional" } }
  |                                                                           ^^^^^^^^^^^^^^^^^^^^^ this table needs `ca`: a file path"##,
    },
    Case {
        name: "client_auth_bad_mode",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem", mode = "require" } }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.client_auth.mode",
        expected: r##"error: invalid value for listener[0].tls.client_auth.mode: found `"require"`, expected one of "required", "optional"
 --> /etc/fulcrum.toml:6:99
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem", mode = "require" } }
  |                                                                                                   ^^^^^^^^^ expected one of "required", "optional"; did you mean "required"?"##,
    },
    Case {
        name: "subject_header_on_a_tls_listener",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "tls"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem", subject_header = "x-subject" } }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.client_auth.subject_header",
        expected: r##"error: `subject_header` in listener[0].tls.client_auth needs protocol = "https"
 --> /etc/fulcrum.toml:6:109
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem", subject_header = "x-subject" } }
  |                                                                                                             ^^^^^^^^^^^ a tls listener relays bytes and has no headers to set"##,
    },
    Case {
        name: "identity_header_is_managed",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem", fingerprint_header = "connection" } }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].tls.client_auth.fingerprint_header",
        expected: r##"error: invalid value for listener[0].tls.client_auth.fingerprint_header: found `"connection"`, expected a header name Fulcrum does not manage
 --> /etc/fulcrum.toml:6:113
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem", fingerprint_header = "connection" } }
  |                                                                                                                 ^^^^^^^^^^^^ expected a header name Fulcrum does not manage; Fulcrum manages the hop-by-hop and framing headers itself"##,
    },
    Case {
        name: "identity_headers_the_same",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem", subject_header = "x-client", fingerprint_header = "X-Client" } }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].tls.client_auth.fingerprint_header",
        expected: r##"error: `fingerprint_header` in listener[0].tls.client_auth is the same header as `subject_header`
 --> /etc/fulcrum.toml:6:142
  |
6 | tls = { certificates = [{ cert = "a.pem", key = "a.key" }], client_auth = { ca = "ca.pem", subject_header = "x-client", fingerprint_header = "X-Client" } }
  |                                                                                                                                              ^^^^^^^^^^ both would be sent as `x-client`; give them different names"##,
    },
    Case {
        name: "http_key_on_a_tls_listener",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "tls"
cluster = "app"
via = false
tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].via",
        expected: r##"error: `via` in listener[0] needs protocol = "https"
 --> /etc/fulcrum.toml:6:7
  |
6 | via = false
  |       ^^^^^ only http and https listeners have `via`; listener[0] has protocol "tls""##,
    },
    Case {
        name: "sni_routes_on_an_https_listener",
        toml: r##"[[listener]]
name = "web"
bind = "127.0.0.1:8443"
protocol = "https"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }
sni_routes = [{ server_name = "a.test", cluster = "app" }]

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].sni_routes",
        expected: r##"error: `sni_routes` in listener[0] needs protocol = "tcp"
 --> /etc/fulcrum.toml:7:14
  |
7 | sni_routes = [{ server_name = "a.test", cluster = "app" }]
  |              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ SNI passthrough routes TLS without terminating it; listener[0] has protocol "https""##,
    },
    Case {
        name: "sni_routes_on_a_tls_listener",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "tls"
cluster = "app"
sni_routes = [{ server_name = "a.test", cluster = "app" }]
tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].sni_routes",
        expected: r##"error: `sni_routes` in listener[0] needs protocol = "tcp"
 --> /etc/fulcrum.toml:6:14
  |
6 | sni_routes = [{ server_name = "a.test", cluster = "app" }]
  |              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ SNI passthrough routes TLS without terminating it; listener[0] has protocol "tls""##,
    },
    Case {
        name: "sni_routes_empty",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = []

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].sni_routes",
        expected: r##"error: invalid value for listener[0].sni_routes: found `[]`, expected at least one route
 --> /etc/fulcrum.toml:5:14
  |
5 | sni_routes = []
  |              ^^ expected at least one route; leave out `sni_routes` to send every connection to `cluster`"##,
    },
    Case {
        name: "sni_wildcard_in_the_middle",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = [{ server_name = "api.*.example.com", cluster = "app" }]

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].sni_routes[0].server_name",
        expected: r##"error: invalid value for listener[0].sni_routes[0].server_name: found `"api.*.example.com"`, expected a server name like "a.example.com" or "*.example.com"
 --> /etc/fulcrum.toml:5:31
  |
5 | sni_routes = [{ server_name = "api.*.example.com", cluster = "app" }]
  |                               ^^^^^^^^^^^^^^^^^^^ expected a server name like "a.example.com" or "*.example.com"; `*` is allowed only as the whole first label, as in "*.example.com""##,
    },
    Case {
        name: "sni_name_is_an_ip",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = [{ server_name = "10.0.0.1", cluster = "app" }]

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].sni_routes[0].server_name",
        expected: r##"error: invalid value for listener[0].sni_routes[0].server_name: found `"10.0.0.1"`, expected a server name like "a.example.com" or "*.example.com"
 --> /etc/fulcrum.toml:5:31
  |
5 | sni_routes = [{ server_name = "10.0.0.1", cluster = "app" }]
  |                               ^^^^^^^^^^ expected a server name like "a.example.com" or "*.example.com"; a client connecting to an IP address sends no server name"##,
    },
    Case {
        name: "sni_name_with_port",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = [{ server_name = "a.example.com:443", cluster = "app" }]

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].sni_routes[0].server_name",
        expected: r##"error: invalid value for listener[0].sni_routes[0].server_name: found `"a.example.com:443"`, expected a server name like "a.example.com" or "*.example.com"
 --> /etc/fulcrum.toml:5:31
  |
5 | sni_routes = [{ server_name = "a.example.com:443", cluster = "app" }]
  |                               ^^^^^^^^^^^^^^^^^^^ expected a server name like "a.example.com" or "*.example.com"; give the name alone, without a port"##,
    },
    Case {
        name: "sni_name_with_trailing_dot",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = [{ server_name = "a.example.com.", cluster = "app" }]

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].sni_routes[0].server_name",
        expected: r##"error: invalid value for listener[0].sni_routes[0].server_name: found `"a.example.com."`, expected a server name like "a.example.com" or "*.example.com"
 --> /etc/fulcrum.toml:5:31
  |
5 | sni_routes = [{ server_name = "a.example.com.", cluster = "app" }]
  |                               ^^^^^^^^^^^^^^^^ expected a server name like "a.example.com" or "*.example.com"; write it without the trailing dot"##,
    },
    Case {
        name: "sni_name_twice_ignoring_case",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = [
  { server_name = "*.Example.com", cluster = "app" },
  { server_name = "*.example.COM", cluster = "app" },
]

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Duplicate,
        key: "listener[0].sni_routes[1].server_name",
        expected: r##"error: duplicate server name "*.example.COM" at listener[0].sni_routes[1].server_name
 --> /etc/fulcrum.toml:7:19
  |
7 |   { server_name = "*.example.COM", cluster = "app" },
  |                   ^^^^^^^^^^^^^^^ already routed by listener[0].sni_routes[0] (line 6); names ignore case"##,
    },
    Case {
        name: "sni_route_unknown_cluster",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = [{ server_name = "a.test", cluster = "ap" }]

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::UnknownCluster,
        key: "listener[0].sni_routes[0].cluster",
        expected: r##"error: unknown cluster `ap` in listener[0].sni_routes[0].cluster
 --> /etc/fulcrum.toml:5:51
  |
5 | sni_routes = [{ server_name = "a.test", cluster = "ap" }]
  |                                                   ^^^^ expected the name of a [[cluster]]: `app`; did you mean `app`?"##,
    },
    Case {
        name: "sni_route_without_cluster",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = [{ server_name = "a.test" }]

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::MissingKey,
        key: "listener[0].sni_routes[0].cluster",
        expected: r##"error: missing key `cluster` in listener[0].sni_routes[0]
 --> /etc/fulcrum.toml:5:15
  |
5 | sni_routes = [{ server_name = "a.test" }]
  |               ^^^^^^^^^^^^^^^^^^^^^^^^^^ this table needs `cluster`: the name of a [[cluster]]"##,
    },
    Case {
        name: "sni_peek_timeout_without_routes",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_peek_timeout = "1s"

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "listener[0].sni_peek_timeout",
        expected: r##"error: `sni_peek_timeout` in listener[0] needs `sni_routes`
 --> /etc/fulcrum.toml:5:20
  |
5 | sni_peek_timeout = "1s"
  |                    ^^^^ only a listener that routes by server name peeks at the ClientHello"##,
    },
    Case {
        name: "sni_max_hello_too_small",
        toml: r##"[[listener]]
name = "pt"
bind = "127.0.0.1:443"
cluster = "app"
sni_routes = [{ server_name = "a.test", cluster = "app" }]
sni_max_hello = 512

[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::InvalidValue,
        key: "listener[0].sni_max_hello",
        expected: r##"error: invalid value for listener[0].sni_max_hello: found `512`, expected a size in 1KiB..=1MiB like 65536, "64KiB" or "64KB" (units B, KB, MB, GB, KiB, MiB, GiB)
 --> /etc/fulcrum.toml:6:17
  |
6 | sni_max_hello = 512
  |                 ^^^ expected a size in 1KiB..=1MiB like 65536, "64KiB" or "64KB" (units B, KB, MB, GB, KiB, MiB, GiB)"##,
    },
    Case {
        name: "cluster_verify_false_with_ca",
        toml: r##"[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
tls = { ca = "ca.pem", verify = false }
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].tls.verify",
        expected: r##"error: `verify = false` in cluster[0].tls conflicts with `ca`
 --> /etc/fulcrum.toml:4:33
  |
4 | tls = { ca = "ca.pem", verify = false }
  |                                 ^^^^^ nothing is checked against the CA (line 4) when verify = false; remove one"##,
    },
    Case {
        name: "cluster_h2_alpn_without_h2",
        toml: r##"[[cluster]]
name = "app"
protocol = "h2"
backends = ["127.0.0.1:9000"]
tls = { alpn = ["http/1.1"] }
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].tls.alpn",
        expected: r##"error: `alpn` in cluster[0].tls does not offer "h2" but protocol = "h2"
 --> /etc/fulcrum.toml:5:16
  |
5 | tls = { alpn = ["http/1.1"] }
  |                ^^^^^^^^^^^^ a backend that picks another protocol would be spoken to in HTTP/2 anyway; add "h2""##,
    },
    Case {
        name: "cluster_http1_alpn_with_h2",
        toml: r##"[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
tls = { alpn = ["h2", "http/1.1"] }
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].tls.alpn",
        expected: r##"error: `alpn` in cluster[0].tls offers "h2" but protocol = "http1" (the default)
 --> /etc/fulcrum.toml:4:16
  |
4 | tls = { alpn = ["h2", "http/1.1"] }
  |                ^^^^^^^^^^^^^^^^^^ a backend that picks h2 would be spoken to in HTTP/1.1; set protocol = "h2" or leave "h2" out"##,
    },
    Case {
        name: "cluster_server_name_wildcard",
        toml: r##"[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
tls = { server_name = "*.internal" }
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].tls.server_name",
        expected: r##"error: invalid value for cluster[0].tls.server_name: found `"*.internal"`, expected a DNS name like "backend.internal" or an IP address
 --> /etc/fulcrum.toml:4:23
  |
4 | tls = { server_name = "*.internal" }
  |                       ^^^^^^^^^^^^ expected a DNS name like "backend.internal" or an IP address; a backend is one host: no wildcards"##,
    },
    Case {
        name: "cluster_server_name_with_port",
        toml: r##"[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
tls = { server_name = "backend.internal:8443" }
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].tls.server_name",
        expected: r##"error: invalid value for cluster[0].tls.server_name: found `"backend.internal:8443"`, expected a DNS name like "backend.internal" or an IP address
 --> /etc/fulcrum.toml:4:23
  |
4 | tls = { server_name = "backend.internal:8443" }
  |                       ^^^^^^^^^^^^^^^^^^^^^^^ expected a DNS name like "backend.internal" or an IP address; give the name alone, without a port"##,
    },
    Case {
        name: "cluster_client_cert_without_key",
        toml: r##"[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
tls = { client_cert = { cert = "c.pem" } }
"##,
        kind: ErrorKind::MissingKey,
        key: "cluster[0].tls.client_cert.key",
        expected: r##"error: missing key `key` in cluster[0].tls.client_cert
 --> /etc/fulcrum.toml:4:23
  |
4 | tls = { client_cert = { cert = "c.pem" } }
  |                       ^^^^^^^^^^^^^^^^^^ this table needs `key`: a file path"##,
    },
    Case {
        name: "cluster_client_cert_with_ocsp",
        toml: r##"[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
tls = { client_cert = { cert = "c.pem", key = "c.key", ocsp = "c.ocsp" } }
"##,
        kind: ErrorKind::UnknownKey,
        key: "cluster[0].tls.client_cert.ocsp",
        expected: r##"error: unknown key `ocsp` in cluster[0].tls.client_cert
 --> /etc/fulcrum.toml:4:56
  |
4 | tls = { client_cert = { cert = "c.pem", key = "c.key", ocsp = "c.ocsp" } }
  |                                                        ^^^^ expected one of `cert`, `key`"##,
    },
    Case {
        name: "h2_cluster_behind_a_tls_listener",
        toml: r##"[[listener]]
name = "db"
bind = "127.0.0.1:5433"
protocol = "tls"
cluster = "app"
tls = { certificates = [{ cert = "a.pem", key = "a.key" }] }

[[cluster]]
name = "app"
protocol = "h2"
backends = ["127.0.0.1:9000"]
"##,
        kind: ErrorKind::Conflict,
        key: "cluster[0].protocol",
        expected: r##"error: cluster `app` has protocol = "h2" but tls listener `db` uses it
  --> /etc/fulcrum.toml:10:12
   |
10 | protocol = "h2"
   |            ^^^^ listener[0] (line 5) is a tls listener: it relays bytes as they are and cannot speak h2 to backends"##,
    },
    Case {
        name: "cluster_ca_empty_path",
        toml: r##"[[cluster]]
name = "app"
backends = ["127.0.0.1:9000"]
tls = { ca = "" }
"##,
        kind: ErrorKind::InvalidValue,
        key: "cluster[0].tls.ca",
        expected: r##"error: invalid value for cluster[0].tls.ca: found `""`, expected a file path
 --> /etc/fulcrum.toml:4:14
  |
4 | tls = { ca = "" }
  |              ^^ expected a file path"##,
    },
];
