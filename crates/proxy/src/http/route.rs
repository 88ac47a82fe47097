//! Routing: the first route whose every condition matches a request wins.

use super::fields::{Fields, as_text};
use crate::cluster::ClusterRuntime;
use crate::load::ClusterLoad;
use fulcrum_config::{HeaderRules, HostMatch, PathMatch, RouteConfig, ValueMatch};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use regex::Regex;
use std::sync::Arc;

/// A listener's routes, compiled once per config generation.
#[derive(Debug)]
pub(crate) struct Router {
    routes: Vec<Route>,
}

/// One compiled route.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) name: Arc<str>,
    host: Option<HostMatch>,
    path: Option<PathMatcher>,
    methods: Vec<Method>,
    headers: Vec<(HeaderName, ValueMatcher)>,
    query: Vec<(String, ValueMatcher)>,
    pub(crate) cluster: Arc<ClusterRuntime>,
    pub(crate) load: Arc<ClusterLoad>,
    pub(crate) request_rules: Rules,
    pub(crate) response_rules: Rules,
    pub(crate) retry_non_idempotent: bool,
}

#[derive(Debug)]
enum PathMatcher {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

#[derive(Debug)]
enum ValueMatcher {
    Present,
    Exact(String),
    Regex(Regex),
}

/// What a route looks at in a request.
pub(crate) struct RouteInput<'a, F: Fields> {
    pub(crate) method: &'a Method,
    /// Lower-case host without port, if the request named one.
    pub(crate) host: Option<&'a str>,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a F,
}

impl Router {
    /// Compiles `routes`; `cluster` finds a cluster by name (validation made sure it exists).
    /// A route whose cluster or pattern cannot be resolved is left out and logged.
    pub(crate) fn build(
        routes: &[RouteConfig],
        resolve: impl Fn(&str) -> Option<(Arc<ClusterRuntime>, Arc<ClusterLoad>)>,
    ) -> Router {
        let routes = routes
            .iter()
            .filter_map(|r| match Route::build(r, &resolve) {
                Ok(route) => Some(route),
                Err(why) => {
                    tracing::error!(route = %r.name, why, "route left out");
                    None
                }
            })
            .collect();
        Router { routes }
    }

    pub(crate) fn find<F: Fields>(&self, input: &RouteInput<'_, F>) -> Option<&Route> {
        self.routes.iter().find(|r| r.matches(input))
    }
}

impl Route {
    fn build(
        r: &RouteConfig,
        resolve: &impl Fn(&str) -> Option<(Arc<ClusterRuntime>, Arc<ClusterLoad>)>,
    ) -> Result<Route, String> {
        let (cluster, load) =
            resolve(&r.cluster).ok_or_else(|| format!("no cluster `{}`", r.cluster))?;
        let path = match &r.path {
            None => None,
            Some(PathMatch::Exact(p)) => Some(PathMatcher::Exact(p.clone())),
            Some(PathMatch::Prefix(p)) => Some(PathMatcher::Prefix(p.clone())),
            Some(PathMatch::Regex(p)) => Some(PathMatcher::Regex(full_match(p)?)),
        };
        let headers = r
            .headers
            .iter()
            .map(|h| Ok((header_name(&h.name)?, ValueMatcher::build(&h.value)?)))
            .collect::<Result<_, String>>()?;
        let query = r
            .query
            .iter()
            .map(|q| Ok((q.name.clone(), ValueMatcher::build(&q.value)?)))
            .collect::<Result<_, String>>()?;
        let methods = r
            .methods
            .iter()
            .map(|m| Method::from_bytes(m.as_bytes()).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        Ok(Route {
            name: Arc::from(r.name.as_str()),
            host: r.host.clone(),
            path,
            methods,
            headers,
            query,
            cluster,
            load,
            request_rules: Rules::build(&r.request_headers)?,
            response_rules: Rules::build(&r.response_headers)?,
            retry_non_idempotent: r.retry_non_idempotent,
        })
    }

    fn matches<F: Fields>(&self, input: &RouteInput<'_, F>) -> bool {
        self.host_matches(input.host)
            && self.path.as_ref().is_none_or(|p| p.matches(input.path))
            && (self.methods.is_empty() || self.methods.contains(input.method))
            && self.headers.iter().all(|(name, m)| {
                let mut values = input.headers.values_of(name.as_str());
                values.any(|v| as_text(v).is_some_and(|v| m.matches(v)))
            })
            && self
                .query
                .iter()
                .all(|(name, m)| query_values(input.query, name).any(|v| m.matches(v)))
    }

    fn host_matches(&self, host: Option<&str>) -> bool {
        match (&self.host, host) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(HostMatch::Exact(want)), Some(host)) => want == host,
            (Some(HostMatch::Suffix(suffix)), Some(host)) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
        }
    }
}

