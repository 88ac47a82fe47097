//! HTTP proxying basics with real clients: curl over HTTP/1.1 and HTTP/2 (prior knowledge),
//! GET/POST/HEAD, byte-exact bodies of several MiB both ways, keep-alive reuse on both sides,
//! pipelining, HTTP/1.0 clients, chunked request bodies, 100-continue, response framings, and
//! the access log.

mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::http_backend::{DOWNLOAD_SEED, HttpBackend, fnv_hex, pattern_vec};
use support::raw::*;
use support::*;

const MIB: usize = 1024 * 1024;

fn url(listen: SocketAddr, path: &str) -> String {
    format!("http://{listen}{path}")
}

/// One fulcrum with an HTTP listener whose catch-all cluster is `backend`.
fn proxy(backend: &HttpBackend) -> (Fulcrum, SocketAddr) {
    start_http("cluster = \"c\"", &[backend.addr()], "")
}

fn check_get_post_head(h2: bool) {
    let backend = HttpBackend::start("b1");
    let (f, listen) = proxy(&backend);
    let proto: &[&str] = if h2 {
        &["--http2-prior-knowledge"]
    } else {
        &["--http1.1"]
    };
    let tag = if h2 { "h2" } else { "http/1.1" };

    // GET
    let mut args = proto.to_vec();
    let u = url(listen, "/hello/world?x=1&y=two");
    args.push(&u);
    let r = curl_fetch(&args);
    assert_eq!(r.status, 200, "{tag} GET: {}{}", r.describe(), f.diag());
    let echo = r.json();
    assert_eq!(echo["method"], "GET", "{tag} GET echo {echo}");
    assert_eq!(
        echo["target"], "/hello/world?x=1&y=two",
        "{tag} GET echo {echo}"
    );
    assert_eq!(
        echo["version"], "HTTP/1.1",
        "backend speaks HTTP/1.1: {echo}"
    );
    assert_eq!(
        r.header("x-backend").as_deref(),
        Some("b1"),
        "{}",
        r.describe()
    );
    let first_line = r.head.lines().next().unwrap_or("");
    if h2 {
        assert!(
            first_line.starts_with("HTTP/2 200"),
            "{tag}: {first_line:?}"
        );
    } else {
        assert!(
            first_line.starts_with("HTTP/1.1 200"),
            "{tag}: {first_line:?}"
        );
    }

    // POST
    let mut args = proto.to_vec();
    let u = url(listen, "/submit");
    args.extend_from_slice(&["--data-binary", "name=fulcrum&kind=proxy", &u]);
    let r = curl_fetch(&args);
    assert_eq!(r.status, 200, "{tag} POST: {}{}", r.describe(), f.diag());
    let echo = r.json();
    assert_eq!(echo["method"], "POST", "{echo}");
    assert_eq!(echo["body_len"], 23, "{echo}");
    assert_eq!(
        echo["body_sum"],
        fnv_hex(b"name=fulcrum&kind=proxy"),
        "{echo}"
    );
    assert_eq!(
        echo_header(&echo, "content-type").as_deref(),
        Some("application/x-www-form-urlencoded"),
        "{echo}"
    );

    // HEAD: the length of the body a GET would get, no body.
    let mut args = proto.to_vec();
    let u = url(listen, "/bytes/12345");
    args.extend_from_slice(&["-I", &u]);
    let r = curl_fetch(&args);
    assert_eq!(r.status, 200, "{tag} HEAD: {}{}", r.describe(), f.diag());
    assert_eq!(
        r.header("content-length").as_deref(),
        Some("12345"),
        "{tag} HEAD keeps Content-Length: {}",
        r.describe()
    );
    // With -I curl writes the head where the body would go: nothing may follow it.
    assert_eq!(
        r.body,
        r.head.as_bytes(),
        "{tag} HEAD has no body: {}",
        r.describe()
    );
    let seen = backend.last("HEAD");
    assert_eq!(seen.method, "HEAD", "{}", backend.summary());
    assert_eq!(backend.requests().len(), 3, "{}", backend.summary());
}

#[test]
fn get_post_head_http11_with_curl() {
    check_get_post_head(false);
}

#[test]
fn get_post_head_h2_prior_knowledge_with_curl() {
    check_get_post_head(true);
}

