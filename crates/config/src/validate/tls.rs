//! The TLS keys: `tls` of https and tls listeners (termination), `sni_routes` of tcp listeners
//! (passthrough) and `tls` of clusters (origination).
//!
//! Only the shape is checked here: file paths are not opened (the tls crate loads them, and
//! `fulcrum_tls::check` reports unreadable or invalid files).

use super::{Validator, flag, setting};
use crate::defaults as d;
use crate::error::{ErrorKind, suggest};
use crate::model::*;
use crate::raw::schema as k;
use crate::raw::{
    BoolOrStr, RawCertificate, RawClientAuth, RawClusterTls, RawListener, RawListenerTls,
    RawSniRoute,
};
use std::ops::Range;
use std::path::PathBuf;
use toml::Spanned;

/// What a listener's `protocol` says about TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    /// `"tcp"` or `"http"`: plain.
    Plain,
    /// `"tls"` or `"https"`: terminated here.
    Terminated,
}

impl Validator<'_> {
    /// `tls` of a listener: required for https and tls, an error otherwise.
    pub(super) fn listener_tls(
        &mut self,
        path: &str,
        span: &Range<usize>,
        l: &RawListener,
        protocol: Protocol,
        transport: Transport,
    ) -> Option<TlsListenerConfig> {
        let http = protocol == Protocol::Http;
        if transport == Transport::Plain {
            if let Some(t) = &l.tls {
                let (plain, tls) = if http {
                    ("an http", "https")
                } else {
                    ("a tcp", "tls")
                };
                let message = format!("`tls` in {path} needs protocol = \"{tls}\"");
                let note = setting(path, "protocol", l.protocol.as_ref(), "tcp");
                let mut label = format!("{plain} listener does not terminate TLS; {note}");
                if !http {
                    label.push_str(
                        "; to route TLS by server name without terminating it, use `sni_routes`",
                    );
                }
                self.conflict(t.span(), &format!("{path}.tls"), message, label);
            }
            return None;
        }
        let name = if http { "https" } else { "tls" };
        let Some(raw) = &l.tls else {
            if !self.was_dropped(&format!("{path}.tls")) {
                let message = format!("missing key `tls` in {path}");
                let label = format!(
                    "protocol = \"{name}\" needs `tls`, like tls = {{ certificates = [{{ cert = \"a.pem\", key = \"a.key\" }}] }}"
                );
                let key = format!("{path}.tls");
                self.error(ErrorKind::MissingKey, span.clone(), &key, message, label);
            }
            return None;
        };
        self.tls_table(&format!("{path}.tls"), raw, http)
    }

    fn tls_table(
        &mut self,
        path: &str,
        raw: &Spanned<RawListenerTls>,
        http: bool,
    ) -> Option<TlsListenerConfig> {
        let at = |key: &str| format!("{path}.{key}");
        let (span, t) = (raw.span(), raw.get_ref());
        let certificates = self.required(
            &t.certificates,
            &span,
            path,
            "certificates",
            k::CERTIFICATES,
        );
        let certificates = certificates.and_then(|c| self.certificates(c, &at("certificates")));
        let min_version = (self.choice(t.min_version.as_ref(), &at("min_version"), k::TLS_VERSION))
            .map_or(d::TLS_MIN_VERSION, |i| {
                [TlsVersion::Tls12, TlsVersion::Tls13][i]
            });
        let ciphers = self.ciphers(t, &at("ciphers"), min_version);
        let alpn = match &t.alpn {
            None if http => d::HTTPS_ALPN.iter().map(|&s| s.to_owned()).collect(),
            None => Vec::new(),
            Some(a) => self.alpn(a, &at("alpn"), http),
        };
        let session_tickets = flag(&t.session_tickets, d::SESSION_TICKETS);
        let ticket_key_file = (t.ticket_key_file.as_ref()).and_then(|f| {
            if !session_tickets {
                let message = format!("`ticket_key_file` in {path} needs session_tickets = true");
                let label = "with session_tickets = false no tickets are issued".to_owned();
                self.conflict(f.span(), &at("ticket_key_file"), message, label);
            }
            self.file(f, &at("ticket_key_file"))
        });
        let session_cache = (self.int(
            t.session_cache.as_ref(),
            &at("session_cache"),
            k::SESSION_CACHE,
        ))
        .map_or(d::SESSION_CACHE, |n| n as usize);
        let early_data = flag(&t.early_data, d::EARLY_DATA);
        if let Some(e) = &t.early_data
            && *e.get_ref()
        {
            self.early_data(path, e.span(), t, http, session_tickets, session_cache);
        }
        let handshake_timeout = (self.duration(
            t.handshake_timeout.as_ref(),
            &at("handshake_timeout"),
            k::NONZERO_DURATION,
        ))
        .unwrap_or(d::HANDSHAKE_TIMEOUT);
        let client_auth = match &t.client_auth {
            None => Some(None),
            Some(c) => self.client_auth(&at("client_auth"), c, http).map(Some),
        };
        Some(TlsListenerConfig {
            certificates: certificates?,
            min_version,
            ciphers: ciphers?,
            alpn,
            session_tickets,
            ticket_key_file,
            session_cache,
            early_data,
            handshake_timeout,
            client_auth: client_auth?,
        })
    }

    /// `early_data = true`: https only, and rustls accepts 0-RTT only on sessions resumed from
    /// the server-side cache.
    fn early_data(
        &mut self,
        path: &str,
        span: Range<usize>,
        t: &RawListenerTls,
        http: bool,
        session_tickets: bool,
        session_cache: usize,
    ) {
        let key = format!("{path}.early_data");
        if !http {
            let message = format!("`early_data` in {path} needs protocol = \"https\"");
            let label = "0-RTT requests can be replayed; Fulcrum accepts them per HTTP request \
                 (safe methods only), which a tls listener cannot judge"
                .to_owned();
            self.conflict(span, &key, message, label);
            return;
        }
        let cache_note = "rustls accepts 0-RTT only on sessions resumed from the server-side \
             cache, each usable once (which limits replays)";
        if session_tickets {
            let given = t.session_tickets.is_some();
            let message = format!("`early_data` in {path} needs session_tickets = false");
            let label = format!(
                "{cache_note}; {}",
                if given {
                    "this table has session_tickets = true"
                } else {
                    "session_tickets is true by default"
                }
            );
            self.conflict(span.clone(), &key, message, label);
        }
        if session_cache == 0 && t.session_cache.is_some() {
            let message = format!("`early_data` in {path} needs session_cache > 0");
            self.conflict(span, &key, message, cache_note.to_owned());
        }
    }

    /// `certificates`: at least one, each `{ cert, key, ocsp? }`, no cert file twice.
    fn certificates(
        &mut self,
        raw: &Spanned<Vec<Spanned<RawCertificate>>>,
        path: &str,
    ) -> Option<Vec<CertificateConfig>> {
        if raw.get_ref().is_empty() {
            self.invalid(raw.span(), path, "at least one certificate", None);
            return None;
        }
        let mut out = Vec::new();
        // Cert path, key path and line of each so far.
        let mut seen: Vec<(String, String, usize)> = Vec::new();
        for (j, c) in raw.get_ref().iter().enumerate() {
            let cpath = format!("{path}[{j}]");
            let pair = self.cert_key(c, &cpath);
            let ocsp =
                (c.get_ref().ocsp.as_ref()).and_then(|o| self.file(o, &format!("{cpath}.ocsp")));
            if let Some(cert) = &c.get_ref().cert {
                let text = cert.get_ref();
                if let Some((_, first, line)) = seen.iter().find(|(t, ..)| t == text) {
                    let at = format!("{cpath}.cert");
                    let message = format!("duplicate certificate \"{text}\" at {at}");
                    let label = format!("already listed as {first} (line {line})");
                    self.error(ErrorKind::Duplicate, cert.span(), &at, message, label);
                    out.push(None);
                    continue;
                }
                let line = self.src.line_of(cert.span().start);
                seen.push((text.clone(), cpath.clone(), line));
            }
            out.push(pair.map(|(cert, key)| CertificateConfig { cert, key, ocsp }));
        }
        out.into_iter().collect()
    }

    /// `cert` and `key` of a certificate table, both required.
    fn cert_key(
        &mut self,
        raw: &Spanned<RawCertificate>,
        path: &str,
    ) -> Option<(PathBuf, PathBuf)> {
        let (span, c) = (raw.span(), raw.get_ref());
        let cert = self.required(&c.cert, &span, path, "cert", k::FILE);
        let cert = cert.and_then(|f| self.file(f, &format!("{path}.cert")));
        let key = self.required(&c.key, &span, path, "key", k::FILE);
        let key = key.and_then(|f| self.file(f, &format!("{path}.key")));
        Some((cert?, key?))
    }

    /// `ciphers`: known names, each once, with a suite for every version `min_version` allows.
    fn ciphers(
        &mut self,
        t: &RawListenerTls,
        path: &str,
        min_version: TlsVersion,
    ) -> Option<Vec<String>> {
        let Some(raw) = &t.ciphers else {
            return Some(Vec::new());
        };
        if raw.get_ref().is_empty() {
            let hint = "leave out `ciphers` for the safe defaults".to_owned();
            self.invalid(raw.span(), path, "at least one cipher suite", Some(hint));
            return None;
        }
        let names: Vec<&str> = d::TLS_CIPHERS.iter().map(|(n, _)| *n).collect();
        let mut out: Vec<(String, TlsVersion)> = Vec::new();
        let mut ok = true;
        for (i, c) in raw.get_ref().iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            let text = c.get_ref().as_str();
            let Some(&(name, version)) = d::TLS_CIPHERS.iter().find(|(n, _)| *n == text) else {
                let hint = match d::OPENSSL_CIPHER_NAMES.iter().find(|(o, _)| *o == text) {
                    Some((_, ours)) => {
                        Some(format!("that is OpenSSL's name; here it is \"{ours}\""))
                    }
                    None => suggest(text, &names).map(|s| format!("did you mean \"{s}\"?")),
                };
                let hint = hint.unwrap_or_else(|| format!("the names are {}", quoted(&names)));
                self.invalid(c.span(), &ipath, &k::CIPHER.expected(), Some(hint));
                ok = false;
                continue;
            };
            if out.iter().any(|(n, _)| n == name) {
                let message = format!("duplicate cipher suite \"{name}\" at {ipath}");
                let label = "each suite may be listed once".to_owned();
                self.error(ErrorKind::Duplicate, c.span(), &ipath, message, label);
                ok = false;
                continue;
            }
            if version < min_version {
                let message = format!(
                    "TLS 1.2 cipher suite \"{name}\" at {ipath} with min_version = \"1.3\""
                );
                let label =
                    "it could never be used: TLS 1.3 has its own suites (TLS13_*)".to_owned();
                self.conflict(c.span(), &ipath, message, label);
                ok = false;
                continue;
            }
            out.push((name.to_owned(), version));
        }
        if !ok {
            return None;
        }
        for (version, text, prefix) in [
            (TlsVersion::Tls13, "1.3", "TLS13_"),
            (TlsVersion::Tls12, "1.2", "TLS_ECDHE_"),
        ] {
            if version >= min_version && !out.iter().any(|(_, v)| *v == version) {
                let message = format!("{path} has no TLS {text} cipher suite");
                let label = if version == TlsVersion::Tls12 {
                    format!(
                        "TLS 1.2 clients could not connect; add a {prefix}* suite or set min_version = \"1.3\""
                    )
                } else {
                    format!("TLS 1.3 clients would fall back to TLS 1.2; add a {prefix}* suite")
                };
                self.conflict(raw.span(), path, message, label);
                return None;
            }
        }
        Some(out.into_iter().map(|(n, _)| n).collect())
    }

    /// `alpn`: protocol names, each once; an https listener speaks only h2 and http/1.1.
    fn alpn(&mut self, raw: &Spanned<Vec<Spanned<String>>>, path: &str, http: bool) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, a) in raw.get_ref().iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            let text = a.get_ref().as_str();
            let ok = if http {
                self.choice(Some(a), &ipath, k::HTTPS_ALPN_ID).is_some()
            } else {
                let valid = (1..=d::ALPN_MAX_LEN).contains(&text.len())
                    && text.bytes().all(|b| (0x21..=0x7e).contains(&b));
                if !valid {
                    self.invalid(a.span(), &ipath, &k::ALPN_ID.expected(), None);
                }
                valid
            };
            if !ok {
                continue;
            }
            if out.iter().any(|o| o == text) {
                let message = format!("duplicate ALPN protocol \"{text}\" at {ipath}");
                let label = "each protocol may be listed once".to_owned();
                self.error(ErrorKind::Duplicate, a.span(), &ipath, message, label);
                continue;
            }
            out.push(text.to_owned());
        }
        out
    }

    fn client_auth(
        &mut self,
        path: &str,
        raw: &Spanned<RawClientAuth>,
        http: bool,
    ) -> Option<ClientAuthConfig> {
        let at = |key: &str| format!("{path}.{key}");
        let (span, c) = (raw.span(), raw.get_ref());
        let ca = self.required(&c.ca, &span, path, "ca", k::FILE);
        let ca = ca.and_then(|f| self.file(f, &at("ca")));
        let mode = (self.choice(c.mode.as_ref(), &at("mode"), k::CLIENT_AUTH_MODE))
            .map_or(d::CLIENT_AUTH_MODE, |i| {
                [ClientAuthMode::Required, ClientAuthMode::Optional][i]
            });
        let subject_header = self.identity_header(
            c.subject_header.as_ref(),
            &at("subject_header"),
            d::CLIENT_SUBJECT_HEADER,
            http,
        );
        let fingerprint_header = self.identity_header(
            c.fingerprint_header.as_ref(),
            &at("fingerprint_header"),
            d::CLIENT_FINGERPRINT_HEADER,
            http,
        );
        if let (Some(s), Some(f)) = (&subject_header, &fingerprint_header)
            && s == f
            && let Some(field) = &c.fingerprint_header
        {
            let message =
                format!("`fingerprint_header` in {path} is the same header as `subject_header`");
            let label = format!("both would be sent as `{s}`; give them different names");
            self.conflict(field.span(), &at("fingerprint_header"), message, label);
        }
        Some(ClientAuthConfig {
            ca: ca?,
            mode,
            subject_header,
            fingerprint_header,
        })
    }

    /// `subject_header` or `fingerprint_header`: a header name, `true` (the default name) or
    /// `false`. A tls listener has no headers: given there, it is an error.
    fn identity_header(
        &mut self,
        field: Option<&Spanned<BoolOrStr>>,
        path: &str,
        default: &str,
        http: bool,
    ) -> Option<String> {
        if !http {
            if let Some(f) = field {
                let key = path.rsplit('.').next().unwrap_or(path);
                let message = format!("`{key}` in {} needs protocol = \"https\"", parent(path));
                let label = "a tls listener relays bytes and has no headers to set".to_owned();
                self.conflict(f.span(), path, message, label);
            }
            return None;
        }
        let Some(f) = field else {
            return Some(default.to_owned());
        };
        match f.get_ref() {
            BoolOrStr::Bool(false) => None,
            BoolOrStr::Bool(true) => Some(default.to_owned()),
            BoolOrStr::Str(name) => {
                let name = self.header_name(name, f.span(), path)?;
                if d::MANAGED_HEADERS.contains(&name.as_str()) {
                    let hint =
                        "Fulcrum manages the hop-by-hop and framing headers itself".to_owned();
                    self.invalid(
                        f.span(),
                        path,
                        "a header name Fulcrum does not manage",
                        Some(hint),
                    );
                    return None;
                }
                Some(name)
            }
        }
    }

    /// `sni_routes`, `sni_peek_timeout`, `sni_max_hello` of a tcp listener without `tls`.
    /// `Some(None)`: no SNI routing; `None`: an error.
    pub(super) fn sni(&mut self, path: &str, l: &RawListener) -> Option<Option<SniConfig>> {
        let at = |key: &str| format!("{path}.{key}");
        let Some(raw) = &l.sni_routes else {
            for (key, span) in sni_tuning(l) {
                let Some(span) = span else { continue };
                let message = format!("`{key}` in {path} needs `sni_routes`");
                let label = "only a listener that routes by server name peeks at the ClientHello"
                    .to_owned();
                self.conflict(span, &at(key), message, label);
            }
            return Some(None);
        };
        if raw.get_ref().is_empty() {
            let hint = "leave out `sni_routes` to send every connection to `cluster`".to_owned();
            self.invalid(
                raw.span(),
                &at("sni_routes"),
                "at least one route",
                Some(hint),
            );
            return None;
        }
        let routes = self.sni_routes(raw.get_ref(), &at("sni_routes"));
        let peek_timeout = self.duration(
            l.sni_peek_timeout.as_ref(),
            &at("sni_peek_timeout"),
            k::NONZERO_DURATION,
        );
        let max_hello = self.size(
            l.sni_max_hello.as_ref(),
            &at("sni_max_hello"),
            k::SNI_MAX_HELLO,
        );
        Some(Some(SniConfig {
            routes: routes?,
            default: l.cluster.as_ref().map(|c| c.get_ref().clone()),
            peek_timeout: peek_timeout.unwrap_or(d::SNI_PEEK_TIMEOUT),
            max_hello: max_hello.unwrap_or(d::SNI_MAX_HELLO) as usize,
        }))
    }

    fn sni_routes(&mut self, raw: &[Spanned<RawSniRoute>], path: &str) -> Option<Vec<SniRoute>> {
        let mut out = Vec::new();
        // Each good name so far, with its path and line.
        let mut seen: Vec<(HostMatch, String, usize)> = Vec::new();
        for (j, r) in raw.iter().enumerate() {
            let rpath = format!("{path}[{j}]");
            let (span, route) = (r.span(), r.get_ref());
            let name = self.required(
                &route.server_name,
                &span,
                &rpath,
                "server_name",
                k::SERVER_NAME,
            );
            let name = name.and_then(|n| {
                let npath = format!("{rpath}.server_name");
                let m = self.sni_name(n, &npath)?;
                if let Some((_, first, line)) = seen.iter().find(|(s, ..)| *s == m) {
                    let message = format!("duplicate server name \"{}\" at {npath}", n.get_ref());
                    let label =
                        format!("already routed by {first} (line {line}); names ignore case");
                    self.error(ErrorKind::Duplicate, n.span(), &npath, message, label);
                    return None;
                }
                seen.push((m.clone(), rpath.clone(), self.src.line_of(n.span().start)));
                Some(m)
            });
            let cluster = self.required(&route.cluster, &span, &rpath, "cluster", k::CLUSTER_REF);
            out.push(match (name, cluster) {
                (Some(server_name), Some(c)) => Some(SniRoute {
                    server_name,
                    cluster: c.get_ref().clone(),
                }),
                _ => None,
            });
        }
        out.into_iter().collect()
    }

    /// A server name of an SNI route: `a.example.com` or `*.example.com`, lower-cased.
    fn sni_name(&mut self, field: &Spanned<String>, path: &str) -> Option<HostMatch> {
        let text = field.get_ref().to_ascii_lowercase();
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        if is_dns_name(rest) {
            return Some(if wildcard {
                HostMatch::Suffix(format!(".{rest}"))
            } else {
                HostMatch::Exact(rest.to_owned())
            });
        }
        let hint = if text == "*" {
            Some("give the cluster for any other name as the listener's `cluster`".to_owned())
        } else if text.contains('*') {
            Some("`*` is allowed only as the whole first label, as in \"*.example.com\"".to_owned())
        } else {
            name_hint(&text)
        };
        self.invalid(field.span(), path, &k::SERVER_NAME.expected(), hint);
        None
    }

    /// Reports each SNI passthrough key of a listener that is not a plain tcp listener.
    pub(super) fn sni_only_keys(&mut self, path: &str, l: &RawListener) {
        let given = [("sni_routes", l.sni_routes.as_ref().map(Spanned::span))]
            .into_iter()
            .chain(sni_tuning(l));
        let note = setting(path, "protocol", l.protocol.as_ref(), "tcp");
        for (key, span) in given {
            let Some(span) = span else { continue };
            let message = format!("`{key}` in {path} needs protocol = \"tcp\"");
            let label = format!("SNI passthrough routes TLS without terminating it; {note}");
            self.conflict(span, &format!("{path}.{key}"), message, label);
        }
    }

    /// `tls` of a cluster; `protocol` is the cluster's (for the default ALPN).
    pub(super) fn cluster_tls(
        &mut self,
        path: &str,
        raw: Option<&Spanned<RawClusterTls>>,
        protocol: UpstreamProtocol,
        protocol_given: bool,
    ) -> Option<Option<ClusterTlsConfig>> {
        let Some(raw) = raw else {
            return Some(None);
        };
        let at = |key: &str| format!("{path}.{key}");
        let t = raw.get_ref();
        let ca = t.ca.as_ref().map(|f| self.file(f, &at("ca")));
        let server_name = (t.server_name.as_ref()).map(|n| {
            let text = n.get_ref().to_ascii_lowercase();
            if text.parse::<std::net::IpAddr>().is_ok() || is_dns_name(&text) {
                return Some(text);
            }
            let hint = if text.contains('*') {
                Some("a backend is one host: no wildcards".to_owned())
            } else {
                name_hint(&text)
            };
            self.invalid(
                n.span(),
                &at("server_name"),
                &k::BACKEND_NAME.expected(),
                hint,
            );
            None
        });
        let client_cert = (t.client_cert.as_ref()).map(|c| {
            self.cert_key(c, &at("client_cert"))
                .map(|(cert, key)| ClientCertConfig { cert, key })
        });
        let verify = flag(&t.verify, d::CLUSTER_TLS_VERIFY);
        if let (Some(v), Some(c)) = (&t.verify, &t.ca)
            && !verify
        {
            let message = format!("`verify = false` in {path} conflicts with `ca`");
            let line = self.src.line_of(c.span().start);
            let label = format!(
                "nothing is checked against the CA (line {line}) when verify = false; remove one"
            );
            self.conflict(v.span(), &at("verify"), message, label);
        }
        let alpn = match &t.alpn {
            None if protocol == UpstreamProtocol::H2 => vec!["h2".to_owned()],
            None => Vec::new(),
            Some(a) => {
                let alpn = self.alpn(a, &at("alpn"), false);
                let h2 = alpn.iter().any(|p| p == "h2");
                let note = if protocol_given { "" } else { " (the default)" };
                if protocol == UpstreamProtocol::H2 && !h2 && !alpn.is_empty() {
                    let message =
                        format!("`alpn` in {path} does not offer \"h2\" but protocol = \"h2\"");
                    let label = "a backend that picks another protocol would be spoken to in HTTP/2 anyway; add \"h2\"".to_owned();
                    self.conflict(a.span(), &at("alpn"), message, label);
                } else if protocol == UpstreamProtocol::Http1 && h2 {
                    let message =
                        format!("`alpn` in {path} offers \"h2\" but protocol = \"http1\"{note}");
                    let label = "a backend that picks h2 would be spoken to in HTTP/1.1; set protocol = \"h2\" or leave \"h2\" out".to_owned();
                    self.conflict(a.span(), &at("alpn"), message, label);
                }
                alpn
            }
        };
        let ca = match ca {
            None => None,
            Some(ca) => Some(ca?),
        };
        let server_name = match server_name {
            None => None,
            Some(n) => Some(n?),
        };
        let client_cert = match client_cert {
            None => None,
            Some(c) => Some(c?),
        };
        Some(Some(ClusterTlsConfig {
            ca,
            server_name,
            client_cert,
            alpn,
            verify,
        }))
    }

    /// A file path: not empty, no NUL. The file itself is not opened here.
    fn file(&mut self, field: &Spanned<String>, path: &str) -> Option<PathBuf> {
        let text = field.get_ref();
        if text.is_empty() || text.contains('\0') {
            self.invalid(field.span(), path, &k::FILE.expected(), None);
            return None;
        }
        Some(PathBuf::from(text))
    }
}

