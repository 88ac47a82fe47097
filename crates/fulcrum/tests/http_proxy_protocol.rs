//! PROXY protocol v1 and v2: accepted from trusted sources (the client address it names is
//! what X-Forwarded-For and the access log show), not trusted from others (the header bytes
//! are then just a malformed request), a malformed header closes the connection; and the
//! header clusters send to their backends (`send_proxy_protocol`), parsed by raw TCP
//! backends, from tcp and http listeners.

mod support;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::time::Duration;
use support::http_backend::HttpBackend;
use support::raw::*;
use support::*;

/// A v1 header.
fn v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let fam = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {fam} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

const V2_SIG: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// A v2 PROXY header for TCP over IPv4 or IPv6, with optional TLV bytes after the addresses.
fn v2(src: SocketAddr, dst: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
    let mut addrs = Vec::new();
    let fam = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            addrs.extend_from_slice(&s.octets());
            addrs.extend_from_slice(&d.octets());
            0x11
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            addrs.extend_from_slice(&s.octets());
            addrs.extend_from_slice(&d.octets());
            0x21
        }
        _ => panic!("mixed families"),
    };
    addrs.extend_from_slice(&src.port().to_be_bytes());
    addrs.extend_from_slice(&dst.port().to_be_bytes());
    addrs.extend_from_slice(tlvs);
    let mut out = V2_SIG.to_vec();
    out.push(0x21); // version 2, PROXY
    out.push(fam);
    out.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    out.extend(addrs);
    out
}

