//! How a request picks its backend beyond the balancing policy: the key a hashing policy
//! hashes, and the persistence cookie. Shared by every way a request arrives (HTTP/1.1,
//! HTTP/2) and leaves (Fulcrum's own HTTP/1.1 path, hyper's client).

use super::fields::{Fields, as_text};
use super::route::Route;
use fulcrum_config::HashKey;
use std::net::IpAddr;

/// Where a request should go: what the route's cluster makes of its hash key and cookie.
#[derive(Debug, Default)]
pub(crate) struct Affinity {
    /// The hash, when the cluster balances by one.
    pub(crate) hash: Option<u64>,
    /// The persistence cookie's value, when the cluster persists by cookie and the request
    /// has one.
    pub(crate) cookie: Option<String>,
    /// The backend the client is persisted to, if it may take traffic.
    pub(crate) sticky: Option<usize>,
}

impl Affinity {
    /// The affinity of a request for `path` with `headers` from `client`.
    pub(crate) fn of<F: Fields>(
        route: &Route,
        path: &str,
        headers: &F,
        client: IpAddr,
    ) -> Affinity {
        let cluster = &route.cluster;
        let hash = cluster
            .uses_hash()
            .then(|| hash_key(&cluster.config.hash_key, path, headers, client));
        let cookie = cluster
            .persistence_cookie()
            .and_then(|n| cookie(headers, n))
            .map(str::to_owned);
        let sticky = cluster.persisted(client, cookie.as_deref());
        Affinity {
            hash,
            cookie,
            sticky,
        }
    }
}

/// The hash of what `key` names; the client's address when the request lacks it.
fn hash_key<F: Fields>(key: &HashKey, path: &str, headers: &F, client: IpAddr) -> u64 {
    use fulcrum_balance::hash::{hash_bytes, hash_ip};
    let found = match key {
        HashKey::ClientIp => None,
        HashKey::Path => Some(hash_bytes(path.as_bytes())),
        HashKey::Header(name) => headers.value_of(name.as_str()).map(hash_bytes),
        HashKey::Cookie(name) => cookie(headers, name).map(|v| hash_bytes(v.as_bytes())),
    };
    found.unwrap_or_else(|| hash_ip(client))
}

/// The value of cookie `name`, from every Cookie field (HTTP/2 may split them).
fn cookie<'h, F: Fields>(headers: &'h F, name: &'h str) -> Option<&'h str> {
    headers
        .values_of("cookie")
        .filter_map(as_text)
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::cookie;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn cookies_are_found_across_split_fields() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1; b=2"));
        h.append("cookie", HeaderValue::from_static("srv=x7"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "srv"), Some("x7"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