/// Uploads `len` pattern bytes with curl and checks the backend's length and checksum.
fn upload(h2: bool, chunked: bool) {
    let backend = HttpBackend::start("up");
    let (f, listen) = proxy(&backend);
    let len = 5 * MIB + 12_345;
    let data = pattern_vec(0xABCD, len);
    let dir = TempDir::new("upload");
    let file = dir.path().join("data");
    std::fs::write(&file, &data).unwrap();
    let at = format!("@{}", file.display());
    let u = url(listen, "/upload");
    let mut args = vec![if h2 {
        "--http2-prior-knowledge"
    } else {
        "--http1.1"
    }];
    if chunked {
        args.extend_from_slice(&["-H", "Transfer-Encoding: chunked"]);
    }
    args.extend_from_slice(&["-H", "Expect:", "--data-binary", &at, &u]);
    let r = curl_fetch(&args);
    let tag = format!("h2={h2} chunked={chunked}");
    assert_eq!(r.status, 200, "{tag}: {}{}", r.describe(), f.diag());
    let echo = r.json();
    assert_eq!(echo["body_len"], len as u64, "{tag}: {echo}");
    assert_eq!(
        echo["body_sum"],
        fnv_hex(&data),
        "{tag}: body differs: {echo}"
    );
}

#[test]
fn upload_5mib_byte_exact_http11_content_length() {
    upload(false, false);
}

#[test]
fn upload_5mib_byte_exact_http11_chunked() {
    upload(false, true);
}

#[test]
fn upload_5mib_byte_exact_h2() {
    upload(true, false);
}

/// Downloads `path` with curl and compares with `len` pattern bytes.
fn download(h2: bool, path: &str, len: usize) {
    let backend = HttpBackend::start("down");
    let (f, listen) = proxy(&backend);
    let u = url(listen, path);
    let args = [
        if h2 {
            "--http2-prior-knowledge"
        } else {
            "--http1.1"
        },
        &u,
    ];
    let r = curl_fetch(&args);
    let tag = format!("h2={h2} {path}");
    assert_eq!(r.status, 200, "{tag}: {}{}", r.describe(), f.diag());
    assert_eq!(r.body.len(), len, "{tag}: length{}", f.diag());
    let want = pattern_vec(DOWNLOAD_SEED, len);
    if r.body != want {
        let at = r.body.iter().zip(&want).position(|(a, b)| a != b);
        panic!("{tag}: body differs first at byte {at:?}{}", f.diag());
    }
}

#[test]
fn download_6mib_content_length_byte_exact_http11() {
    download(false, "/big/6", 6 * MIB);
}

#[test]
fn download_6mib_content_length_byte_exact_h2() {
    download(true, "/big/6", 6 * MIB);
}

#[test]
fn download_3mb_chunked_byte_exact_http11_and_h2() {
    download(false, "/chunked/3000001", 3_000_001);
    download(true, "/chunked/3000001", 3_000_001);
}

#[test]
fn download_close_delimited_byte_exact_http11_and_h2() {
    download(false, "/close/2000003", 2_000_003);
    download(true, "/close/2000003", 2_000_003);
}

/// Five requests in one curl invocation: one client connection, and the backend sees fewer
/// connections than requests (the upstream pool).
#[test]
fn keep_alive_reuses_connections_both_sides_http11() {
    let backend = HttpBackend::start("ka");
    let (f, listen) = proxy(&backend);
    let dir = TempDir::new("ka");
    let mut args: Vec<String> = vec![
        "-sS".into(),
        "--max-time".into(),
        "15".into(),
        "--http1.1".into(),
        "-w".into(),
        "%{http_code} %{num_connects}\\n".into(),
    ];
    for i in 0..5 {
        args.push("-o".into());
        args.push(dir.path().join(format!("b{i}")).display().to_string());
        args.push(url(listen, &format!("/ka/{i}")));
    }
    let out = run_cmd("curl", &args, b"", Duration::from_secs(20));
    assert!(out.ok(), "curl: {}{}", out.describe(), f.diag());
    let lines: Vec<String> = out.stdout_text().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 5, "one -w line per transfer: {lines:?}");
    let connects: u32 = lines
        .iter()
        .map(|l| {
            assert!(
                l.starts_with("200 "),
                "transfer failed: {lines:?}{}",
                f.diag()
            );
            l[4..].trim().parse::<u32>().unwrap()
        })
        .sum();
    assert_eq!(
        connects,
        1,
        "curl opened {connects} connections for 5 requests (keep-alive to fulcrum \
         broken): {lines:?}{}",
        f.diag()
    );
    for i in 0..5 {
        let body = std::fs::read(dir.path().join(format!("b{i}"))).unwrap();
        let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            echo["target"],
            format!("/ka/{i}"),
            "response {i} out of order: {echo}"
        );
    }
    assert_eq!(backend.requests().len(), 5, "{}", backend.summary());
    assert!(
        backend.accepted() < 5,
        "the backend saw {} connections for 5 sequential requests: fulcrum does not \
         reuse upstream connections; {}{}",
        backend.accepted(),
        backend.summary(),
        f.diag()
    );
}

