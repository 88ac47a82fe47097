use super::*;
use crate::availability::{Policy, pick_available};
use crate::test_util::backends;
use crate::{Algorithm, PickContext, selector};
use proptest::prelude::*;

const S: u64 = 1_000_000_000;

fn params() -> Params {
    Params {
        consecutive_5xx: 3,
        consecutive_gateway_errors: 0,
        consecutive_connect_failures: 2,
        base_ejection_ns: 10 * S,
        max_ejection_ns: 25 * S,
        max_ejected_milli: 1000,
    }
}

/// Feeds `outcome` `n` times to backend `i` at `now`; returns the last result.
fn feed(b: &[Arc<Backend>], i: usize, outcome: Outcome, n: u32, now: u64) -> Option<Ejection> {
    let mut last = None;
    for _ in 0..n {
        last = observe(b, i, outcome, now, &params());
    }
    last
}

#[test]
fn a_5xx_streak_ejects_and_a_success_ends_it() {
    let b = backends(&[1, 1]);
    assert_eq!(feed(&b, 0, Outcome::Status(500), 2, 0), None);
    assert_eq!(feed(&b, 0, Outcome::Status(404), 1, 0), None);
    assert_eq!(feed(&b, 0, Outcome::Status(503), 2, 0), None);
    assert!(b[0].eligible());
    let e = feed(&b, 0, Outcome::Status(599), 1, 5).expect("third 5xx in a row ejects");
    assert_eq!(
        e,
        Ejection {
            reason: Reason::Consecutive5xx,
            streak: 3,
            duration_ns: 10 * S,
            multiplier: 1,
        }
    );
    assert!(!b[0].eligible() && b[0].ejected_at(5) && b[0].ejected_at(10 * S + 4));
    assert!(!b[0].ejected_at(10 * S + 5), "ends base after it began");
    assert_eq!(b[0].stats.ejections.load(Relaxed), 1);
    assert_eq!(b[0].stats.outlier.streaks(), (0, 0, 0));
    assert!(b[1].eligible());
}

#[test]
fn resets_and_timeouts_count_as_gateway_errors() {
    let b = backends(&[1]);
    let p = Params {
        consecutive_5xx: 0,
        consecutive_gateway_errors: 3,
        ..params()
    };
    for o in [Outcome::Status(502), Outcome::Reset, Outcome::Status(500)] {
        assert_eq!(observe(&b, 0, o, 0, &p), None);
    }
    assert_eq!(
        b[0].stats.outlier.streaks(),
        (3, 0, 0),
        "500 ends the gateway streak"
    );
    for o in [Outcome::Timeout, Outcome::Status(504)] {
        assert_eq!(observe(&b, 0, o, 0, &p), None);
    }
    let e = observe(&b, 0, Outcome::Status(503), 0, &p).unwrap();
    assert_eq!((e.reason, e.streak), (Reason::GatewayErrors, 3));
}

#[test]
fn connect_failures_eject_and_a_connect_ends_only_their_streak() {
    let b = backends(&[1]);
    assert_eq!(feed(&b, 0, Outcome::Status(500), 2, 0), None);
    assert_eq!(feed(&b, 0, Outcome::ConnectFailure, 1, 0), None);
    assert_eq!(feed(&b, 0, Outcome::Connected, 1, 0), None);
    assert_eq!(b[0].stats.outlier.streaks(), (2, 0, 0));
    assert_eq!(feed(&b, 0, Outcome::ConnectFailure, 1, 0), None);
    let e = feed(&b, 0, Outcome::ConnectFailure, 1, 0).unwrap();
    assert_eq!((e.reason, e.streak), (Reason::ConnectFailures, 2));
}

#[test]
fn ejections_grow_by_base_up_to_max_and_are_forgiven_in_service() {
    let b = backends(&[1]);
    let mut now = 0;
    let mut lengths = Vec::new();
    for _ in 0..4 {
        let e = feed(&b, 0, Outcome::Status(500), 3, now).unwrap();
        lengths.push(e.duration_ns / S);
        // Outcomes of requests sent before the ejection do not count.
        assert_eq!(feed(&b, 0, Outcome::Status(500), 5, now + 1), None);
        now += e.duration_ns;
        assert!(!b[0].ejected_at(now));
    }
    assert_eq!(lengths, [10, 20, 25, 25]);
    // The multiplier stopped at 3 (max / base + 1); 25 s in service forgives two ejections,
    // so the next one is the second's length.
    now += 25 * S;
    let e = feed(&b, 0, Outcome::Status(500), 3, now).unwrap();
    assert_eq!((e.multiplier, e.duration_ns), (2, 20 * S));
    // Long after, it starts again from base.
    now += e.duration_ns + 1_000 * S;
    assert_eq!(
        feed(&b, 0, Outcome::Status(500), 3, now)
            .unwrap()
            .multiplier,
        1
    );
}

#[test]
fn an_ended_ejection_starts_a_fresh_streak() {
    let b = backends(&[1]);
    feed(&b, 0, Outcome::Status(500), 3, 0).unwrap();
    assert_eq!(feed(&b, 0, Outcome::Status(500), 2, 10 * S), None);
    assert!(!b[0].ejected() && b[0].eligible(), "the report put it back");
    assert_eq!(b[0].stats.outlier.streaks(), (2, 0, 0));
}

