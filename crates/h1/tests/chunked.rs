//! The chunked decoder: good bodies, every refusal, split feeding, and properties.

use fulcrum_h1::{
    ChunkedDecoder, Error, ErrorKind as K, Event, Limits, encode_chunk_header, encode_last_chunk,
};
use http::HeaderMap;
use proptest::prelude::*;

/// What decoding a whole body gave: payload, trailers, bytes consumed.
type Decoded = (Vec<u8>, HeaderMap, usize);

/// Feeds `pieces` in order, as a proxy would as reads complete.
fn decode_pieces<'a>(
    decoder: &mut ChunkedDecoder,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Option<Decoded>, Error> {
    let (mut payload, mut consumed) = (Vec::new(), 0);
    for mut piece in pieces {
        loop {
            let step = decoder.feed(piece)?;
            consumed += step.consumed;
            match step.event {
                Event::Data(range) => payload.extend_from_slice(&piece[range]),
                Event::NeedMore => {
                    assert_eq!(step.consumed, piece.len(), "NeedMore leaves nothing behind");
                    break;
                }
                Event::End(trailers) => return Ok(Some((payload, trailers, consumed))),
            }
            piece = &piece[step.consumed..];
        }
    }
    Ok(None)
}

fn decode(body: &[u8]) -> Result<Option<Decoded>, Error> {
    decode_pieces(&mut ChunkedDecoder::new(), [body])
}

#[track_caller]
fn ok(body: &[u8]) -> Decoded {
    decode(body)
        .unwrap()
        .unwrap_or_else(|| panic!("incomplete: {body:?}"))
}

#[track_caller]
fn refused(body: &[u8], kind: K) {
    let err = decode(body).expect_err(&String::from_utf8_lossy(body));
    assert_eq!(err.kind(), kind, "{:?}", String::from_utf8_lossy(body));
}

#[test]
fn simple_bodies() {
    let (data, trailers, used) = ok(b"5\r\nhello\r\n0\r\n\r\n");
    assert_eq!((&data[..], trailers.len(), used), (&b"hello"[..], 0, 15));
    let (data, ..) = ok(b"A\r\n0123456789\r\n000001\r\nx\r\n0000\r\n\r\n");
    assert_eq!(data, b"0123456789x");
    let (_, _, used) = ok(b"0\r\n\r\nGET / HTTP/1.1\r\n");
    assert_eq!(used, 5);
    assert_eq!(decode(b"5\r\nhel").unwrap(), None);
}

#[test]
fn extensions() {
    for line in [
        "5;a\r\n",
        "5;a=b\r\n",
        "5 ; a = b\r\n",
        "5\t;\ta\t=\tb\r\n",
        "5;a;b=c;d=\"x y\"\r\n",
        "5;a=\"q\\\"x\\\\\"\r\n",
        "5;a=\"caf\u{e9}\"\r\n",
        "5;a=b ;c\r\n",
        "5;a=\"\" ;c=\"\"\r\n",
    ] {
        let body = format!("{line}hello\r\n0;last=1\r\n\r\n");
        assert_eq!(ok(body.as_bytes()).0, b"hello", "{line:?}");
    }
}

#[test]
fn bad_sizes() {
    refused(b"x\r\n", K::InvalidChunkSize);
    refused(b"\r\n", K::InvalidChunkSize);
    refused(b" 5\r\n", K::InvalidChunkSize);
    refused(b"-5\r\n", K::InvalidChunkSize);
    refused(b"+5\r\n", K::InvalidChunkSize);
    refused(b"0x5\r\n", K::InvalidChunkSize);
    refused(b"5g\r\n", K::InvalidChunkSize);
    refused(b"5,\r\n", K::InvalidChunkSize);
    refused(b"5\n", K::BareLf);
    refused(b"5\rx", K::BareCr);
    refused(b"00000000000000005\r\n", K::ChunkSizeOverflow);
    refused(b"10000000000000000\r\n", K::ChunkSizeOverflow);
    let mut decoder = ChunkedDecoder::new();
    assert_eq!(
        decode_pieces(&mut decoder, [&b"ffffffffffffffff\r\n"[..]]).unwrap(),
        None
    );
    assert_eq!(decoder.body_len(), u64::MAX);
}

