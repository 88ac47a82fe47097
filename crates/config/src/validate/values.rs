//! Checks for single values: integers in range, choices, durations, sizes, names, addresses.
//!
//! Each returns `None` for an absent or invalid value, and records a diagnostic for the latter.

use super::Validator;
use crate::defaults as d;
use crate::error::suggest;
use crate::model::{Cidr, Milli};
use crate::raw::schema::{self as k, Kind};
use crate::raw::{BoolOrStr, IntOrStr, Number};
use crate::units;
use std::net::{IpAddr, SocketAddr};
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
        self.duration_text(field.get_ref(), field.span(), path, kind)
    }

    /// A duration string of `kind` (whose `expected` text the error uses; it may be an
    /// [`Kind::OrFalse`] around a duration).
    pub(super) fn duration_text(
        &mut self,
        text: &str,
        span: Range<usize>,
        path: &str,
        kind: Kind,
    ) -> Option<Duration> {
        let nonzero = match kind {
            Kind::Duration { nonzero } => nonzero,
            Kind::OrFalse(Kind::Duration { nonzero }) => *nonzero,
            _ => unreachable!("duration_text() called with {kind:?}"),
        };
        match units::parse_duration(text) {
            Ok(d) if d.is_zero() && nonzero => {
                self.invalid(span, path, &kind.expected(), None);
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.invalid(span, path, &kind.expected(), e.hint.map(str::to_owned));
                None
            }
        }
    }

    /// A ratio or factor, in thousandths.
    pub(super) fn number(
        &mut self,
        field: Option<&Spanned<Number>>,
        path: &str,
        kind: Kind,
    ) -> Option<Milli> {
        let field = field?;
        let Kind::Number { min, max } = kind else {
            unreachable!("number() called with {kind:?}")
        };
        let x = field.get_ref().0;
        let milli = (x * 1000.0).round();
        if x.is_finite() && milli >= f64::from(min) && milli <= f64::from(max) {
            // In range of u32 by the check above.
            return Some(milli as Milli);
        }
        let hint = (max == 1000 && x > 1.0 && x <= 100.0)
            .then(|| format!("a ratio: {x}% is {}", x / 100.0));
        self.invalid(field.span(), path, &kind.expected(), hint);
        None
    }

    /// A string that `ok` accepts, or an error expecting `kind`.
    pub(super) fn text(
        &mut self,
        field: &Spanned<String>,
        path: &str,
        kind: Kind,
        ok: impl Fn(&str) -> bool,
    ) -> Option<String> {
        if ok(field.get_ref()) {
            return Some(field.get_ref().clone());
        }
        self.invalid(field.span(), path, &kind.expected(), None);
        None
    }

    /// A header name (an HTTP token), lower-cased.
    pub(super) fn header_name(
        &mut self,
        text: &str,
        span: Range<usize>,
        path: &str,
    ) -> Option<String> {
        if is_token(text) {
            return Some(text.to_ascii_lowercase());
        }
        let hint = text
            .contains(':')
            .then(|| "give the name without the colon".to_owned());
        self.invalid(span, path, &k::HEADER_NAME.expected(), hint);
        None
    }

    /// A header value: visible ASCII, spaces and tabs; no CR, LF or NUL.
    pub(super) fn header_value(&mut self, field: &Spanned<String>, path: &str) -> Option<String> {
        if is_header_value(field.get_ref()) {
            return Some(field.get_ref().clone());
        }
        let text = field.get_ref();
        let hint = if text.contains(['\r', '\n']) {
            Some("a header value cannot span lines".to_owned())
        } else if !text.is_ascii() {
            Some("non-ASCII characters are not allowed".to_owned())
        } else {
            None
        };
        self.invalid(field.span(), path, &k::HEADER_VALUE.expected(), hint);
        None
    }

    /// A regular expression that compiles.
    pub(super) fn regex(&mut self, field: &Spanned<String>, path: &str) -> Option<String> {
        match regex::Regex::new(field.get_ref()) {
            Ok(_) => Some(field.get_ref().clone()),
            Err(e) => {
                // The regex crate's message spans lines (pattern, carets, "error: ..."); its
                // last line says what is wrong.
                let text = e.to_string();
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                let hint = last.trim().trim_start_matches("error: ").to_owned();
                self.invalid(field.span(), path, &k::REGEX.expected(), Some(hint));
                None
            }
        }
    }

    /// `10.0.0.0/8`, `fd00::/8` or a bare address (a single host).
    pub(super) fn cidr(&mut self, field: &Spanned<String>, path: &str) -> Option<Cidr> {
        let text = field.get_ref().as_str();
        let (ip_text, prefix_text) = match text.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (text, None),
        };
        let Ok(ip) = ip_text.parse::<IpAddr>() else {
            let hint = looks_like_host(ip_text).then(|| "host names are not resolved".to_owned());
            self.invalid(field.span(), path, &k::CIDR.expected(), hint);
            return None;
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => match p.parse::<u8>() {
                // As written: refuses "08" and "+8", which u8 parsing accepts.
                Ok(n) if n <= max && n.to_string() == p => n,
                _ => {
                    let hint = format!("the prefix length is 0..={max}");
                    self.invalid(field.span(), path, &k::CIDR.expected(), Some(hint));
                    return None;
                }
            },
        };
        let net = mask(ip, prefix);
        if net != ip {
            let hint = format!("host bits are set; did you mean \"{net}/{prefix}\"?");
            self.invalid(field.span(), path, &k::CIDR.expected(), Some(hint));
            return None;
        }
        Some(Cidr { addr: ip, prefix })
    }

    /// A zone name: the same characters as listener and cluster names.
    pub(super) fn zone(&mut self, field: &Spanned<String>, path: &str) -> Option<String> {
        self.text(field, path, k::ZONE, is_name)
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
        self.text(field, path, k::NAME, is_name)
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

/// 1 to 64 characters from `[A-Za-z0-9_.-]`: listener, cluster, route and zone names.
fn is_name(name: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    (1..=d::NAME_MAX_LEN).contains(&name.len()) && name.chars().all(ok_char)
}

/// An HTTP token (RFC 9110): header names, method names, cookie names.
pub(super) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && (text.bytes()).all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Visible ASCII, spaces and tabs.
pub(super) fn is_header_value(text: &str) -> bool {
    text.bytes()
        .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
}

/// The network of `ip` with `prefix` bits.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}
