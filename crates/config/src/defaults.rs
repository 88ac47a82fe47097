//! Every default and every limit of the config file, in one place.
//!
//! `docs/config.md` documents the same values (its examples are loaded by
//! `tests/good_configs.rs`). The limits here also feed the "expected ..." text of errors.

use crate::model::{
    AccessLogFormat, Balance, CircuitLimits, ForwardedMode, HashKey, HealthConfig, HealthKind,
    HttpLimits, HttpTimeouts, LogConfig, LogFormat, Milli, OutlierConfig, PoolConfig, Protocol,
    RelayMode, RetryConfig, RetryOn, RuntimeConfig, UpstreamProtocol,
};
use crate::model::{ClientAuthMode, TlsVersion};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

// [admin]
/// `admin.listen` when `[admin]` is present without it.
pub const ADMIN_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9090);

// [runtime]
/// `runtime.workers` may be 1 ..= this; absent means one per CPU of the affinity mask.
pub const WORKERS_MAX: i64 = 1024;
pub const PIN_WORKERS: bool = true;
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
pub const RELAY: RelayMode = RelayMode::Splice;
pub const BUFFER_SIZE: u64 = 256 * 1024;
pub const BUFFER_SIZE_MIN: u64 = 4 * 1024;
pub const BUFFER_SIZE_MAX: u64 = 16 * 1024 * 1024;

// [log]
pub const LOG_LEVEL: &str = "info";
pub const LOG_CONNECTIONS: bool = true;
pub const LOG_FORMAT: LogFormat = LogFormat::Text;

// [[listener]] and [[cluster]] names
/// Names are 1 ..= this many characters from `[A-Za-z0-9_.-]`.
pub const NAME_MAX_LEN: usize = 64;

// [[listener]]
pub const PROTOCOL: Protocol = Protocol::Tcp;
pub const BACKLOG: u32 = 1024;
pub const BACKLOG_MAX: i64 = 65535;
pub const MAX_CONNECTIONS: usize = 10_000;
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
pub const TCP_NODELAY: bool = true;
/// Also what `tcp_keepalive = true` means.
pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// `tcp_keepalive` is a whole number of seconds up to this (the kernel's `MAX_TCP_KEEPIDLE`).
pub const TCP_KEEPALIVE_MAX: Duration = Duration::from_secs(32767);

// [[cluster]]
pub const BALANCE: Balance = Balance::RoundRobin;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const CONNECT_ATTEMPTS: u32 = 3;
pub const CONNECT_ATTEMPTS_MAX: i64 = 16;
/// A backend's weight when it is given as a plain `"ip:port"` string.
pub const WEIGHT: u32 = 1;
pub const WEIGHT_MAX: i64 = 1000;
/// A backend's priority group when none is given (0 is the primary group).
pub const PRIORITY: u32 = 0;
pub const PRIORITY_MAX: i64 = 15;
pub const HASH_KEY: HashKey = HashKey::ClientIp;
/// `hash_balance_factor` is at least 1.0 (no backend above the average load).
pub const HASH_BALANCE_FACTOR_MIN: Milli = 1000;
pub const UPSTREAM_PROTOCOL: UpstreamProtocol = UpstreamProtocol::Http1;
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// 0: never balance across unhealthy backends.
pub const PANIC_THRESHOLD: Milli = 0;
/// Zero: a backend that becomes healthy gets its full weight at once.
pub const SLOW_START: Duration = Duration::ZERO;
/// Spill to the next priority group when under 70% of the current one is healthy.
pub const PRIORITY_THRESHOLD: Milli = 700;

