//! Stage 2: raw structs -> validated [`Config`].
//!
//! Every table is converted field by field; a bad field records a diagnostic and validation
//! goes on, so one run reports every problem. Cross-references (unique names, cluster
//! references, address conflicts) are checked in [`cross`] on the raw structs.

mod cross;
mod values;

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
    let mut v = Validator {
        src: Source { text, origin },
        errors: std::mem::take(&mut raw.problems),
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
    (v.errors).retain(|e| e.kind != ErrorKind::MissingKey || !raw.dropped.contains(&e.key));
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
        let protocol = (self.choice(l.protocol.as_ref(), &at("protocol"), k::PROTOCOL))
            .map_or(d::PROTOCOL, |i| [Protocol::Tcp][i]);
        let cluster = self.required(&l.cluster, &span, &path, "cluster", k::CLUSTER_REF);
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
        Some(ListenerConfig {
            name: name?,
            bind: bind?,
            protocol,
            cluster: cluster?.get_ref().clone(),
            backlog: backlog.map_or(d::BACKLOG, |n| n as u32),
            max_connections: max_conns.map_or(d::MAX_CONNECTIONS, |n| n as usize),
            idle_timeout: idle.unwrap_or(d::IDLE_TIMEOUT),
            tcp_nodelay: flag(&l.tcp_nodelay, d::TCP_NODELAY),
            tcp_keepalive: keepalive,
            // Placeholders until the HTTP keys are parsed.
            proxy_protocol_from: Vec::new(),
            http: None,
        })
    }

    fn cluster(&mut self, i: usize, raw: &Spanned<RawCluster>) -> Option<ClusterConfig> {
        let path = format!("cluster[{i}]");
        let at = |key: &str| format!("{path}.{key}");
        let (span, c) = (raw.span(), raw.get_ref());
        let name = self.required(&c.name, &span, &path, "name", k::NAME);
        let name = name.and_then(|n| self.name(n, &at("name")));
        let balance = (self.choice(c.balance.as_ref(), &at("balance"), k::BALANCE)).map(|i| {
            [
                Balance::RoundRobin,
                Balance::WeightedRoundRobin,
                Balance::LeastConn,
            ][i]
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
        let backends = self.required(&c.backends, &span, &path, "backends", Kind::Backends);
        let backends = backends.and_then(|b| self.backends(b, &at("backends")));
        Some(ClusterConfig {
            name: name?,
            balance: balance.unwrap_or(d::BALANCE),
            connect_timeout: timeout.unwrap_or(d::CONNECT_TIMEOUT),
            connect_attempts: attempts.map_or(d::CONNECT_ATTEMPTS, |n| n as u32),
            backends: backends?,
            // Placeholders until these keys are parsed.
            hash_key: crate::model::HashKey::ClientIp,
            hash_balance_factor: None,
            protocol: crate::model::UpstreamProtocol::Http1,
            response_timeout: std::time::Duration::from_secs(60),
            send_proxy_protocol: None,
            pool: crate::model::PoolConfig {
                max_idle: 64,
                idle_timeout: std::time::Duration::from_secs(60),
                max_requests: None,
            },
            health: None,
            outlier: None,
            retry: crate::model::RetryConfig {
                attempts: 0,
                on: Vec::new(),
                budget: 200,
                min_retries: 3,
                per_try_timeout: None,
                backoff: std::time::Duration::from_millis(25),
            },
            limits: crate::model::CircuitLimits {
                max_connections: None,
                max_pending: None,
                max_requests: None,
                max_retries: None,
            },
            panic_threshold: 0,
            slow_start: std::time::Duration::ZERO,
            local_zone: None,
            priority_threshold: 0,
            persistence: None,
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
        let (text, span, weight) = match raw.get_ref() {
            RawBackend::Address(a) => (a.as_str(), raw.span(), d::WEIGHT),
            RawBackend::Table(t) => {
                let weight = self.int(t.weight.as_ref(), &format!("{path}.weight"), k::WEIGHT);
                let weight = weight.map_or(d::WEIGHT, |w| w as u32);
                let a = self.required(&t.address, &raw.span(), path, "address", k::ADDR)?;
                (a.get_ref().as_str(), a.span(), weight)
            }
        };
        let address = self.backend_addr(text, span.clone(), path)?;
        Some((
            BackendConfig {
                address,
                weight,
                zone: None,
                priority: 0,
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

fn flag(field: &Option<Spanned<bool>>, default: bool) -> bool {
    field.as_ref().map_or(default, |f| *f.get_ref())
}
