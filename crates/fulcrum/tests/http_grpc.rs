//! gRPC and HTTP/2 backends: an h2c client -> fulcrum -> a `protocol = "h2"` cluster. A real
//! gRPC server and client (Debian's python3-grpcio, generic handlers on raw bytes:
//! tests/fixtures/grpc_*.py): unary and server-streaming calls, payloads, initial and trailing
//! metadata, a non-OK status with its message. Then nghttpd as a plain h2c backend, for
//! HTTP/2 and HTTP/1.1 clients.

mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::http_backend::{fnv_hex, pattern_vec};
use support::raw::*;
use support::*;

fn grpc_server() -> Helper {
    Helper::start(PYTHON, &[fixture("grpc_server.py")])
}

/// (name, value) pairs of a metadata list in the client's report.
fn md(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap_or("").to_string(),
                        p[1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has(list: &[(String, String)], name: &str, value: &str) -> bool {
    list.iter().any(|(n, v)| n == name && v == value)
}

#[test]
fn grpc_unary_streaming_and_status_with_trailers_intact() {
    let server = grpc_server();
    let (f, listen) = start_http("cluster = \"c\"", &[server.addr()], "protocol = \"h2\"");
    let out = run_cmd(
        PYTHON,
        &[fixture("grpc_client.py"), listen.to_string()],
        b"",
        Duration::from_secs(30),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "grpc client printed no report ({e}): {}; server stderr {}{}",
            out.describe(),
            server.stderr_text(),
            f.diag()
        )
    });
    assert!(
        out.ok() && report.get("error").is_none(),
        "gRPC through fulcrum failed: {report}; server stderr {}{}",
        server.stderr_text(),
        f.diag()
    );

    // Unary: payload, status, initial metadata, trailing metadata (text and binary).
    let u = &report["unary"];
    assert_eq!(u["payload"], "echo:ping", "{report}");
    assert_eq!(u["code"], "OK", "{report}");
    assert!(
        has(&md(&u["initial"]), "x-initial", "hello"),
        "initial metadata: {u}"
    );
    let t = md(&u["trailing"]);
    assert!(has(&t, "x-trailer-a", "yes"), "trailing metadata lost: {u}");
    assert!(has(&t, "x-echo-len", "4"), "trailing metadata lost: {u}");
    assert!(
        has(&t, "x-trace-bin", "hex:000102ff"),
        "binary trailer lost: {u}"
    );

    // A 3 MiB message both ways.
    assert_eq!(report["big"]["ok"], true, "{}", report["big"]);

    // The request metadata the server saw: the client's own and fulcrum's.
    let meta = md(&report["meta"]);
    assert!(has(&meta, "x-req", "meta"), "{meta:?}");
    assert!(
        has(&meta, "x-forwarded-for", "127.0.0.1"),
        "X-Forwarded-For reaches the gRPC backend: {meta:?}"
    );
    assert!(has(&meta, "via", "2.0 fulcrum"), "{meta:?}");

    // A non-OK status with its message and trailing metadata.
    let fail = &report["fail"];
    assert_eq!(fail["code"], "NOT_FOUND", "grpc-status lost: {fail}");
    assert_eq!(
        fail["details"], "no such thing: widget",
        "grpc-message lost: {fail}"
    );
    assert!(has(&md(&fail["trailing"]), "x-failed", "1"), "{fail}");

    // Server streaming: 50 messages in order, then the trailers.
    let s = &report["stream"];
    let items: Vec<String> = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..50).map(|i| format!("item {i}")).collect();
    assert_eq!(items, want, "{s}");
    assert_eq!(s["code"], "OK", "{s}");
    assert!(has(&md(&s["trailing"]), "x-count", "50"), "{s}");

    let log = access_lines(&f, 5);
    assert!(
        log.iter()
            .any(|l| l.contains("POST /test.Echo/Unary HTTP/2.0")),
        "access log of gRPC calls: {log:?}"
    );
}

