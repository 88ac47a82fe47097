//! TLS for Fulcrum, with rustls and its AWS-LC provider (aws-lc-rs): everything about TLS except
//! moving the bytes.
//!
//! What this crate owns:
//! - [`store`]: certificate chains and keys from PEM files, the names each serves (SANs),
//!   and the rustls certificate resolver that picks one by SNI and key type, reloadable;
//! - [`server`]: a listener's `ServerConfig` ([`ServerTls`]): versions, suites, ALPN, session
//!   tickets (rotating, or from a shared key file) and cache, 0-RTT, client certificates,
//!   reload and a file-change poll, and the bounded handshake;
//! - [`client`]: a cluster's `ClientConfig` for its backends ([`ClientTls`]);
//! - [`peek`] and [`sni`]: the server name of a ClientHello read without terminating TLS, and
//!   the cluster it routes to (passthrough);
//! - [`identity`]: subject and fingerprint of a client certificate, for headers;
//! - [`check()`]: every TLS file of a config loaded and reported on, for `fulcrum check`;
//! - [`Prefixed`]: bytes already read (after a PROXY header) put back in front of a stream.
//!
//! - [`TlsConn`]: a terminated connection, read and written through `&self`, 0-RTT aware;
//!   its state (`session`): rustls's unbuffered connection for the handshake, then records
//!   opened and sealed in place (`record`) on the keys rustls derived.
//!
//! The proxy crate does the I/O: it calls [`ServerTls::accept`] on accepted connections,
//! [`peek::read_client_hello`] on passthrough listeners and [`ClientTls::connect`] on backend
//! connections.

#![forbid(unsafe_code)]

mod check;
pub mod client;
mod conn;
mod error;
pub mod files;
pub mod identity;
pub mod peek;
mod prefixed;
mod record;
pub mod server;
mod session;
pub mod sni;
pub mod store;
pub mod tickets;
mod watch;

pub use check::check;
pub use client::ClientTls;
pub use conn::TlsConn;
pub use error::TlsError;
pub use identity::ClientIdentity;
pub use peek::{Peek, PeekError, peek_sni};
pub use prefixed::Prefixed;
pub use server::{AcceptError, ServerTls};
pub use sni::SniRouter;

/// Seeds AWS-LC's random generator now, once per process. Its first use gathers CPU jitter
/// entropy (about 20-50 ms of CPU here, more on a busy machine); listeners and clusters with
/// TLS call this when they are built, so that no handshake waits for it.
pub(crate) fn warm_rng() {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        use aws_lc_rs::rand::SecureRandom;
        let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut [0u8; 1]);
    });
}
