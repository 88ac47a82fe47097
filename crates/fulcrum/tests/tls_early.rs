//! TLS 1.3 0-RTT (RFC 8470) with real clients: `openssl s_client -sess_out` and then
//! `-sess_in ... -early_data FILE`, and a rustls client that holds back its Finished, so a test
//! can see what Fulcrum does before the handshake completes. The backend records the headers
//! it saw: an early safe request reaches it at once with `Early-Data: 1`; a POST waits for the
//! handshake; a 425 to Fulcrum's early request is retried after it; with 0-RTT off, early data
//! is refused; HTTP/2 early data waits for the handshake.

mod support;
mod tls_common;

use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::h2raw;
use support::http_backend::{HttpBackend, SeenRequest};
use support::raw::{Output, run_cmd};
use support::*;
use tls_common::{curl_https, make_pki};

const EARLY_TLS: &str = "early_data = true, session_tickets = false";

struct Setup {
    f: Fulcrum,
    addr: SocketAddr,
    dir: TempDir,
    backend: HttpBackend,
    cluster_extra: String,
}

impl Setup {
    /// An https listener with `tls_extra` in its `tls` table, to one HTTP/1.1 backend.
    fn start(tls_extra: &str) -> Setup {
        Setup::start_with(tls_extra, "")
    }

    fn start_with(tls_extra: &str, cluster_extra: &str) -> Setup {
        let dir = TempDir::new("tls-early");
        make_pki(dir.path());
        let backend = HttpBackend::start("b");
        let addr = free_addr();
        let admin = free_port();
        let cfg = Setup::config(admin, addr, dir.path(), tls_extra, &backend, cluster_extra);
        Setup {
            f: Fulcrum::start(&cfg),
            addr,
            dir,
            backend,
            cluster_extra: cluster_extra.to_owned(),
        }
    }

    fn config(
        admin: u16,
        addr: SocketAddr,
        dir: &Path,
        tls_extra: &str,
        backend: &HttpBackend,
        cluster_extra: &str,
    ) -> String {
        let d = dir.display();
        config_head(admin, 1)
            + &format!(
                "[[listener]]\nname = \"secure\"\nbind = \"{addr}\"\nprotocol = \"https\"\ncluster = \"c\"\n\
                 tls = {{ certificates = [{{ cert = \"{d}/server.pem\", key = \"{d}/server.key\" }}], {tls_extra} }}\n\n\
                 [[cluster]]\nname = \"c\"\nbackends = [\"{}\"]\n{cluster_extra}\n",
                backend.addr()
            )
    }

    /// The same listener with other `tls` settings, applied by a reload.
    fn reload(&self, tls_extra: &str) {
        let admin = admin_port(&std::fs::read_to_string(self.f.config_path()).unwrap());
        let cfg = Setup::config(
            admin,
            self.addr,
            self.dir.path(),
            tls_extra,
            &self.backend,
            &self.cluster_extra,
        );
        self.f.reload_ok(&cfg);
    }

    /// `openssl s_client` with the test CA: stdin `input`, session in/out and early data
    /// files as given; reads until the server closes (10 s at most).
    fn s_client(&self, extra: &[&str], input: &[u8]) -> Output {
        self.s_client_for(extra, input, Duration::from_secs(10))
    }

