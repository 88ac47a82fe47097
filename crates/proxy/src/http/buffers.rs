//! Spare read buffers for client connections, per worker thread.
//!
//! A keep-alive connection gives its read buffer back before it waits for the next request,
//! so an idle connection holds no buffer, and takes one again when the request comes. Without
//! spares that is an allocation and a free of a 4 KiB buffer per request; with them, a pop and
//! a push. The spares are thread-local: each worker runs its connections on its own
//! single-threaded runtime, so no lock is needed, and a buffer given back on another thread
//! only goes to that thread's spares. At most [`KEEP`] spares are kept per thread.

use bytes::BytesMut;
use std::cell::RefCell;

/// The room a buffer from [`take`] has, and the largest one [`give_back`] keeps.
pub(super) const SIZE: usize = 4096;

/// Spare buffers kept per thread (256 KiB).
const KEEP: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for [`SIZE`] bytes: a spare, or a new one.
pub(super) fn take() -> BytesMut {
    SPARE
        .with_borrow_mut(Vec::pop)
        .unwrap_or_else(|| BytesMut::with_capacity(SIZE))
}

/// Keeps `buf` as a spare if it is empty, not shared with bytes still in use elsewhere (it can
/// then be rewound to its start without a copy) and not grown beyond [`SIZE`]; drops it
/// otherwise.
pub(super) fn give_back(mut buf: BytesMut) {
    if !buf.is_empty() || !buf.try_reclaim(SIZE) || buf.capacity() > SIZE {
        return;
    }
    SPARE.with_borrow_mut(|spare| {
        if spare.len() < KEEP {
            spare.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_rewound() {
        let mut buf = take();
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let start = buf.as_ptr();
        let _ = buf.split_to(buf.len());
        give_back(buf);
        let again = take();
        assert_eq!(again.as_ptr(), start, "the same allocation, from its start");
        assert!(again.is_empty());
        assert_eq!(again.capacity(), SIZE);
    }

    #[test]
    fn shared_grown_or_holding_buffers_are_not_kept() {
        SPARE.with_borrow_mut(Vec::clear);
        let mut shared = take();
        shared.extend_from_slice(b"body");
        let held = shared.split_to(4).freeze();
        give_back(shared);
        let mut grown = BytesMut::with_capacity(4 * SIZE);
        grown.extend_from_slice(b"x");
        grown.clear();
        give_back(grown);
        let mut holding = take();
        holding.extend_from_slice(b"pipelined");
        give_back(holding);
        assert_eq!(SPARE.with_borrow(Vec::len), 0);
        assert_eq!(&held[..], b"body");
    }

    #[test]
    fn at_most_keep_spares() {
        SPARE.with_borrow_mut(Vec::clear);
        for _ in 0..KEEP + 10 {
            give_back(BytesMut::with_capacity(SIZE));
        }
        assert_eq!(SPARE.with_borrow(Vec::len), KEEP);
    }
}
