//! The balancing properties the algorithms promise, checked through the public API over
//! millions of picks: shares follow weights, consistent hashing moves few keys when a backend
//! goes, and a key maps to the same backend in every thread and every process.

use fulcrum_balance::hash::{hash_bytes, mix64};
use fulcrum_balance::rand::WyRand;
use fulcrum_balance::{Algorithm, Backend, BoundedLoad, PickContext, Selector, selector};
use proptest::prelude::*;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

fn backend(i: usize, weight: u32) -> Arc<Backend> {
    let ip = Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8);
    Arc::new(Backend::new(SocketAddr::from((ip, 8080)), weight))
}

fn backends(weights: &[u32]) -> Vec<Arc<Backend>> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| backend(i, w))
        .collect()
}

fn pick(sel: &dyn Selector, b: &[Arc<Backend>], key: u64) -> usize {
    sel.pick_with(b, &PickContext::new(&[]).with_hash(key).with_rand(key))
        .unwrap()
}

/// The backend address each of `keys` keys lands on.
fn mapping(algorithm: Algorithm, b: &[Arc<Backend>], keys: u64) -> Vec<SocketAddr> {
    let sel = selector(algorithm, b);
    (0..keys)
        .map(|k| b[pick(&*sel, b, mix64(k))].address)
        .collect()
}

const CONSISTENT: [Algorithm; 2] = [
    Algorithm::RingHash { bounded_load: None },
    Algorithm::Maglev { bounded_load: None },
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Over 1,000,000 picks, every backend's share is within one percentage point of its
    /// weight's share.
    #[test]
    fn shares_match_weights(weights in prop::collection::vec(1u32..5, 2..8), seed: u64) {
        let b = backends(&weights);
        let wsum: u32 = weights.iter().sum();
        for algorithm in [
            Algorithm::WeightedRoundRobin,
            Algorithm::P2c,
            Algorithm::PeakEwma,
            Algorithm::Random,
            Algorithm::SourceHash,
            Algorithm::RingHash { bounded_load: None },
            Algorithm::Maglev { bounded_load: None },
        ] {
            let sel = selector(algorithm, &b);
            let mut rng = WyRand::new(seed);
            let mut counts = vec![0u64; b.len()];
            for _ in 0..1_000_000 {
                counts[pick(&*sel, &b, rng.next_u64())] += 1;
            }
            for (w, c) in weights.iter().zip(&counts) {
                let (want, got) = (f64::from(*w) / f64::from(wsum), *c as f64 / 1e6);
                prop_assert!((want - got).abs() <= 0.01, "{algorithm:?} weights {weights:?} counts {counts:?}");
            }
        }
    }

    /// Removing one of N backends moves the keys it held (about 1/N) and few others.
    #[test]
    fn removing_a_backend_moves_about_one_nth(n in 3usize..40, gone in 0usize..40) {
        let gone = gone % n;
        let all = backends(&vec![1; n]);
        let mut rest = all.clone();
        rest.remove(gone);
        let keys = 200_000;
        for algorithm in CONSISTENT {
            let (before, after) = (mapping(algorithm, &all, keys), mapping(algorithm, &rest, keys));
            let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count() as f64 / keys as f64;
            let needed = before.iter().filter(|a| **a == all[gone].address).count() as f64 / keys as f64;
            // Keys of the removed backend must move. The ring moves no others; Maglev churns
            // a few more (up to a third of the minimum at its table sizes).
            prop_assert!(moved >= needed);
            prop_assert!(moved <= needed * 1.35 + 0.002, "{algorithm:?} n={n} moved {moved:.4} needed {needed:.4}");
            prop_assert!(moved <= 1.35 / n as f64 + 0.005, "{algorithm:?} n={n} moved {moved:.4}");
        }
    }
}

/// Backend order in the config does not matter: the same set gives the same mapping.
#[test]
fn same_set_in_any_order_maps_alike() {
    let b = backends(&[1, 2, 3, 1, 1, 2]);
    let mut shuffled = b.clone();
    shuffled.rotate_left(2);
    shuffled.swap(0, 3);
    for algorithm in [Algorithm::SourceHash, CONSISTENT[0], CONSISTENT[1]] {
        assert_eq!(
            mapping(algorithm, &b, 50_000),
            mapping(algorithm, &shuffled, 50_000),
            "{algorithm:?}"
        );
    }
}

/// Every worker thread sends a key to the same backend.
#[test]
fn same_key_same_backend_in_every_thread() {
    let b = backends(&[1, 3, 2, 1]);
    for algorithm in [Algorithm::SourceHash, CONSISTENT[0], CONSISTENT[1]] {
        let sel = selector(algorithm, &b);
        let per_thread: Vec<Vec<usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..100_000)
                            .map(|k| pick(&*sel, &b, mix64(k)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(per_thread.windows(2).all(|w| w[0] == w[1]), "{algorithm:?}");
    }
}

/// A digest of where 100,000 keys land under each hashing algorithm.
fn mapping_digest() -> u64 {
    let b = backends(&[1, 3, 2, 1, 5]);
    let mut text = String::new();
    for algorithm in [
        Algorithm::SourceHash,
        CONSISTENT[0],
        CONSISTENT[1],
        Algorithm::RingHash {
            bounded_load: Some(BoundedLoad::DEFAULT),
        },
        Algorithm::Maglev {
            bounded_load: Some(BoundedLoad::DEFAULT),
        },
    ] {
        for a in mapping(algorithm, &b, 100_000) {
            text.push_str(&a.to_string());
        }
    }
    hash_bytes(text.as_bytes())
}

/// Two Fulcrum processes side by side agree without talking: a child process (this test
/// binary again, so with its own address-space layout and thread generators) computes the
/// same mapping.
#[test]
fn same_key_same_backend_in_every_process() {
    if std::env::var_os("FULCRUM_BALANCE_CHILD").is_some() {
        println!("DIGEST {}", mapping_digest());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "same_key_same_backend_in_every_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FULCRUM_BALANCE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let child: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("DIGEST ").map(|(_, d)| d))
        .unwrap_or_else(|| panic!("child printed no digest: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(child, mapping_digest());
}
