//! Stage 2: raw structs -> validated [`Config`].
//!
//! Every table is converted field by field; a bad field records a diagnostic and validation
//! goes on, so one run reports every problem. The HTTP keys of a listener are in [`http`], the
//! resilience keys of a cluster in [`resilience`]. Cross-references (unique names, cluster
//! references, address conflicts, clusters whose settings need HTTP used by tcp listeners) are
//! checked in [`cross`] on the raw structs.

mod cross;
mod http;
mod resilience;
mod tls;
mod values;

use tls::Transport;

use crate::defaults as d;
use crate::error::{ConfigError, Diagnostic, ErrorKind, Source};
use crate::model::*;
use crate::raw::schema::{self as k, Kind};
use crate::raw::{RawBackend, RawCluster, RawConfig, RawListener, RawLog, RawRuntime};
use std::net::SocketAddr;
use std::ops::Range;
use toml::Spanned;

/// Why a listener's port must not be 0.
const LISTENER_PORT_ZERO: &str = "each worker binds its own SO_REUSEPORT socket, \
     so port 0 would give each worker a different port";

pub(crate) fn validate(
    mut raw: RawConfig,
    text: &str,
    origin: &str,
) -> Result<Config, ConfigError> {
    let problems = std::mem::take(&mut raw.problems);
    let dropped = std::mem::take(&mut raw.dropped);
    let mut v = Validator {
        src: Source { text, origin },
        errors: problems,
        dropped: &dropped,
    };
    let admin = raw.admin.as_ref().map(|a| v.admin(a));
    let runtime = v.runtime(raw.runtime.as_ref());
    let log = v.log(raw.log.as_ref());
    let listeners: Vec<_> = (raw.listener.iter().enumerate())
        .map(|(i, l)| v.listener(i, l))
        .collect();
    let clusters: Vec<_> = (raw.cluster.iter().enumerate())
        .map(|(i, c)| v.cluster(i, c))
        .collect();
    cross::check(&raw, v.src, &mut v.errors);
    // A value removed for its type was reported as such; "missing" would say it twice.
    (v.errors).retain(|e| e.kind != ErrorKind::MissingKey || !dropped.contains(&e.key));
    if !v.errors.is_empty() {
        return Err(ConfigError::from_diagnostics(v.errors));
    }
    // With no errors recorded, every required field was present and valid.
    Ok(Config {
        source: None,
        admin: admin.flatten(),
        runtime,
        log,
        listeners: listeners.into_iter().flatten().collect(),
        clusters: clusters.into_iter().flatten().collect(),
    })
}

pub(crate) struct Validator<'a> {
    pub src: Source<'a>,
    pub errors: Vec<Diagnostic>,
    /// Key paths the shape check removed for their type (see [`RawConfig::dropped`]).
    pub dropped: &'a [String],
}

