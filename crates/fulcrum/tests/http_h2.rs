//! HTTP/2 cleartext (prior knowledge) from clients: nghttp and h2load through fulcrum, then
//! floods as raw frames (Rapid Reset, CONTINUATION, SETTINGS, PING, empty DATA, too many
//! concurrent streams, an oversized header block). Each flood must end its connection with a
//! GOAWAY within a few seconds, fulcrum's memory must stay bounded, and a well-behaved client
//! must still be served afterwards.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;
use support::h2raw::*;
use support::http_backend::{HttpBackend, fnv_hex, pattern_vec};
use support::raw::*;
use support::*;

fn url(listen: SocketAddr, path: &str) -> String {
    format!("http://{listen}{path}")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn nghttp_get_and_post() {
    let b = HttpBackend::start("ng");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let out = run_cmd(
        "nghttp",
        &args(&["-v", &url(listen, "/ng/get?a=1")]),
        b"",
        Duration::from_secs(10),
    );
    let text = out.stdout_text();
    assert!(out.ok(), "nghttp GET: {}{}", out.describe(), f.diag());
    assert!(
        text.contains(":status: 200"),
        "nghttp GET: {}{}",
        out.describe(),
        f.diag()
    );
    assert!(
        text.contains("\"target\": \"/ng/get?a=1\""),
        "{}",
        out.describe()
    );
    assert!(text.contains("via: 1.1 fulcrum"), "{}", out.describe());

    let data = pattern_vec(3, 300_000);
    let dir = TempDir::new("ng");
    let file = dir.path().join("d");
    std::fs::write(&file, &data).unwrap();
    let out = run_cmd(
        "nghttp",
        &args(&["-d", file.to_str().unwrap(), &url(listen, "/ng/post")]),
        b"",
        Duration::from_secs(10),
    );
    assert!(out.ok(), "nghttp POST: {}{}", out.describe(), f.diag());
    let echo: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("nghttp POST body not JSON ({e}): {}", out.describe()));
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body_len"], 300_000);
    assert_eq!(echo["body_sum"], fnv_hex(&data));
}

#[test]
fn h2load_many_streams_on_few_connections() {
    let b = HttpBackend::start("load");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let out = run_cmd(
        "h2load",
        &args(&["-n", "400", "-c", "2", "-m", "50", &url(listen, "/load")]),
        b"",
        Duration::from_secs(15),
    );
    let text = out.stdout_text();
    assert!(
        out.ok() && text.contains("400 succeeded") && text.contains("400 2xx"),
        "h2load: {}{}",
        out.describe(),
        f.diag()
    );
    assert_eq!(b.requests().len(), 400, "{}", b.summary());
}

/// Trailers of a chunked HTTP/1.1 response reach an HTTP/2 client as a trailing HEADERS.
#[test]
fn h1_backend_trailers_reach_an_h2_client() {
    let b = HttpBackend::start("trail");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let out = run_cmd(
        "nghttp",
        &args(&["-v", "-H", "te: trailers", &url(listen, "/trailers")]),
        b"",
        Duration::from_secs(10),
    );
    let text = out.stdout_text();
    assert!(out.ok(), "{}{}", out.describe(), f.diag());
    assert!(text.contains("hello trailers"), "{}", out.describe());
    assert!(
        text.contains("x-trailer-a: yes"),
        "the backend's trailers are lost on the way to an h2 client: {}{}",
        out.describe(),
        f.diag()
    );
}

/// Sends `flood` (after the handshake) from a writer thread while reading: the connection
/// must end with a GOAWAY (code in `codes`) and EOF within 8 s, fulcrum's RSS must not grow
/// by more than 64 MiB, and a normal HTTP/2 request must work afterwards.
fn flood(name: &str, flood: Vec<u8>, codes: &[u32], backend_delay_path: bool) {
    let b = HttpBackend::start("flooded");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    // Warm up, so the baseline includes what serving a request costs.
    let warm = curl_fetch(&["--http2-prior-knowledge", &url(listen, "/warm")]);
    assert_eq!(
        warm.status,
        200,
        "{name}: warm-up: {}{}",
        warm.describe(),
        f.diag()
    );
    let rss_before = vm_rss_kib(f.pid());

    let mut c = H2Conn::handshake(listen)
        .unwrap_or_else(|e| panic!("{name}: h2 handshake: {e}{}", f.diag()));
    let mut w = c.stream.try_clone().unwrap();
    let writer = thread::spawn(move || {
        // Errors are expected once the server gives up on us.
        let _ = w.write_all(&flood);
    });
    let end = c.wait_goaway(Duration::from_secs(8));
    let _ = writer.join();
    let rss_after = vm_rss_kib(f.pid());
    let frames: Vec<String> = end
        .frames
        .iter()
        .take(40)
        .map(|(t, s)| format!("{t}@{s}"))
        .collect();
    let Some(goaway) = &end.goaway else {
        panic!(
            "{name}: no GOAWAY within 8 s; ending {:?}, first frames (type@stream) {frames:?}{}",
            end.error,
            f.diag()
        );
    };
    eprintln!(
        "{name}: {goaway:?} after {:?}, closed {}, RSS {rss_before} -> {rss_after} KiB",
        end.elapsed, end.closed
    );
    assert!(
        codes.contains(&goaway.code),
        "{name}: GOAWAY code {:#x} ({:?}), expected one of {codes:x?}{}",
        goaway.code,
        goaway.debug,
        f.diag()
    );
    assert!(
        end.closed,
        "{name}: the connection stayed open after the GOAWAY ({goaway:?}, {:?}){}",
        end.error,
        f.diag()
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "{name}: fulcrum's RSS grew from {rss_before} KiB to {rss_after} KiB{}",
        f.diag()
    );
    // Counted, by the flood guard or (rapid reset) as the library's own GOAWAY.
    let key = "fulcrum_listener_h2_violations_total{listener=\"web\"}";
    let counted = f.wait_metric(key, Duration::from_secs(3), |v| v == 1.0);
    assert_eq!(counted, Some(1.0), "{name}: {key}{}", f.diag());
    // Still serving.
    let path = if backend_delay_path {
        "/after"
    } else {
        "/after-flood"
    };
    let r = curl_fetch(&["--http2-prior-knowledge", &url(listen, path)]);
    assert_eq!(
        r.status,
        200,
        "{name}: a normal h2 client after the flood: {}{}",
        r.describe(),
        f.diag()
    );
    let r = get(listen, "a", "/after-h1", "");
    assert_eq!(
        r.status,
        200,
        "{name}: HTTP/1.1 after the flood: {}",
        r.describe()
    );
}

