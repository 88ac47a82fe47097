//! Session persistence (`[cluster.persistence]`): an inserted cookie naming the backend, or a
//! table of client IP to backend ([`fulcrum_balance::persistence`]).
//!
//! Persistence points at a backend only while that backend may take traffic (healthy or in
//! panic mode, not ejected, enabled); otherwise the pick is made as usual and the client is
//! persisted to the new backend. A persisted backend is used even outside the priority groups
//! or zone that new clients are sent to, so a session is not moved when a primary group or the
//! local zone recovers.

use super::ClusterRuntime;
use fulcrum_balance::Backend;
use fulcrum_balance::persistence::{CookieMap, DEFAULT_CAPACITY, SourceTable, set_cookie};
use fulcrum_config::{ClusterConfig, Persistence};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub(super) enum Sticky {
    Cookie {
        name: String,
        max_age: Option<Duration>,
        map: CookieMap,
    },
    Source {
        table: Arc<SourceTable>,
        /// `(address, index)` sorted by address.
        by_address: Box<[(SocketAddr, usize)]>,
    },
}

impl Sticky {
    /// The persistence of `config` over `backends`; a source-IP table with the same TTL is
    /// taken over from the cluster's previous generation, so clients stay where they were.
    pub(super) fn build(
        config: &ClusterConfig,
        backends: &[Arc<Backend>],
        previous: Option<&Sticky>,
    ) -> Option<Sticky> {
        Some(match config.persistence.as_ref()? {
            Persistence::Cookie { name, max_age } => Sticky::Cookie {
                name: name.clone(),
                max_age: *max_age,
                map: CookieMap::new(backends),
            },
            Persistence::SourceIp { ttl } => {
                let ttl_ns = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
                let table = match previous {
                    Some(Sticky::Source { table, .. }) if table.ttl_ns() == ttl_ns => {
                        Arc::clone(table)
                    }
                    _ => Arc::new(SourceTable::new(ttl_ns, DEFAULT_CAPACITY)),
                };
                let mut by_address: Vec<(SocketAddr, usize)> = backends
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (b.address, i))
                    .collect();
                by_address.sort_unstable();
                Sticky::Source {
                    table,
                    by_address: by_address.into(),
                }
            }
        })
    }
}

impl ClusterRuntime {
    /// The name of the persistence cookie, with `kind = "cookie"`: read its value from the
    /// request's `Cookie` fields and pass it to [`ClusterRuntime::persisted`] and
    /// [`ClusterRuntime::persist`].
    pub fn persistence_cookie(&self) -> Option<&str> {
        match &self.sticky {
            Some(Sticky::Cookie { name, .. }) => Some(name),
            _ => None,
        }
    }

    /// The backend this client is persisted to, if any and if it may take traffic now.
    /// `cookie` is the value of the [`ClusterRuntime::persistence_cookie`] cookie, if the
    /// request has one. Source-IP persistence takes a shard lock and refreshes the entry's TTL.
    /// `None` without `[cluster.persistence]`.
    pub fn persisted(&self, client_ip: IpAddr, cookie: Option<&str>) -> Option<usize> {
        let index = match self.sticky.as_ref()? {
            Sticky::Cookie { map, .. } => map.backend(cookie?)?,
            Sticky::Source { table, by_address } => {
                let address = table.lookup(client_ip, crate::clock::now_ns())?;
                let at = by_address.binary_search_by_key(&address, |e| e.0).ok()?;
                by_address[at].1
            }
        };
        self.takes_traffic(index).then_some(index)
    }

