//! Choosing a cluster by the ClientHello's server name (SNI passthrough).

use fulcrum_config::{HostMatch, SniConfig};
use std::collections::HashMap;

/// The `sni_routes` of a listener, ready to match: exact names first, then the longest
/// wildcard suffix (`*.example.com` matches any name ending in `.example.com`, one label or
/// more, as HTTP `host` routes do), then the default cluster.
#[derive(Debug, Clone)]
pub struct SniRouter {
    exact: HashMap<String, String>,
    /// (`.example.com`, cluster), longest suffix first.
    suffixes: Vec<(String, String)>,
    default: Option<String>,
}

impl SniRouter {
    pub fn new(config: &SniConfig) -> SniRouter {
        let mut exact = HashMap::new();
        let mut suffixes = Vec::new();
        for route in &config.routes {
            match &route.server_name {
                HostMatch::Exact(name) => {
                    exact
                        .entry(name.clone())
                        .or_insert_with(|| route.cluster.clone());
                }
                HostMatch::Suffix(suffix) => suffixes.push((suffix.clone(), route.cluster.clone())),
            }
        }
        // Stable: equal lengths keep file order.
        suffixes.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        SniRouter {
            exact,
            suffixes,
            default: config.default.clone(),
        }
    }

    /// The cluster for a server name (lower-case, as [`crate::peek`] returns it; `None`: the
    /// hello had none). `None`: no route and no default, so the connection is closed.
    pub fn route(&self, server_name: Option<&str>) -> Option<&str> {
        let found = server_name.and_then(|name| {
            if let Some(cluster) = self.exact.get(name) {
                return Some(cluster);
            }
            (self.suffixes.iter())
                .find(|(suffix, _)| name.len() > suffix.len() && name.ends_with(suffix.as_str()))
                .map(|(_, cluster)| cluster)
        });
        found.or(self.default.as_ref()).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::SniRoute;
    use std::time::Duration;

    fn router(default: Option<&str>) -> SniRouter {
        let route = |m: HostMatch, c: &str| SniRoute {
            server_name: m,
            cluster: c.into(),
        };
        SniRouter::new(&SniConfig {
            routes: vec![
                route(HostMatch::Suffix(".example.com".into()), "wild"),
                route(HostMatch::Exact("a.example.com".into()), "a"),
                route(HostMatch::Suffix(".api.example.com".into()), "api"),
            ],
            default: default.map(Into::into),
            peek_timeout: Duration::from_secs(5),
            max_hello: 16384,
        })
    }

    #[test]
    fn exact_then_longest_wildcard_then_default() {
        let r = router(Some("def"));
        assert_eq!(r.route(Some("a.example.com")), Some("a"));
        assert_eq!(r.route(Some("b.example.com")), Some("wild"));
        assert_eq!(r.route(Some("x.y.example.com")), Some("wild"));
        assert_eq!(r.route(Some("v1.api.example.com")), Some("api"));
        assert_eq!(r.route(Some("example.com")), Some("def"));
        assert_eq!(r.route(Some("other.org")), Some("def"));
        assert_eq!(r.route(None), Some("def"));
        let r = router(None);
        assert_eq!(r.route(Some("other.org")), None);
        assert_eq!(r.route(None), None);
        assert_eq!(r.route(Some(".example.com")), None);
    }
}
