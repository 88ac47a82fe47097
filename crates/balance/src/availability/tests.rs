use super::*;
use crate::test_util::backends;
use crate::{AdminState, Algorithm, BoundedLoad, Health, selector};
use proptest::prelude::*;

const ALGORITHMS: [Algorithm; 10] = [
    Algorithm::RoundRobin,
    Algorithm::WeightedRoundRobin,
    Algorithm::LeastConn,
    Algorithm::P2c,
    Algorithm::PeakEwma,
    Algorithm::Random,
    Algorithm::SourceHash,
    Algorithm::RingHash { bounded_load: None },
    Algorithm::Maglev { bounded_load: None },
    Algorithm::Maglev {
        bounded_load: Some(BoundedLoad::DEFAULT),
    },
];

/// Backend states: 0 up, 1 down, 2 disabled, 3 draining, 4 down and disabled.
fn set_states(b: &[Arc<Backend>], states: &[u8]) {
    for (b, s) in b.iter().zip(states) {
        let down = matches!(s, 1 | 4);
        b.set_health(if down { Health::Down } else { Health::Up }, 0);
        let admin = match s {
            2 | 4 => AdminState::Disabled,
            3 => AdminState::Draining,
            _ => AdminState::Enabled,
        };
        b.set_admin_state(admin, 0);
    }
}

fn pick_with(
    b: &[Arc<Backend>],
    sel: &dyn crate::Selector,
    policy: &Policy,
    ctx: &PickContext<'_>,
) -> Option<usize> {
    pick_available(b, policy, ctx, |c| sel.pick_with(b, c))
}

#[test]
fn round_robin_stays_fair_around_a_down_backend() {
    let b = backends(&[1, 1, 1]);
    b[1].set_health(Health::Down, 0);
    let sel = selector(Algorithm::RoundRobin, &b);
    let got: Vec<_> = (0..6)
        .map(|_| pick_with(&b, &*sel, &Policy::default(), &PickContext::new(&[])).unwrap())
        .collect();
    assert_eq!(got, [0, 2, 0, 2, 0, 2]);
}

#[test]
fn panic_mode_uses_down_backends_but_never_disabled_ones() {
    let b = backends(&[1, 1, 1, 1]);
    set_states(&b, &[0, 1, 1, 2]);
    // Healthy share of the enabled weight: 1/3.
    assert!(panicking(&b, 500));
    assert!(!panicking(&b, 333));
    assert!(!panicking(&b, 0));
    let sel = selector(Algorithm::RoundRobin, &b);
    let panic = Policy {
        panic_threshold_milli: 500,
        ..Policy::default()
    };
    let mut seen = [0; 4];
    for _ in 0..30 {
        seen[pick_with(&b, &*sel, &panic, &PickContext::new(&[])).unwrap()] += 1;
    }
    assert_eq!(seen, [10, 10, 10, 0]);
    for _ in 0..30 {
        let i = pick_with(&b, &*sel, &Policy::default(), &PickContext::new(&[]));
        assert_eq!(i, Some(0));
    }
}

#[test]
fn all_down_without_panic_is_none() {
    let b = backends(&[1, 1]);
    set_states(&b, &[1, 1]);
    let sel = selector(Algorithm::RoundRobin, &b);
    assert_eq!(
        pick_with(&b, &*sel, &Policy::default(), &PickContext::new(&[])),
        None
    );
}

#[test]
fn many_refused_backends_spill_the_skip_list() {
    let b = backends(&[1; 100]);
    let states: Vec<u8> = (0..100).map(|i| if i == 77 { 0 } else { 1 }).collect();
    set_states(&b, &states);
    let skip: Vec<usize> = (0..20).collect();
    for algorithm in ALGORITHMS {
        let sel = selector(algorithm, &b);
        for k in 0..20u64 {
            let ctx = PickContext::new(&skip).with_hash(mix64(k));
            assert_eq!(
                pick_with(&b, &*sel, &Policy::default(), &ctx),
                Some(77),
                "{algorithm:?}"
            );
        }
    }
}

#[test]
fn ramp_grows_linearly_from_a_tenth() {
    let s = Some(1_000);
    assert_eq!(ramp_milli(None, 5, 100), 1000);
    assert_eq!(ramp_milli(s, 5_000, 0), 1000);
    assert_eq!(ramp_milli(s, 1_000, 1_000), 100);
    assert_eq!(ramp_milli(s, 1_500, 1_000), 550);
    assert_eq!(ramp_milli(s, 2_000, 1_000), 1000);
    assert_eq!(ramp_milli(s, 500, 1_000), 100, "a clock before the start");
}

