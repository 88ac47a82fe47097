use super::*;
use crate::test_util::backends;
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

#[test]
fn cookie_values_are_opaque_stable_and_map_back() {
    let b = backends(&[1, 1, 1]);
    let v = cookie_value(b[1].address);
    assert_eq!(v.len(), 16);
    assert!(
        v.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert!(!v.contains("10") || v != b[1].address.to_string());
    // Pinned: every process and build must agree.
    assert_eq!(cookie_value(addr(80)), cookie_value(addr(80)));
    assert_eq!(cookie_value(addr(80)), "e74ee6b92fbb804e");
    assert_ne!(cookie_value(addr(80)), cookie_value(addr(81)));
    let map = CookieMap::new(&b);
    for i in 0..3 {
        assert_eq!(map.backend(map.value(i).unwrap()), Some(i));
        assert_eq!(backend_for_cookie(&b, &cookie_value(b[i].address)), Some(i));
    }
    assert_eq!(map.backend(&format!("\"{v}\"")), Some(1));
    for bad in [
        "",
        "zz",
        "0123456789abcdef0",
        "0123456789abcdeg",
        &cookie_value(addr(1)),
    ] {
        assert_eq!(map.backend(bad), None, "{bad}");
    }
}

#[test]
fn set_cookie_has_its_attributes() {
    assert_eq!(set_cookie("s", "ab", None), "s=ab; Path=/; HttpOnly");
    let hour = Some(Duration::from_secs(3600));
    assert_eq!(
        set_cookie("s", "ab", hour),
        "s=ab; Path=/; HttpOnly; Max-Age=3600"
    );
    let short = Some(Duration::from_millis(10));
    assert!(set_cookie("s", "ab", short).ends_with("Max-Age=1"));
}

#[test]
fn source_entries_expire_after_the_ttl_unused() {
    let t = SourceTable::new(100, 1024);
    assert_eq!(t.lookup(ip(1), 0), None);
    t.remember(ip(1), addr(1), 0);
    assert_eq!(t.lookup(ip(1), 100), Some(addr(1)), "refreshed at 100");
    assert_eq!(t.lookup(ip(1), 200), Some(addr(1)));
    assert_eq!(t.lookup(ip(1), 301), None);
    assert_eq!(t.lookup(ip(1), 302), None, "dropped");
    t.remember(ip(2), addr(2), 0);
    t.remember(ip(2), addr(3), 50);
    assert_eq!(t.lookup(ip(2), 120), Some(addr(3)));
    t.forget(ip(2));
    assert_eq!(t.lookup(ip(2), 120), None);
}

#[test]
fn mapped_v6_clients_are_their_v4_address() {
    let t = SourceTable::new(100, 1024);
    t.remember("::ffff:10.1.2.3".parse().unwrap(), addr(7), 0);
    assert_eq!(t.lookup("10.1.2.3".parse().unwrap(), 1), Some(addr(7)));
}

#[test]
fn the_table_is_bounded_and_keeps_recent_clients() {
    let cap = 1024;
    let t = SourceTable::new(u64::MAX, cap);
    for n in 0..100_000 {
        t.remember(ip(n), addr(1), 0);
        if n % 100 == 0 {
            // Client 7 keeps coming back: it is never forgotten.
            t.remember(ip(7), addr(2), 0);
        }
    }
    assert!(t.len() <= cap, "{}", t.len());
    assert!(t.len() >= cap / 4, "{}", t.len());
    assert_eq!(t.lookup(ip(7), 0), Some(addr(2)));
    assert_eq!(t.lookup(ip(99_999), 0), Some(addr(1)));
    assert_eq!(t.lookup(ip(3), 0), None);
}

proptest! {
    /// Whatever is done to it, the table holds at most its capacity and answers with the
    /// last backend remembered for a client, or nothing.
    #[test]
    fn answers_are_the_last_remembered(
        ops in prop::collection::vec((0u32..64, 0u16..4, any::<bool>()), 0..400),
    ) {
        let t = SourceTable::new(u64::MAX, 64);
        let mut last = std::collections::HashMap::new();
        for (client, port, write) in ops {
            if write {
                t.remember(ip(client), addr(port), 0);
                last.insert(client, addr(port));
            } else if let Some(got) = t.lookup(ip(client), 0) {
                prop_assert_eq!(Some(&got), last.get(&client));
            }
            prop_assert!(t.len() <= 64);
        }
    }
}
