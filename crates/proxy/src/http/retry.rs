//! Whether to try a request again on another backend, and when.
//!
//! A request is retried only if it can be sent again whole (no body: what a client streamed
//! is gone) and its method is idempotent, or its route allows more. Each retry goes to a
//! backend not tried yet, waits a jittered exponential back-off, and needs a place in the
//! cluster's retry budget: retries in flight stay below a share of requests in flight (plus a
//! small floor), so retries can never multiply an outage.

use super::respond::Cause;
use super::route::Route;
use crate::load::{ClusterLoad, Gauge, Held};
use fulcrum_config::{CircuitLimits, RetryConfig, RetryOn};
use http::Method;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// The longest back-off between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

pub(crate) struct Retry<'a> {
    config: &'a RetryConfig,
    limits: &'a CircuitLimits,
    load: &'a Arc<ClusterLoad>,
    left: u32,
    replayable: bool,
    made: u32,
}

fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Admits a request to the route's cluster within its `max_requests` breaker: the place it
/// holds while in flight, and its retry policy (`bodiless` requests can be sent again).
pub(crate) fn admit<'a>(
    route: &'a Route,
    bodiless: bool,
    method: &Method,
) -> Result<(Held, Retry<'a>), Cause> {
    let cluster = &route.cluster;
    let limits = &cluster.config.limits;
    let held = route
        .load
        .enter(Gauge::Requests, limits.max_requests)
        .ok_or(Cause::Overloaded)?;
    let any_method = route.retry_non_idempotent;
    let config = &cluster.config.retry;
    let retry = Retry::new(config, limits, &route.load, bodiless, method, any_method);
    Ok((held, retry))
}

impl<'a> Retry<'a> {
    fn new(
        config: &'a RetryConfig,
        limits: &'a CircuitLimits,
        load: &'a Arc<ClusterLoad>,
        bodiless: bool,
        method: &Method,
        any_method: bool,
    ) -> Self {
        let replayable = bodiless && (any_method || idempotent(method));
        Retry {
            config,
            limits,
            load,
            left: config.attempts,
            replayable,
            made: 0,
        }
    }

    /// Whether another try is possible at all (the budget is asked later, by [`take`]).
    pub(crate) fn possible(&self) -> bool {
        self.replayable && self.left > 0
    }

    /// Whether the config retries after this failure.
    pub(crate) fn on_failure(&self, cause: Cause) -> bool {
        let wanted = match cause {
            Cause::ConnectFailed => RetryOn::ConnectFailure,
            Cause::UpstreamReset | Cause::BadResponse => RetryOn::Reset,
            Cause::UpstreamTimeout if self.config.per_try_timeout.is_some() => RetryOn::Reset,
            _ => return false,
        };
        self.possible() && self.config.on.contains(&wanted)
    }

    /// Whether the config retries after a response with this status.
    pub(crate) fn on_status(&self, status: u16) -> bool {
        self.possible() && self.config.on.contains(&RetryOn::Status(status))
    }

    /// Takes a place in the retry budget for one more try, or says no.
    pub(crate) fn take(&mut self) -> Option<Held> {
        if !self.possible() {
            return None;
        }
        let config = self.config;
        if !self
            .load
            .retry_allowed(config.budget, config.min_retries, self.limits.max_retries)
        {
            self.load.retries_denied.fetch_add(1, Relaxed);
            return None;
        }
        let held = self.load.enter(Gauge::Retries, None)?;
        self.left -= 1;
        self.made += 1;
        self.load.retries_total.fetch_add(1, Relaxed);
        Some(held)
    }

    /// Back-off before the next try: `backoff × 2^(tries made - 1)`, full jitter, capped.
    pub(crate) fn backoff(&self) -> Duration {
        let base = self
            .config
            .backoff
            .saturating_mul(1 << self.made.saturating_sub(1).min(10));
        let cap = base.min(MAX_BACKOFF);
        let r = fulcrum_balance::rand::thread_rand();
        cap.mul_f64((r >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// How long to wait for a response head on one try.
    pub(crate) fn per_try(&self, response_timeout: Duration) -> Duration {
        self.config
            .per_try_timeout
            .map_or(response_timeout, |t| t.min(response_timeout))
    }
}
