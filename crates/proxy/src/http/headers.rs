//! Header transformations between the two sides: hop-by-hop fields, body framing, forwarding
//! headers (X-Forwarded-*, RFC 7239 Forwarded, Via) and the request id.

use fulcrum_config::ForwardedMode;
use fulcrum_h1::Framing;
use http::header::{
    CONNECTION, CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING, UPGRADE, VIA,
};
use http::{HeaderMap, Version};
use std::borrow::Cow;
use std::net::IpAddr;

use super::route::Rules;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// The hop-by-hop fields (RFC 9110 §7.6.1) and the framing ones (the sender re-frames the
/// body): never forwarded as they are. Lower case, Connection first; compared by length
/// first (most names differ in length from all nine).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "content-length",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "proxy-authenticate",
    "keep-alive",
    "proxy-connection",
];

/// Where a lower-case field name is in [`HOP_BY_HOP`].
fn hop_index(name: &str) -> Option<usize> {
    HOP_BY_HOP
        .iter()
        .position(|h| h.len() == name.len() && *h == name)
}

/// Whether a field is hop-by-hop or framing ([`HOP_BY_HOP`]).
#[cfg(test)]
fn hop_by_hop(name: &HeaderName) -> bool {
    hop_index(name.as_str()).is_some()
}

/// Removes hop-by-hop fields, the fields the Connection field names, and the framing fields.
/// One pass over the names says which are present: most messages carry only Connection and
/// Content-Length, which are then removed without allocating.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    strip(headers, 0);
}

/// [`strip_hop_by_hop`], keeping Content-Length (a response passed on with its length).
pub(crate) fn strip_hop_by_hop_but_length(headers: &mut HeaderMap) {
    strip(headers, 1 << 1);
}

/// Removes the [`HOP_BY_HOP`] fields but those in the `kept` bits, and the fields the
/// Connection field names.
fn strip(headers: &mut HeaderMap, kept: u16) {
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(i) = hop_index(name.as_str()) {
            present |= 1 << i;
        }
    }
    present &= !kept;
    if present == 0 {
        return;
    }
    if present & 1 != 0 {
        // Listed options other than the hop-by-hop names (removed below anyway).
        let named: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .flat_map(|v| connection_options(v.as_bytes()))
            .filter_map(|option| HeaderName::from_bytes(option).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for (i, name) in HOP_BY_HOP.into_iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// The options a Connection field value lists that name fields to drop besides the
/// hop-by-hop ones (which go anyway): each trimmed, none empty, none hop-by-hop.
pub(crate) fn connection_options(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|option| !option.is_empty() && !hop_by_hop_raw(option))
}

/// Whether a field name as received (any case) is hop-by-hop or framing ([`HOP_BY_HOP`]).
pub(crate) fn hop_by_hop_raw(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| h.len() == name.len() && name.eq_ignore_ascii_case(h.as_bytes()))
}

/// Writes the framing fields for a body framed as `framing` toward the next hop.
pub(crate) fn set_framing(headers: &mut HeaderMap, framing: Framing) {
    match framing {
        Framing::Length(n) => {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
        }
        Framing::Chunked => {
            headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        }
        Framing::None | Framing::UntilClose => {}
    }
}

/// Marks a request or response as an upgrade (WebSocket): `Connection: upgrade` + `Upgrade`.
pub(crate) fn keep_upgrade(headers: &mut HeaderMap, upgrade: Option<HeaderValue>) {
    if let Some(protocol) = upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, protocol);
    }
}

/// What the forwarding headers say about the client.
pub(crate) struct Forwarding<'a> {
    pub(crate) mode: ForwardedMode,
    pub(crate) client: IpAddr,
    pub(crate) proto: &'static str,
    pub(crate) host: Option<&'a str>,
    /// `client` as a field value, made once per connection (the common case: no earlier
    /// X-Forwarded-For to append to).
    pub(crate) client_value: Option<HeaderValue>,
}

