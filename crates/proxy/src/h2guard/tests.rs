//! The guard's tests: floods against a real h2 server, GOAWAY on the wire, normal traffic untouched.
use super::guard::*;
use super::scan::*;
use super::*;

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

// ----- raw frames -----

fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(HEAD_LEN + payload.len());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.push(ty);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// HPACK for `GET http://localhost/` from static-table entries only (:method GET,
/// :scheme http, :path /, :authority as a literal without indexing).
const GET_BLOCK: &[u8] = b"\x82\x86\x84\x01\x09localhost";

/// A request on `stream` (END_HEADERS, and END_STREAM when `end`).
fn get(stream: u32, end: bool) -> Vec<u8> {
    let flags = FLAG_END_HEADERS | if end { FLAG_END_STREAM } else { 0 };
    frame(HEADERS, flags, stream, GET_BLOCK)
}

/// The client preface and an empty SETTINGS frame.
fn preamble() -> Vec<u8> {
    let mut p = PREFACE.to_vec();
    p.extend(frame(SETTINGS, 0, 0, &[]));
    p
}

fn ping(ack: bool) -> Vec<u8> {
    frame(PING, if ack { FLAG_ACK } else { 0 }, 0, &[7; 8])
}

fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

// ----- servers -----

/// h2's own limits far out of the way, so that the guard is what trips.
fn loose_h2() -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(100_000)
        .max_pending_accept_reset_streams(1_000_000)
        .max_local_error_reset_streams(None)
        .max_header_list_size(16 << 20);
    b
}

/// Answers every request with 200: an empty body, or 256 KiB for `/big`.
async fn serve_h2<T: AsyncRead + AsyncWrite + Unpin>(io: T, builder: h2::server::Builder) {
    let Ok(mut conn) = builder.handshake::<_, Bytes>(io).await else {
        return;
    };
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        let big = req.uri().path() == "/big";
        tokio::spawn(async move {
            let Ok(mut body) = respond.send_response(http::Response::new(()), !big) else {
                return;
            };
            if big {
                let _ = body.send_data(Bytes::from(vec![b'x'; 256 * 1024]), true);
            }
        });
    }
}

const BIG: usize = 1024 * 1024;

/// Echoes the request body; `/big` answers 1 MiB.
async fn echo(req: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/big" {
        return Ok(http::Response::new(Full::new(Bytes::from(vec![b'x'; BIG]))));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    Ok(http::Response::new(Full::new(body)))
}

/// hyper's HTTP/2 server with [`server_builder_settings`].
async fn serve_hyper<T>(io: T)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    server_builder_settings(&mut b, &Limits::DEFAULT);
    let _ = b
        .serve_connection(TokioIo::new(io), hyper::service::service_fn(echo))
        .await;
}

// ----- the raw client -----

#[derive(Debug, Default)]
struct Seen {
    frames: u64,
    data_frames: u64,
    /// (last-stream-id, error code, debug data)
    goaways: Vec<(u32, u32, Vec<u8>)>,
    frames_after_goaway: u64,
    /// Clean EOF at a frame boundary.
    eof: bool,
    /// A read error (e.g. a reset) ended the reading.
    error: Option<io::ErrorKind>,
}

/// Reads into `buf` until full or EOF; returns how much was read.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut at = 0;
    while at < buf.len() {
        let n = r.read(&mut buf[at..]).await?;
        if n == 0 {
            break;
        }
        at += n;
    }
    Ok(at)
}

