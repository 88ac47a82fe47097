//! A cheap hasher for maps keyed by backend addresses.
//!
//! The worker's connection pools look a backend address up twice per request; the standard
//! library's SipHash, built to resist keys chosen by an attacker, costs a few hundred
//! instructions each time. Backend addresses come from the configuration and service
//! discovery, never from clients, so a multiply-rotate hash (the one rustc uses inside the
//! compiler) is enough.

use std::hash::{BuildHasherDefault, Hasher};

/// `HashMap<K, V, AddrHash>`: a map with the cheap hasher.
pub(crate) type AddrHash = BuildHasherDefault<AddrHasher>;

#[derive(Default, Clone, Copy)]
pub(crate) struct AddrHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl AddrHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for AddrHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let (words, rest) = bytes.as_chunks::<8>();
        for word in words {
            self.add(u64::from_le_bytes(*word));
        }
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last) ^ (rest.len() as u64) << 56);
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::AddrHash;
    use std::collections::{HashMap, HashSet};
    use std::hash::BuildHasher;
    use std::net::SocketAddr;

    #[test]
    fn addresses_that_differ_hash_apart_and_maps_work() {
        let build = AddrHash::default();
        let mut seen = HashSet::new();
        let mut map: HashMap<SocketAddr, u32, AddrHash> = HashMap::default();
        for port in 8000..8100u16 {
            for host in ["127.0.0.1", "10.0.0.2", "[::1]", "[fe80::1]"] {
                let addr: SocketAddr = format!("{host}:{port}").parse().unwrap();
                assert!(seen.insert(build.hash_one(addr)), "{addr} collides");
                map.insert(addr, u32::from(port));
            }
        }
        assert_eq!(map.len(), 400);
        assert_eq!(map[&"[::1]:8042".parse().unwrap()], 8042);
    }
}
