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
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }
}

#[test]
fn the_base_config_is_good() {
    fulcrum_config::parse(GOOD, "fuzz.toml").unwrap();
}
