//! Request heads: what is accepted, and refusals at the byte, line and request-line level.

mod common;

use common::{ok, parse, refused};
use fulcrum_h1::{ErrorKind as K, Framing, Limits, Parsed, RequestParser};
use http::{Method, Version};

const TYPICAL: &str = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5\r\n\
    Accept: */*\r\nX-Empty:\r\nX-Tab:\tv \t\r\n\r\n";

#[test]
fn typical_request() {
    let head = ok(TYPICAL);
    assert_eq!(head.method, Method::GET);
    assert_eq!(head.uri, "/index.html?q=1");
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.headers["host"], "example.com");
    assert_eq!(head.headers["user-agent"], "curl/8.5");
    assert_eq!(head.headers["x-empty"], "");
    assert_eq!(head.headers["x-tab"], "v");
    assert_eq!(head.framing, Framing::None);
    assert!(head.keep_alive && !head.upgrade && !head.expect_continue);
    assert_eq!(head.authority(), Some("example.com"));
}

#[test]
fn every_prefix_is_partial_and_body_bytes_are_left() {
    for end in 0..TYPICAL.len() {
        assert_eq!(
            parse(&TYPICAL.as_bytes()[..end]),
            Ok(Parsed::Partial),
            "{end}"
        );
    }
    let with_body = format!("{TYPICAL}BODY");
    let Ok(Parsed::Complete { len, .. }) = parse(with_body.as_bytes()) else {
        panic!()
    };
    assert_eq!(len, TYPICAL.len());
}

#[test]
fn resumable_parser_fed_byte_by_byte() {
    let mut parser = RequestParser::new();
    let raw = TYPICAL.as_bytes();
    for end in 0..raw.len() {
        assert_eq!(
            parser.parse(&raw[..end], &Limits::default()),
            Ok(Parsed::Partial)
        );
    }
    let whole = parser.parse(raw, &Limits::default());
    assert_eq!(whole, parse(raw));
    // After a complete head the parser starts over.
    assert_eq!(parser.parse(raw, &Limits::default()), whole);
}

#[test]
fn many_fields_fed_in_pieces_keep_their_order() {
    // More field lines than the scanner keeps inline, arriving a few bytes at a time.
    let mut raw = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
    for i in 0..40 {
        raw.push_str(&format!("X-F{i}: v{i}\r\n"));
    }
    raw.push_str("\r\n");
    let mut parser = RequestParser::new();
    let bytes = raw.as_bytes();
    for end in (0..bytes.len()).step_by(7) {
        assert_eq!(
            parser.parse(&bytes[..end], &Limits::default()),
            Ok(Parsed::Partial)
        );
    }
    let Ok(Parsed::Complete { head, .. }) = parser.parse(bytes, &Limits::default()) else {
        panic!("not parsed")
    };
    assert_eq!(head.headers.len(), 41);
    for i in 0..40 {
        assert_eq!(
            head.headers[format!("x-f{i}").as_str()],
            format!("v{i}").as_str()
        );
    }
    // The parser starts over with its marks cleared.
    assert_eq!(ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n").headers.len(), 1);
    let again = parser.parse(
        b"GET / HTTP/1.1\r\nHost: a\r\nB: c\r\n\r\n",
        &Limits::default(),
    );
    let Ok(Parsed::Complete { head, .. }) = again else {
        panic!("not parsed")
    };
    assert_eq!(head.headers["b"], "c");
    assert_eq!(head.headers.len(), 2);
}

#[test]
fn leading_empty_lines() {
    ok("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    ok("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    refused(
        b"\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        K::TooManyEmptyLines,
        400,
    );
    refused(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", K::BareLf, 400);
}

#[test]
fn line_endings_and_bytes() {
    refused(b"GET / HTTP/1.1\nHost: a\r\n\r\n", K::BareLf, 400);
    refused(b"GET / HTTP/1.1\r\nHost: a\n\r\n", K::BareLf, 400);
    refused(b"GET / HTTP/1.1\r\nHost: a\r\n\n", K::BareLf, 400);
    refused(b"GET / HTTP/1.1\r\nHost: a\r\n\r\r", K::BareCr, 400);
    refused(b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", K::BareCr, 400);
    refused(
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
        K::BareCr,
        400,
    );
    refused(b"GET / HTTP/1.1\rHost: a\r\n\r\n", K::BareCr, 400);
    refused(b"GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", K::NulByte, 400);
    refused(b"GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", K::NulByte, 400);
    refused(b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", K::NulByte, 400);
    refused(
        b"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
        K::ControlByte,
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\nHost: a\x1b[0m\r\n\r\n",
        K::ControlByte,
        400,
    );
    refused(b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", K::ControlByte, 400);
    refused(
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        K::ObsFold,
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n",
        K::ObsFold,
        400,
    );
    refused(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", K::ObsFold, 400);
}

#[test]
fn field_names() {
    refused(
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        K::WhitespaceBeforeColon,
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
        K::WhitespaceBeforeColon,
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\nX Y: a\r\nHost: a\r\n\r\n",
        K::WhitespaceBeforeColon,
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n",
        K::EmptyFieldName,
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\nX(y): a\r\nHost: a\r\n\r\n",
        K::InvalidFieldName,
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\nX\xe9: a\r\nHost: a\r\n\r\n",
        K::InvalidFieldName,
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n",
        K::MissingColon,
        400,
    );
}

#[test]
fn obs_text_in_values_is_kept() {
    let head = ok("GET / HTTP/1.1\r\nHost: a\r\nX: caf\u{e9}\r\n\r\n");
    assert_eq!(head.headers["x"].as_bytes(), "caf\u{e9}".as_bytes());
}

#[test]
fn request_line() {
    refused(
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidRequestLine,
        400,
    );
    refused(
        b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidRequestLine,
        400,
    );
    refused(
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        K::InvalidRequestLine,
        400,
    );
    refused(
        b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        K::InvalidRequestLine,
        400,
    );
    refused(b"GET /\r\n\r\n", K::InvalidRequestLine, 400);
    refused(b"GET / \r\nHost: a\r\n\r\n", K::InvalidVersion, 400);
    refused(b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", K::InvalidMethod, 400);
    refused(b"G\"T / HTTP/1.1\r\nHost: a\r\n\r\n", K::InvalidMethod, 400);
    refused(&[b'M'; 40], K::InvalidMethod, 400);
    refused(b"GET / http/1.1\r\nHost: a\r\n\r\n", K::InvalidVersion, 400);
    refused(b"GET / HTTP/1.1x\r\n", K::InvalidVersion, 400);
    refused(b"GET / HTTP/11\r\nHost: a\r\n\r\n", K::InvalidVersion, 400);
    refused(
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        K::UnsupportedVersion,
        505,
    );
    refused(
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        K::UnsupportedVersion,
        505,
    );
    refused(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        K::UnsupportedVersion,
        505,
    );
    refused(b"GET / HTTP/0.9\r\n\r\n", K::UnsupportedVersion, 505);
}
