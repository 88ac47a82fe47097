//! Request smuggling and malformed requests: raw bytes on a socket, one test per form. Each is
//! refused with its status (400 unless said), `x-fulcrum-error: bad_request`, the connection
//! closed with nothing more on it, and the backend sees no request: neither the malformed one
//! nor the `GET /smuggled` that follows it in the same write. Then valid pipelined requests
//! whose bodies look like requests: the backend sees exactly what was sent, nothing smuggled.

mod support;

use std::time::Duration;
use support::http_backend::HttpBackend;
use support::raw::*;

/// Appended to every malformed request: if a parser disagreed on where the first request
/// ends, this is the request it would smuggle.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

fn check(name: &str, raw: &str, status: u16) {
    let b = HttpBackend::start("victim");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let bytes = format!("{raw}{SMUGGLED}");
    let mut c = RawClient::connect(listen);
    let _ = c.send(bytes.as_bytes());
    let r = c.read_response();
    let end = c.wait_closed(Duration::from_secs(3));
    // Give a forwarded request time to reach the backend before looking.
    std::thread::sleep(Duration::from_millis(100));
    let what = format!("{name}: {raw:?}");
    let r = r.unwrap_or_else(|e| {
        panic!(
            "{what}: expected {status}, got no response: {e}; {}{}",
            b.summary(),
            f.diag()
        )
    });
    assert_eq!(
        r.status,
        status,
        "{what}: wrong status: {}; {}{}",
        r.describe(),
        b.summary(),
        f.diag()
    );
    assert_eq!(
        r.header("x-fulcrum-error"),
        Some("bad_request"),
        "{what}: {}",
        r.describe()
    );
    assert!(
        matches!(end, Closed::Eof | Closed::Reset),
        "{what}: the connection must close after the error, got {end:?}{}",
        f.diag()
    );
    assert!(
        b.requests().is_empty(),
        "{what}: the backend got a request: {}{}",
        b.summary(),
        f.diag()
    );
    assert_eq!(
        b.bytes_received(),
        0,
        "{what}: bytes reached the backend: {}{}",
        b.summary(),
        f.diag()
    );
}

macro_rules! refused {
    ($($name:ident: $status:expr, $raw:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name), $raw, $status);
            }
        )*
    };
}

refused! {
    // Framing: Content-Length and Transfer-Encoding.
    cl_and_te: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    te_and_cl: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n";
    cl_differing_twice: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    cl_differing_list: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!";
    cl_plus_sign: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello";
    cl_negative: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n";
    cl_hex: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello";
    cl_inner_space: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\nhello world!";
    cl_overflow: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    cl_empty: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n";
    te_chunked_not_last: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n";
    te_gzip_only: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n";
    te_other_coding_then_chunked: 501,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
    te_obfuscated_xchunked: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n";
    te_obfuscated_quoted: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n";
    te_obfuscated_parameter: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n";
    te_obfuscated_space_before_colon: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n";
    te_obfuscated_obs_fold: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n";
    te_obfuscated_vertical_tab: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n";
    te_chunked_twice: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    te_empty_list_element: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n";
    te_in_http10: 400,
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    // Chunked bodies.
    chunk_size_not_hex: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    chunk_size_0x_prefix: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n";
    chunk_size_negative: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n";
    chunk_size_overflow: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n";
    chunk_size_empty: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n";
    chunk_extension_malformed: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n";
    chunk_extension_bare_quote: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n";
    chunk_data_without_crlf: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n";
    chunk_line_bare_lf: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n";
    chunk_trailer_with_content_length: 400,
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n";
    // Field lines.
    obs_fold: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n";
    whitespace_before_first_field: 400,
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n";
    whitespace_before_colon: 400,
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n";
    space_in_field_name: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n";
    invalid_field_name_char: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n";
    empty_field_name: 400,
        "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n";
    field_without_colon: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nX-A b\r\n\r\n";
    bare_lf_line_endings: 400,
        "GET / HTTP/1.1\nHost: a\n\n";
    bare_lf_in_one_field: 400,
        "GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n";
    bare_cr_in_value: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n";
    nul_in_value: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n";
    control_byte_in_value: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n";
    del_in_field_name: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nX-A\x7f: b\r\n\r\n";
    // Host.
    missing_host: 400,
        "GET / HTTP/1.1\r\nX-A: b\r\n\r\n";
    duplicate_host: 400,
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
    host_with_userinfo_like_garbage: 400,
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n";
    // Request lines.
    invalid_method: 400,
        "G@T / HTTP/1.1\r\nHost: a\r\n\r\n";
    method_with_nul: 400,
        "GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n";
    double_space_in_request_line: 400,
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n";
    tab_in_request_line: 400,
        "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n";
    target_with_fragment: 400,
        "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n";
    target_with_raw_angle_brackets: 400,
        "GET /<x> HTTP/1.1\r\nHost: a\r\n\r\n";
    target_with_non_ascii: 400,
        "GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n";
    absolute_form_bad_scheme: 400,
        "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n";
    asterisk_form_for_get: 400,
        "GET * HTTP/1.1\r\nHost: a\r\n\r\n";
    malformed_version: 400,
        "GET / HTTP/1.1x\r\nHost: a\r\n\r\n";
    lowercase_version: 400,
        "GET / http/1.1\r\nHost: a\r\n\r\n";
    unsupported_version: 505,
        "GET / HTTP/1.2\r\nHost: a\r\n\r\n";
    http2_version_in_h1_line: 505,
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n";
}

