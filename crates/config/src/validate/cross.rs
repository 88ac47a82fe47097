//! Checks across tables: unique names, cluster references (of listeners and routes), addresses
//! bound twice, backends that are a listener's own address, and cluster settings that need
//! HTTP on clusters that tcp listeners use.
//!
//! These work on the raw structs so they see every entry, including ones with other errors.
//! A value that does not parse was already reported and is skipped here.

use crate::defaults as d;
use crate::error::{Diagnostic, ErrorKind, Source, backticked, suggest};
use crate::raw::{RawBackend, RawConfig};
use std::net::SocketAddr;
use std::ops::Range;
use toml::Spanned;

/// At most this many cluster names are listed in an "unknown cluster" error.
const MAX_LISTED: usize = 8;

pub(super) fn check(raw: &RawConfig, src: Source<'_>, out: &mut Vec<Diagnostic>) {
    let listener_names = raw.listener.iter().map(|l| l.get_ref().name.as_ref());
    unique_names("listener", listener_names, src, out);
    let cluster_names = raw.cluster.iter().map(|c| c.get_ref().name.as_ref());
    unique_names("cluster", cluster_names, src, out);
    cluster_refs(raw, src, out);
    address_conflicts(raw, src, out);
    backend_loops(raw, src, out);
    cluster_users(raw, src, out);
}

fn unique_names<'r>(
    table: &str,
    names: impl Iterator<Item = Option<&'r Spanned<String>>>,
    src: Source<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen: Vec<(&str, usize, usize)> = Vec::new();
    for (i, name) in names.enumerate() {
        let Some(name) = name else { continue };
        let text = name.get_ref().as_str();
        if let Some((_, first, line)) = seen.iter().find(|(n, ..)| *n == text) {
            let path = format!("{table}[{i}].name");
            let message = format!("duplicate {table} name `{text}` at {path}");
            let label = format!("{table}[{first}] (line {line}) already has this name");
            out.push(src.diagnostic(ErrorKind::Duplicate, name.span(), &path, message, label));
        } else {
            seen.push((text, i, src.line_of(name.span().start)));
        }
    }
}

fn cluster_refs(raw: &RawConfig, src: Source<'_>, out: &mut Vec<Diagnostic>) {
    // A cluster without a usable name was reported already; any reference might be to it.
    if raw.cluster.iter().any(|c| c.get_ref().name.is_none()) {
        return;
    }
    let clusters: Vec<&str> = (raw.cluster.iter())
        .filter_map(|c| c.get_ref().name.as_ref())
        .map(|n| n.get_ref().as_str())
        .collect();
    for (path, cluster) in references(raw) {
        let wanted = cluster.get_ref().as_str();
        if clusters.contains(&wanted) {
            continue;
        }
        let message = format!("unknown cluster `{wanted}` in {path}");
        let mut label = if clusters.is_empty() {
            "expected the name of a [[cluster]], but the file defines none".to_owned()
        } else {
            let mut listed = backticked(&clusters[..clusters.len().min(MAX_LISTED)]);
            if clusters.len() > MAX_LISTED {
                listed.push_str(", ...");
            }
            format!("expected the name of a [[cluster]]: {listed}")
        };
        if let Some(s) = suggest(wanted, &clusters) {
            label.push_str(&format!("; did you mean `{s}`?"));
        }
        out.push(src.diagnostic(
            ErrorKind::UnknownCluster,
            cluster.span(),
            &path,
            message,
            label,
        ));
    }
}

/// Every cluster reference: each listener's `cluster`, each route's and each SNI route's,
/// with its key path.
fn references(raw: &RawConfig) -> Vec<(String, &Spanned<String>)> {
    let mut out = Vec::new();
    for (i, l) in raw.listener.iter().enumerate() {
        let l = l.get_ref();
        if let Some(cluster) = &l.cluster {
            out.push((format!("listener[{i}].cluster"), cluster));
        }
        for (j, r) in l.route.iter().flat_map(|r| r.get_ref().iter()).enumerate() {
            if let Some(cluster) = &r.get_ref().cluster {
                out.push((format!("listener[{i}].route[{j}].cluster"), cluster));
            }
        }
        for (j, r) in l
            .sni_routes
            .iter()
            .flat_map(|r| r.get_ref().iter())
            .enumerate()
        {
            if let Some(cluster) = &r.get_ref().cluster {
                out.push((format!("listener[{i}].sni_routes[{j}].cluster"), cluster));
            }
        }
    }
    out
}

/// A listener that sends traffic to a cluster.
struct User {
    /// `listener[0]`.
    path: String,
    /// Its name, or its path when it has none.
    name: String,
    http: bool,
    /// `"tcp"` or `"tls"` for a listener that relays bytes.
    kind: &'static str,
    /// Line of the reference.
    line: usize,
}

