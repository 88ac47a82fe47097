//! A backend, its state (health, admin state, weight override, slow start, outlier ejection)
//! and its shared counters.
//!
//! The state is a handful of relaxed atomics next to the address, read on every pick
//! ([`Backend::eligible`]) and written rarely: by the health checker, the admin API and
//! reloads (on the control thread), and by outlier ejection (on the worker that saw the
//! failure). Nothing orders one field against another; a pick that races with a change sees
//! the old or the new value of each, both of which are safe.
//!
//! Every change of what a pick may take (health, admin state, weight override, ejection) adds
//! one to a process-wide [`state_epoch`], which [`crate::placement`] uses to know when its
//! cached view of a cluster is stale.

use crossbeam_utils::CachePadded;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};

/// Bit of `Backend::out`: failing its health checks.
const HEALTH_DOWN: u8 = 1;
/// Bit of `Backend::out`: ejected by outlier detection (until `OutlierState::until_ns`).
pub(crate) const EJECTED: u8 = 2;

static STATE_EPOCH: AtomicU64 = AtomicU64::new(1);

/// A number that changes whenever any backend's health, admin state, weight override or
/// ejection changes (in this process). Equal readings mean nothing changed in between.
pub fn state_epoch() -> u64 {
    STATE_EPOCH.load(Relaxed)
}

/// Records a change of what picks may take (see [`state_epoch`]).
pub(crate) fn bump_state_epoch() {
    STATE_EPOCH.fetch_add(1, Relaxed);
}

/// What active health checks say about a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Passing, or not checked (no `[cluster.health]`), or not checked yet.
    Up,
    /// Failed `fall` checks in a row and has not passed `rise` since.
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What an operator said about a backend through the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AdminState {
    /// Takes new connections and requests (when healthy).
    Enabled = 0,
    /// Takes nothing new, not even in panic mode; open connections go on.
    Disabled = 1,
    /// Like disabled, meant to be watched until its open connections reach zero.
    Draining = 2,
}

impl AdminState {
    pub const ALL: [AdminState; 3] = [
        AdminState::Enabled,
        AdminState::Disabled,
        AdminState::Draining,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminState::Enabled => "enabled",
            AdminState::Disabled => "disabled",
            AdminState::Draining => "draining",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => AdminState::Disabled,
            2 => AdminState::Draining,
            _ => AdminState::Enabled,
        }
    }
}

/// One backend server of a cluster.
#[derive(Debug)]
pub struct Backend {
    pub address: SocketAddr,
    /// The configured share of new connections (≥ 1). Atomic so a reload can change it in
    /// place while connections keep counting against the same backend.
    weight: AtomicU32,
    /// A weight set through the admin API, replacing `weight`; 0: none.
    weight_override: AtomicU32,
    /// Why the backend is out, as bits: [`HEALTH_DOWN`], [`EJECTED`]; 0: in.
    out: AtomicU8,
    /// `AdminState` as 0, 1, 2.
    admin: AtomicU8,
    /// When the backend last became able to take traffic (healthy, enabled, or added by a
    /// reload), on the caller's monotonic nanosecond clock, plus one; 0: never (it was there
    /// from the start). Slow start ramps from here.
    ready_since: AtomicU64,
    pub stats: CachePadded<BackendStats>,
}

impl Backend {
    pub fn new(address: SocketAddr, weight: u32) -> Self {
        Backend {
            address,
            weight: AtomicU32::new(weight.max(1)),
            weight_override: AtomicU32::new(0),
            out: AtomicU8::new(0),
            admin: AtomicU8::new(0),
            ready_since: AtomicU64::new(0),
            stats: CachePadded::new(BackendStats::default()),
        }
    }

    /// The weight selectors use: the admin override if any, else the configured weight.
    pub fn weight(&self) -> u32 {
        match self.weight_override.load(Relaxed) {
            0 => self.weight.load(Relaxed),
            w => w,
        }
    }

    /// The weight from the config file.
    pub fn config_weight(&self) -> u32 {
        self.weight.load(Relaxed)
    }

    /// Changes the configured weight (values below 1 become 1). Selectors that precompute from
    /// weights must be rebuilt to see it.
    pub fn set_weight(&self, weight: u32) {
        self.weight.store(weight.max(1), Relaxed);
    }

    /// The admin API's weight, if one is set.
    pub fn weight_override(&self) -> Option<u32> {
        match self.weight_override.load(Relaxed) {
            0 => None,
            w => Some(w),
        }
    }

    /// Sets (values below 1 become 1) or clears the admin weight. Rebuild precomputing
    /// selectors after.
    pub fn set_weight_override(&self, weight: Option<u32>) {
        let w = weight.map_or(0, |w| w.max(1));
        if self.weight_override.swap(w, Relaxed) != w {
            bump_state_epoch();
        }
    }