/// Reads the server's frames until EOF, checking each is well formed.
async fn read_frames<R: AsyncRead + Unpin>(mut r: R) -> Seen {
    let mut seen = Seen::default();
    let mut head = [0u8; HEAD_LEN];
    loop {
        match read_full(&mut r, &mut head).await {
            Ok(0) => {
                seen.eof = true;
                return seen;
            }
            Ok(HEAD_LEN) => {}
            Ok(n) => panic!("EOF inside a frame header ({n} bytes): {seen:?}"),
            Err(e) => {
                seen.error = Some(e.kind());
                return seen;
            }
        }
        let h = FrameHead::parse(&head);
        assert!(
            h.ty <= CONTINUATION && h.len <= 16_384,
            "malformed frame from the server: {h:?} after {seen:?}"
        );
        let mut payload = vec![0u8; h.len as usize];
        match read_full(&mut r, &mut payload).await {
            Ok(n) if n == payload.len() => {}
            Ok(n) => panic!("EOF inside a {h:?} frame ({n} bytes): {seen:?}"),
            Err(e) => {
                seen.error = Some(e.kind());
                return seen;
            }
        }
        seen.frames += 1;
        if h.ty == DATA {
            seen.data_frames += 1;
        }
        if h.ty == GOAWAY {
            assert!(h.len >= 8 && h.stream == 0, "malformed GOAWAY {h:?}");
            let last = u32::from_be_bytes(payload[0..4].try_into().unwrap()) & 0x7fff_ffff;
            let code = u32::from_be_bytes(payload[4..8].try_into().unwrap());
            seen.goaways.push((last, code, payload[8..].to_vec()));
            seen.frames_after_goaway = 0;
        } else {
            seen.frames_after_goaway += 1;
        }
    }
}

/// Sends `preamble`, then `unit(0..units)`: as fast as the server reads, or one at a time
/// every `pace`. Meanwhile reads what the server sends until its EOF (bounded by a timeout).
async fn flood<T, F>(
    io: T,
    preamble: Vec<u8>,
    pace: Option<Duration>,
    mut unit: F,
    units: u32,
) -> Seen
where
    T: AsyncRead + AsyncWrite + Send + 'static,
    F: FnMut(u32) -> Vec<u8> + Send + 'static,
{
    let (r, mut w) = tokio::io::split(io);
    let writer = tokio::spawn(async move {
        if w.write_all(&preamble).await.is_err() {
            return;
        }
        let mut batch = Vec::new();
        for i in 0..units {
            batch.extend(unit(i));
            if let Some(pace) = pace {
                tokio::time::sleep(pace).await;
            }
            if batch.len() >= 16 * 1024 || pace.is_some() {
                if w.write_all(&batch).await.is_err() {
                    return;
                }
                batch.clear();
            }
        }
        let _ = w.write_all(&batch).await;
        // Keep our write side open: the server is the one to close.
        std::future::pending::<()>().await;
    });
    let seen = tokio::time::timeout(Duration::from_secs(10), read_frames(r))
        .await
        .expect("the server did not close the connection in time");
    writer.abort();
    seen
}

/// Floods a guarded loose h2 server over a duplex pipe; returns what the client saw and
/// the guard's violation.
async fn guarded_flood<F>(
    limits: Limits,
    extra: Vec<u8>,
    unit: F,
    units: u32,
) -> (Seen, Option<Violation>)
where
    F: FnMut(u32) -> Vec<u8> + Send + 'static,
{
    let serve = |guard| serve_h2(guard, loose_h2());
    flood_guarded(limits, serve, extra, unit, units).await
}

