//! Response heads: status lines and RFC 9112 §6.3 framing.

use fulcrum_h1::{
    ErrorKind as K, Framing, Limits, Parsed, ResponseHead, ResponseParser, parse_response,
};
use http::{Method, StatusCode, Version};

/// Parses with [`parse_response`], which goes through the raw parser
/// ([`ResponseParser::parse_raw`]) and builds the `HeaderMap` from its fields.
fn parse(raw: &[u8], method: &Method) -> Result<Parsed<ResponseHead>, fulcrum_h1::Error> {
    parse_response(raw, &Limits::default(), method)
}

#[test]
fn raw_fields_keep_case_order_and_trimmed_values() {
    let raw = b"HTTP/1.1 200 OK\r\nX-One:  a b \r\nx-two:\t2\r\nX-ONE: c\r\nEmpty:\r\n\r\n";
    let Ok(Parsed::Complete { head, .. }) =
        ResponseParser::new().parse_raw(raw, &Limits::default(), &Method::GET)
    else {
        panic!("not parsed")
    };
    let fields: Vec<_> = head.fields.iter().collect();
    let expected: [(&[u8], &[u8]); 4] = [
        (b"X-One", b"a b"),
        (b"x-two", b"2"),
        (b"X-ONE", b"c"),
        (b"Empty", b""),
    ];
    assert_eq!(fields, expected);
    assert_eq!(head.fields.get("x-one"), Some(&b"a b"[..]));
    assert_eq!(head.fields.get_all("X-one").count(), 2);
    assert_eq!(head.fields.get("missing"), None);
    assert_eq!(head.fields.len(), 4);
}

#[track_caller]
fn ok_for(raw: &str, method: &Method) -> ResponseHead {
    match parse(raw.as_bytes(), method) {
        Ok(Parsed::Complete { head, len }) => {
            assert_eq!(len, raw.len(), "{raw:?}");
            head
        }
        other => panic!("{raw:?}: {other:?}"),
    }
}

#[track_caller]
fn ok(raw: &str) -> ResponseHead {
    ok_for(raw, &Method::GET)
}

#[track_caller]
fn refused(raw: &[u8], kind: K) {
    let err = parse(raw, &Method::GET).expect_err(&String::from_utf8_lossy(raw));
    assert_eq!(err.kind(), kind, "{:?}", String::from_utf8_lossy(raw));
}

#[test]
fn status_line() {
    let head = ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(&head.reason[..], b"OK");
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.framing, Framing::Length(5));
    assert!(head.keep_alive && !head.tunnel);
    let head = ok("HTTP/1.0 404 Not\tFound \u{e9}\r\n\r\n");
    assert_eq!(&head.reason[..], "Not\tFound \u{e9}".as_bytes());
    assert!(!head.keep_alive);
    assert_eq!(head.framing, Framing::UntilClose);
    assert_eq!(&ok("HTTP/1.1 200 \r\n\r\n").reason[..], b"");
    assert_eq!(&ok("HTTP/1.1 200\r\n\r\n").reason[..], b"");
    assert_eq!(ok("HTTP/1.1 599 x\r\n\r\n").status.as_u16(), 599);
    // A reason other than the canonical one, or in another case, is kept as sent.
    assert_eq!(
        &ok("HTTP/1.1 404 Not Found\r\n\r\n").reason[..],
        b"Not Found"
    );
    assert_eq!(&ok("HTTP/1.1 200 ok\r\n\r\n").reason[..], b"ok");
    assert_eq!(
        &ok("HTTP/1.1 404 Gone fishing\r\n\r\n").reason[..],
        b"Gone fishing"
    );
}

