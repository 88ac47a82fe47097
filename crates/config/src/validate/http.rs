//! The HTTP keys of a listener: timeouts, limits, error responses and routes.

use super::{Validator, flag, setting};
use crate::defaults as d;
use crate::error::ErrorKind;
use crate::model::*;
use crate::raw::schema as k;
use crate::raw::{
    BoolOrStr, Entries, IntOrStr, RawErrorResponse, RawHeaderRules, RawHttpLimits, RawHttpTimeouts,
    RawListener, RawMatch, RawRoute,
};
use crate::units;
use std::ops::Range;
use toml::Spanned;

impl Validator<'_> {
    /// The HTTP settings of an http listener. Bad values are reported and replaced by their
    /// default, so that the rest is still checked.
    pub(super) fn http_listener(
        &mut self,
        path: &str,
        span: &Range<usize>,
        l: &RawListener,
    ) -> HttpListenerConfig {
        let at = |key: &str| format!("{path}.{key}");
        let forwarded = self.choice(l.forwarded.as_ref(), &at("forwarded"), k::FORWARDED);
        let forwarded = forwarded.map_or(d::FORWARDED, |i| {
            [
                ForwardedMode::XForwarded,
                ForwardedMode::Rfc7239,
                ForwardedMode::Both,
                ForwardedMode::None,
            ][i]
        });
        let request_id_header = match &l.request_id {
            None => Some(d::REQUEST_ID_HEADER.to_owned()),
            Some(r) => match r.get_ref() {
                BoolOrStr::Bool(false) => None,
                BoolOrStr::Bool(true) => Some(d::REQUEST_ID_HEADER.to_owned()),
                BoolOrStr::Str(name) => self.header_name(name, r.span(), &at("request_id")),
            },
        };
        let access_log = self.choice(l.access_log.as_ref(), &at("access_log"), k::ACCESS_LOG);
        let access_log = access_log.map_or(d::ACCESS_LOG, |i| {
            [
                AccessLogFormat::Off,
                AccessLogFormat::Combined,
                AccessLogFormat::Json,
            ][i]
        });
        let mut routes = self.routes(path, l);
        if let Some(cluster) = &l.cluster {
            routes.push(catch_all(cluster.get_ref()));
        } else if l.route.as_ref().is_none_or(|r| r.get_ref().is_empty())
            && !self.was_dropped(&at("route"))
        {
            let message = format!("missing key `cluster` in {path}");
            let label = "an http listener needs `cluster` or at least one [[listener.route]]; \
                 without either it would answer 404 to everything"
                .to_owned();
            self.error(
                ErrorKind::MissingKey,
                span.clone(),
                &at("cluster"),
                message,
                label,
            );
        }
        HttpListenerConfig {
            routes,
            timeouts: self.http_timeouts(l.timeouts.as_ref(), &at("timeouts")),
            limits: self.http_limits(l.limits.as_ref(), &at("limits")),
            forwarded,
            via: flag(&l.via, d::VIA),
            request_id_header,
            access_log,
            error_responses: self
                .error_responses(l.error_responses.as_ref(), &at("error_responses")),
        }
    }

    /// Reports each HTTP-only key of a tcp (or, when `tls`, a tls) listener.
    pub(super) fn http_only_keys(&mut self, path: &str, l: &RawListener, tls: bool) {
        let given: [(&str, Option<Range<usize>>); 8] = [
            ("forwarded", l.forwarded.as_ref().map(Spanned::span)),
            ("via", l.via.as_ref().map(Spanned::span)),
            ("request_id", l.request_id.as_ref().map(Spanned::span)),
            ("access_log", l.access_log.as_ref().map(Spanned::span)),
            ("timeouts", l.timeouts.as_ref().map(Spanned::span)),
            ("limits", l.limits.as_ref().map(Spanned::span)),
            (
                "error_responses",
                l.error_responses.as_ref().map(Spanned::span),
            ),
            ("route", l.route.as_ref().map(Spanned::span)),
        ];
        debug_assert!(given.iter().map(|g| g.0).eq(k::HTTP_ONLY.iter().copied()));
        let note = setting(path, "protocol", l.protocol.as_ref(), "tcp");
        let (wanted, which) = match tls {
            false => ("http", "http"),
            true => ("https", "http and https"),
        };
        for (key, span) in given {
            let Some(span) = span else { continue };
            let message = format!("`{key}` in {path} needs protocol = \"{wanted}\"");
            let label = format!("only {which} listeners have `{key}`; {note}");
            self.conflict(span, &format!("{path}.{key}"), message, label);
        }
    }

    fn http_timeouts(
        &mut self,
        raw: Option<&Spanned<RawHttpTimeouts>>,
        path: &str,
    ) -> HttpTimeouts {
        let def = HttpTimeouts::default();
        let Some(t) = raw.map(Spanned::get_ref) else {
            return def;
        };
        let at = |key: &str| format!("{path}.{key}");
        let request = match &t.request {
            None => def.request,
            Some(r) => match r.get_ref() {
                BoolOrStr::Bool(false) => None,
                BoolOrStr::Bool(true) => {
                    let hint = "`true` says no duration; give one like \"60s\"".to_owned();
                    let expected = k::REQUEST_TIMEOUT.expected();
                    self.invalid(r.span(), &at("request"), &expected, Some(hint));
                    None
                }
                BoolOrStr::Str(text) => {
                    self.duration_text(text, r.span(), &at("request"), k::REQUEST_TIMEOUT)
                }
            },
        };
        HttpTimeouts {
            header: (self.duration(t.header.as_ref(), &at("header"), k::NONZERO_DURATION))
                .unwrap_or(def.header),
            body_idle: (self.duration(t.body_idle.as_ref(), &at("body_idle"), k::NONZERO_DURATION))
                .unwrap_or(def.body_idle),
            request,
            keepalive: (self.duration(t.keepalive.as_ref(), &at("keepalive"), k::DURATION))
                .unwrap_or(def.keepalive),
        }
    }

    fn http_limits(&mut self, raw: Option<&Spanned<RawHttpLimits>>, path: &str) -> HttpLimits {
        let def = HttpLimits::default();
        let Some(l) = raw.map(Spanned::get_ref) else {
            return def;
        };
        let at = |key: &str| format!("{path}.{key}");
        let header_bytes = self.size(
            l.max_header_bytes.as_ref(),
            &at("max_header_bytes"),
            k::MAX_HEADER_BYTES,
        );
        let uri_bytes = self.size(
            l.max_uri_bytes.as_ref(),
            &at("max_uri_bytes"),
            k::MAX_URI_BYTES,
        );
        let limits = HttpLimits {
            max_header_bytes: header_bytes.map_or(def.max_header_bytes, |n| n as usize),
            max_headers: (self.int(l.max_headers.as_ref(), &at("max_headers"), k::MAX_HEADERS))
                .map_or(def.max_headers, |n| n as usize),
            max_uri_bytes: uri_bytes.map_or(def.max_uri_bytes, |n| n as usize),
            max_body_bytes: self.size(
                l.max_body_bytes.as_ref(),
                &at("max_body_bytes"),
                k::ANY_SIZE,
            ),
        };
        // The request line is part of the head: a longer URI could never arrive whole.
        if limits.max_uri_bytes > limits.max_header_bytes {
            let (key, span) = match (&l.max_uri_bytes, &l.max_header_bytes) {
                (Some(u), _) if uri_bytes.is_some() => ("max_uri_bytes", u.span()),
                (_, Some(h)) if header_bytes.is_some() => ("max_header_bytes", h.span()),
                _ => return limits,
            };
            let message = format!(
                "max_uri_bytes ({}) is larger than max_header_bytes ({}) in {path}",
                units::format_size(limits.max_uri_bytes as u64),
                units::format_size(limits.max_header_bytes as u64),
            );
            let label = "the request line is part of the request head, so \
                 max_uri_bytes must not exceed max_header_bytes"
                .to_owned();
            self.conflict(span, &at(key), message, label);
        }
        limits
    }

    fn error_responses(
        &mut self,
        raw: Option<&Spanned<Entries<RawErrorResponse>>>,
        path: &str,
    ) -> Vec<ErrorResponse> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in &raw.get_ref().0 {
            let epath = format!("{path}.{}", key.get_ref());
            let status = match key.get_ref().parse::<u16>() {
                Ok(s) if (400..=599).contains(&s) => Some(s),
                _ => {
                    let hint = "Fulcrum generates only 4xx and 5xx responses".to_owned();
                    self.invalid(key.span(), path, &k::STATUS_KEY.expected(), Some(hint));
                    None
                }
            };
            let e = value.get_ref();
            let body = self.required(&e.body, &value.span(), &epath, "body", k::ERROR_BODY);
            let content_type = match &e.content_type {
                None => Some(d::ERROR_CONTENT_TYPE.to_owned()),
                Some(ct) => self.text(ct, &format!("{epath}.content_type"), k::CONTENT_TYPE, |t| {
                    super::values::is_header_value(t) && t.contains('/') && t.trim() == t
                }),
            };
            if let (Some(status), Some(body), Some(content_type)) = (status, body, content_type) {
                out.push(ErrorResponse {
                    status,
                    content_type,
                    body: body.get_ref().clone(),
                });
            }
        }
        // Keyed by status: the order in the file means nothing.
        out.sort_by_key(|e| e.status);
        out
    }

    /// The listener's `[[listener.route]]`s, and a check that their names are unique.
    fn routes(&mut self, path: &str, l: &RawListener) -> Vec<RouteConfig> {
        let Some(raw) = &l.route else {
            return Vec::new();
        };
        let raw = raw.get_ref();
        self.route_names(path, raw, l.cluster.as_ref());
        (raw.iter().enumerate())
            .filter_map(|(j, r)| self.route(j, r, &format!("{path}.route[{j}]")))
            .collect()
    }

    /// Route names, given or generated (and the catch-all's), must be unique in a listener.
    fn route_names(
        &mut self,
        path: &str,
        routes: &[Spanned<RawRoute>],
        catch_all: Option<&Spanned<String>>,
    ) {
        // (name, index, line) of each route; generated names have no line.
        let names: Vec<(String, usize, Option<usize>)> = (routes.iter().enumerate())
            .map(|(j, r)| match &r.get_ref().name {
                Some(n) => (
                    n.get_ref().clone(),
                    j,
                    Some(self.src.line_of(n.span().start)),
                ),
                None => (generated_name(j), j, None),
            })
            .collect();
        for (j, r) in routes.iter().enumerate() {
            let Some(name) = &r.get_ref().name else {
                continue;
            };
            let text = name.get_ref();
            let other = names
                .iter()
                .find(|(n, i, given)| n == text && *i != j && (given.is_none() || *i < j));
            let label = match other {
                Some((_, i, Some(line))) => {
                    format!("{path}.route[{i}] (line {line}) already has this name")
                }
                Some((_, i, None)) => {
                    format!("{path}.route[{i}] has no name, so it is called `{text}`")
                }
                None if text == d::CATCH_ALL_ROUTE && catch_all.is_some() => {
                    let line = catch_all.map_or(0, |c| self.src.line_of(c.span().start));
                    format!(
                        "the listener's `cluster` (line {line}) adds a catch-all route called `{}`",
                        d::CATCH_ALL_ROUTE
                    )
                }
                None => continue,
            };
            let rpath = format!("{path}.route[{j}].name");
            let message = format!("duplicate route name `{text}` at {rpath}");
            self.error(ErrorKind::Duplicate, name.span(), &rpath, message, label);
        }
    }

    fn route(&mut self, j: usize, raw: &Spanned<RawRoute>, path: &str) -> Option<RouteConfig> {
        let at = |key: &str| format!("{path}.{key}");
        let (span, r) = (raw.span(), raw.get_ref());
        let name = match &r.name {
            Some(n) => self.name(n, &at("name")),
            None => Some(generated_name(j)),
        };
        let host = r.host.as_ref().and_then(|h| self.host(h, &at("host")));
        let path_match = self.path_match(path, r);
        let methods = self.methods(r.method.as_ref(), &at("method"));
        let headers = self.matches(r.headers.as_ref(), &at("headers"), true);
        let query = self.matches(r.query.as_ref(), &at("query"), false);
        let cluster = self.required(&r.cluster, &span, path, "cluster", k::CLUSTER_REF);
        let request_headers = self.header_rules(r.request_headers.as_ref(), &at("request_headers"));
        let response_headers =
            self.header_rules(r.response_headers.as_ref(), &at("response_headers"));
        Some(RouteConfig {
            name: name?,
            host,
            path: path_match,
            methods,
            headers: (headers.into_iter())
                .map(|(name, value)| HeaderMatch { name, value })
                .collect(),
            query: (query.into_iter())
                .map(|(name, value)| QueryMatch { name, value })
                .collect(),
            cluster: cluster?.get_ref().clone(),
            request_headers,
            response_headers,
            retry_non_idempotent: flag(&r.retry_non_idempotent, false),
        })
    }

    /// `api.example.com` (lower-cased, port removed) or `*.example.com`.
    fn host(&mut self, field: &Spanned<String>, path: &str) -> Option<HostMatch> {
        let text = field.get_ref().to_ascii_lowercase();
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let name = strip_port(rest);
        let ok = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            Some(v6) => !wildcard && v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => {
                !name.is_empty()
                    && !name.starts_with('.')
                    && !name.ends_with('.')
                    && !name.contains("..")
                    && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            }
        };
        if !ok {
            let hint = match text.as_str() {
                "*" => Some("leave out `host` to match any host".to_owned()),
                t if t.contains('*') => Some("`*` is allowed only as the first label".to_owned()),
                t if t.contains("://") || t.contains('/') => {
                    Some("give the host alone, without scheme or path".to_owned())
                }
                _ => None,
            };
            self.invalid(field.span(), path, &k::HOST.expected(), hint);
            return None;
        }
        Some(if wildcard {
            HostMatch::Suffix(format!(".{name}"))
        } else {
            HostMatch::Exact(name.to_owned())
        })
    }

    /// At most one of `path`, `path_prefix`, `path_regex`.
    fn path_match(&mut self, path: &str, r: &RawRoute) -> Option<PathMatch> {
        let given: Vec<(&str, &Spanned<String>)> = [
            ("path", r.path.as_ref()),
            ("path_prefix", r.path_prefix.as_ref()),
            ("path_regex", r.path_regex.as_ref()),
        ]
        .into_iter()
        .filter_map(|(key, field)| field.map(|f| (key, f)))
        .collect();
        let (first_key, first) = *given.first()?;
        for (key, field) in &given[1..] {
            let message = format!("`{key}` in {path} conflicts with `{first_key}`");
            let label = "give at most one of `path`, `path_prefix`, `path_regex`".to_owned();
            self.conflict(field.span(), &format!("{path}.{key}"), message, label);
        }
        let at = format!("{path}.{first_key}");
        match first_key {
            "path_regex" => self.regex(first, &at).map(PathMatch::Regex),
            key => {
                let text = self.text(first, &at, k::PATH, is_path)?;
                Some(match key {
                    "path" => PathMatch::Exact(text),
                    _ => PathMatch::Prefix(text),
                })
            }
        }
    }

    /// `method`: upper-cased, each once; empty when absent (any method).
    fn methods(&mut self, raw: Option<&Spanned<crate::raw::OneOrMany>>, path: &str) -> Vec<String> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let items = raw.get_ref().items(raw.span(), path);
        if items.is_empty() {
            let hint = "leave out `method` to match any method".to_owned();
            self.invalid(raw.span(), path, "at least one method", Some(hint));
        }
        let mut out: Vec<String> = Vec::new();
        for (item, span, ipath) in items {
            match item {
                IntOrStr::Str(m) if super::values::is_token(m) => {
                    let m = m.to_ascii_uppercase();
                    if !out.contains(&m) {
                        out.push(m);
                    }
                }
                _ => self.invalid(span, &ipath, &k::METHOD.expected(), None),
            }
        }
        out
    }

    /// Header or query matches: (name, value match) pairs.
    fn matches(
        &mut self,
        raw: Option<&Spanned<Vec<Spanned<RawMatch>>>>,
        path: &str,
        header: bool,
    ) -> Vec<(String, ValueMatch)> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, m) in raw.get_ref().iter().enumerate() {
            let mpath = format!("{path}[{i}]");
            let at = |key: &str| format!("{mpath}.{key}");
            let (span, m) = (m.span(), m.get_ref());
            let name_kind = if header {
                k::HEADER_NAME
            } else {
                k::QUERY_NAME
            };
            let name = self.required(&m.name, &span, &mpath, "name", name_kind);
            let name = name.and_then(|n| match header {
                true => self.header_name(n.get_ref(), n.span(), &at("name")),
                false => self.text(n, &at("name"), k::QUERY_NAME, is_query_name),
            });
            let value = self.value_match(&mpath, &span, m, header);
            if let (Some(name), Some(value)) = (name, value) {
                out.push((name, value));
            }
        }
        out
    }

    /// Exactly one of `value`, `present = true`, `regex`.
    fn value_match(
        &mut self,
        path: &str,
        span: &Range<usize>,
        m: &RawMatch,
        header: bool,
    ) -> Option<ValueMatch> {
        let at = |key: &str| format!("{path}.{key}");
        let mut given: Vec<(&str, Range<usize>)> = Vec::new();
        if let Some(v) = &m.value {
            given.push(("value", v.span()));
        }
        if let Some(p) = &m.present {
            given.push(("present", p.span()));
        }
        if let Some(r) = &m.regex {
            given.push(("regex", r.span()));
        }
        given.sort_by_key(|(_, s)| s.start);
        let Some((first, _)) = given.first().cloned() else {
            if !["value", "present", "regex"]
                .iter()
                .any(|k| self.was_dropped(&at(k)))
            {
                let message = format!("missing key `value` in {path}");
                let label = "this table needs one of `value`, `present = true` or `regex`".into();
                self.error(
                    ErrorKind::MissingKey,
                    span.clone(),
                    &at("value"),
                    message,
                    label,
                );
            }
            return None;
        };
        for (key, kspan) in &given[1..] {
            let message = format!("`{key}` in {path} conflicts with `{first}`");
            let label = "give one of `value`, `present = true` or `regex`".to_owned();
            self.conflict(kspan.clone(), &at(key), message, label);
        }
        match first {
            "value" => {
                let v = m.value.as_ref()?;
                match header {
                    true => self.header_value(v, &at("value")),
                    false => self.text(v, &at("value"), k::QUERY_VALUE, is_query_value),
                }
                .map(ValueMatch::Exact)
            }
            "present" => {
                let p = m.present.as_ref()?;
                if !*p.get_ref() {
                    let hint = "matching on absence is not supported".to_owned();
                    self.invalid(p.span(), &at("present"), "true", Some(hint));
                    return None;
                }
                Some(ValueMatch::Present)
            }
            _ => {
                let r = m.regex.as_ref()?;
                self.regex(r, &at("regex")).map(ValueMatch::Regex)
            }
        }
    }

    /// `request_headers` or `response_headers`.
    fn header_rules(&mut self, raw: Option<&Spanned<RawHeaderRules>>, path: &str) -> HeaderRules {
        let Some(r) = raw.map(Spanned::get_ref) else {
            return HeaderRules::default();
        };
        let set = self.header_map(r.set.as_ref(), &format!("{path}.set"), "set");
        let add = self.header_map(r.add.as_ref(), &format!("{path}.add"), "added");
        let mut remove = Vec::new();
        if let Some(names) = &r.remove {
            for (i, n) in names.get_ref().iter().enumerate() {
                let name = self.header_name(n.get_ref(), n.span(), &format!("{path}.remove[{i}]"));
                if let Some(name) = name
                    && !remove.contains(&name)
                {
                    remove.push(name);
                }
            }
        }
        HeaderRules { set, add, remove }
    }

    /// `set` or `add`: header names and values; `verb` says what `set`/`add` does to them.
    fn header_map(
        &mut self,
        raw: Option<&Spanned<Entries<String>>>,
        path: &str,
        verb: &str,
    ) -> Vec<(String, String)> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = Vec::new();
        // Lower-cased name and line of each entry so far.
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (key, value) in &raw.get_ref().0 {
            let name = self.header_name(key.get_ref(), key.span(), path);
            let value = self.header_value(value, &format!("{path}.{}", key.get_ref()));
            let Some(name) = name else { continue };
            if d::MANAGED_HEADERS.contains(&name.as_str()) {
                let message = format!("header `{name}` cannot be {verb} by {path}");
                let label = format!(
                    "Fulcrum manages the hop-by-hop and framing headers itself: {}",
                    d::MANAGED_HEADERS.join(", ")
                );
                self.error(ErrorKind::InvalidValue, key.span(), path, message, label);
                continue;
            }
            let line = self.src.line_of(key.span().start);
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                let message = format!("duplicate header `{name}` in {path}");
                let label = format!("already given at line {first} (header names ignore case)");
                self.error(ErrorKind::Duplicate, key.span(), path, message, label);
                continue;
            }
            seen.push((name.clone(), line));
            if let Some(value) = value {
                out.push((name, value));
            }
        }
        out
    }
}