/// Floods `serve`, behind an [`H2Guard`] with `limits`, over a duplex pipe: the preface, the
/// `extra` bytes, then `units` units; returns what the client saw and the guard's violation.
async fn flood_guarded<S, Fut, F>(
    limits: Limits,
    serve: S,
    extra: Vec<u8>,
    unit: F,
    units: u32,
) -> (Seen, Option<Violation>)
where
    S: FnOnce(H2Guard<DuplexStream>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
    F: FnMut(u32) -> Vec<u8> + Send + 'static,
{
    let (client, server) = tokio::io::duplex(64 * 1024);
    let guard = H2Guard::new(server, limits);
    let report = guard.report();
    let srv = tokio::spawn(serve(guard));
    let mut pre = preamble();
    pre.extend(extra);
    let seen = flood(client, pre, None, unit, units).await;
    tokio::time::timeout(Duration::from_secs(5), srv)
        .await
        .expect("the server task did not end")
        .unwrap();
    (seen, report.get())
}

/// The client read a well-formed GOAWAY with `code` as the last frame, then EOF.
fn assert_goaway(seen: &Seen, code: u32) -> (u32, Vec<u8>) {
    let Some((last, got, debug)) = seen.goaways.last() else {
        panic!("no GOAWAY: {seen:?}");
    };
    assert_eq!(*got, code, "GOAWAY error code: {seen:?}");
    assert_eq!(
        seen.frames_after_goaway, 0,
        "frames after the GOAWAY: {seen:?}"
    );
    assert!(seen.eof, "no EOF after the GOAWAY: {seen:?}");
    (*last, debug.clone())
}

/// A guard violation of `kind` ended the connection with the guard's GOAWAY.
fn assert_guard_goaway(seen: &Seen, violation: Option<Violation>, kind: ViolationKind) -> u32 {
    let v = violation.unwrap_or_else(|| panic!("no violation; client saw {seen:?}"));
    assert_eq!(v.kind, kind, "{v}");
    let (last, debug) = assert_goaway(seen, kind.error_code());
    assert_eq!(debug, kind.as_str().as_bytes());
    assert_eq!(seen.goaways.len(), 1, "{seen:?}");
    last
}

// ----- floods -----

#[tokio::test]
async fn rapid_reset_flood() {
    let unit = |i: u32| {
        let id = 2 * i + 1;
        let mut u = get(id, true);
        u.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
        u
    };
    let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 10_000).await;
    let last = assert_guard_goaway(&seen, v, ViolationKind::RstStreamFlood);
    // Streams up to about the 200th were passed to h2.
    assert!(
        last % 2 == 1 && (301..=1201).contains(&last),
        "last stream {last}"
    );
}

#[tokio::test]
async fn settings_flood() {
    let unit = |_| frame(SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 0]);
    let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 1_000).await;
    assert_eq!(
        assert_guard_goaway(&seen, v, ViolationKind::SettingsFlood),
        0
    );
}

#[tokio::test]
async fn ping_flood() {
    let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], |_| ping(false), 5_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::PingFlood);
}

#[tokio::test]
async fn unsolicited_ping_ack_flood() {
    let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], |_| ping(true), 5_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood);
}

#[tokio::test]
async fn priority_flood() {
    let unit = |i: u32| frame(PRIORITY, 0, 2 * i + 1, &[0, 0, 0, 0, 16]);
    let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 5_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::PriorityFlood);
}

#[tokio::test]
async fn window_update_flood() {
    let unit = |_| window_update(0, 1);
    let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 10_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::WindowUpdateFlood);
}

#[tokio::test]
async fn zero_window_update_flood() {
    // On streams (on the connection h2 itself fails at the first one).
    let unit = |i: u32| {
        let mut u = get(2 * i + 1, true);
        u.extend(window_update(2 * i + 1, 0));
        u
    };
    let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 5_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood);
}

#[tokio::test]
async fn empty_data_flood() {
    let unit = |_| frame(DATA, 0, 1, &[]);
    let (seen, v) = guarded_flood(Limits::DEFAULT, get(1, false), unit, 10_000).await;
    assert_eq!(
        assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood),
        1
    );
}

#[tokio::test]
async fn empty_padded_data_flood() {
    // Padding only: as empty as no payload.
    let unit = |_| frame(DATA, FLAG_PADDED, 1, &[3, 0, 0, 0]);
    let (seen, v) = guarded_flood(Limits::DEFAULT, get(1, false), unit, 10_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood);
}