#[test]
fn bad_extensions() {
    for line in [
        "5 \r\n",
        "5;\r\n",
        "5;=x\r\n",
        "5;a=\r\n",
        "5;a =\r\n",
        "5;a \r\n",
        "5;a=b \r\n",
        "5;a=b c\r\n",
        "5;a=\"x\r\n",
        "5;a=\"x\"y\r\n",
        "5;a=(b)\r\n",
        "5;a@b\r\n",
        "5;a=\"\\\r\n",
        "5 5\r\n",
    ] {
        refused(line.as_bytes(), K::InvalidChunkExtension);
    }
    refused(b"5;a\0\r\n", K::NulByte);
    refused(b"5;a=\"\x01\"\r\n", K::ControlByte);
    refused(b"5;a=b\n", K::BareLf);
    refused(b"5;a\rx", K::BareCr);
    let long = format!("5;a=\"{}\"\r\n", "x".repeat(4096));
    refused(long.as_bytes(), K::ChunkLineTooLong);
    let fits = format!("5;a={}\r\nhello\r\n0\r\n\r\n", "x".repeat(4096 - 7));
    assert_eq!(ok(fits.as_bytes()).0, b"hello");
}

#[test]
fn data_must_end_with_crlf() {
    refused(b"5\r\nhelloX\r\n0\r\n\r\n", K::MissingChunkCrlf);
    refused(b"5\r\nhello\n0\r\n\r\n", K::MissingChunkCrlf);
    refused(b"5\r\nhello\rX", K::BareCr);
    refused(b"5\r\nhello\r\r\n", K::BareCr);
    refused(b"0\r\n\n", K::BareLf);
    refused(b"0\r\n\rX", K::BareCr);
}

#[test]
fn trailers() {
    let (data, trailers, used) = ok(b"1\r\nx\r\n0\r\nX-Sum: abc\r\nX-Two:\t2 \r\n\r\nnext");
    assert_eq!(data, b"x");
    assert_eq!(trailers["x-sum"], "abc");
    assert_eq!(trailers["x-two"], "2");
    assert_eq!(used, 34);
    refused(b"0\r\nX: a\n\r\n", K::BareLf);
    refused(b"0\r\nX: a\r\n b\r\n\r\n", K::ObsFold);
    refused(b"0\r\nX : a\r\n\r\n", K::WhitespaceBeforeColon);
    refused(b"0\r\nX: a\0\r\n\r\n", K::NulByte);
    refused(b"0\r\nContent-Length: 5\r\n\r\n", K::ForbiddenTrailer);
    refused(
        b"0\r\nTransfer-Encoding: chunked\r\n\r\n",
        K::ForbiddenTrailer,
    );
    refused(b"0\r\nHost: a\r\n\r\n", K::ForbiddenTrailer);
    let limits = Limits {
        max_head_bytes: 16,
        max_headers: 1,
        ..Limits::default()
    };
    let mut decoder = ChunkedDecoder::with_limits(limits);
    let err = decode_pieces(&mut decoder, [&b"0\r\nX: 0123456789abcdef"[..]]).unwrap_err();
    assert_eq!(err.kind(), K::TrailersTooLarge);
    let mut decoder = ChunkedDecoder::with_limits(limits);
    let err = decode_pieces(&mut decoder, [&b"0\r\nA: 1\r\nB: 2\r\n\r\n"[..]]).unwrap_err();
    assert_eq!(err.kind(), K::TooManyHeaders);
}

#[test]
fn body_limit() {
    let mut decoder = ChunkedDecoder::new().with_max_body(10);
    let err = decode_pieces(&mut decoder, [&b"6\r\nabcdef\r\n5\r\n"[..]]).unwrap_err();
    assert_eq!((err.kind(), err.status().as_u16()), (K::BodyTooLarge, 413));
    let mut decoder = ChunkedDecoder::new().with_max_body(10);
    assert!(decode_pieces(&mut decoder, [&b"a\r\n0123456789\r\n0\r\n\r\n"[..]]).is_ok());
}

