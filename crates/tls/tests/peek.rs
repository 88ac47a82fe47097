//! The ClientHello peek: real hellos (rustls, and OpenSSL's when the CLI is there) split every
//! way, hand-made malformed ones, and random and mutated bytes (no panic, ever).

mod support;

use fulcrum_tls::peek::{ReadHelloError, read_client_hello};
use fulcrum_tls::{Peek, PeekError, peek_sni};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const MAX: usize = 16 * 1024;

/// The records a rustls client sends first, for `name` (or no SNI for an IP).
fn rustls_hello(name: &str) -> Vec<u8> {
    let config = support::capturing_client(Arc::new(support::Capture::default()), &["h2"]);
    let name = rustls_pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut out = Vec::new();
    conn.write_tls(&mut out).unwrap();
    out
}

/// The handshake bytes of a single-record hello.
fn handshake_of(records: &[u8]) -> Vec<u8> {
    let len = usize::from(u16::from_be_bytes([records[3], records[4]]));
    assert_eq!(records.len(), 5 + len, "one record");
    records[5..].to_vec()
}

/// Handshake bytes framed into records of the given payload sizes (the last takes the rest).
fn framed(handshake: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = handshake;
    for (i, &size) in sizes.iter().enumerate() {
        let n = if i + 1 == sizes.len() {
            rest.len()
        } else {
            size.min(rest.len())
        };
        let (part, tail) = rest.split_at(n);
        out.extend_from_slice(&[0x16, 0x03, 0x01]);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
        rest = tail;
    }
    out
}

fn complete(name: Option<&str>) -> Result<Peek, PeekError> {
    Ok(Peek::Complete {
        server_name: name.map(str::to_owned),
    })
}

#[test]
fn a_real_hello_in_one_record() {
    let hello = rustls_hello("Peek.Example.com");
    assert_eq!(peek_sni(&hello, MAX), complete(Some("peek.example.com")));
    // Connecting by IP: no SNI.
    assert_eq!(peek_sni(&rustls_hello("10.1.2.3"), MAX), complete(None));
    // Bytes after the hello (the next records) do not matter.
    let mut more = hello.clone();
    more.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    assert_eq!(peek_sni(&more, MAX), complete(Some("peek.example.com")));
}

#[test]
fn every_prefix_is_partial_and_every_split_into_records_completes() {
    let records = rustls_hello("split.example.com");
    let hs = handshake_of(&records);
    // Read byte by byte: partial until the last byte.
    for n in 0..records.len() {
        assert_eq!(
            peek_sni(&records[..n], MAX),
            Ok(Peek::Partial),
            "prefix {n}"
        );
    }
    for k in 1..hs.len() {
        // Two records split at every byte...
        let two = framed(&hs, &[k, 0]);
        assert_eq!(
            peek_sni(&two, MAX),
            complete(Some("split.example.com")),
            "split at {k}"
        );
        // ... and each prefix of those is partial.
        for n in [k, k + 5, two.len() - 1] {
            assert_eq!(
                peek_sni(&two[..n], MAX),
                Ok(Peek::Partial),
                "split {k}, prefix {n}"
            );
        }
    }
    // Three records, and one record per byte.
    for k in 1..hs.len() - 1 {
        let three = framed(&hs, &[k, 1, 0]);
        assert_eq!(peek_sni(&three, MAX), complete(Some("split.example.com")));
    }
    let ones = framed(&hs, &vec![1; hs.len()]);
    assert_eq!(
        peek_sni(&ones, 6 * hs.len()),
        complete(Some("split.example.com"))
    );
    // The limit counts record headers too.
    assert_eq!(peek_sni(&ones, 6 * hs.len() - 1), Err(PeekError::TooLarge));
}