impl PathMatcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatcher::Exact(p) => path == p,
            PathMatcher::Prefix(p) => path.starts_with(p.as_str()),
            PathMatcher::Regex(re) => re.is_match(path),
        }
    }
}

impl ValueMatcher {
    fn build(m: &ValueMatch) -> Result<ValueMatcher, String> {
        Ok(match m {
            ValueMatch::Present => ValueMatcher::Present,
            ValueMatch::Exact(v) => ValueMatcher::Exact(v.clone()),
            ValueMatch::Regex(r) => ValueMatcher::Regex(Regex::new(r).map_err(|e| e.to_string())?),
        })
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            ValueMatcher::Present => true,
            ValueMatcher::Exact(v) => v == value,
            ValueMatcher::Regex(re) => re.is_match(value),
        }
    }
}

/// Values of `name` in a query string (`a=1&b=2&a=3`); a bare `a` has the value "".
fn query_values<'a>(query: Option<&'a str>, name: &'a str) -> impl Iterator<Item = &'a str> {
    query.unwrap_or("").split('&').filter_map(move |pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

fn full_match(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())
}

/// Header rewriting rules, compiled: remove, then set, then add.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    remove: Vec<HeaderName>,
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
}

impl Rules {
    pub(crate) fn build(r: &HeaderRules) -> Result<Rules, String> {
        let pair = |(n, v): &(String, String)| -> Result<(HeaderName, HeaderValue), String> {
            let value = HeaderValue::from_str(v).map_err(|e| e.to_string())?;
            Ok((header_name(n)?, value))
        };
        Ok(Rules {
            remove: r
                .remove
                .iter()
                .map(|n| header_name(n))
                .collect::<Result<_, _>>()?,
            set: r.set.iter().map(pair).collect::<Result<_, _>>()?,
            add: r.add.iter().map(pair).collect::<Result<_, _>>()?,
        })
    }

    /// Whether a field named `name` (any case) is removed or replaced by these rules.
    pub(crate) fn drops(&self, name: &[u8]) -> bool {
        let same = |n: &HeaderName| name.eq_ignore_ascii_case(n.as_str().as_bytes());
        self.remove.iter().any(same) || self.set.iter().any(|(n, _)| same(n))
    }

    /// The fields these rules write: those set, then those added.
    pub(crate) fn added(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.set.iter().chain(&self.add).map(|(n, v)| (n, v))
    }

    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_split_pairs() {
        let got: Vec<_> = query_values(Some("a=1&b=2&a=3&a"), "a").collect();
        assert_eq!(got, ["1", "3", ""]);
        assert_eq!(query_values(None, "a").count(), 0);
    }

    #[test]
    fn path_regex_must_match_whole_path() {
        let re = full_match("/v[0-9]+/.*").unwrap();
        assert!(re.is_match("/v2/users"));
        assert!(!re.is_match("/x/v2/users"));
    }

    #[test]
    fn rules_remove_then_set_then_add() {
        let rules = Rules::build(&HeaderRules {
            set: vec![("x-env".into(), "prod".into())],
            add: vec![("x-a".into(), "2".into())],
            remove: vec!["x-debug".into()],
        })
        .unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-debug", HeaderValue::from_static("1"));
        h.insert("x-env", HeaderValue::from_static("dev"));
        h.insert("x-a", HeaderValue::from_static("1"));
        rules.apply(&mut h);
        assert!(h.get("x-debug").is_none());
        assert_eq!(h.get("x-env").unwrap(), "prod");
        assert_eq!(h.get_all("x-a").iter().count(), 2);
    }
}