/// curl 7.88 cannot reuse an HTTP/2 connection it opened with prior knowledge (it fails the
/// second transfer with "Error in the HTTP2 framing layer", against any server), so HTTP/2
/// keep-alive is checked with h2load: five requests one after the other on one connection.
#[test]
fn keep_alive_reuses_connections_both_sides_h2() {
    let backend = HttpBackend::start("ka2");
    let (f, listen) = proxy(&backend);
    let args: Vec<String> = ["-n", "5", "-c", "1", "-m", "1"]
        .iter()
        .map(|s| s.to_string())
        .chain([url(listen, "/ka")])
        .collect();
    let out = run_cmd("h2load", &args, b"", Duration::from_secs(15));
    let text = out.stdout_text();
    assert!(
        out.ok() && text.contains("5 succeeded") && text.contains("5 2xx"),
        "h2load: {}{}",
        out.describe(),
        f.diag()
    );
    assert_eq!(backend.requests().len(), 5, "{}", backend.summary());
    assert!(
        backend.accepted() < 5,
        "the backend saw {} connections for 5 sequential requests from one h2 client: fulcrum \
         does not reuse upstream connections; {}{}",
        backend.accepted(),
        backend.summary(),
        f.diag()
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let backend = HttpBackend::start("pipe");
    let (f, listen) = proxy(&backend);
    let mut c = RawClient::connect(listen);
    let reqs = "GET /p/1 HTTP/1.1\r\nHost: a\r\n\r\n\
                POST /p/2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
                GET /p/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    c.send(reqs.as_bytes()).unwrap();
    for (i, (method, body_len)) in [("GET", 0), ("POST", 5), ("GET", 0)].iter().enumerate() {
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("pipelined response {}: {e}{}", i + 1, f.diag()));
        assert_eq!(
            r.status,
            200,
            "response {}: {}{}",
            i + 1,
            r.describe(),
            f.diag()
        );
        let echo = r.json();
        assert_eq!(echo["target"], format!("/p/{}", i + 1), "order: {echo}");
        assert_eq!(echo["method"], *method, "{echo}");
        assert_eq!(echo["body_len"], *body_len, "{echo}");
    }
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "the connection stays open after `Connection: close`{}",
        f.diag()
    );
    assert_eq!(backend.requests().len(), 3, "{}", backend.summary());
}

#[test]
fn http10_client_gets_a_closed_connection_or_keep_alive_when_asked() {
    let backend = HttpBackend::start("old");
    let (f, listen) = proxy(&backend);

    // Plain HTTP/1.0: the connection closes after the response.
    let mut c = RawClient::connect(listen);
    c.send(b"GET /old HTTP/1.0\r\n\r\n").unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("HTTP/1.0: {e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}{}", r.describe(), f.diag());
    assert_eq!(r.json()["target"], "/old");
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "HTTP/1.0 without keep-alive: the connection must close{}",
        f.diag()
    );
    let seen = backend.last("HTTP/1.0 request");
    assert_eq!(
        seen.header("via"),
        Some("1.0 fulcrum"),
        "Via names the client's version: {:?}",
        seen.headers
    );

    // HTTP/1.0 with keep-alive: two requests on one connection.
    let mut c = RawClient::connect(listen);
    c.send(b"GET /ka1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(
        r.headers_named("connection")
            .iter()
            .any(|v| v.eq_ignore_ascii_case("keep-alive")),
        "an HTTP/1.0 keep-alive response says `Connection: keep-alive`: {}",
        r.describe()
    );
    c.send(b"GET /ka2 HTTP/1.0\r\n\r\n").unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("second: {e}{}", f.diag()));
    assert_eq!(r.json()["target"], "/ka2");
    assert!(c.closed_within(Duration::from_secs(3)), "{}", f.diag());

    // A chunked response reaches an HTTP/1.0 client decoded and close-delimited.
    let mut c = RawClient::connect(listen);
    c.send(b"GET /chunked/70000 HTTP/1.0\r\n\r\n").unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert!(
        r.header("transfer-encoding").is_none(),
        "no chunked to an HTTP/1.0 client: {}",
        r.describe()
    );
    assert_eq!(r.body, pattern_vec(DOWNLOAD_SEED, 70_000), "{}", f.diag());
}