/// Fields Fulcrum adds to a request that need no merging with the client's own: kept out of
/// the `HeaderMap` and written after its fields ([`Deferred::write`]), or put in it
/// ([`Deferred::put`]). Inserting each into the map first costs a hash and a probe apiece.
#[derive(Default)]
pub(crate) struct Deferred<'a> {
    forwarded_for: Option<HeaderValue>,
    proto: Option<&'static str>,
    host: Option<&'a str>,
    via: Option<&'static str>,
}

/// Which of the fields Fulcrum adds to a request the client sent already.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Present {
    forwarded_for: bool,
    proto: bool,
    host: bool,
    via: bool,
}

impl Present {
    /// From the names of the request's fields (any case).
    pub(crate) fn of<'a>(names: impl Iterator<Item = &'a [u8]>) -> Present {
        let mut p = Present::default();
        for name in names {
            let is = |n: &HeaderName| name.eq_ignore_ascii_case(n.as_str().as_bytes());
            p.forwarded_for |= is(&X_FORWARDED_FOR);
            p.proto |= is(&X_FORWARDED_PROTO);
            p.host |= is(&X_FORWARDED_HOST);
            p.via |= is(&VIA);
        }
        p
    }

    /// Whether adding the forwarding fields changes fields the client sent (appends to its
    /// X-Forwarded-For or Via, replaces its X-Forwarded-Proto) or adds `Forwarded` (always a
    /// list to extend): more than [`Deferred`] can write.
    pub(crate) fn merges(&self, f: &Forwarding<'_>, via: Option<Version>) -> bool {
        let x = matches!(f.mode, ForwardedMode::XForwarded | ForwardedMode::Both);
        (x && (self.forwarded_for || self.proto || f.client_value.is_none()))
            || matches!(f.mode, ForwardedMode::Rfc7239 | ForwardedMode::Both)
            || (via.is_some() && self.via)
    }
}

/// Adds X-Forwarded-For/-Proto/-Host and/or `Forwarded` as configured, and Via (as
/// [`add_via`]) with `via`. Existing X-Forwarded-For, Forwarded and Via values are kept and
/// ours appended; the fields that merge with nothing are left in the returned [`Deferred`].
pub(crate) fn add_forwarding_deferred<'a>(
    headers: &mut HeaderMap,
    f: &mut Forwarding<'a>,
    via: Option<Version>,
) -> Deferred<'a> {
    let present = Present::of(headers.keys().map(|n| n.as_str().as_bytes()));
    let x = matches!(f.mode, ForwardedMode::XForwarded | ForwardedMode::Both);
    if x && (present.forwarded_for || f.client_value.is_none()) {
        append_list(headers, &X_FORWARDED_FOR, &f.client.to_string());
    }
    if x && present.proto {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(f.proto));
    }
    if matches!(f.mode, ForwardedMode::Rfc7239 | ForwardedMode::Both) {
        let node = match f.client {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("\"[{ip}]\""),
        };
        let mut element = format!("for={node};proto={}", f.proto);
        if let Some(host) = f.host.filter(|h| h.bytes().all(is_token_or_colon)) {
            element.push_str(";host=");
            element.push_str(host);
        }
        append_list(headers, &FORWARDED, &element);
    }
    if let Some(version) = via
        && present.via
    {
        append_list(headers, &VIA, via_hop(version));
    }
    Deferred::new(f, via, present)
}

