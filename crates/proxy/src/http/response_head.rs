//! The backend's response head, rewritten for the client without building a `HeaderMap`.
//!
//! The fields are copied as they came (names in their case) except the hop-by-hop ones, the
//! ones the Connection field names, and the ones the route's rules remove or replace; then
//! come the fields Fulcrum writes itself, in the order the rules expect: framing, upgrade,
//! Via and a persistence cookie (all subject to the rules), the rules' own fields, then the
//! request id and Connection (which replace any others of their name).

use super::headers::{connection_options, hop_by_hop_raw};
use super::route::Rules;
use fulcrum_h1::{Framing, RawFields, RawResponseHead, write_field};
use http::{HeaderName, HeaderValue, Version};

/// What Fulcrum adds to a response head.
pub(crate) struct Added<'a> {
    /// The body's framing toward the client.
    pub(crate) framing: Framing,
    /// Keep the backend's Content-Length on a bodiless answer (to HEAD, or a 304).
    pub(crate) keep_length: bool,
    /// The protocol after a `101 Switching Protocols` goes on as `Upgrade`.
    pub(crate) tunnel: bool,
    pub(crate) via: bool,
    pub(crate) set_cookie: Option<&'a str>,
    pub(crate) request_id: Option<(&'a HeaderName, &'a HeaderValue)>,
    /// `close`, or `keep-alive` for an HTTP/1.0 client that keeps the connection.
    pub(crate) connection: Option<&'static str>,
}

/// Writes the whole head (status line, fields, empty line) of `head` as rewritten.
pub(crate) fn write(head: &RawResponseHead, rules: &Rules, added: &Added<'_>, out: &mut Vec<u8>) {
    fulcrum_h1::write_status_line(Version::HTTP_11, head.status, &head.reason, out);
    let named = connection_named(&head.fields);
    let replaced = |name: &[u8]| {
        rules.drops(name)
            || added
                .request_id
                .is_some_and(|(n, _)| name.eq_ignore_ascii_case(n.as_str().as_bytes()))
            || (added.connection.is_some() && name.eq_ignore_ascii_case(b"connection"))
    };
    let (mut length, mut upgrade) = (None, None);
    for (name, value) in head.fields.iter() {
        if hop_by_hop_raw(name) {
            if name.eq_ignore_ascii_case(b"content-length") {
                length.get_or_insert(value);
            } else if name.eq_ignore_ascii_case(b"upgrade") {
                upgrade.get_or_insert(value);
            }
            continue;
        }
        if !replaced(name) && !named.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            write_field(name, value, out);
        }
    }
    let mut ours = |name: &str, value: &[u8]| {
        if !replaced(name.as_bytes()) {
            write_field(name.as_bytes(), value, out);
        }
    };
    match added.framing {
        Framing::Length(n) => ours("content-length", decimal(n, &mut [0; 20])),
        Framing::Chunked => ours("transfer-encoding", b"chunked"),
        Framing::None if added.keep_length => {
            if let Some(length) = length {
                ours("content-length", length);
            }
        }
        Framing::None | Framing::UntilClose => {}
    }
    if added.tunnel
        && let Some(protocol) = upgrade
    {
        ours("connection", b"upgrade");
        ours("upgrade", protocol);
    }
    if added.via {
        ours("via", b"1.1 fulcrum");
    }
    if let Some(cookie) = added.set_cookie {
        ours("set-cookie", cookie.as_bytes());
    }
    for (name, value) in rules.added() {
        let is = |other: &[u8]| name.as_str().as_bytes().eq_ignore_ascii_case(other);
        let overridden = added.request_id.is_some_and(|(n, _)| n == name)
            || (added.connection.is_some() && is(b"connection"));
        if !overridden {
            write_field(name.as_str().as_bytes(), value.as_bytes(), out);
        }
    }
    if let Some((name, id)) = added.request_id {
        write_field(name.as_str().as_bytes(), id.as_bytes(), out);
    }
    if let Some(connection) = added.connection {
        write_field(b"connection", connection.as_bytes(), out);
    }
    out.extend_from_slice(b"\r\n");
}

