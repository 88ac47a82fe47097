//! PROXY protocol codec tests: round trips, every split point, malformed and random input.
use super::*;
use ProxyProtocolErrorKind::{MalformedV1, MalformedV2, NotProxy};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn v1(s: &str, d: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_v1(sa(s), sa(d), &mut out);
    out
}

fn v2(s: &str, d: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_v2(sa(s), sa(d), &mut out);
    out
}

/// A v2 header with the given command/version, family and block.
fn v2_raw(ver_cmd: u8, fam: u8, block: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(ver_cmd);
    out.push(fam);
    out.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
    out.extend_from_slice(block);
    out
}

fn v4_block(tlvs: &[u8]) -> Vec<u8> {
    let mut block = vec![192, 0, 2, 1, 198, 51, 100, 7, 0x30, 0x39, 0x01, 0xbb];
    block.extend_from_slice(tlvs);
    block
}

fn proxy(s: &str, d: &str) -> ProxyHeader {
    ProxyHeader::Proxy {
        source: sa(s),
        destination: sa(d),
    }
}

fn complete(buf: &[u8]) -> (ProxyHeader, usize) {
    match decode(buf) {
        Ok(Decoded::Complete { header, len }) => (header, len),
        other => panic!(
            "{:?}: expected a complete header, got {other:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// Every strict prefix is Partial, the whole is Complete with `len == buf.len()`, and bytes
/// after the header do not change the answer.
fn assert_splits(buf: &[u8]) -> ProxyHeader {
    for k in 0..buf.len() {
        assert_eq!(
            decode(&buf[..k]),
            Ok(Decoded::Partial),
            "prefix of {k} bytes of {:?}",
            String::from_utf8_lossy(buf)
        );
    }
    let (header, len) = complete(buf);
    assert_eq!(len, buf.len());
    for tail in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"\r\n\r\n\0\r\nQUIT\n",
        b"PROXY ",
        b"\0\xff",
    ] {
        let mut longer = buf.to_vec();
        longer.extend_from_slice(tail);
        assert_eq!(complete(&longer), (header, len));
    }
    header
}

// --- round trips and exact bytes ---

#[test]
fn v1_round_trip_v4() {
    let buf = v1("192.0.2.1:12345", "198.51.100.7:443");
    assert_eq!(buf, b"PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n");
    assert_eq!(
        assert_splits(&buf),
        proxy("192.0.2.1:12345", "198.51.100.7:443")
    );
}

#[test]
fn v1_round_trip_v6() {
    let buf = v1(
        "[2001:db8::1]:0",
        "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
    );
    assert_eq!(
        buf,
        b"PROXY TCP6 2001:db8::1 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff 0 65535\r\n"
    );
    assert_eq!(
        assert_splits(&buf),
        proxy(
            "[2001:db8::1]:0",
            "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
        )
    );
}

#[test]
fn v1_round_trip_v4_mapped_v6() {
    let buf = v1("[::ffff:192.0.2.1]:1", "[::ffff:198.51.100.7]:2");
    assert_eq!(
        buf,
        b"PROXY TCP6 ::ffff:192.0.2.1 ::ffff:198.51.100.7 1 2\r\n"
    );
    assert_eq!(
        assert_splits(&buf),
        proxy("[::ffff:192.0.2.1]:1", "[::ffff:198.51.100.7]:2")
    );
}

#[test]
fn v1_longest_possible_encoding_fits() {
    let a = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
    let buf = v1(a, a);
    assert!(buf.len() <= V1_MAX_LEN, "{}", buf.len());
    assert_eq!(assert_splits(&buf), proxy(a, a));
}

#[test]
fn v1_mixed_families_are_unknown() {
    let buf = v1("192.0.2.1:1", "[2001:db8::1]:2");
    assert_eq!(buf, b"PROXY UNKNOWN\r\n");
    assert_eq!(assert_splits(&buf), ProxyHeader::Local);
}

#[test]
fn v1_unknown_ignores_the_rest_of_the_line() {
    let buf = b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    assert_eq!(assert_splits(buf), ProxyHeader::Local);
    let buf = b"PROXY UNKNOWN \x00\x01 \xff garbage\r\n";
    assert_eq!(assert_splits(buf), ProxyHeader::Local);
}

#[test]
fn v1_exactly_107_bytes_is_accepted() {
    let mut buf = b"PROXY UNKNOWN ".to_vec();
    buf.resize(V1_MAX_LEN - 2, b'x');
    buf.extend_from_slice(b"\r\n");
    assert_eq!(buf.len(), V1_MAX_LEN);
    assert_eq!(assert_splits(&buf), ProxyHeader::Local);
}

#[test]
fn v1_ports_at_the_bounds() {
    for (s, d) in [("0", "65535"), ("65535", "0"), ("1", "9"), ("10", "100")] {
        let text = format!("PROXY TCP4 10.0.0.1 10.0.0.2 {s} {d}\r\n");
        let header = assert_splits(text.as_bytes());
        assert_eq!(
            header,
            proxy(&format!("10.0.0.1:{s}"), &format!("10.0.0.2:{d}"))
        );
    }
}

#[test]
fn v2_round_trip_v4() {
    let buf = v2("192.0.2.1:12345", "198.51.100.7:443");
    let mut expected = V2_SIGNATURE.to_vec();
    expected.extend_from_slice(&[
        0x21, 0x11, 0, 12, 192, 0, 2, 1, 198, 51, 100, 7, 0x30, 0x39, 0x01, 0xbb,
    ]);
    assert_eq!(buf, expected);
    assert_eq!(
        assert_splits(&buf),
        proxy("192.0.2.1:12345", "198.51.100.7:443")
    );
}

#[test]
fn v2_round_trip_v6() {
    let buf = v2("[2001:db8::1]:0", "[fe80::1%7]:65535");
    assert_eq!(buf.len(), 16 + 36);
    assert_eq!(&buf[12..16], &[0x21, 0x21, 0, 36]);
    // The scope id is not carried.
    assert_eq!(
        assert_splits(&buf),
        proxy("[2001:db8::1]:0", "[fe80::1]:65535")
    );
}

#[test]
fn v2_mixed_families_use_v4_mapped_v6() {
    let buf = v2("192.0.2.1:1", "[2001:db8::1]:2");
    assert_eq!(&buf[12..16], &[0x21, 0x21, 0, 36]);
    assert_eq!(
        assert_splits(&buf),
        proxy("[::ffff:192.0.2.1]:1", "[2001:db8::1]:2")
    );
    let buf = v2("[2001:db8::1]:2", "192.0.2.1:1");
    assert_eq!(
        assert_splits(&buf),
        proxy("[2001:db8::1]:2", "[::ffff:192.0.2.1]:1")
    );
}

#[test]
fn v2_local_round_trip() {
    let mut buf = Vec::new();
    encode_v2_local(&mut buf);
    assert_eq!(buf, v2_raw(0x20, 0x00, &[]));
    assert_eq!(assert_splits(&buf), ProxyHeader::Local);
}

#[test]
fn v2_local_ignores_family_and_block() {
    // "discard the protocol block including the family which is ignored"
    let buf = v2_raw(0x20, 0xff, &[1, 2, 3]);
    assert_eq!(assert_splits(&buf), ProxyHeader::Local);
    let buf = v2_raw(0x20, 0x11, &[]);
    assert_eq!(assert_splits(&buf), ProxyHeader::Local);
}

#[test]
fn v2_tlvs_are_skipped() {
    // ALPN "h2", an unknown type 0xee with 0 bytes, NOOP padding of 5, a custom type 0xe0.
    let tlvs = [
        &[0x01, 0, 2, b'h', b'2'][..],
        &[0xee, 0, 0],
        &[0x04, 0, 5, 0, 0, 0, 0, 0],
        &[0xe0, 0, 1, 0x42],
    ]
    .concat();
    let buf = v2_raw(0x21, 0x11, &v4_block(&tlvs));
    assert_eq!(
        assert_splits(&buf),
        proxy("192.0.2.1:12345", "198.51.100.7:443")
    );
}

#[test]
fn v2_largest_block_is_accepted() {
    let mut tlv = vec![0xee];
    let value_len = V2_MAX_PAYLOAD - 12 - 3;
    tlv.extend_from_slice(&u16::try_from(value_len).unwrap().to_be_bytes());
    tlv.resize(3 + value_len, 0xaa);
    let buf = v2_raw(0x21, 0x11, &v4_block(&tlv));
    assert_eq!(buf.len(), V2_MAX_LEN);
    assert_eq!(
        assert_splits(&buf),
        proxy("192.0.2.1:12345", "198.51.100.7:443")
    );
}

#[test]
fn v2_other_families_mean_local() {
    assert_eq!(assert_splits(&v2_raw(0x21, 0x00, &[])), ProxyHeader::Local);
    // UNSPEC with TLVs.
    assert_eq!(
        assert_splits(&v2_raw(0x21, 0x00, &[0xee, 0, 1, 7])),
        ProxyHeader::Local
    );
    assert_eq!(
        assert_splits(&v2_raw(0x21, 0x12, &[0; 12])),
        ProxyHeader::Local
    );
    assert_eq!(
        assert_splits(&v2_raw(0x21, 0x22, &[0; 36])),
        ProxyHeader::Local
    );
    assert_eq!(
        assert_splits(&v2_raw(0x21, 0x31, &[0; 216])),
        ProxyHeader::Local
    );
    assert_eq!(
        assert_splits(&v2_raw(0x21, 0x32, &[0; 216])),
        ProxyHeader::Local
    );
}

#[test]
fn data_after_the_header_is_left_alone() {
    let mut buf = v1("192.0.2.1:1", "192.0.2.2:2");
    let header_len = buf.len();
    buf.extend_from_slice(b"PROXY TCP4 10.0.0.1 10.0.0.2 3 4\r\n");
    assert_eq!(
        complete(&buf),
        (proxy("192.0.2.1:1", "192.0.2.2:2"), header_len)
    );
}

#[test]
fn split_points_over_many_addresses() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut texts: Vec<String> = [
        "::",
        "::1",
        "1::",
        "1::2",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:1.2.3.4",
        "1:2:3:4:5:6:255.255.255.255",
        "FFFF::AbCd",
        "0:0:0:0:0:0:0:0",
        "1:0:0:2::3",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..200 {
        // Sparse addresses exercise `::` compression.
        let mut octets = [0u8; 16];
        for o in octets.iter_mut() {
            if rng.next().is_multiple_of(3) {
                *o = rng.next() as u8;
            }
        }
        texts.push(Ipv6Addr::from(octets).to_string());
    }
    for (i, text) in texts.iter().enumerate() {
        let ip: Ipv6Addr = text.parse().unwrap();
        let port = u16::try_from(i * 331 % 65536).unwrap();
        let line = format!("PROXY TCP6 {text} {text} {port} 65535\r\n");
        let header = assert_splits(line.as_bytes());
        let want = SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0));
        assert_eq!(
            header,
            ProxyHeader::Proxy {
                source: want,
                destination: SocketAddr::new(ip.into(), 65535)
            }
        );
        let mut buf = Vec::new();
        encode_v2(want, want, &mut buf);
        assert_eq!(
            assert_splits(&buf),
            ProxyHeader::Proxy {
                source: want,
                destination: want
            }
        );
    }
    for _ in 0..300 {
        let raw = rng.next();
        let ip = Ipv4Addr::from((raw >> 32) as u32 >> (raw % 32));
        let port = raw as u16 >> (raw % 16);
        let addr = SocketAddr::V4(SocketAddrV4::new(ip, port));
        let header = assert_splits(&v1(&addr.to_string(), &addr.to_string()));
        assert_eq!(
            header,
            ProxyHeader::Proxy {
                source: addr,
                destination: addr
            }
        );
        let mut buf = Vec::new();
        encode_v2(addr, addr, &mut buf);
        assert_eq!(
            assert_splits(&buf),
            ProxyHeader::Proxy {
                source: addr,
                destination: addr
            }
        );
    }
}

