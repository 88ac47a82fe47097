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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    pub name: Option<Spanned<String>>,
    pub balance: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub connect_attempts: Option<Spanned<i64>>,
    pub backends: Option<Spanned<Vec<Spanned<RawBackend>>>>,
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
}

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