#[tokio::test]
async fn empty_continuation_flood() {
    // Each request's header block ends with an empty CONTINUATION.
    let unit = |i: u32| {
        let id = 2 * i + 1;
        let mut u = frame(HEADERS, FLAG_END_STREAM, id, GET_BLOCK);
        u.extend(frame(CONTINUATION, FLAG_END_HEADERS, id, &[]));
        u
    };
    let (seen, v) = guarded_flood(Limits::DEFAULT, vec![], unit, 5_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::EmptyFrameFlood);
}

#[tokio::test]
async fn continuation_flood_large_block() {
    // One header block that never ends, in full-size frames.
    let opening = frame(HEADERS, FLAG_END_STREAM, 1, GET_BLOCK);
    // Index 16 of the static table: accept-encoding: gzip, deflate.
    let unit = |_| frame(CONTINUATION, 0, 1, &[0x90; 16_000]);
    let (seen, v) = guarded_flood(Limits::DEFAULT, opening, unit, 1_000).await;
    // Stream 1 never reached h2 whole; it may count as seen.
    assert!(assert_guard_goaway(&seen, v, ViolationKind::HeaderBlockTooLarge) <= 1);
}

#[tokio::test]
async fn continuation_flood_many_frames() {
    let opening = frame(HEADERS, FLAG_END_STREAM, 1, GET_BLOCK);
    let unit = |_| frame(CONTINUATION, 0, 1, &[0x82]);
    let (seen, v) = guarded_flood(Limits::DEFAULT, opening, unit, 1_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::TooManyContinuations);
}

#[tokio::test]
async fn huge_header_block_in_one_request() {
    // 80 KiB of encoded headers (one literal header field) in HEADERS + 4 CONTINUATIONs.
    let mut block = GET_BLOCK.to_vec();
    let value_len: usize = 80 * 1024;
    block.extend_from_slice(&[0x00, 5]);
    block.extend_from_slice(b"x-big");
    hpack_int(&mut block, 0x00, 7, value_len);
    block.resize(block.len() + value_len, b'a');
    let chunks: Vec<&[u8]> = block.chunks(16_384).collect();
    let mut raw = frame(HEADERS, FLAG_END_STREAM, 1, chunks[0]);
    for (i, c) in chunks.iter().enumerate().skip(1) {
        let flags = if i == chunks.len() - 1 {
            FLAG_END_HEADERS
        } else {
            0
        };
        raw.extend(frame(CONTINUATION, flags, 1, c));
    }
    let (seen, v) = guarded_flood(Limits::DEFAULT, raw, |_| vec![], 0).await;
    assert_guard_goaway(&seen, v, ViolationKind::HeaderBlockTooLarge);
}

#[tokio::test]
async fn broken_header_block() {
    let mut raw = frame(HEADERS, FLAG_END_STREAM, 1, GET_BLOCK);
    raw.extend(ping(false));
    let (seen, v) = guarded_flood(Limits::DEFAULT, raw, |_| vec![], 0).await;
    assert_guard_goaway(&seen, v, ViolationKind::BrokenHeaderBlock);
}

#[tokio::test]
async fn oversized_frame() {
    // Only the header of a 1 MiB DATA frame: the guard does not wait for the payload.
    let mut raw = get(1, false);
    raw.extend_from_slice(&[0x10, 0, 0, DATA, 0, 0, 0, 0, 1]);
    let (seen, v) = guarded_flood(Limits::DEFAULT, raw, |_| vec![], 0).await;
    assert_eq!(
        assert_guard_goaway(&seen, v, ViolationKind::FrameTooLarge),
        1
    );
}

#[tokio::test]
async fn new_stream_flood_when_limited() {
    let limits = Limits {
        new_streams: Some(Rate::new(100, 100)),
        ..Limits::DEFAULT
    };
    let (seen, v) = guarded_flood(limits, vec![], |i| get(2 * i + 1, true), 5_000).await;
    assert_guard_goaway(&seen, v, ViolationKind::StreamFlood);
}

