//! Record protection after the handshake (RFC 8446 §5, RFC 5246 §6.2.3.3, RFC 7905), on the
//! traffic keys rustls derived: records are decrypted in place in the connection's read
//! buffer and encrypted in place in its send buffer, with no copy or queue in between.
//!
//! rustls runs the handshake and keeps the secrets for key updates
//! ([`rustls::kernel::KernelConnection`]); everything after it (framing, nonces, the inner
//! content type, limits) is here. Suites: AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305,
//! TLS 1.3 and TLS 1.2 (the suites Fulcrum offers).

use aws_lc_rs::aead::{
    AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey,
};
use rustls::{ConnectionTrafficSecrets, Error, InvalidMessage, PeerMisbehaved};
use std::io;
use std::ops::{Deref, Range};

/// A record header: type, legacy version, length.
pub(crate) const HEADER: usize = 5;
/// The most plaintext one record carries.
pub(crate) const MAX_PLAIN: usize = 16 * 1024;
const TAG: usize = 16;
/// TLS 1.2 AES-GCM's per-record explicit nonce.
const EXPLICIT: usize = 8;

/// Content types.
pub(crate) const ALERT: u8 = 21;
pub(crate) const HANDSHAKE: u8 = 22;
pub(crate) const APPLICATION_DATA: u8 = 23;

/// One direction's key, static IV and sequence number.
struct Keys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl Keys {
    fn new((seq, secrets): (u64, ConnectionTrafficSecrets)) -> io::Result<Keys> {
        let (alg, key, iv) = match &secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (&CHACHA20_POLY1305, key, iv),
            _ => return Err(io::Error::other("unsupported TLS record protection")),
        };
        let key = UnboundKey::new(alg, key.as_ref())
            .map_err(|_| io::Error::other("bad TLS traffic key"))?;
        Ok(Keys {
            key: LessSafeKey::new(key),
            iv: iv
                .as_ref()
                .try_into()
                .map_err(|_| io::Error::other("bad TLS IV"))?,
            seq,
        })
    }

    /// The IV with the sequence number XORed into its last eight bytes (TLS 1.3, and TLS 1.2
    /// ChaCha20; TLS 1.2 AES-GCM sends the last eight bytes as the explicit nonce).
    fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    fn next(&mut self) -> io::Result<()> {
        self.seq = self.seq.checked_add(1).ok_or_else(|| {
            invalid(Error::EncryptError) // 2^64 records: cannot happen before the limit
        })?;
        Ok(())
    }
}

/// A decrypted record in the buffer given to [`Protection::open`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Opened {
    /// The (inner) content type.
    pub kind: u8,
    /// Where its plaintext is.
    pub plain: Range<usize>,
    /// The whole record's length on the wire.
    pub len: usize,
}

/// Both directions' record protection for one connection.
pub(crate) struct Protection {
    tls13: bool,
    /// TLS 1.2 AES-GCM: an explicit nonce in each record.
    explicit: bool,
    rx: Keys,
    tx: Keys,
    /// Records the send key may protect before it must be replaced.
    tx_limit: u64,
}

impl Protection {
    pub(crate) fn new(
        tls13: bool,
        rx: (u64, ConnectionTrafficSecrets),
        tx: (u64, ConnectionTrafficSecrets),
        tx_limit: u64,
    ) -> io::Result<Protection> {
        let explicit = !tls13 && !matches!(tx.1, ConnectionTrafficSecrets::Chacha20Poly1305 { .. });
        Ok(Protection {
            tls13,
            explicit,
            rx: Keys::new(rx)?,
            tx: Keys::new(tx)?,
            tx_limit,
        })
    }

    pub(crate) fn tls13(&self) -> bool {
        self.tls13
    }

    /// After a key update from the peer.
    pub(crate) fn set_rx(&mut self, secrets: (u64, ConnectionTrafficSecrets)) -> io::Result<()> {
        self.rx = Keys::new(secrets)?;
        Ok(())
    }

    /// After a key update of ours.
    pub(crate) fn set_tx(&mut self, secrets: (u64, ConnectionTrafficSecrets)) -> io::Result<()> {
        self.tx = Keys::new(secrets)?;
        Ok(())
    }

    /// Whether the send key is near its confidentiality limit (RFC 8446 §5.5).
    pub(crate) fn tx_worn(&self) -> bool {
        self.tx.seq >= self.tx_limit
    }