#[test]
fn size_limits() {
    let records = rustls_hello("big.example.com");
    let len = records.len();
    assert_eq!(peek_sni(&records, len), complete(Some("big.example.com")));
    assert_eq!(peek_sni(&records, len - 1), Err(PeekError::TooLarge));
    // A declared handshake length over the limit is refused at once, without waiting.
    let huge = [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00];
    assert_eq!(peek_sni(&huge, MAX), Err(PeekError::TooLarge));
    // A partial hello that already fills the limit.
    assert_eq!(peek_sni(&records[..100], 100), Err(PeekError::TooLarge));
    // A record over 2^14 bytes.
    assert_eq!(
        peek_sni(&[0x16, 0x03, 0x01, 0x40, 0x01], 1 << 20),
        Err(PeekError::BadRecord("a record longer than 2^14 bytes"))
    );
}

/// A ClientHello record with these extensions (type, data).
fn hello_with(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7u8; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]); // one suite
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut ext = Vec::new();
    for (kind, data) in extensions {
        ext.extend_from_slice(&kind.to_be_bytes());
        ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
        ext.extend_from_slice(data);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    framed(&hs, &[0])
}

/// `server_name` extension data with these (type, name) entries.
fn sni(names: &[(u8, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (kind, name) in names {
        list.push(*kind);
        list.extend_from_slice(&(name.len() as u16).to_be_bytes());
        list.extend_from_slice(name);
    }
    let mut out = (list.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&list);
    out
}

#[test]
fn hand_made_hellos() {
    let one = |name: &[u8]| peek_sni(&hello_with(&[(0, sni(&[(0, name)]))]), MAX);
    assert_eq!(one(b"a.example.com"), complete(Some("a.example.com")));
    assert_eq!(one(b"A.EXAMPLE.com."), complete(Some("a.example.com")));
    assert_eq!(one(b"under_score.test"), complete(Some("under_score.test")));
    for bad in [
        &b""[..],
        b".",
        b"a..b",
        b".a",
        b"a/b.test",
        b"a b.test",
        b"caf\xc3\xa9.test",
        b"a\0b",
        &[b'a'; 64],
    ] {
        assert_eq!(one(bad), Err(PeekError::BadServerName), "{bad:?}");
    }
    let long_ok: Vec<u8> = [
        &[b'a'; 63][..],
        b".",
        &[b'b'; 63],
        b".",
        &[b'c'; 63],
        b".",
        &[b'd'; 61],
    ]
    .concat();
    assert_eq!(long_ok.len(), 253);
    assert!(one(&long_ok).is_ok());
    let too_long = [&long_ok[..], b"d"].concat();
    assert_eq!(one(&too_long), Err(PeekError::BadServerName));

    // No extensions, or extensions without SNI.
    assert_eq!(peek_sni(&hello_with(&[]), MAX), complete(None));
    assert_eq!(
        peek_sni(&hello_with(&[(0x2b, vec![0x02, 0x03, 0x04])]), MAX),
        complete(None)
    );
    // Two host names; an unknown name type beside one is skipped.
    let two = sni(&[(0, b"a.test"), (0, b"b.test")]);
    assert_eq!(
        peek_sni(&hello_with(&[(0, two)]), MAX),
        Err(PeekError::DuplicateServerName)
    );
    let other = sni(&[(7, b"whatever"), (0, b"b.test")]);
    assert_eq!(
        peek_sni(&hello_with(&[(0, other)]), MAX),
        complete(Some("b.test"))
    );
    // The same extension twice.
    let twice = [(0, sni(&[(0, b"a.test")])), (0, sni(&[(0, b"b.test")]))];
    assert_eq!(
        peek_sni(&hello_with(&twice), MAX),
        Err(PeekError::DuplicateExtension)
    );
    let twice = [
        (0x2b, vec![0x02, 0x03, 0x04]),
        (0x2b, vec![0x02, 0x03, 0x04]),
    ];
    assert_eq!(
        peek_sni(&hello_with(&twice), MAX),
        Err(PeekError::DuplicateExtension)
    );
    // An empty server name list; a list longer than its extension.
    assert!(matches!(
        peek_sni(&hello_with(&[(0, vec![0, 0])]), MAX),
        Err(PeekError::Malformed(_))
    ));
    assert!(matches!(
        peek_sni(&hello_with(&[(0, vec![0, 9, 0, 0, 1, b'a'])]), MAX),
        Err(PeekError::Malformed(_))
    ));
}

#[test]
fn not_a_client_hello() {
    assert_eq!(peek_sni(b"", MAX), Ok(Peek::Partial));
    assert_eq!(
        peek_sni(b"GET / HTTP/1.1\r\n\r\n", MAX),
        Err(PeekError::NotTls)
    );
    assert_eq!(
        peek_sni(b"SSH-2.0-OpenSSH\r\n", MAX),
        Err(PeekError::NotTls)
    );
    // An SSLv2-compatible CLIENT-HELLO.
    let v2 = [
        0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
    ];
    assert_eq!(peek_sni(&v2, MAX), Err(PeekError::SslV2));
    assert_eq!(peek_sni(&v2[..1], MAX), Err(PeekError::SslV2));
    // An alert record, an application data record.
    assert_eq!(
        peek_sni(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28], MAX),
        Err(PeekError::NotTls)
    );
    assert_eq!(
        peek_sni(&[0x17, 0x03, 0x03, 0x00, 0x01, 0x00], MAX),
        Err(PeekError::NotTls)
    );
    // A ServerHello.
    assert_eq!(
        peek_sni(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00], MAX),
        Err(PeekError::NotClientHello)
    );
    // Bad record versions, an empty record.
    assert!(matches!(
        peek_sni(&[0x16, 0x02, 0x00, 0x00, 0x01, 0x01], MAX),
        Err(PeekError::BadRecord(_))
    ));
    assert!(matches!(
        peek_sni(&[0x16, 0x03, 0x09, 0x00, 0x01, 0x01], MAX),
        Err(PeekError::BadRecord(_))
    ));
    assert!(matches!(
        peek_sni(&[0x16, 0x03, 0x01, 0x00, 0x00], MAX),
        Err(PeekError::BadRecord(_))
    ));
    // Another record type in the middle of the hello.
    let records = rustls_hello("x.test");
    let hs = handshake_of(&records);
    let mut mixed = framed(&hs[..10], &[0]);
    mixed.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x01, 0x00]);
    assert!(matches!(
        peek_sni(&mixed, MAX),
        Err(PeekError::BadRecord(_))
    ));
    // Handshake data after the hello in its record.
    let mut after = hs.clone();
    after.extend_from_slice(&[0x14, 0x00, 0x00, 0x00]);
    assert!(matches!(
        peek_sni(&framed(&after, &[0]), MAX),
        Err(PeekError::Malformed(_))
    ));
    // Inner lengths that overrun the message.
    let mut short = hs.clone();
    short[3] = short[3].wrapping_sub(1);
    short.pop();
    assert!(matches!(
        peek_sni(&framed(&short, &[0]), MAX),
        Err(PeekError::Malformed(_))
    ));
}