    /// Records that this client was served by backend `index`. With `kind = "cookie"`, returns
    /// the `Set-Cookie` field value to add to the response (`NAME=VALUE; Path=/; HttpOnly`,
    /// `; Max-Age=N` with `max_age`), or `None` when `cookie` (the request's) already names
    /// that backend. With `kind = "source_ip"`, remembers the client (a shard lock) and returns
    /// `None`. `None` without `[cluster.persistence]`.
    pub fn persist(&self, client_ip: IpAddr, cookie: Option<&str>, index: usize) -> Option<String> {
        match self.sticky.as_ref()? {
            Sticky::Cookie { name, max_age, map } => {
                if cookie.and_then(|c| map.backend(c)) == Some(index) {
                    return None;
                }
                Some(set_cookie(name, map.value(index)?, *max_age))
            }
            Sticky::Source { table, .. } => {
                let backend = self.backends.get(index)?;
                table.remember(client_ip, backend.address, crate::clock::now_ns());
                None
            }
        }
    }

    /// Clients in the source-IP table (an upper bound: expired ones may not be dropped yet);
    /// `None` without source-IP persistence.
    pub fn persisted_clients(&self) -> Option<usize> {
        match &self.sticky {
            Some(Sticky::Source { table, .. }) => Some(table.len()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ClusterRuntime;
    use fulcrum_balance::Health;
    use std::net::IpAddr;

    fn cluster(persistence: &str, protocol: &str) -> ClusterRuntime {
        let text = format!(
            "[[listener]]\nname = \"l\"\nbind = \"127.0.0.1:1\"\nprotocol = \"{protocol}\"\ncluster = \"c\"\n\
             [[cluster]]\nname = \"c\"\nbackends = [\"127.0.0.1:2\", \"127.0.0.1:3\", \"127.0.0.1:4\"]\n\
             [cluster.persistence]\n{persistence}"
        );
        let config = fulcrum_config::parse(&text, "<test>").expect("valid config");
        ClusterRuntime::build(&config.clusters[0], None)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_cookie_names_its_backend_until_the_backend_is_down() {
        let c = cluster(
            "kind = \"cookie\"\nname = \"srv\"\nmax_age = \"1h\"\n",
            "http",
        );
        assert_eq!(c.persistence_cookie(), Some("srv"));
        let client = ip("192.0.2.1");
        assert_eq!(c.persisted(client, None), None);
        let set = c.persist(client, None, 2).expect("a cookie to set");
        let (pair, attributes) = set.split_once("; ").unwrap();
        assert_eq!(attributes, "Path=/; HttpOnly; Max-Age=3600");
        let (name, value) = pair.split_once('=').unwrap();
        assert_eq!(name, "srv");
        assert!(!value.contains("127.0.0.1"));
        assert_eq!(c.persisted(client, Some(value)), Some(2));
        assert_eq!(
            c.persisted(ip("198.51.100.7"), Some(value)),
            Some(2),
            "any client"
        );
        assert_eq!(c.persist(client, Some(value), 2), None, "already set");
        assert!(c.persist(client, Some(value), 1).is_some(), "moved");
        assert_eq!(c.persisted(client, Some("nonsense")), None);
        c.backends[2].set_health(Health::Down, 0);
        assert_eq!(c.persisted(client, Some(value)), None);
        assert_eq!(
            c.pick_preferring(Some(2), &[], None).map(|i| i != 2),
            Some(true)
        );
    }

    #[test]
    fn source_ip_sticks_and_survives_a_reload() {
        let c = cluster("kind = \"source_ip\"\nttl = \"10m\"\n", "tcp");
        let client = ip("::ffff:192.0.2.1");
        assert_eq!(c.persisted(client, None), None);
        assert_eq!(c.persist(client, None, 1), None);
        assert_eq!(c.persisted(ip("192.0.2.1"), None), Some(1));
        assert_eq!(c.persisted_clients(), Some(1));
        // A reload that drops the first backend: indices move, the client stays put.
        let mut config = c.config.clone();
        config.backends.remove(0);
        let next = ClusterRuntime::build(&config, Some(&c));
        assert_eq!(next.persisted(client, None), Some(0));
        assert_eq!(next.backends[0].address, c.backends[1].address);
        next.backends[0].set_health(Health::Down, 0);
        assert_eq!(next.persisted(client, None), None);
    }
}