    /// Decrypts the record at the start of `buf` in place. `None` when it has not all
    /// arrived yet; an error for a record that is too long, does not authenticate or is not
    /// a well-formed record of the protocol.
    pub(crate) fn open(&mut self, buf: &mut [u8]) -> io::Result<Option<Opened>> {
        let Some(len) = record_len(buf) else {
            return Ok(None);
        };
        let max = if self.tls13 {
            MAX_PLAIN + 256
        } else {
            MAX_PLAIN + 2048
        };
        if len - HEADER > max {
            return Err(invalid(Error::PeerSentOversizedRecord));
        }
        let Some(record) = buf.get_mut(..len) else {
            return Ok(None);
        };
        let Some(&header) = record.first_chunk::<HEADER>() else {
            return Ok(None); // cannot be: `len` counts the header
        };
        let opened = if self.tls13 {
            self.open13(header, record)?
        } else {
            self.open12(header, record)?
        };
        self.rx.next()?;
        Ok(Some(opened))
    }

    fn open13(&mut self, header: [u8; HEADER], record: &mut [u8]) -> io::Result<Opened> {
        if header[0] != APPLICATION_DATA {
            return Err(invalid(Error::InvalidMessage(
                InvalidMessage::InvalidContentType,
            )));
        }
        let nonce = Nonce::assume_unique_for_key(self.rx.nonce());
        let inner = self
            .rx
            .key
            .open_in_place(nonce, Aad::from(header), &mut record[HEADER..])
            .map_err(|_| invalid(Error::DecryptError))?;
        // TLSInnerPlaintext: content, then the type, then zero padding.
        let Some(at) = inner.iter().rposition(|&b| b != 0) else {
            return Err(invalid(Error::PeerMisbehaved(
                PeerMisbehaved::IllegalTlsInnerPlaintext,
            )));
        };
        if at > MAX_PLAIN {
            return Err(invalid(Error::PeerSentOversizedRecord));
        }
        Ok(Opened {
            kind: inner[at],
            plain: HEADER..HEADER + at,
            len: record.len(),
        })
    }

    fn open12(&mut self, header: [u8; HEADER], record: &mut [u8]) -> io::Result<Opened> {
        let kind = header[0];
        if !matches!(kind, ALERT | HANDSHAKE | APPLICATION_DATA) || header[1] != 3 {
            return Err(invalid(Error::InvalidMessage(
                InvalidMessage::InvalidContentType,
            )));
        }
        let start = HEADER + if self.explicit { EXPLICIT } else { 0 };
        let Some(plain_len) = record.len().checked_sub(start + TAG) else {
            return Err(invalid(Error::DecryptError));
        };
        let nonce = if self.explicit {
            let mut nonce = self.rx.iv;
            nonce[4..].copy_from_slice(&record[HEADER..start]);
            nonce
        } else {
            self.rx.nonce()
        };
        let aad = aad12(self.rx.seq, kind, plain_len);
        self.rx
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut record[start..],
            )
            .map_err(|_| invalid(Error::DecryptError))?;
        if plain_len > MAX_PLAIN {
            return Err(invalid(Error::PeerSentOversizedRecord));
        }
        Ok(Opened {
            kind,
            plain: start..start + plain_len,
            len: record.len(),
        })
    }

    /// Appends up to `limit` bytes of `parts` (together: one message stream) to `out` as
    /// records of type `kind`, each at most [`MAX_PLAIN`] bytes of plaintext: how many bytes
    /// it took.
    pub(crate) fn seal<T: Deref<Target = [u8]>>(
        &mut self,
        kind: u8,
        parts: &[T],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> io::Result<usize> {
        let total = parts.iter().map(|p| p.len()).sum::<usize>().min(limit);
        let records = total.div_ceil(MAX_PLAIN);
        out.reserve(total + records * (HEADER + EXPLICIT + 1 + TAG));
        let (mut taken, mut part, mut offset) = (0, 0, 0);
        while taken < total {
            let n = (total - taken).min(MAX_PLAIN);
            let start = out.len();
            out.extend_from_slice(&[0; HEADER]);
            if self.explicit {
                out.extend_from_slice(&self.tx.nonce()[4..]);
            }
            let body = out.len();
            let mut left = n;
            while left > 0 {
                let p = &parts[part][offset..];
                let m = p.len().min(left);
                out.extend_from_slice(&p[..m]);
                (left, offset) = (left - m, offset + m);
                if m == p.len() {
                    (part, offset) = (part + 1, 0);
                }
            }
            self.seal_record(kind, start, body, out)?;
            taken += n;
        }
        Ok(taken)
    }

    /// Encrypts the record being built at `out[start..]` (header, explicit nonce, then the
    /// plaintext from `body`) in place and fills in its header.
    fn seal_record(
        &mut self,
        kind: u8,
        start: usize,
        body: usize,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let n = out.len() - body;
        let mut aad = [0; 13];
        let aad_len = if self.tls13 {
            // The header is the additional data; the inner content type follows the text.
            out.push(kind);
            let [hi, lo] = ((n + 1 + TAG) as u16).to_be_bytes();
            aad[..HEADER].copy_from_slice(&[APPLICATION_DATA, 3, 3, hi, lo]);
            out[start..start + HEADER].copy_from_slice(&aad[..HEADER]);
            HEADER
        } else {
            let [hi, lo] = ((body - start - HEADER + n + TAG) as u16).to_be_bytes();
            out[start..start + HEADER].copy_from_slice(&[kind, 3, 3, hi, lo]);
            aad = aad12(self.tx.seq, kind, n);
            13
        };
        let nonce = Nonce::assume_unique_for_key(self.tx.nonce());
        let tag = self
            .tx
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(&aad[..aad_len]), &mut out[body..])
            .map_err(|_| invalid(Error::EncryptError))?;
        out.extend_from_slice(tag.as_ref());
        self.tx.next()
    }
}