/// Cluster settings that only HTTP listeners can honour, on clusters tcp listeners use.
fn cluster_users(raw: &RawConfig, src: Source<'_>, out: &mut Vec<Diagnostic>) {
    let mut users: Vec<(&str, User)> = Vec::new();
    for (i, l) in raw.listener.iter().enumerate() {
        let l = l.get_ref();
        let path = format!("listener[{i}]");
        // A listener with an invalid protocol was reported; what it may use is unknown.
        let (http, kind) = match l.protocol.as_ref().map(|p| p.get_ref().as_str()) {
            None | Some("tcp") => (false, "tcp"),
            Some("tls") => (false, "tls"),
            Some("http" | "https") => (true, "http"),
            Some(_) => continue,
        };
        let name = l.name.as_ref().map_or(&path, |n| n.get_ref());
        let mut refs: Vec<&Spanned<String>> = l.cluster.iter().collect();
        if http {
            let routes = l.route.iter().flat_map(|r| r.get_ref().iter());
            refs.extend(routes.filter_map(|r| r.get_ref().cluster.as_ref()));
        } else if kind == "tcp" {
            let routes = l.sni_routes.iter().flat_map(|r| r.get_ref().iter());
            refs.extend(routes.filter_map(|r| r.get_ref().cluster.as_ref()));
        }
        for r in refs {
            users.push((
                r.get_ref().as_str(),
                User {
                    path: path.clone(),
                    name: name.clone(),
                    http,
                    kind,
                    line: src.line_of(r.span().start),
                },
            ));
        }
    }
    for (i, c) in raw.cluster.iter().enumerate() {
        let c = c.get_ref();
        let Some(name) = &c.name else { continue };
        let name = name.get_ref().as_str();
        let path = format!("cluster[{i}]");
        let using: Vec<&User> = (users.iter())
            .filter(|(n, _)| *n == name)
            .map(|(_, u)| u)
            .collect();
        let Some(tcp) = using.iter().find(|u| !u.http) else {
            continue;
        };
        let kind = tcp.kind;
        let tcp_note = format!("{} (line {}) is a {kind} listener", tcp.path, tcp.line);
        if let Some(p) = &c.protocol
            && p.get_ref() == "h2"
        {
            let message = format!(
                "cluster `{name}` has protocol = \"h2\" but {kind} listener `{}` uses it",
                tcp.name
            );
            let label =
                format!("{tcp_note}: it relays bytes as they are and cannot speak h2 to backends");
            let kpath = format!("{path}.protocol");
            out.push(src.diagnostic(ErrorKind::Conflict, p.span(), &kpath, message, label));
        }
        if let Some(key) = &c.hash_key
            && needs_http(key.get_ref())
        {
            let message = format!(
                "cluster `{name}` hashes `{}` but {kind} listener `{}` uses it",
                key.get_ref(),
                tcp.name
            );
            let label = format!(
                "{tcp_note}: it has no headers, cookies or paths; use hash_key = \"client_ip\""
            );
            let kpath = format!("{path}.hash_key");
            out.push(src.diagnostic(ErrorKind::Conflict, key.span(), &kpath, message, label));
        }
        if let Some(p) = &c.persistence
            && let Some(kind) = &p.get_ref().kind
            && kind.get_ref() == "cookie"
            && using.iter().all(|u| !u.http)
        {
            let names: Vec<&str> = using.iter().map(|u| u.name.as_str()).collect();
            let (s, listed) = match names.as_slice() {
                [one] => ("", format!("`{one}`")),
                many => ("s", backticked(many)),
            };
            let relays = match using.iter().all(|u| u.kind == "tls") {
                true => "tls",
                false => "tcp",
            };
            let message = format!(
                "cluster `{name}` has cookie persistence but only {relays} listener{s} {listed} use{} it",
                if s.is_empty() { "s" } else { "" }
            );
            let label = format!("{tcp_note}: it cannot set cookies; use kind = \"source_ip\"");
            let kpath = format!("{path}.persistence.kind");
            out.push(src.diagnostic(ErrorKind::Conflict, kind.span(), &kpath, message, label));
        }
    }
}

/// A `hash_key` that only an HTTP request has.
fn needs_http(hash_key: &str) -> bool {
    hash_key == "path" || hash_key.starts_with("header:") || hash_key.starts_with("cookie:")
}

/// One socket address the config binds, and where it comes from.
struct Bound {
    addr: SocketAddr,
    path: String,
    /// The path, or "the default admin.listen" when `[admin]` has no `listen`.
    what: String,
    span: Range<usize>,
}

