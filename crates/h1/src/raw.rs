//! A head's field lines kept as received: no `HeaderMap`, no allocation per field.
//!
//! A proxy that passes most fields on unchanged need not hash, lower-case and copy each one
//! into a map only to serialize it again. [`RawFields`] keeps the head's bytes (one copy) and
//! where each name and (trimmed) value lies; [`RawFields::into_header_map`] builds the map when
//! something does need it.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::framing::{Facts, trim_end};
use crate::head::leading_space;
use crate::{Error, ErrorKind};

/// One field line: the name's and the value's byte ranges in the head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Line {
    name: (u32, u32),
    value: (u32, u32),
}

/// The field lines of one head, in order, with names in the case they came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFields {
    head: Vec<u8>,
    lines: Vec<Line>,
    /// A Connection field lists an option other than close, keep-alive and upgrade.
    connection_others: bool,
}

impl RawFields {
    /// Every field line as `(name, value)`, in order; values without surrounding whitespace.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.lines.iter().map(|l| {
            (
                &self.head[l.name.0 as usize..l.name.1 as usize],
                &self.head[l.value.0 as usize..l.value.1 as usize],
            )
        })
    }

    /// The values of the fields named `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of the fields named `name` (any case).
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// Whether a Connection field lists an option other than `close`, `keep-alive` and
    /// `upgrade`: only then can it name further fields to drop at this hop.
    pub fn connection_names_others(&self) -> bool {
        self.connection_others
    }

    /// How many field lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The fields as a map (names lower-cased, repeated fields kept in order). The values
    /// share one buffer, the head's, rather than each being copied.
    pub fn into_header_map(self) -> Result<HeaderMap, Error> {
        self.into_header_map_where(|_| true)
    }

    /// [`RawFields::into_header_map`] with only the fields whose name `keep` accepts.
    pub fn into_header_map_where(self, keep: impl Fn(&[u8]) -> bool) -> Result<HeaderMap, Error> {
        let head = Bytes::from(self.head);
        let mut map = HeaderMap::with_capacity(self.lines.len());
        for l in &self.lines {
            let name = &head[l.name.0 as usize..l.name.1 as usize];
            if !keep(name) {
                continue;
            }
            let name = HeaderName::from_bytes(name).map_err(|_| ErrorKind::InvalidFieldName)?;
            let value = head.slice(l.value.0 as usize..l.value.1 as usize);
            let value =
                HeaderValue::from_maybe_shared(value).map_err(|_| ErrorKind::InvalidFieldValue)?;
            map.append(name, value);
        }
        Ok(map)
    }
}

/// Records the field lines of the validated head `head`, whose first field line starts at
/// `line` (`marks`: the offsets of each line's colon and CR, from the scanner), and the facts
/// they state.
pub(crate) fn build_raw(
    head: &[u8],
    mut line: usize,
    marks: &[u32],
) -> Result<(RawFields, Facts), Error> {
    let (pairs, _) = marks.as_chunks::<2>();
    let mut lines = Vec::with_capacity(pairs.len());
    let mut facts = Facts::default();
    for &[colon, end] in pairs {
        let (colon, end) = (colon as usize, end as usize);
        let name = &head[line..colon];
        let start = colon + 1 + leading_space(&head[colon + 1..end]);
        let value = trim_end(&head[start..end]);
        facts.observe(name, value)?;
        lines.push(Line {
            name: (line as u32, colon as u32),
            value: (start as u32, (start + value.len()) as u32),
        });
        line = end + 2;
    }
    let fields = RawFields {
        head: head.to_vec(),
        lines,
        connection_others: facts.connection_others,
    };
    Ok((fields, facts))
}

/// A field value as text when it is visible ASCII (or tabs), as `HeaderValue::to_str` has it.
#[inline]
pub fn as_text(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}