#[test]
fn chunked_request_body_with_extensions_and_trailers_is_forwarded() {
    let backend = HttpBackend::start("chunky");
    let (f, listen) = proxy(&backend);
    let mut c = RawClient::connect(listen);
    let req = "POST /chunked-up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\
               Content-Type: text/plain\r\n\r\n\
               5;ext=1\r\nhello\r\n\
               1\r\n \r\n\
               6\r\nworld!\r\n\
               0\r\nx-trail: yes\r\n\r\n";
    c.send(req.as_bytes()).unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}{}", r.describe(), f.diag());
    let seen = backend.last("chunked POST");
    assert!(seen.chunked, "the body goes on chunked: {:?}", seen.headers);
    assert_eq!(seen.body_len, 12);
    assert_eq!(seen.body_prefix, b"hello world!");
    assert!(
        seen.header("content-length").is_none(),
        "no Content-Length next to chunked: {:?}",
        seen.headers
    );
    assert_eq!(
        seen.trailers,
        vec![("x-trail".to_string(), "yes".to_string())],
        "request trailers are passed on"
    );
    // The connection is still usable.
    c.send(b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("after: {e}{}", f.diag()));
    assert_eq!(r.json()["target"], "/after");
}

#[test]
fn expect_100_continue_is_relayed_before_the_body() {
    let backend = HttpBackend::start("cont");
    let (f, listen) = proxy(&backend);
    let mut c = RawClient::connect(listen);
    c.send(
        b"PUT /continue HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    // The body is not sent until the 100 arrives.
    let interim = c
        .read_response_within("PUT", Duration::from_secs(5))
        .unwrap_or_else(|e| {
            panic!(
                "no 100 Continue within 5 s of a head with `Expect: 100-continue` and \
                 Content-Length (the client waits for it before sending the body): {e}; {}{}",
                backend.summary(),
                f.diag()
            )
        });
    assert_eq!(interim.status, 100, "{}{}", interim.describe(), f.diag());
    c.send(b"hello world").unwrap();
    let r = c
        .read_response_to("PUT")
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}", r.describe());
    let echo = r.json();
    assert_eq!(echo["body_len"], 11, "{echo}");
    assert_eq!(echo["sent_continue"], true, "{echo}");

    // curl's own Expect dance with a 2 MiB upload.
    let data = pattern_vec(7, 2 * MIB);
    let dir = TempDir::new("expect");
    let file = dir.path().join("d");
    std::fs::write(&file, &data).unwrap();
    let at = format!("@{}", file.display());
    let u = url(listen, "/continue");
    let r = curl_fetch(&[
        "--http1.1",
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "10",
        "--data-binary",
        &at,
        &u,
    ]);
    assert_eq!(r.status, 200, "{}{}", r.describe(), f.diag());
    assert!(
        r.head.contains("100 Continue"),
        "curl saw no 100: {:?}",
        r.head
    );
    assert_eq!(r.json()["body_sum"], fnv_hex(&data));
}

/// The same dance with a chunked body.
#[test]
fn expect_100_continue_with_a_chunked_body() {
    let backend = HttpBackend::start("cont-chunked");
    let (f, listen) = proxy(&backend);
    let mut c = RawClient::connect(listen);
    c.send(
        b"POST /continue HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\
          Expect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let interim = c
        .read_response_within("POST", Duration::from_secs(5))
        .unwrap_or_else(|e| {
            panic!(
                "no 100 Continue within 5 s (chunked body): {e}; {}{}",
                backend.summary(),
                f.diag()
            )
        });
    assert_eq!(interim.status, 100, "{}{}", interim.describe(), f.diag());
    c.send(b"5\r\nhello\r\n0\r\n\r\n").unwrap();
    let r = c
        .read_response_to("POST")
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.json()["body_len"], 5);
}

