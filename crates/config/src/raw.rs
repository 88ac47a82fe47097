//! Stage 1: serde structs that mirror the TOML file, every value with its span.
//!
//! Nothing here is checked beyond its TOML type: integers are `i64` and durations, sizes,
//! addresses and choices are strings, so that `validate` can report every bad value at once,
//! with its position. Every key is optional here; `validate` reports missing required keys.
//!
//! [`parse`] runs in three steps: TOML syntax (first error only: after a syntax error the
//! parser's recovery produces noise), then [`schema::check`] for unknown keys and wrong types
//! (all of them), then serde into these structs.

pub(crate) mod schema;

use schema::join;

use crate::error::{ConfigError, Diagnostic, ErrorKind, Source};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, de::value::MapAccessDeserializer};
use std::fmt;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub admin: Option<Spanned<RawAdmin>>,
    pub runtime: Option<RawRuntime>,
    pub log: Option<RawLog>,
    #[serde(default)]
    pub listener: Vec<Spanned<RawListener>>,
    #[serde(default)]
    pub cluster: Vec<Spanned<RawCluster>>,
    /// Unknown keys and wrong types found by the shape check (their values were removed).
    #[serde(skip)]
    pub problems: Vec<Diagnostic>,
    /// Key paths removed for having the wrong type; not to be reported again as missing.
    #[serde(skip)]
    pub dropped: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub listen: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRuntime {
    pub workers: Option<Spanned<i64>>,
    pub pin_workers: Option<Spanned<bool>>,
    pub shutdown_timeout: Option<Spanned<String>>,
    pub relay: Option<Spanned<String>>,
    pub buffer_size: Option<Spanned<IntOrStr>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub level: Option<Spanned<String>>,
    pub connections: Option<Spanned<bool>>,
    pub format: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    pub name: Option<Spanned<String>>,
    pub bind: Option<Spanned<String>>,
    pub protocol: Option<Spanned<String>>,
    pub cluster: Option<Spanned<String>>,
    pub backlog: Option<Spanned<i64>>,
    pub max_connections: Option<Spanned<i64>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub tcp_nodelay: Option<Spanned<bool>>,
    pub tcp_keepalive: Option<Spanned<BoolOrStr>>,
    pub proxy_protocol_from: Option<Spanned<Vec<Spanned<String>>>>,
    // HTTP only.
    pub forwarded: Option<Spanned<String>>,
    pub via: Option<Spanned<bool>>,
    pub request_id: Option<Spanned<BoolOrStr>>,
    pub access_log: Option<Spanned<String>>,
    pub timeouts: Option<Spanned<RawHttpTimeouts>>,
    pub limits: Option<Spanned<RawHttpLimits>>,
    pub error_responses: Option<Spanned<Entries<RawErrorResponse>>>,
    pub route: Option<Spanned<Vec<Spanned<RawRoute>>>>,
    // TLS termination (https and tls only).
    pub tls: Option<Spanned<RawListenerTls>>,
    // SNI passthrough (tcp only).
    pub sni_routes: Option<Spanned<Vec<Spanned<RawSniRoute>>>>,
    pub sni_peek_timeout: Option<Spanned<String>>,
    pub sni_max_hello: Option<Spanned<IntOrStr>>,
}

/// `tls` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListenerTls {
    pub certificates: Option<Spanned<Vec<Spanned<RawCertificate>>>>,
    pub min_version: Option<Spanned<String>>,
    pub ciphers: Option<Spanned<Vec<Spanned<String>>>>,
    pub alpn: Option<Spanned<Vec<Spanned<String>>>>,
    pub session_tickets: Option<Spanned<bool>>,
    pub ticket_key_file: Option<Spanned<String>>,
    pub session_cache: Option<Spanned<i64>>,
    pub early_data: Option<Spanned<bool>>,
    pub handshake_timeout: Option<Spanned<String>>,
    pub client_auth: Option<Spanned<RawClientAuth>>,
}

/// `{ cert = "a.pem", key = "a.key", ocsp = "a.ocsp" }`; `client_cert` has no `ocsp`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCertificate {
    pub cert: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub ocsp: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClientAuth {
    pub ca: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub subject_header: Option<Spanned<BoolOrStr>>,
    pub fingerprint_header: Option<Spanned<BoolOrStr>>,
}

