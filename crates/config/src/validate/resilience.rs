//! The resilience keys of a cluster: hashing, pool, health checks, outlier detection, retries,
//! circuit-breaker limits and persistence.

use super::{Validator, setting};
use crate::defaults as d;
use crate::error::suggest;
use crate::model::*;
use crate::raw::schema as k;
use crate::raw::{
    IntOrStr, OneOrMany, RawCircuitLimits, RawCluster, RawHealth, RawOutlier, RawPersistence,
    RawPool, RawRetry,
};
use crate::units::format_duration;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// What `balance` the hash keys are checked against; `None` when it was invalid.
type BalanceSeen = Option<Balance>;

impl Validator<'_> {
    pub(super) fn hash_key(&mut self, path: &str, c: &RawCluster, balance: BalanceSeen) -> HashKey {
        let Some(field) = &c.hash_key else {
            return d::HASH_KEY;
        };
        let kpath = format!("{path}.hash_key");
        if let Some(b) = balance
            && !b.hashes()
        {
            let message = format!("`hash_key` in {path} needs a balance that hashes");
            let note = setting(path, "balance", c.balance.as_ref(), "round_robin");
            let label = format!(
                "only balance = \"source_ip\", \"ring_hash\" or \"maglev\" hash a key; {note}"
            );
            self.conflict(field.span(), &kpath, message, label);
        }
        let text = field.get_ref().as_str();
        let parsed = match text.split_once(':') {
            None if text == "client_ip" => Some(HashKey::ClientIp),
            None if text == "path" => Some(HashKey::Path),
            Some(("header", name)) if super::values::is_token(name) => {
                Some(HashKey::Header(name.to_ascii_lowercase()))
            }
            Some(("cookie", name)) if super::values::is_token(name) => {
                Some(HashKey::Cookie(name.to_owned()))
            }
            _ => None,
        };
        parsed.unwrap_or_else(|| {
            let hint = match text.split_once(':') {
                Some(("header" | "cookie", _)) => {
                    Some("the name is letters, digits and !#$%&'*+-.^_`|~".to_owned())
                }
                _ => suggest(text, &["client_ip", "path", "header:", "cookie:"])
                    .map(|s| format!("did you mean \"{s}\"?")),
            };
            self.invalid(field.span(), &kpath, &k::HASH_KEY.expected(), hint);
            d::HASH_KEY
        })
    }

    pub(super) fn hash_balance_factor(
        &mut self,
        path: &str,
        c: &RawCluster,
        balance: BalanceSeen,
    ) -> Option<Milli> {
        let field = c.hash_balance_factor.as_ref()?;
        let kpath = format!("{path}.hash_balance_factor");
        if let Some(b) = balance
            && !b.bounded_load()
        {
            let message = format!(
                "`hash_balance_factor` in {path} needs balance = \"ring_hash\" or \"maglev\""
            );
            let note = setting(path, "balance", c.balance.as_ref(), "round_robin");
            let label = format!("bounded load applies to consistent hashing; {note}");
            self.conflict(field.span(), &kpath, message, label);
        }
        self.number(Some(field), &kpath, k::HASH_BALANCE_FACTOR)
    }

    pub(super) fn pool(&mut self, raw: Option<&Spanned<RawPool>>, path: &str) -> PoolConfig {
        let def = PoolConfig::default();
        let Some(p) = raw.map(Spanned::get_ref) else {
            return def;
        };
        let at = |key: &str| format!("{path}.{key}");
        PoolConfig {
            max_idle: (self.int(p.max_idle.as_ref(), &at("max_idle"), k::POOL_MAX_IDLE))
                .map_or(def.max_idle, |n| n as usize),
            idle_timeout: (self.duration(
                p.idle_timeout.as_ref(),
                &at("idle_timeout"),
                k::NONZERO_DURATION,
            ))
            .unwrap_or(def.idle_timeout),
            max_requests: (self.int(p.max_requests.as_ref(), &at("max_requests"), k::LIMIT))
                .map(|n| n as u64),
        }
    }

    pub(super) fn health(
        &mut self,
        raw: Option<&Spanned<RawHealth>>,
        path: &str,
    ) -> Option<HealthConfig> {
        let h = raw?.get_ref();
        let def = HealthConfig::default();
        let at = |key: &str| format!("{path}.{key}");
        // None: an invalid kind, already reported.
        let http = match &h.kind {
            None => Some(false),
            Some(kind) => self
                .choice(Some(kind), &at("kind"), k::HEALTH_KIND)
                .map(|i| i == 1),
        };
        let kind = if http == Some(true) {
            HealthKind::Http {
                method: (h.method.as_ref())
                    .and_then(|m| self.text(m, &at("method"), k::METHOD, super::values::is_token))
                    .map_or_else(|| d::HEALTH_METHOD.to_owned(), |m| m.to_ascii_uppercase()),
                path: (h.path.as_ref())
                    .and_then(|p| self.text(p, &at("path"), k::PATH, is_check_path))
                    .unwrap_or_else(|| d::HEALTH_PATH.to_owned()),
                host: (h.host.as_ref()).and_then(|host| {
                    self.text(host, &at("host"), k::HEALTH_HOST, |t| {
                        !t.is_empty() && t.bytes().all(|b| (0x21..=0x7e).contains(&b))
                    })
                }),
                expect_status: self.expect_status(h.expect_status.as_ref(), &at("expect_status")),
                expect_body: (h.expect_body.as_ref()).and_then(|b| {
                    self.text(b, &at("expect_body"), k::EXPECT_BODY, |t| !t.is_empty())
                }),
            }
        } else {
            if http == Some(false) {
                let given = [
                    ("path", h.path.as_ref().map(Spanned::span)),
                    ("method", h.method.as_ref().map(Spanned::span)),
                    ("host", h.host.as_ref().map(Spanned::span)),
                    ("expect_status", h.expect_status.as_ref().map(Spanned::span)),
                    ("expect_body", h.expect_body.as_ref().map(Spanned::span)),
                ];
                debug_assert!(
                    given
                        .iter()
                        .map(|g| g.0)
                        .eq(k::HEALTH_HTTP_ONLY.iter().copied())
                );
                let note = setting(path, "kind", h.kind.as_ref(), "tcp");
                for (key, span) in given {
                    let Some(span) = span else { continue };
                    let message = format!("`{key}` in {path} needs kind = \"http\"");
                    let label = format!("a tcp check only connects; {note}");
                    self.conflict(span, &at(key), message, label);
                }
            }
            HealthKind::Tcp
        };
        let interval = self.duration(h.interval.as_ref(), &at("interval"), k::NONZERO_DURATION);
        let timeout = self.duration(h.timeout.as_ref(), &at("timeout"), k::NONZERO_DURATION);
        let (interval, timeout) = (
            interval.unwrap_or(def.interval),
            timeout.unwrap_or(def.timeout),
        );
        if timeout > interval {
            let short = (&h.timeout, "timeout", timeout);
            self.out_of_order(short, (&h.interval, "interval", interval), true, path);
        }
        let jitter = self.number(h.jitter.as_ref(), &at("jitter"), k::RATIO);
        let rise = self.int(h.rise.as_ref(), &at("rise"), k::HEALTH_THRESHOLD);
        let fall = self.int(h.fall.as_ref(), &at("fall"), k::HEALTH_THRESHOLD);
        Some(HealthConfig {
            kind,
            interval,
            timeout,
            jitter: jitter.unwrap_or(def.jitter),
            rise: rise.map_or(def.rise, |n| n as u32),
            fall: fall.map_or(def.fall, |n| n as u32),
        })
    }

    /// Reports `short` being longer than `long` (each: field, key, value). The error goes to
    /// the one the file gives, or to `short` (`at_short`) or `long` when it gives both.
    fn out_of_order(
        &mut self,
        short: (&Option<Spanned<String>>, &str, Duration),
        long: (&Option<Spanned<String>>, &str, Duration),
        at_short: bool,
        path: &str,
    ) {
        let (short_field, short_key, short_value) = short;
        let (long_field, long_key, long_value) = long;
        let no_longer = |s: &Spanned<String>| {
            let expected = format!(
                "a duration no longer than {long_key} ({})",
                format_duration(long_value)
            );
            (s.span(), short_key, expected)
        };
        let no_shorter = |l: &Spanned<String>| {
            let expected = format!(
                "a duration no shorter than {short_key} ({})",
                format_duration(short_value)
            );
            (l.span(), long_key, expected)
        };
        let (span, key, expected) = match (short_field, long_field) {
            (Some(s), Some(_)) if at_short => no_longer(s),
            (_, Some(l)) => no_shorter(l),
            (Some(s), None) => no_longer(s),
            (None, None) => return,
        };
        self.invalid(span, &format!("{path}.{key}"), &expected, None);
    }

    /// `"200"`, `200`, `"200-399"` or an array of them: inclusive ranges.
    fn expect_status(&mut self, raw: Option<&Spanned<OneOrMany>>, path: &str) -> Vec<(u16, u16)> {
        let Some(raw) = raw else {
            return vec![d::HEALTH_EXPECT_STATUS];
        };
        let items = raw.get_ref().items(raw.span(), path);
        if items.is_empty() {
            self.invalid(raw.span(), path, "at least one status code or range", None);
        }
        let mut out = Vec::new();
        for (item, span, ipath) in items {
            let code = |t: &str| {
                (t.parse::<u16>().ok()).filter(|c| (100..=599).contains(c) && c.to_string() == t)
            };
            let range = match item {
                IntOrStr::Int(n) => code(&n.to_string()).map(|c| (c, c)),
                IntOrStr::Str(s) => match s.split_once('-') {
                    None => code(s).map(|c| (c, c)),
                    Some((lo, hi)) => match (code(lo), code(hi)) {
                        (Some(lo), Some(hi)) if lo <= hi => Some((lo, hi)),
                        _ => None,
                    },
                },
            };
            match range {
                Some(r) => out.push(r),
                None => self.invalid(span, &ipath, &k::STATUS_RANGE.expected(), None),
            }
        }
        out
    }

    pub(super) fn outlier(
        &mut self,
        raw: Option<&Spanned<RawOutlier>>,
        path: &str,
    ) -> Option<OutlierConfig> {
        let o = raw?.get_ref();
        let def = OutlierConfig::default();
        let at = |key: &str| format!("{path}.{key}");
        let mut count = |field: &Option<Spanned<i64>>, key: &str, default: u32| {
            (self.int(field.as_ref(), &at(key), k::CONSECUTIVE)).map_or(default, |n| n as u32)
        };
        let consecutive_5xx = count(&o.consecutive_5xx, "consecutive_5xx", def.consecutive_5xx);
        let consecutive_gateway_errors = count(
            &o.consecutive_gateway_errors,
            "consecutive_gateway_errors",
            def.consecutive_gateway_errors,
        );
        let consecutive_connect_failures = count(
            &o.consecutive_connect_failures,
            "consecutive_connect_failures",
            def.consecutive_connect_failures,
        );
        let base = self.duration(
            o.base_ejection_time.as_ref(),
            &at("base_ejection_time"),
            k::NONZERO_DURATION,
        );
        let max = self.duration(
            o.max_ejection_time.as_ref(),
            &at("max_ejection_time"),
            k::NONZERO_DURATION,
        );
        let (base, max) = (
            base.unwrap_or(def.base_ejection_time),
            max.unwrap_or(def.max_ejection_time),
        );
        if base > max {
            // Reported at max_ejection_time when both are given: the cap is what is too low.
            let short = (&o.base_ejection_time, "base_ejection_time", base);
            self.out_of_order(
                short,
                (&o.max_ejection_time, "max_ejection_time", max),
                false,
                path,
            );
        }
        let max_ejected = self.number(o.max_ejected.as_ref(), &at("max_ejected"), k::RATIO);
        Some(OutlierConfig {
            consecutive_5xx,
            consecutive_gateway_errors,
            consecutive_connect_failures,
            base_ejection_time: base,
            max_ejection_time: max,
            max_ejected: max_ejected.unwrap_or(def.max_ejected),
        })
    }

    pub(super) fn retry(&mut self, raw: Option<&Spanned<RawRetry>>, path: &str) -> RetryConfig {
        let def = RetryConfig::default();
        let Some(r) = raw.map(Spanned::get_ref) else {
            return def;
        };
        let at = |key: &str| format!("{path}.{key}");
        RetryConfig {
            attempts: (self.int(r.attempts.as_ref(), &at("attempts"), k::RETRY_ATTEMPTS))
                .map_or(def.attempts, |n| n as u32),
            on: match &r.on {
                Some(on) => self.retry_on(on, &at("on")),
                None => def.on,
            },
            budget: (self.number(r.budget.as_ref(), &at("budget"), k::RATIO)).unwrap_or(def.budget),
            min_retries: (self.int(r.min_retries.as_ref(), &at("min_retries"), k::MIN_RETRIES))
                .map_or(def.min_retries, |n| n as u32),
            per_try_timeout: self.duration(
                r.per_try_timeout.as_ref(),
                &at("per_try_timeout"),
                k::NONZERO_DURATION,
            ),
            backoff: (self.duration(r.backoff.as_ref(), &at("backoff"), k::DURATION))
                .unwrap_or(def.backoff),
        }
    }

    fn retry_on(&mut self, raw: &Spanned<OneOrMany>, path: &str) -> Vec<RetryOn> {
        let items = raw.get_ref().items(raw.span(), path);
        if items.is_empty() {
            let hint = "set attempts = 0 to turn retries off".to_owned();
            self.invalid(raw.span(), path, "at least one retry condition", Some(hint));
        }
        let mut out = Vec::new();
        for (item, span, ipath) in items {
            let status = |t: &str| {
                (t.parse::<u16>().ok())
                    .filter(|c| (500..=599).contains(c) && c.to_string() == t)
                    .map(RetryOn::Status)
            };
            let on = match item {
                IntOrStr::Int(n) => status(&n.to_string()),
                IntOrStr::Str(s) if s == "connect-failure" => Some(RetryOn::ConnectFailure),
                IntOrStr::Str(s) if s == "reset" => Some(RetryOn::Reset),
                IntOrStr::Str(s) => status(s),
            };
            match on {
                Some(on) if !out.contains(&on) => out.push(on),
                Some(_) => {}
                None => {
                    let hint = match item {
                        IntOrStr::Str(s) => suggest(s, &["connect-failure", "reset"])
                            .map(|s| format!("did you mean \"{s}\"?")),
                        IntOrStr::Int(_) => None,
                    };
                    self.invalid(span, &ipath, &k::RETRY_CONDITION.expected(), hint);
                }
            }
        }
        out
    }

    pub(super) fn circuit_limits(
        &mut self,
        raw: Option<&Spanned<RawCircuitLimits>>,
        path: &str,
    ) -> CircuitLimits {
        let Some(l) = raw.map(Spanned::get_ref) else {
            return CircuitLimits::default();
        };
        let mut limit = |field: &Option<Spanned<i64>>, key: &str| {
            (self.int(field.as_ref(), &format!("{path}.{key}"), k::LIMIT)).map(|n| n as u64)
        };
        CircuitLimits {
            max_connections: limit(&l.max_connections, "max_connections"),
            max_pending: limit(&l.max_pending, "max_pending"),
            max_requests: limit(&l.max_requests, "max_requests"),
            max_retries: limit(&l.max_retries, "max_retries"),
        }
    }

    pub(super) fn persistence(
        &mut self,
        raw: Option<&Spanned<RawPersistence>>,
        path: &str,
    ) -> Option<Persistence> {
        let raw = raw?;
        let (span, p) = (raw.span(), raw.get_ref());
        let at = |key: &str| format!("{path}.{key}");
        let kind = self.required(&p.kind, &span, path, "kind", k::PERSISTENCE_KIND);
        let cookie = self.choice(kind, &at("kind"), k::PERSISTENCE_KIND)? == 0;
        let note = setting(path, "kind", p.kind.as_ref(), "");
        let mut only = |key: &str, field: Option<Range<usize>>, needs: &str| {
            if let Some(span) = field {
                let message = format!("`{key}` in {path} needs kind = \"{needs}\"");
                self.conflict(span, &at(key), message, note.clone());
            }
        };
        if cookie {
            only("ttl", p.ttl.as_ref().map(Spanned::span), "source_ip");
        } else {
            only("name", p.name.as_ref().map(Spanned::span), "cookie");
            only("max_age", p.max_age.as_ref().map(Spanned::span), "cookie");
        }
        Some(if cookie {
            let name = (p.name.as_ref())
                .and_then(|n| self.text(n, &at("name"), k::COOKIE_NAME, super::values::is_token));
            Persistence::Cookie {
                name: name.unwrap_or_else(|| d::COOKIE_NAME.to_owned()),
                max_age: self.duration(p.max_age.as_ref(), &at("max_age"), k::NONZERO_DURATION),
            }
        } else {
            Persistence::SourceIp {
                ttl: (self.duration(p.ttl.as_ref(), &at("ttl"), k::NONZERO_DURATION))
                    .unwrap_or(d::SOURCE_IP_TTL),
            }
        })
    }
}

/// A health check path: starts with `/`, visible ASCII (a query is allowed).
fn is_check_path(text: &str) -> bool {
    text.starts_with('/') && text.bytes().all(|b| (0x21..=0x7e).contains(&b))
}