/// `route-1`, `route-2`, ... for the route at 0-based index `j`.
fn generated_name(j: usize) -> String {
    format!("{}{}", d::ROUTE_NAME_PREFIX, j + 1)
}

/// The route an http listener's `cluster` adds after its own routes: it matches everything.
fn catch_all(cluster: &str) -> RouteConfig {
    RouteConfig {
        name: d::CATCH_ALL_ROUTE.to_owned(),
        host: None,
        path: None,
        methods: Vec::new(),
        headers: Vec::new(),
        query: Vec::new(),
        cluster: cluster.to_owned(),
        request_headers: HeaderRules::default(),
        response_headers: HeaderRules::default(),
        retry_non_idempotent: false,
    }
}

/// `example.com:8080` -> `example.com`, `[::1]:8080` -> `[::1]`.
fn strip_port(host: &str) -> &str {
    let (name, port) = match host.rfind(':') {
        Some(i) if !host[..i].contains(':') || host[..i].ends_with(']') => {
            (&host[..i], &host[i + 1..])
        }
        _ => return host,
    };
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        name
    } else {
        host
    }
}

/// An absolute path: starts with `/`, visible ASCII only.
fn is_path(text: &str) -> bool {
    text.starts_with('/') && text.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn is_query_name(text: &str) -> bool {
    !text.is_empty() && is_query_value(text) && !text.contains('=')
}

fn is_query_value(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && !b"&#".contains(&b))
}