/// Appends an HPACK integer with an `n`-bit prefix.
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// Floods a guarded hyper server (with [`server_builder_settings`]) over a duplex pipe.
async fn guarded_hyper_flood<F>(extra: Vec<u8>, unit: F, units: u32) -> (Seen, Option<Violation>)
where
    F: FnMut(u32) -> Vec<u8> + Send + 'static,
{
    flood_guarded(Limits::DEFAULT, serve_hyper, extra, unit, units).await
}

#[tokio::test]
async fn too_many_streams() {
    // Streams that stay open (no END_STREAM; the service waits for the body), far beyond
    // max_concurrent_streams: h2 refuses them, and ends the connection with GOAWAY after
    // MAX_LOCAL_ERROR_RESET_STREAMS refusals. The guard passes its GOAWAY and EOF along.
    let (seen, v) = guarded_hyper_flood(vec![], |i| get(2 * i + 1, false), 5_000).await;
    assert_eq!(v, None);
    assert_goaway(&seen, ENHANCE_YOUR_CALM);
}

#[tokio::test]
async fn huge_decoded_header_lists() {
    // HPACK amplification: a 3000-byte header in the dynamic table, referenced 30 times
    // per request (91 KiB decoded > MAX_HEADER_LIST_SIZE from 45 encoded bytes). h2
    // refuses each such request; repeated, it ends the connection with GOAWAY.
    let unit = |i: u32| {
        let mut block = GET_BLOCK.to_vec();
        if i == 0 {
            block.extend_from_slice(&[0x40, 5]);
            block.extend_from_slice(b"x-big");
            hpack_int(&mut block, 0x00, 7, 3000);
            block.resize(block.len() + 3000, b'a');
        }
        block.extend_from_slice(&[0x80 | 62; 30]);
        frame(
            HEADERS,
            FLAG_END_STREAM | FLAG_END_HEADERS,
            2 * i + 1,
            &block,
        )
    };
    let (seen, v) = guarded_hyper_flood(vec![], unit, 5_000).await;
    assert_eq!(v, None);
    assert_goaway(&seen, ENHANCE_YOUR_CALM);
}

// ----- write side, socket, slow clients -----

/// Cuts reads to 7 bytes and writes to `max_write`, and answers every other write Pending:
/// frames straddle every boundary, and h2 is often mid-frame.
struct Choppy<T> {
    inner: T,
    max_write: usize,
    writes: u64,
}

impl<T: AsyncRead + Unpin> AsyncRead for Choppy<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut small = [0u8; 7];
        let n = small.len().min(buf.remaining());
        let mut tmp = ReadBuf::new(&mut small[..n]);
        match Pin::new(&mut self.inner).poll_read(cx, &mut tmp) {
            Poll::Ready(Ok(())) => {
                buf.put_slice(tmp.filled());
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Choppy<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes += 1;
        if self.writes.is_multiple_of(2) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = buf.len().min(self.max_write);
        Pin::new(&mut self.inner).poll_write(cx, &buf[..n])
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn goaway_well_formed_after_partial_writes() {
    // Big responses and PING ACKs are being written, 5 bytes at a time, when the PING flood
    // trips the guard: the client still reads whole frames, then the GOAWAY, then EOF.
    // Until that has happened with h2 mid-frame 3 times (whether the violation lands
    // mid-frame depends on scheduling: on a loaded machine it takes more tries).
    let mut mid_frame = 0;
    for _ in 0..200 {
        if mid_frame == 3 {
            break;
        }
        let (client, server) = tokio::io::duplex(64 * 1024);
        let guard = H2Guard::new(
            Choppy {
                inner: server,
                max_write: 5,
                writes: 0,
            },
            Limits::DEFAULT,
        );
        let report = guard.report();
        let srv = tokio::spawn(serve_h2(guard, loose_h2()));
        let mut pre = preamble();
        // 8 MiB windows, and two big responses.
        pre.extend(frame(SETTINGS, 0, 0, &[0, 4, 0, 0x80, 0, 0]));
        pre.extend(window_update(0, 8 << 20));
        pre.extend(frame(
            HEADERS,
            FLAG_END_HEADERS | FLAG_END_STREAM,
            1,
            b"\x82\x86\x04\x04/big\x01\x09localhost",
        ));
        pre.extend(frame(
            HEADERS,
            FLAG_END_HEADERS | FLAG_END_STREAM,
            3,
            b"\x82\x86\x04\x04/big\x01\x09localhost",
        ));
        // One PING per millisecond: h2 reads each between partial writes of its PING ACKs.
        let pace = Some(Duration::from_millis(1));
        let seen = flood(client, pre, pace, |_| ping(false), 2_000).await;
        tokio::time::timeout(Duration::from_secs(5), srv)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            assert_guard_goaway(&seen, report.get(), ViolationKind::PingFlood),
            3
        );
        assert!(seen.data_frames > 0, "{seen:?}");
        if report
            .0
            .mid_frame
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            mid_frame += 1;
        }
    }
    assert!(mid_frame > 0, "the violation never came mid-frame");
}

