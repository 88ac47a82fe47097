//! Routing and header handling: host (exact, wildcard), path (exact, prefix, regex), method,
//! header and query matches, first match wins, 404 with `x-fulcrum-error: no_route`; request
//! and response header rules; X-Forwarded-*, Forwarded, Via and request ids as the backend
//! sees them; hop-by-hop fields stripped both ways.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use support::http_backend::HttpBackend;
use support::raw::*;
use support::*;

/// Backends by cluster name, and the fulcrum routing to them.
struct Routed {
    f: Fulcrum,
    listen: SocketAddr,
    _backends: HashMap<&'static str, HttpBackend>,
}

const CLUSTERS: [&str; 11] = [
    "canary", "api", "wild", "exact", "regex", "query", "present", "regexhdr", "method", "first",
    "second",
];

const ROUTES: &str = r#"
[[listener.route]]
name = "canary"
host = "api.example.com"
path_prefix = "/v1/"
headers = [{ name = "x-canary", value = "1" }]
cluster = "canary"

[[listener.route]]
name = "api"
host = "api.example.com"
path_prefix = "/v1/"
method = ["GET", "post"]
cluster = "api"
request_headers = { remove = ["x-debug"], set = { "x-env" = "prod" }, add = { "x-added" = "a" } }
response_headers = { remove = ["server", "x-remove-me"], set = { "x-served-by" = "fulcrum" }, add = { "x-resp-added" = "r" } }

[[listener.route]]
name = "wild"
host = "*.example.com"
cluster = "wild"

[[listener.route]]
name = "exact"
path = "/exact"
cluster = "exact"

[[listener.route]]
name = "regex"
path_regex = '^/img/[0-9a-f]{4}\.(png|jpg)$'
cluster = "regex"

[[listener.route]]
name = "query"
path_prefix = "/q"
query = [{ name = "debug", value = "1" }]
cluster = "query"

[[listener.route]]
name = "present"
headers = [{ name = "X-Present", present = true }]
cluster = "present"

[[listener.route]]
name = "regexhdr"
headers = [{ name = "x-user", regex = "^adm" }]
cluster = "regexhdr"

[[listener.route]]
name = "method"
method = "DELETE"
cluster = "method"

[[listener.route]]
name = "first"
path_prefix = "/both/"
cluster = "first"

[[listener.route]]
name = "second"
path = "/both/x"
cluster = "second"
"#;

fn routed() -> Routed {
    let mut backends = HashMap::new();
    let mut clusters = String::new();
    for name in CLUSTERS {
        let b = HttpBackend::start(name);
        clusters += &http_cluster(name, &[b.addr()], "");
        backends.insert(name, b);
    }
    let admin = free_port();
    let listen = free_addr();
    let cfg = http_config(admin, listen, ROUTES, &clusters);
    Routed {
        f: Fulcrum::start(&cfg),
        listen,
        _backends: backends,
    }
}

/// Sends `method path` with `Host: host` and `extra` header lines; returns the response.
fn ask(r: &Routed, method: &str, host: &str, path: &str, extra: &str) -> RawResponse {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut c = RawClient::connect(r.listen);
    c.send(req.as_bytes()).unwrap();
    c.read_response_to(method)
        .unwrap_or_else(|e| panic!("{method} {host}{path}: {e}{}", r.f.diag()))
}

/// Which backend answered (`-` for fulcrum's 404).
fn who(r: &Routed, method: &str, host: &str, path: &str, extra: &str) -> String {
    let resp = ask(r, method, host, path, extra);
    match resp.status {
        200 => resp.header("x-backend").unwrap_or("?").to_string(),
        404 if resp.header("x-fulcrum-error") == Some("no_route") => "-".to_string(),
        _ => panic!(
            "{method} {host}{path}: unexpected {}{}",
            resp.describe(),
            r.f.diag()
        ),
    }
}