fn address_conflicts(raw: &RawConfig, src: Source<'_>, out: &mut Vec<Diagnostic>) {
    let mut bound: Vec<Bound> = Vec::new();
    if let Some(admin) = &raw.admin {
        let (text, what, span) = match &admin.get_ref().listen {
            Some(l) => (l.get_ref().clone(), "admin.listen", l.span()),
            None => (
                d::ADMIN_LISTEN.to_string(),
                "the default admin.listen",
                admin.span(),
            ),
        };
        push_bound(&mut bound, &text, "admin.listen", what, span);
    }
    for (i, l) in raw.listener.iter().enumerate() {
        if let Some(bind) = &l.get_ref().bind {
            let path = format!("listener[{i}].bind");
            push_bound(&mut bound, bind.get_ref(), &path, &path, bind.span());
        }
    }
    bound.sort_by_key(|b| b.span.start);
    for (j, b) in bound.iter().enumerate() {
        let Some(a) = bound[..j].iter().find(|a| overlaps(a.addr, b.addr)) else {
            continue;
        };
        let line = src.line_of(a.span.start);
        let (message, label) = if a.addr == b.addr {
            (
                format!(
                    "address conflict at {}: {} is also bound by {}",
                    b.what, b.addr, a.what
                ),
                format!("{} (line {line}) binds the same address", a.what),
            )
        } else {
            (
                format!(
                    "address conflict at {}: {} overlaps {} of {}",
                    b.what, b.addr, a.addr, a.what
                ),
                format!(
                    "a wildcard and a specific address cannot share port {}; {} is at line {line}",
                    b.addr.port(),
                    a.what
                ),
            )
        };
        out.push(src.diagnostic(
            ErrorKind::AddressConflict,
            b.span.clone(),
            &b.path,
            message,
            label,
        ));
    }
}

/// Adds an address that parses with a non-zero port; others were already reported.
fn push_bound(bound: &mut Vec<Bound>, text: &str, path: &str, what: &str, span: Range<usize>) {
    if let Ok(addr) = text.parse::<SocketAddr>()
        && addr.port() != 0
    {
        let (path, what) = (path.to_owned(), what.to_owned());
        bound.push(Bound {
            addr,
            path,
            what,
            span,
        });
    }
}

/// Two binds collide on the same port and family when the IPs are equal or either is a wildcard.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// A static backend whose address a listener of this config binds: every request sent to it
/// would come back into Fulcrum and go out again, one more connection per round, until a
/// limit stops it. Refused with the listener named.
fn backend_loops(raw: &RawConfig, src: Source<'_>, out: &mut Vec<Diagnostic>) {
    let mut binds: Vec<(SocketAddr, String, usize)> = Vec::new();
    for (i, l) in raw.listener.iter().enumerate() {
        let l = l.get_ref();
        if let Some(bind) = &l.bind
            && let Ok(addr) = bind.get_ref().parse::<SocketAddr>()
        {
            let name = l.name.as_ref().map_or(format!("listener[{i}]"), |n| {
                format!("listener `{}`", n.get_ref())
            });
            binds.push((addr, name, src.line_of(bind.span().start)));
        }
    }
    for (i, c) in raw.cluster.iter().enumerate() {
        let c = c.get_ref();
        let backends = c.backends.iter().flat_map(|b| b.get_ref().iter());
        for (j, b) in backends.enumerate() {
            let text = match b.get_ref() {
                RawBackend::Address(a) => a.as_str(),
                RawBackend::Table(t) => match &t.address {
                    Some(a) => a.get_ref().as_str(),
                    None => continue,
                },
            };
            let Ok(addr) = text.parse::<SocketAddr>() else {
                continue;
            };
            let Some((bind, name, line)) = binds.iter().find(|(l, ..)| reaches(addr, *l)) else {
                continue;
            };
            let path = format!("cluster[{i}].backends[{j}]");
            let message = format!("backend {addr} at {path} is the address of {name}");
            let label = format!(
                "{name} binds {bind} (line {line}): requests sent there would come back to \
                 Fulcrum in a loop"
            );
            out.push(src.diagnostic(ErrorKind::Conflict, b.span(), &path, message, label));
        }
    }
}

/// Whether connecting to `backend` reaches a socket bound to `bind`: the same address, or a
/// wildcard bind and a loopback or wildcard backend of the same family and port.
fn reaches(backend: SocketAddr, bind: SocketAddr) -> bool {
    let local = backend.ip().is_loopback() || backend.ip().is_unspecified();
    backend.port() == bind.port()
        && backend.is_ipv4() == bind.is_ipv4()
        && (backend.ip() == bind.ip() || (bind.ip().is_unspecified() && local))
}