#[tokio::test]
async fn goaway_delivered_over_tcp() {
    // A real socket, and a client that keeps flooding: the guard drains its input so that
    // the GOAWAY is not lost to a reset.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let guard = H2Guard::new(sock, Limits::DEFAULT);
        let report = guard.report();
        serve_h2(guard, loose_h2()).await;
        report.get()
    });
    let client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let seen = flood(client, preamble(), None, |_| ping(false), 200_000).await;
    let v = tokio::time::timeout(Duration::from_secs(5), srv)
        .await
        .unwrap()
        .unwrap();
    assert_guard_goaway(&seen, v, ViolationKind::PingFlood);
}

#[tokio::test]
async fn client_that_does_not_read_is_dropped() {
    // The client floods but never reads: the server's PING ACKs fill the pipe, h2 stalls
    // mid-frame and the GOAWAY cannot be written. The guard gives up after close_timeout.
    let limits = Limits {
        close_timeout: Duration::from_millis(300),
        ..Limits::DEFAULT
    };
    let (mut client, server) = tokio::io::duplex(256);
    let guard = H2Guard::new(server, limits);
    let report = guard.report();
    let srv = tokio::spawn(serve_h2(guard, loose_h2()));
    let mut raw = preamble();
    for _ in 0..2_000 {
        raw.extend(ping(false));
    }
    let writer = tokio::spawn(async move {
        let _ = client.write_all(&raw).await;
        std::future::pending::<()>().await;
    });
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), srv)
        .await
        .expect("the connection was not dropped")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(report.get().map(|v| v.kind), Some(ViolationKind::PingFlood));
    writer.abort();
}

// ----- normal traffic -----

/// `posts` POSTs with bodies (10 at a time), then `downloads` downloads of 1 MiB, and a few
/// PINGs, through the guard to hyper's server; returns the guard's violation.
async fn normal_traffic<T>(
    server_io: T,
    client_io: DuplexStream,
    posts: usize,
    downloads: usize,
) -> Option<Violation>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let guard = H2Guard::new(server_io, Limits::DEFAULT);
    let report = guard.report();
    let srv = tokio::spawn(serve_hyper(guard));
    let (send, mut conn) = h2::client::handshake(client_io).await.unwrap();
    let mut pings = conn.ping_pong().unwrap();
    let conn = tokio::spawn(conn);

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..posts + downloads {
        let send = send.clone();
        tasks.spawn(async move {
            let mut send = send.ready().await.unwrap();
            let (path, body) = if i < posts {
                ("/echo", vec![i as u8; 1000 + i * 200])
            } else {
                ("/big", vec![])
            };
            let req = http::Request::post(format!("http://localhost{path}"))
                .body(())
                .unwrap();
            let (resp, mut stream) = send.send_request(req, false).unwrap();
            stream.send_data(Bytes::from(body.clone()), true).unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 200);
            let mut recv = resp.into_body();
            let mut got = Vec::new();
            while let Some(chunk) = recv.data().await {
                let chunk = chunk.unwrap();
                got.extend_from_slice(&chunk);
                recv.flow_control().release_capacity(chunk.len()).unwrap();
            }
            if i < posts {
                assert_eq!(got, body, "request {i}");
            } else {
                assert_eq!(got.len(), BIG);
            }
        });
        if tasks.len() >= 10 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    for _ in 0..5 {
        pings.ping(h2::Ping::opaque()).await.unwrap();
    }
    drop(send);
    drop(pings);
    tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), srv)
        .await
        .unwrap()
        .unwrap();
    report.get()
}

