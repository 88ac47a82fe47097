//! `/`: a one-page HTML dashboard, rendered on the server from the same [`View`] as
//! `/metrics` and refreshed by the browser every two seconds. No JavaScript, no assets.

use crate::backends::state_word;
use crate::view::View;
use std::fmt::{self, Write};
use std::sync::atomic::Ordering::Relaxed;

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin-bottom:2em}th,td{padding:.3em .8em;text-align:right}\
th{background:#eee}td:first-child,th:first-child,td.l{text-align:left}tr+tr td{border-top:1px solid #ddd}";

/// Renders the dashboard.
pub(crate) fn render(view: &View) -> Result<String, fmt::Error> {
    let s = &view.snapshot;
    let mut out = String::with_capacity(4096);
    write!(
        out,
        "<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=2>\
         <title>Fulcrum</title><style>{STYLE}</style></head><body><h1>Fulcrum</h1>\
         <p>config generation {} &middot; {} workers &middot; {} reloads ({} failed) &middot; \
         <a href=/metrics>metrics</a> &middot; <a href=/config>config</a></p>",
        s.generation, view.workers, view.reloads, view.reload_failures
    )?;

    out.push_str(
        "<h2>Listeners</h2><table><tr><th>listener<th>bind<th>cluster<th>active<th>accepted\
         <th>bytes in<th>bytes out<th>no backend<th>limit reached<th>accept exhausted",
    );
    for l in &s.listeners {
        let st = &l.stats;
        write!(
            out,
            "<tr><td>{}<td class=l>{}<td class=l>{}",
            Html(&l.config.name),
            l.config.bind,
            Html(&l.config.cluster)
        )?;
        for v in [&st.active, &st.accepted, &st.bytes_in, &st.bytes_out] {
            write!(out, "<td>{}", v.load(Relaxed))?;
        }
        for v in [&st.no_backend, &st.limit_reached, &st.accept_exhausted] {
            write!(out, "<td>{}", v.load(Relaxed))?;
        }
    }

    out.push_str(
        "</table><h2>Backends</h2><table><tr><th>cluster<th>backend<th>state<th>weight\
         <th>effective<th>active<th>connections<th>connect errors<th>bytes sent\
         <th>bytes received<th>checks<th>failed checks",
    );
    for c in &s.clusters {
        for b in &c.backends {
            let st = &b.stats;
            write!(
                out,
                "<tr><td>{}<td class=l>{}<td class=l>{}<td>{}<td>{}",
                Html(c.name()),
                b.address,
                state_word(b),
                b.weight(),
                c.effective_weight(b)
            )?;
            for v in [
                &st.active,
                &st.connections,
                &st.connect_errors,
                &st.bytes_sent,
                &st.bytes_received,
                &st.health_checks,
                &st.health_failures,
            ] {
                write!(out, "<td>{}", v.load(Relaxed))?;
            }
        }
    }
    out.push_str("</table></body></html>\n");
    Ok(out)
}

/// Escapes text for HTML element content.
struct Html<'a>(&'a str);

impl fmt::Display for Html<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '&' => f.write_str("&amp;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    #[test]
    fn shows_listeners_and_backends() {
        let snapshot = testutil::snapshot();
        snapshot.clusters[0].backends[1]
            .stats
            .connections
            .fetch_add(42, Relaxed);
        let html = render(&testutil::view(&snapshot)).unwrap();
        assert!(
            html.contains("<tr><td>web<td class=l>127.0.0.1:18080<td class=l>app"),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><td>app<td class=l>127.0.0.1:9002<td class=l>up<td>3<td>3<td>0<td>42<td>"
            ),
            "{html}"
        );
        assert!(
            html.contains("config generation 1 &middot; 2 workers"),
            "{html}"
        );
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            Html("<a href=\"x\">&'").to_string(),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