fn get_block(path: &str) -> Vec<u8> {
    request_block("GET", "flood.test", path, &[])
}

#[test]
fn rapid_reset_flood_gets_goaway() {
    let mut bytes = Vec::new();
    for i in 0..2000u32 {
        let id = 2 * i + 1;
        bytes.extend(headers(id, &get_block("/delay/2000"), true, true));
        bytes.extend(rst_stream(id, CANCEL));
    }
    flood("rapid reset", bytes, &[ENHANCE_YOUR_CALM], true);
}

#[test]
fn continuation_flood_gets_goaway() {
    let mut bytes = headers(1, &get_block("/cont"), false, false);
    let mut filler = Vec::new();
    hpack_literal("x-filler", &[b'f'; 40], &mut filler);
    for _ in 0..3000 {
        bytes.extend(continuation(1, &filler, false));
    }
    flood(
        "CONTINUATION flood",
        bytes,
        &[ENHANCE_YOUR_CALM, PROTOCOL_ERROR],
        false,
    );
}

#[test]
fn empty_continuation_flood_gets_goaway() {
    let mut bytes = headers(1, &get_block("/cont"), false, false);
    for _ in 0..3000 {
        bytes.extend(continuation(1, &[], false));
    }
    flood(
        "empty CONTINUATION flood",
        bytes,
        &[ENHANCE_YOUR_CALM, PROTOCOL_ERROR],
        false,
    );
}

#[test]
fn settings_flood_gets_goaway() {
    let mut bytes = Vec::new();
    for i in 0..3000u32 {
        bytes.extend(settings(&[(0x4, 65_535 + (i % 7))]));
    }
    flood("SETTINGS flood", bytes, &[ENHANCE_YOUR_CALM], false);
}

#[test]
fn ping_flood_gets_goaway() {
    let mut bytes = Vec::new();
    for i in 0..5000u64 {
        bytes.extend(ping(i));
    }
    flood("PING flood", bytes, &[ENHANCE_YOUR_CALM], false);
}

#[test]
fn empty_data_flood_gets_goaway() {
    let mut bytes = headers(
        1,
        &request_block("POST", "flood.test", "/data", &[]),
        false,
        true,
    );
    for _ in 0..5000 {
        bytes.extend(data(1, &[], false));
    }
    flood("empty DATA flood", bytes, &[ENHANCE_YOUR_CALM], false);
}

#[test]
fn too_many_concurrent_streams_gets_goaway() {
    let mut bytes = Vec::new();
    for i in 0..600u32 {
        bytes.extend(headers(2 * i + 1, &get_block("/delay/3000"), true, true));
    }
    flood(
        "too many concurrent streams",
        bytes,
        &[ENHANCE_YOUR_CALM, PROTOCOL_ERROR],
        true,
    );
}

#[test]
fn oversized_header_block_gets_goaway() {
    // 5 frames of 16 KiB: an 80 KiB header block, over the 64 KiB limit.
    let mut block = get_block("/huge");
    let value = vec![b'h'; 4000];
    let mut i = 0;
    while block.len() < 5 * 16_384 {
        hpack_literal(&format!("x-huge-{i}"), &value, &mut block);
        i += 1;
    }
    block.truncate(5 * 16_384);
    let mut bytes = headers(1, &block[..16_384], true, false);
    for k in 1..5 {
        let last = k == 4;
        bytes.extend(continuation(1, &block[k * 16_384..(k + 1) * 16_384], last));
    }
    flood(
        "oversized header block",
        bytes,
        &[ENHANCE_YOUR_CALM, PROTOCOL_ERROR, FRAME_SIZE_ERROR],
        false,
    );
}

#[test]
fn oversized_frame_gets_goaway() {
    // One HEADERS frame of 20 000 bytes, over the 16 384 SETTINGS_MAX_FRAME_SIZE.
    let mut block = get_block("/big-frame");
    hpack_literal("x-big", &vec![b'b'; 20_000 - block.len() - 10], &mut block);
    let bytes = headers(1, &block, true, true);
    flood(
        "oversized frame",
        bytes,
        &[FRAME_SIZE_ERROR, PROTOCOL_ERROR],
        false,
    );
}

/// Many requests at once from several well-behaved connections are not mistaken for a flood.
#[test]
fn busy_well_behaved_clients_are_not_cut_off() {
    let b = HttpBackend::start("busy");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let out = run_cmd(
        "h2load",
        &args(&["-n", "2000", "-c", "4", "-m", "100", &url(listen, "/busy")]),
        b"",
        Duration::from_secs(18),
    );
    let text = out.stdout_text();
    assert!(
        out.ok() && text.contains("2000 succeeded"),
        "h2load: {}{}",
        out.describe(),
        f.diag()
    );
    assert!(
        !f.stderr_text().contains("flood guard"),
        "the flood guard cut off a well-behaved client{}",
        f.diag()
    );
}