#[test]
fn response_framings_keep_the_client_connection() {
    let backend = HttpBackend::start("frames");
    let (f, listen) = proxy(&backend);
    let mut c = RawClient::connect(listen);

    // Chunked with trailers: passed on as chunked, trailers intact.
    c.send(b"GET /trailers HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n")
        .unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(r.chunked, "{}", r.describe());
    assert_eq!(r.body, b"hello trailers\n");
    assert_eq!(
        r.trailer("x-trailer-a"),
        Some("yes"),
        "trailers: {:?}",
        r.trailers
    );
    assert_eq!(
        r.trailer("x-checksum").map(str::to_owned),
        Some(fnv_hex(b"hello trailers\n")),
        "trailers: {:?}",
        r.trailers
    );

    // Close-delimited from the backend: re-chunked so the client connection lives on.
    c.send(b"GET /close/1000 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.body, pattern_vec(DOWNLOAD_SEED, 1000), "{}", r.describe());
    assert!(!r.says_close(), "{}", r.describe());

    // 204 and 304: no body; the connection goes on.
    for code in [204, 304] {
        c.send(format!("GET /status/{code} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .unwrap();
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("{code}: {e}{}", f.diag()));
        assert_eq!(r.status, code, "{}", r.describe());
    }

    // A backend error status is passed on as is (not a Fulcrum error).
    c.send(b"GET /status/503 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.status, 503);
    assert!(r.header("x-fulcrum-error").is_none(), "{}", r.describe());
    assert_eq!(r.text(), "status 503\n");

    c.send(b"GET /last HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(r.json()["target"], "/last");
}

#[test]
fn access_log_has_one_line_per_request_combined_and_json() {
    let backend = HttpBackend::start("log");
    let (f, listen) = proxy(&backend);
    for i in 0..3 {
        let r = get(
            listen,
            "example.com",
            &format!("/log/{i}"),
            "User-Agent: tester/1\r\n",
        );
        assert_eq!(r.status, 200, "{}", r.describe());
    }
    let r = get(listen, "example.com", "/status/418", "");
    assert_eq!(r.status, 418);
    let lines = access_lines(&f, 4);
    assert_eq!(
        lines.len(),
        4,
        "one line per request: {lines:?}{}",
        f.diag()
    );
    // One line per request; with several workers, a line may be written just after the next
    // request's (each is written once its response is out), so they are matched by path.
    for i in 0..3 {
        let wanted = format!("\"GET /log/{i} HTTP/1.1\" 200 ");
        let found: Vec<_> = lines.iter().filter(|l| l.contains(&wanted)).collect();
        assert_eq!(found.len(), 1, "one line for /log/{i}: {lines:?}");
        let l = found[0];
        assert!(l.starts_with("127.0.0.1 - - ["), "combined line {i}: {l}");
        assert!(l.contains("\"tester/1\""), "user agent: {l}");
        assert!(l.contains("rid="), "request id: {l}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"GET /status/418 HTTP/1.1\" 418 ")),
        "{lines:?}"
    );

    // JSON
    let (f, listen) = start_http(
        "cluster = \"c\"\naccess_log = \"json\"",
        &[backend.addr()],
        "",
    );
    let r = get(
        listen,
        "example.com",
        "/json/1",
        "x-request-id: my-id-1\r\n",
    );
    assert_eq!(r.status, 200);
    let lines = access_lines(&f, 1);
    assert_eq!(lines.len(), 1, "{lines:?}{}", f.diag());
    let v: serde_json::Value = serde_json::from_str(&lines[0])
        .unwrap_or_else(|e| panic!("access log line is not JSON ({e}): {}", lines[0]));
    assert_eq!(v["method"], "GET", "{v}");
    assert_eq!(v["target"], "/json/1", "{v}");
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["request_id"], "my-id-1", "{v}");
    assert_eq!(v["backend"], backend.addr().to_string(), "{v}");
}