#[test]
fn the_cap_limits_how_many_are_out_at_once() {
    let b = backends(&[1; 10]);
    let capped = |milli| Params {
        max_ejected_milli: milli,
        ..params()
    };
    let eject = |i: usize, p: &Params| {
        (0..3)
            .filter_map(|_| observe(&b, i, Outcome::Status(500), 0, p))
            .count()
    };
    assert_eq!(eject(0, &capped(0)), 0, "0 ejects nothing");
    assert_eq!(eject(0, &capped(100)), 1);
    assert_eq!(eject(1, &capped(100)), 0, "10% of 10 is one");
    assert!(b[1].eligible() && !b[1].ejected());
    assert_eq!(eject(1, &capped(300)), 1, "the streak went on");
    assert_eq!(eject(2, &capped(300)), 1);
    assert_eq!(eject(3, &capped(300)), 0);
    // Once the first ejection ends, there is room again.
    let late = observe(&b, 3, Outcome::Status(500), 10 * S, &capped(300));
    assert!(late.is_some());
    // One backend may always go, whatever the share.
    let three = backends(&[1; 3]);
    let p = capped(100);
    let n = (0..3)
        .filter_map(|_| observe(&three, 0, Outcome::Status(500), 0, &p))
        .count();
    assert_eq!(n, 1);
}

#[test]
fn picks_skip_an_ejected_backend_until_it_ends() {
    let b = backends(&[1, 1, 1]);
    feed(&b, 1, Outcome::Status(500), 3, 0).unwrap();
    let sel = selector(Algorithm::RoundRobin, &b);
    let pick = |now: u64, policy: &Policy| {
        let ctx = PickContext::new(&[]).at(now);
        pick_available(&b, policy, &ctx, |c| sel.pick_with(&b, c))
    };
    let during: Vec<_> = (0..6).map(|_| pick(S, &Policy::default())).collect();
    assert!(!during.contains(&Some(1)), "{during:?}");
    let after: Vec<_> = (0..6).map(|_| pick(10 * S, &Policy::default())).collect();
    assert!(after.contains(&Some(1)), "{after:?}");
    assert!(!b[1].ejected(), "the pick put it back");
    // Ejected like down: panic mode picks it when too few are in.
    feed(&b, 0, Outcome::Status(500), 3, 20 * S).unwrap();
    feed(&b, 1, Outcome::Status(500), 3, 20 * S).unwrap();
    let panic = Policy {
        panic_threshold_milli: 500,
        ..Policy::default()
    };
    let got: Vec<_> = (0..6).map(|_| pick(21 * S, &panic)).collect();
    assert!(got.contains(&Some(0)) && got.contains(&Some(1)), "{got:?}");
}

#[test]
fn readmit_clears_at_once() {
    let b = backends(&[1]);
    feed(&b, 0, Outcome::Status(500), 3, 0).unwrap();
    readmit(&b[0]);
    assert!(b[0].eligible() && !b[0].ejected_at(0));
}

/// A plain model of one backend's ejection timing, for the property below.
#[derive(Debug, Default)]
struct Model {
    fives: u32,
    connects: u32,
    multiplier: u64,
    until: u64,
    ejected: bool,
}

impl Model {
    fn feed(&mut self, failure: Option<bool>, now: u64, p: &Params) -> Option<u64> {
        if self.ejected {
            if now < self.until {
                return None;
            }
            self.ejected = false;
            (self.fives, self.connects) = (0, 0);
        }
        match failure {
            None => (self.fives, self.connects) = (0, 0),
            Some(true) => {
                self.connects = 0;
                self.fives += 1;
            }
            Some(false) => self.connects += 1,
        }
        if self.fives < p.consecutive_5xx && self.connects < p.consecutive_connect_failures {
            return None;
        }
        let forgiven = now.saturating_sub(self.until) / p.base_ejection_ns;
        self.multiplier = self.multiplier.saturating_sub(forgiven) + 1;
        let length = (p.base_ejection_ns * self.multiplier).min(p.max_ejection_ns);
        self.multiplier = self
            .multiplier
            .min(p.max_ejection_ns / p.base_ejection_ns + 1);
        self.until = now + length;
        self.ejected = true;
        (self.fives, self.connects) = (0, 0);
        Some(length)
    }
}

proptest! {
    /// Ejection and recovery follow their timings: against a plain model, on a fake clock,
    /// for any sequence of outcomes and gaps.
    #[test]
    fn ejection_follows_the_model(
        steps in prop::collection::vec((0u8..3, 0u64..30), 0..300),
    ) {
        let b = backends(&[1]);
        let p = params();
        let mut model = Model::default();
        let mut now = 0;
        for (kind, gap) in steps {
            now += gap * S / 2;
            let (outcome, failure) = match kind {
                0 => (Outcome::Status(200), None),
                1 => (Outcome::Status(500), Some(true)),
                _ => (Outcome::ConnectFailure, Some(false)),
            };
            let got = observe(&b, 0, outcome, now, &p).map(|e| e.duration_ns);
            prop_assert_eq!(got, model.feed(failure, now, &p), "at {}", now);
            prop_assert_eq!(b[0].ejected_at(now), model.ejected && now < model.until);
        }
    }

    /// However outcomes interleave across backends, no more are out at once than the cap.
    #[test]
    fn the_cap_always_holds(
        n in 1usize..12,
        milli in 0u32..=1000,
        steps in prop::collection::vec((0usize..12, any::<bool>(), 0u64..4), 0..300),
    ) {
        let b = backends(&vec![1; n]);
        let p = Params { max_ejected_milli: milli, ..params() };
        let allowed = if milli == 0 { 0 } else { (milli as usize * n / 1000).max(1) };
        let mut now = 0;
        for (i, fail, gap) in steps {
            now += gap * S;
            let outcome = if fail { Outcome::Status(500) } else { Outcome::Success };
            observe(&b, i % n, outcome, now, &p);
            let out = b.iter().filter(|b| b.ejected_at(now)).count();
            prop_assert!(out <= allowed, "{} out of {} with {}", out, n, milli);
        }
    }
}