impl<'a> Deferred<'a> {
    /// The forwarding fields and Via that merge with nothing the client sent (`present`).
    /// Takes `f`'s client value (moved, not cloned: a clone of a freshly made value would
    /// allocate to share it) and borrows its host.
    pub(crate) fn new(
        f: &mut Forwarding<'a>,
        via: Option<Version>,
        present: Present,
    ) -> Deferred<'a> {
        let mut d = Deferred::default();
        if matches!(f.mode, ForwardedMode::XForwarded | ForwardedMode::Both) {
            if !present.forwarded_for {
                d.forwarded_for = f.client_value.take();
            }
            if !present.proto {
                d.proto = Some(f.proto);
            }
            if !present.host {
                d.host = f.host.filter(|h| fulcrum_h1::is_field_value(h.as_bytes()));
            }
        }
        if !present.via {
            d.via = via.map(via_hop);
        }
        d
    }

    fn fields(&self) -> impl Iterator<Item = (&HeaderName, &[u8])> {
        [
            (
                &X_FORWARDED_FOR,
                self.forwarded_for.as_ref().map(HeaderValue::as_bytes),
            ),
            (&X_FORWARDED_PROTO, self.proto.map(str::as_bytes)),
            (&X_FORWARDED_HOST, self.host.map(str::as_bytes)),
            (&VIA, self.via.map(str::as_bytes)),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    /// Puts the fields in the map.
    pub(crate) fn put(&self, headers: &mut HeaderMap) {
        for (name, value) in self.fields() {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.insert(name.clone(), value);
            }
        }
    }

    /// Writes the fields as lines, but those the route's rules remove or replace.
    pub(crate) fn write(&self, rules: &Rules, out: &mut Vec<u8>) {
        for (name, value) in self.fields() {
            if !rules.drops(name.as_str().as_bytes()) {
                fulcrum_h1::write_field(name.as_str().as_bytes(), value, out);
            }
        }
    }
}

fn is_token_or_colon(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:[]".contains(&b)
}

/// Adds `Via: 1.1 fulcrum` (the protocol version of the message as received: 1.0, 1.1, 2.0).
pub(crate) fn add_via(headers: &mut HeaderMap, version: Version) {
    let hop = via_hop(version);
    if headers.contains_key(VIA) {
        append_list(headers, &VIA, hop);
    } else {
        headers.insert(VIA, HeaderValue::from_static(hop));
    }
}

fn via_hop(version: Version) -> &'static str {
    match version {
        Version::HTTP_10 => "1.0 fulcrum",
        Version::HTTP_2 => "2.0 fulcrum",
        _ => "1.1 fulcrum",
    }
}

/// Appends `item` to a comma-separated list field, merging existing lines into one.
fn append_list(headers: &mut HeaderMap, name: &HeaderName, item: &str) {
    let mut joined = String::new();
    for v in headers.get_all(name).iter() {
        if let Ok(v) = v.to_str() {
            joined.push_str(v);
            joined.push_str(", ");
        }
    }
    joined.push_str(item);
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(name.clone(), v);
    }
}

/// The request id: the client's if it sent one (a sane one), else a fresh one, set on the
/// request. Returns the value (a cheap clone) for the response and the logs.
///
/// The value is marked sensitive: over HTTP/2, HPACK then sends it as a literal that is never
/// indexed. A value unique to each message would otherwise enter the connection's dynamic
/// table every time, evicting the entries that do repeat (measured: most of the cost of
/// encoding an h2c response's head).
pub(crate) fn ensure_request_id(headers: &mut HeaderMap, name: &HeaderName) -> HeaderValue {
    if let Some(id) = headers.get_mut(name)
        && usable_request_id(id.as_bytes())
    {
        id.set_sensitive(true);
        return id.clone();
    }
    let id = new_request_id();
    headers.insert(name.clone(), id.clone());
    id
}

/// Whether a client's request id is kept: up to 128 bytes of visible ASCII.
pub(crate) fn usable_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 128 && super::fields::as_text(id).is_some()
}

/// 128 random bits as 32 hex digits, marked sensitive (see [`ensure_request_id`]).
pub(crate) fn new_request_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    let random = [
        fulcrum_balance::rand::thread_rand().to_be_bytes(),
        fulcrum_balance::rand::thread_rand().to_be_bytes(),
    ];
    for (pair, byte) in out.chunks_exact_mut(2).zip(random.as_flattened()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    // Owned as an array: one allocation, which the value's clones share.
    let mut id = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(out))
        .unwrap_or(HeaderValue::from_static("-"));
    id.set_sensitive(true);
    id
}

