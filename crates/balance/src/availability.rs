//! Which backends may take a new connection or request: health, admin state, panic mode and
//! slow start layered over any [`crate::Selector`], sans-io.
//!
//! [`pick_available`] asks the selector for a backend, judges it ([`verdict`]) and, if it may
//! not take the pick, adds it to a local skip list and asks again, at most once per backend.
//! So a cursor-based selector moves on to its next backend (round robin stays fair among the
//! rest: each refused turn advances the cursor) and a hashing one falls back to the key's
//! next backend, exactly as for a connect retry; the selector is never rebuilt and the pick
//! takes no lock and allocates nothing unless more than [`INLINE_SKIP`] backends are refused
//! in one pick.
//!
//! - **Disabled and draining** backends never take new picks.
//! - **Down** backends take none, except in **panic mode**: when the healthy share of the
//!   enabled backends' weight is below `panic_threshold`, down (but enabled) backends are
//!   picked as if healthy, so the load spreads over all of them instead of crushing the few
//!   that pass their checks. The share is computed only when a down backend comes up in a pick
//!   (O(backends), relaxed loads); a healthy cluster never pays for it.
//! - **Slow start**: a backend that became ready (healthy again, enabled again, or added by a
//!   reload) less than `slow_start` ago is admitted with probability [`ramp_milli`]/1000,
//!   rising linearly from 10% to 100% over the window; a refused pick goes to the selector's
//!   next choice. This approximates a weight ramp without rebuilding weighted tables. With a
//!   balancing key the draw comes from the key, so a key moves to the warming backend once
//!   and stays. If every candidate is refused only by the draw, the first of them is taken.
//! - **Ejected** backends ([`crate::outlier`]) are judged like down ones until their ejection
//!   ends; the first pick to draw one after that (with `ctx.now_ns` set) puts it back.
//! - **Priority groups and zones** ([`crate::placement`]): [`pick_available_in`] also refuses
//!   backends outside a [`Scope`], and applies panic mode only when the scope is whole.

use crate::hash::mix64;
use crate::placement::Scope;
use crate::rand::below;
use crate::{Backend, PickContext};
use std::sync::Arc;

/// Share of its weight a backend starts its slow start with, in thousandths.
pub const MIN_RAMP_MILLI: u32 = 100;

/// Refused backends one pick remembers without allocating.
pub const INLINE_SKIP: usize = 32;

/// A cluster's availability settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Healthy share of the enabled weight below which down backends are picked too, in
    /// thousandths; 0: never.
    pub panic_threshold_milli: u32,
    /// Slow start window in nanoseconds; 0: none.
    pub slow_start_ns: u64,
}

/// What a backend may do with a new pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy, enabled, at full weight.
    Take,
    /// Healthy and enabled, ramping up: admit with this probability (thousandths).
    Warming(u32),
    /// Enabled but failing its health checks: only in panic mode.
    Down,
    /// Disabled or draining: never.
    Excluded,
}

/// Judges backend `b` at `now_ns`. An ejection over by `now_ns` ends here.
pub fn verdict(b: &Backend, policy: &Policy, now_ns: u64) -> Verdict {
    if !b.eligible() && b.ejected() {
        crate::outlier::readmit_if_over(b, now_ns);
    }
    if b.eligible() {
        return match ramp_milli(b.ready_since(), now_ns, policy.slow_start_ns) {
            1000 => Verdict::Take,
            ramp => Verdict::Warming(ramp),
        };
    }
    match b.admin_state() {
        crate::AdminState::Enabled => Verdict::Down,
        _ => Verdict::Excluded,
    }
}

/// Slow start: the share of its weight (thousandths, 100..=1000) a backend ready since
/// `since` gets at `now_ns` in a window of `window_ns`. 1000 without a window or a start.
pub fn ramp_milli(since: Option<u64>, now_ns: u64, window_ns: u64) -> u32 {
    let Some(since) = since else { return 1000 };
    let elapsed = now_ns.saturating_sub(since);
    if window_ns == 0 || elapsed >= window_ns {
        return 1000;
    }
    let span = u128::from(1000 - MIN_RAMP_MILLI);
    let grown = span * u128::from(elapsed) / u128::from(window_ns);
    MIN_RAMP_MILLI + grown as u32
}

/// Whether the cluster is in panic mode: the weight of healthy enabled backends is below
/// `threshold_milli` thousandths of the weight of all enabled backends. Never with a threshold
/// of 0 or no enabled backend. An ejected backend counts as down.
pub fn panicking(backends: &[Arc<Backend>], threshold_milli: u32) -> bool {
    panicking_at(backends, threshold_milli, 0)
}

