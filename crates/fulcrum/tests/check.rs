//! `fulcrum check -c FILE`: a good config passes, bad ones fail with an operator-readable
//! error. The assertions stick to fragments any rustc-style diagnostic carries (file, line,
//! key, the value found, the suggestion), not to exact wording, which the config crate owns.

mod support;

use support::*;

/// A good config; line numbers matter to the cases below.
const GOOD: &str = r#"[admin]
listen = "127.0.0.1:19999"

[runtime]
workers = 2

[[listener]]
name = "l"
bind = "127.0.0.1:18080"
cluster = "c"

[[cluster]]
name = "c"
balance = "round_robin"
backends = ["127.0.0.1:9001"]
"#;

/// Every documented key, set.
const FULL: &str = r#"[admin]
listen = "127.0.0.1:19999"

[runtime]
workers = 2
pin_workers = false
shutdown_timeout = "30s"
relay = "splice"
buffer_size = "64KiB"

[log]
level = "info"
connections = true
format = "text"

[[listener]]
name = "l"
bind = "127.0.0.1:18080"
protocol = "tcp"
cluster = "c"
backlog = 1024
max_connections = 10000
idle_timeout = "10m"
tcp_nodelay = true
tcp_keepalive = "60s"

[[listener]]
name = "v6"
bind = "[::1]:18081"
cluster = "w"

[[cluster]]
name = "c"
balance = "least_conn"
connect_timeout = "2s"
connect_attempts = 3
backends = ["127.0.0.1:9001", "127.0.0.1:9002"]

[[cluster]]
name = "w"
balance = "weighted_round_robin"
backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 3 }]
"#;

fn check_file(text: &str, file: &str) -> (std::process::ExitStatus, String, String, String) {
    let dir = TempDir::new("check");
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    let (status, out, err) = fulcrum_cmd(&["check", "-c", &path]);
    (status, out, err, path)
}

#[test]
fn check_accepts_good_configs() {
    for (name, text) in [("minimal", GOOD), ("every key", FULL)] {
        let (status, out, err, _) = check_file(text, "good.toml");
        assert!(
            status.success() && out.contains("config ok"),
            "`fulcrum check` on the {name} config: {status}, stdout {out:?}, stderr:\n{err}"
        );
    }
}

/// One bad config: how to make it from GOOD, the line the error is on (if one), and fragments
/// the error must contain.
struct Case {
    name: &'static str,
    text: String,
    line: Option<usize>,
    fragments: &'static [&'static str],
}

fn replace(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "test bug: {from:?} not in GOOD");
    GOOD.replacen(from, to, 1)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "typo in a listener key",
            text: replace("bind = ", "bnd = "),
            line: Some(9),
            fragments: &["bnd", "did you mean", "bind"],
        },
        Case {
            name: "typo in a table name",
            text: replace("[runtime]", "[runtme]"),
            line: Some(4),
            fragments: &["runtme", "did you mean", "runtime"],
        },
        Case {
            name: "unknown balance algorithm",
            text: replace("\"round_robin\"", "\"randum\""),
            line: Some(14),
            fragments: &["balance", "randum", "round_robin"],
        },
        Case {
            name: "balance with a dash",
            text: replace("\"round_robin\"", "\"round-robin\""),
            line: Some(14),
            fragments: &["balance", "round-robin", "round_robin"],
        },
        Case {
            name: "listener names a missing cluster",
            text: replace("cluster = \"c\"", "cluster = \"nope\""),
            line: Some(10),
            fragments: &["cluster", "nope"],
        },
        Case {
            name: "port out of range",
            text: replace("127.0.0.1:18080", "127.0.0.1:99999"),
            line: Some(9),
            fragments: &["bind", "99999"],
        },
        Case {
            name: "bad duration",
            text: replace(
                "balance = \"round_robin\"\n",
                "balance = \"round_robin\"\nconnect_timeout = \"2 parsecs\"\n",
            ),
            line: Some(15),
            fragments: &["connect_timeout", "2 parsecs"],
        },
        Case {
            name: "unknown relay mode",
            text: replace("workers = 2\n", "workers = 2\nrelay = \"zerocopy\"\n"),
            line: Some(6),
            fragments: &["relay", "zerocopy", "splice"],
        },
        Case {
            name: "wrong type",
            text: replace("workers = 2", "workers = \"two\""),
            line: Some(5),
            fragments: &["workers", "two"],
        },
        Case {
            name: "duplicate listener name",
            text: GOOD.replace("name = \"l\"", "name = \"dup-name\"")
                + "\n[[listener]]\nname = \"dup-name\"\nbind = \"127.0.0.1:18081\"\ncluster = \"c\"\n",
            line: None,
            fragments: &["dup-name"],
        },
        Case {
            name: "not TOML",
            text: replace("[[listener]]", "[[listener]"),
            line: Some(7),
            fragments: &[],
        },
    ]
}

#[test]
fn check_rejects_bad_configs_with_readable_errors() {
    let mut failures = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        let (status, out, err, path) = check_file(&case.text, &format!("bad-{i}.toml"));
        let mut problems = Vec::new();
        if status.code() != Some(1) {
            problems.push(format!("exit status {status}, want 1"));
        }
        if out.contains("config ok") {
            problems.push("stdout says `config ok`".to_string());
        }
        if !err.contains(&path) {
            problems.push(format!("stderr does not name the file {path}"));
        }
        if let Some(line) = case.line {
            let has_pos = [
                format!("{path}:{line}:"),
                format!(":{line}:"),
                format!("line {line}"),
            ]
            .iter()
            .any(|p| err.contains(p.as_str()));
            if !has_pos {
                problems.push(format!(
                    "stderr does not give line {line} (as `:{line}:` or `line {line}`)"
                ));
            }
        }
        for frag in case.fragments {
            if !err.contains(frag) {
                problems.push(format!("stderr lacks {frag:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "case `{}`: {}\n--- config ---\n{}--- stderr ---\n{err}",
                case.name,
                problems.join("; "),
                case.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad-config case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn check_reports_a_missing_file() {
    let dir = TempDir::new("check-missing");
    let path = dir.path().join("does-not-exist.toml").display().to_string();
    let (status, out, err) = fulcrum_cmd(&["check", "-c", &path]);
    assert_eq!(
        status.code(),
        Some(1),
        "exit status for a missing file; stderr:\n{err}"
    );
    assert!(!out.contains("config ok"), "stdout: {out}");
    assert!(
        err.contains(&path),
        "stderr should name the missing file {path}:\n{err}"
    );
}