    fn s_client_for(&self, extra: &[&str], input: &[u8], limit: Duration) -> Output {
        let mut args: Vec<String> = [
            "s_client",
            "-connect",
            &self.addr.to_string(),
            "-servername",
            "fulcrum.test",
            "-CAfile",
            &format!("{}/ca.pem", self.dir.path().display()),
            "-ign_eof",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        run_cmd("openssl", &args, input, limit)
    }

    /// A session to resume: one request with `s_client -sess_out`, which saves the session
    /// (with its 0-RTT permission, if the listener gives one).
    fn session(&self) -> String {
        let path = format!("{}/session.pem", self.dir.path().display());
        let _ = std::fs::remove_file(&path);
        let out = self.s_client(
            &["-sess_out", &path],
            b"GET /first HTTP/1.1\r\nHost: fulcrum.test\r\nConnection: close\r\n\r\n",
        );
        assert!(
            out.stdout_text().contains("HTTP/1.1 200"),
            "first connection: {}{}",
            out.describe(),
            self.f.diag()
        );
        assert!(Path::new(&path).exists(), "s_client saved no session");
        path
    }

    /// Resumes `session` and sends `early` as early data; returns what s_client printed.
    fn early(&self, session: &str, early: &str) -> String {
        self.early_for(session, early, Duration::from_secs(10))
    }

    /// [`Setup::early`] for a request that will not be answered: s_client is stopped after
    /// `limit` (the connection stays open, waiting for a request).
    fn early_for(&self, session: &str, early: &str, limit: Duration) -> String {
        let file = format!("{}/early.txt", self.dir.path().display());
        std::fs::write(&file, early).unwrap();
        let args = ["-sess_in", session, "-early_data", &file];
        self.s_client_for(&args, b"", limit).stdout_text()
    }

    fn seen(&self, target: &str) -> Vec<SeenRequest> {
        self.backend
            .requests()
            .into_iter()
            .filter(|r| r.target == target)
            .collect()
    }
}

fn admin_port(config: &str) -> u16 {
    let line = config
        .lines()
        .find(|l| l.starts_with("listen = "))
        .expect("admin listen line");
    let addr: SocketAddr = line.split('"').nth(1).unwrap().parse().unwrap();
    addr.port()
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: fulcrum.test\r\n{extra}Connection: close\r\n\r\n")
}

#[test]
fn an_early_get_goes_to_the_backend_with_early_data_1() {
    let s = Setup::start(EARLY_TLS);
    let session = s.session();
    let out = s.early(&session, &get("/early", ""));
    assert!(
        out.contains("Early data was accepted"),
        "{out}{}",
        s.f.diag()
    );
    assert!(out.contains("HTTP/1.1 200"), "{out}");
    let early = s.seen("/early");
    assert_eq!(early.len(), 1, "{}", s.backend.summary());
    assert_eq!(early[0].headers_named("early-data"), ["1"]);
    // The request of the first, full handshake was not early.
    assert_eq!(s.seen("/first")[0].header("early-data"), None);
}

#[test]
fn an_early_post_is_forwarded_only_after_the_handshake() {
    let s = Setup::start(EARLY_TLS);
    let session = s.session();
    let post = "POST /post HTTP/1.1\r\nHost: fulcrum.test\r\nContent-Length: 5\r\n\
                Connection: close\r\n\r\nhello";
    let out = s.early(&session, post);
    assert!(
        out.contains("Early data was accepted"),
        "{out}{}",
        s.f.diag()
    );
    assert!(out.contains("HTTP/1.1 200"), "{out}");
    let seen = s.seen("/post");
    assert_eq!(seen.len(), 1, "{}", s.backend.summary());
    assert_eq!(seen[0].header("early-data"), None, "held, so not early");
    assert_eq!(seen[0].body_len, 5);
}

#[test]
fn a_425_to_an_early_request_is_retried_after_the_handshake() {
    let s = Setup::start(EARLY_TLS);
    let session = s.session();
    let out = s.early(&session, &get("/too-early", ""));
    assert!(
        out.contains("Early data was accepted"),
        "{out}{}",
        s.f.diag()
    );
    assert!(
        out.contains("HTTP/1.1 200"),
        "the client never sees the 425: {out}"
    );
    assert!(!out.contains("HTTP/1.1 425"), "{out}");
    let tries: Vec<Option<String>> = s
        .seen("/too-early")
        .iter()
        .map(|r| r.header("early-data").map(str::to_owned))
        .collect();
    assert_eq!(
        tries,
        [Some("1".to_owned()), None],
        "{}",
        s.backend.summary()
    );
}

#[test]
fn a_client_early_data_field_is_kept_as_1_and_its_425_passed_on() {
    let s = Setup::start(EARLY_TLS);
    // In early data, with the client's own field (an earlier hop got it early): the backend's
    // 425 goes back, since this client asked for it.
    let session = s.session();
    let out = s.early(&session, &get("/too-early", "Early-Data: 1\r\n"));
    assert!(
        out.contains("Early data was accepted"),
        "{out}{}",
        s.f.diag()
    );
    assert!(out.contains("HTTP/1.1 425"), "{out}");
    assert_eq!(s.seen("/too-early").len(), 1, "not retried");
    // After a full handshake, other values and several fields become one `1`.
    let dir = s.dir.path();
    let args = ["--http1.1", "-H", "Early-Data: 0", "-H", "Early-Data: yes"];
    let out = curl_https(dir, s.addr, "fulcrum.test", &args, "/field");
    assert!(out.ok(), "{}", out.describe());
    assert_eq!(s.seen("/field")[0].headers_named("early-data"), ["1"]);
    // A client cannot strip Fulcrum's mark by naming the field as hop-by-hop.
    let session = s.session();
    let out = s.early(
        &session,
        &get("/hop", "Connection: early-data\r\nEarly-Data: 1\r\n"),
    );
    assert!(out.contains("Early data was accepted"), "{out}");
    assert_eq!(s.seen("/hop")[0].headers_named("early-data"), ["1"]);
}

#[test]
fn with_0rtt_off_early_data_is_refused() {
    // On, to get a session that allows 0-RTT; then off by a reload that keeps the session
    // cache, so the same session resumes but its early data is refused.
    let s = Setup::start(EARLY_TLS);
    let session = s.session();
    s.reload("early_data = false, session_tickets = false");
    let out = s.early_for(&session, &get("/refused", ""), Duration::from_secs(2));
    assert!(out.contains("Reused, TLSv1.3"), "{out}{}", s.f.diag());
    assert!(out.contains("Early data was rejected"), "{out}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.seen("/refused").is_empty(), "{}", s.backend.summary());
    // And by default a session carries no 0-RTT permission: clients do not even try.
    let s = Setup::start("session_tickets = true");
    let session = s.session();
    let out = s.early_for(&session, &get("/none", ""), Duration::from_secs(2));
    assert!(
        out.contains("Early data was not sent"),
        "{out}{}",
        s.f.diag()
    );
}

// ------------------------------------------------------------------------------------------
// A client that holds back its Finished.

fn rustls_client(dir: &Path, alpn: &[u8]) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.enable_early_data = true;
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

fn name() -> ServerName<'static> {
    ServerName::try_from("fulcrum.test").unwrap()
}

/// Reads what is there (for up to `wait`) into the connection, and its plaintext into `out`.
/// `false` once the server closed.
fn pump(conn: &mut rustls::ClientConnection, sock: &mut TcpStream, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 16 * 1024];
    let open = match sock.read(&mut buf) {
        Ok(0) => false,
        Ok(n) => {
            conn.read_tls(&mut &buf[..n]).unwrap();
            conn.process_new_packets().unwrap();
            true
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            true
        }
        Err(_) => false,
    };
    let _ = conn.reader().read_to_end(out);
    open
}

