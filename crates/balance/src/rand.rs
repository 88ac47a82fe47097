//! Fast non-cryptographic random numbers for random and two-choice balancing.
//!
//! [`WyRand`] is wyrand (Wang Yi): one add and one folded multiply per number, 64-bit state,
//! passes PractRand/BigCrush. [`thread_rand`] keeps one generator per thread, so workers draw
//! without sharing a cache line; seeds come from a global counter through a mixer, so each
//! thread gets its own stream. Selectors take the number in `PickContext::rand`, which keeps
//! them deterministic under test.

use crate::hash::{fold_mul, mix64};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// wyrand generator.
#[derive(Debug, Clone)]
pub struct WyRand(u64);

impl WyRand {
    pub fn new(seed: u64) -> Self {
        WyRand(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        fold_mul(self.0, self.0 ^ 0xe703_7ed1_a0b4_28db)
    }
}

fn thread_seed() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);
    // The process id and a stack address keep processes started together from drawing alike.
    let local = 0u8;
    let salt = u64::from(std::process::id()) << 32 ^ (&raw const local).addr() as u64;
    mix64(NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed) ^ salt)
}

thread_local! {
    static STATE: Cell<u64> = Cell::new(thread_seed());
}

/// A random `u64` from this thread's generator (no lock, no shared state).
pub fn thread_rand() -> u64 {
    STATE.with(|s| {
        let mut rng = WyRand(s.get());
        let r = rng.next_u64();
        s.set(rng.0);
        r
    })
}

/// Maps `r` uniformly onto `0..n` with a multiply-shift (Lemire), no division.
pub(crate) fn below(r: u64, n: u64) -> u64 {
    ((u128::from(r) * u128::from(n)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_uniform() {
        let mut rng = WyRand::new(7);
        let mut counts = [0u32; 10];
        for _ in 0..1_000_000 {
            counts[below(rng.next_u64(), 10) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (98_500..101_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn threads_get_different_streams() {
        let a = std::thread::spawn(|| [thread_rand(), thread_rand()])
            .join()
            .unwrap();
        let b = std::thread::spawn(|| [thread_rand(), thread_rand()])
            .join()
            .unwrap();
        assert_ne!(a, b);
        assert_ne!(a[0], a[1]);
    }
}
