//! Session tickets keyed from a file, so that several instances resume each other's sessions.
//!
//! Without `ticket_key_file` a listener uses rustls's own ticketer (random keys, rotated every
//! 6 hours, one per listener and so shared by all worker threads). With it, the keys come from
//! the file:
//!
//! - one key per line, base64 (padding optional) of at least 32 random bytes: the 48- or
//!   80-byte keys of HAProxy's `tls-ticket-keys` files work, and `openssl rand -base64 48`
//!   makes one; blank lines and lines starting with `#` are ignored; at most 64 keys;
//! - the first key encrypts new tickets, every key decrypts;
//! - to rotate: add a new key as the *second* line on every instance and reload, then move it
//!   to the top, later drop the last key. (A new key at the top of one instance before the
//!   others know it only costs full handshakes in between.)
//!
//! From each key, HKDF-SHA256 derives a 16-byte key name and an AES-256-GCM key. A ticket is
//! `name(16) | nonce(12) | seal(issued-at(8) | state) | tag(16)`, the name as associated data.
//! A ticket older than [`LIFETIME`] is refused whatever its key.

use crate::error::TlsError;
use arc_swap::ArcSwap;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds a ticket may be used for (also what clients are told).
pub const LIFETIME: u32 = 12 * 60 * 60;
/// Keys in a file at most.
pub const MAX_KEYS: usize = 64;
/// Bytes of key material per line at least.
pub const MIN_KEY_BYTES: usize = 32;
/// Tickets issued this far in the future (clocks of instances apart) are still accepted.
const CLOCK_SKEW: u64 = 300;

const NAME_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TIME_LEN: usize = 8;

struct TicketKey {
    name: [u8; NAME_LEN],
    key: LessSafeKey,
}

/// A `ProducesTickets` with keys from a file; [`FileTicketer::reload`] re-reads it.
pub struct FileTicketer {
    path: PathBuf,
    keys: ArcSwap<Vec<TicketKey>>,
}

impl fmt::Debug for FileTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileTicketer")
            .field("path", &self.path)
            .field("keys", &self.keys.load().len())
            .finish()
    }
}

impl FileTicketer {
    pub fn load(path: &Path) -> Result<FileTicketer, TlsError> {
        Ok(FileTicketer {
            path: path.to_path_buf(),
            keys: ArcSwap::from_pointee(read_keys(path)?),
        })
    }

    /// Re-reads the file; on error the keys in use are kept.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.keys.store(Arc::new(read_keys(&self.path)?));
        Ok(())
    }
}

/// Checks a ticket key file without keeping it (for `fulcrum check`).
pub fn check(path: &Path) -> Result<(), TlsError> {
    read_keys(path).map(|_| ())
}

fn read_keys(path: &Path) -> Result<Vec<TicketKey>, TlsError> {
    let bytes = crate::files::read(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| TlsError::invalid(path, "not a text file of base64 keys"))?;
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| TlsError::invalid(path, format!("line {}: {what}", i + 1));
        let material = base64(line).ok_or_else(|| bad("not base64"))?;
        if material.len() < MIN_KEY_BYTES {
            return Err(bad(&format!(
                "a key of {} bytes; at least {MIN_KEY_BYTES} (e.g. `openssl rand -base64 48`)",
                material.len()
            )));
        }
        keys.push(derive(&material));
    }
    if keys.is_empty() {
        return Err(TlsError::invalid(
            path,
            "no key in it (one base64 key per line)",
        ));
    }
    if keys.len() > MAX_KEYS {
        return Err(TlsError::invalid(
            path,
            format!("{} keys; at most {MAX_KEYS}", keys.len()),
        ));
    }
    Ok(keys)
}

/// HKDF-SHA256 of the key material: a key name and an AES-256-GCM key.
fn derive(material: &[u8]) -> TicketKey {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"fulcrum session tickets").extract(material);
    let mut name = [0u8; NAME_LEN];
    let mut key = [0u8; 32];
    // Lengths this small never fail (at most 255 * 32 bytes).
    let ok = prk
        .expand(&[b"name"], Len(NAME_LEN))
        .and_then(|okm| okm.fill(&mut name))
        .and_then(|()| prk.expand(&[b"aes-256-gcm"], Len(32)))
        .and_then(|okm| okm.fill(&mut key));
    debug_assert!(ok.is_ok());
    let unbound = UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte AES-256 key");
    TicketKey {
        name,
        key: LessSafeKey::new(unbound),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ProducesTickets for FileTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        LIFETIME
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let keys = self.keys.load();
        let k = keys.first()?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + TIME_LEN + plain.len() + 16);
        out.extend_from_slice(&k.name);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&now().to_be_bytes());
        out.extend_from_slice(plain);
        let tag = k
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(k.name),
                &mut out[NAME_LEN + NONCE_LEN..],
            )
            .ok()?;
        out.extend_from_slice(tag.as_ref());
        Some(out)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let tag_len = AES_256_GCM.tag_len();
        if ticket.len() < NAME_LEN + NONCE_LEN + TIME_LEN + tag_len {
            return None;
        }
        let (name, rest) = ticket.split_at(NAME_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let keys = self.keys.load();
        let k = keys.iter().find(|k| k.name == name)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = sealed.to_vec();
        let plain = k
            .key
            .open_in_place(nonce, Aad::from(&k.name), &mut buf)
            .ok()?;
        let (issued, state) = plain.split_at(TIME_LEN);
        let issued = u64::from_be_bytes(issued.try_into().ok()?);
        let now = now();
        if issued > now + CLOCK_SKEW || now.saturating_sub(issued) > u64::from(LIFETIME) {
            return None;
        }
        Some(state.to_vec())
    }
}

/// Standard base64 (RFC 4648), padding optional, no whitespace inside.
fn base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding of a whole final group (2 or 4 bits).
    (bits < 6 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64("aGk=").unwrap(), b"hi");
        assert_eq!(base64("").unwrap(), b"");
        assert!(base64("aGVsbG8*").is_none());
        assert!(base64("aGVsbG9").is_none());
    }

    fn ticketer(lines: &str) -> FileTicketer {
        let dir = std::env::temp_dir().join(format!("fulcrum-tickets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{:x}.key", lines.len()));
        std::fs::write(&path, lines).unwrap();
        FileTicketer::load(&path).unwrap()
    }

    const K1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm";
    const K2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTBmZWRjYmE5ODc2NTQzMjEw";

    #[test]
    fn tickets_round_trip_and_resist_tampering() {
        let t = ticketer(&format!("# keys\n{K1}\n\n{K2}\n"));
        let sealed = t.encrypt(b"session state").unwrap();
        assert_eq!(t.decrypt(&sealed).unwrap(), b"session state");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(t.decrypt(&bad).is_none(), "flipped byte {i}");
        }
        for n in 0..sealed.len() {
            assert!(t.decrypt(&sealed[..n]).is_none());
        }
        // Another instance with the keys in another order decrypts (any key decrypts).
        let other = ticketer(&format!("{K2}\n{K1}\n"));
        assert_eq!(other.decrypt(&sealed).unwrap(), b"session state");
        // Without the key, no.
        assert!(ticketer(&format!("{K2}\n")).decrypt(&sealed).is_none());
        let dir = std::env::temp_dir().join(format!("fulcrum-tickets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }
}