/// Whether `got` holds `want` (or, for an empty `want`, anything).
fn holds(got: &[u8], want: &[u8]) -> bool {
    match want.len() {
        0 => !got.is_empty(),
        n => got.windows(n).any(|w| w == want),
    }
}

/// A full handshake, `request` sent, read until the server closes or `until` is in the
/// plaintext: the client config keeps the session it got.
fn first_connection(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    request: &[u8],
    until: &[u8],
) -> Result<(), String> {
    let mut conn = rustls::ClientConnection::new(config.clone(), name()).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    conn.writer().write_all(request).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !holds(&got, until) {
        while conn.wants_write() {
            conn.write_tls(&mut sock).unwrap();
        }
        if !pump(&mut conn, &mut sock, &mut got) {
            break;
        }
    }
    match holds(&got, until) {
        true => Ok(()),
        false => Err(format!("first connection got {:?}", text(&got))),
    }
}

/// What a held-back connection saw.
struct Held {
    accepted: bool,
    /// All plaintext, to the server's close.
    all: Vec<u8>,
}

/// Resumes with `early` as 0-RTT data, then holds its Finished back for `hold` (collecting
/// what the server sends meanwhile), runs `check`, sends the Finished and reads until the
/// server closes or `done` says so.
fn held_exchange(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    early: &[u8],
    hold: Duration,
    check: impl FnOnce(&[u8]),
    done: impl Fn() -> bool,
) -> Held {
    let mut conn = rustls::ClientConnection::new(config.clone(), name()).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut writer = conn.early_data().expect("a session that allows 0-RTT");
    writer.write_all(early).unwrap();
    while conn.wants_write() {
        conn.write_tls(&mut sock).unwrap();
    }
    let mut during = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The server's flight: after it the client has its Finished queued, not sent.
    while conn.is_handshaking() && Instant::now() < deadline {
        assert!(
            pump(&mut conn, &mut sock, &mut during),
            "closed in the handshake"
        );
    }
    let accepted = conn.is_early_data_accepted();
    let until = Instant::now() + hold;
    while Instant::now() < until {
        if !pump(&mut conn, &mut sock, &mut during) {
            break;
        }
    }
    check(&during);
    let mut all = during.clone();
    // The server may have closed already (a request with `Connection: close`).
    while conn.wants_write() && conn.write_tls(&mut sock).is_ok() {}
    while Instant::now() < deadline && !done() && pump(&mut conn, &mut sock, &mut all) {}
    Held { accepted, all }
}