#[test]
fn end_is_sticky() {
    let mut decoder = ChunkedDecoder::new();
    assert!(
        decode_pieces(&mut decoder, [&b"0\r\n\r\n"[..]])
            .unwrap()
            .is_some()
    );
    assert!(decoder.is_done());
    let step = decoder.feed(b"more").unwrap();
    assert_eq!(
        (step.consumed, step.event),
        (0, Event::End(HeaderMap::new()))
    );
}

const BODY: &[u8] =
    b"3;a=\"x;y\"\r\nabc\r\n10\r\n0123456789abcdef\r\n1 ; b\r\nz\r\n0\r\nT: v\r\nU: w\r\n\r\n";

#[test]
fn every_split_and_byte_by_byte() {
    let whole = ok(BODY);
    assert_eq!(whole.0, b"abc0123456789abcdefz");
    for at in 0..=BODY.len() {
        let (a, b) = BODY.split_at(at);
        let got = decode_pieces(&mut ChunkedDecoder::new(), [a, b])
            .unwrap()
            .unwrap();
        assert_eq!(got, whole, "split at {at}");
    }
    let bytes = BODY.chunks(1);
    assert_eq!(
        decode_pieces(&mut ChunkedDecoder::new(), bytes)
            .unwrap()
            .unwrap(),
        whole
    );
}

#[test]
fn encoders() {
    let mut out = Vec::new();
    for (len, hex) in [
        (1u64, "1"),
        (15, "f"),
        (16, "10"),
        (255, "ff"),
        (4096, "1000"),
        (u64::MAX, "ffffffffffffffff"),
    ] {
        out.clear();
        encode_chunk_header(len, &mut out);
        assert_eq!(out, format!("{hex}\r\n").as_bytes());
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("x-sum", "1".parse().unwrap());
    out.clear();
    encode_last_chunk(&trailers, &mut out);
    assert_eq!(out, b"0\r\nx-sum: 1\r\n\r\n");
}

/// A body encoded with this crate's encoders, and what it carries.
fn encoded(chunks: &[Vec<u8>], trailers: &[(String, String)]) -> (Vec<u8>, Vec<u8>, HeaderMap) {
    let (mut body, mut payload, mut map) = (Vec::new(), Vec::new(), HeaderMap::new());
    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
        encode_chunk_header(chunk.len() as u64, &mut body);
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
        payload.extend_from_slice(chunk);
    }
    for (name, value) in trailers {
        map.append(
            http::HeaderName::try_from(name.as_str()).unwrap(),
            value.parse().unwrap(),
        );
    }
    encode_last_chunk(&map, &mut body);
    (body, payload, map)
}

/// Cuts `bytes` at the given (unsorted, possibly repeated) points.
fn cut<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = points.iter().map(|p| p % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut last = 0;
    let mut pieces: Vec<&[u8]> = points
        .iter()
        .map(|&p| {
            let piece = &bytes[last..p];
            last = p;
            piece
        })
        .collect();
    pieces.push(&bytes[last..]);
    pieces
}

proptest! {
    #[test]
    fn random_chunkings_decode_to_the_payload(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
        trailers in prop::collection::vec(("x-[a-z0-9]{1,8}", "[!-~]([ -~]{0,10}[!-~])?"), 0..3),
        points in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let (body, payload, map) = encoded(&chunks, &trailers);
        let got = decode_pieces(&mut ChunkedDecoder::new(), cut(&body, &points)).unwrap();
        prop_assert_eq!(got, Some((payload, map, body.len())));
    }

    #[test]
    fn garbage_never_panics(
        garbage in prop::collection::vec(any::<u8>(), 0..200),
        points in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let _ = decode_pieces(&mut ChunkedDecoder::new(), cut(&garbage, &points));
    }

    #[test]
    fn mutated_bodies_never_panic_and_split_feeding_agrees(
        at in any::<usize>(),
        byte in any::<u8>(),
        points in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut body = BODY.to_vec();
        let at = at % body.len();
        body[at] = byte;
        let whole = decode(&body);
        let split = decode_pieces(&mut ChunkedDecoder::new(), cut(&body, &points));
        prop_assert_eq!(whole.map_err(|e| e.kind()), split.map_err(|e| e.kind()));
    }
}