#[tokio::test]
async fn normal_traffic_passes() {
    let (client, server) = tokio::io::duplex(256 * 1024);
    assert_eq!(normal_traffic(server, client, 100, 30).await, None);
}

#[tokio::test]
async fn normal_traffic_passes_in_tiny_pieces() {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let server = Choppy {
        inner: server,
        max_write: 1000,
        writes: 0,
    };
    assert_eq!(normal_traffic(server, client, 30, 2).await, None);
}

#[tokio::test]
async fn not_http2_passes_through() {
    let (mut client, server) = tokio::io::duplex(4096);
    let mut guard = H2Guard::new(server, Limits::DEFAULT);
    let junk = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\0\0\0\x01\x02\x03\x04\x05\x06\x07";
    client.write_all(junk).await.unwrap();
    client.write_all(&[0xff; 64 * 1024][..2048]).await.unwrap();
    let mut got = vec![0u8; junk.len() + 2048];
    guard.read_exact(&mut got).await.unwrap();
    assert_eq!(&got[..junk.len()], junk);
    assert_eq!(guard.violation(), None);
    assert!(guard.passthrough);
    guard.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
    let mut resp = [0u8; 19];
    client.read_exact(&mut resp).await.unwrap();
    assert_eq!(&resp, b"HTTP/1.1 200 OK\r\n\r\n");
}

// ----- unit tests -----

/// A client byte stream that trips the guard at its last frame.
fn mixed_stream() -> Vec<u8> {
    let mut s = preamble();
    s.extend(frame(SETTINGS, FLAG_ACK, 0, &[]));
    s.extend(window_update(0, 1 << 20));
    s.extend(frame(HEADERS, FLAG_PADDED, 1, &[2, 0x82, 0x86, 0, 0]));
    s.extend(frame(CONTINUATION, FLAG_END_HEADERS, 1, &[0x84]));
    s.extend(frame(DATA, 0, 1, &[1; 5000]));
    s.extend(frame(
        DATA,
        FLAG_PADDED | FLAG_END_STREAM,
        1,
        &[4, 9, 0, 0, 0, 0],
    ));
    for i in 0..30 {
        s.extend(ping(false));
        s.extend(frame(DATA, 0, 3 + 2 * i, &[]));
    }
    for _ in 0..30 {
        s.extend(ping(false));
    }
    s
}

#[test]
fn any_split_gives_the_same_verdict() {
    let stream = mixed_stream();
    let (start, whole) = {
        let mut g = H2Guard::new((), Limits::DEFAULT);
        g.inspect(&stream).unwrap_err()
    };
    assert_eq!(whole.kind, ViolationKind::PingFlood);
    assert_eq!(whole.frames_read, 7 + 30 * 2 + 21);
    // Where the offending PING begins: h2 gets the bytes before it.
    assert_eq!(start, stream.len() - 10 * 17);
    for size in [1, 2, 3, 5, 8, 9, 10, 17, 24, 25, 100, 4096] {
        let mut g = H2Guard::new((), Limits::DEFAULT);
        let mut verdict = None;
        for chunk in stream.chunks(size) {
            if let Err((_, v)) = g.inspect(chunk) {
                verdict = Some(v);
                break;
            }
        }
        assert_eq!(verdict, Some(whole), "chunks of {size}");
        assert!(!g.passthrough);
    }
}

