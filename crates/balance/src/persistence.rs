//! Session persistence: keeping a client on the backend it used before.
//!
//! - **Cookie**: the backend is named in a cookie Fulcrum inserts. The value is
//!   [`cookie_value`]: 16 hex digits of a fixed keyed hash of the backend's address, the same in
//!   every Fulcrum process, so instances side by side and restarts agree. It does not spell the
//!   address, but it is not a secret either: who knows the key (it is in the source) can test
//!   guessed addresses against it. [`CookieMap`] maps a value back to a backend in O(log n).
//! - **Source IP**: a [`SourceTable`] per cluster maps client IP to backend address. Entries
//!   expire `ttl` after their last use (each use refreshes). It is bounded: 16 shards, each a
//!   `Mutex` over two hash maps (the current generation and the previous one); when the
//!   current one fills half the shard's share, it becomes the previous one and the old
//!   previous one is dropped, so the least recently used half goes first. A lookup that finds
//!   an entry in the previous generation moves it to the current one. Every operation is O(1)
//!   (amortized) under one shard's lock, held for a hash-map probe or two; the lock is taken
//!   only by clusters with `kind = "source_ip"`, twice per connection or request (look up,
//!   remember). Entries hold the backend's address, not its index, so a table handed to the
//!   next generation of its cluster on reload stays right.
//!
//! This is the one module of the crate that locks; nothing on the ordinary pick path uses it.

use crate::Backend;
use crate::hash::{hash_backend, hash_ip, mix64};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Key of [`cookie_value`]'s hash. Changing it changes every cookie value (clients move once).
const COOKIE_KEY: u64 = 0x6a09_e667_f3bc_c908;

/// The cookie value naming the backend at `address`: 16 lower-case hex digits.
pub fn cookie_value(address: SocketAddr) -> String {
    format!("{:016x}", cookie_id(address))
}

fn cookie_id(address: SocketAddr) -> u64 {
    mix64(hash_backend(address) ^ COOKIE_KEY).wrapping_add(COOKIE_KEY)
}

/// A `Set-Cookie` field value: `name=value; Path=/; HttpOnly`, plus `; Max-Age=N` (whole
/// seconds, at least 1) when `max_age` is given.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>) -> String {
    let mut out = format!("{name}={value}; Path=/; HttpOnly");
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={}", age.as_secs().max(1)));
    }
    out
}

/// Cookie values of a backend list, for looking a cookie up.
#[derive(Debug, Clone)]
pub struct CookieMap {
    /// Per backend, its value.
    values: Box<[String]>,
    /// `(id, index)` sorted by id.
    sorted: Box<[(u64, usize)]>,
}

impl CookieMap {
    pub fn new(backends: &[Arc<Backend>]) -> Self {
        let mut sorted: Vec<(u64, usize)> = backends
            .iter()
            .enumerate()
            .map(|(i, b)| (cookie_id(b.address), i))
            .collect();
        sorted.sort_unstable();
        CookieMap {
            values: backends.iter().map(|b| cookie_value(b.address)).collect(),
            sorted: sorted.into(),
        }
    }

    /// The value for backend `index`.
    pub fn value(&self, index: usize) -> Option<&str> {
        self.values.get(index).map(String::as_str)
    }

    /// The backend a cookie value names, if any (anything but 16 hex digits names none).
    pub fn backend(&self, value: &str) -> Option<usize> {
        let value = value.trim().trim_matches('"');
        if value.len() != 16 {
            return None;
        }
        let id = u64::from_str_radix(value, 16).ok()?;
        let at = self.sorted.partition_point(|&(v, _)| v < id);
        self.sorted.get(at).filter(|e| e.0 == id).map(|e| e.1)
    }
}

/// The backend of `backends` a cookie value names (O(n); see [`CookieMap`] for many lookups).
pub fn backend_for_cookie(backends: &[Arc<Backend>], value: &str) -> Option<usize> {
    CookieMap::new(backends).backend(value)
}

/// Shards of a [`SourceTable`].
pub const SHARDS: usize = 16;

/// Clients a [`SourceTable`] remembers at most by default.
pub const DEFAULT_CAPACITY: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Entry {
    backend: SocketAddr,
    last_used_ns: u64,
}

#[derive(Debug, Default)]
struct Shard {
    current: HashMap<IpAddr, Entry>,
    previous: HashMap<IpAddr, Entry>,
}

/// Client IP -> backend address, with a TTL refreshed on use and a bound on size.
#[derive(Debug)]
pub struct SourceTable {
    shards: Box<[Mutex<Shard>]>,
    ttl_ns: u64,
    /// Entries of one generation of one shard at most.
    generation_capacity: usize,
}

impl SourceTable {
    /// A table forgetting entries unused for `ttl_ns`, holding about `capacity` clients at
    /// most (never more).
    pub fn new(ttl_ns: u64, capacity: usize) -> Self {
        SourceTable {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            ttl_ns,
            generation_capacity: (capacity / SHARDS / 2).max(1),
        }
    }

    pub fn ttl_ns(&self) -> u64 {
        self.ttl_ns
    }

    fn shard(&self, ip: IpAddr) -> (IpAddr, MutexGuard<'_, Shard>) {
        let ip = canonical(ip);
        let i = (hash_ip(ip) >> 60) as usize % SHARDS;
        // A panic while holding a shard leaves plain data behind: keep using it.
        let guard = self.shards[i].lock().unwrap_or_else(|e| e.into_inner());
        (ip, guard)
    }

    /// The backend `ip` was sent to, if it is remembered and was used within the TTL at
    /// `now_ns`; refreshes the entry.
    pub fn lookup(&self, ip: IpAddr, now_ns: u64) -> Option<SocketAddr> {
        let (ip, mut shard) = self.shard(ip);
        if !shard.current.contains_key(&ip) {
            let moved = shard.previous.remove(&ip)?;
            self.insert(&mut shard, ip, moved);
        }
        let entry = shard.current.get_mut(&ip)?;
        if now_ns.saturating_sub(entry.last_used_ns) > self.ttl_ns {
            shard.current.remove(&ip);
            return None;
        }
        entry.last_used_ns = entry.last_used_ns.max(now_ns);
        Some(entry.backend)
    }

    /// Remembers that `ip` goes to `backend` from `now_ns`.
    pub fn remember(&self, ip: IpAddr, backend: SocketAddr, now_ns: u64) {
        let (ip, mut shard) = self.shard(ip);
        let entry = Entry {
            backend,
            last_used_ns: now_ns,
        };
        if let Some(e) = shard.current.get_mut(&ip) {
            *e = entry;
            return;
        }
        shard.previous.remove(&ip);
        self.insert(&mut shard, ip, entry);
    }

    /// Forgets `ip`.
    pub fn forget(&self, ip: IpAddr) {
        let (ip, mut shard) = self.shard(ip);
        shard.current.remove(&ip);
        shard.previous.remove(&ip);
    }

    /// Inserts a key that is in neither generation, turning generations over first if the
    /// current one is full.
    fn insert(&self, shard: &mut Shard, ip: IpAddr, entry: Entry) {
        if shard.current.len() >= self.generation_capacity {
            let Shard { current, previous } = shard;
            std::mem::swap(current, previous);
            current.clear();
        }
        shard.current.insert(ip, entry);
    }

    /// Entries held (some may have expired and not yet been dropped).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(|e| e.into_inner());
                s.current.len() + s.previous.len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address (dual-stack listeners).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests;
