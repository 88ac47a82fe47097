//! The client's HTTP/1.1 request head, rewritten for an HTTP/1.1 backend without building a
//! `HeaderMap`: the request-side twin of [`super::response_head`].
//!
//! The fields are copied as they came (names in their case) except the hop-by-hop and framing
//! ones, the ones the Connection field names, the ones the route's rules remove or replace,
//! and a request id Fulcrum replaces; then come the framing field, Fulcrum's request id and
//! the rules' own fields, then the forwarding fields and Via ([`Deferred`]). What this cannot
//! do (merge with forwarding fields the client sent, client-certificate fields, upgrades,
//! absolute-form targets, early data, hyper's backends) goes through a `HeaderMap`
//! (`exchange::rewrite`); `exchange::raw_rewrites` says which way a request goes.

use super::headers::{Deferred, hop_by_hop_raw};
use super::response_head::{connection_named, decimal};
use super::route::Rules;
use fulcrum_h1::{Framing, RawRequestHead, write_field};
use http::{HeaderName, HeaderValue, Version};

/// What Fulcrum adds to a request head.
pub(crate) struct Added<'a> {
    /// The body's framing toward the backend.
    pub(crate) framing: Framing,
    /// A request id Fulcrum made, which replaces any the client sent.
    pub(crate) request_id: Option<(&'a HeaderName, &'a HeaderValue)>,
    pub(crate) forwarding: &'a Deferred<'a>,
}

/// Writes the whole head (request line, fields, empty line) of `head` as rewritten.
pub(crate) fn write(head: &RawRequestHead, rules: &Rules, added: &Added<'_>, out: &mut Vec<u8>) {
    fulcrum_h1::write_request_line(&head.method, &head.uri, Version::HTTP_11, out);
    let named = connection_named(&head.fields);
    let ours = |name: &[u8]| {
        added
            .request_id
            .is_some_and(|(n, _)| name.eq_ignore_ascii_case(n.as_str().as_bytes()))
    };
    for (name, value) in head.fields.iter() {
        let dropped = hop_by_hop_raw(name)
            || rules.drops(name)
            || ours(name)
            || named.iter().any(|n| name.eq_ignore_ascii_case(n));
        if !dropped {
            write_field(name, value, out);
        }
    }
    let mut own = |name: &str, value: &[u8]| {
        if !rules.drops(name.as_bytes()) {
            write_field(name.as_bytes(), value, out);
        }
    };
    match added.framing {
        Framing::Length(n) => own("content-length", decimal(n, &mut [0; 20])),
        Framing::Chunked => own("transfer-encoding", b"chunked"),
        Framing::None | Framing::UntilClose => {}
    }
    if let Some((name, id)) = added.request_id {
        own(name.as_str(), id.as_bytes());
    }
    for (name, value) in rules.added() {
        write_field(name.as_str().as_bytes(), value.as_bytes(), out);
    }
    added.forwarding.write(rules, out);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::headers::{Forwarding, Present};
    use fulcrum_config::ForwardedMode;
    use fulcrum_h1::{Limits, Parsed, RequestParser};

    fn parse(raw: &str) -> RawRequestHead {
        match RequestParser::new().parse_raw(raw.as_bytes(), &Limits::default()) {
            Ok(Parsed::Complete { head, .. }) => head,
            other => panic!("{other:?}"),
        }
    }

    fn forwarding(mode: ForwardedMode) -> Forwarding<'static> {
        Forwarding {
            mode,
            client: "192.0.2.7".parse().unwrap(),
            proto: "http",
            host: Some("h"),
            client_value: Some(HeaderValue::from_static("192.0.2.7")),
        }
    }

    fn written(
        head: &RawRequestHead,
        rules: &Rules,
        id: Option<(&HeaderName, &HeaderValue)>,
    ) -> String {
        let present = Present::of(head.fields.iter().map(|(n, _)| n));
        let deferred = Deferred::new(
            &mut forwarding(ForwardedMode::XForwarded),
            Some(head.version),
            present,
        );
        let added = Added {
            framing: head.framing,
            request_id: id,
            forwarding: &deferred,
        };
        let mut out = Vec::new();
        write(head, rules, &added, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_pass_as_received_and_hop_by_hop_and_named_ones_go() {
        let head = parse(
            "POST /p?q HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n\
             Keep-Alive: 5\r\nTE: trailers\r\nContent-Length: 3\r\nUser-Agent:  ua \r\n\r\n",
        );
        assert_eq!(
            written(&head, &Rules::default(), None),
            "POST /p?q HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\ncontent-length: 3\r\n\
             x-forwarded-for: 192.0.2.7\r\nx-forwarded-proto: http\r\nx-forwarded-host: h\r\n\
             via: 1.1 fulcrum\r\n\r\n"
        );
    }

    #[test]
    fn a_made_request_id_replaces_the_clients_and_rules_apply_to_every_field() {
        let head = parse(
            "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: \r\nX-Debug: 1\r\nX-Env: dev\r\n\r\n",
        );
        let rules = Rules::build(&fulcrum_config::HeaderRules {
            remove: vec!["x-debug".into(), "x-forwarded-proto".into()],
            set: vec![("x-env".into(), "prod".into())],
            add: vec![("x-a".into(), "2".into())],
        })
        .unwrap();
        let name = HeaderName::from_static("x-request-id");
        let id = HeaderValue::from_static("ours");
        assert_eq!(
            written(&head, &rules, Some((&name, &id))),
            "GET / HTTP/1.1\r\nHost: h\r\nx-request-id: ours\r\nx-env: prod\r\nx-a: 2\r\n\
             x-forwarded-for: 192.0.2.7\r\nx-forwarded-host: h\r\nvia: 1.1 fulcrum\r\n\r\n"
        );
    }

    #[test]
    fn chunked_bodies_are_sent_chunked() {
        let head = parse("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(
            written(&head, &Rules::default(), None).contains("\r\ntransfer-encoding: chunked\r\n")
        );
    }

    #[test]
    fn fields_to_merge_need_the_map() {
        let xff = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n");
        let present = Present::of(xff.fields.iter().map(|(n, _)| n));
        let via = Some(xff.version);
        assert!(present.merges(&forwarding(ForwardedMode::XForwarded), via));
        let plain = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Host: other\r\n\r\n");
        let present = Present::of(plain.fields.iter().map(|(n, _)| n));
        assert!(!present.merges(&forwarding(ForwardedMode::XForwarded), via));
        assert!(present.merges(&forwarding(ForwardedMode::Rfc7239), via));
        let with_via = parse("GET / HTTP/1.1\r\nHost: h\r\nVia: 1.0 a\r\n\r\n");
        let present = Present::of(with_via.fields.iter().map(|(n, _)| n));
        assert!(present.merges(&forwarding(ForwardedMode::None), via));
        assert!(!present.merges(&forwarding(ForwardedMode::None), None));
    }
}
