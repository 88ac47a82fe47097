//! The validated model: what the rest of Fulcrum consumes.
//!
//! Every value here has passed validation (cross-references resolve, names are unique, no
//! address is bound twice) and every default is filled in. The defaults themselves are listed
//! in `docs/config.md`; [`crate::defaults`] holds them in code.

use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A whole, validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// The file it was read from, if any (the demo config has none).
    pub source: Option<PathBuf>,
    pub admin: Option<AdminConfig>,
    pub runtime: RuntimeConfig,
    pub log: LogConfig,
    pub listeners: Vec<ListenerConfig>,
    pub clusters: Vec<ClusterConfig>,
}

impl Config {
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }

    pub fn listener(&self, name: &str) -> Option<&ListenerConfig> {
        self.listeners.iter().find(|l| l.name == name)
    }

    /// The directory relative paths in the config (certificates, keys, CA bundles) are
    /// relative to: the config file's, or the current directory when there is no file.
    pub fn base_dir(&self) -> PathBuf {
        match self.source.as_ref().and_then(|s| s.parent()) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// `[admin]`: the admin HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminConfig {
    pub listen: SocketAddr,
}

/// `[runtime]`: threads and process-wide behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeConfig {
    /// Worker threads; `None` means one per CPU in the process's affinity mask.
    pub workers: Option<usize>,
    /// Pin each worker thread to one CPU of the mask.
    pub pin_workers: bool,
    /// How long a graceful stop (SIGTERM/SIGINT) waits for open connections.
    #[serde(with = "crate::units::serde_duration")]
    pub shutdown_timeout: Duration,
    /// How TCP bytes are relayed.
    pub relay: RelayMode,
    /// Size of each direction's buffer in the copying relay (and of each splice pipe).
    pub buffer_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayMode {
    /// splice(2) through a pipe where possible, copying otherwise.
    Splice,
    /// Always read into a user-space buffer and write from it.
    Copy,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogConfig {
    /// A tracing filter: "info", "warn", "fulcrum_proxy=debug,info", ...
    pub level: String,
    /// One line per closed connection.
    pub connections: bool,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// One `[[listener]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerConfig {
    pub name: String,
    pub bind: SocketAddr,
    pub protocol: Protocol,
    /// Name of a cluster that exists in the same config. For a tcp listener, where every
    /// connection goes; with SNI routes (`sni`), connections are routed by them and
    /// `sni.default` alone, and this is the default when the file gives `cluster`, otherwise
    /// the cluster of the first SNI route. For an http listener, requests are routed by
    /// `http.routes` alone; this is its catch-all cluster when the file gives `cluster` (also
    /// the last route), otherwise the cluster of its first route.
    /// [`ListenerConfig::clusters`] lists every cluster used.
    pub cluster: String,
    pub backlog: u32,
    /// Open connections at most (across all workers); at the limit the listener stops accepting.
    pub max_connections: usize,
    /// A connection with no bytes either way for this long is closed.
    #[serde(with = "crate::units::serde_duration")]
    pub idle_timeout: Duration,
    pub tcp_nodelay: bool,
    /// Idle time before TCP keepalive probes; `None` turns keepalive off.
    #[serde(with = "crate::units::serde_opt_duration")]
    pub tcp_keepalive: Option<Duration>,
    /// Accept a PROXY protocol header (v1 or v2) from these sources. Empty: never.
    pub proxy_protocol_from: Vec<Cidr>,
    /// HTTP settings; `Some` exactly when `protocol` is `Http`.
    pub http: Option<HttpListenerConfig>,
    /// TLS termination: `Some` for `protocol = "https"` (the model has `Http` and this) and
    /// `protocol = "tls"` (`Tcp` and this). The transport and the protocol it carries are
    /// separate: every HTTP key applies to https, every tcp key to tls.
    pub tls: Option<TlsListenerConfig>,
    /// SNI passthrough: route a TLS connection by the server name in its ClientHello without
    /// terminating it. Only on tcp listeners without `tls`.
    pub sni: Option<SniConfig>,
}

/// An IP network, `10.0.0.0/8` or `::1/128` (a bare address means a single host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cidr {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        match (self.addr, ip) {
            (V4(net), V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (V6(net), V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// HTTP settings of a listener (`protocol = "http"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpListenerConfig {
    /// First match wins; no match gives 404.
    pub routes: Vec<RouteConfig>,
    pub timeouts: HttpTimeouts,
    pub limits: HttpLimits,
    pub forwarded: ForwardedMode,
    /// Add a `Via` header to requests and responses.
    pub via: bool,
    /// Header carrying the request id; generated when absent. `None`: no request id.
    pub request_id_header: Option<String>,
    pub access_log: AccessLogFormat,
    /// Bodies for errors Fulcrum generates, by status code (others get a built-in body).
    pub error_responses: Vec<ErrorResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpTimeouts {
    /// Time to receive a whole request head (slowloris guard) -> 408.
    #[serde(with = "crate::units::serde_duration")]
    pub header: Duration,
    /// Longest pause while receiving a request body -> 408.
    #[serde(with = "crate::units::serde_duration")]
    pub body_idle: Duration,
    /// Whole request, first byte to last byte of the response -> 504 if no response yet.
    #[serde(with = "crate::units::serde_opt_duration")]
    pub request: Option<Duration>,
    /// Idle keep-alive connection between requests.
    #[serde(with = "crate::units::serde_duration")]
    pub keepalive: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpLimits {
    /// Request head bytes at most -> 431.
    pub max_header_bytes: usize,
    /// Header fields at most -> 431.
    pub max_headers: usize,
    /// Request target length at most -> 414.
    pub max_uri_bytes: usize,
    /// Request body bytes at most -> 413. `None`: unlimited.
    pub max_body_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardedMode {
    /// X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host.
    XForwarded,
    /// RFC 7239 `Forwarded`.
    Rfc7239,
    Both,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLogFormat {
    Off,
    Combined,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// One `[[listener.route]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteConfig {
    /// Given or generated (`route-1`, ...); used in logs and metrics.
    pub name: String,
    pub host: Option<HostMatch>,
    pub path: Option<PathMatch>,
    /// Upper-case method names; empty: any method.
    pub methods: Vec<String>,
    pub headers: Vec<HeaderMatch>,
    pub query: Vec<QueryMatch>,
    pub cluster: String,
    pub request_headers: HeaderRules,
    pub response_headers: HeaderRules,
    /// Retry non-idempotent methods too (issue: retries).
    pub retry_non_idempotent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostMatch {
    /// Lower-cased, no port.
    Exact(String),
    /// `*.example.com` stored as `.example.com`: any name ending so (one label or more).
    Suffix(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
    /// A regex (checked to compile at validation) matched against the whole path.
    Regex(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderMatch {
    /// Lower-cased.
    pub name: String,
    pub value: ValueMatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryMatch {
    pub name: String,
    pub value: ValueMatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueMatch {
    Present,
    Exact(String),
    Regex(String),
}

/// Header rewriting: remove, then set (replace), then add (append).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HeaderRules {
    /// (name, value) pairs in file order; names lower-cased, values as written.
    pub set: Vec<(String, String)>,
    pub add: Vec<(String, String)>,
    pub remove: Vec<String>,
}

/// `tls` of a listener: TLS termination (rustls).
///
/// Paths are as written in the file; relative ones are relative to the directory of the config
/// file ([`Config::base_dir`]). Validation checks their shape only; the files are read by the
/// tls crate (`fulcrum_tls::check` reports unreadable or invalid ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsListenerConfig {
    /// At least one. The names each serves come from its SANs; the first is the default, served
    /// when the client sends no SNI or a name no certificate has.
    pub certificates: Vec<CertificateConfig>,
    pub min_version: TlsVersion,
    /// rustls suite names (`"TLS13_AES_128_GCM_SHA256"`); empty: the default order (AES-128-GCM first; fulcrum-tls).
    pub ciphers: Vec<String>,
    /// ALPN protocols offered, in preference order; empty: no ALPN.
    pub alpn: Vec<String>,
    /// Stateless resumption with session tickets (keys rotated automatically).
    pub session_tickets: bool,
    /// Ticket keys from this file, so that instances sharing it resume each other's sessions.
    pub ticket_key_file: Option<PathBuf>,
    /// Server-side session cache entries (stateful resumption); 0: off.
    pub session_cache: usize,
    /// Accept TLS 1.3 early data (0-RTT); https only, and then only for safe methods.
    pub early_data: bool,
    /// A handshake not finished in this time is abandoned.
    #[serde(with = "crate::units::serde_duration")]
    pub handshake_timeout: Duration,
    /// Client certificates (mTLS); `None`: none asked for.
    pub client_auth: Option<ClientAuthConfig>,
}

/// One certificate chain and its private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateConfig {
    /// The chain, end-entity certificate first.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A DER OCSP response to staple; reloaded when it changes.
    pub ocsp: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum TlsVersion {
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

/// `client_auth` of a tls listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientAuthConfig {
    /// CA bundle (PEM) client certificates are verified against.
    pub ca: PathBuf,
    pub mode: ClientAuthMode,
    /// Header carrying the verified subject to the backend (https only); `None`: not sent.
    pub subject_header: Option<String>,
    /// Header carrying the certificate's SHA-256 fingerprint (https only); `None`: not sent.
    pub fingerprint_header: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMode {
    /// A handshake without a valid client certificate fails.
    Required,
    /// A client may send no certificate; one it sends must be valid.
    Optional,
}

/// `sni_routes` of a tcp listener: passthrough routing on the ClientHello's server name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SniConfig {
    /// Exact names first, then the longest matching wildcard; file order otherwise.
    pub routes: Vec<SniRoute>,
    /// Where a hello with no server name, or one no route matches, goes; `None`: it is closed.
    pub default: Option<String>,
    /// Time to receive the whole ClientHello.
    #[serde(with = "crate::units::serde_duration")]
    pub peek_timeout: Duration,
    /// ClientHello bytes at most (records included); a larger hello is refused.
    pub max_hello: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SniRoute {
    /// Lower-cased; `Suffix` for `*.example.com`, as for HTTP routes (one label or more).
    pub server_name: HostMatch,
    pub cluster: String,
}

/// `tls` of a cluster: TLS to the backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterTlsConfig {
    /// CA bundle (PEM) the backends' certificates are verified against; `None`: the system's
    /// roots.
    pub ca: Option<PathBuf>,
    /// SNI and the name verified; `None`: the backend's IP address (verified against an IP
    /// SAN, and no SNI is sent).
    pub server_name: Option<String>,
    /// A client certificate for mTLS to the backends.
    pub client_cert: Option<ClientCertConfig>,
    /// ALPN protocols offered; by default `["h2"]` when `protocol = "h2"`, else none.
    pub alpn: Vec<String>,
    /// Verify the backends' certificates. `false` is for tests only: anyone on the path can
    /// impersonate a backend.
    pub verify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientCertConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ListenerConfig {
    /// What a listening socket depends on. Two listeners with equal socket keys can share the
    /// same socket across a reload.
    pub fn socket_key(&self) -> (SocketAddr, u32) {
        (self.bind, self.backlog)
    }

    /// Every cluster this listener sends traffic to, each once, in route order (for a tcp
    /// listener, just `cluster`; with SNI routes, theirs and then the default).
    pub fn clusters(&self) -> Vec<&str> {
        let mut out = vec![self.cluster.as_str()];
        if let Some(http) = &self.http {
            out.clear();
            for route in &http.routes {
                if !out.contains(&route.cluster.as_str()) {
                    out.push(&route.cluster);
                }
            }
        }
        if let Some(sni) = &self.sni {
            out.clear();
            let routes = sni.routes.iter().map(|r| r.cluster.as_str());
            for cluster in routes.chain(sni.default.as_deref()) {
                if !out.contains(&cluster) {
                    out.push(cluster);
                }
            }
        }
        out
    }
}

/// What a listener carries. Whether it is wrapped in TLS is [`ListenerConfig::tls`]: the
/// file's `protocol = "https"` is `Http` with `tls`, `"tls"` is `Tcp` with `tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Tcp,
    /// HTTP/1.1 and HTTP/2 cleartext (prior knowledge) on the same port; with `tls`, HTTP/1.1
    /// and HTTP/2 chosen by ALPN.
    Http,
}

/// One `[[cluster]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterConfig {
    pub name: String,
    pub balance: Balance,
    #[serde(with = "crate::units::serde_duration")]
    pub connect_timeout: Duration,
    /// Backends tried for one connection at most (the first pick plus retries on connect failure).
    pub connect_attempts: u32,
    pub backends: Vec<BackendConfig>,
    /// What to hash for `source_ip`, `ring_hash` and `maglev` (default: the client IP).
    pub hash_key: HashKey,
    /// Bounded-load factor for consistent hashing (e.g. 1.25); `None`: unbounded.
    pub hash_balance_factor: Option<Milli>,
    /// Protocol spoken to backends behind HTTP listeners.
    pub protocol: UpstreamProtocol,
    /// Time from the request's last byte sent to the response head received -> 504.
    #[serde(with = "crate::units::serde_duration")]
    pub response_timeout: Duration,
    /// Send a PROXY protocol header on each new backend connection.
    pub send_proxy_protocol: Option<ProxyProtocolVersion>,
    pub pool: PoolConfig,
    pub health: Option<HealthConfig>,
    pub outlier: Option<OutlierConfig>,
    pub retry: RetryConfig,
    pub limits: CircuitLimits,
    /// Below this share of healthy backends, balance across all of them (in thousandths).
    pub panic_threshold: Milli,
    /// A backend that becomes healthy ramps its weight up over this window; zero: at once.
    #[serde(with = "crate::units::serde_duration")]
    pub slow_start: Duration,
    /// Zone of this Fulcrum instance; backends in it are preferred while it has capacity.
    pub local_zone: Option<String>,
    /// Move traffic to the next priority group when the healthy share of the current one
    /// falls below this (in thousandths).
    pub priority_threshold: Milli,
    pub persistence: Option<Persistence>,
    /// TLS to the backends; `None`: plain TCP.
    pub tls: Option<ClusterTlsConfig>,
}

/// A ratio in thousandths (0.2 -> 200), so configs compare and hash exactly.
pub type Milli = u32;

impl Balance {
    /// Whether the algorithm picks by hashing a key (`hash_key` applies).
    pub fn hashes(self) -> bool {
        matches!(
            self,
            Balance::SourceIp | Balance::RingHash | Balance::Maglev
        )
    }

    /// Whether the algorithm supports bounded load (`hash_balance_factor` applies).
    pub fn bounded_load(self) -> bool {
        matches!(self, Balance::RingHash | Balance::Maglev)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    RoundRobin,
    WeightedRoundRobin,
    LeastConn,
    P2c,
    P2cEwma,
    Random,
    SourceIp,
    RingHash,
    Maglev,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashKey {
    ClientIp,
    /// Lower-cased header name.
    Header(String),
    Cookie(String),
    Path,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    Http1,
    H2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyProtocolVersion {
    V1,
    V2,
}

/// `[cluster.pool]`: upstream keep-alive connections, per worker thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolConfig {
    pub max_idle: usize,
    #[serde(with = "crate::units::serde_duration")]
    pub idle_timeout: Duration,
    /// Requests per upstream connection at most; `None`: unlimited.
    pub max_requests: Option<u64>,
}

/// `[cluster.health]`: active checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthConfig {
    pub kind: HealthKind,
    #[serde(with = "crate::units::serde_duration")]
    pub interval: Duration,
    #[serde(with = "crate::units::serde_duration")]
    pub timeout: Duration,
    /// Jitter added to each interval, in thousandths of it.
    pub jitter: Milli,
    pub rise: u32,
    pub fall: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthKind {
    Tcp,
    Http {
        method: String,
        path: String,
        /// Host header; default: the backend address.
        host: Option<String>,
        /// Inclusive status ranges, e.g. "200-399" -> [(200, 399)].
        expect_status: Vec<(u16, u16)>,
        /// The body must contain this.
        expect_body: Option<String>,
    },
}

/// `[cluster.outlier]`: passive ejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutlierConfig {
    /// Consecutive 5xx responses that eject; 0 disables.
    pub consecutive_5xx: u32,
    /// Consecutive 502/503/504 that eject; 0 disables.
    pub consecutive_gateway_errors: u32,
    /// Consecutive connect failures that eject; 0 disables.
    pub consecutive_connect_failures: u32,
    /// First ejection lasts this; the n-th lasts n times as long (capped by `max_ejection_time`).
    #[serde(with = "crate::units::serde_duration")]
    pub base_ejection_time: Duration,
    #[serde(with = "crate::units::serde_duration")]
    pub max_ejection_time: Duration,
    /// Share of the cluster that may be ejected at once, in thousandths.
    pub max_ejected: Milli,
}

/// `[cluster.retry]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryConfig {
    /// Retries after the first try (0: none).
    pub attempts: u32,
    pub on: Vec<RetryOn>,
    /// Retries in flight at most, as a share of active requests (thousandths) ...
    pub budget: Milli,
    /// ... but always allow this many concurrent retries.
    pub min_retries: u32,
    #[serde(with = "crate::units::serde_opt_duration")]
    pub per_try_timeout: Option<Duration>,
    #[serde(with = "crate::units::serde_duration")]
    pub backoff: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    ConnectFailure,
    Reset,
    Status(u16),
}

/// `[cluster.limits]`: circuit breakers; over a limit the request fails fast with 503.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircuitLimits {
    pub max_connections: Option<u64>,
    pub max_pending: Option<u64>,
    pub max_requests: Option<u64>,
    pub max_retries: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// An inserted cookie naming the backend opaquely.
    Cookie {
        name: String,
        #[serde(with = "crate::units::serde_opt_duration")]
        max_age: Option<Duration>,
    },
    /// A table of client IP -> backend, entries expiring after `ttl` unused.
    SourceIp {
        #[serde(with = "crate::units::serde_duration")]
        ttl: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendConfig {
    pub address: SocketAddr,
    pub weight: u32,
    pub zone: Option<String>,
    /// 0 is the primary group; higher numbers are backups, used in order.
    pub priority: u32,
}