/// `{ server_name = "a.example.com", cluster = "a" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSniRoute {
    pub server_name: Option<Spanned<String>>,
    pub cluster: Option<Spanned<String>>,
}

/// `tls` of a cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClusterTls {
    pub ca: Option<Spanned<String>>,
    pub server_name: Option<Spanned<String>>,
    pub client_cert: Option<Spanned<RawCertificate>>,
    pub alpn: Option<Spanned<Vec<Spanned<String>>>>,
    pub verify: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttpTimeouts {
    pub header: Option<Spanned<String>>,
    pub body_idle: Option<Spanned<String>>,
    pub request: Option<Spanned<BoolOrStr>>,
    pub keepalive: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttpLimits {
    pub max_header_bytes: Option<Spanned<IntOrStr>>,
    pub max_headers: Option<Spanned<i64>>,
    pub max_uri_bytes: Option<Spanned<IntOrStr>>,
    pub max_body_bytes: Option<Spanned<IntOrStr>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawErrorResponse {
    pub body: Option<Spanned<String>>,
    pub content_type: Option<Spanned<String>>,
}

/// One `[[listener.route]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub name: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub path_prefix: Option<Spanned<String>>,
    pub path_regex: Option<Spanned<String>>,
    pub method: Option<Spanned<OneOrMany>>,
    pub headers: Option<Spanned<Vec<Spanned<RawMatch>>>>,
    pub query: Option<Spanned<Vec<Spanned<RawMatch>>>>,
    pub cluster: Option<Spanned<String>>,
    pub request_headers: Option<Spanned<RawHeaderRules>>,
    pub response_headers: Option<Spanned<RawHeaderRules>>,
    pub retry_non_idempotent: Option<Spanned<bool>>,
}

/// `{ name = "x-canary", value = "1" }`, `{ name, present = true }` or `{ name, regex }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMatch {
    pub name: Option<Spanned<String>>,
    pub value: Option<Spanned<String>>,
    pub present: Option<Spanned<bool>>,
    pub regex: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaderRules {
    pub set: Option<Spanned<Entries<String>>>,
    pub add: Option<Spanned<Entries<String>>>,
    pub remove: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    pub name: Option<Spanned<String>>,
    pub balance: Option<Spanned<String>>,
    pub hash_key: Option<Spanned<String>>,
    pub hash_balance_factor: Option<Spanned<Number>>,
    pub protocol: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub connect_attempts: Option<Spanned<i64>>,
    pub response_timeout: Option<Spanned<String>>,
    pub send_proxy_protocol: Option<Spanned<String>>,
    pub panic_threshold: Option<Spanned<Number>>,
    pub slow_start: Option<Spanned<String>>,
    pub local_zone: Option<Spanned<String>>,
    pub priority_threshold: Option<Spanned<Number>>,
    pub backends: Option<Spanned<Vec<Spanned<RawBackend>>>>,
    pub pool: Option<Spanned<RawPool>>,
    pub health: Option<Spanned<RawHealth>>,
    pub outlier: Option<Spanned<RawOutlier>>,
    pub retry: Option<Spanned<RawRetry>>,
    pub limits: Option<Spanned<RawCircuitLimits>>,
    pub persistence: Option<Spanned<RawPersistence>>,
    pub tls: Option<Spanned<RawClusterTls>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub max_idle: Option<Spanned<i64>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub max_requests: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealth {
    pub kind: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub expect_status: Option<Spanned<OneOrMany>>,
    pub expect_body: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub jitter: Option<Spanned<Number>>,
    pub rise: Option<Spanned<i64>>,
    pub fall: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutlier {
    pub consecutive_5xx: Option<Spanned<i64>>,
    pub consecutive_gateway_errors: Option<Spanned<i64>>,
    pub consecutive_connect_failures: Option<Spanned<i64>>,
    pub base_ejection_time: Option<Spanned<String>>,
    pub max_ejection_time: Option<Spanned<String>>,
    pub max_ejected: Option<Spanned<Number>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub attempts: Option<Spanned<i64>>,
    pub on: Option<Spanned<OneOrMany>>,
    pub budget: Option<Spanned<Number>>,
    pub min_retries: Option<Spanned<i64>>,
    pub per_try_timeout: Option<Spanned<String>>,
    pub backoff: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCircuitLimits {
    pub max_connections: Option<Spanned<i64>>,
    pub max_pending: Option<Spanned<i64>>,
    pub max_requests: Option<Spanned<i64>>,
    pub max_retries: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPersistence {
    pub kind: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub max_age: Option<Spanned<String>>,
    pub ttl: Option<Spanned<String>>,
}

/// One entry of `backends`: `"ip:port"` or `{ address = "ip:port", weight = 3 }`.
#[derive(Debug)]
pub(crate) enum RawBackend {
    Address(String),
    Table(RawBackendTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackendTable {
    pub address: Option<Spanned<String>>,
    pub weight: Option<Spanned<i64>>,
    pub zone: Option<Spanned<String>>,
    pub priority: Option<Spanned<i64>>,
}

/// A number written as a TOML integer or float (`1`, `0.25`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Number(pub f64);

/// One value or an array of them (`method = "GET"` or `method = ["GET", "HEAD"]`); each a
/// string or an integer.
#[derive(Debug)]
pub(crate) enum OneOrMany {
    One(IntOrStr),
    Many(Vec<Spanned<IntOrStr>>),
}

impl OneOrMany {
    /// Each value with its span and key path; `span` and `path` are those of the whole value.
    pub fn items(&self, span: Range<usize>, path: &str) -> Vec<(&IntOrStr, Range<usize>, String)> {
        match self {
            OneOrMany::One(v) => vec![(v, span, path.to_owned())],
            OneOrMany::Many(items) => (items.iter().enumerate())
                .map(|(i, v)| (v.get_ref(), v.span(), format!("{path}[{i}]")))
                .collect(),
        }
    }
}

/// A table whose keys the user chooses (`error_responses`, header `set`), in file order (not
/// the key order of the parsed table).
#[derive(Debug)]
pub(crate) struct Entries<T>(pub Vec<(Spanned<String>, Spanned<T>)>);

/// A size: bytes as an integer, or a string such as `"64KiB"`.
#[derive(Debug)]
pub(crate) enum IntOrStr {
    Int(i64),
    Str(String),
}

/// `tcp_keepalive`: `false`, `true` or a duration string.
#[derive(Debug)]
pub(crate) enum BoolOrStr {
    Bool(bool),
    Str(String),
}

/// Parses TOML text into the raw structs; see the module doc for the steps.
pub(crate) fn parse(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    let src = Source { text, origin };
    let mut doc = DeTable::parse(text).map_err(|e| toml_error(src, None, &e))?;
    let shape = schema::check(doc.get_mut(), src);
    match RawConfig::deserialize(toml::de::Deserializer::from(doc)) {
        Ok(raw) => Ok(RawConfig {
            problems: shape.problems,
            dropped: shape.dropped,
            ..raw
        }),
        // The shape check should leave nothing for serde to reject; this is the safety net.
        Err(e) => {
            let doc = DeTable::parse(text).map_err(|e| toml_error(src, None, &e))?;
            let mut problems = shape.problems;
            problems.extend(
                toml_error(src, Some(doc.get_ref()), &e)
                    .diagnostics()
                    .to_vec(),
            );
            Err(ConfigError::from_diagnostics(problems))
        }
    }
}

/// Turns one of toml's own errors into a diagnostic, with the key path when `doc` is known.
fn toml_error(src: Source<'_>, doc: Option<&DeTable<'_>>, e: &toml::de::Error) -> ConfigError {
    let span = e.span().unwrap_or(0..0);
    let msg = e.message().trim();
    let (kind, message) = match doc {
        None => {
            let mut message = format!("invalid TOML: {msg}");
            if msg == "duplicate key" {
                message.push_str(&format!(" {}", src.snippet(span.clone())));
            }
            (ErrorKind::Syntax, message)
        }
        Some(_) if msg.starts_with("unknown field") => (ErrorKind::UnknownKey, msg.to_owned()),
        Some(_) if msg.starts_with("missing field") => (ErrorKind::MissingKey, msg.to_owned()),
        Some(_) if msg.starts_with("invalid type") => (ErrorKind::WrongType, msg.to_owned()),
        Some(_) => (ErrorKind::InvalidValue, msg.to_owned()),
    };
    let key = doc.map(|d| path_at(d, &span, "")).unwrap_or_default();
    let label = match msg.split_once(", expected ") {
        Some((_, expected)) => format!("expected {expected}"),
        None => "here".to_owned(),
    };
    let message = if key.is_empty() {
        message
    } else {
        format!("{message} at {key}")
    };
    ConfigError::from_diagnostics(vec![src.diagnostic(kind, span, &key, message, label)])
}

/// The key path of the innermost key or value that contains `span`.
fn path_at(table: &DeTable<'_>, span: &Range<usize>, path: &str) -> String {
    for (key, value) in table.iter() {
        let here = join(path, key.get_ref());
        if contains(&key.span(), span) {
            return here;
        }
        if let Some(found) = path_in_value(value, span, &here) {
            return found;
        }
    }
    path.to_owned()
}

fn path_in_value(value: &Spanned<DeValue<'_>>, span: &Range<usize>, path: &str) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(t) => {
            let inner = path_at(t, span, path);
            (inner != path || contains(&value.span(), span)).then_some(inner)
        }
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| path_in_value(item, span, &format!("{path}[{i}]"))),
        _ => contains(&value.span(), span).then(|| path.to_owned()),
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

impl<'de> Deserialize<'de> for RawBackend {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawBackend;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"ip:port\" or { address = \"ip:port\", weight = 1 }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawBackend, E> {
                Ok(RawBackend::Address(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawBackend, A::Error> {
                RawBackendTable::deserialize(MapAccessDeserializer::new(map)).map(RawBackend::Table)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, an integer or an array of them")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(IntOrStr::Int(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OneOrMany, E> {
                i64::try_from(v)
                    .map(|v| OneOrMany::One(IntOrStr::Int(v)))
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(IntOrStr::Str(v.to_owned())))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value()?));
                }
                // The parsed table is sorted by key; its spans give back the file order.
                entries.sort_by_key(|(k, _)| k.span().start);
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for IntOrStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrStr, E> {
                Ok(IntOrStr::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrStr, E> {
                i64::try_from(v)
                    .map(IntOrStr::Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrStr, E> {
                Ok(IntOrStr::Str(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for BoolOrStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BoolOrStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or a string")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<BoolOrStr, E> {
                Ok(BoolOrStr::Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BoolOrStr, E> {
                Ok(BoolOrStr::Str(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[runtime]\nworkers = 2\n\n[[cluster]]\nname = \"pg\"\nbackends = [\"a\", { address = \"b\", weight = 3 }]\n";

    #[test]
    fn path_at_finds_the_innermost_key() {
        let doc = DeTable::parse(TEXT).unwrap();
        let at = |needle: &str| {
            let start = TEXT.find(needle).unwrap();
            path_at(doc.get_ref(), &(start..start + needle.len()), "")
        };
        assert_eq!(at("2"), "runtime.workers");
        assert_eq!(at("\"pg\""), "cluster[0].name");
        assert_eq!(at("\"a\""), "cluster[0].backends[0]");
        assert_eq!(at("3"), "cluster[0].backends[1].weight");
        assert_eq!(at("weight"), "cluster[0].backends[1].weight");
    }

    /// The safety net: a serde error the shape check did not foresee still gets a position
    /// and a key path.
    #[test]
    fn serde_errors_become_diagnostics() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Strict {
            runtime: StrictRuntime,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct StrictRuntime {
            workers: String,
        }
        let e = toml::from_str::<Strict>(TEXT).unwrap_err();
        let doc = DeTable::parse(TEXT).unwrap();
        let src = Source {
            text: TEXT,
            origin: "t.toml",
        };
        let err = toml_error(src, Some(doc.get_ref()), &e);
        let d = &err.diagnostics()[0];
        assert_eq!(
            (d.kind, d.key.as_str(), d.line, d.column),
            (ErrorKind::WrongType, "runtime.workers", 2, 11)
        );
        assert_eq!(
            d.message,
            "invalid type: integer `2`, expected a string at runtime.workers"
        );
    }
}
