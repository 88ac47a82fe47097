//! Request semantics: target forms, Host, Content-Length, Transfer-Encoding, Connection,
//! limits. Every refusal asserts its kind and status.

mod common;

use common::{ok, refused, with_fields};
use fulcrum_h1::{ErrorKind as K, Framing, Limits, Parsed, parse_request};
use http::Version;

#[test]
fn framing_and_connection() {
    let head = ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
    assert_eq!(head.framing, Framing::Length(42));
    let head =
        ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\nContent-Length: 07\r\n\r\n");
    assert_eq!(head.framing, Framing::Length(7));
    let lengths: Vec<_> = head.headers.get_all("content-length").iter().collect();
    assert_eq!(lengths, ["7"], "one Content-Length is forwarded");
    let head = ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n");
    assert_eq!(head.framing, Framing::Chunked);
    let head = ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert!(!head.keep_alive);
    let head = ok("GET / HTTP/1.0\r\n\r\n");
    assert!(!head.keep_alive);
    assert_eq!(head.version, Version::HTTP_10);
    let head = ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert!(head.keep_alive);
    let head = ok(
        "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    assert!(head.upgrade && head.keep_alive);
    let head = ok("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
    assert!(!head.upgrade);
    let head = ok("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
    assert!(head.expect_continue);
    let head = ok("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n");
    assert_eq!(head.framing, Framing::Length(u64::MAX));
    assert_eq!(
        head.framing
            .check_limit(1 << 20)
            .unwrap_err()
            .status()
            .as_u16(),
        413
    );
}

#[test]
fn target_forms_and_host() {
    let head = ok("GET http://Example.com:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n");
    assert_eq!(head.authority(), Some("Example.com:8080"));
    assert_eq!(head.headers["host"], "other");
    let head = ok("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    assert_eq!(head.uri.port_u16(), Some(443));
    let head = ok("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(head.uri, "*");
    ok("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n");
    ok("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n");
    let head = ok("GET / HTTP/1.1\r\nHost:\r\n\r\n");
    assert_eq!(head.authority(), None);
    ok("PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn targets() {
    refused(
        b"GET /a\xff HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidTarget,
        400,
    );
    refused(
        b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidTarget,
        400,
    );
    for byte in "\"<>\\^`{|}".bytes() {
        let raw = format!("GET /a{}b HTTP/1.1\r\nHost: a\r\n\r\n", byte as char);
        refused(raw.as_bytes(), K::InvalidTarget, 400);
    }
    ok("GET /a-._~%20!$&'()*+,;=:@/?x=[1] HTTP/1.1\r\nHost: a\r\n\r\n");
    refused(
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        K::TargetFormMismatch,
        400,
    );
    refused(
        b"OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n",
        K::TargetFormMismatch,
        400,
    );
    refused(
        b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
        K::TargetFormMismatch,
        400,
    );
    refused(
        b"CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n",
        K::TargetFormMismatch,
        400,
    );
    refused(
        b"CONNECT http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n",
        K::TargetFormMismatch,
        400,
    );
    refused(
        b"CONNECT u@a:80 HTTP/1.1\r\nHost: a\r\n\r\n",
        K::TargetFormMismatch,
        400,
    );
    refused(
        b"GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidTarget,
        400,
    );
    refused(
        b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidTarget,
        400,
    );
    refused(
        b"GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidTarget,
        400,
    );
    refused(
        b"GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidTarget,
        400,
    );
    refused(b"GET x HTTP/1.1\r\nHost: a\r\n\r\n", K::InvalidTarget, 400);
}

#[test]
fn host() {
    refused(b"GET / HTTP/1.1\r\n\r\n", K::MissingHost, 400);
    refused(
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        K::DuplicateHost,
        400,
    );
    refused(
        b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        K::DuplicateHost,
        400,
    );
    refused(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", K::InvalidHost, 400);
    refused(b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", K::InvalidHost, 400);
    refused(b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", K::InvalidHost, 400);
    refused(b"GET / HTTP/1.1\r\nHost: a:\r\n\r\n", K::InvalidHost, 400);
    refused(
        b"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n",
        K::InvalidHost,
        400,
    );
    refused(b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", K::InvalidHost, 400);
    refused(b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", K::InvalidHost, 400);
    refused(b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", K::InvalidHost, 400);
}

#[test]
fn content_length() {
    for bad in [
        "+5", "-5", "5 5", "0x5", "5.0", "", "5,", ",5", "5,,5", "1e3", "\"5\"", "٥",
    ] {
        refused(
            &with_fields(&format!("Content-Length: {bad}\r\n")),
            K::InvalidContentLength,
            400,
        );
    }
    refused(
        &with_fields("Content-Length: 18446744073709551616\r\n"),
        K::InvalidContentLength,
        400,
    );
    refused(
        &with_fields("Content-Length: 5\r\nContent-Length: 6\r\n"),
        K::ConflictingContentLength,
        400,
    );
    refused(
        &with_fields("Content-Length: 5, 6\r\n"),
        K::ConflictingContentLength,
        400,
    );
}

#[test]
fn transfer_encoding() {
    let te = |v: &str| with_fields(&format!("Transfer-Encoding: {v}\r\n"));
    refused(
        &with_fields("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        K::ContentLengthWithTransferEncoding,
        400,
    );
    refused(
        &with_fields("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
        K::ContentLengthWithTransferEncoding,
        400,
    );
    refused(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        K::TransferEncodingInHttp10,
        400,
    );
    refused(&te("chunked, chunked"), K::ChunkedTwice, 400);
    refused(
        &with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        K::ChunkedTwice,
        400,
    );
    refused(&te("chunked, gzip"), K::ChunkedNotFinal, 400);
    refused(
        &with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n"),
        K::ChunkedNotFinal,
        400,
    );
    refused(&te("gzip"), K::ChunkedNotFinal, 400);
    refused(&te("identity"), K::ChunkedNotFinal, 400);
    refused(&te("xchunked"), K::ChunkedNotFinal, 400);
    refused(&te("gzip, chunked"), K::UnsupportedTransferCoding, 501);
    refused(&te("identity, chunked"), K::UnsupportedTransferCoding, 501);
    for bad in [
        "chunked;x",
        "chunked; q=1",
        "\"chunked\"",
        "",
        ",chunked",
        "chunked,",
        "chun ked",
        "chunked , ,",
    ] {
        refused(&te(bad), K::InvalidTransferEncoding, 400);
    }
    refused(
        &with_fields("Transfer-Encoding : chunked\r\n"),
        K::WhitespaceBeforeColon,
        400,
    );
    refused(
        &with_fields("Transfer-Encoding:\x0bchunked\r\n"),
        K::ControlByte,
        400,
    );
    refused(
        &with_fields("Transfer-Encoding:\x0cchunked\r\n"),
        K::ControlByte,
        400,
    );
    refused(
        &with_fields("Transfer-Encoding: chunked\r\n x\r\n"),
        K::ObsFold,
        400,
    );
    refused(&with_fields("Transfer-Encoding: chunked\n"), K::BareLf, 400);
}

#[test]
fn tab_around_chunked_is_ows() {
    let head = ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\t\r\n\r\n");
    assert_eq!(head.framing, Framing::Chunked);
}

#[test]
fn connection_options_must_be_tokens() {
    refused(
        &with_fields("Connection: close;x\r\n"),
        K::InvalidConnection,
        400,
    );
    refused(
        &with_fields("Connection: \"close\"\r\n"),
        K::InvalidConnection,
        400,
    );
}

#[test]
fn limits() {
    let limits = Limits {
        max_head_bytes: 64,
        max_headers: 2,
        max_uri_bytes: 16,
    };
    let parse = |raw: &[u8]| parse_request(raw, &limits);
    let err = |raw: &[u8]| parse(raw).unwrap_err();
    assert_eq!(err(b"GET /aaaaaaaaaaaaaaaaa").kind(), K::UriTooLong);
    assert_eq!(
        err(b"GET /aaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n")
            .status()
            .as_u16(),
        414
    );
    assert!(parse(b"GET /aaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
    let three = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_eq!(err(three).kind(), K::TooManyHeaders);
    assert_eq!(err(three).status().as_u16(), 431);
    let big = b"GET / HTTP/1.1\r\nHost: a\r\nA: 012345678901234567890123456789012345";
    assert_eq!(big.len(), 64);
    assert_eq!(err(big).kind(), K::HeadTooLarge);
    assert_eq!(err(big).status().as_u16(), 431);
    assert_eq!(parse(&big[..63]), Ok(Parsed::Partial));
    let exact = b"GET / HTTP/1.1\r\nHost: a\r\nA: 01234567890123456789012345678901\r\n\r\n";
    assert_eq!(exact.len(), 64);
    assert!(matches!(parse(exact), Ok(Parsed::Complete { len: 64, .. })));
}