/// xorshift64*: deterministic, good enough to make noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds: Vec<Vec<u8>> = vec![
        rustls_hello("fuzz.example.com"),
        framed(&handshake_of(&rustls_hello("f.test")), &[7, 13, 50, 0]),
        hello_with(&[(0, sni(&[(0, b"a.test")]))]),
    ];
    let mut outcomes = [0usize; 3];
    for round in 0..200_000 {
        let input: Vec<u8> = if round % 4 == 0 {
            // Pure noise, often starting like a handshake record to get past the first check.
            let len = rng.below(300);
            let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if rng.below(2) == 0 && len >= 6 {
                v[0] = 0x16;
                v[1] = 0x03;
                v[2] = rng.below(5) as u8;
                v[5] = 0x01;
            }
            v
        } else {
            let mut v = seeds[rng.below(seeds.len())].clone();
            for _ in 0..1 + rng.below(4) {
                match rng.below(5) {
                    0 => {
                        let i = rng.below(v.len());
                        v[i] ^= 1 << rng.below(8);
                    }
                    1 => {
                        let i = rng.below(v.len());
                        v[i] = rng.next() as u8;
                    }
                    2 => v.truncate(rng.below(v.len() + 1)),
                    3 => {
                        let i = rng.below(v.len() + 1);
                        v.insert(i, rng.next() as u8);
                    }
                    _ => {
                        // Lengths are where parsers break: set a 16-bit field to an extreme.
                        if v.len() > 2 {
                            let i = rng.below(v.len() - 1);
                            let x = [0u16, 1, 0xffff, 0x4000, 0x3fff][rng.below(5)];
                            v[i..i + 2].copy_from_slice(&x.to_be_bytes());
                        }
                    }
                }
                if v.is_empty() {
                    break;
                }
            }
            v
        };
        let max = [64, 512, MAX][rng.below(3)];
        match peek_sni(&input, max) {
            Ok(Peek::Complete { server_name }) => {
                outcomes[0] += 1;
                if let Some(name) = server_name {
                    assert!(name.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b"-_.".contains(&b)));
                }
            }
            Ok(Peek::Partial) => outcomes[1] += 1,
            Err(_) => outcomes[2] += 1,
        }
    }
    // The mutations reach every outcome.
    assert!(outcomes.iter().all(|&n| n > 100), "{outcomes:?}");
}

