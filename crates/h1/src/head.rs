//! Phase two of head parsing: split lines that [`crate::scan`] validated into a `HeaderMap`.

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::framing::{Facts, trim};
use crate::{Error, ErrorKind};

/// Fields a map is sized for beyond those parsed: what a proxy typically inserts (a request
/// id, a client-certificate field or two); more make the map grow.
const HEADROOM: usize = 3;

/// Builds the fields of the validated head `head`, whose first field line starts at `line`;
/// `marks` holds the offsets of each line's colon and CR. Repeated or listed Content-Length
/// values (all equal, or refused) become one field, so the proxy forwards a single one.
pub(crate) fn build_fields(
    head: &[u8],
    mut line: usize,
    marks: &[u32],
) -> Result<(HeaderMap, Facts), Error> {
    let too_many = |_| Error::from(ErrorKind::TooManyHeaders);
    let (pairs, _) = marks.as_chunks::<2>();
    let mut headers = HeaderMap::try_with_capacity(pairs.len() + HEADROOM).map_err(too_many)?;
    let mut facts = Facts::default();
    for &[colon, end] in pairs {
        let (colon, end) = (colon as usize, end as usize);
        let name =
            HeaderName::from_bytes(&head[line..colon]).map_err(|_| ErrorKind::InvalidFieldName)?;
        let raw = &head[colon + 1..end];
        let value = trim(raw);
        facts.observe(&name, value)?;
        let value = HeaderValue::from_bytes(value).map_err(|_| ErrorKind::InvalidFieldValue)?;
        headers.try_append(name, value).map_err(too_many)?;
        line = end + 2;
    }
    if let (true, Some(n)) = (facts.content_length_merged, facts.content_length) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
    Ok((headers, facts))
}

/// Position of the first `byte` in `s`, or `s.len()`.
#[inline]
pub(crate) fn find(s: &[u8], byte: u8) -> usize {
    s.iter().position(|&b| b == byte).unwrap_or(s.len())
}