/// The length of the record at the start of `buf` (header included), once its header is there.
pub(crate) fn record_len(buf: &[u8]) -> Option<usize> {
    let h = buf.first_chunk::<HEADER>()?;
    Some(HEADER + usize::from(u16::from_be_bytes([h[3], h[4]])))
}

/// TLS 1.2's additional data: sequence number, type, version, plaintext length.
fn aad12(seq: u64, kind: u8, len: usize) -> [u8; 13] {
    let mut aad = [0; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8..11].copy_from_slice(&[kind, 3, 3]);
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    aad
}

/// A protocol error as the I/O error the connection's reads and writes return.
pub(crate) fn invalid(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::cipher::{AeadKey, Iv};

    /// Two ends of a connection: what one seals, the other opens.
    fn pair(tls13: bool, chacha: bool) -> (Protection, Protection) {
        let secrets = |b: u8| {
            let (key, iv) = (AeadKey::from([b; 32]), Iv::new([b; NONCE_LEN]));
            let s = if chacha {
                ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv }
            } else {
                ConnectionTrafficSecrets::Aes256Gcm { key, iv }
            };
            (0, s)
        };
        let a = Protection::new(tls13, secrets(1), secrets(2), 3).unwrap();
        let b = Protection::new(tls13, secrets(2), secrets(1), 3).unwrap();
        (a, b)
    }

    const KINDS: [(bool, bool); 4] = [(true, false), (true, true), (false, false), (false, true)];

    #[test]
    fn sealed_records_open_on_the_other_side() {
        for (tls13, chacha) in KINDS {
            let (mut a, mut b) = pair(tls13, chacha);
            let big: Vec<u8> = (0..40_000).map(|i| i as u8).collect();
            let mut wire = Vec::new();
            assert_eq!(
                a.seal(
                    APPLICATION_DATA,
                    &[&b"hello "[..], b"world"],
                    usize::MAX,
                    &mut wire
                )
                .unwrap(),
                11
            );
            assert_eq!(
                a.seal(ALERT, &[&[1u8, 0][..]], usize::MAX, &mut wire)
                    .unwrap(),
                2
            );
            assert_eq!(
                a.seal(APPLICATION_DATA, &[&big[..]], 20_000, &mut wire)
                    .unwrap(),
                20_000
            );
            let mut got = Vec::new();
            let mut at = 0;
            while at < wire.len() {
                let o = b.open(&mut wire[at..]).unwrap().expect("a whole record");
                got.push((o.kind, wire[at + o.plain.start..at + o.plain.end].to_vec()));
                at += o.len;
            }
            let want = vec![
                (APPLICATION_DATA, b"hello world".to_vec()),
                (ALERT, vec![1, 0]),
                (APPLICATION_DATA, big[..MAX_PLAIN].to_vec()),
                (APPLICATION_DATA, big[MAX_PLAIN..20_000].to_vec()),
            ];
            assert_eq!(got, want, "tls13 {tls13}, chacha {chacha}");
            assert!(a.tx_worn(), "4 records against a limit of 3");
        }
    }

    #[test]
    fn a_changed_byte_fails_and_a_partial_record_waits() {
        for (tls13, chacha) in KINDS {
            let (mut a, mut b) = pair(tls13, chacha);
            let mut wire = Vec::new();
            a.seal(
                APPLICATION_DATA,
                &[&b"GET / HTTP/1.1\r\n\r\n"[..]],
                usize::MAX,
                &mut wire,
            )
            .unwrap();
            for cut in [0, 3, HEADER, wire.len() - 1] {
                assert_eq!(
                    b.open(&mut wire.clone()[..cut]).unwrap(),
                    None,
                    "{cut} bytes"
                );
            }
            for at in [1, HEADER + 2, wire.len() - 1] {
                let mut bad = wire.clone();
                bad[at] ^= 0x40;
                assert!(b.open(&mut bad).is_err(), "byte {at} changed");
            }
            // Too long to be a record.
            let mut huge = [APPLICATION_DATA, 3, 3, 0xff, 0xff].to_vec();
            assert!(b.open(&mut huge).is_err());
            // The untouched record still opens: failures did not move the sequence.
            assert!(b.open(&mut wire).unwrap().is_some());
        }
    }
}
