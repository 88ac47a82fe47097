//! Phase two of head parsing: helpers for splitting the lines [`crate::scan`] validated
//! ([`crate::raw`] records them).

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderValue};

use crate::framing::trim;

/// How many spaces and tabs `raw` starts with.
#[inline]
pub(crate) fn leading_space(raw: &[u8]) -> usize {
    raw.iter().take_while(|&&b| b == b' ' || b == b'\t').count()
}

/// Position of the first `byte` in `s`, or `s.len()`.
#[inline]
pub(crate) fn find(s: &[u8], byte: u8) -> usize {
    s.iter().position(|&b| b == byte).unwrap_or(s.len())
}

/// A repeated or listed Content-Length (all values equal, else refused) as one field.
pub(crate) fn merge_content_length(headers: &mut HeaderMap) {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return;
    };
    let listed = values.next().is_some() || first.as_bytes().contains(&b',');
    let n = first.as_bytes().split(|&b| b == b',').next().map(trim);
    if let (true, Some(n)) = (
        listed,
        n.and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok()),
    ) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
}