impl Setup {
    /// One full HTTP/1.1 exchange with `config`, which keeps the session ticket it brings.
    fn take_ticket(&self, config: &Arc<ClientConfig>) {
        first_connection(
            self.addr,
            config,
            get("/first", "").as_bytes(),
            b"\"/first\"",
        )
        .unwrap_or_else(|e| panic!("{e}{}", self.f.diag()));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn before_the_finished_a_get_is_answered_and_a_post_waits() {
    let s = Setup::start(EARLY_TLS);
    let config = rustls_client(s.dir.path(), b"http/1.1");
    let hold = Duration::from_millis(1000);
    s.take_ticket(&config);
    let held = held_exchange(
        s.addr,
        &config,
        get("/g", "").as_bytes(),
        hold,
        |during| {
            assert!(
                text(during).starts_with("HTTP/1.1 200"),
                "answered before the Finished: {:?}{}",
                text(during),
                s.f.diag()
            );
        },
        || false,
    );
    assert!(held.accepted);
    assert_eq!(s.seen("/g")[0].headers_named("early-data"), ["1"]);
    s.take_ticket(&config);
    let post = b"POST /p HTTP/1.1\r\nHost: fulcrum.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
    let held = held_exchange(
        s.addr,
        &config,
        post,
        hold,
        |during| {
            assert!(
                during.is_empty(),
                "nothing before the Finished: {:?}",
                text(during)
            );
            assert!(
                s.seen("/p").is_empty(),
                "the POST did not reach the backend before the Finished: {}",
                s.backend.summary()
            );
        },
        || false,
    );
    assert!(held.accepted);
    assert!(
        text(&held.all).starts_with("HTTP/1.1 200"),
        "{:?}",
        text(&held.all)
    );
    let seen = s.seen("/p");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("early-data"), None);
}

#[test]
fn the_425_retry_waits_for_the_finished() {
    let s = Setup::start(EARLY_TLS);
    let config = rustls_client(s.dir.path(), b"http/1.1");
    s.take_ticket(&config);
    let hold = Duration::from_millis(1000);
    let held = held_exchange(
        s.addr,
        &config,
        get("/too-early", "").as_bytes(),
        hold,
        |during| {
            assert!(
                during.is_empty(),
                "no 425 to the client: {:?}",
                text(during)
            );
            let tries = s.seen("/too-early");
            assert_eq!(
                tries.len(),
                1,
                "only the early try so far: {}",
                s.backend.summary()
            );
            assert_eq!(tries[0].header("early-data"), Some("1"));
        },
        || false,
    );
    assert!(held.accepted);
    assert!(
        text(&held.all).starts_with("HTTP/1.1 200"),
        "{:?}",
        text(&held.all)
    );
    let tries = s.seen("/too-early");
    assert_eq!(tries.len(), 2);
    assert_eq!(tries[1].header("early-data"), None);
}

#[test]
fn h2_early_data_waits_for_the_finished() {
    let s = Setup::start(EARLY_TLS);
    let config = rustls_client(s.dir.path(), b"h2");
    let mut hello = h2raw::PREFACE.to_vec();
    hello.extend_from_slice(&h2raw::settings(&[]));
    // Any frame from the server (its SETTINGS) means the session ticket came before it.
    first_connection(s.addr, &config, &hello, &[]).unwrap_or_else(|e| panic!("{e}{}", s.f.diag()));
    let block = h2raw::request_block("GET", "fulcrum.test", "/h2early", &[]);
    hello.extend_from_slice(&h2raw::headers(1, &block, true, true));
    let held = held_exchange(
        s.addr,
        &config,
        &hello,
        Duration::from_millis(700),
        |_| {
            assert!(
                s.seen("/h2early").is_empty(),
                "no HTTP/2 request before the Finished: {}",
                s.backend.summary()
            );
        },
        || !s.seen("/h2early").is_empty(),
    );
    assert!(held.accepted, "{}", s.f.diag());
    let seen = s.seen("/h2early");
    assert_eq!(
        seen.len(),
        1,
        "served after the Finished: {}",
        s.backend.summary()
    );
    assert_eq!(seen[0].header("early-data"), None);
}

/// A client that sends early data and never finishes its handshake gets its early answer,
/// then is closed at the handshake timeout (2 s; the keep-alive timeout is 60 s).
#[test]
fn a_client_that_never_finishes_is_closed_at_the_handshake_timeout() {
    let s = Setup::start(&format!("{EARLY_TLS}, handshake_timeout = \"2s\""));
    let config = rustls_client(s.dir.path(), b"http/1.1");
    s.take_ticket(&config);
    let started = Instant::now();
    let keep_alive = b"GET /stay HTTP/1.1\r\nHost: fulcrum.test\r\n\r\n";
    let mut closed_after = None;
    let held = held_exchange(
        s.addr,
        &config,
        keep_alive,
        Duration::from_secs(9),
        |during| {
            closed_after = Some(started.elapsed());
            assert!(
                text(during).starts_with("HTTP/1.1 200"),
                "{:?}",
                text(during)
            );
        },
        || true,
    );
    assert!(held.accepted);
    let closed_after = closed_after.unwrap();
    assert!(
        closed_after < Duration::from_secs(6),
        "closed by the handshake timeout, after {closed_after:?}{}",
        s.f.diag()
    );
}

#[test]
fn check_accepts_early_data_with_the_session_cache_only() {
    let dir = TempDir::new("tls-early-check");
    make_pki(dir.path());
    let d = dir.path().display();
    let cfg = |tls: &str| {
        format!(
            "[[listener]]\nname = \"l\"\nbind = \"127.0.0.1:1\"\nprotocol = \"https\"\ncluster = \"c\"\n\
             tls = {{ certificates = [{{ cert = \"{d}/server.pem\", key = \"{d}/server.key\" }}], {tls} }}\n\n\
             [[cluster]]\nname = \"c\"\nbackends = [\"127.0.0.1:2\"]\n"
        )
    };
    let check = |text: String| {
        let path = dir.path().join("f.toml");
        std::fs::write(&path, text).unwrap();
        Command::new(fulcrum_bin())
            .args(["check", "-c"])
            .arg(&path)
            .output()
            .unwrap()
    };
    let ok = check(cfg(EARLY_TLS));
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = check(cfg("early_data = true"));
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("needs session_tickets = false"), "{err}");
}
