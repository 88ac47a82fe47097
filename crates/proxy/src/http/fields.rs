//! A request's fields however they are held: the raw lines of an HTTP/1.1 head
//! ([`RawFields`]) or a `HeaderMap` (HTTP/2, hyper). Routing, affinity and the access log read
//! them through [`Fields`], so an HTTP/1.1 request needs no map to be routed.

use fulcrum_h1::RawFields;
use http::{HeaderMap, HeaderValue};

pub(crate) trait Fields {
    /// The values of the fields named `name` (lower case), in order.
    fn values_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a;

    /// The first value of the fields named `name`.
    fn value_of<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.values_of(name).next()
    }
}

impl Fields for HeaderMap {
    fn values_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name).iter().map(HeaderValue::as_bytes)
    }
}

impl Fields for RawFields {
    fn values_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name)
    }
}

pub(crate) use fulcrum_h1::as_text;

#[cfg(test)]
mod tests {
    use super::{Fields, as_text};
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn a_map_and_raw_lines_read_alike() {
        let mut map = HeaderMap::new();
        map.append("cookie", HeaderValue::from_static("a=1"));
        map.append("cookie", HeaderValue::from_static("b=2"));
        let raw = fulcrum_h1::RequestParser::new()
            .parse_raw(
                b"GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCOOKIE: b=2\r\n\r\n",
                &fulcrum_h1::Limits::default(),
            )
            .ok()
            .and_then(|p| match p {
                fulcrum_h1::Parsed::Complete { head, .. } => Some(head.fields),
                fulcrum_h1::Parsed::Partial => None,
            })
            .expect("parsed");
        let from_map: Vec<_> = map.values_of("cookie").collect();
        let from_raw: Vec<_> = raw.values_of("cookie").collect();
        assert_eq!(from_map, from_raw);
        assert_eq!(raw.value_of("host"), Some(&b"h"[..]));
        assert_eq!(map.value_of("host"), None);
    }

    #[test]
    fn text_is_visible_ascii() {
        assert_eq!(as_text(b"a b\tc"), Some("a b\tc"));
        assert_eq!(as_text("é".as_bytes()), None);
        assert_eq!(as_text(b"\x7f"), None);
    }
}
