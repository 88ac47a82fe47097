//! Priority groups and zones: which backends of a cluster may take traffic at all, before
//! availability and the selector decide among them.
//!
//! **Priority groups.** Backends carry a priority (0 is the primary group, higher numbers are
//! backups). The groups are taken in order: a group takes traffic if every group before it is
//! short, a group being short when the weight of its eligible backends is below `threshold`
//! of the weight of its enabled ones (or nothing in it is eligible). So with the default 0.7,
//! a backup group gets traffic once less than 70% of the primary group is healthy, and then
//! both groups share it (the primary's remaining healthy backends and the backup's). The last
//! group always takes traffic when all before it are short.
//!
//! **Zones.** With a `local_zone`, the eligible backends of that zone among the groups taking
//! traffic are preferred while they are not short by the same rule (their eligible weight at
//! least `threshold` of their enabled weight, and not zero); otherwise every zone is used.
//!
//! **Panic mode** applies only when every group and every zone is in use: while a backup group
//! or another zone can take the load, down backends are never picked.
//!
//! The result, a [`Scope`], is what [`crate::availability::pick_available_in`] filters picks
//! with: a backend out of scope is refused like a disabled one and the selector re-picks. It
//! costs O(backends) to compute, so it is cached per cluster in one `AtomicU64` tagged with
//! [`crate::backend::state_epoch`] (which every health, admin, weight or ejection change
//! moves): a pick reads two atomics and compares. Ejections end by time, not by a write, so the
//! computation also registers the earliest end of the ejections it saw, and the first pick
//! past it moves the epoch ([`expire`]).

use crate::Backend;
use crate::backend::{bump_state_epoch, state_epoch};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Priority groups at most (priorities are 0..=15).
pub const MAX_GROUPS: usize = 16;

/// The earliest end of an ejection some cluster's cached scope depends on (`u64::MAX`: none).
static NEXT_EXPIRY: AtomicU64 = AtomicU64::new(u64::MAX);

/// Moves the state epoch if an ejection a cached scope depends on has ended by `now_ns`. One
/// relaxed load unless one has.
pub fn expire(now_ns: u64) {
    let next = NEXT_EXPIRY.load(Relaxed);
    if now_ns >= next
        && NEXT_EXPIRY
            .compare_exchange(next, u64::MAX, Relaxed, Relaxed)
            .is_ok()
    {
        // Every scope computed from here on registers the ejections still running.
        bump_state_epoch();
    }
}

/// The labels of a cluster's backends, fixed when the cluster is built.
#[derive(Debug)]
pub struct Placement {
    /// Per backend: the rank of its priority among the cluster's distinct priorities.
    rank: Box<[u8]>,
    /// Per backend: in the local zone.
    local: Box<[bool]>,
    groups: u8,
    /// A local zone is set, some backends are in it and some are not.
    zoned: bool,
    threshold_milli: u32,
    /// `epoch << 32 | VALID | scope bits`, epoch truncated to 32 bits.
    cache: AtomicU64,
}

const VALID: u64 = 1 << 31;
const LOCAL_ONLY: u64 = 1 << 8;

/// What a pick may take: groups up to `max_rank`, and only local ones if `local_only`.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    placement: &'a Placement,
    pub max_rank: u8,
    pub local_only: bool,
}

impl Scope<'_> {
    /// Whether backend `index` may take this pick.
    #[inline]
    pub fn admits(&self, index: usize) -> bool {
        let p = self.placement;
        p.rank.get(index).is_some_and(|&r| r <= self.max_rank)
            && (!self.local_only || p.local.get(index).copied().unwrap_or(false))
    }

    /// Every group and zone is in use: panic mode may apply.
    pub fn whole(&self) -> bool {
        !self.local_only && usize::from(self.max_rank) + 1 >= usize::from(self.placement.groups)
    }
}

