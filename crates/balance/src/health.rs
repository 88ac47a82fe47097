//! Active health checking, sans-io: the rise/fall state machine of one backend and the time of
//! its next check. The prober (in the proxy crate) does the I/O and feeds results in.
//!
//! A backend starts **up** (HAProxy's choice: a restarted balancer must not blackhole traffic
//! while it waits for `rise` successes). `fall` consecutive failures take it down; `rise`
//! consecutive successes bring it back. A result that agrees with the current state resets the
//! opposite streak, so flapping below a threshold never changes the state.
//!
//! Checks of one backend start at most `interval` apart: each wait is `interval` shortened by a
//! random amount of up to `jitter` of it ([`next_check`]). So a backend that dies is marked
//! down at most `interval × fall + timeout` later (the last failing check may take the whole
//! timeout), and one that comes back is marked up within `interval × rise` plus the duration of
//! its last (successful) check.

use crate::rand::below;
use std::time::{Duration, Instant};

/// A state change reported by [`Checker::observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `fall` consecutive failures: take the backend out.
    Down,
    /// `rise` consecutive successes: put the backend back.
    Up,
}

/// The check state of one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checker {
    rise: u32,
    fall: u32,
    up: bool,
    /// Consecutive results that disagree with `up`.
    streak: u32,
}

impl Checker {
    /// A backend believed up (see the module docs). `rise` and `fall` below 1 count as 1.
    pub fn new(rise: u32, fall: u32) -> Self {
        Self::starting(true, rise, fall)
    }

    /// A backend whose current state is already known (kept across a reload that changed the
    /// check settings).
    pub fn starting(up: bool, rise: u32, fall: u32) -> Self {
        Checker {
            rise: rise.max(1),
            fall: fall.max(1),
            up,
            streak: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Results in a row that disagree with the current state (failures while up, successes
    /// while down).
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Feeds one check result (`true`: it passed); returns the state change it causes, if any.
    pub fn observe(&mut self, passed: bool) -> Option<Transition> {
        if passed == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let threshold = if self.up { self.fall } else { self.rise };
        if self.streak < threshold {
            return None;
        }
        self.up = passed;
        self.streak = 0;
        Some(if passed {
            Transition::Up
        } else {
            Transition::Down
        })
    }
}

/// When the check after one that started at `started` should start: `interval` later,
/// shortened by a random share of up to `jitter_milli` thousandths of it (drawn from `rand`).
pub fn next_check(started: Instant, interval: Duration, jitter_milli: u32, rand: u64) -> Instant {
    started + interval - jitter(interval, jitter_milli, rand)
}

/// Delay before the first check of a backend: a random share of up to `jitter_milli` of
/// `interval`, so checks of many backends started together spread out.
pub fn first_check(now: Instant, interval: Duration, jitter_milli: u32, rand: u64) -> Instant {
    now + jitter(interval, jitter_milli, rand)
}

/// A uniform draw in `0..=interval × jitter_milli / 1000` (whole nanoseconds).
fn jitter(interval: Duration, jitter_milli: u32, rand: u64) -> Duration {
    let max = interval.as_nanos() * u128::from(jitter_milli.min(1000)) / 1000;
    let max = u64::try_from(max).unwrap_or(u64::MAX);
    Duration::from_nanos(below(rand, max.saturating_add(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn starts_up_and_needs_fall_failures() {
        let mut c = Checker::new(2, 3);
        assert!(c.is_up());
        assert_eq!(c.observe(false), None);
        assert_eq!(c.observe(false), None);
        assert_eq!(c.observe(false), Some(Transition::Down));
        assert!(!c.is_up());
        assert_eq!(c.observe(false), None);
        assert_eq!(c.observe(true), None);
        assert_eq!(c.observe(true), Some(Transition::Up));
        assert!(c.is_up());
    }

    #[test]
    fn an_agreeing_result_resets_the_streak() {
        let mut c = Checker::new(2, 2);
        for _ in 0..10 {
            assert_eq!(c.observe(false), None);
            assert_eq!(c.observe(true), None);
        }
        assert!(c.is_up());
    }

    #[test]
    fn zero_thresholds_count_as_one() {
        let mut c = Checker::new(0, 0);
        assert_eq!(c.observe(false), Some(Transition::Down));
        assert_eq!(c.observe(true), Some(Transition::Up));
    }

    #[test]
    fn jitter_zero_is_exact() {
        let t = Instant::now();
        let i = Duration::from_secs(2);
        assert_eq!(next_check(t, i, 0, u64::MAX), t + i);
        assert_eq!(first_check(t, i, 0, u64::MAX), t);
    }

    proptest! {
        /// The state changes exactly when the last `fall` (or `rise`) results all disagree
        /// with the state before them; transitions alternate.
        #[test]
        fn transitions_follow_thresholds(
            rise in 1u32..6, fall in 1u32..6,
            results in prop::collection::vec(any::<bool>(), 0..200),
        ) {
            let mut c = Checker::new(rise, fall);
            let mut up = true;
            let mut last = None;
            for (k, &r) in results.iter().enumerate() {
                let t = c.observe(r);
                let need = if up { fall } else { rise } as usize;
                let run = results[..=k].iter().rev().take_while(|&&x| x != up).count();
                // A streak is counted from the last transition, so a run may straddle it.
                let since = last.map_or(k + 1, |l: usize| k - l);
                let expect = r != up && run.min(since) >= need;
                prop_assert_eq!(t.is_some(), expect, "k {} results {:?}", k, &results[..=k]);
                if let Some(t) = t {
                    prop_assert_eq!(t, if up { Transition::Down } else { Transition::Up });
                    up = !up;
                    last = Some(k);
                }
                prop_assert_eq!(c.is_up(), up);
            }
        }

        /// Checks start at most `interval` apart and at least `interval × (1 - jitter)`.
        #[test]
        fn next_check_is_within_the_jitter_window(
            ms in 1u64..100_000, jitter in 0u32..=1000, rand: u64,
        ) {
            let t = Instant::now();
            let i = Duration::from_millis(ms);
            let next = next_check(t, i, jitter, rand);
            prop_assert!(next <= t + i);
            prop_assert!(next + i * jitter / 1000 >= t + i);
            let first = first_check(t, i, jitter, rand);
            prop_assert!(first >= t && first <= t + i * jitter / 1000 + Duration::from_nanos(1));
        }
    }
}