/// A v2 LOCAL header (a health check by the balancer in front): use the real peer.
fn v2_local() -> Vec<u8> {
    let mut out = V2_SIG.to_vec();
    out.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    out
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Sends `preamble` then a GET on a new connection; returns the response (or the error).
fn get_after(
    listen: SocketAddr,
    preamble: &[u8],
    path: &str,
) -> (std::io::Result<RawResponse>, Closed) {
    let mut bytes = preamble.to_vec();
    bytes.extend_from_slice(
        format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    one_shot(listen, &bytes)
}

fn trusted_http(b: &HttpBackend, from: &str) -> (Fulcrum, SocketAddr) {
    start_http(
        &format!("cluster = \"c\"\nproxy_protocol_from = [{from}]"),
        &[b.addr()],
        "",
    )
}

#[test]
fn v1_from_a_trusted_source_names_the_client() {
    let b = HttpBackend::start("pp1");
    let (f, listen) = trusted_http(&b, "\"127.0.0.1\"");
    let (r, _) = get_after(listen, &v1(sa("203.0.113.7:51000"), listen), "/v1");
    let r = r.unwrap_or_else(|e| panic!("v1 from a trusted source: {e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}{}", r.describe(), f.diag());
    let seen = b.last("v1");
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("203.0.113.7"),
        "X-Forwarded-For shows the PROXY source: {:?}{}",
        seen.headers,
        f.diag()
    );
    let log = access_lines(&f, 1);
    assert!(
        log.first().is_some_and(|l| l.starts_with("203.0.113.7 ")),
        "the access log names the PROXY source: {log:?}"
    );

    // TCP6 and UNKNOWN.
    let (r, _) = get_after(
        listen,
        &v1(sa("[2001:db8::7]:4000"), sa("[2001:db8::1]:80")),
        "/v1-6",
    );
    assert_eq!(
        r.unwrap_or_else(|e| panic!("TCP6: {e}{}", f.diag())).status,
        200
    );
    assert_eq!(
        b.last("v1 tcp6").header("x-forwarded-for"),
        Some("2001:db8::7")
    );
    let (r, _) = get_after(listen, b"PROXY UNKNOWN\r\n", "/unknown");
    assert_eq!(
        r.unwrap_or_else(|e| panic!("UNKNOWN: {e}{}", f.diag()))
            .status,
        200
    );
    assert_eq!(
        b.last("v1 unknown").header("x-forwarded-for"),
        Some("127.0.0.1"),
        "UNKNOWN: the real peer"
    );

    // Keep-alive: every request of the connection has the PROXY source.
    let mut c = RawClient::connect(listen);
    let mut bytes = v1(sa("198.51.100.1:1234"), listen);
    bytes.extend_from_slice(b"GET /ka1 HTTP/1.1\r\nHost: a\r\n\r\n");
    c.send(&bytes).unwrap();
    assert_eq!(c.read_response().unwrap().status, 200);
    c.send(b"GET /ka2 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert_eq!(c.read_response().unwrap().status, 200);
    let reqs = b.requests();
    let last_two: Vec<Option<&str>> = reqs[reqs.len() - 2..]
        .iter()
        .map(|r| r.header("x-forwarded-for"))
        .collect();
    assert_eq!(last_two, [Some("198.51.100.1"), Some("198.51.100.1")]);
}

#[test]
fn v2_from_a_trusted_source_names_the_client() {
    let b = HttpBackend::start("pp2");
    let (f, listen) = trusted_http(&b, "\"127.0.0.0/8\", \"::1\"");
    let (r, _) = get_after(listen, &v2(sa("198.51.100.9:40000"), listen, &[]), "/v2");
    let r = r.unwrap_or_else(|e| panic!("v2: {e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}{}", r.describe(), f.diag());
    assert_eq!(b.last("v2").header("x-forwarded-for"), Some("198.51.100.9"));

    // With TLVs (an authority and a NOOP): skipped.
    let mut tlvs = vec![0x02, 0x00, 0x0b];
    tlvs.extend_from_slice(b"example.com");
    tlvs.extend_from_slice(&[0x04, 0x00, 0x02, 0, 0]);
    let (r, _) = get_after(listen, &v2(sa("198.51.100.10:1"), listen, &tlvs), "/v2-tlv");
    assert_eq!(
        r.unwrap_or_else(|e| panic!("v2 TLVs: {e}{}", f.diag()))
            .status,
        200
    );
    assert_eq!(
        b.last("v2 tlv").header("x-forwarded-for"),
        Some("198.51.100.10")
    );

    // IPv6.
    let (r, _) = get_after(
        listen,
        &v2(sa("[2001:db8::9]:1"), sa("[2001:db8::1]:80"), &[]),
        "/v2-6",
    );
    assert_eq!(
        r.unwrap_or_else(|e| panic!("v2 v6: {e}{}", f.diag()))
            .status,
        200
    );
    assert_eq!(
        b.last("v2 v6").header("x-forwarded-for"),
        Some("2001:db8::9")
    );

    // LOCAL: the real peer.
    let (r, _) = get_after(listen, &v2_local(), "/local");
    assert_eq!(
        r.unwrap_or_else(|e| panic!("v2 LOCAL: {e}{}", f.diag()))
            .status,
        200
    );
    assert_eq!(
        b.last("v2 local").header("x-forwarded-for"),
        Some("127.0.0.1")
    );

    // A header split across writes.
    let mut c = RawClient::connect(listen);
    let h = v2(sa("198.51.100.11:1"), listen, &[]);
    c.send(&h[..7]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    c.send(&h[7..]).unwrap();
    c.send(b"GET /split HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(
        c.read_response()
            .unwrap_or_else(|e| panic!("split: {e}{}", f.diag()))
            .status,
        200
    );
    assert_eq!(
        b.last("split").header("x-forwarded-for"),
        Some("198.51.100.11")
    );
}

#[test]
fn curl_haproxy_protocol_over_http11_and_h2() {
    let b = HttpBackend::start("curlpp");
    let (f, listen) = trusted_http(&b, "\"127.0.0.1\"");
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        let u = format!("http://{listen}/curl");
        let r = curl_fetch(&["--haproxy-protocol", proto, &u]);
        assert_eq!(r.status, 200, "{proto}: {}{}", r.describe(), f.diag());
        assert_eq!(b.last(proto).header("x-forwarded-for"), Some("127.0.0.1"));
    }
}

#[test]
fn header_from_an_untrusted_source_is_not_trusted() {
    let b = HttpBackend::start("untrusted");
    let (f, listen) = trusted_http(&b, "\"10.0.0.0/8\"");
    for (name, header) in [
        ("v1", v1(sa("203.0.113.7:51000"), listen)),
        ("v2", v2(sa("203.0.113.7:51000"), listen, &[])),
    ] {
        let (r, closed) = get_after(listen, &header, "/spoof");
        if let Ok(r) = &r {
            assert_eq!(
                r.status,
                400,
                "{name} from an untrusted peer is a malformed request: {}{}",
                r.describe(),
                f.diag()
            );
        }
        assert!(
            matches!(closed, Closed::Eof | Closed::Reset),
            "{name}: the connection must close, got {closed:?}{}",
            f.diag()
        );
    }
    assert!(
        b.requests().is_empty(),
        "a request with an untrusted PROXY header reached the backend: {}",
        b.summary()
    );
    // Without a header the listener serves the untrusted peer as itself.
    let r = get(listen, "a", "/plain", "");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(b.last("plain").header("x-forwarded-for"), Some("127.0.0.1"));
}

#[test]
fn malformed_header_from_a_trusted_source_closes() {
    let b = HttpBackend::start("malformed");
    let (f, listen) = trusted_http(&b, "\"127.0.0.1\"");
    let mut bad_version = v2(sa("203.0.113.7:1"), listen, &[]);
    bad_version[12] = 0x31;
    let mut bad_length = v2(sa("203.0.113.7:1"), listen, &[]);
    bad_length[14] = 0x00;
    bad_length[15] = 0x04; // shorter than two IPv4 addresses and ports
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("v1 garbage", b"PROXY TCP4 garbage\r\n".to_vec()),
        (
            "v1 bad port",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n".to_vec(),
        ),
        (
            "v1 family mismatch",
            b"PROXY TCP4 2001:db8::1 5.6.7.8 1 80\r\n".to_vec(),
        ),
        ("v1 LF only", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 80\n".to_vec()),
        (
            "v1 too long",
            format!("PROXY TCP4 {}\r\n", "1".repeat(120)).into_bytes(),
        ),
        ("v2 bad version", bad_version),
        ("v2 short length", bad_length),
        ("no header at all", Vec::new()),
    ];
    let cases_len = cases.len();
    for (name, header) in cases {
        let mut c = RawClient::connect(listen);
        let mut bytes = header.clone();
        bytes.extend_from_slice(b"GET /bad HTTP/1.1\r\nHost: a\r\n\r\n");
        let _ = c.send(&bytes);
        let end = c.wait_closed(Duration::from_secs(3));
        assert!(
            matches!(end, Closed::Eof | Closed::Reset),
            "{name}: a malformed PROXY header from a trusted peer must close the connection \
             without an answer, got {end:?}{}",
            f.diag()
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(b.requests().is_empty(), "{}", b.summary());
    assert_eq!(b.bytes_received(), 0, "{}", b.summary());
    let counted = f.metric("fulcrum_listener_proxy_header_errors_total{listener=\"web\"}");
    assert_eq!(
        counted,
        Some(cases_len as f64),
        "each one counted{}",
        f.diag()
    );
}

// ---------------------------------------------------------------------------------------------
// Backends that receive a PROXY header

/// Reads a PROXY header (v1 or v2) off `s` and describes it: `v1 TCP4 SRC DST` or
/// `v2 PROXY SRC DST` / `v2 LOCAL`. Returns the description and the bytes read after it.
fn read_header(s: &mut TcpStream, ctx: &ConnCtx) -> Result<(String, Vec<u8>), String> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let mut fill = |buf: &mut Vec<u8>, s: &mut TcpStream| -> Result<(), String> {
        match ctx.read(s, &mut tmp) {
            Ok(0) => Err(format!("EOF after {:?}", String::from_utf8_lossy(buf))),
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    };
    while buf.len() < 16 {
        fill(&mut buf, s)?;
    }
    if buf.starts_with(b"PROXY ") {
        loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&buf[6..i]).into_owned();
                let f: Vec<&str> = line.split(' ').collect();
                if f.len() != 5 {
                    return Err(format!("bad v1 line {line:?}"));
                }
                let desc = format!("v1 {} {}:{} {}:{}", f[0], f[1], f[3], f[2], f[4]);
                return Ok((desc, buf[i + 2..].to_vec()));
            }
            fill(&mut buf, s)?;
        }
    }
    if buf[..12] != V2_SIG {
        return Err(format!(
            "no PROXY header: {:?}",
            String::from_utf8_lossy(&buf)
        ));
    }
    let len = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    while buf.len() < 16 + len {
        fill(&mut buf, s)?;
    }
    let body = &buf[16..16 + len];
    let desc = match (buf[12], buf[13]) {
        (0x20, _) => "v2 LOCAL".to_string(),
        (0x21, 0x11) => {
            let ip = |o: usize| Ipv4Addr::new(body[o], body[o + 1], body[o + 2], body[o + 3]);
            let port = |o: usize| u16::from_be_bytes([body[o], body[o + 1]]);
            format!("v2 PROXY {}:{} {}:{}", ip(0), port(8), ip(4), port(10))
        }
        (0x21, 0x21) => {
            let ip = |o: usize| {
                let b: [u8; 16] = body[o..o + 16].try_into().unwrap();
                std::net::Ipv6Addr::from(b)
            };
            let port = |o: usize| u16::from_be_bytes([body[o], body[o + 1]]);
            format!(
                "v2 PROXY [{}]:{} [{}]:{}",
                ip(0),
                port(32),
                ip(16),
                port(34)
            )
        }
        (vc, fam) => return Err(format!("v2 ver/cmd {vc:#x} family {fam:#x}")),
    };
    Ok((desc, buf[16 + len..].to_vec()))
}

/// A raw TCP backend: reads the PROXY header, records `header <desc>`, then echoes.
fn echo_after_header() -> TestServer {
    TestServer::custom("pp-echo", |s, ctx| {
        let (desc, rest) = match read_header(s, ctx) {
            Ok(h) => h,
            Err(e) => {
                ctx.record(format!("error {e}"));
                return;
            }
        };
        ctx.record(format!("header {desc}"));
        if s.write_all(&rest).is_err() {
            return;
        }
        let mut buf = [0u8; 4096];
        loop {
            match ctx.read(s, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = s.shutdown(Shutdown::Write);
    })
}

/// A raw HTTP backend: reads the PROXY header, records it, then answers every request on the
/// connection (no bodies) with `200` and the header's description as the body.
fn http_after_header() -> TestServer {
    TestServer::custom("pp-http", |s, ctx| {
        let (desc, mut buf) = match read_header(s, ctx) {
            Ok(h) => h,
            Err(e) => {
                ctx.record(format!("error {e}"));
                return;
            }
        };
        ctx.record(format!("header {desc}"));
        let mut tmp = [0u8; 4096];
        loop {
            while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.drain(..i + 4);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{desc}",
                    desc.len()
                );
                if s.write_all(resp.as_bytes()).is_err() {
                    return;
                }
            }
            match ctx.read(s, &mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
    })
}

fn tcp_config(
    listen: SocketAddr,
    backend: SocketAddr,
    listener_extra: &str,
    version: &str,
) -> String {
    config_head(free_port(), 2)
        + &listener_toml("t", &listen.to_string(), "c", listener_extra)
        + &cluster_toml(
            "c",
            "round_robin",
            &[support::backend(backend)],
            &format!("send_proxy_protocol = \"{version}\""),
        )
}

#[test]
fn tcp_listener_sends_v1_and_v2_to_its_backend() {
    for version in ["v1", "v2"] {
        let backend = echo_after_header();
        let listen = free_addr();
        let f = Fulcrum::start(&tcp_config(listen, backend.addr(), "", version));
        let mut s = connect(listen);
        let client = s.local_addr().unwrap();
        echo_roundtrip(&mut s, b"after the header")
            .unwrap_or_else(|e| panic!("{version}: echo: {e}; {:?}{}", backend.log(), f.diag()));
        let want = match version {
            "v1" => format!("header v1 TCP4 {client} {listen}"),
            _ => format!("header v2 PROXY {client} {listen}"),
        };
        assert_eq!(backend.log(), vec![want], "{version}{}", f.diag());
    }
}

#[test]
fn tcp_listener_passes_a_trusted_client_on_to_its_backend() {
    let backend = echo_after_header();
    let listen = free_addr();
    let cfg = tcp_config(
        listen,
        backend.addr(),
        "proxy_protocol_from = [\"127.0.0.1\"]",
        "v1",
    );
    let f = Fulcrum::start(&cfg);
    let mut s = connect(listen);
    let mut bytes = v2(sa("203.0.113.50:6000"), listen, &[]);
    bytes.extend_from_slice(b"payload");
    s.write_all(&bytes).unwrap();
    let mut back = [0u8; 7];
    std::io::Read::read_exact(&mut s, &mut back).unwrap_or_else(|e| {
        panic!(
            "echo after the PROXY header: {e}; {:?}{}",
            backend.log(),
            f.diag()
        )
    });
    assert_eq!(&back, b"payload");
    assert_eq!(
        backend.log(),
        vec![format!("header v1 TCP4 203.0.113.50:6000 {listen}")],
        "the backend's header names the client from the incoming header{}",
        f.diag()
    );

    // A malformed header on the tcp listener closes without connecting the backend.
    let mut s = connect(listen);
    s.write_all(b"PROXY TCP4 nonsense\r\npayload").unwrap();
    let mut buf = [0u8; 16];
    let n = std::io::Read::read(&mut s, &mut buf);
    assert!(
        matches!(n, Ok(0)) || n.is_err(),
        "closed: {n:?}{}",
        f.diag()
    );
    assert_eq!(
        backend.accepted(),
        1,
        "no backend connection for a bad header"
    );
}

#[test]
fn http_listener_sends_v1_and_v2_to_its_backend() {
    for version in ["v1", "v2"] {
        let backend = http_after_header();
        let (f, listen) = start_http(
            "cluster = \"c\"\nproxy_protocol_from = [\"127.0.0.1\"]",
            &[backend.addr()],
            &format!("send_proxy_protocol = \"{version}\""),
        );
        // Two clients with different PROXY sources, each on its own connection; the second
        // sends two requests.
        let mut c1 = RawClient::connect(listen);
        let mut bytes = v1(sa("203.0.113.1:1111"), listen);
        bytes.extend_from_slice(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n");
        c1.send(&bytes).unwrap();
        let r1 = c1
            .read_response()
            .unwrap_or_else(|e| panic!("{version}: {e}; {:?}{}", backend.log(), f.diag()));
        let mut c2 = RawClient::connect(listen);
        let mut bytes = v1(sa("203.0.113.2:2222"), listen);
        bytes.extend_from_slice(
            b"GET /two HTTP/1.1\r\nHost: a\r\n\r\nGET /three HTTP/1.1\r\nHost: a\r\n\r\n",
        );
        c2.send(&bytes).unwrap();
        let r2 = c2.read_response().unwrap();
        let r3 = c2.read_response().unwrap();
        let (p1, p2) = match version {
            "v1" => ("v1 TCP4", "v1 TCP4"),
            _ => ("v2 PROXY", "v2 PROXY"),
        };
        assert_eq!(r1.status, 200, "{}{}", r1.describe(), f.diag());
        assert_eq!(
            r1.text(),
            format!("{p1} 203.0.113.1:1111 {listen}"),
            "{version}"
        );
        assert_eq!(
            r2.text(),
            format!("{p2} 203.0.113.2:2222 {listen}"),
            "{version}: a backend connection with a PROXY header is never shared between \
             clients{}",
            f.diag()
        );
        assert_eq!(r3.text(), r2.text(), "{version}");
    }
}