/// A POST whose Content-Length body holds what looks like a request, then a real GET: the
/// backend sees the body as a body, and exactly two requests.
#[test]
fn pipelined_pair_with_request_like_bodies_smuggles_nothing() {
    let b = HttpBackend::start("pair");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let inner = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let chunked_inner = format!("{:x}\r\n{inner}\r\n0\r\n\r\n", inner.len());
    let reqs = format!(
        "POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{inner}\
         POST /second HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{chunked_inner}\
         GET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        inner.len()
    );
    let mut c = RawClient::connect(listen);
    c.send(reqs.as_bytes()).unwrap();
    for want in ["/first", "/second", "/third"] {
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("response for {want}: {e}; {}{}", b.summary(), f.diag()));
        assert_eq!(r.status, 200, "{want}: {}{}", r.describe(), f.diag());
        assert_eq!(r.json()["target"], want, "{}", r.describe());
    }
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "after `Connection: close`{}",
        f.diag()
    );
    std::thread::sleep(Duration::from_millis(100));
    let seen = b.requests();
    let targets: Vec<&str> = seen.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        ["/first", "/second", "/third"],
        "the backend saw other requests than sent: {}",
        b.summary()
    );
    assert_eq!(seen[0].body_prefix, inner.as_bytes());
    assert_eq!(seen[1].body_prefix, inner.as_bytes());
    assert!(b.errors().is_empty(), "{}", b.summary());
}

/// A chunked body that turns bad after a pause (the head already went on to the backend): the
/// client gets a 400 and the connection closes; the backend gets no complete request and
/// nothing after it.
#[test]
fn chunked_body_going_bad_later_is_refused() {
    let b = HttpBackend::start("late");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let mut c = RawClient::connect(listen);
    c.send(b"POST /late HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = c.send(format!("zz\r\nworld\r\n0\r\n\r\n{SMUGGLED}").as_bytes());
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("no 400 for a bad chunk: {e}; {}{}", b.summary(), f.diag()));
    assert_eq!(r.status, 400, "{}{}", r.describe(), f.diag());
    assert_eq!(r.header("x-fulcrum-error"), Some("bad_request"));
    assert!(c.closed_within(Duration::from_secs(3)), "{}", f.diag());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        b.requests().is_empty(),
        "the backend got a complete request: {}",
        b.summary()
    );
}

/// A valid request, then a malformed one on the same connection: the first is served, the
/// second refused, and the backend sees only the first.
#[test]
fn malformed_request_after_a_valid_one_is_refused_alone() {
    let b = HttpBackend::start("pair2");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let reqs = format!(
        "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n\
         POST /bad HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}"
    );
    let mut c = RawClient::connect(listen);
    c.send(reqs.as_bytes()).unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}", r.describe());
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 400, "{}{}", r.describe(), f.diag());
    assert!(c.closed_within(Duration::from_secs(3)), "{}", f.diag());
    std::thread::sleep(Duration::from_millis(100));
    let targets: Vec<String> = b.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, ["/ok"], "{}", b.summary());
}
