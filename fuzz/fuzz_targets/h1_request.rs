//! Request and response heads from arbitrary bytes: no panic; feeding the bytes in two
//! pieces to a resumable parser agrees with parsing them whole; an accepted request
//! round-trips through `write` and `parse`.
#![no_main]

use fulcrum_h1::{Limits, Parsed, RequestParser, parse_request, parse_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_head_bytes: 4096,
        max_headers: 32,
        max_uri_bytes: 1024,
    };
    let whole = parse_request(data, &limits);

    let mut parser = RequestParser::new();
    let at = usize::from(cut) * data.len() / 255;
    let mut pieces = parser.parse(&data[..at], &limits);
    if matches!(pieces, Ok(Parsed::Partial)) {
        pieces = parser.parse(data, &limits);
    }
    assert_eq!(pieces, whole);

    if let Ok(Parsed::Complete { head, .. }) = &whole {
        let mut out = Vec::new();
        head.write(&mut out);
        match parse_request(&out, &limits) {
            Ok(Parsed::Complete { head: again, len }) => {
                assert_eq!(&again, head);
                assert_eq!(len, out.len());
            }
            other => panic!("written head not accepted: {other:?}"),
        }
    }

    for method in [http::Method::GET, http::Method::HEAD, http::Method::CONNECT] {
        let _ = parse_response(data, &limits, &method);
    }
});