// --- malformed input ---

/// Each case: the bytes, the expected kind. The whole input is rejected, and no prefix of it
/// is ever taken for a complete header.
fn malformed_cases() -> Vec<(Vec<u8>, ProxyProtocolErrorKind)> {
    let t = |s: &str| s.as_bytes().to_vec();
    let mut long_unknown = b"PROXY UNKNOWN ".to_vec();
    long_unknown.resize(300, b'x');
    let mut just_too_long = b"PROXY UNKNOWN ".to_vec();
    just_too_long.resize(V1_MAX_LEN - 1, b'x');
    just_too_long.extend_from_slice(b"\r\n");
    let mut v2_bad_sig = V2_SIGNATURE.to_vec();
    v2_bad_sig[11] = b'\r';
    let mut too_long_v2 = v2_raw(0x21, 0x11, &[]);
    too_long_v2[14..16].copy_from_slice(&4097u16.to_be_bytes());
    let mut max_len_v2 = v2_raw(0x21, 0x11, &[]);
    max_len_v2[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    vec![
        // Neither signature.
        (t("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), NotProxy),
        (t("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), NotProxy),
        (t("PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), NotProxy),
        (t("PROXY\r\n"), NotProxy),
        (t("PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n"), NotProxy),
        (t(" PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), NotProxy),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            NotProxy,
        ),
        (v2_bad_sig, NotProxy),
        (b"\r\n\r\n\r\n".to_vec(), NotProxy),
        // v1.
        (t("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY \r\n"), MalformedV1),
        (t("PROXY UNKNOWNX\r\n"), MalformedV1),
        (t("PROXY UNKNOWN\r garbage\r\n"), MalformedV1),
        (t("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 ::1 1 2\r\n"), MalformedV1),
        (t("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), MalformedV1),
        (t("PROXY TCP6 ::1 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4:1 5.6.7.8 1 2\r\n"), MalformedV1),
        (t("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), MalformedV1),
        (t("PROXY TCP6 [::1] ::1 1 2\r\n"), MalformedV1),
        (t("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), MalformedV1),
        (t("PROXY TCP6 1::2::3 ::1 1 2\r\n"), MalformedV1),
        (t("PROXY TCP6 12345:: ::1 1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 0x50 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1000000 2\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8\r\n"), MalformedV1),
        (t("PROXY TCP4\r\n"), MalformedV1),
        (t("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), MalformedV1),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.\xc3\xa9 1 2\r\n".to_vec(),
            MalformedV1,
        ),
        (long_unknown, MalformedV1),
        (just_too_long, MalformedV1),
        // v2.
        (v2_raw(0x11, 0x11, &v4_block(&[])), MalformedV2),
        (v2_raw(0x31, 0x11, &v4_block(&[])), MalformedV2),
        (v2_raw(0x01, 0x11, &v4_block(&[])), MalformedV2),
        (v2_raw(0x22, 0x11, &v4_block(&[])), MalformedV2),
        (v2_raw(0x2f, 0x11, &v4_block(&[])), MalformedV2),
        (v2_raw(0x21, 0x41, &v4_block(&[])), MalformedV2),
        (v2_raw(0x21, 0x13, &v4_block(&[])), MalformedV2),
        (v2_raw(0x21, 0x10, &v4_block(&[])), MalformedV2),
        (v2_raw(0x21, 0x01, &[]), MalformedV2),
        (v2_raw(0x21, 0xff, &v4_block(&[])), MalformedV2),
        (v2_raw(0x21, 0x11, &[0; 11]), MalformedV2),
        (v2_raw(0x21, 0x11, &[]), MalformedV2),
        (v2_raw(0x21, 0x21, &[0; 35]), MalformedV2),
        (v2_raw(0x21, 0x21, &v4_block(&[])), MalformedV2),
        (v2_raw(0x21, 0x31, &[0; 108]), MalformedV2),
        (too_long_v2, MalformedV2),
        (max_len_v2, MalformedV2),
        (v2_raw(0x21, 0x11, &v4_block(&[0xee, 0, 2, 1])), MalformedV2),
        (
            v2_raw(0x21, 0x11, &v4_block(&[0xee, 0xff, 0xff])),
            MalformedV2,
        ),
        (
            v2_raw(0x21, 0x11, &v4_block(&[0x01, 0, 1, 7, 0xee])),
            MalformedV2,
        ),
        (
            v2_raw(0x21, 0x11, &v4_block(&[0x01, 0, 1, 7, 0xee, 0])),
            MalformedV2,
        ),
        (v2_raw(0x21, 0x11, &v4_block(&[0x04])), MalformedV2),
        (v2_raw(0x21, 0x00, &[0xee, 0, 5, 1]), MalformedV2),
    ]
}

#[test]
fn malformed_headers_are_rejected() {
    let cases = malformed_cases();
    assert!(cases.len() >= 20);
    for (buf, kind) in cases {
        let shown = String::from_utf8_lossy(&buf).into_owned();
        match decode(&buf) {
            Err(e) => {
                assert_eq!(e.kind(), kind, "{shown:?}: {e}");
                assert!(!e.reason().is_empty());
            }
            other => panic!("{shown:?}: expected {kind:?}, got {other:?}"),
        }
        // Once rejected, always rejected; no prefix is complete.
        let mut rejected = false;
        for k in 0..=buf.len() {
            match decode(&buf[..k]) {
                Ok(Decoded::Partial) => {
                    assert!(!rejected, "{shown:?}: Partial after an error at {k}")
                }
                Ok(Decoded::Complete { .. }) => {
                    panic!("{shown:?}: prefix of {k} bytes is complete")
                }
                Err(e) => {
                    assert_eq!(e.kind(), kind, "{shown:?}: prefix of {k} bytes: {e}");
                    rejected = true;
                }
            }
        }
    }
}

#[test]
fn errors_come_as_soon_as_the_prefix_is_invalid() {
    let early: &[(&[u8], ProxyProtocolErrorKind)] = &[
        (b"G", NotProxy),
        (b"PR0", NotProxy),
        (b"\r\n\r\n\x00\r\nQUIX", NotProxy),
        (b"PROXY X", MalformedV1),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01", MalformedV1),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 65536", MalformedV1),
        (b"PROXY TCP4 1.2.3.256", MalformedV1),
        (b"PROXY TCP4 1.2.3.4.", MalformedV1),
        (b"PROXY TCP4 :", MalformedV1),
        (b"PROXY TCP6 1:2:3:4:5:6:7:8:", MalformedV1),
        (b"PROXY TCP6 g", MalformedV1),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", MalformedV1),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r", MalformedV1),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r", MalformedV1),
        (b"\r\n\r\n\x00\r\nQUIT\n\x11", MalformedV2),
        (b"\r\n\r\n\x00\r\nQUIT\n\x21\x41", MalformedV2),
        (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0b", MalformedV2),
        (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x10\x01", MalformedV2),
        (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x10\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\xee\x00\x02", MalformedV2),
    ];
    for &(buf, kind) in early {
        assert_eq!(
            decode(buf).map_err(|e| e.kind()),
            Err(kind),
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
}

#[test]
fn partial_never_goes_on_forever() {
    // A v1 line that never ends.
    let mut buf = b"PROXY UNKNOWN ".to_vec();
    while decode(&buf) == Ok(Decoded::Partial) {
        buf.push(b'a');
        assert!(buf.len() <= V1_MAX_LEN);
    }
    assert_eq!(buf.len(), V1_MAX_LEN);
    assert_eq!(
        decode(&buf).unwrap_err().reason(),
        "no CRLF within 107 bytes"
    );
    // A v2 block that is as long as allowed is complete at V2_MAX_LEN.
    let mut buf = v2_raw(0x20, 0x00, &[]);
    buf[14..16].copy_from_slice(&4096u16.to_be_bytes());
    while decode(&buf) == Ok(Decoded::Partial) {
        buf.push(0);
    }
    assert_eq!(
        decode(&buf),
        Ok(Decoded::Complete {
            header: ProxyHeader::Local,
            len: V2_MAX_LEN
        })
    );
}

#[test]
fn error_messages() {
    let e = decode(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "malformed PROXY protocol v1 header: LF without CR before it"
    );
    let e = decode(b"HELLO").unwrap_err();
    assert_eq!(e.kind(), NotProxy);
    assert!(e.to_string().starts_with("not a PROXY protocol header: "));
    let e = decode(&v2_raw(0x21, 0x11, &[0; 4])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "malformed PROXY protocol v2 header: length too short for the address family"
    );
}

/// Exhaustively over short strings: every prefix of a valid address passes the prefix check.
#[test]
fn ip_prefix_check_accepts_every_prefix_of_a_valid_address() {
    fn walk(text: &mut String, alphabet: &[u8], max: usize, family: Family, checked: &mut usize) {
        if parse_ip(text.as_bytes(), family).is_some() {
            *checked += 1;
            for k in 0..=text.len() {
                assert!(
                    ip_prefix_ok(&text.as_bytes()[..k], family),
                    "{:?} of {text:?}",
                    &text[..k]
                );
            }
        }
        if text.len() < max {
            for &c in alphabet {
                text.push(char::from(c));
                walk(text, alphabet, max, family, checked);
                text.pop();
            }
        }
    }
    let mut checked = 0;
    walk(&mut String::new(), b"0129.", 9, Family::V4, &mut checked);
    walk(&mut String::new(), b"01f:.", 8, Family::V6, &mut checked);
    assert!(checked > 1000, "{checked}");
}

// --- random input ---

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Checks what must hold for any input: no panic, a sane `len`, the same answer on the header
/// alone, and (when `prefixes`) every strict prefix of a complete header is Partial and no
/// prefix after an error is Partial again.
fn check_invariants(buf: &[u8], prefixes: bool) {
    match decode(buf) {
        Ok(Decoded::Complete { header, len }) => {
            assert!(
                len <= buf.len() && (15..=MAX_HEADER_LEN).contains(&len),
                "{buf:?}"
            );
            assert_eq!(decode(&buf[..len]), Ok(Decoded::Complete { header, len }));
            if prefixes {
                for k in 0..len {
                    assert_eq!(decode(&buf[..k]), Ok(Decoded::Partial), "{buf:?} at {k}");
                }
            }
        }
        Ok(Decoded::Partial) => {
            assert!(buf.len() < MAX_HEADER_LEN, "{buf:?}");
            if prefixes {
                for k in 0..buf.len() {
                    assert_eq!(decode(&buf[..k]), Ok(Decoded::Partial), "{buf:?} at {k}");
                }
            }
        }
        Err(e) => {
            assert!(!e.reason().is_empty());
            if prefixes {
                let mut rejected = false;
                for k in 0..=buf.len() {
                    let partial = decode(&buf[..k]) == Ok(Decoded::Partial);
                    assert!(
                        !(rejected && partial),
                        "{buf:?}: Partial at {k} after an error"
                    );
                    rejected |= !partial;
                }
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let starts: [&[u8]; 5] = [b"", b"PROXY ", b"PROXY TCP4 ", b"PROXY TCP6 ", V2_SIGNATURE];
    let alphabet = b"0123456789abcdefABCDEF.: \r\nPROXYTCPUNKOW\0\xff";
    for round in 0..200_000 {
        let mut buf = starts[rng.below(starts.len())].to_vec();
        let len = rng.below(if round % 100 == 0 { 5000 } else { 120 });
        let text = rng.below(2) == 0;
        for _ in 0..len {
            let byte = if text {
                alphabet[rng.below(alphabet.len())]
            } else {
                rng.next() as u8
            };
            buf.push(byte);
        }
        if buf.starts_with(V2_SIGNATURE) && buf.len() >= 16 && rng.below(2) == 0 {
            // Make the command and length plausible so the block and TLVs get parsed.
            buf[12] = [0x20, 0x21][rng.below(2)];
            buf[13] = [0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32][rng.below(7)];
            let block = u16::try_from(buf.len() - 16).unwrap().min(4096);
            buf[14..16].copy_from_slice(&block.to_be_bytes());
        }
        check_invariants(&buf, buf.len() < 200);
    }
}

#[test]
fn mutated_headers_never_panic() {
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    let seeds: Vec<Vec<u8>> = vec![
        v1("192.0.2.1:12345", "198.51.100.7:443"),
        v1("[2001:db8::1]:80", "[::ffff:10.0.0.1]:8080"),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2("192.0.2.1:12345", "198.51.100.7:443"),
        v2("[2001:db8::1]:80", "[2001:db8::2]:8080"),
        v2_raw(
            0x21,
            0x11,
            &v4_block(&[0x01, 0, 2, b'h', b'2', 0xee, 0, 0, 0x04, 0, 1, 0]),
        ),
        v2_raw(0x20, 0x00, &[]),
        v2_raw(0x21, 0x00, &[0xee, 0, 1, 1]),
    ];
    let replacements = b"0123456789abcdef.: \r\n\0\x01\x02\x03\x0c\x11\x21\xff";
    for _ in 0..50_000 {
        let mut buf = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(buf.len() + 1);
            let byte = if rng.below(2) == 0 {
                replacements[rng.below(replacements.len())]
            } else {
                rng.next() as u8
            };
            match rng.below(4) {
                0 if at < buf.len() => buf[at] = byte,
                1 if at < buf.len() => {
                    buf.remove(at);
                }
                2 => buf.insert(at, byte),
                _ => buf.truncate(at),
            }
        }
        check_invariants(&buf, true);
    }
}

// --- trusted sources ---

#[test]
fn trusted_sources() {
    let cidr = |addr: &str, prefix| Cidr {
        addr: addr.parse().unwrap(),
        prefix,
    };
    let from = [
        cidr("10.0.0.0", 8),
        cidr("2001:db8::", 32),
        cidr("192.0.2.7", 32),
    ];
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(trusted(ip("10.1.2.3"), &from));
    assert!(trusted(ip("192.0.2.7"), &from));
    assert!(trusted(ip("2001:db8::1"), &from));
    assert!(trusted(ip("::ffff:10.1.2.3"), &from));
    assert!(!trusted(ip("192.0.2.8"), &from));
    assert!(!trusted(ip("11.0.0.1"), &from));
    assert!(!trusted(ip("2001:db9::1"), &from));
    assert!(!trusted(ip("::ffff:11.0.0.1"), &from));
    assert!(!trusted(ip("10.1.2.3"), &[]));
}
