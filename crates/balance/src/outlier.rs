//! Passive outlier detection, sans-io: what real traffic says about a backend, and when that
//! takes the backend out for a while (ejection).
//!
//! The data plane reports each outcome ([`Outcome`]) with the time; [`observe`] keeps three
//! streaks per backend in relaxed atomics ([`OutlierState`]) and ejects when one reaches its
//! threshold ([`Params`]):
//!
//! | streak | grows on | ends on |
//! |---|---|---|
//! | 5xx | a 5xx status, a reset, a timeout | a status below 500, `Success` |
//! | gateway errors | 502, 503, 504, a reset, a timeout | any other status, `Success` |
//! | connect failures | a failed connect | a successful connect, any status, `Success` |
//!
//! An ejected backend is out like a down one ([`crate::Backend::eligible`] is false, so panic
//! mode, priority groups and zones count it as unhealthy) for `base × n` where `n` is its
//! number of ejections, capped at `max`. No probe brings it back: it is in again once the time
//! has passed (the next pick or report that meets it clears the flag), with its streaks reset.
//! The multiplier forgets one ejection for each `base` the backend then stays in, so a backend
//! that failed once a week ago starts again from `base`.
//!
//! **The cap**: an ejection that would leave more than `max_ejected` of the cluster's backends
//! ejected at once is refused (the streak goes on, and the next failure tries again), except
//! that one backend may always be ejected when `max_ejected` is above 0 (as Envoy does: with
//! 0.1 and three backends, one). The flag is set first and the count taken after, so two
//! workers ejecting at the same moment cannot both pass the cap.
//!
//! Outcomes reported for an ejected backend (requests that started before the ejection) are
//! ignored.

use crate::Backend;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// What one try on a backend came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The backend answered with this (final) status.
    Status(u16),
    /// It worked, and there is no status to tell more (like a status below 500).
    Success,
    /// Connecting failed: refused, unreachable, timed out.
    ConnectFailure,
    /// Connecting worked; ends a streak of connect failures only.
    Connected,
    /// The connection closed or was reset before a whole response head, or the head was
    /// invalid: counted like a 502.
    Reset,
    /// No response head within the response timeout: counted like a 504.
    Timeout,
}

/// A cluster's `[cluster.outlier]`, in numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// 5xx streak that ejects; 0: never.
    pub consecutive_5xx: u32,
    /// 502/503/504 streak that ejects; 0: never.
    pub consecutive_gateway_errors: u32,
    /// Connect failure streak that ejects; 0: never.
    pub consecutive_connect_failures: u32,
    /// The first ejection's length, in nanoseconds (at least 1).
    pub base_ejection_ns: u64,
    /// The longest ejection, in nanoseconds.
    pub max_ejection_ns: u64,
    /// Share of the cluster's backends that may be ejected at once, in thousandths.
    pub max_ejected_milli: u32,
}

/// Which streak ejected a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Consecutive5xx,
    GatewayErrors,
    ConnectFailures,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Consecutive5xx => "consecutive_5xx",
            Reason::GatewayErrors => "consecutive_gateway_errors",
            Reason::ConnectFailures => "consecutive_connect_failures",
        }
    }
}

/// An ejection [`observe`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ejection {
    pub reason: Reason,
    /// The length of the streak that ejected.
    pub streak: u32,
    /// How long it lasts, in nanoseconds.
    pub duration_ns: u64,
    /// Its multiplier: 1 for the first ejection (or the first after a long time in).
    pub multiplier: u32,
}

/// One backend's streaks and ejection times. Relaxed atomics, in [`crate::BackendStats`].
#[derive(Debug, Default)]
pub struct OutlierState {
    consecutive_5xx: AtomicU32,
    gateway_errors: AtomicU32,
    connect_failures: AtomicU32,
    /// Multiplier of the last ejection.
    multiplier: AtomicU32,
    /// When the current (or last) ejection ends; 0: never ejected.
    until_ns: AtomicU64,
}

impl OutlierState {
    /// When the current or last ejection ends (0: never ejected).
    pub fn until_ns(&self) -> u64 {
        self.until_ns.load(Relaxed)
    }

    /// The current streaks: 5xx, gateway errors, connect failures.
    pub fn streaks(&self) -> (u32, u32, u32) {
        (
            self.consecutive_5xx.load(Relaxed),
            self.gateway_errors.load(Relaxed),
            self.connect_failures.load(Relaxed),
        )
    }

    fn reset_streaks(&self) {
        for s in [
            &self.consecutive_5xx,
            &self.gateway_errors,
            &self.connect_failures,
        ] {
            end(s);
        }
    }
}