    pub fn health(&self) -> Health {
        if self.out.load(Relaxed) & HEALTH_DOWN == 0 {
            Health::Up
        } else {
            Health::Down
        }
    }

    /// Records what the health checker decided at `now_ns`; a backend coming up starts its
    /// slow start. Returns whether the health changed.
    pub fn set_health(&self, health: Health, now_ns: u64) -> bool {
        let down = health == Health::Down;
        let old = if down {
            self.out.fetch_or(HEALTH_DOWN, Relaxed)
        } else {
            self.out.fetch_and(!HEALTH_DOWN, Relaxed)
        };
        let changed = (old & HEALTH_DOWN != 0) != down;
        if changed {
            bump_state_epoch();
            if !down {
                self.mark_ready(now_ns);
            }
        }
        changed
    }

    /// Ejected by outlier detection, by the flag alone: the ejection may have run out without
    /// anyone noticing yet (see [`Backend::ejected_at`]).
    pub fn ejected(&self) -> bool {
        self.out.load(Relaxed) & EJECTED != 0
    }

    /// Ejected and the ejection not over at `now_ns`.
    pub fn ejected_at(&self, now_ns: u64) -> bool {
        self.ejected() && now_ns < self.stats.outlier.until_ns()
    }

    /// Sets or clears the ejected flag; returns whether it was set before.
    pub(crate) fn set_ejected(&self, ejected: bool) -> bool {
        let old = if ejected {
            self.out.fetch_or(EJECTED, Relaxed)
        } else {
            self.out.fetch_and(!EJECTED, Relaxed)
        };
        if (old & EJECTED != 0) != ejected {
            bump_state_epoch();
        }
        old & EJECTED != 0
    }

    pub fn admin_state(&self) -> AdminState {
        AdminState::from_u8(self.admin.load(Relaxed))
    }

    /// Sets the admin state at `now_ns`; enabling a disabled or draining backend starts its
    /// slow start. Returns the previous state.
    pub fn set_admin_state(&self, state: AdminState, now_ns: u64) -> AdminState {
        let old = AdminState::from_u8(self.admin.swap(state as u8, Relaxed));
        if old != state {
            bump_state_epoch();
        }
        if old != AdminState::Enabled && state == AdminState::Enabled {
            self.mark_ready(now_ns);
        }
        old
    }

    /// Forgets what the admin API set: enabled, no weight override.
    pub fn reset_admin(&self) {
        self.admin.store(AdminState::Enabled as u8, Relaxed);
        self.weight_override.store(0, Relaxed);
        bump_state_epoch();
    }

    /// Starts a slow start at `now_ns` (a backend added by a reload).
    pub fn mark_ready(&self, now_ns: u64) {
        self.ready_since.store(now_ns.saturating_add(1), Relaxed);
    }

    /// When the backend last became ready (see [`Backend::mark_ready`]); `None` if it has
    /// been ready since it was created.
    pub fn ready_since(&self) -> Option<u64> {
        match self.ready_since.load(Relaxed) {
            0 => None,
            t => Some(t - 1),
        }
    }

    /// Healthy, not ejected and enabled: may take new connections and requests (panic mode
    /// aside). One load each of two bytes: this is what every pick reads.
    pub fn eligible(&self) -> bool {
        self.out.load(Relaxed) == 0 && self.admin.load(Relaxed) == 0
    }

    /// [`Backend::eligible`], counting an ejection that ran out by `now_ns` as over.
    pub fn eligible_at(&self, now_ns: u64) -> bool {
        self.eligible()
            || (self.admin.load(Relaxed) == 0
                && self.out.load(Relaxed) == EJECTED
                && !self.ejected_at(now_ns))
    }

    /// The weight with slow start applied at `now_ns` for a window of `slow_start_ns`: see
    /// [`crate::availability::ramp_milli`]. At least 1.
    pub fn effective_weight(&self, now_ns: u64, slow_start_ns: u64) -> u32 {
        let ramp = crate::availability::ramp_milli(self.ready_since(), now_ns, slow_start_ns);
        let w = u64::from(self.weight()) * u64::from(ramp) / 1000;
        u32::try_from(w).unwrap_or(u32::MAX).max(1)
    }

    /// Open connections to this backend right now.
    pub fn active(&self) -> u64 {
        self.stats.active.load(Relaxed)
    }

    /// Requests sent to this backend and not yet answered.
    pub fn outstanding(&self) -> u64 {
        self.stats.pending.load(Relaxed)
    }

