use super::*;
use crate::testutil;
use fulcrum_balance::AdminState;
use http_body_util::BodyExt;
use hyper::Request;

struct Answer {
    status: StatusCode,
    allow: Option<String>,
    body: String,
}

async fn call(
    snapshot: &std::sync::Arc<fulcrum_proxy::Snapshot>,
    method: Method,
    uri: &str,
    body: &str,
    origin: bool,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if origin {
        req = req.header(header::ORIGIN, "http://evil.example");
    }
    let req = req.body(()).unwrap();
    let resp = crate::routes::handle(&req, body.as_bytes(), || testutil::view(snapshot));
    let status = resp.status();
    let allow = resp
        .headers()
        .get(header::ALLOW)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        allow,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn disable_enable_drain_and_weight() {
    let s = testutil::snapshot();
    let b = &s.clusters[0].backends;
    let a = call(
        &s,
        Method::POST,
        "/backends/app/127.0.0.1:9001/disable",
        "",
        false,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let doc: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(doc["admin_state"], "disabled");
    assert_eq!(b[0].admin_state(), AdminState::Disabled);

    call(
        &s,
        Method::POST,
        "/backends/app/127.0.0.1:9001/drain",
        "",
        false,
    )
    .await;
    assert_eq!(b[0].admin_state(), AdminState::Draining);
    call(
        &s,
        Method::POST,
        "/backends/app/127.0.0.1%3A9001/enable",
        "",
        false,
    )
    .await;
    assert_eq!(b[0].admin_state(), AdminState::Enabled);

    let a = call(
        &s,
        Method::PUT,
        "/backends/app/127.0.0.1:9002/weight",
        " 7\n",
        false,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(b[1].weight(), 7);
    let uri = "/backends/app/127.0.0.1:9002/weight?value=9";
    call(&s, Method::POST, uri, "", false).await;
    assert_eq!(b[1].weight(), 9);
    let a = call(
        &s,
        Method::DELETE,
        "/backends/app/127.0.0.1:9002/weight",
        "",
        false,
    )
    .await;
    let doc: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        (doc["weight"].clone(), doc["weight_override"].clone()),
        (3.into(), serde_json::Value::Null)
    );
}

#[tokio::test]
async fn errors() {
    let s = testutil::snapshot();
    let cases = [
        (
            Method::POST,
            "/backends/nope/127.0.0.1:9001/disable",
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/backends/app/127.0.0.1:1/disable",
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/backends/app/not-an-address/disable",
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/backends/app/127.0.0.1:9001/explode",
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/backends/app/127.0.0.1:9001",
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            "/backends/app/127.0.0.1:9001/weight",
            "heavy",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/backends/app/127.0.0.1:9001/weight",
            "0",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/backends/app/127.0.0.1:9001/weight?value=1001",
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/backends/app/127.0.0.1:9001/weight",
            "",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, uri, body, want) in cases {
        let a = call(&s, method.clone(), uri, body, false).await;
        assert_eq!(a.status, want, "{method} {uri}: {}", a.body);
    }
    let a = call(
        &s,
        Method::GET,
        "/backends/app/127.0.0.1:9001/disable",
        "",
        false,
    )
    .await;
    assert_eq!(
        (a.status, a.allow.as_deref()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("POST"))
    );
    let a = call(
        &s,
        Method::GET,
        "/backends/app/127.0.0.1:9001/weight",
        "",
        false,
    )
    .await;
    assert_eq!(a.allow.as_deref(), Some("PUT, POST, DELETE"));
    let a = call(
        &s,
        Method::POST,
        "/backends/app/127.0.0.1:9001/disable",
        "",
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(s.clusters[0].backends[0].admin_state(), AdminState::Enabled);
}

#[tokio::test]
async fn backends_lists_the_clusters() {
    let s = testutil::snapshot();
    let a = call(&s, Method::GET, "/backends", "", false).await;
    assert_eq!(a.status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        doc["clusters"][0]["backends"][1]["address"],
        "127.0.0.1:9002"
    );
    let a = call(&s, Method::POST, "/backends", "", false).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn decodes_ipv6_segments() {
    assert_eq!(decode("%5B%3A%3A1%5D%3A80"), "[::1]:80");
    assert_eq!(decode("a%zz%4"), "a%zz%4");
}