#[test]
fn server_data_frames_earn_window_updates() {
    // A fast download: for each DATA frame written (in odd pieces), a stream and a
    // connection WINDOW_UPDATE come back. 10 000 of each at once: fine.
    let mut g = H2Guard::new((), Limits::DEFAULT);
    g.inspect(&preamble()).unwrap();
    let data = frame(DATA, 0, 1, &[0; 100]);
    let mut updates = window_update(1, 100);
    updates.extend(window_update(0, 100));
    for _ in 0..10_000 {
        for piece in data.chunks(33) {
            g.wrote(piece);
        }
        g.inspect(&updates).unwrap();
    }
    // Without the DATA frames, the same updates are a flood.
    let mut g = H2Guard::new((), Limits::DEFAULT);
    g.inspect(&preamble()).unwrap();
    let all: Vec<u8> = (0..10_000).flat_map(|_| updates.clone()).collect();
    let (_, v) = g.inspect(&all).unwrap_err();
    assert_eq!(v.kind, ViolationKind::WindowUpdateFlood);
}

#[test]
fn acks_for_server_pings_and_settings_are_free() {
    let mut g = H2Guard::new((), Limits::DEFAULT);
    g.inspect(&preamble()).unwrap();
    for _ in 0..1_000 {
        g.wrote(&ping(false));
        g.wrote(&frame(SETTINGS, 0, 0, &[]));
    }
    let mut acks = Vec::new();
    for _ in 0..1_000 {
        acks.extend(ping(true));
        acks.extend(frame(SETTINGS, FLAG_ACK, 0, &[]));
    }
    g.inspect(&acks).unwrap();
    // Beyond what was asked: empty frames.
    let (_, v) = g.inspect(&acks).unwrap_err();
    assert_eq!(v.kind, ViolationKind::EmptyFrameFlood);
}

#[test]
fn buckets_refill_at_their_rate() {
    let rate = Rate::new(10, 20);
    let t0 = Instant::now();
    let mut b = Bucket::full(rate, t0);
    assert!((0..20).all(|_| b.take(rate, t0)));
    assert!(!b.take(rate, t0));
    let t1 = t0 + Duration::from_millis(500);
    assert!((0..5).all(|_| b.take(rate, t1)));
    assert!(!b.take(rate, t1));
    // Idle time refills up to the burst, no more.
    let t2 = t1 + Duration::from_secs(60);
    assert!((0..20).all(|_| b.take(rate, t2)));
    assert!(!b.take(rate, t2));
}

#[test]
fn goaway_encoding() {
    let (buf, len) = encode_goaway(7, ENHANCE_YOUR_CALM, "ping_flood", false);
    let buf = &buf[..len as usize];
    let h = FrameHead::parse(buf[..HEAD_LEN].try_into().unwrap());
    assert_eq!((h.len, h.ty, h.flags, h.stream), (18, GOAWAY, 0, 0));
    assert_eq!(&buf[9..13], &[0, 0, 0, 7]);
    assert_eq!(&buf[13..17], &[0, 0, 0, 0xb]);
    assert_eq!(&buf[17..], b"ping_flood");
    let (buf, len) = encode_goaway(0, PROTOCOL_ERROR, "x", true);
    assert_eq!(&buf[..HEAD_LEN], &[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
    assert_eq!(len as usize, 2 * HEAD_LEN + 9);
    for kind in ViolationKind::ALL {
        assert!(kind.as_str().len() <= MAX_DEBUG);
    }
}

#[test]
fn guard_state_is_fixed_size() {
    // No buffers: the guard is this struct (plus one Arc'd report and, after a violation,
    // one boxed timer), whatever the client sends.
    let size = std::mem::size_of::<H2Guard<DuplexStream>>();
    assert!(size <= 768, "H2Guard is {size} bytes");
}