#[test]
fn bad_status_lines() {
    refused(b"HTTP/1.1 20 OK\r\n\r\n", K::InvalidStatusLine);
    refused(b"HTTP/1.1 2000 OK\r\n\r\n", K::InvalidStatusLine);
    refused(b"HTTP/1.1 2x0 OK\r\n\r\n", K::InvalidStatusLine);
    refused(b"HTTP/1.1 099 OK\r\n\r\n", K::InvalidStatusLine);
    refused(b"HTTP/1.1  200 OK\r\n\r\n", K::InvalidStatusLine);
    refused(b"HTTP/1.1\r\n\r\n", K::InvalidStatusLine);
    refused(b"HTTP/1.1 200OK\r\n\r\n", K::InvalidStatusLine);
    refused(b"HTTP/1.1\t200 OK\r\n\r\n", K::ControlByte);
    refused(b"HTTP/1.1 200 O\x01K\r\n\r\n", K::ControlByte);
    refused(b"HTTP/1.1 200 OK\n\r\n", K::BareLf);
    refused(b"HTTP/1.1 200 OK\r\n\n", K::BareLf);
    refused(b"\r\nHTTP/1.1 200 OK\r\n\r\n", K::InvalidStatusLine);
    refused(b"http/1.1 200 OK\r\n\r\n", K::InvalidVersion);
    refused(b"HTTP/1.10 200 OK\r\n\r\n", K::InvalidVersion);
    refused(b"HTTP/2.0 200 OK\r\n\r\n", K::UnsupportedVersion);
    refused(b"ICY 200 OK\r\n\r\n", K::InvalidVersion);
    refused(
        b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
        K::WhitespaceBeforeColon,
    );
    refused(b"HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", K::ObsFold);
}

#[test]
fn no_body_statuses_and_head() {
    for raw in [
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let head = ok(raw);
        assert_eq!(head.framing, Framing::None, "{raw:?}");
        assert!(head.keep_alive, "{raw:?}");
    }
    let head = ok_for(
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        &Method::HEAD,
    );
    assert_eq!(head.framing, Framing::None);
    let head = ok_for(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        &Method::HEAD,
    );
    assert_eq!(head.framing, Framing::None);
}

#[test]
fn tunnels() {
    let head =
        ok("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert!(head.tunnel && !head.keep_alive);
    assert_eq!(head.framing, Framing::None);
    let head = ok_for(
        "HTTP/1.1 200 Connection established\r\n\r\n",
        &Method::CONNECT,
    );
    assert!(head.tunnel);
    assert_eq!(head.framing, Framing::None);
    let head = ok_for(
        "HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n",
        &Method::CONNECT,
    );
    assert!(!head.tunnel);
    assert_eq!(head.framing, Framing::Length(0));
}

#[test]
fn body_framing() {
    assert_eq!(
        ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").framing,
        Framing::Chunked
    );
    let head = ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(head.framing, Framing::Chunked);
    let head = ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    assert_eq!(head.framing, Framing::UntilClose);
    assert!(!head.keep_alive);
    let head = ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
    assert_eq!(head.framing, Framing::UntilClose);
    let head = ok("HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(head.framing, Framing::UntilClose);
    assert!(!head.keep_alive);
    let head = ok("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n");
    assert!(head.keep_alive);
    let head = ok("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n");
    assert!(!head.keep_alive);
}

#[test]
fn refused_framing() {
    refused(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        K::ContentLengthWithTransferEncoding,
    );
    refused(
        b"HTTP/1.1 204 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        K::ContentLengthWithTransferEncoding,
    );
    refused(
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        K::TransferEncodingInHttp10,
    );
    refused(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        K::ChunkedTwice,
    );
    refused(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
        K::InvalidTransferEncoding,
    );
    refused(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        K::ConflictingContentLength,
    );
    refused(
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        K::InvalidContentLength,
    );
}

#[test]
fn partial_and_limits() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    for end in 0..raw.len() - 5 {
        assert_eq!(
            parse(&raw[..end], &Method::GET),
            Ok(Parsed::Partial),
            "{end}"
        );
    }
    let limits = Limits {
        max_head_bytes: 32,
        max_headers: 1,
        max_uri_bytes: 1,
    };
    let err = parse_response(
        b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n",
        &limits,
        &Method::GET,
    );
    assert_eq!(err.unwrap_err().kind(), K::TooManyHeaders);
    let err = parse_response(&[b'H'; 40], &limits, &Method::GET);
    assert_eq!(err.unwrap_err().kind(), K::InvalidVersion);
    let err = parse_response(
        b"HTTP/1.1 200 OK\r\nA: 0123456789012",
        &limits,
        &Method::GET,
    );
    assert_eq!(err.unwrap_err().kind(), K::HeadTooLarge);
}