#[test]
fn routes_match_by_host_path_method_headers_and_query_first_match_wins() {
    let r = routed();
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // method, host, path, extra header lines, expected cluster ("-": 404)
        ("GET", "api.example.com", "/v1/users", "", "api"),
        ("GET", "API.Example.COM:8080", "/v1/users", "", "api"),
        ("POST", "api.example.com", "/v1/users", "", "api"),
        (
            "GET",
            "api.example.com",
            "/v1/users",
            "x-canary: 1\r\n",
            "canary",
        ),
        (
            "GET",
            "api.example.com",
            "/v1/users",
            "X-Canary: 2\r\n",
            "api",
        ),
        // The api route does not take PUT; the wildcard host route does.
        ("PUT", "api.example.com", "/v1/users", "", "wild"),
        // `/v1` is not under the prefix `/v1/`.
        ("GET", "api.example.com", "/v1", "", "wild"),
        ("GET", "deep.sub.example.com", "/", "", "wild"),
        // `*.example.com` is not example.com itself, nor a name that merely ends alike.
        ("GET", "example.com", "/", "", "-"),
        ("GET", "badexample.com", "/", "", "-"),
        ("GET", "other.test", "/exact", "", "exact"),
        ("GET", "other.test", "/exact?x=1", "", "exact"),
        ("GET", "other.test", "/exact/", "", "-"),
        ("GET", "other.test", "/exactly", "", "-"),
        ("GET", "other.test", "/img/ab12.png", "", "regex"),
        ("GET", "other.test", "/img/ab12.jpg", "", "regex"),
        ("GET", "other.test", "/img/ab12.gif", "", "-"),
        ("GET", "other.test", "/img/ab123.png", "", "-"),
        ("GET", "other.test", "/x/img/ab12.png", "", "-"),
        ("GET", "other.test", "/q?debug=1", "", "query"),
        ("GET", "other.test", "/q?a=b&debug=1", "", "query"),
        ("GET", "other.test", "/q?debug=10", "", "-"),
        ("GET", "other.test", "/q?Debug=1", "", "-"),
        ("GET", "other.test", "/q", "", "-"),
        (
            "GET",
            "other.test",
            "/anything",
            "x-present: \r\n",
            "present",
        ),
        (
            "GET",
            "other.test",
            "/anything",
            "X-PRESENT: yes\r\n",
            "present",
        ),
        (
            "GET",
            "other.test",
            "/anything",
            "x-user: admin\r\n",
            "regexhdr",
        ),
        (
            "GET",
            "other.test",
            "/anything",
            "x-user: user-adm\r\n",
            "-",
        ),
        ("DELETE", "other.test", "/anything", "", "method"),
        ("delete", "other.test", "/anything", "", "-"),
        ("GET", "other.test", "/both/x", "", "first"),
        ("GET", "other.test", "/both/y", "", "first"),
        ("GET", "other.test", "/nothing", "", "-"),
    ];
    let mut wrong = Vec::new();
    for (method, host, path, extra, want) in cases {
        let got = who(&r, method, host, path, extra);
        if got != *want {
            wrong.push(format!(
                "{method} {host}{path} {extra:?}: went to {got:?}, expected {want:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "misrouted:\n{}{}",
        wrong.join("\n"),
        r.f.diag()
    );
}

#[test]
fn h2_requests_route_by_authority_too() {
    let r = routed();
    for (host, path, want) in [
        ("api.example.com", "/v1/users", "api"),
        ("x.example.com", "/", "wild"),
        ("other.test", "/img/ab12.png", "regex"),
    ] {
        let u = format!("http://{}{path}", r.listen);
        let hdr = format!("Host: {host}");
        let got = curl_fetch(&["--http2-prior-knowledge", "-H", &hdr, &u]);
        assert_eq!(
            got.status,
            200,
            "h2 {host}{path}: {}{}",
            got.describe(),
            r.f.diag()
        );
        assert_eq!(
            got.header("x-backend").as_deref(),
            Some(want),
            "h2 {host}{path}: {}",
            got.describe()
        );
    }
    let u = format!("http://{}/nothing", r.listen);
    let got = curl_fetch(&["--http2-prior-knowledge", "-H", "Host: other.test", &u]);
    assert_eq!(got.status, 404, "{}", got.describe());
    assert_eq!(got.header("x-fulcrum-error").as_deref(), Some("no_route"));
}

#[test]
fn no_route_is_a_404_that_says_why_and_keeps_the_connection() {
    let r = routed();
    let mut c = RawClient::connect(r.listen);
    c.send(b"GET /nothing HTTP/1.1\r\nHost: other.test\r\nx-request-id: nr-1\r\n\r\n")
        .unwrap();
    let resp = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", r.f.diag()));
    assert_eq!(resp.status, 404, "{}", resp.describe());
    assert_eq!(
        resp.header("x-fulcrum-error"),
        Some("no_route"),
        "{}",
        resp.describe()
    );
    assert!(
        resp.text().contains("no route"),
        "the body says why: {}",
        resp.describe()
    );
    assert_eq!(
        resp.header("x-request-id"),
        Some("nr-1"),
        "{}",
        resp.describe()
    );
    // A bodiless request that got a 404: the connection goes on.
    c.send(b"GET /exact HTTP/1.1\r\nHost: other.test\r\n\r\n")
        .unwrap();
    let resp = c
        .read_response()
        .unwrap_or_else(|e| panic!("keep-alive after a 404: {e}{}", r.f.diag()));
    assert_eq!(
        resp.header("x-backend"),
        Some("exact"),
        "{}",
        resp.describe()
    );
}

#[test]
fn configured_error_body_replaces_the_default() {
    let b = HttpBackend::start("only");
    let listener = r#"
[listener.error_responses]
404 = { body = "<h1>no such page</h1>", content_type = "text/html" }

[[listener.route]]
path = "/here"
cluster = "c"
"#;
    let (f, listen) = start_http(listener, &[b.addr()], "");
    let resp = get(listen, "x", "/elsewhere", "");
    assert_eq!(resp.status, 404, "{}{}", resp.describe(), f.diag());
    assert_eq!(resp.text(), "<h1>no such page</h1>", "{}", resp.describe());
    assert_eq!(resp.header("content-type"), Some("text/html"));
    assert_eq!(resp.header("x-fulcrum-error"), Some("no_route"));
    let resp = get(listen, "x", "/here", "");
    assert_eq!(resp.status, 200, "{}", resp.describe());
}

#[test]
fn request_and_response_header_rules_apply() {
    let r = routed();
    let resp = ask(
        &r,
        "GET",
        "api.example.com",
        "/v1/headers",
        "x-env: dev\r\nx-debug: 1\r\nx-added: client\r\nx-other: 1\r\n",
    );
    assert_eq!(resp.status, 200, "{}{}", resp.describe(), r.f.diag());
    let echo = resp.json();
    let seen = echo_headers(&echo);
    let named = |n: &str| -> Vec<String> {
        seen.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(named("x-env"), vec!["prod"], "set replaces: {seen:?}");
    assert!(named("x-debug").is_empty(), "remove: {seen:?}");
    assert_eq!(
        named("x-added"),
        vec!["client", "a"],
        "add appends: {seen:?}"
    );
    assert_eq!(named("x-other"), vec!["1"], "others untouched: {seen:?}");

    assert_eq!(
        resp.header("x-served-by"),
        Some("fulcrum"),
        "{}",
        resp.describe()
    );
    assert_eq!(
        resp.header("x-resp-added"),
        Some("r"),
        "{}",
        resp.describe()
    );
    assert_eq!(resp.header("server"), None, "removed: {}", resp.describe());
    assert_eq!(
        resp.header("x-remove-me"),
        None,
        "removed: {}",
        resp.describe()
    );
    assert_eq!(resp.header("x-kept"), Some("1"), "{}", resp.describe());

    // Another route has no rules.
    let resp = ask(&r, "GET", "other.test", "/exact", "x-debug: 1\r\n");
    let echo = resp.json();
    assert_eq!(echo_header(&echo, "x-debug").as_deref(), Some("1"));
    assert!(echo_header(&echo, "x-env").is_none());
}

#[test]
fn hop_by_hop_fields_are_stripped_both_ways() {
    let b = HttpBackend::start("hop");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let mut c = RawClient::connect(listen);
    c.send(
        b"GET /headers HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, x-secret, X-Other-Secret\r\n\
          x-secret: 1\r\nx-other-secret: 2\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\
          TE: gzip\r\nTrailer: x-t\r\nUpgrade: h2c\r\nProxy-Authenticate: Basic\r\nx-kept: yes\r\n\r\n",
    )
    .unwrap();
    let resp = c
        .read_response()
        .unwrap_or_else(|e| panic!("{e}{}", f.diag()));
    assert_eq!(resp.status, 200, "{}{}", resp.describe(), f.diag());
    let seen = b.last("hop-by-hop");
    for gone in [
        "x-secret",
        "x-other-secret",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "proxy-authenticate",
    ] {
        assert!(
            !seen.has(gone),
            "the backend got hop-by-hop field {gone}: {:?}",
            seen.headers
        );
    }
    for v in seen.headers_named("connection") {
        assert!(
            !v.to_ascii_lowercase().contains("secret"),
            "Connection passed on with the client's options: {v:?}"
        );
    }
    assert_eq!(seen.header("x-kept"), Some("yes"), "{:?}", seen.headers);

    // The backend's own hop-by-hop fields (and what its Connection names) do not reach the
    // client.
    for gone in ["x-backend-hop", "keep-alive", "proxy-connection"] {
        assert!(
            resp.header(gone).is_none(),
            "the client got the backend's hop-by-hop field {gone}: {}",
            resp.describe()
        );
    }
    assert_eq!(resp.header("x-kept"), Some("1"), "{}", resp.describe());
    assert!(
        c.open_for(Duration::from_millis(200)),
        "keep-alive connection closed{}",
        f.diag()
    );
}

/// One request through a listener with `keys`; returns the backend's view and the response.
fn through(keys: &str, extra: &str) -> (support::http_backend::SeenRequest, RawResponse, Fulcrum) {
    let b = HttpBackend::start("fwd");
    let (f, listen) = start_http(&format!("cluster = \"c\"\n{keys}"), &[b.addr()], "");
    let resp = get(listen, "www.example.com:8080", "/fwd", extra);
    assert_eq!(resp.status, 200, "{}{}", resp.describe(), f.diag());
    let seen = b.last("forwarding");
    (seen, resp, f)
}

#[test]
fn x_forwarded_headers_via_and_request_id_by_default() {
    let (seen, resp, f) = through("", "X-Forwarded-For: 10.1.1.1\r\n");
    assert_eq!(
        seen.headers_named("x-forwarded-for"),
        vec!["10.1.1.1, 127.0.0.1"],
        "the client is appended to X-Forwarded-For: {:?}{}",
        seen.headers,
        f.diag()
    );
    assert_eq!(
        seen.header("x-forwarded-proto"),
        Some("http"),
        "{:?}",
        seen.headers
    );
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some("www.example.com:8080"),
        "{:?}",
        seen.headers
    );
    assert!(seen.header("forwarded").is_none(), "{:?}", seen.headers);
    assert_eq!(
        seen.header("via"),
        Some("1.1 fulcrum"),
        "{:?}",
        seen.headers
    );
    assert_eq!(
        seen.header("host"),
        Some("www.example.com:8080"),
        "Host is kept"
    );
    let id = seen
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no request id generated: {:?}", seen.headers));
    assert!(
        id.len() >= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "request id {id:?}"
    );
    assert_eq!(
        resp.header("x-request-id"),
        Some(id),
        "the response echoes the id: {}",
        resp.describe()
    );
    assert!(
        resp.headers_named("via")
            .iter()
            .any(|v| v.contains("fulcrum")),
        "Via on the response: {}",
        resp.describe()
    );

    // Two requests get two ids; a client's id is kept.
    let (a, _, _) = through("", "");
    let (b, _, _) = through("", "");
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
    let (c, resp, _) = through("", "X-Request-Id: client-chosen-42\r\n");
    assert_eq!(c.headers_named("x-request-id"), vec!["client-chosen-42"]);
    assert_eq!(resp.header("x-request-id"), Some("client-chosen-42"));
}

#[test]
fn rfc7239_forwarded_both_and_none() {
    let (seen, _, f) = through("forwarded = \"rfc7239\"", "Forwarded: for=192.0.2.60\r\n");
    assert_eq!(
        seen.headers_named("forwarded"),
        vec!["for=192.0.2.60, for=127.0.0.1;proto=http;host=www.example.com:8080"],
        "{:?}{}",
        seen.headers,
        f.diag()
    );
    assert!(
        seen.header("x-forwarded-for").is_none(),
        "{:?}",
        seen.headers
    );

    let (seen, _, _) = through("forwarded = \"both\"", "");
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(
        seen.header("forwarded"),
        Some("for=127.0.0.1;proto=http;host=www.example.com:8080")
    );

    let (seen, _, _) = through("forwarded = \"none\"", "X-Forwarded-For: 10.9.9.9\r\n");
    assert!(seen.header("forwarded").is_none(), "{:?}", seen.headers);
    assert_eq!(
        seen.headers_named("x-forwarded-for"),
        vec!["10.9.9.9"],
        "`none` neither adds nor removes: {:?}",
        seen.headers
    );
    assert!(
        seen.header("x-forwarded-proto").is_none(),
        "{:?}",
        seen.headers
    );
}

#[test]
fn via_and_request_id_can_be_turned_off_or_renamed() {
    let (seen, resp, f) = through("via = false\nrequest_id = false", "");
    assert!(
        seen.header("via").is_none(),
        "{:?}{}",
        seen.headers,
        f.diag()
    );
    assert!(resp.header("via").is_none(), "{}", resp.describe());
    assert!(seen.header("x-request-id").is_none(), "{:?}", seen.headers);
    assert!(resp.header("x-request-id").is_none(), "{}", resp.describe());

    let (seen, resp, _) = through("request_id = \"x-trace-id\"", "");
    let id = seen
        .header("x-trace-id")
        .unwrap_or_else(|| panic!("no x-trace-id: {:?}", seen.headers));
    assert_eq!(resp.header("x-trace-id"), Some(id), "{}", resp.describe());
    assert!(seen.header("x-request-id").is_none(), "{:?}", seen.headers);
}

#[test]
fn h2_client_forwarding_headers_and_via() {
    let b = HttpBackend::start("fwd2");
    let (f, listen) = start_http("cluster = \"c\"", &[b.addr()], "");
    let u = format!("http://{listen}/h2fwd");
    let r = curl_fetch(&[
        "--http2-prior-knowledge",
        "-H",
        "Host: h2.example.com",
        "-H",
        "x-forwarded-for: 10.2.2.2",
        &u,
    ]);
    assert_eq!(r.status, 200, "{}{}", r.describe(), f.diag());
    let seen = b.last("h2 forwarding");
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("10.2.2.2, 127.0.0.1"),
        "{:?}",
        seen.headers
    );
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some("h2.example.com"),
        "{:?}",
        seen.headers
    );
    assert_eq!(
        seen.header("via"),
        Some("2.0 fulcrum"),
        "{:?}",
        seen.headers
    );
    assert_eq!(
        seen.header("host"),
        Some("h2.example.com"),
        "{:?}",
        seen.headers
    );
    let id = seen.header("x-request-id").expect("request id").to_string();
    assert_eq!(r.header("x-request-id"), Some(id), "{}", r.describe());
}