/// Ends a streak; writes only if there is one, so a run of successes reads a shared line.
fn end(streak: &AtomicU32) {
    if streak.load(Relaxed) != 0 {
        streak.store(0, Relaxed);
    }
}

fn grow(streak: &AtomicU32) -> u32 {
    streak.fetch_add(1, Relaxed).saturating_add(1)
}

/// Feeds one outcome of backend `index` of `backends` at `now_ns`; ejects it if a streak
/// reaches its threshold and the cap allows. Returns the ejection it made, if any.
pub fn observe(
    backends: &[Arc<Backend>],
    index: usize,
    outcome: Outcome,
    now_ns: u64,
    params: &Params,
) -> Option<Ejection> {
    let b = backends.get(index)?;
    if !readmit_if_over(b, now_ns) {
        return None;
    }
    let s = &b.stats.outlier;
    let (fives, gateway, connect) = match outcome {
        Outcome::Status(status) if status >= 500 => {
            end(&s.connect_failures);
            let gateway = if matches!(status, 502..=504) {
                grow(&s.gateway_errors)
            } else {
                end(&s.gateway_errors);
                0
            };
            (grow(&s.consecutive_5xx), gateway, 0)
        }
        Outcome::Reset | Outcome::Timeout => {
            end(&s.connect_failures);
            (grow(&s.consecutive_5xx), grow(&s.gateway_errors), 0)
        }
        Outcome::Status(_) | Outcome::Success => {
            s.reset_streaks();
            return None;
        }
        Outcome::ConnectFailure => (0, 0, grow(&s.connect_failures)),
        Outcome::Connected => {
            end(&s.connect_failures);
            return None;
        }
    };
    let hit = [
        (
            gateway,
            params.consecutive_gateway_errors,
            Reason::GatewayErrors,
        ),
        (fives, params.consecutive_5xx, Reason::Consecutive5xx),
        (
            connect,
            params.consecutive_connect_failures,
            Reason::ConnectFailures,
        ),
    ]
    .into_iter()
    .find(|&(streak, threshold, _)| threshold > 0 && streak >= threshold)?;
    eject(backends, b, hit.0, hit.2, now_ns, params)
}

/// Ejects `b` unless the cap forbids it.
fn eject(
    backends: &[Arc<Backend>],
    b: &Backend,
    streak: u32,
    reason: Reason,
    now_ns: u64,
    params: &Params,
) -> Option<Ejection> {
    if params.max_ejected_milli == 0 {
        return None;
    }
    let s = &b.stats.outlier;
    let base = params.base_ejection_ns.max(1);
    let max = params.max_ejection_ns.max(base);
    // One ejection forgiven per `base` spent in since the last one ended.
    let last_end = s.until_ns.load(Relaxed);
    let forgiven = now_ns.saturating_sub(last_end) / base;
    let previous = u64::from(s.multiplier.load(Relaxed)).saturating_sub(forgiven);
    // Beyond max / base the length no longer grows; neither does the multiplier.
    let multiplier = (previous + 1).min(max / base + 1);
    let duration_ns = base.saturating_mul(multiplier).min(max);
    // The end first, then the flag: whoever sees the flag sees this ejection's end.
    s.until_ns
        .store(now_ns.saturating_add(duration_ns), Relaxed);
    if b.set_ejected(true) {
        // Another worker ejected it a moment ago.
        return None;
    }
    let ejected = backends.iter().filter(|o| o.ejected_at(now_ns)).count() as u64;
    let allowed = (u64::from(params.max_ejected_milli) * backends.len() as u64 / 1000).max(1);
    if ejected > allowed {
        b.set_ejected(false);
        s.until_ns.store(last_end, Relaxed);
        return None;
    }
    s.multiplier.store(multiplier as u32, Relaxed);
    s.reset_streaks();
    b.stats.ejections.fetch_add(1, Relaxed);
    Some(Ejection {
        reason,
        streak,
        duration_ns,
        multiplier: multiplier as u32,
    })
}

/// If `b` is ejected and its ejection is over at `now_ns`, puts it back in (streaks reset).
/// Returns whether `b` is in now as far as ejection goes.
pub fn readmit_if_over(b: &Backend, now_ns: u64) -> bool {
    if !b.ejected() {
        return true;
    }
    if b.ejected_at(now_ns) {
        return false;
    }
    if b.set_ejected(false) {
        b.stats.outlier.reset_streaks();
    }
    true
}

/// Puts `b` back in at once (its cluster's `[cluster.outlier]` was removed).
pub fn readmit(b: &Backend) {
    if b.set_ejected(false) {
        b.stats.outlier.reset_streaks();
    }
}

#[cfg(test)]
mod tests;
