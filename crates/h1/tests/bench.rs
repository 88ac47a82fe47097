//! A tiny benchmark with std::time, ignored by default. Run it optimized:
//! `cargo test --release -p fulcrum-h1 --test bench -- --ignored --nocapture`

use std::hint::black_box;
use std::time::Instant;

use fulcrum_h1::{ChunkedDecoder, Event, Limits, Parsed, parse_request, parse_response};
use http::Method;

/// 394 bytes, 8 fields: what a browser's API call looks like.
pub const TYPICAL: &[u8] = b"GET /api/v1/users/12345/profile?include=settings&lang=en HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: application/json, text/plain, */*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\n\
X-Request-Id: 7f3c9a2e-4b1d-4e8a-9c6f-2d5e8b1a3f7c\r\n\
Cookie: session=abc123def456\r\n\r\n";

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
Content-Length: 1234\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: backend\r\n\
Cache-Control: no-cache\r\n\r\n";

fn time<T>(name: &str, bytes: usize, mut f: impl FnMut() -> T) {
    const ROUNDS: u32 = 5;
    const ITERS: u32 = 200_000;
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..ITERS {
            black_box(f());
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(ITERS));
    }
    let gbps = bytes as f64 / best;
    println!("{name:<46} {best:>8.1} ns/op  ({bytes} bytes, {gbps:.2} GB/s)");
}

#[test]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
fn bench() {
    let limits = Limits::default();
    assert!(matches!(
        parse_request(TYPICAL, &limits),
        Ok(Parsed::Complete { .. })
    ));
    time("parse_request (typical, 8 fields)", TYPICAL.len(), || {
        parse_request(black_box(TYPICAL), &limits).unwrap()
    });
    let mut parser = fulcrum_h1::RequestParser::new();
    time(
        "RequestParser::parse (reused per connection)",
        TYPICAL.len(),
        || parser.parse(black_box(TYPICAL), &limits).unwrap(),
    );
    time(
        "httparse::Request::parse (no HeaderMap)",
        TYPICAL.len(),
        || {
            let mut fields = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut fields);
            req.parse(black_box(TYPICAL)).unwrap().is_complete()
        },
    );
    time(
        "httparse + HeaderMap (copied values)",
        TYPICAL.len(),
        || {
            let mut fields = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut fields);
            req.parse(black_box(TYPICAL)).unwrap();
            let uri = http::Uri::try_from(req.path.unwrap()).unwrap();
            let mut map = http::HeaderMap::with_capacity(req.headers.len());
            for field in req.headers.iter() {
                let name = http::HeaderName::from_bytes(field.name.as_bytes()).unwrap();
                map.append(name, http::HeaderValue::from_bytes(field.value).unwrap());
            }
            (uri, map)
        },
    );
    time("parse_response (5 fields)", RESPONSE.len(), || {
        parse_response(black_box(RESPONSE), &limits, &Method::GET).unwrap()
    });
    let Ok(Parsed::Complete { head, .. }) = parse_request(TYPICAL, &limits) else {
        panic!()
    };
    let mut out = Vec::with_capacity(512);
    time("RequestHead::write", TYPICAL.len(), || {
        out.clear();
        head.write(&mut out);
        out.len()
    });
    let mut body = Vec::new();
    for _ in 0..16 {
        fulcrum_h1::encode_chunk_header(4096, &mut body);
        body.extend_from_slice(&[b'x'; 4096]);
        body.extend_from_slice(b"\r\n");
    }
    fulcrum_h1::encode_last_chunk(&http::HeaderMap::new(), &mut body);
    time("ChunkedDecoder (16 x 4 KiB chunks)", body.len(), || {
        let mut decoder = ChunkedDecoder::new();
        let mut rest = black_box(&body[..]);
        let mut data = 0;
        loop {
            let step = decoder.feed(rest).unwrap();
            rest = &rest[step.consumed..];
            match step.event {
                Event::Data(range) => data += range.len(),
                Event::End(_) => break data,
                Event::NeedMore => unreachable!(),
            }
        }
    });
}
