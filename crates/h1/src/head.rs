//! Phase two of head parsing: split lines that [`crate::scan`] validated into a `HeaderMap`.

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::framing::{Facts, trim};
use crate::{Error, ErrorKind};

/// Fields a map is sized for beyond those parsed: what a proxy typically inserts (a request
/// id, a client-certificate field or two); more make the map grow.
const HEADROOM: usize = 3;

/// Builds the fields of the validated head `head`, whose first field line starts at `line`;
/// `marks` holds the offsets of each line's colon and CR. Repeated or listed Content-Length
/// values (all equal, or refused) become one field, so the proxy forwards a single one. The
/// values share one copy of the field lines rather than each being copied.
pub(crate) fn build_fields(
    head: &[u8],
    mut line: usize,
    marks: &[u32],
) -> Result<(HeaderMap, Facts), Error> {
    let too_many = |_| Error::from(ErrorKind::TooManyHeaders);
    let (pairs, _) = marks.as_chunks::<2>();
    let mut headers = HeaderMap::try_with_capacity(pairs.len() + HEADROOM).map_err(too_many)?;
    let mut facts = Facts::default();
    let base = line;
    let fields_end = pairs.last().map_or(base, |&[_, end]| end as usize);
    let shared = Bytes::copy_from_slice(&head[base..fields_end]);
    for &[colon, end] in pairs {
        let (colon, end) = (colon as usize, end as usize);
        let name =
            HeaderName::from_bytes(&head[line..colon]).map_err(|_| ErrorKind::InvalidFieldName)?;
        let raw = &head[colon + 1..end];
        let value = trim(raw);
        facts.observe(&name, value)?;
        let start = colon + 1 + leading_space(raw) - base;
        let value = shared.slice(start..start + value.len());
        let value =
            HeaderValue::from_maybe_shared(value).map_err(|_| ErrorKind::InvalidFieldValue)?;
        headers.try_append(name, value).map_err(too_many)?;
        line = end + 2;
    }
    if let (true, Some(n)) = (facts.content_length_merged, facts.content_length) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
    Ok((headers, facts))
}

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