    /// Counts a request (L7) or connection (L4) sent to this backend; the two-choice and
    /// peak-EWMA selectors read this count. Pair with [`Backend::finish_request`] or
    /// [`Backend::abandon_request`].
    pub fn start_request(&self) {
        self.stats.pending.fetch_add(1, Relaxed);
    }

    /// Ends a request counted by [`Backend::start_request`] and feeds its latency (`rtt_ns`,
    /// e.g. time to response headers) into the peak-EWMA estimate at time `now_ns` (monotonic
    /// nanoseconds on the caller's clock, the same clock the selector is given).
    pub fn finish_request(&self, rtt_ns: u64, now_ns: u64) {
        self.abandon_request();
        crate::peak_ewma::observe(&self.stats, rtt_ns, now_ns);
    }

    /// Ends a request counted by [`Backend::start_request`] without a latency sample.
    pub fn abandon_request(&self) {
        // Saturating: a stray extra call must not wrap to u64::MAX and starve the backend.
        let _ = self
            .stats
            .pending
            .fetch_update(Relaxed, Relaxed, |p| p.checked_sub(1));
    }

    /// The peak-EWMA latency estimate in nanoseconds, decayed to `now_ns` (0 before any sample).
    pub fn latency_estimate_ns(&self, now_ns: u64) -> f64 {
        crate::peak_ewma::estimate(&self.stats, now_ns)
    }
}

/// Counters every worker thread updates for one backend. Relaxed atomics: each is a
/// statistic on its own; nothing orders one against another.
#[derive(Debug, Default)]
pub struct BackendStats {
    /// Connections open to the backend now.
    pub active: AtomicU64,
    /// Connections established to the backend since start.
    pub connections: AtomicU64,
    /// Connect attempts that failed (refused, unreachable, timed out).
    pub connect_errors: AtomicU64,
    /// Bytes sent to the backend (client -> backend).
    pub bytes_sent: AtomicU64,
    /// Bytes received from the backend (backend -> client).
    pub bytes_received: AtomicU64,
    /// Requests in flight (see [`Backend::start_request`]).
    pub pending: AtomicU64,
    /// Peak-EWMA latency estimate in nanoseconds, as `f64` bits (0.0 before any sample).
    pub latency_ewma: AtomicU64,
    /// When `latency_ewma` was last updated, on the caller's monotonic nanosecond clock.
    pub latency_stamp_ns: AtomicU64,
    /// Active health checks run.
    pub health_checks: AtomicU64,
    /// Active health checks that failed.
    pub health_failures: AtomicU64,
    /// Health changes (up to down and down to up).
    pub health_changes: AtomicU64,
    /// Times outlier detection ejected the backend.
    pub ejections: AtomicU64,
    /// Outlier detection's streaks and ejection times.
    pub outlier: crate::outlier::OutlierState,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> Backend {
        Backend::new(SocketAddr::from(([127, 0, 0, 1], 80)), 4)
    }

    #[test]
    fn starts_up_enabled_and_ready() {
        let b = b();
        assert_eq!(
            (b.health(), b.admin_state(), b.ready_since()),
            (Health::Up, AdminState::Enabled, None)
        );
        assert!(b.eligible());
        assert_eq!(b.effective_weight(5, 100), 4);
    }

    #[test]
    fn coming_up_starts_slow_start() {
        let b = b();
        assert!(b.set_health(Health::Down, 10));
        assert!(!b.eligible());
        assert!(!b.set_health(Health::Down, 20));
        assert_eq!(b.ready_since(), None);
        assert!(b.set_health(Health::Up, 0));
        assert_eq!(b.ready_since(), Some(0));
        assert_eq!(b.effective_weight(0, 100), 1, "10% of 4, at least 1");
        assert_eq!(b.effective_weight(50, 100), 2);
        assert_eq!(b.effective_weight(100, 100), 4);
    }

    #[test]
    fn admin_state_and_weight_override() {
        let b = b();
        assert_eq!(
            b.set_admin_state(AdminState::Draining, 7),
            AdminState::Enabled
        );
        assert!(!b.eligible());
        assert_eq!(b.ready_since(), None);
        b.set_admin_state(AdminState::Enabled, 7);
        assert_eq!(b.ready_since(), Some(7));
        b.set_weight_override(Some(9));
        assert_eq!((b.weight(), b.config_weight()), (9, 4));
        b.set_weight(5);
        assert_eq!((b.weight(), b.config_weight()), (9, 5));
        b.set_admin_state(AdminState::Disabled, 8);
        b.reset_admin();
        assert_eq!((b.weight(), b.weight_override()), (5, None));
        assert_eq!(b.admin_state(), AdminState::Enabled);
    }
}