/// `sni_peek_timeout` and `sni_max_hello`, with their spans when given.
fn sni_tuning(l: &RawListener) -> [(&'static str, Option<Range<usize>>); 2] {
    let given = [
        (
            "sni_peek_timeout",
            l.sni_peek_timeout.as_ref().map(Spanned::span),
        ),
        ("sni_max_hello", l.sni_max_hello.as_ref().map(Spanned::span)),
    ];
    debug_assert!(
        given
            .iter()
            .map(|g| g.0)
            .eq(k::SNI_ONLY[1..].iter().copied())
    );
    given
}

/// A DNS name as SNI carries it: labels of 1 to 63 letters, digits, `-` and `_`, at most 253
/// characters, no trailing dot; not an IP address.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.parse::<std::net::IpAddr>().is_err()
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// What is probably wrong with a name that is not a DNS name.
fn name_hint(text: &str) -> Option<String> {
    if text.parse::<std::net::IpAddr>().is_ok() {
        Some("a client connecting to an IP address sends no server name".to_owned())
    } else if text.contains("://") || text.contains('/') {
        Some("give the name alone, without scheme or path".to_owned())
    } else if text.contains(':') {
        Some("give the name alone, without a port".to_owned())
    } else if text.ends_with('.') && !text.ends_with("..") {
        Some("write it without the trailing dot".to_owned())
    } else {
        None
    }
}

/// `listener[0].tls.client_auth.subject_header` -> `listener[0].tls.client_auth`.
fn parent(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(p, _)| p)
}

/// `"a", "b"`.
fn quoted(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    quoted.join(", ")
}
