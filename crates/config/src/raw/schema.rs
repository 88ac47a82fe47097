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
pub(crate) const PROTOCOL: Kind = Kind::Choice(&["tcp"]);
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
pub(crate) const BALANCE: Kind =
    Kind::Choice(&["round_robin", "weighted_round_robin", "least_conn"]);
pub(crate) const CONNECT_ATTEMPTS: Kind = Kind::Int {
    min: 1,
    max: d::CONNECT_ATTEMPTS_MAX,
};
pub(crate) const WEIGHT: Kind = Kind::Int {
    min: 1,
    max: d::WEIGHT_MAX,
};

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
];

pub(crate) const CLUSTER: &[Field] = &[
    f("name", NAME),
    f("balance", BALANCE),
    f("connect_timeout", NONZERO_DURATION),
    f("connect_attempts", CONNECT_ATTEMPTS),
    f("backends", Kind::Backends),
];

pub(crate) const BACKEND: &[Field] = &[f("address", ADDR), f("weight", WEIGHT)];

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
            Kind::Table(_) => value.is_table(),
            Kind::TableArray(_) | Kind::Backends => value.is_array(),
        }
    }
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
                Kind::Table(_) => format!("a table, written [{path}]"),
                Kind::TableArray(_) => format!("an array of tables, written [[{path}]]"),
                _ => kind.expected(),
            };
            self.wrong_type(value, &expected, path);
            return false;
        }
        match (kind, value.get_mut()) {
            (Kind::Table(fields), DeValue::Table(t)) => self.table(t, fields, path),
            (Kind::TableArray(_) | Kind::Backends, DeValue::Array(items)) => {
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

/// `runtime` + `workers` = `runtime.workers`; the top level has an empty path.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
