//! Passive outlier detection: the data plane reports each try's outcome, and a backend whose
//! real traffic keeps failing is ejected for a while ([`fulcrum_balance::outlier`]).

use super::ClusterRuntime;
use fulcrum_balance::outlier::{self, Outcome, Params};
use fulcrum_config::OutlierConfig;

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `[cluster.outlier]` in the balance crate's terms.
pub(super) fn params(c: &OutlierConfig) -> Params {
    Params {
        consecutive_5xx: c.consecutive_5xx,
        consecutive_gateway_errors: c.consecutive_gateway_errors,
        consecutive_connect_failures: c.consecutive_connect_failures,
        base_ejection_ns: nanos(c.base_ejection_time),
        max_ejection_ns: nanos(c.max_ejection_time),
        max_ejected_milli: c.max_ejected,
    }
}

impl ClusterRuntime {
    /// Reports what one try on backend `index` came to. A no-op without `[cluster.outlier]`
    /// (one branch). Otherwise a few relaxed atomics on the backend; the clock is read only
    /// for a failure or an ejected backend. An ejection is logged (`warn`, "backend ejected")
    /// and counted (`BackendStats::ejections`).
    ///
    /// Call it once per try, with the backend's final answer:
    /// - after a connect attempt: [`Outcome::Connected`] or [`Outcome::ConnectFailure`];
    /// - HTTP, when the response head arrives: [`Outcome::Status`] (also a status the retry
    ///   policy takes, before retrying); when none arrives: [`Outcome::Reset`] (closed, reset
    ///   or an invalid head) or [`Outcome::Timeout`] (response timeout). Not for a pooled
    ///   connection found closed before any byte (not the backend's failure), nor for a try
    ///   the client abandoned.
    pub fn report(&self, index: usize, outcome: Outcome) {
        let Some(params) = &self.outlier else {
            return;
        };
        let Some(backend) = self.backends.get(index) else {
            return;
        };
        let failure = !matches!(
            outcome,
            Outcome::Success | Outcome::Connected | Outcome::Status(0..500)
        );
        let now = if failure || backend.ejected() {
            crate::clock::now_ns()
        } else {
            0
        };
        let Some(e) = outlier::observe(&self.backends, index, outcome, now, params) else {
            return;
        };
        tracing::warn!(
            cluster = self.name(),
            backend = %backend.address,
            reason = e.reason.as_str(),
            streak = e.streak,
            ejected_ms = e.duration_ns / 1_000_000,
            ejections = backend.stats.ejections.load(std::sync::atomic::Ordering::Relaxed),
            "backend ejected"
        );
    }

    /// The cluster's `[cluster.outlier]` in numbers, if it has one.
    pub fn outlier(&self) -> Option<&Params> {
        self.outlier.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use crate::ClusterRuntime;
    use fulcrum_balance::outlier::Outcome;

    fn cluster(outlier: &str) -> ClusterRuntime {
        let text = format!(
            "[[listener]]\nname = \"l\"\nbind = \"127.0.0.1:1\"\nprotocol = \"tcp\"\ncluster = \"c\"\n\
             [[cluster]]\nname = \"c\"\nbackends = [\"127.0.0.1:2\", \"127.0.0.1:3\"]\n{outlier}"
        );
        let config = fulcrum_config::parse(&text, "<test>").expect("valid config");
        ClusterRuntime::build(&config.clusters[0], None)
    }

    #[test]
    fn reports_eject_and_picks_avoid_the_ejected() {
        let c = cluster(
            "[cluster.outlier]\nconsecutive_connect_failures = 2\nbase_ejection_time = \"1m\"\nmax_ejected = 0.5\n",
        );
        c.report(0, Outcome::ConnectFailure);
        c.report(0, Outcome::Connected);
        c.report(0, Outcome::ConnectFailure);
        assert!(!c.backends[0].ejected());
        c.report(0, Outcome::ConnectFailure);
        assert!(c.backends[0].ejected());
        assert!((0..10).all(|_| c.pick(&[], None) == Some(1)));
        assert!(!c.takes_traffic(0));
        assert_eq!(c.pick_preferring(Some(0), &[], None), Some(1));
        // The cap: half of two is one.
        (0..5).for_each(|_| c.report(1, Outcome::ConnectFailure));
        assert!(!c.backends[1].ejected());
    }

    #[test]
    fn without_outlier_reports_do_nothing_and_a_reload_readmits() {
        let c = cluster("");
        (0..100).for_each(|_| c.report(0, Outcome::Status(500)));
        assert!(c.backends[0].eligible());
        let ejecting = cluster("[cluster.outlier]\nconsecutive_5xx = 1\nmax_ejected = 0.5\n");
        ejecting.report(1, Outcome::Status(500));
        assert!(ejecting.backends[1].ejected());
        let reloaded = ClusterRuntime::build(&c.config, Some(&ejecting));
        assert!(reloaded.backends[1].eligible(), "outlier removed: back in");
    }
}
