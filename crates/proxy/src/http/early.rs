//! HTTP/1.1 requests that arrive in TLS 0-RTT early data (RFC 8470).
//!
//! Early data can be replayed by anyone who recorded it, until the client's Finished proves the
//! connection live. A request is *early* when its head is complete while the client's TLS
//! handshake is still in progress ([`ClientIo::in_early_data`]); Fulcrum judges each one:
//!
//! - a safe method (`GET`, `HEAD`, `OPTIONS`), no body, no upgrade, to an HTTP/1.1 backend
//!   without TLS: forwarded at once, with `Early-Data: 1`, so the backend can refuse it with
//!   `425 Too Early`;
//! - any other request: held until the handshake completes, then forwarded as usual (then it
//!   is not early any more: a replay cannot complete the handshake);
//! - a 425 from the backend to a request Fulcrum marked: Fulcrum waits for the handshake and
//!   sends the request again without the mark (§5.2), so the client, which never sent
//!   `Early-Data`, never sees that 425.
//!
//! A client's own `Early-Data` says that an earlier hop (a CDN, another proxy) received the
//! request in early data. Intermediaries keep it (§5.1), so Fulcrum does, on every request, as
//! one `Early-Data: 1` (several fields or any other value count as 1, and a backend need not
//! know that rule); a 425 to such a request goes back to that client, which asked for it.
//! Fulcrum's own decisions never depend on the field: what is early is decided by the TLS
//! state, and a client cannot remove Fulcrum's mark (not even by naming the field in
//! `Connection`: the mark is added after hop-by-hop fields are removed).

use super::io::ClientIo;
use fulcrum_h1::{Framing, RawRequestHead};
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// `Early-Data` (RFC 8470 §5.1).
pub(crate) const EARLY_DATA: HeaderName = HeaderName::from_static("early-data");

/// The line Fulcrum adds to a serialized request head it forwards in early data.
const MARK: &[u8] = b"early-data: 1\r\n";

/// Decides whether the request may go to the backend before the client's handshake
/// completes: `Some(true)` for an early request that may (see the module doc), `Some(false)`
/// for a request that is not early, waiting for the handshake first when it was, `None` when
/// the handshake did not complete (close the connection). A client's `Early-Data` is
/// [`normalize`]d where the head is rewritten.
pub(crate) async fn classify(client: &ClientIo, head: &RawRequestHead) -> Option<bool> {
    if !client.in_early_data() {
        return Some(false);
    }
    let safe = matches!(head.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe && head.framing == Framing::None && !head.upgrade {
        return Some(true);
    }
    client.complete_handshake().await.then_some(false)
}

/// A client's `Early-Data` fields become one `Early-Data: 1` (RFC 8470 §5.1: several, or
/// any value, mean 1).
pub(crate) fn normalize(headers: &mut HeaderMap) {
    if headers.contains_key(EARLY_DATA) {
        headers.insert(EARLY_DATA, HeaderValue::from_static("1"));
    }
}

/// For a request forwarded in early data: its serialized head with `early-data: 1`, unless
/// its final fields (`fields`, as serialized) already carry the client's own, and whether
/// Fulcrum added the mark (then a 425 is Fulcrum's to retry).
pub(crate) fn mark(head: Vec<u8>, fields: &HeaderMap) -> (Vec<u8>, bool) {
    if fields.contains_key(EARLY_DATA) || !head.ends_with(b"\r\n\r\n") {
        return (head, false);
    }
    let mut out = Vec::with_capacity(head.len() + MARK.len());
    out.extend_from_slice(&head[..head.len() - 2]);
    out.extend_from_slice(MARK);
    out.extend_from_slice(b"\r\n");
    (out, true)
}

/// A head [`mark`] marked, without the mark.
pub(crate) fn unmark(head: &[u8]) -> Vec<u8> {
    let fields_end = head.len().saturating_sub(2);
    match head[..fields_end].strip_suffix(MARK) {
        Some(rest) => [rest, b"\r\n"].concat(),
        None => head.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_goes_last_and_comes_off_again() {
        let head = b"GET / HTTP/1.1\r\nhost: a\r\n\r\n".to_vec();
        let (marked, ours) = mark(head.clone(), &HeaderMap::new());
        assert!(ours);
        assert_eq!(
            marked,
            b"GET / HTTP/1.1\r\nhost: a\r\nearly-data: 1\r\n\r\n".to_vec()
        );
        assert_eq!(unmark(&marked), head);
        // Unmarked heads pass through.
        assert_eq!(unmark(&head), head);
    }

    #[test]
    fn a_client_mark_is_kept_and_not_ours() {
        let head = b"GET / HTTP/1.1\r\nearly-data: 1\r\n\r\n".to_vec();
        let mut fields = HeaderMap::new();
        fields.insert(EARLY_DATA, HeaderValue::from_static("1"));
        assert_eq!(mark(head.clone(), &fields), (head, false));
    }
}