#[test]
fn slow_start_admits_a_warming_backend_in_proportion() {
    let b = backends(&[1, 1]);
    b[1].mark_ready(0);
    let sel = selector(Algorithm::RoundRobin, &b);
    let policy = Policy {
        slow_start_ns: 1_000,
        ..Policy::default()
    };
    let mut rng = crate::rand::WyRand::new(3);
    let mut warm = 0u32;
    let n = 100_000;
    for _ in 0..n {
        let ctx = PickContext::new(&[]).at(250).with_rand(rng.next_u64());
        if pick_with(&b, &*sel, &policy, &ctx) == Some(1) {
            warm += 1;
        }
    }
    // Ramp at 250 ns of 1000: 100 + 900/4 = 325 thousandths of its weight, so its share is
    // 0.325 / 1.325 (a refused turn goes to the other backend and the cursor comes back).
    let share = f64::from(warm) / f64::from(n);
    assert!((share - 0.325 / 1.325).abs() < 0.01, "share {share}");
    let late = PickContext::new(&[]).at(1_000);
    let picks: Vec<_> = (0..4)
        .map(|_| pick_with(&b, &*sel, &policy, &late))
        .collect();
    assert!(picks.contains(&Some(1)), "{picks:?}");
}

#[test]
fn a_lone_warming_backend_is_still_picked() {
    let b = backends(&[1]);
    b[0].mark_ready(0);
    let sel = selector(Algorithm::RoundRobin, &b);
    let policy = Policy {
        slow_start_ns: u64::MAX,
        ..Policy::default()
    };
    for r in 0..100 {
        let ctx = PickContext::new(&[]).with_rand(mix64(r));
        assert_eq!(pick_with(&b, &*sel, &policy, &ctx), Some(0));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Never a skipped, disabled or draining backend; a down one only in panic mode; `None`
    /// only when no backend could be taken.
    #[test]
    fn picks_respect_availability(
        weights in prop::collection::vec(1u32..5, 1..10),
        states in prop::collection::vec(0u8..5, 10),
        warming in prop::collection::vec(any::<bool>(), 10),
        skip in prop::collection::vec(0usize..10, 0..4),
        threshold in prop_oneof![Just(0u32), 1u32..=1000],
        keys in prop::collection::vec(any::<u64>(), 8),
    ) {
        let b = backends(&weights);
        set_states(&b, &states);
        for (b, &w) in b.iter().zip(&warming) {
            if w { b.mark_ready(0); }
        }
        let policy = Policy { panic_threshold_milli: threshold, slow_start_ns: 1_000 };
        let panic = panicking(&b, threshold);
        let takeable = |i: usize| !skip.contains(&i) && match verdict(&b[i], &policy, 10) {
            Verdict::Take | Verdict::Warming(_) => true,
            Verdict::Down => panic,
            Verdict::Excluded => false,
        };
        let any = (0..b.len()).any(takeable);
        for algorithm in ALGORITHMS {
            let sel = selector(algorithm, &b);
            for &key in &keys {
                let ctx = PickContext::new(&skip).with_hash(key).with_rand(key).at(10);
                match pick_with(&b, &*sel, &policy, &ctx) {
                    Some(i) => prop_assert!(takeable(i), "{algorithm:?} picked {i}"),
                    None => prop_assert!(!any, "{algorithm:?} found nothing"),
                }
            }
        }
    }

    /// Panic mode is exactly "healthy enabled weight below the threshold share of enabled
    /// weight".
    #[test]
    fn panic_follows_the_healthy_share(
        weights in prop::collection::vec(1u32..100, 1..10),
        states in prop::collection::vec(0u8..5, 10),
        threshold in 0u32..=1000,
    ) {
        let b = backends(&weights);
        set_states(&b, &states);
        let enabled: u32 = b.iter().filter(|b| b.admin_state() == AdminState::Enabled)
            .map(|b| b.weight()).sum();
        let healthy: u32 = b.iter().filter(|b| b.eligible()).map(|b| b.weight()).sum();
        let expect = threshold > 0 && enabled > 0
            && f64::from(healthy) / f64::from(enabled) < f64::from(threshold) / 1000.0;
        prop_assert_eq!(panicking(&b, threshold), expect);
    }

    /// With a key, slow start admission is a threshold on the key: a key once admitted stays
    /// admitted as the ramp grows.
    #[test]
    fn keyed_admission_is_monotone(key: u64, t1 in 0u64..1000, t2 in 0u64..1000) {
        let b = backends(&[1, 1, 1]);
        b[1].mark_ready(0);
        let sel = selector(Algorithm::Maglev { bounded_load: None }, &b);
        let policy = Policy { slow_start_ns: 1_000, ..Policy::default() };
        let (early, late) = (t1.min(t2), t1.max(t2));
        let at = |t| pick_with(&b, &*sel, &policy, &PickContext::new(&[]).with_hash(key).at(t));
        if at(early) == Some(1) {
            prop_assert_eq!(at(late), Some(1));
        }
        prop_assert_eq!(at(1_000), sel.pick_with(&b, &PickContext::new(&[]).with_hash(key)));
    }

    /// The ramp never falls as time passes and stays within 10%..=100%.
    #[test]
    fn ramp_is_monotone(since: u32, a: u32, d: u32, window in 0u64..1_000_000) {
        let since = Some(u64::from(since));
        let (a, b) = (u64::from(a), u64::from(a) + u64::from(d));
        let (ra, rb) = (ramp_milli(since, a, window), ramp_milli(since, b, window));
        prop_assert!(ra <= rb);
        prop_assert!((MIN_RAMP_MILLI..=1000).contains(&ra));
    }
}
