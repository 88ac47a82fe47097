//! The access log: one line per request, in the combined format or as JSON, on stdout.
//!
//! Combined: `client - - [date] "METHOD target VERSION" status bytes "referer" "user-agent"`
//! followed by Fulcrum's fields as `key=value`: request id, route, backend, the timings in
//! milliseconds (request head received, backend connected, first response byte, total) and
//! how the exchange ended. JSON carries the same fields by name.

use super::fields::{Fields, as_text};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one line says.
#[derive(Debug, Default)]
pub(crate) struct Access {
    /// Whether this record is written (the listener has an access log): only then are the
    /// request's phases timed, unless balancing needs the latency (saves clock reads).
    pub(crate) recording: bool,
    pub(crate) client: Option<SocketAddr>,
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) version: &'static str,
    pub(crate) status: u16,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) referer: String,
    pub(crate) user_agent: String,
    pub(crate) request_id: String,
    pub(crate) route: Arc<str>,
    pub(crate) backend: Option<SocketAddr>,
    /// From the first byte of the request to its whole head.
    pub(crate) t_request: Duration,
    /// From the head to a backend connection (none if no backend was reached).
    pub(crate) t_connect: Option<Duration>,
    /// From the head to the first byte of the response head.
    pub(crate) t_first_byte: Option<Duration>,
    pub(crate) t_total: Duration,
    /// `ok`, or why it ended otherwise (a [`super::respond::Cause`] name, `client_closed`, ...).
    pub(crate) end: &'static str,
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), ms)
}

impl Access {
    /// A line for an HTTP/2 request from `client`.
    pub(crate) fn for_parts(client: SocketAddr, parts: &http::request::Parts) -> Access {
        let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        Access::request(client, &parts.method, target, "HTTP/2.0", &parts.headers)
    }

    /// A line for `head` from `client`, whose head took `t_request` to arrive.
    pub(crate) fn start(
        client: SocketAddr,
        head: &fulcrum_h1::RawRequestHead,
        t_request: Duration,
    ) -> Access {
        let version = if head.version == http::Version::HTTP_10 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        };
        let target = head.uri.to_string();
        Access {
            recording: true,
            t_request,
            ..Access::request(client, &head.method, &target, version, &head.fields)
        }
    }

    fn request(
        client: SocketAddr,
        method: &http::Method,
        target: &str,
        version: &'static str,
        headers: &impl Fields,
    ) -> Access {
        let field = |name| {
            headers
                .value_of(name)
                .and_then(as_text)
                .unwrap_or("")
                .to_string()
        };
        Access {
            client: Some(client),
            method: method.to_string(),
            target: target.to_string(),
            version,
            referer: field("referer"),
            user_agent: field("user-agent"),
            end: "ok",
            ..Access::default()
        }
    }

    pub(crate) fn combined(&self) -> String {
        let mut line = String::with_capacity(256);
        let client = self
            .client
            .map_or_else(|| "-".into(), |c| c.ip().to_string());
        let _ = write!(
            line,
            "{client} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
            clf_date(SystemTime::now()),
            self.method,
            self.target,
            self.version,
            self.status,
            self.bytes_out,
            dash(&self.referer),
            dash(&self.user_agent),
        );
        let backend = self.backend.map_or_else(|| "-".into(), |b| b.to_string());
        let _ = write!(
            line,
            " rid={} route={} backend={backend} t_req={} t_connect={} t_ttfb={} t_total={} bytes_in={} end={}",
            dash(&self.request_id),
            dash(&self.route),
            ms(self.t_request),
            opt_ms(self.t_connect),
            opt_ms(self.t_first_byte),
            ms(self.t_total),
            self.bytes_in,
            self.end,
        );
        line
    }

    pub(crate) fn json(&self) -> String {
        let s = |v: &str| json_string(v);
        let opt = |d: Option<Duration>| d.map_or_else(|| "null".into(), ms);
        format!(
            "{{\"time\":{},\"client\":{},\"method\":{},\"target\":{},\"version\":{},\"status\":{},\
             \"bytes_in\":{},\"bytes_out\":{},\"referer\":{},\"user_agent\":{},\"request_id\":{},\
             \"route\":{},\"backend\":{},\"t_request_ms\":{},\"t_connect_ms\":{},\"t_first_byte_ms\":{},\
             \"t_total_ms\":{},\"end\":{}}}",
            s(&rfc3339(SystemTime::now())),
            self.client
                .map_or_else(|| "null".into(), |c| s(&c.ip().to_string())),
            s(&self.method),
            s(&self.target),
            s(self.version),
            self.status,
            self.bytes_in,
            self.bytes_out,
            s(&self.referer),
            s(&self.user_agent),
            s(&self.request_id),
            s(&self.route),
            self.backend
                .map_or_else(|| "null".into(), |b| s(&b.to_string())),
            ms(self.t_request),
            opt(self.t_connect),
            opt(self.t_first_byte),
            ms(self.t_total),
            s(self.end),
        )
    }

    /// Writes the line to stdout (one write per line).
    pub(crate) fn emit(&self, json: bool) {
        let mut line = if json { self.json() } else { self.combined() };
        line.push('\n');
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

fn dash(v: &str) -> &str {
    if v.is_empty() { "-" } else { v }
}

fn json_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn split(t: SystemTime) -> (i64, u32, u32, u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil((secs / 86_400) as i64);
    (y, m, day, secs % 86_400, d.subsec_millis())
}

/// `10/Oct/2000:13:55:36 +0000`
fn clf_date(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, s, _) = split(t);
    let month = MONTHS[(m - 1) as usize];
    format!(
        "{d:02}/{month}/{y}:{:02}:{:02}:{:02} +0000",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `2000-10-10T13:55:36.123Z`
fn rfc3339(t: SystemTime) -> String {
    let (y, m, d, s, ms) = split(t);
    format!(
        "{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format() {
        let t = UNIX_EPOCH + Duration::from_millis(971_186_136_123);
        assert_eq!(clf_date(t), "10/Oct/2000:13:55:36 +0000");
        assert_eq!(rfc3339(t), "2000-10-10T13:55:36.123Z");
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
    }

    #[test]
    fn lines_carry_every_field() {
        let a = Access {
            client: Some("10.1.2.3:5555".parse().unwrap()),
            method: "GET".into(),
            target: "/a?b=\"c\"".into(),
            version: "HTTP/1.1",
            status: 200,
            bytes_out: 6,
            request_id: "abc".into(),
            route: "r".into(),
            backend: Some("127.0.0.1:9000".parse().unwrap()),
            t_total: Duration::from_micros(1500),
            end: "ok",
            ..Access::default()
        };
        let c = a.combined();
        assert!(c.starts_with("10.1.2.3 - - ["), "{c}");
        assert!(c.contains("] \"GET /a?b=\"c\" HTTP/1.1\" 200 6 \"-\" \"-\" rid=abc route=r backend=127.0.0.1:9000"), "{c}");
        assert!(c.ends_with("t_total=1.500 bytes_in=0 end=ok"), "{c}");
        let j: Vec<&str> = vec![
            "\"target\":\"/a?b=\\\"c\\\"\"",
            "\"status\":200",
            "\"t_connect_ms\":null",
        ];
        let json = a.json();
        for part in j {
            assert!(json.contains(part), "{json} lacks {part}");
        }
    }
}
