//! Helpers shared by the request tests.
#![allow(dead_code)]

use fulcrum_h1::{ErrorKind, Limits, Parsed, RequestHead, parse_request};

pub fn parse(raw: &[u8]) -> Result<Parsed<RequestHead>, fulcrum_h1::Error> {
    parse_request(raw, &Limits::default())
}

#[track_caller]
pub fn ok(raw: &str) -> RequestHead {
    match parse(raw.as_bytes()) {
        Ok(Parsed::Complete { head, len }) => {
            assert_eq!(len, raw.len(), "{raw:?}");
            head
        }
        other => panic!("{raw:?}: {other:?}"),
    }
}

/// Asserts that `raw` is refused for `kind`, answered with `status`.
#[track_caller]
pub fn refused(raw: &[u8], kind: ErrorKind, status: u16) {
    let err = parse(raw).expect_err(&String::from_utf8_lossy(raw));
    assert_eq!(err.kind(), kind, "{:?}", String::from_utf8_lossy(raw));
    assert_eq!(
        err.status().as_u16(),
        status,
        "{:?}",
        String::from_utf8_lossy(raw)
    );
    assert!(!err.reason().is_empty());
}

/// A POST with Host and these extra field lines.
pub fn with_fields(fields: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes()
}
