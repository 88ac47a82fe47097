//! SNI passthrough: a TCP listener reads the ClientHello without terminating TLS, routes on
//! its server name, and relays the connection (hello included) to the chosen cluster.

use crate::cluster::ClusterRuntime;
use crate::load::ClusterLoad;
use bytes::BytesMut;
use fulcrum_config::SniConfig;
use fulcrum_tls::sni::SniRouter;
use fulcrum_tls::{Peek, peek_sni};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A listener's SNI routes, resolved to clusters, for one config generation.
#[derive(Debug)]
pub(crate) struct SniRuntime {
    router: SniRouter,
    clusters: Vec<(String, Arc<ClusterRuntime>, Arc<ClusterLoad>)>,
    timeout: Duration,
    max_hello: usize,
}

type Resolved = (Arc<ClusterRuntime>, Arc<ClusterLoad>);

impl SniRuntime {
    pub(crate) fn build(config: &SniConfig, resolve: impl Fn(&str) -> Option<Resolved>) -> Self {
        let names = config
            .routes
            .iter()
            .map(|r| r.cluster.as_str())
            .chain(config.default.as_deref());
        let clusters = names
            .filter_map(|n| resolve(n).map(|(c, l)| (n.to_owned(), c, l)))
            .collect();
        SniRuntime {
            router: SniRouter::new(config),
            clusters,
            timeout: config.peek_timeout,
            max_hello: config.max_hello,
        }
    }

    /// Reads the ClientHello into `buf` (bounded in size and time) and picks the cluster its
    /// server name routes to. `Err` says why the connection is closed instead.
    pub(crate) async fn route(
        &self,
        stream: &TcpStream,
        buf: &mut BytesMut,
    ) -> Result<&(String, Arc<ClusterRuntime>, Arc<ClusterLoad>), &'static str> {
        let deadline = Instant::now() + self.timeout;
        let name = loop {
            match peek_sni(buf, self.max_hello) {
                Ok(Peek::Complete { server_name }) => break server_name,
                Ok(Peek::Partial) => {}
                Err(_) => return Err("not a valid TLS ClientHello"),
            }
            match crate::http::read_some_until(stream, buf, deadline).await {
                Ok(n) if n > 0 => {}
                Ok(_) => return Err("closed before the ClientHello ended"),
                Err(_) => return Err("no whole ClientHello in time"),
            }
        };
        let cluster = self
            .router
            .route(name.as_deref())
            .ok_or("no route for this server name")?;
        self.clusters
            .iter()
            .find(|(n, ..)| n == cluster)
            .ok_or("route to an unknown cluster")
    }
}
