//! parse(write(head)) == head, resumable parsing agrees with one-shot parsing, hostile bytes
//! never panic, and hop-by-hop removal.

use fulcrum_h1::{
    Limits, Parsed, RequestHead, RequestParser, ResponseHead, parse_request, parse_response,
    remove_hop_by_hop, write_response_head,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use proptest::prelude::*;

fn reparse_request(head: &RequestHead) -> RequestHead {
    let mut out = Vec::new();
    head.write(&mut out);
    match parse_request(&out, &Limits::default()) {
        Ok(Parsed::Complete { head, len }) if len == out.len() => head,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&out)),
    }
}

fn request(raw: &str) -> RequestHead {
    match parse_request(raw.as_bytes(), &Limits::default()) {
        Ok(Parsed::Complete { head, .. }) => head,
        other => panic!("{raw:?}: {other:?}"),
    }
}

#[test]
fn target_forms_round_trip() {
    for raw in [
        "GET /a/b?c=d&e HTTP/1.1\r\nHost: a\r\nX: 1\r\nX: 2\r\n\r\n",
        "GET http://a.example:8080/p?q HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET https://a.example HTTP/1.1\r\nHost: a\r\n\r\n",
        "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /u HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n",
        "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    ] {
        let head = request(raw);
        assert_eq!(reparse_request(&head), head, "{raw:?}");
    }
}

#[test]
fn response_round_trip() {
    for raw in [
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200\r\n\r\n",
        "HTTP/1.0 404 Not\tFound\r\nX: \u{e9}\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    ] {
        let Ok(Parsed::Complete { head, .. }) =
            parse_response(raw.as_bytes(), &Limits::default(), &Method::GET)
        else {
            panic!("{raw:?}")
        };
        let mut out = Vec::new();
        head.write(&mut out);
        let again = parse_response(&out, &Limits::default(), &Method::GET);
        assert_eq!(
            again,
            Ok(Parsed::Complete {
                head,
                len: out.len()
            }),
            "{raw:?}"
        );
    }
}

#[test]
fn writer_refuses_to_inject_lines_through_the_reason() {
    let mut out = Vec::new();
    write_response_head(
        http::Version::HTTP_11,
        StatusCode::OK,
        b"OK\r\nX: y",
        &HeaderMap::new(),
        &mut out,
    );
    assert_eq!(out, b"HTTP/1.1 200 \r\n\r\n");
}

#[test]
fn hop_by_hop_fields_are_removed() {
    let mut head = request(
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n\
         Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nX-Kept: 2\r\n\r\n",
    );
    remove_hop_by_hop(&mut head.headers);
    let names: Vec<&str> = head.headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(names, ["host", "x-kept"]);
}

fn arb_request() -> impl Strategy<Value = RequestHead> {
    let methods =
        prop::sample::select(vec![Method::GET, Method::POST, Method::PUT, Method::DELETE]);
    let fields = prop::collection::vec(
        (
            "x-[a-z0-9-]{1,12}",
            "[!-~]([ -~\t\u{80}-\u{ff}]{0,20}[!-~])?",
        ),
        0..10,
    );
    (
        methods,
        "/[a-zA-Z0-9/._~%!$&'()*+,;=:@-]{0,40}(\\?[a-z0-9=&]{0,20})?",
        fields,
        any::<bool>(),
    )
        .prop_map(|(method, path, fields, http10)| {
            let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
            let mut raw = format!("{method} {path} {version}\r\nHost: h.example\r\n").into_bytes();
            for (name, value) in fields {
                let value: Vec<u8> = value.chars().map(|c| c as u32 as u8).collect();
                raw.extend_from_slice(name.as_bytes());
                raw.extend_from_slice(b": ");
                raw.extend_from_slice(&value);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"\r\n");
            match parse_request(&raw, &Limits::default()) {
                Ok(Parsed::Complete { head, .. }) => head,
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&raw)),
            }
        })
}

proptest! {
    #[test]
    fn requests_round_trip(head in arb_request()) {
        prop_assert_eq!(reparse_request(&head), head);
    }

    #[test]
    fn responses_round_trip(
        code in 100u16..1000,
        reason in "[ -~]{0,20}",
        fields in prop::collection::vec(("x-[a-z]{1,8}", "[!-~]{1,10}"), 0..6),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(HeaderName::try_from(name).unwrap(), HeaderValue::try_from(value).unwrap());
        }
        let status = StatusCode::from_u16(code).unwrap();
        let mut out = Vec::new();
        write_response_head(http::Version::HTTP_11, status, reason.as_bytes(), &headers, &mut out);
        let Ok(Parsed::Complete { head, len }) = parse_response(&out, &Limits::default(), &Method::GET) else {
            panic!("{:?}", String::from_utf8_lossy(&out))
        };
        let expected: ResponseHead = ResponseHead { status, reason: reason.into(), headers, ..head.clone() };
        prop_assert_eq!(len, out.len());
        prop_assert_eq!(head, expected);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_request(&bytes, &Limits::default());
        let _ = parse_response(&bytes, &Limits::default(), &Method::GET);
    }

    /// A valid head with one byte changed: feeding it in pieces to a `RequestParser` gives the
    /// same answer as parsing it whole, and if it is still accepted it round-trips.
    #[test]
    fn resumable_parsing_agrees(
        head in arb_request(),
        at in any::<usize>(),
        byte in any::<u8>(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut raw = Vec::new();
        head.write(&mut raw);
        let at = at % raw.len();
        raw[at] = byte;
        let whole = parse_request(&raw, &Limits::default());
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % raw.len()).collect();
        ends.sort_unstable();
        ends.push(raw.len());
        let mut parser = RequestParser::new();
        let mut last = Ok(Parsed::Partial);
        for end in ends {
            last = parser.parse(&raw[..end], &Limits::default());
            if !matches!(last, Ok(Parsed::Partial)) {
                break;
            }
        }
        if let Ok(Parsed::Complete { head, .. }) = &whole {
            prop_assert_eq!(&reparse_request(head), head);
        }
        prop_assert_eq!(last, whole);
    }
}