/// The field names a head's Connection field lists ([`connection_options`], and not `close`):
/// usually none, so nothing is allocated, and the fields are not searched when the parser saw
/// no option beyond close, keep-alive and upgrade.
pub(super) fn connection_named(fields: &RawFields) -> Vec<&[u8]> {
    let mut named = Vec::new();
    if !fields.connection_names_others() {
        return named;
    }
    for value in fields.get_all("connection") {
        let options = connection_options(value);
        named.extend(options.filter(|option| !option.eq_ignore_ascii_case(b"close")));
    }
    named
}

/// `n` in decimal, in `buf`.
pub(super) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_h1::{Limits, Parsed, ResponseParser};
    use http::Method;

    fn parse(raw: &str) -> RawResponseHead {
        let parsed =
            ResponseParser::new().parse_raw(raw.as_bytes(), &Limits::default(), &Method::GET);
        match parsed {
            Ok(Parsed::Complete { head, .. }) => head,
            other => panic!("{other:?}"),
        }
    }

    fn plain() -> Added<'static> {
        Added {
            framing: Framing::Length(5),
            keep_length: false,
            tunnel: false,
            via: true,
            set_cookie: None,
            request_id: None,
            connection: None,
        }
    }

    fn written(head: &RawResponseHead, rules: &Rules, added: &Added<'_>) -> String {
        let mut out = Vec::new();
        write(head, rules, added, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_pass_as_received_and_hop_by_hop_ones_go() {
        let head = parse(
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\nConnection: keep-alive, X-Secret\r\n\
             X-Secret: 1\r\nKeep-Alive: timeout=5\r\nETag:  \"abc\" \r\n\r\n",
        );
        let got = written(&head, &Rules::default(), &plain());
        assert_eq!(
            got,
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nETag: \"abc\"\r\ncontent-length: 5\r\n\
             via: 1.1 fulcrum\r\n\r\n"
        );
    }

    #[test]
    fn request_id_and_connection_replace_the_backends() {
        let head =
            parse("HTTP/1.1 204 No Content\r\nX-Request-Id: theirs\r\nConnection: close\r\n\r\n");
        let name = HeaderName::from_static("x-request-id");
        let id = HeaderValue::from_static("ours");
        let added = Added {
            framing: Framing::None,
            via: false,
            request_id: Some((&name, &id)),
            connection: Some("close"),
            ..plain()
        };
        let got = written(&head, &Rules::default(), &added);
        assert_eq!(
            got,
            "HTTP/1.1 204 No Content\r\nx-request-id: ours\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn bodiless_answers_keep_their_length_and_upgrades_their_protocol() {
        let head = parse("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");
        let added = Added {
            framing: Framing::None,
            keep_length: true,
            via: false,
            ..plain()
        };
        assert!(written(&head, &Rules::default(), &added).contains("content-length: 42\r\n"));
        let head = parse(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        );
        let added = Added {
            framing: Framing::None,
            tunnel: true,
            via: false,
            ..plain()
        };
        assert_eq!(
            written(&head, &Rules::default(), &added),
            "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
        );
    }

    #[test]
    fn rules_remove_then_set_then_add_across_backend_and_own_fields() {
        let rules = Rules::build(&fulcrum_config::HeaderRules {
            remove: vec!["x-debug".into()],
            set: vec![
                ("x-env".into(), "prod".into()),
                ("via".into(), "edge".into()),
            ],
            add: vec![("x-a".into(), "2".into())],
        })
        .unwrap();
        let head =
            parse("HTTP/1.1 200 OK\r\nX-Debug: 1\r\nX-Env: dev\r\nX-A: 1\r\nVia: 1.1 a\r\n\r\n");
        assert_eq!(
            written(&head, &rules, &plain()),
            "HTTP/1.1 200 OK\r\nX-A: 1\r\ncontent-length: 5\r\nx-env: prod\r\nvia: edge\r\n\
             x-a: 2\r\n\r\n"
        );
    }

    #[test]
    fn decimal_writes_every_width() {
        for n in [0u64, 7, 10, 65_536, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }
}
