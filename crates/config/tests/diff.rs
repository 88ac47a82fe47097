//! `diff()` between two validated configs.

use fulcrum_config::{ConfigDiff, diff, parse};

const BASE: &str = r#"
[admin]
listen = "127.0.0.1:9090"

[runtime]
workers = 2

[[listener]]
name = "db"
bind = "127.0.0.1:5433"
cluster = "pg"

[[listener]]
name = "web"
bind = "127.0.0.1:8080"
cluster = "www"

[[cluster]]
name = "pg"
backends = ["127.0.0.1:5432"]

[[cluster]]
name = "www"
backends = ["127.0.0.1:8000"]
"#;

fn cfg(text: &str) -> fulcrum_config::Config {
    parse(text, "diff.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn identical_configs_give_an_empty_diff() {
    let d = diff(&cfg(BASE), &cfg(BASE));
    assert!(d.is_empty());
    assert_eq!(d, ConfigDiff::default());
    assert_eq!(d.to_string(), "no changes");
}

#[test]
fn source_path_is_not_a_change() {
    let mut new = cfg(BASE);
    new.source = Some("/etc/other.toml".into());
    assert!(diff(&cfg(BASE), &new).is_empty());
}

#[test]
fn listener_added_removed_changed() {
    let new = BASE
        .replace("name = \"web\"", "name = \"www\"")
        .replace("bind = \"127.0.0.1:5433\"", "bind = \"127.0.0.1:5434\"")
        + "\n[[listener]]\nname = \"extra\"\nbind = \"127.0.0.1:9999\"\ncluster = \"pg\"\n";
    let d = diff(&cfg(BASE), &cfg(&new));
    assert_eq!(d.listeners_added, ["www", "extra"]);
    assert_eq!(d.listeners_removed, ["web"]);
    assert_eq!(d.listeners_changed, ["db"]);
    assert!(d.clusters_added.is_empty() && d.clusters_removed.is_empty());
    assert!(d.clusters_changed.is_empty());
    assert!(!d.runtime_changed && !d.admin_changed && !d.log_changed);
    assert_eq!(d.to_string(), "listeners +www +extra -web ~db");
}

#[test]
fn cluster_added_removed_changed() {
    let new = BASE
        .replace(
            "[\"127.0.0.1:5432\"]",
            "[\"127.0.0.1:5432\", \"127.0.0.2:5432\"]",
        )
        .replace("name = \"www\"\nbackends", "name = \"www2\"\nbackends")
        .replace("cluster = \"www\"", "cluster = \"www2\"");
    let d = diff(&cfg(BASE), &cfg(&new));
    assert_eq!(d.clusters_added, ["www2"]);
    assert_eq!(d.clusters_removed, ["www"]);
    assert_eq!(d.clusters_changed, ["pg"]);
    // The listener now points at another cluster: that is a listener change too.
    assert_eq!(d.listeners_changed, ["web"]);
    assert!(!d.is_empty());
}

#[test]
fn a_default_made_explicit_is_no_change() {
    let new = BASE.replace("cluster = \"pg\"\n", "cluster = \"pg\"\nbacklog = 1024\n");
    assert!(diff(&cfg(BASE), &cfg(&new)).is_empty());
}

#[test]
fn runtime_changes_flag_restart_for_workers_and_pinning() {
    let new = BASE.replace("workers = 2", "workers = 4\npin_workers = false");
    let d = diff(&cfg(BASE), &cfg(&new));
    assert!(d.runtime_changed);
    assert_eq!(
        d.restart_required,
        ["runtime.workers", "runtime.pin_workers"]
    );
    assert!(d.needs_restart());

    let new = BASE.replace("workers = 2", "workers = 2\nshutdown_timeout = \"5s\"");
    let d = diff(&cfg(BASE), &cfg(&new));
    assert!(d.runtime_changed);
    assert!(!d.needs_restart());
    assert_eq!(d.to_string(), "runtime");
}

#[test]
fn admin_and_log_changes() {
    let new = BASE.replace("127.0.0.1:9090", "127.0.0.1:9091") + "\n[log]\nlevel = \"debug\"\n";
    let d = diff(&cfg(BASE), &cfg(&new));
    assert!(d.admin_changed && d.log_changed && !d.runtime_changed);
    assert_eq!(d.to_string(), "admin; log");

    let no_admin = BASE.replace("[admin]\nlisten = \"127.0.0.1:9090\"\n", "");
    assert!(diff(&cfg(BASE), &cfg(&no_admin)).admin_changed);
    // Absent [log] and a [log] of defaults are the same config.
    assert!(
        diff(
            &cfg(BASE),
            &cfg(&(BASE.to_owned() + "\n[log]\nlevel = \"info\"\n"))
        )
        .is_empty()
    );
}

const HTTP: &str = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
protocol = "http"
cluster = "www"

[listener.error_responses]
503 = { body = "busy" }
404 = { body = "none" }

[[listener.route]]
name = "api"
path_prefix = "/api/"
cluster = "api"

[[cluster]]
name = "www"
backends = ["127.0.0.1:8000"]

[[cluster]]
name = "api"
backends = ["127.0.0.1:9000"]

[cluster.health]
interval = "2s"
"#;

#[test]
fn route_and_http_changes_are_listener_changes() {
    let old = cfg(HTTP);
    for new in [
        HTTP.replace("path_prefix = \"/api/\"", "path_prefix = \"/v2/\""),
        HTTP.replace("cluster = \"www\"\n\n[listener", "\n[listener"),
        HTTP.replace("protocol = \"http\"", "protocol = \"http\"\nvia = false"),
        HTTP.replace("503 = { body = \"busy\" }", "503 = { body = \"full\" }"),
    ] {
        let d = diff(&old, &cfg(&new));
        assert_eq!(d.listeners_changed, ["web"], "{new}");
        assert!(d.clusters_changed.is_empty());
        assert_eq!(d.to_string(), "listeners ~web");
    }
}

#[test]
fn resilience_changes_are_cluster_changes() {
    let old = cfg(HTTP);
    for new in [
        HTTP.replace("interval = \"2s\"", "interval = \"5s\""),
        HTTP.replace("\n[cluster.health]\ninterval = \"2s\"\n", ""),
        HTTP.to_owned() + "\n[cluster.retry]\nattempts = 2\n",
        HTTP.to_owned() + "\n[cluster.persistence]\nkind = \"cookie\"\n",
        HTTP.replace(
            "name = \"api\"\nbackends",
            "name = \"api\"\nbalance = \"maglev\"\nbackends",
        ),
    ] {
        let d = diff(&old, &cfg(&new));
        assert_eq!(d.clusters_changed, ["api"], "{new}");
        assert!(d.listeners_changed.is_empty());
    }
}

#[test]
fn http_defaults_made_explicit_and_reordered_tables_are_no_change() {
    let new = HTTP
        .replace(
            "503 = { body = \"busy\" }\n404 = { body = \"none\" }",
            "404 = { body = \"none\", content_type = \"text/plain; charset=utf-8\" }\n503 = { body = \"busy\" }",
        )
        .replace(
            "protocol = \"http\"",
            "protocol = \"http\"\nforwarded = \"x-forwarded\"\nrequest_id = true\nproxy_protocol_from = []",
        )
        .replace("interval = \"2s\"", "interval = \"2s\"\nkind = \"tcp\"\njitter = 0.1");
    assert!(diff(&cfg(HTTP), &cfg(&new)).is_empty());
}
