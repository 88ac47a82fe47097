//! Fixed 64-bit hashing for balancing keys and backend identities.
//!
//! Every Fulcrum process, on every platform and build, must map the same key to the same
//! number, so that two instances side by side send a client to the same backend without
//! talking. So nothing here is seeded per process (no `RandomState`): the functions are fixed
//! and their outputs are pinned by tests. Changing them remaps every consistent-hash key.
//!
//! `hash_bytes` reads eight bytes at a time through a folded 64×64→128-bit multiply (the core
//! of wyhash and foldhash) and ends with the murmur3 finaliser, so short keys cost a few
//! nanoseconds. It is not a defence against keys chosen to collide; a client who picks its own
//! header value can pick its backend anyway.

use std::net::{IpAddr, SocketAddr};

const SEED: u64 = 0x2d35_8dcc_aa6c_78a5;
const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

/// The 128-bit product of `a` and `b`, its halves xor-ed together.
pub(crate) fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// murmur3's 64-bit finaliser: a bijection where every input bit flips about half the output.
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The `k`th value of a well-mixed sequence seeded by `seed` (splitmix64's step).
pub(crate) fn derive(seed: u64, k: u64) -> u64 {
    mix64(seed.wrapping_add(k.wrapping_add(1).wrapping_mul(MUL)))
}

/// Hash of a key: a header or cookie value, a path, any bytes.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = SEED ^ (bytes.len() as u64).wrapping_mul(MUL);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = fold_mul(h ^ word, MUL ^ 0x5851_f42d_4c95_7f2d);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = fold_mul(h ^ u64::from_le_bytes(tail), MUL);
    mix64(h)
}

/// Hash of a client address (without port). An IPv4-mapped IPv6 address hashes as the IPv4
/// address, so a dual-stack listener and an IPv4 one agree.
pub fn hash_ip(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => hash_bytes(&v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => hash_bytes(&v4.octets()),
            None => hash_bytes(&v6.octets()),
        },
    }
}

/// Identity of a backend on hash rings and Maglev tables: its address and port.
pub fn hash_backend(addr: SocketAddr) -> u64 {
    let mut buf = [0u8; 18];
    let len = match addr.ip() {
        IpAddr::V4(v4) => {
            buf[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            buf[..16].copy_from_slice(&v6.octets());
            16
        }
    };
    buf[len..len + 2].copy_from_slice(&addr.port().to_be_bytes());
    hash_bytes(&buf[..len + 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Pinned outputs: if these change, every deployed consistent-hash mapping changes.
    #[test]
    fn outputs_are_pinned() {
        assert_eq!(hash_bytes(b""), 0xc8e0_4ca6_585c_5f66);
        assert_eq!(hash_bytes(b"a"), 0x8ee7_de57_bd78_6594);
        assert_eq!(hash_bytes(b"session=4f2a9c7e1b"), 0x14d1_ec3c_9ac5_5a6d);
        assert_eq!(hash_ip("192.0.2.7".parse().unwrap()), 0x27e4_4fc6_3ad2_490f);
        assert_eq!(
            hash_backend("10.0.0.1:80".parse().unwrap()),
            0xa2f4_87d8_0d88_a51e
        );
        assert_eq!(mix64(1), 0xb456_bcfc_34c2_cb2c);
    }

    #[test]
    fn mapped_ipv4_hashes_as_ipv4() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(hash_ip(v4), hash_ip(mapped));
    }

    #[test]
    fn lengths_and_ports_matter() {
        assert_ne!(hash_bytes(b"ab"), hash_bytes(b"ab\0"));
        assert_ne!(
            hash_backend("10.0.0.1:80".parse().unwrap()),
            hash_backend("10.0.0.1:81".parse().unwrap())
        );
    }

    #[test]
    fn no_collisions_on_sequential_keys() {
        let set: HashSet<u64> = (0..200_000u32)
            .map(|i| hash_bytes(format!("user-{i}").as_bytes()))
            .collect();
        assert_eq!(set.len(), 200_000);
    }

    #[test]
    fn top_bits_are_uniform() {
        // Ring hash uses the top 32 bits, Maglev a multiply-shift: check the top byte.
        let mut buckets = [0u32; 256];
        for i in 0..256_000u32 {
            buckets[(hash_bytes(&i.to_le_bytes()) >> 56) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&c| (850..1150).contains(&c)),
            "{buckets:?}"
        );
    }
}
