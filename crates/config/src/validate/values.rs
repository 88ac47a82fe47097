//! Checks for single values: integers in range, choices, durations, sizes, names, addresses.
//!
//! Each returns `None` for an absent or invalid value, and records a diagnostic for the latter.

use super::Validator;
use crate::defaults as d;
use crate::error::suggest;
use crate::raw::schema::{self as k, Kind};
use crate::raw::{BoolOrStr, IntOrStr};
use crate::units;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn int(
        &mut self,
        field: Option<&Spanned<i64>>,
        path: &str,
        kind: Kind,
    ) -> Option<i64> {
        let field = field?;
        let Kind::Int { min, max } = kind else {
            unreachable!("int() called with {kind:?}")
        };
        let n = *field.get_ref();
        if (min..=max).contains(&n) {
            return Some(n);
        }
        self.invalid(field.span(), path, &kind.expected(), None);
        None
    }

    /// The index of the value in the kind's options.
    pub(super) fn choice(
        &mut self,
        field: Option<&Spanned<String>>,
        path: &str,
        kind: Kind,
    ) -> Option<usize> {
        let field = field?;
        let Kind::Choice(options) = kind else {
            unreachable!("choice() called with {kind:?}")
        };
        let value = field.get_ref().as_str();
        if let Some(i) = options.iter().position(|o| *o == value) {
            return Some(i);
        }
        let hint = suggest(value, options).map(|s| format!("did you mean \"{s}\"?"));
        self.invalid(field.span(), path, &kind.expected(), hint);
        None
    }

    pub(super) fn duration(
        &mut self,
        field: Option<&Spanned<String>>,
        path: &str,
        kind: Kind,
    ) -> Option<Duration> {
        let field = field?;
        match units::parse_duration(field.get_ref()) {
            Ok(d) if d.is_zero() && matches!(kind, Kind::Duration { nonzero: true }) => {
                self.invalid(field.span(), path, &kind.expected(), None);
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.invalid(
                    field.span(),
                    path,
                    &kind.expected(),
                    e.hint.map(str::to_owned),
                );
                None
            }
        }
    }

    pub(super) fn size(
        &mut self,
        field: Option<&Spanned<IntOrStr>>,
        path: &str,
        kind: Kind,
    ) -> Option<u64> {
        let field = field?;
        let Kind::Size { min, max } = kind else {
            unreachable!("size() called with {kind:?}")
        };
        let bytes = match field.get_ref() {
            IntOrStr::Int(n) => u64::try_from(*n).map_err(|_| Some("it cannot be negative")),
            IntOrStr::Str(s) => units::parse_size(s).map_err(|e| e.hint),
        };
        match bytes {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            Ok(_) => {
                self.invalid(field.span(), path, &kind.expected(), None);
                None
            }
            Err(hint) => {
                self.invalid(
                    field.span(),
                    path,
                    &kind.expected(),
                    hint.map(str::to_owned),
                );
                None
            }
        }
    }

    /// `None` turns keepalive off; an absent key gives the default.
    pub(super) fn keepalive(
        &mut self,
        field: Option<&Spanned<BoolOrStr>>,
        path: &str,
    ) -> Option<Duration> {
        let Some(field) = field else {
            return Some(d::TCP_KEEPALIVE);
        };
        let text = match field.get_ref() {
            BoolOrStr::Bool(false) => return None,
            BoolOrStr::Bool(true) => return Some(d::TCP_KEEPALIVE),
            BoolOrStr::Str(text) => text,
        };
        let whole_secs = "a whole number of seconds in 1s..=32767s, or false to turn keepalive off";
        match units::parse_duration(text) {
            Ok(t)
                if t.subsec_nanos() == 0
                    && t >= Duration::from_secs(1)
                    && t <= d::TCP_KEEPALIVE_MAX =>
            {
                Some(t)
            }
            Ok(_) => {
                let hint = "the kernel counts keepalive idle time in whole seconds".to_owned();
                self.invalid(field.span(), path, whole_secs, Some(hint));
                Some(d::TCP_KEEPALIVE)
            }
            Err(e) => {
                let hint = e.hint.map(str::to_owned);
                self.invalid(field.span(), path, &Kind::Keepalive.expected(), hint);
                Some(d::TCP_KEEPALIVE)
            }
        }
    }

    pub(super) fn name(&mut self, field: &Spanned<String>, path: &str) -> Option<String> {
        let name = field.get_ref();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if (1..=d::NAME_MAX_LEN).contains(&name.len()) && name.chars().all(ok_char) {
            return Some(name.clone());
        }
        self.invalid(field.span(), path, &k::NAME.expected(), None);
        None
    }

    /// An `ip:port` that can be bound; `port_zero` says why port 0 is refused ("" for generic).
    pub(super) fn addr(
        &mut self,
        text: &str,
        span: Range<usize>,
        path: &str,
        port_zero: &str,
    ) -> Option<SocketAddr> {
        let Ok(addr) = text.parse::<SocketAddr>() else {
            let hint = if port_too_large(text) {
                Some("a port is at most 65535".to_owned())
            } else {
                looks_like_host(text).then(|| "host names are not resolved".to_owned())
            };
            self.invalid(span, path, &k::ADDR.expected(), hint);
            return None;
        };
        if addr.port() == 0 {
            let hint = (!port_zero.is_empty()).then(|| port_zero.to_owned());
            self.invalid(span, path, "a port in 1..=65535", hint);
            return None;
        }
        Some(addr)
    }

    /// An `ip:port` that can be connected to.
    pub(super) fn backend_addr(
        &mut self,
        text: &str,
        span: Range<usize>,
        path: &str,
    ) -> Option<SocketAddr> {
        let addr = self.addr(text, span.clone(), path, "a connection cannot go to port 0")?;
        if addr.ip().is_unspecified() {
            let expected = "a specific IP address, not a wildcard";
            self.invalid(span, path, expected, None);
            return None;
        }
        Some(addr)
    }
}

/// `127.0.0.1:99999`.
fn port_too_large(text: &str) -> bool {
    let port = text.rsplit_once(':').map_or("", |(_, p)| p);
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_err()
}

/// `localhost:80`, `db.internal:5432`: letters that cannot be part of an IP address.
fn looks_like_host(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_ascii_alphabetic() && !c.is_ascii_hexdigit())
}
