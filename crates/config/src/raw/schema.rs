//! The shape of the config file: which keys each table has and what TOML type each value is.
//!
//! serde stops at the first unknown key or wrong type; this walk over the parsed document runs
//! first and reports all of them at once. It checks shape only (keys and TOML types); values
//! and cross-references are checked in `validate`, which reuses [`Kind::expected`] so that a
//! wrong type and a wrong value of the same key say the same "expected ...".

use crate::defaults as d;
use crate::error::{Diagnostic, ErrorKind, Source, backticked, suggest};
use crate::units;
use std::borrow::Cow;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// What a key holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A string; the text says what it means.
    Str(&'static str),
    /// A string, one of a fixed set.
    Choice(&'static [&'static str]),
    /// A listener or cluster name.
    Name,
    /// An `ip:port` string.
    Addr,
    /// A duration string; `nonzero` rejects `"0s"`.
    Duration {
        nonzero: bool,
    },
    /// An integer in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    /// A size: an integer (bytes) or a size string, within `min..=max` bytes.
    Size {
        min: u64,
        max: u64,
    },
    /// `false`, `true` or a duration string.
    Keepalive,
    /// A table with these keys.
    Table(&'static [Field]),
    /// An array of tables with these keys (`[[listener]]`).
    TableArray(&'static [Field]),
    /// An array of `"ip:port"` strings or `{ address, weight }` tables.
    Backends,
    /// An array of strings; the text says what each one is.
    Strs(&'static str),
    /// A value of the inner kind, or a boolean (`false` turns the thing off; what `true` means,
    /// if anything, is up to `validate`).
    OrFalse(&'static Kind),
    /// A table whose keys the user chooses, each value of the inner kind.
    Map {
        what: &'static str,
        value: &'static Kind,
    },
    /// An array of inline tables with these keys.
    Tables {
        what: &'static str,
        fields: &'static [Field],
    },
    /// A string (or an integer when `ints`), or an array of them.
    OneOrMany {
        what: &'static str,
        ints: bool,
    },
    /// A number (TOML integer or float) within `min..=max` thousandths.
    Number {
        min: u32,
        max: u32,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

pub(crate) const NAME: Kind = Kind::Name;
pub(crate) const ADDR: Kind = Kind::Addr;
pub(crate) const WORKERS: Kind = Kind::Int {
    min: 1,
    max: d::WORKERS_MAX,
};
pub(crate) const SHUTDOWN_TIMEOUT: Kind = Kind::Duration { nonzero: false };
pub(crate) const RELAY: Kind = Kind::Choice(&["splice", "copy"]);
pub(crate) const BUFFER_SIZE: Kind = Kind::Size {
    min: d::BUFFER_SIZE_MIN,
    max: d::BUFFER_SIZE_MAX,
};
pub(crate) const LOG_LEVEL: Kind = Kind::Str("a non-empty tracing filter like \"info\"");
pub(crate) const LOG_FORMAT: Kind = Kind::Choice(&["text", "json"]);
pub(crate) const PROTOCOL: Kind = Kind::Choice(&["tcp", "http", "https", "tls"]);
pub(crate) const CLUSTER_REF: Kind = Kind::Str("the name of a [[cluster]]");
pub(crate) const BACKLOG: Kind = Kind::Int {
    min: 1,
    max: d::BACKLOG_MAX,
};
pub(crate) const MAX_CONNECTIONS: Kind = Kind::Int {
    min: 1,
    max: i64::MAX,
};
pub(crate) const NONZERO_DURATION: Kind = Kind::Duration { nonzero: true };
pub(crate) const BALANCE: Kind = Kind::Choice(&[
    "round_robin",
    "weighted_round_robin",
    "least_conn",
    "p2c",
    "p2c_ewma",
    "random",
    "source_ip",
    "ring_hash",
    "maglev",
]);
pub(crate) const CONNECT_ATTEMPTS: Kind = Kind::Int {
    min: 1,
    max: d::CONNECT_ATTEMPTS_MAX,
};
pub(crate) const WEIGHT: Kind = Kind::Int {
    min: 1,
    max: d::WEIGHT_MAX,
};

pub(crate) const DURATION: Kind = Kind::Duration { nonzero: false };
pub(crate) const RATIO: Kind = Kind::Number { min: 0, max: 1000 };
pub(crate) const LIMIT: Kind = Kind::Int {
    min: 1,
    max: i64::MAX,
};
pub(crate) const ZONE: Kind = Kind::Str("a zone name of 1 to 64 characters from A-Z a-z 0-9 _ . -");
pub(crate) const CIDRS: Kind =
    Kind::Strs("an array of IP addresses or networks like [\"127.0.0.1\", \"10.0.0.0/8\"]");
pub(crate) const CIDR: Kind =
    Kind::Str("an IP address or a network like \"10.0.0.0/8\" or \"fd00::/8\"");
pub(crate) const FORWARDED: Kind = Kind::Choice(&["x-forwarded", "rfc7239", "both", "none"]);
pub(crate) const HEADER_NAME: Kind =
    Kind::Str("a header name of letters, digits and !#$%&'*+-.^_`|~");
pub(crate) const HEADER_VALUE: Kind =
    Kind::Str("a header value of visible ASCII characters, spaces and tabs");
pub(crate) const REQUEST_ID: Kind = Kind::OrFalse(&HEADER_NAME);
pub(crate) const ACCESS_LOG: Kind = Kind::Choice(&["off", "combined", "json"]);
pub(crate) const REQUEST_TIMEOUT: Kind = Kind::OrFalse(&NONZERO_DURATION);
pub(crate) const MAX_HEADER_BYTES: Kind = Kind::Size {
    min: d::MAX_HEADER_BYTES_MIN,
    max: d::MAX_HEADER_BYTES_MAX,
};
pub(crate) const MAX_HEADERS: Kind = Kind::Int {
    min: 1,
    max: d::MAX_HEADERS_MAX,
};
pub(crate) const MAX_URI_BYTES: Kind = Kind::Size {
    min: d::MAX_URI_BYTES_MIN,
    max: d::MAX_URI_BYTES_MAX,
};
pub(crate) const ANY_SIZE: Kind = Kind::Size {
    min: 0,
    max: u64::MAX,
};
pub(crate) const STATUS_KEY: Kind = Kind::Str("a status code in 400..=599");
pub(crate) const ERROR_BODY: Kind = Kind::Str("a string");
pub(crate) const CONTENT_TYPE: Kind = Kind::Str("a media type like \"text/html\"");
pub(crate) const ERROR_RESPONSES: Kind = Kind::Map {
    what: "a table of status codes, like 503 = { body = \"busy\" }",
    value: &Kind::Table(ERROR_RESPONSE),
};
pub(crate) const HOST: Kind =
    Kind::Str("a host name like \"api.example.com\" or \"*.example.com\"");
pub(crate) const PATH: Kind = Kind::Str("a path starting with \"/\", without spaces");
pub(crate) const REGEX: Kind = Kind::Str("a regular expression");
pub(crate) const METHOD: Kind = Kind::Str("a method name like \"GET\"");
pub(crate) const METHODS: Kind = Kind::OneOrMany {
    what: "a method like \"GET\" or an array of them",
    ints: false,
};
pub(crate) const MATCHES: Kind = Kind::Tables {
    what: "an array of tables like [{ name = \"x-canary\", value = \"1\" }]",
    fields: MATCH,
};
pub(crate) const QUERY_NAME: Kind =
    Kind::Str("a query parameter name without spaces, control characters, &, = or #");
pub(crate) const QUERY_VALUE: Kind =
    Kind::Str("a value of visible ASCII characters without &, # or spaces");
pub(crate) const HEADER_MAP: Kind = Kind::Map {
    what: "a table of header names and values, like { \"x-env\" = \"prod\" }",
    value: &HEADER_VALUE,
};
pub(crate) const HEADER_NAMES: Kind = Kind::Strs("an array of header names");
pub(crate) const HASH_KEY: Kind =
    Kind::Str("\"client_ip\", \"header:NAME\", \"cookie:NAME\" or \"path\"");
pub(crate) const HASH_BALANCE_FACTOR: Kind = Kind::Number {
    min: d::HASH_BALANCE_FACTOR_MIN,
    max: u32::MAX,
};
pub(crate) const UPSTREAM_PROTOCOL: Kind = Kind::Choice(&["http1", "h2"]);
pub(crate) const SEND_PROXY_PROTOCOL: Kind = Kind::Choice(&["v1", "v2"]);
pub(crate) const PRIORITY: Kind = Kind::Int {
    min: 0,
    max: d::PRIORITY_MAX,
};
pub(crate) const POOL_MAX_IDLE: Kind = Kind::Int {
    min: 0,
    max: d::POOL_MAX_IDLE_MAX,
};
pub(crate) const HEALTH_HOST: Kind =
    Kind::Str("a host name, optionally with a port, without spaces");
pub(crate) const EXPECT_BODY: Kind = Kind::Str("a non-empty string");
pub(crate) const HEALTH_KIND: Kind = Kind::Choice(&["tcp", "http"]);
pub(crate) const EXPECT_STATUS: Kind = Kind::OneOrMany {
    what: "a status code or range like \"200-399\", or an array of them",
    ints: true,
};
pub(crate) const STATUS_RANGE: Kind =
    Kind::Str("a status code in 100..=599 or a range of them like \"200-399\"");
pub(crate) const HEALTH_THRESHOLD: Kind = Kind::Int {
    min: 1,
    max: d::HEALTH_THRESHOLD_MAX,
};
pub(crate) const CONSECUTIVE: Kind = Kind::Int {
    min: 0,
    max: d::CONSECUTIVE_MAX,
};
pub(crate) const RETRY_ATTEMPTS: Kind = Kind::Int {
    min: 0,
    max: d::RETRY_ATTEMPTS_MAX,
};
pub(crate) const RETRY_ON: Kind = Kind::OneOrMany {
    what: "a retry condition or an array of them, like [\"connect-failure\", \"503\"]",
    ints: true,
};
pub(crate) const RETRY_CONDITION: Kind =
    Kind::Str("\"connect-failure\", \"reset\" or a status code in 500..=599");
pub(crate) const MIN_RETRIES: Kind = Kind::Int {
    min: 0,
    max: d::MIN_RETRIES_MAX,
};
pub(crate) const PERSISTENCE_KIND: Kind = Kind::Choice(&["cookie", "source_ip"]);
pub(crate) const COOKIE_NAME: Kind =
    Kind::Str("a cookie name of letters, digits and !#$%&'*+-.^_`|~");

pub(crate) const FILE: Kind = Kind::Str("a file path");
pub(crate) const CERTIFICATES: Kind = Kind::Tables {
    what: "an array of tables like [{ cert = \"a.pem\", key = \"a.key\" }]",
    fields: CERTIFICATE,
};
pub(crate) const TLS_VERSION: Kind = Kind::Choice(&["1.2", "1.3"]);
pub(crate) const CIPHERS: Kind =
    Kind::Strs("an array of cipher suite names like [\"TLS13_AES_128_GCM_SHA256\"]");
pub(crate) const CIPHER: Kind =
    Kind::Str("a cipher suite name like \"TLS13_AES_128_GCM_SHA256\" (rustls's names)");
pub(crate) const ALPN: Kind =
    Kind::Strs("an array of ALPN protocol names like [\"h2\", \"http/1.1\"]");
pub(crate) const ALPN_ID: Kind =
    Kind::Str("an ALPN protocol name of 1 to 255 visible ASCII characters");
pub(crate) const HTTPS_ALPN_ID: Kind = Kind::Choice(&["h2", "http/1.1"]);
pub(crate) const SESSION_CACHE: Kind = Kind::Int {
    min: 0,
    max: d::SESSION_CACHE_MAX,
};
pub(crate) const CLIENT_AUTH_MODE: Kind = Kind::Choice(&["required", "optional"]);
pub(crate) const IDENTITY_HEADER: Kind = Kind::OrFalse(&HEADER_NAME);
pub(crate) const SNI_ROUTES: Kind = Kind::Tables {
    what: "an array of tables like [{ server_name = \"a.example.com\", cluster = \"a\" }]",
    fields: SNI_ROUTE,
};
pub(crate) const SERVER_NAME: Kind =
    Kind::Str("a server name like \"a.example.com\" or \"*.example.com\"");
pub(crate) const SNI_MAX_HELLO: Kind = Kind::Size {
    min: d::SNI_MAX_HELLO_MIN,
    max: d::SNI_MAX_HELLO_MAX,
};
pub(crate) const BACKEND_NAME: Kind =
    Kind::Str("a DNS name like \"backend.internal\" or an IP address");

pub(crate) const ADMIN: &[Field] = &[f("listen", ADDR)];

pub(crate) const RUNTIME: &[Field] = &[
    f("workers", WORKERS),
    f("pin_workers", Kind::Bool),
    f("shutdown_timeout", SHUTDOWN_TIMEOUT),
    f("relay", RELAY),
    f("buffer_size", BUFFER_SIZE),
];

pub(crate) const LOG: &[Field] = &[
    f("level", LOG_LEVEL),
    f("connections", Kind::Bool),
    f("format", LOG_FORMAT),
];

pub(crate) const LISTENER: &[Field] = &[
    f("name", NAME),
    f("bind", ADDR),
    f("protocol", PROTOCOL),
    f("cluster", CLUSTER_REF),
    f("backlog", BACKLOG),
    f("max_connections", MAX_CONNECTIONS),
    f("idle_timeout", NONZERO_DURATION),
    f("tcp_nodelay", Kind::Bool),
    f("tcp_keepalive", Kind::Keepalive),
    f("proxy_protocol_from", CIDRS),
    f("forwarded", FORWARDED),
    f("via", Kind::Bool),
    f("request_id", REQUEST_ID),
    f("access_log", ACCESS_LOG),
    f("timeouts", Kind::Table(HTTP_TIMEOUTS)),
    f("limits", Kind::Table(HTTP_LIMITS)),
    f("error_responses", ERROR_RESPONSES),
    f("route", Kind::TableArray(ROUTE)),
    f("tls", Kind::Table(LISTENER_TLS)),
    f("sni_routes", SNI_ROUTES),
    f("sni_peek_timeout", NONZERO_DURATION),
    f("sni_max_hello", SNI_MAX_HELLO),
];

/// `tls` of a listener (`protocol = "https"` or `"tls"`).
pub(crate) const LISTENER_TLS: &[Field] = &[
    f("certificates", CERTIFICATES),
    f("min_version", TLS_VERSION),
    f("ciphers", CIPHERS),
    f("alpn", ALPN),
    f("session_tickets", Kind::Bool),
    f("ticket_key_file", FILE),
    f("session_cache", SESSION_CACHE),
    f("early_data", Kind::Bool),
    f("handshake_timeout", NONZERO_DURATION),
    f("client_auth", Kind::Table(CLIENT_AUTH)),
];

pub(crate) const CERTIFICATE: &[Field] = &[f("cert", FILE), f("key", FILE), f("ocsp", FILE)];

pub(crate) const CLIENT_CERT: &[Field] = &[f("cert", FILE), f("key", FILE)];

pub(crate) const CLIENT_AUTH: &[Field] = &[
    f("ca", FILE),
    f("mode", CLIENT_AUTH_MODE),
    f("subject_header", IDENTITY_HEADER),
    f("fingerprint_header", IDENTITY_HEADER),
];

pub(crate) const SNI_ROUTE: &[Field] = &[f("server_name", SERVER_NAME), f("cluster", CLUSTER_REF)];

/// The keys of `[[listener]]` for SNI passthrough (tcp listeners only).
pub(crate) const SNI_ONLY: &[&str] = &["sni_routes", "sni_peek_timeout", "sni_max_hello"];

/// `tls` of a cluster.
pub(crate) const CLUSTER_TLS: &[Field] = &[
    f("ca", FILE),
    f("server_name", BACKEND_NAME),
    f("client_cert", Kind::Table(CLIENT_CERT)),
    f("alpn", ALPN),
    f("verify", Kind::Bool),
];

/// The keys of `[[listener]]` that only an http listener has.
pub(crate) const HTTP_ONLY: &[&str] = &[
    "forwarded",
    "via",
    "request_id",
    "access_log",
    "timeouts",
    "limits",
    "error_responses",
    "route",
];

pub(crate) const HTTP_TIMEOUTS: &[Field] = &[
    f("header", NONZERO_DURATION),
    f("body_idle", NONZERO_DURATION),
    f("request", REQUEST_TIMEOUT),
    f("keepalive", DURATION),
];

pub(crate) const HTTP_LIMITS: &[Field] = &[
    f("max_header_bytes", MAX_HEADER_BYTES),
    f("max_headers", MAX_HEADERS),
    f("max_uri_bytes", MAX_URI_BYTES),
    f("max_body_bytes", ANY_SIZE),
];

pub(crate) const ERROR_RESPONSE: &[Field] =
    &[f("body", ERROR_BODY), f("content_type", CONTENT_TYPE)];

pub(crate) const ROUTE: &[Field] = &[
    f("name", NAME),
    f("host", HOST),
    f("path", PATH),
    f("path_prefix", PATH),
    f("path_regex", REGEX),
    f("method", METHODS),
    f("headers", MATCHES),
    f("query", MATCHES),
    f("cluster", CLUSTER_REF),
    f("request_headers", Kind::Table(HEADER_RULES)),
    f("response_headers", Kind::Table(HEADER_RULES)),
    f("retry_non_idempotent", Kind::Bool),
];

pub(crate) const MATCH: &[Field] = &[
    f("name", Kind::Str("a header or query parameter name")),
    f("value", Kind::Str("a string")),
    f("present", Kind::Bool),
    f("regex", REGEX),
];

pub(crate) const HEADER_RULES: &[Field] = &[
    f("set", HEADER_MAP),
    f("add", HEADER_MAP),
    f("remove", HEADER_NAMES),
];

pub(crate) const CLUSTER: &[Field] = &[
    f("name", NAME),
    f("balance", BALANCE),
    f("hash_key", HASH_KEY),
    f("hash_balance_factor", HASH_BALANCE_FACTOR),
    f("protocol", UPSTREAM_PROTOCOL),
    f("connect_timeout", NONZERO_DURATION),
    f("connect_attempts", CONNECT_ATTEMPTS),
    f("response_timeout", NONZERO_DURATION),
    f("send_proxy_protocol", SEND_PROXY_PROTOCOL),
    f("panic_threshold", RATIO),
    f("slow_start", DURATION),
    f("local_zone", ZONE),
    f("priority_threshold", RATIO),
    f("backends", Kind::Backends),
    f("pool", Kind::Table(POOL)),
    f("health", Kind::Table(HEALTH)),
    f("outlier", Kind::Table(OUTLIER)),
    f("retry", Kind::Table(RETRY)),
    f("limits", Kind::Table(CIRCUIT_LIMITS)),
    f("persistence", Kind::Table(PERSISTENCE)),
    f("tls", Kind::Table(CLUSTER_TLS)),
];

pub(crate) const BACKEND: &[Field] = &[
    f("address", ADDR),
    f("weight", WEIGHT),
    f("zone", ZONE),
    f("priority", PRIORITY),
];

pub(crate) const POOL: &[Field] = &[
    f("max_idle", POOL_MAX_IDLE),
    f("idle_timeout", NONZERO_DURATION),
    f("max_requests", LIMIT),
];

pub(crate) const HEALTH: &[Field] = &[
    f("kind", HEALTH_KIND),
    f("path", PATH),
    f("method", METHOD),
    f("host", HEALTH_HOST),
    f("expect_status", EXPECT_STATUS),
    f("expect_body", EXPECT_BODY),
    f("interval", NONZERO_DURATION),
    f("timeout", NONZERO_DURATION),
    f("jitter", RATIO),
    f("rise", HEALTH_THRESHOLD),
    f("fall", HEALTH_THRESHOLD),
];

/// The keys of `[cluster.health]` that only `kind = "http"` has.
pub(crate) const HEALTH_HTTP_ONLY: &[&str] =
    &["path", "method", "host", "expect_status", "expect_body"];

pub(crate) const OUTLIER: &[Field] = &[
    f("consecutive_5xx", CONSECUTIVE),
    f("consecutive_gateway_errors", CONSECUTIVE),
    f("consecutive_connect_failures", CONSECUTIVE),
    f("base_ejection_time", NONZERO_DURATION),
    f("max_ejection_time", NONZERO_DURATION),
    f("max_ejected", RATIO),
];

pub(crate) const RETRY: &[Field] = &[
    f("attempts", RETRY_ATTEMPTS),
    f("on", RETRY_ON),
    f("budget", RATIO),
    f("min_retries", MIN_RETRIES),
    f("per_try_timeout", NONZERO_DURATION),
    f("backoff", DURATION),
];

pub(crate) const CIRCUIT_LIMITS: &[Field] = &[
    f("max_connections", LIMIT),
    f("max_pending", LIMIT),
    f("max_requests", LIMIT),
    f("max_retries", LIMIT),
];

pub(crate) const PERSISTENCE: &[Field] = &[
    f("kind", PERSISTENCE_KIND),
    f("name", COOKIE_NAME),
    f("max_age", NONZERO_DURATION),
    f("ttl", NONZERO_DURATION),
];

pub(crate) const TOP: &[Field] = &[
    f("admin", Kind::Table(ADMIN)),
    f("runtime", Kind::Table(RUNTIME)),
    f("log", Kind::Table(LOG)),
    f("listener", Kind::TableArray(LISTENER)),
    f("cluster", Kind::TableArray(CLUSTER)),
];

impl Kind {
    /// Completes "expected ...".
    pub fn expected(&self) -> String {
        match self {
            Kind::Str(what) => (*what).to_owned(),
            Kind::Choice(options) => {
                let quoted: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
                match quoted.as_slice() {
                    [only] => only.clone(),
                    _ => format!("one of {}", quoted.join(", ")),
                }
            }
            Kind::Name => format!(
                "a name of 1 to {} characters from A-Z a-z 0-9 _ . -",
                d::NAME_MAX_LEN
            ),
            Kind::Addr => "an address \"ip:port\" like \"127.0.0.1:5433\" or \"[::1]:5433\"".into(),
            Kind::Duration { nonzero: false } => units::DURATION_GRAMMAR.to_owned(),
            Kind::Duration { nonzero: true } => {
                units::DURATION_GRAMMAR.replacen("a duration", "a duration greater than 0", 1)
            }
            Kind::Int { min, max: i64::MAX } => format!("an integer >= {min}"),
            Kind::Size {
                min: 0,
                max: u64::MAX,
            } => units::SIZE_GRAMMAR.to_owned(),
            Kind::Int { min, max } => format!("an integer in {min}..={max}"),
            Kind::Bool => "true or false".to_owned(),
            Kind::Size { min, max } => units::SIZE_GRAMMAR.replacen(
                "a size",
                &format!(
                    "a size in {}..={}",
                    units::format_size(*min),
                    units::format_size(*max)
                ),
                1,
            ),
            Kind::Keepalive => format!("{} or false", units::DURATION_GRAMMAR),
            Kind::Table(_) => "a table".to_owned(),
            Kind::TableArray(_) => "an array of tables".to_owned(),
            Kind::Backends => {
                "an array of backends, each \"ip:port\" or { address = \"ip:port\", weight = 1 }"
                    .to_owned()
            }
            Kind::Strs(what)
            | Kind::Map { what, .. }
            | Kind::Tables { what, .. }
            | Kind::OneOrMany { what, .. } => (*what).to_owned(),
            Kind::OrFalse(inner) => format!("{} or false", inner.expected()),
            Kind::Number { min, max: u32::MAX } => format!("a number >= {}", format_milli(*min)),
            Kind::Number { min, max } => {
                format!(
                    "a number in {}..={}",
                    format_milli(*min),
                    format_milli(*max)
                )
            }
        }
    }

    /// Whether a TOML value has the right type for this kind (not whether its value is valid).
    fn accepts(&self, value: &DeValue<'_>) -> bool {
        match self {
            Kind::Str(_) | Kind::Choice(_) | Kind::Name | Kind::Addr | Kind::Duration { .. } => {
                value.is_str()
            }
            Kind::Int { .. } => value.is_integer(),
            Kind::Bool => value.is_bool(),
            Kind::Size { .. } => value.is_integer() || value.is_str(),
            Kind::Keepalive => value.is_bool() || value.is_str(),
            Kind::Table(_) | Kind::Map { .. } => value.is_table(),
            Kind::TableArray(_) | Kind::Backends | Kind::Strs(_) | Kind::Tables { .. } => {
                value.is_array()
            }
            Kind::OrFalse(inner) => value.is_bool() || inner.accepts(value),
            Kind::OneOrMany { ints, .. } => {
                value.is_str() || (*ints && value.is_integer()) || value.is_array()
            }
            Kind::Number { .. } => value.is_integer() || value.is_float(),
        }
    }
}

/// Thousandths as a decimal: 1000 -> `1.0`, 250 -> `0.25`, 1250 -> `1.25`.
pub(crate) fn format_milli(milli: u32) -> String {
    let (whole, frac) = (milli / 1000, milli % 1000);
    let frac = format!("{frac:03}");
    let frac = frac.trim_end_matches('0');
    format!("{whole}.{}", if frac.is_empty() { "0" } else { frac })
}

/// What the shape check found.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    /// Unknown keys and wrong types, all of them.
    pub problems: Vec<Diagnostic>,
    /// Key paths whose value was removed for having the wrong type: `validate` must not also
    /// report them as missing.
    pub dropped: Vec<String>,
}

/// Checks the whole document against [`TOP`], and removes every unknown key and every value of
/// the wrong type so that the rest deserializes and can be validated in the same run.
pub(crate) fn check(doc: &mut DeTable<'_>, src: Source<'_>) -> Shape {
    let mut walk = Walk {
        src,
        shape: Shape::default(),
    };
    walk.table(doc, TOP, "");
    walk.shape
}

struct Walk<'a> {
    src: Source<'a>,
    shape: Shape,
}

impl Walk<'_> {
    fn table(&mut self, table: &mut DeTable<'_>, fields: &[Field], path: &str) {
        let mut remove = Vec::new();
        for (key, value) in table.iter_mut() {
            let name: &str = key.get_ref();
            let keep = match fields.iter().find(|f| f.name == name) {
                Some(field) => self.value(value, field.kind, &join(path, name)),
                None => {
                    if let Some(meant) = self.unknown_key(key, fields, path) {
                        // The missing-key error for what was meant would say the same again.
                        self.shape.dropped.push(join(path, meant));
                    }
                    false
                }
            };
            if !keep {
                remove.push(name.to_owned());
            }
        }
        for name in remove {
            table.remove(name.as_str());
        }
    }

    /// Reports an unknown key; returns the key it was probably meant to be.
    fn unknown_key(
        &mut self,
        key: &Spanned<Cow<'_, str>>,
        fields: &[Field],
        path: &str,
    ) -> Option<&'static str> {
        let names: Vec<&'static str> = fields.iter().map(|f| f.name).collect();
        let mut label = format!("expected one of {}", backticked(&names));
        let meant = suggest(key.get_ref(), &names);
        if let Some(s) = meant {
            label.push_str(&format!("; did you mean `{s}`?"));
        }
        let place = if path.is_empty() {
            "at top level".to_owned()
        } else {
            format!("in {path}")
        };
        let message = format!("unknown key `{}` {place}", key.get_ref());
        let full = join(path, key.get_ref());
        let diagnostic =
            (self.src).diagnostic(ErrorKind::UnknownKey, key.span(), &full, message, label);
        self.shape.problems.push(diagnostic);
        meant
    }

    /// Checks one value; false when it has the wrong type and must be removed.
    fn value(&mut self, value: &mut Spanned<DeValue<'_>>, kind: Kind, path: &str) -> bool {
        if !kind.accepts(value.get_ref()) {
            let expected = match kind {
                Kind::Table(_) => format!("a table, written [{}]", unindexed(path)),
                Kind::TableArray(_) => {
                    format!("an array of tables, written [[{}]]", unindexed(path))
                }
                _ => kind.expected(),
            };
            self.wrong_type(value, &expected, path);
            return false;
        }
        match (kind, value.get_mut()) {
            (Kind::Table(fields), DeValue::Table(t)) => self.table(t, fields, path),
            (Kind::Map { value: inner, .. }, DeValue::Table(t)) => {
                let mut remove = Vec::new();
                for (key, v) in t.iter_mut() {
                    if !self.value(v, *inner, &join(path, key.get_ref())) {
                        remove.push(key.get_ref().to_string());
                    }
                }
                for key in remove {
                    t.remove(key.as_str());
                }
            }
            (
                Kind::TableArray(_)
                | Kind::Backends
                | Kind::Strs(_)
                | Kind::Tables { .. }
                | Kind::OneOrMany { .. },
                DeValue::Array(items),
            ) => {
                let mut keep = true;
                for (i, item) in items.iter_mut().enumerate() {
                    keep &= self.item(item, kind, &format!("{path}[{i}]"));
                }
                if !keep {
                    // Removing one element would renumber the others; drop the whole array.
                    self.shape.dropped.push(path.to_owned());
                    return false;
                }
            }
            _ => {}
        }
        true
    }

    /// One element of a `[[table]]` array or of `backends`; false when it has the wrong type.
    fn item(&mut self, item: &mut Spanned<DeValue<'_>>, kind: Kind, path: &str) -> bool {
        match (kind, item.get_mut()) {
            (Kind::TableArray(fields), DeValue::Table(t)) => self.table(t, fields, path),
            (Kind::Backends, DeValue::Table(t)) => self.table(t, BACKEND, path),
            (Kind::Backends, DeValue::String(_)) => {}
            (Kind::Tables { fields, .. }, DeValue::Table(t)) => self.table(t, fields, path),
            (Kind::Strs(_), DeValue::String(_)) => {}
            (Kind::OneOrMany { .. }, DeValue::String(_)) => {}
            (Kind::OneOrMany { ints: true, .. }, DeValue::Integer(_)) => {}
            (Kind::Strs(_) | Kind::OneOrMany { ints: false, .. }, _) => {
                self.wrong_type(item, "a string", path);
                return false;
            }
            (Kind::OneOrMany { ints: true, .. }, _) => {
                self.wrong_type(item, "a string or an integer", path);
                return false;
            }
            (Kind::Backends, _) => {
                let expected = "a backend \"ip:port\" or { address = \"ip:port\", weight = 1 }";
                self.wrong_type(item, expected, path);
                return false;
            }
            _ => {
                self.wrong_type(item, "a table", path);
                return false;
            }
        }
        true
    }

    fn wrong_type(&mut self, value: &Spanned<DeValue<'_>>, expected: &str, path: &str) {
        let found = describe(value, self.src);
        let message = format!("wrong type for {path}: found {found}, expected {expected}");
        let label = format!("expected {expected}");
        let diagnostic =
            (self.src).diagnostic(ErrorKind::WrongType, value.span(), path, message, label);
        self.shape.problems.push(diagnostic);
        self.shape.dropped.push(path.to_owned());
    }
}

/// `integer `5433``, `string `"x"``, `table`, `array`.
fn describe(value: &Spanned<DeValue<'_>>, src: Source<'_>) -> String {
    match value.get_ref() {
        DeValue::Table(_) | DeValue::Array(_) => value.get_ref().type_str().to_owned(),
        v => format!("{} {}", v.type_str(), src.snippet(value.span())),
    }
}

/// `listener[0].route[1].request_headers` -> `listener.route.request_headers`: how the
/// table is written in a header.
fn unindexed(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

/// `runtime` + `workers` = `runtime.workers`; the top level has an empty path.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