/// nghttpd serving `docroot` over h2c, echoing uploads, with a response trailer.
fn nghttpd(docroot: &std::path::Path) -> Helper {
    let port = free_port();
    let args: Vec<String> = [
        "--no-tls",
        "-a",
        "127.0.0.1",
        "-d",
        docroot.to_str().unwrap(),
        "--echo-upload",
        "--trailer",
        "x-h2-trailer: yes",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([port.to_string()])
    .collect();
    Helper::on_port("nghttpd", &args, port)
}

fn url(listen: SocketAddr, path: &str) -> String {
    format!("http://{listen}{path}")
}

#[test]
fn h2_client_to_h2_cluster_get_post_and_trailers() {
    let dir = TempDir::new("docroot");
    let file = pattern_vec(11, 1_500_000);
    std::fs::write(dir.path().join("file.bin"), &file).unwrap();
    let backend = nghttpd(dir.path());
    let (f, listen) = start_http("cluster = \"c\"", &[backend.addr()], "protocol = \"h2\"");

    let r = curl_fetch(&["--http2-prior-knowledge", &url(listen, "/file.bin")]);
    assert_eq!(
        r.status,
        200,
        "{}; nghttpd {}{}",
        r.describe(),
        backend.stderr_text(),
        f.diag()
    );
    assert!(
        r.body == file,
        "download through an h2 cluster differs ({} bytes)",
        r.body.len()
    );

    let up = pattern_vec(12, 2_000_000);
    let tmp = TempDir::new("up");
    let path = tmp.path().join("up");
    std::fs::write(&path, &up).unwrap();
    let at = format!("@{}", path.display());
    let r = curl_fetch(&[
        "--http2-prior-knowledge",
        "--data-binary",
        &at,
        &url(listen, "/file.bin"),
    ]);
    assert_eq!(r.status, 200, "{}{}", r.describe(), f.diag());
    assert_eq!(
        fnv_hex(&r.body),
        fnv_hex(&up),
        "echoed upload differs ({} bytes)",
        r.body.len()
    );

    let out = run_cmd(
        "nghttp",
        &["-v".to_string(), url(listen, "/file.bin")],
        b"",
        Duration::from_secs(10),
    );
    assert!(out.ok(), "{}{}", out.describe(), f.diag());
    assert!(
        out.stdout_text().contains("x-h2-trailer: yes"),
        "the h2 backend's trailer is lost: {}",
        &out.stdout_text()[..out.stdout.len().min(3000)]
    );
}

/// An HTTP/1.1 client in front of a `protocol = "h2"` cluster: fulcrum must speak HTTP/2 to
/// the backend.
#[test]
fn http11_client_to_h2_cluster() {
    let dir = TempDir::new("docroot");
    std::fs::write(dir.path().join("hello.txt"), b"hello from h2\n").unwrap();
    let backend = nghttpd(dir.path());
    let (f, listen) = start_http("cluster = \"c\"", &[backend.addr()], "protocol = \"h2\"");
    let r = curl_fetch(&["--http1.1", &url(listen, "/hello.txt")]);
    assert_eq!(
        r.status,
        200,
        "HTTP/1.1 client -> h2 cluster: {}; nghttpd stderr {}{}",
        r.describe(),
        backend.stderr_text(),
        f.diag()
    );
    assert_eq!(r.body, b"hello from h2\n", "{}", r.describe());
    let up = pattern_vec(13, 300_000);
    let tmp = TempDir::new("up");
    let path = tmp.path().join("up");
    std::fs::write(&path, &up).unwrap();
    let at = format!("@{}", path.display());
    let r = curl_fetch(&[
        "--http1.1",
        "-H",
        "Expect:",
        "--data-binary",
        &at,
        &url(listen, "/hello.txt"),
    ]);
    assert_eq!(r.status, 200, "{}{}", r.describe(), f.diag());
    assert_eq!(fnv_hex(&r.body), fnv_hex(&up), "echoed upload differs");
}