// [[listener]] with protocol = "http"
pub const FORWARDED: ForwardedMode = ForwardedMode::XForwarded;
pub const VIA: bool = true;
/// Also what `request_id = true` means.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const ACCESS_LOG: AccessLogFormat = AccessLogFormat::Combined;
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(60);
pub const MAX_HEADER_BYTES: u64 = 64 * 1024;
pub const MAX_HEADER_BYTES_MIN: u64 = 1024;
pub const MAX_HEADER_BYTES_MAX: u64 = 1024 * 1024;
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADERS_MAX: i64 = 1000;
pub const MAX_URI_BYTES: u64 = 8 * 1024;
pub const MAX_URI_BYTES_MIN: u64 = 256;
pub const MAX_URI_BYTES_MAX: u64 = 64 * 1024;
/// `content_type` of an `error_responses` entry that gives none.
pub const ERROR_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// An unnamed route is called this plus its 1-based index: `route-1`, `route-2`, ...
pub const ROUTE_NAME_PREFIX: &str = "route-";
/// The name of the catch-all route an http listener's `cluster` adds after its routes.
pub const CATCH_ALL_ROUTE: &str = "default";
/// Headers that `set` and `add` may not touch: hop-by-hop and framing headers, which Fulcrum
/// manages itself.
pub const MANAGED_HEADERS: &[&str] = &[
    "connection",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

// tls of a [[listener]] (protocol = "https" or "tls")
pub const TLS_MIN_VERSION: TlsVersion = TlsVersion::Tls12;
/// `alpn` of an https listener when none is given; a tls listener offers none by default.
pub const HTTPS_ALPN: &[&str] = &["h2", "http/1.1"];
/// ALPN protocol names are 1 ..= this many bytes (RFC 7301).
pub const ALPN_MAX_LEN: usize = 255;
pub const SESSION_TICKETS: bool = true;
pub const SESSION_CACHE: usize = 4096;
pub const SESSION_CACHE_MAX: i64 = 1_000_000;
pub const EARLY_DATA: bool = false;
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
pub const CLIENT_AUTH_MODE: ClientAuthMode = ClientAuthMode::Required;
/// Also what `subject_header = true` means.
pub const CLIENT_SUBJECT_HEADER: &str = "x-client-subject";
/// Also what `fingerprint_header = true` means.
pub const CLIENT_FINGERPRINT_HEADER: &str = "x-client-fingerprint";
/// The cipher suites `ciphers` may name (rustls's names, those of its aws-lc-rs provider) and the
/// TLS version of each. `fulcrum-tls` checks that this list matches rustls.
pub const TLS_CIPHERS: &[(&str, TlsVersion)] = &[
    ("TLS13_AES_256_GCM_SHA384", TlsVersion::Tls13),
    ("TLS13_AES_128_GCM_SHA256", TlsVersion::Tls13),
    ("TLS13_CHACHA20_POLY1305_SHA256", TlsVersion::Tls13),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TlsVersion::Tls12),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", TlsVersion::Tls12),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        TlsVersion::Tls12,
    ),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", TlsVersion::Tls12),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TlsVersion::Tls12),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        TlsVersion::Tls12,
    ),
];
/// OpenSSL's names for the same suites, for a hint when one is given.
pub const OPENSSL_CIPHER_NAMES: &[(&str, &str)] = &[
    ("TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"),
    ("TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS13_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

// sni_routes of a tcp [[listener]] (passthrough)
pub const SNI_PEEK_TIMEOUT: Duration = Duration::from_secs(5);
pub const SNI_MAX_HELLO: u64 = 16 * 1024;
pub const SNI_MAX_HELLO_MIN: u64 = 1024;
pub const SNI_MAX_HELLO_MAX: u64 = 1024 * 1024;

// tls of a [[cluster]]
pub const CLUSTER_TLS_VERIFY: bool = true;

// [cluster.pool]
pub const POOL_MAX_IDLE: usize = 64;
pub const POOL_MAX_IDLE_MAX: i64 = 65536;
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

// [cluster.health]
pub const HEALTH_METHOD: &str = "GET";
pub const HEALTH_PATH: &str = "/";
pub const HEALTH_EXPECT_STATUS: (u16, u16) = (200, 399);
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
pub const HEALTH_JITTER: Milli = 100;
pub const HEALTH_RISE: u32 = 2;
pub const HEALTH_FALL: u32 = 3;
/// `rise` and `fall` are 1 ..= this.
pub const HEALTH_THRESHOLD_MAX: i64 = 100;

// [cluster.outlier]
pub const CONSECUTIVE_5XX: u32 = 5;
pub const CONSECUTIVE_GATEWAY_ERRORS: u32 = 0;
pub const CONSECUTIVE_CONNECT_FAILURES: u32 = 5;
/// The `consecutive_*` counts are 0 ..= this.
pub const CONSECUTIVE_MAX: i64 = 1000;
pub const BASE_EJECTION_TIME: Duration = Duration::from_secs(30);
pub const MAX_EJECTION_TIME: Duration = Duration::from_secs(300);
pub const MAX_EJECTED: Milli = 100;

// [cluster.retry]
pub const RETRY_ATTEMPTS: u32 = 0;
pub const RETRY_ATTEMPTS_MAX: i64 = 10;
pub const RETRY_ON: &[RetryOn] = &[RetryOn::ConnectFailure];
pub const RETRY_BUDGET: Milli = 200;
pub const MIN_RETRIES: u32 = 3;
pub const MIN_RETRIES_MAX: i64 = 10_000;
pub const RETRY_BACKOFF: Duration = Duration::from_millis(25);

// [cluster.persistence]
pub const COOKIE_NAME: &str = "fulcrum_backend";
pub const SOURCE_IP_TTL: Duration = Duration::from_secs(600);

impl Default for RuntimeConfig {
    /// `[runtime]` when the file has none.
    fn default() -> Self {
        RuntimeConfig {
            workers: None,
            pin_workers: PIN_WORKERS,
            shutdown_timeout: SHUTDOWN_TIMEOUT,
            relay: RELAY,
            buffer_size: BUFFER_SIZE as usize,
        }
    }
}

impl Default for LogConfig {
    /// `[log]` when the file has none.
    fn default() -> Self {
        LogConfig {
            level: LOG_LEVEL.to_owned(),
            connections: LOG_CONNECTIONS,
            format: LOG_FORMAT,
        }
    }
}

impl Default for HttpTimeouts {
    /// `[listener.timeouts]` when an http listener has none.
    fn default() -> Self {
        HttpTimeouts {
            header: HEADER_TIMEOUT,
            body_idle: BODY_IDLE_TIMEOUT,
            request: None,
            keepalive: KEEPALIVE_TIMEOUT,
        }
    }
}

impl Default for HttpLimits {
    /// `[listener.limits]` when an http listener has none.
    fn default() -> Self {
        HttpLimits {
            max_header_bytes: MAX_HEADER_BYTES as usize,
            max_headers: MAX_HEADERS,
            max_uri_bytes: MAX_URI_BYTES as usize,
            max_body_bytes: None,
        }
    }
}

impl Default for PoolConfig {
    /// `[cluster.pool]` when a cluster has none.
    fn default() -> Self {
        PoolConfig {
            max_idle: POOL_MAX_IDLE,
            idle_timeout: POOL_IDLE_TIMEOUT,
            max_requests: None,
        }
    }
}

impl Default for HealthConfig {
    /// An empty `[cluster.health]`: TCP connect checks.
    fn default() -> Self {
        HealthConfig {
            kind: HealthKind::Tcp,
            interval: HEALTH_INTERVAL,
            timeout: HEALTH_TIMEOUT,
            jitter: HEALTH_JITTER,
            rise: HEALTH_RISE,
            fall: HEALTH_FALL,
        }
    }
}

impl Default for OutlierConfig {
    /// An empty `[cluster.outlier]`.
    fn default() -> Self {
        OutlierConfig {
            consecutive_5xx: CONSECUTIVE_5XX,
            consecutive_gateway_errors: CONSECUTIVE_GATEWAY_ERRORS,
            consecutive_connect_failures: CONSECUTIVE_CONNECT_FAILURES,
            base_ejection_time: BASE_EJECTION_TIME,
            max_ejection_time: MAX_EJECTION_TIME,
            max_ejected: MAX_EJECTED,
        }
    }
}

impl Default for RetryConfig {
    /// `[cluster.retry]` when a cluster has none.
    fn default() -> Self {
        RetryConfig {
            attempts: RETRY_ATTEMPTS,
            on: RETRY_ON.to_vec(),
            budget: RETRY_BUDGET,
            min_retries: MIN_RETRIES,
            per_try_timeout: None,
            backoff: RETRY_BACKOFF,
        }
    }
}

impl Default for CircuitLimits {
    /// `[cluster.limits]` when a cluster has none: no limits.
    fn default() -> Self {
        CircuitLimits {
            max_connections: None,
            max_pending: None,
            max_requests: None,
            max_retries: None,
        }
    }
}