impl Placement {
    /// The placement of backends with these `(priority, in the local zone)` labels, or `None`
    /// when it would admit everything always (one group, no zone preference to make).
    pub fn new(labels: &[(u32, bool)], threshold_milli: u32) -> Option<Placement> {
        let mut priorities: Vec<u32> = labels.iter().map(|l| l.0).collect();
        priorities.sort_unstable();
        priorities.dedup();
        priorities.truncate(MAX_GROUPS);
        let rank = labels
            .iter()
            .map(|l| {
                let r = priorities.partition_point(|&p| p < l.0);
                r.min(MAX_GROUPS - 1) as u8
            })
            .collect();
        let locals = labels.iter().filter(|l| l.1).count();
        let zoned = locals > 0 && locals < labels.len();
        if priorities.len() <= 1 && !zoned {
            return None;
        }
        Some(Placement {
            rank,
            local: labels.iter().map(|l| l.1).collect(),
            groups: priorities.len() as u8,
            zoned,
            threshold_milli,
            cache: AtomicU64::new(0),
        })
    }

    /// Number of priority groups.
    pub fn groups(&self) -> u8 {
        self.groups
    }

    /// The rank of backend `index`'s priority group (0: the first).
    pub fn rank(&self, index: usize) -> u8 {
        self.rank.get(index).copied().unwrap_or(0)
    }

    /// Whether backend `index` is in the local zone.
    pub fn is_local(&self, index: usize) -> bool {
        self.local.get(index).copied().unwrap_or(false)
    }

    /// The scope for a pick at `now_ns`: cached unless a backend's state changed.
    pub fn scope(&self, backends: &[Arc<Backend>], now_ns: u64) -> Scope<'_> {
        expire(now_ns);
        let epoch = state_epoch();
        let cached = self.cache.load(Relaxed);
        if cached & VALID != 0 && cached >> 32 == epoch & 0xffff_ffff {
            return self.decode(cached);
        }
        let scope = self.compute(backends, now_ns);
        let bits = (epoch & 0xffff_ffff) << 32
            | VALID
            | if scope.local_only { LOCAL_ONLY } else { 0 }
            | u64::from(scope.max_rank);
        self.cache.store(bits, Relaxed);
        scope
    }

    fn decode(&self, bits: u64) -> Scope<'_> {
        Scope {
            placement: self,
            max_rank: (bits & 0xff) as u8,
            local_only: bits & LOCAL_ONLY != 0,
        }
    }

    /// The scope from the backends' state now (O(backends) relaxed loads).
    pub fn compute(&self, backends: &[Arc<Backend>], now_ns: u64) -> Scope<'_> {
        let mut healthy = [0u64; MAX_GROUPS];
        let mut enabled = [0u64; MAX_GROUPS];
        let mut next_end = u64::MAX;
        for (i, b) in backends.iter().enumerate() {
            if b.admin_state() != crate::AdminState::Enabled {
                continue;
            }
            let r = usize::from(self.rank(i));
            let w = u64::from(b.weight());
            enabled[r] += w;
            if b.eligible_at(now_ns) {
                healthy[r] += w;
            }
            if b.ejected_at(now_ns) {
                next_end = next_end.min(b.stats.outlier.until_ns());
            }
        }
        if next_end != u64::MAX {
            NEXT_EXPIRY.fetch_min(next_end, Relaxed);
        }
        let last = self.groups.saturating_sub(1);
        let max_rank = (0..self.groups)
            .find(|&r| {
                enough(
                    healthy[r as usize],
                    enabled[r as usize],
                    self.threshold_milli,
                )
            })
            .unwrap_or(last);
        let mut local_only = false;
        if self.zoned {
            let (mut healthy, mut enabled) = (0u64, 0u64);
            for (i, b) in backends.iter().enumerate() {
                if !self.is_local(i)
                    || self.rank(i) > max_rank
                    || b.admin_state() != crate::AdminState::Enabled
                {
                    continue;
                }
                enabled += u64::from(b.weight());
                if b.eligible_at(now_ns) {
                    healthy += u64::from(b.weight());
                }
            }
            local_only = enough(healthy, enabled, self.threshold_milli);
        }
        Scope {
            placement: self,
            max_rank,
            local_only,
        }
    }
}

/// Not short: some healthy weight, and at least `threshold_milli` of the enabled weight.
fn enough(healthy: u64, enabled: u64, threshold_milli: u32) -> bool {
    healthy > 0 && healthy * 1000 >= u64::from(threshold_milli) * enabled
}

#[cfg(test)]
mod tests;