#[tokio::test]
async fn reading_a_hello_from_a_stream() {
    let hello = rustls_hello("stream.example.com");
    // In pieces, with pauses.
    let (mut client, mut server) = tokio::io::duplex(64 * 1024);
    let pieces = hello.clone();
    tokio::spawn(async move {
        for chunk in pieces.chunks(7) {
            client.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        client.write_all(b"next records").await.unwrap();
        std::future::pending::<()>().await;
    });
    let mut buf = Vec::new();
    let name = read_client_hello(&mut server, &mut buf, MAX, Duration::from_secs(5)).await;
    assert_eq!(name.unwrap().as_deref(), Some("stream.example.com"));
    assert!(
        buf.starts_with(&hello),
        "every byte read is kept for the backend"
    );

    // A stall: the timeout.
    let (mut client, mut server) = tokio::io::duplex(1024);
    client.write_all(&hello[..20]).await.unwrap();
    let mut buf = Vec::new();
    let err = read_client_hello(&mut server, &mut buf, MAX, Duration::from_millis(100)).await;
    assert!(matches!(err, Err(ReadHelloError::Timeout)));
    assert_eq!(buf, &hello[..20]);

    // The peer closes half-way: truncated.
    let (mut client, mut server) = tokio::io::duplex(1024);
    client.write_all(&hello[..20]).await.unwrap();
    drop(client);
    let err = read_client_hello(&mut server, &mut Vec::new(), MAX, Duration::from_secs(5)).await;
    assert_eq!(err.unwrap_err().reason(), "truncated");

    // Not TLS: refused on the first bytes.
    let (mut client, mut server) = tokio::io::duplex(1024);
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let err = read_client_hello(&mut server, &mut Vec::new(), MAX, Duration::from_secs(5)).await;
    assert_eq!(err.unwrap_err().reason(), "not_tls");

    // An endless hello: stops at the limit.
    let (mut client, mut server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let mut record = vec![0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff];
        record.resize(5 + 0x4000, 0);
        for _ in 0..10 {
            if client.write_all(&record).await.is_err() {
                return;
            }
        }
    });
    let mut buf = Vec::new();
    let err = read_client_hello(&mut server, &mut buf, 4096, Duration::from_secs(5)).await;
    assert_eq!(err.unwrap_err().reason(), "too_large");
    assert!(buf.len() <= 4096);
}

/// OpenSSL's ClientHello (many more extensions than rustls's), caught on a local socket.
#[tokio::test]
async fn an_openssl_hello() {
    if !support::have("openssl") {
        eprintln!("SKIPPED an_openssl_hello: no openssl CLI");
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "OpenSSL.Example.org",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let name = read_client_hello(&mut stream, &mut buf, MAX, Duration::from_secs(5)).await;
    assert_eq!(name.unwrap().as_deref(), Some("openssl.example.org"));
    let _ = child.kill();
    let _ = child.wait();
}
