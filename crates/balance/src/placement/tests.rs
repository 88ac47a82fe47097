use super::*;
use crate::availability::{Policy, pick_available_in};
use crate::test_util::backends;
use crate::{AdminState, Algorithm, Health, PickContext, selector};
use proptest::prelude::*;

fn picks(b: &[Arc<Backend>], p: &Placement, policy: &Policy, n: usize) -> Vec<usize> {
    let sel = selector(Algorithm::RoundRobin, b);
    let mut seen = vec![0; b.len()];
    for _ in 0..n {
        let scope = p.scope(b, 0);
        let ctx = PickContext::new(&[]);
        if let Some(i) = pick_available_in(b, policy, Some(scope), &ctx, |c| sel.pick_with(b, c)) {
            seen[i] += 1;
        }
    }
    seen
}

#[test]
fn nothing_to_place_is_none() {
    assert!(Placement::new(&[(0, false), (0, false)], 700).is_none());
    assert!(Placement::new(&[(3, true), (3, true)], 700).is_none());
    assert!(Placement::new(&[(0, false), (1, false)], 700).is_some());
    assert!(Placement::new(&[(0, true), (0, false)], 700).is_some());
}

#[test]
fn a_backup_group_takes_traffic_only_when_the_primary_is_short() {
    // Primary: four backends of weight 1; backups 9 and 5 (ranks 1 and 2).
    let b = backends(&[1, 1, 1, 1, 1, 1]);
    let p = Placement::new(
        &[
            (0, false),
            (0, false),
            (0, false),
            (0, false),
            (9, false),
            (5, false),
        ],
        700,
    )
    .unwrap();
    assert_eq!((p.groups(), p.rank(4), p.rank(5)), (3, 2, 1));
    let policy = Policy::default();
    assert_eq!(picks(&b, &p, &policy, 60), [15, 15, 15, 15, 0, 0]);
    // 3 of 4 healthy (75% >= 70%): still only the primary.
    b[0].set_health(Health::Down, 0);
    assert_eq!(picks(&b, &p, &policy, 60), [0, 20, 20, 20, 0, 0]);
    // 2 of 4 (50%): the next group (priority 5) joins; priority 9 does not.
    b[1].set_health(Health::Down, 0);
    let seen = picks(&b, &p, &policy, 60);
    assert_eq!(seen, [0, 0, 20, 20, 0, 20]);
    assert!(!p.scope(&b, 0).whole());
    // Everything short: every group, and now panic mode may apply.
    b[5].set_health(Health::Down, 0);
    let scope = p.scope(&b, 0);
    assert_eq!(scope.max_rank, 2);
    assert!(scope.whole());
    // Back up: the backups stop at once.
    for x in &b {
        x.set_health(Health::Up, 0);
    }
    assert_eq!(picks(&b, &p, &policy, 60), [15, 15, 15, 15, 0, 0]);
}

#[test]
fn the_local_zone_is_preferred_while_it_has_capacity() {
    let b = backends(&[1, 1, 1, 1]);
    let p = Placement::new(&[(0, true), (0, true), (0, false), (0, false)], 500).unwrap();
    let policy = Policy::default();
    assert_eq!(picks(&b, &p, &policy, 40), [20, 20, 0, 0]);
    b[0].set_health(Health::Down, 0);
    // Half the local zone is healthy: 50% >= 50%, stays local.
    assert_eq!(picks(&b, &p, &policy, 40), [0, 40, 0, 0]);
    b[1].set_health(Health::Down, 0);
    let seen = picks(&b, &p, &policy, 40);
    assert_eq!(seen, [0, 0, 20, 20]);
}

#[test]
fn zones_apply_within_the_groups_taking_traffic() {
    // Primary: a local and a remote; backup: two locals.
    let b = backends(&[1, 1, 1, 1]);
    let p = Placement::new(&[(0, true), (0, false), (1, true), (1, true)], 600).unwrap();
    let policy = Policy::default();
    assert_eq!(picks(&b, &p, &policy, 30), [30, 0, 0, 0]);
    b[0].set_health(Health::Down, 0);
    // The primary is at 50%: the backup joins, and the local zone of both groups is at 2/3.
    assert_eq!(picks(&b, &p, &policy, 30), [0, 0, 15, 15]);
    b[2].set_health(Health::Down, 0);
    // The local zone at 1/3: every zone.
    assert_eq!(picks(&b, &p, &policy, 30), [0, 15, 0, 15]);
}

#[test]
fn panic_mode_waits_until_nothing_is_left_to_spill_to() {
    let b = backends(&[1, 1, 1, 1, 1]);
    let labels = [(0, false), (0, false), (1, false), (1, false), (2, false)];
    let p = Placement::new(&labels, 700).unwrap();
    let panic = Policy {
        panic_threshold_milli: 900,
        ..Policy::default()
    };
    b[0].set_health(Health::Down, 0);
    // Primary short, the first backups fine: no panic although 4/5 < 90%.
    assert_eq!(picks(&b, &p, &panic, 30), [0, 10, 10, 10, 0]);
    b[2].set_health(Health::Down, 0);
    // Every group in use, 3/5 healthy: panic, the down ones are picked too.
    assert_eq!(picks(&b, &p, &panic, 30), [6, 6, 6, 6, 6]);
}

#[test]
fn an_ended_ejection_moves_the_scope_back() {
    let b = backends(&[1, 1]);
    let p = Placement::new(&[(0, false), (1, false)], 700).unwrap();
    let params = crate::outlier::Params {
        consecutive_5xx: 1,
        consecutive_gateway_errors: 0,
        consecutive_connect_failures: 0,
        base_ejection_ns: 1_000,
        max_ejection_ns: 10_000,
        max_ejected_milli: 1000,
    };
    let outcome = crate::outlier::Outcome::Status(500);
    assert!(crate::outlier::observe(&b, 0, outcome, 5_000, &params).is_some());
    assert_eq!(p.scope(&b, 5_500).max_rank, 1);
    assert_eq!(p.scope(&b, 5_999).max_rank, 1);
    assert_eq!(p.scope(&b, 6_000).max_rank, 0, "the ejection ended");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The cached scope equals a fresh computation after any change, and a pick within it
    /// only returns admitted backends.
    #[test]
    fn scope_is_fresh_and_respected(
        labels in prop::collection::vec((0u32..4, any::<bool>()), 2..10),
        changes in prop::collection::vec((0usize..10, 0u8..3), 0..20),
        threshold in 0u32..=1000,
    ) {
        let b = backends(&vec![1; labels.len()]);
        let Some(p) = Placement::new(&labels, threshold) else { return Ok(()) };
        let sel = selector(Algorithm::RoundRobin, &b);
        for (i, what) in changes {
            let x = &b[i % b.len()];
            match what {
                0 => { x.set_health(Health::Down, 0); }
                1 => { x.set_health(Health::Up, 0); }
                _ => { x.set_admin_state(AdminState::Disabled, 0); }
            }
            let cached = p.scope(&b, 0);
            let fresh = p.compute(&b, 0);
            prop_assert_eq!((cached.max_rank, cached.local_only), (fresh.max_rank, fresh.local_only));
            for _ in 0..b.len() {
                let ctx = PickContext::new(&[]);
                let got = pick_available_in(&b, &Policy::default(), Some(cached), &ctx, |c| sel.pick_with(&b, c));
                if let Some(i) = got {
                    prop_assert!(cached.admits(i) && b[i].eligible());
                }
            }
        }
    }
}