/// [`panicking`] at `now_ns`: an ejection over by then no longer counts.
pub fn panicking_at(backends: &[Arc<Backend>], threshold_milli: u32, now_ns: u64) -> bool {
    if threshold_milli == 0 {
        return false;
    }
    let (mut healthy, mut enabled) = (0u64, 0u64);
    for b in backends {
        if b.admin_state() == crate::AdminState::Enabled {
            let w = u64::from(b.weight());
            enabled += w;
            if b.eligible_at(now_ns) {
                healthy += w;
            }
        }
    }
    enabled > 0 && healthy * 1000 < u64::from(threshold_milli) * enabled
}

/// Picks a backend that may take a new connection or request (see the module docs). `pick`
/// is the selector, called with `ctx` plus the backends refused so far added to its skip
/// list (and a fresh `rand` after the first call). `ctx.now_ns` is read for slow start and
/// to end ejections.
pub fn pick_available(
    backends: &[Arc<Backend>],
    policy: &Policy,
    ctx: &PickContext<'_>,
    pick: impl FnMut(&PickContext<'_>) -> Option<usize>,
) -> Option<usize> {
    pick_available_in(backends, policy, None, ctx, pick)
}

/// [`pick_available`] within `scope` (priority groups and zones): backends outside it are
/// refused, and panic mode applies only if the scope is whole.
pub fn pick_available_in(
    backends: &[Arc<Backend>],
    policy: &Policy,
    scope: Option<Scope<'_>>,
    ctx: &PickContext<'_>,
    mut pick: impl FnMut(&PickContext<'_>) -> Option<usize>,
) -> Option<usize> {
    let admits = |i: usize| scope.is_none_or(|s| s.admits(i));
    // The common case: the first choice may take it. Nothing to set up.
    let first = pick(ctx)?;
    if admits(first)
        && backends
            .get(first)
            .is_some_and(|b| verdict(b, policy, ctx.now_ns) == Verdict::Take)
    {
        return Some(first);
    }
    let mut skip = SkipList::new(ctx.skip);
    let mut panic = None;
    let mut fallback = None;
    let draw = below(mix64(ctx.hash.unwrap_or(ctx.rand) ^ 0x5bd1_e995), 1000) as u32;
    let mut next = Some(first);
    for k in 1..=backends.len() as u64 + 1 {
        let Some(i) = next.take() else { break };
        let Some(b) = backends.get(i) else { break };
        let judged = if admits(i) {
            verdict(b, policy, ctx.now_ns)
        } else {
            Verdict::Excluded
        };
        match judged {
            Verdict::Take => return Some(i),
            Verdict::Warming(ramp) if draw < ramp => return Some(i),
            Verdict::Warming(_) => {
                fallback.get_or_insert(i);
            }
            Verdict::Down => {
                let p = *panic.get_or_insert_with(|| {
                    scope.is_none_or(|s| s.whole())
                        && panicking_at(backends, policy.panic_threshold_milli, ctx.now_ns)
                });
                if p {
                    return Some(i);
                }
            }
            Verdict::Excluded => {}
        }
        if skip.as_slice().contains(&i) {
            // A selector that ignores its skip list: stop rather than loop.
            break;
        }
        skip.push(i);
        let c = PickContext {
            skip: skip.as_slice(),
            rand: mix64(ctx.rand.wrapping_add(k)),
            ..*ctx
        };
        next = pick(&c);
    }
    fallback
}

/// The caller's skip list plus the backends refused in this pick, inline up to
/// [`INLINE_SKIP`] entries.
struct SkipList<'a> {
    given: &'a [usize],
    inline: [usize; INLINE_SKIP],
    len: usize,
    spilled: Vec<usize>,
}

impl<'a> SkipList<'a> {
    fn new(given: &'a [usize]) -> Self {
        SkipList {
            given,
            inline: [0; INLINE_SKIP],
            len: 0,
            spilled: Vec::new(),
        }
    }

    fn as_slice(&self) -> &[usize] {
        if !self.spilled.is_empty() {
            &self.spilled
        } else if self.len == 0 {
            self.given
        } else {
            &self.inline[..self.len]
        }
    }

    fn push(&mut self, i: usize) {
        if !self.spilled.is_empty() {
            self.spilled.push(i);
        } else if self.len == 0 && self.given.len() < INLINE_SKIP {
            self.inline[..self.given.len()].copy_from_slice(self.given);
            self.len = self.given.len();
            self.push_inline(i);
        } else if self.len > 0 && self.len < INLINE_SKIP {
            self.push_inline(i);
        } else {
            self.spilled = self.as_slice().to_vec();
            self.spilled.push(i);
        }
    }

    fn push_inline(&mut self, i: usize) {
        self.inline[self.len] = i;
        self.len += 1;
    }
}

#[cfg(test)]
mod tests;
