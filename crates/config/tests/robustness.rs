//! `parse` never panics, whatever the text, and every error points inside the text.

use proptest::prelude::*;

const GOOD: &str = r#"[admin]
listen = "127.0.0.1:9090"

[runtime]
workers = 2
buffer_size = "64KiB"
shutdown_timeout = "1m30s"

[[listener]]
name = "db"
bind = "[::1]:5433"
cluster = "pg"
tcp_keepalive = false

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432", { address = "10.0.0.2:5432", weight = 3 }]
"#;

/// The HTTP and resilience keys, for mutations to land in.
const GOOD_HTTP: &str = r#"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "api"
proxy_protocol_from = ["10.0.0.0/8", "::1"]
request_id = "x-id"

[listener.timeouts]
request = "60s"

[listener.limits]
max_body_bytes = "1MiB"

[listener.error_responses]
503 = { body = "busy", content_type = "text/html" }

[[listener.route]]
name = "a"
host = "*.example.com"
path_regex = "^/v[0-9]+/"
method = ["GET", "post"]
headers = [{ name = "x-canary", value = "1" }, { name = "x-b", present = true }]
query = [{ name = "v", regex = "^2" }]
cluster = "api"
request_headers = { set = { "x-env" = "prod" }, add = { "x-a" = "b" }, remove = ["x-debug"] }

[[cluster]]
name = "api"
balance = "ring_hash"
hash_key = "header:x-user"
hash_balance_factor = 1.25
panic_threshold = 0.5
backends = [{ address = "127.0.0.1:9001", zone = "a", priority = 1 }, "127.0.0.1:9002"]

[cluster.health]
kind = "http"
expect_status = ["200-299", 304]
timeout = "1s"

[cluster.outlier]
max_ejected = 0.2

[cluster.retry]
attempts = 2
on = ["connect-failure", 503]

[cluster.persistence]
kind = "cookie"
max_age = "1h"
"#;

fn mutate(good: &str, at: usize, cut: usize, insert: &str) -> String {
    let mut text = String::new();
    let at = (0..=at.min(good.len()))
        .rev()
        .find(|i| good.is_char_boundary(*i))
        .unwrap();
    let end = (at + cut..=good.len())
        .find(|i| good.is_char_boundary(*i))
        .unwrap_or(good.len());
    text.push_str(&good[..at]);
    text.push_str(insert);
    text.push_str(&good[end.min(good.len())..]);
    text
}

fn check(text: &str) {
    if let Err(e) = fulcrum_config::parse(text, "fuzz.toml") {
        let lines = text.split('\n').count();
        assert!(!e.diagnostics().is_empty());
        for d in e.diagnostics() {
            assert!(d.line >= 1 && d.line <= lines, "line {} of {lines}", d.line);
            assert!(d.column >= 1);
        }
        let _ = e.to_string();
    }
}

proptest! {
    #[test]
    fn mutated_good_config_never_panics(
        at in 0usize..GOOD.len(),
        cut in 0usize..8,
        insert in "[\\[\\]\"= a-z0-9.:{},\n#-ü]{0,6}",
    ) {
        let mut text = String::new();
        let at = (0..=at).rev().find(|i| GOOD.is_char_boundary(*i)).unwrap();
        let end = (at + cut..=GOOD.len()).find(|i| GOOD.is_char_boundary(*i)).unwrap_or(GOOD.len());
        text.push_str(&GOOD[..at]);
        text.push_str(&insert);
        text.push_str(&GOOD[end.min(GOOD.len())..]);
        check(&text);
    }

    #[test]
    fn mutated_http_config_never_panics(
        at in 0usize..GOOD_HTTP.len(),
        cut in 0usize..8,
        insert in "[\\[\\]\"= a-z0-9.:{},\n#*/\\\\ü-]{0,6}",
    ) {
        check(&mutate(GOOD_HTTP, at, cut, &insert));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }
}

#[test]
fn the_base_configs_are_good() {
    fulcrum_config::parse(GOOD, "fuzz.toml").unwrap();
    if let Err(e) = fulcrum_config::parse(GOOD_HTTP, "fuzz.toml") {
        panic!("{e}");
    }
}