/// Lower-case host without port, from an authority (`Example.COM:8080` -> `example.com`);
/// borrowed from `authority` when it is lower-case already.
pub(crate) fn host_of(authority: &str) -> Cow<'_, str> {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.find(']') {
            Some(end) => Cow::Borrowed(&authority[..end + 2]),
            None => Cow::Owned(format!("[{rest}]")),
        }
    } else {
        Cow::Borrowed(authority.rsplit_once(':').map_or(authority, |(h, _)| h))
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_fields_go() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("close, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("3"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn the_length_can_stay() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("3"));
        strip_hop_by_hop_but_length(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h[CONTENT_LENGTH], "3");
    }

    #[test]
    fn raw_names_are_hop_by_hop_as_parsed_ones_are() {
        for name in [
            "Connection",
            "content-length",
            "Transfer-Encoding",
            "UPGRADE",
            "te",
            "Trailer",
            "proxy-authenticate",
            "Keep-Alive",
            "proxy-connection",
            "x-kept",
            "server",
            "tee",
        ] {
            let parsed = HeaderName::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(
                hop_by_hop_raw(name.as_bytes()),
                hop_by_hop(&parsed),
                "{name}"
            );
        }
    }

    #[test]
    fn forwarding_appends_the_client() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let mut f = Forwarding {
            mode: ForwardedMode::Both,
            client: "::1".parse().unwrap(),
            proto: "http",
            host: Some("example.com"),
            client_value: None,
        };
        add_forwarding_deferred(&mut h, &mut f, None).put(&mut h);
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, ::1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.com");
        assert_eq!(h["forwarded"], "for=\"[::1]\";proto=http;host=example.com");
    }

    #[test]
    fn deferred_fields_are_written_after_the_map_unless_a_rule_drops_them() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let mut f = Forwarding {
            mode: ForwardedMode::XForwarded,
            client: "192.0.2.7".parse().unwrap(),
            proto: "https",
            host: Some("example.com"),
            client_value: Some(HeaderValue::from_static("192.0.2.7")),
        };
        let added = add_forwarding_deferred(&mut h, &mut f, Some(Version::HTTP_11));
        // The client's X-Forwarded-For is merged in the map; the rest waits.
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(h.len(), 1);
        let rules = Rules::build(&fulcrum_config::HeaderRules {
            remove: vec!["X-Forwarded-Host".into()],
            ..Default::default()
        })
        .unwrap();
        let mut out = Vec::new();
        added.write(&rules, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x-forwarded-proto: https\r\nvia: 1.1 fulcrum\r\n"
        );
        added.put(&mut h);
        assert_eq!(h["x-forwarded-host"], "example.com");
        assert_eq!(h["via"], "1.1 fulcrum");
    }

    #[test]
    fn hosts_lose_port_and_case() {
        assert_eq!(host_of("Example.COM:8080"), "example.com");
        assert_eq!(host_of("example.com"), "example.com");
        assert_eq!(host_of("[::1]:80"), "[::1]");
        assert_eq!(host_of("[::1]"), "[::1]");
        assert_eq!(host_of("[FE80::1"), "[fe80::1]");
        assert!(matches!(
            host_of("a.example:80"),
            Cow::Borrowed("a.example")
        ));
    }

    #[test]
    fn request_id_is_kept_or_made() {
        let name = HeaderName::from_static("x-request-id");
        let mut h = HeaderMap::new();
        let made = ensure_request_id(&mut h, &name);
        assert_eq!(made.len(), 32);
        assert!(made.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert_eq!(h[&name], made);
        assert_eq!(ensure_request_id(&mut h, &name), made);
    }
}