impl Validator<'_> {
    fn admin(&mut self, raw: &Spanned<crate::raw::RawAdmin>) -> Option<AdminConfig> {
        let listen = match &raw.get_ref().listen {
            Some(l) => self.addr(l.get_ref(), l.span(), "admin.listen", "")?,
            None => d::ADMIN_LISTEN,
        };
        Some(AdminConfig { listen })
    }

    fn runtime(&mut self, raw: Option<&RawRuntime>) -> RuntimeConfig {
        let def = RuntimeConfig::default();
        let Some(r) = raw else { return def };
        let workers = self.int(r.workers.as_ref(), "runtime.workers", k::WORKERS);
        let shutdown = r.shutdown_timeout.as_ref();
        let buffer_size = self.size(
            r.buffer_size.as_ref(),
            "runtime.buffer_size",
            k::BUFFER_SIZE,
        );
        RuntimeConfig {
            workers: workers.map(|n| n as usize),
            pin_workers: flag(&r.pin_workers, def.pin_workers),
            shutdown_timeout: (self.duration(
                shutdown,
                "runtime.shutdown_timeout",
                k::SHUTDOWN_TIMEOUT,
            ))
            .unwrap_or(def.shutdown_timeout),
            relay: (self.choice(r.relay.as_ref(), "runtime.relay", k::RELAY))
                .map_or(def.relay, |i| [RelayMode::Splice, RelayMode::Copy][i]),
            buffer_size: buffer_size.map_or(def.buffer_size, |n| n as usize),
        }
    }

    fn log(&mut self, raw: Option<&RawLog>) -> LogConfig {
        let def = LogConfig::default();
        let Some(r) = raw else { return def };
        let level = match &r.level {
            Some(l) if l.get_ref().trim().is_empty() => {
                self.invalid(l.span(), "log.level", &k::LOG_LEVEL.expected(), None);
                def.level
            }
            Some(l) => l.get_ref().trim().to_owned(),
            None => def.level,
        };
        LogConfig {
            level,
            connections: flag(&r.connections, def.connections),
            format: (self.choice(r.format.as_ref(), "log.format", k::LOG_FORMAT))
                .map_or(def.format, |i| [LogFormat::Text, LogFormat::Json][i]),
        }
    }

    fn listener(&mut self, i: usize, raw: &Spanned<RawListener>) -> Option<ListenerConfig> {
        let path = format!("listener[{i}]");
        let at = |key: &str| format!("{path}.{key}");
        let (span, l) = (raw.span(), raw.get_ref());
        let name = self.required(&l.name, &span, &path, "name", k::NAME);
        let name = name.and_then(|n| self.name(n, &at("name")));
        let bind = self.required(&l.bind, &span, &path, "bind", k::ADDR);
        let bind =
            bind.and_then(|b| self.addr(b.get_ref(), b.span(), &at("bind"), LISTENER_PORT_ZERO));
        // None: an invalid protocol, already reported; the protocol-specific keys are then
        // not checked, as they could only add noise.
        // `"https"` is HTTP over TLS, `"tls"` TCP over TLS (see the model's doc).
        let protocol = match &l.protocol {
            None => Some((d::PROTOCOL, Transport::Plain)),
            Some(p) => (self.choice(Some(p), &at("protocol"), k::PROTOCOL)).map(|i| {
                [
                    (Protocol::Tcp, Transport::Plain),
                    (Protocol::Http, Transport::Plain),
                    (Protocol::Http, Transport::Terminated),
                    (Protocol::Tcp, Transport::Terminated),
                ][i]
            }),
        };
        let backlog = self.int(l.backlog.as_ref(), &at("backlog"), k::BACKLOG);
        let max_conns = self.int(
            l.max_connections.as_ref(),
            &at("max_connections"),
            k::MAX_CONNECTIONS,
        );
        let idle = self.duration(
            l.idle_timeout.as_ref(),
            &at("idle_timeout"),
            k::NONZERO_DURATION,
        );
        let keepalive = self.keepalive(l.tcp_keepalive.as_ref(), &at("tcp_keepalive"));
        let proxy_protocol_from =
            self.cidrs(l.proxy_protocol_from.as_ref(), &at("proxy_protocol_from"));
        let (protocol, transport) = protocol?;
        let terminated = transport == Transport::Terminated;
        let (cluster, http, sni) = match protocol {
            Protocol::Tcp => {
                self.http_only_keys(&path, l, terminated);
                let sni = if terminated {
                    self.sni_only_keys(&path, l);
                    Some(None)
                } else {
                    self.sni(&path, l)
                };
                // With SNI routes, `cluster` is the default and may be left out; the model's
                // `cluster` is then the first route's.
                let first_route = (l.sni_routes.as_ref())
                    .filter(|_| !terminated)
                    .and_then(|r| r.get_ref().first())
                    .and_then(|r| r.get_ref().cluster.as_ref());
                let cluster = match (&l.cluster, first_route) {
                    (Some(c), _) | (None, Some(c)) => Some(c),
                    (None, None) if !terminated && l.sni_routes.is_some() => None,
                    (None, None) if self.was_dropped(&at("sni_routes")) => None,
                    (None, None) => {
                        self.required(&l.cluster, &span, &path, "cluster", k::CLUSTER_REF)
                    }
                };
                (cluster.map(|c| c.get_ref().clone()), None, sni)
            }
            Protocol::Http => {
                self.sni_only_keys(&path, l);
                let http = self.http_listener(&path, &span, l);
                // The catch-all cluster, else the first route's (see the model's doc).
                let cluster = http.routes.first().map(|r| r.cluster.clone());
                let cluster = (l.cluster.as_ref())
                    .map(|c| c.get_ref().clone())
                    .or(cluster);
                (cluster, Some(http), Some(None))
            }
        };
        let tls = self.listener_tls(&path, &span, l, protocol, transport);
        Some(ListenerConfig {
            name: name?,
            bind: bind?,
            protocol,
            cluster: cluster?,
            backlog: backlog.map_or(d::BACKLOG, |n| n as u32),
            max_connections: max_conns.map_or(d::MAX_CONNECTIONS, |n| n as usize),
            idle_timeout: idle.unwrap_or(d::IDLE_TIMEOUT),
            tcp_nodelay: flag(&l.tcp_nodelay, d::TCP_NODELAY),
            tcp_keepalive: keepalive,
            proxy_protocol_from: proxy_protocol_from?,
            http,
            tls,
            sni: sni?,
        })
    }

    /// `proxy_protocol_from`: every entry checked; `None` after an error.
    fn cidrs(
        &mut self,
        raw: Option<&Spanned<Vec<Spanned<String>>>>,
        path: &str,
    ) -> Option<Vec<Cidr>> {
        let Some(raw) = raw else {
            return Some(Vec::new());
        };
        let all: Vec<_> = (raw.get_ref().iter().enumerate())
            .map(|(j, c)| self.cidr(c, &format!("{path}[{j}]")))
            .collect();
        all.into_iter().collect()
    }

    fn cluster(&mut self, i: usize, raw: &Spanned<RawCluster>) -> Option<ClusterConfig> {
        let path = format!("cluster[{i}]");
        let at = |key: &str| format!("{path}.{key}");
        let (span, c) = (raw.span(), raw.get_ref());
        let name = self.required(&c.name, &span, &path, "name", k::NAME);
        let name = name.and_then(|n| self.name(n, &at("name")));
        // None: an invalid balance, already reported (and not checked against hash_key).
        let balance = match &c.balance {
            None => Some(d::BALANCE),
            Some(b) => (self.choice(Some(b), &at("balance"), k::BALANCE)).map(|i| {
                [
                    Balance::RoundRobin,
                    Balance::WeightedRoundRobin,
                    Balance::LeastConn,
                    Balance::P2c,
                    Balance::P2cEwma,
                    Balance::Random,
                    Balance::SourceIp,
                    Balance::RingHash,
                    Balance::Maglev,
                ][i]
            }),
        };
        let hash_key = self.hash_key(&path, c, balance);
        let factor = self.hash_balance_factor(&path, c, balance);
        let protocol = (self.choice(c.protocol.as_ref(), &at("protocol"), k::UPSTREAM_PROTOCOL))
            .map_or(d::UPSTREAM_PROTOCOL, |i| {
                [UpstreamProtocol::Http1, UpstreamProtocol::H2][i]
            });
        let timeout = self.duration(
            c.connect_timeout.as_ref(),
            &at("connect_timeout"),
            k::NONZERO_DURATION,
        );
        let attempts = self.int(
            c.connect_attempts.as_ref(),
            &at("connect_attempts"),
            k::CONNECT_ATTEMPTS,
        );
        let response_timeout = self.duration(
            c.response_timeout.as_ref(),
            &at("response_timeout"),
            k::NONZERO_DURATION,
        );
        let send_proxy = self.choice(
            c.send_proxy_protocol.as_ref(),
            &at("send_proxy_protocol"),
            k::SEND_PROXY_PROTOCOL,
        );
        let panic = self.number(c.panic_threshold.as_ref(), &at("panic_threshold"), k::RATIO);
        let slow_start = self.duration(c.slow_start.as_ref(), &at("slow_start"), k::DURATION);
        let local_zone = (c.local_zone.as_ref()).and_then(|z| self.zone(z, &at("local_zone")));
        let priority_threshold = self.number(
            c.priority_threshold.as_ref(),
            &at("priority_threshold"),
            k::RATIO,
        );
        let tls = self.cluster_tls(&at("tls"), c.tls.as_ref(), protocol, c.protocol.is_some());
        let backends = self.required(&c.backends, &span, &path, "backends", Kind::Backends);
        let backends = backends.and_then(|b| self.backends(b, &at("backends")));
        Some(ClusterConfig {
            name: name?,
            balance: balance.unwrap_or(d::BALANCE),
            connect_timeout: timeout.unwrap_or(d::CONNECT_TIMEOUT),
            connect_attempts: attempts.map_or(d::CONNECT_ATTEMPTS, |n| n as u32),
            backends: backends?,
            hash_key,
            hash_balance_factor: factor,
            protocol,
            response_timeout: response_timeout.unwrap_or(d::RESPONSE_TIMEOUT),
            send_proxy_protocol: send_proxy
                .map(|i| [ProxyProtocolVersion::V1, ProxyProtocolVersion::V2][i]),
            pool: self.pool(c.pool.as_ref(), &at("pool")),
            health: self.health(c.health.as_ref(), &at("health")),
            outlier: self.outlier(c.outlier.as_ref(), &at("outlier")),
            retry: self.retry(c.retry.as_ref(), &at("retry")),
            limits: self.circuit_limits(c.limits.as_ref(), &at("limits")),
            panic_threshold: panic.unwrap_or(d::PANIC_THRESHOLD),
            slow_start: slow_start.unwrap_or(d::SLOW_START),
            local_zone,
            priority_threshold: priority_threshold.unwrap_or(d::PRIORITY_THRESHOLD),
            persistence: self.persistence(c.persistence.as_ref(), &at("persistence")),
            tls: tls?,
        })
    }

    fn backends(
        &mut self,
        raw: &Spanned<Vec<Spanned<RawBackend>>>,
        path: &str,
    ) -> Option<Vec<BackendConfig>> {
        if raw.get_ref().is_empty() {
            self.invalid(raw.span(), path, "at least one backend", None);
            return None;
        }
        let mut out = Vec::new();
        // Address, path and line of each good backend so far.
        let mut seen: Vec<(SocketAddr, String, usize)> = Vec::new();
        for (j, b) in raw.get_ref().iter().enumerate() {
            let bpath = format!("{path}[{j}]");
            let backend = self.backend(b, &bpath).and_then(|(backend, span)| {
                let addr = backend.address;
                if let Some((_, first, line)) = seen.iter().find(|(a, ..)| *a == addr) {
                    let message = format!("duplicate backend address {addr} at {bpath}");
                    let label = format!("already listed as {first} (line {line})");
                    self.error(ErrorKind::Duplicate, span, &bpath, message, label);
                    return None;
                }
                seen.push((addr, bpath.clone(), self.src.line_of(span.start)));
                Some(backend)
            });
            out.push(backend);
        }
        out.into_iter().collect()
    }

    /// One backend, and the span of its address.
    fn backend(
        &mut self,
        raw: &Spanned<RawBackend>,
        path: &str,
    ) -> Option<(BackendConfig, Range<usize>)> {
        let (text, span, weight, zone, priority) = match raw.get_ref() {
            RawBackend::Address(a) => (a.as_str(), raw.span(), d::WEIGHT, None, d::PRIORITY),
            RawBackend::Table(t) => {
                let weight = self.int(t.weight.as_ref(), &format!("{path}.weight"), k::WEIGHT);
                let weight = weight.map_or(d::WEIGHT, |w| w as u32);
                let zone = (t.zone.as_ref()).and_then(|z| self.zone(z, &format!("{path}.zone")));
                let priority = self.int(
                    t.priority.as_ref(),
                    &format!("{path}.priority"),
                    k::PRIORITY,
                );
                let priority = priority.map_or(d::PRIORITY, |p| p as u32);
                let a = self.required(&t.address, &raw.span(), path, "address", k::ADDR)?;
                (a.get_ref().as_str(), a.span(), weight, zone, priority)
            }
        };
        let address = self.backend_addr(text, span.clone(), path)?;
        Some((
            BackendConfig {
                address,
                weight,
                zone,
                priority,
            },
            span,
        ))
    }

    /// Returns the field when present; records a missing-key error pointing at its table.
    fn required<'r, T>(
        &mut self,
        field: &'r Option<Spanned<T>>,
        table_span: &Range<usize>,
        table_path: &str,
        key: &str,
        kind: Kind,
    ) -> Option<&'r Spanned<T>> {
        if field.is_none() {
            let message = format!("missing key `{key}` in {table_path}");
            let label = format!("this table needs `{key}`: {}", kind.expected());
            let path = format!("{table_path}.{key}");
            self.error(
                ErrorKind::MissingKey,
                table_span.clone(),
                &path,
                message,
                label,
            );
        }
        field.as_ref()
    }

    fn error(
        &mut self,
        kind: ErrorKind,
        span: Range<usize>,
        path: &str,
        message: String,
        label: String,
    ) {
        let diagnostic = self.src.diagnostic(kind, span, path, message, label);
        self.errors.push(diagnostic);
    }

    /// Records a key that does not go with another setting.
    fn conflict(&mut self, span: Range<usize>, path: &str, message: String, label: String) {
        self.error(ErrorKind::Conflict, span, path, message, label);
    }

    /// Whether the shape check removed this key path for its type.
    fn was_dropped(&self, path: &str) -> bool {
        self.dropped.iter().any(|p| p == path)
    }

    /// Records "invalid value for `path`: found <source text>, expected `expected`".
    fn invalid(&mut self, span: Range<usize>, path: &str, expected: &str, hint: Option<String>) {
        let found = self.src.snippet(span.clone());
        let message = format!("invalid value for {path}: found {found}, expected {expected}");
        let mut label = format!("expected {expected}");
        if let Some(hint) = hint {
            label.push_str("; ");
            label.push_str(&hint);
        }
        self.error(ErrorKind::InvalidValue, span, path, message, label);
    }
}

/// For a label: `listener[0] has protocol "tcp"`, or `listener[0] has no `protocol`, so "tcp"`.
fn setting(table: &str, key: &str, field: Option<&Spanned<String>>, default: &str) -> String {
    match field {
        Some(f) => format!("{table} has {key} \"{}\"", f.get_ref()),
        None => format!("{table} has no `{key}`, so \"{default}\""),
    }
}

fn flag(field: &Option<Spanned<bool>>, default: bool) -> bool {
    field.as_ref().map_or(default, |f| *f.get_ref())
}
