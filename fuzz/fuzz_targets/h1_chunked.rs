//! Chunked bodies from arbitrary bytes: no panic, and feeding them in two pieces gives the
//! same payload, trailers and error as feeding them whole.
#![no_main]

use fulcrum_h1::{ChunkedDecoder, ErrorKind, Event, Limits};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

type Outcome = Result<(Vec<u8>, Option<(HeaderMap, usize)>), ErrorKind>;

fn decode(pieces: &[&[u8]]) -> Outcome {
    let limits = Limits {
        max_head_bytes: 1024,
        max_headers: 8,
        max_uri_bytes: 0,
    };
    let mut decoder = ChunkedDecoder::with_limits(limits).with_max_body(1 << 20);
    let (mut payload, mut used) = (Vec::new(), 0);
    for &piece in pieces {
        let mut rest = piece;
        loop {
            let step = decoder.feed(rest).map_err(|e| e.kind())?;
            assert!(step.consumed <= rest.len());
            used += step.consumed;
            match step.event {
                Event::Data(range) => payload.extend_from_slice(&rest[range]),
                Event::NeedMore => {
                    assert_eq!(step.consumed, rest.len());
                    break;
                }
                Event::End(trailers) => return Ok((payload, Some((trailers, used)))),
            }
            rest = &rest[step.consumed..];
        }
    }
    Ok((payload, None))
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut) * body.len() / 255;
    assert_eq!(decode(&[body]), decode(&[&body[..at], &body[at..]]));
});
