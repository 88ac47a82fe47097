//! A test HTTP/1.1 backend: std threads, keep-alive, Content-Length and chunked request bodies
//! (with trailers), `Expect: 100-continue`. It records every request it reads (and every byte
//! it receives), so a test can assert what went through the proxy, or that nothing did.
//!
//! Endpoints, by path (the query is ignored unless said):
//!
//! The first path segment that names an endpoint picks it (`/v1/status/404` is `/status/404`).
//!
//! | path | answer |
//! | --- | --- |
//! | anything else | `200`, JSON echo of the request (see [`HttpBackend`]) |
//! | `/status/N` | status `N`, body `status N\n` (none for 1xx/204/304) |
//! | `/delay/MS` | waits `MS` ms, then the echo |
//! | `/chunked/N` | `N` pattern bytes ([`DOWNLOAD_SEED`]), chunked, in uneven chunks |
//! | `/trailers` | chunked body `hello trailers\n` with trailers `x-checksum`, `x-trailer-a` |
//! | `/close/N` | `N` pattern bytes, close-delimited (no length, `Connection: close`) |
//! | `/big/N` | `N` MiB of pattern bytes with Content-Length |
//! | `/bytes/N` | `N` pattern bytes with Content-Length |
//! | `/headers` | the echo, plus response fields to test rewriting: `server`, `x-backend-hop` (named by `Connection`), `keep-alive`, `proxy-connection`, `x-remove-me`, `x-kept` |
//! | `/close-early` | reads the head, closes without answering |
//! | `/too-early` | `425 Too Early` if the request carries `Early-Data` (RFC 8470), else the echo |
//! | `/garbage` | answers a malformed status line |
//!
//! A request that carries `Expect: 100-continue` and a body gets `100 Continue` before the
//! body is read. Every response carries `x-backend: NAME`.

use super::{IO_TIMEOUT, fill_pattern};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Seed of the pattern bytes the download endpoints send.
pub const DOWNLOAD_SEED: u64 = 0xD0D0_5EED;

/// A connection left idle this long is closed by the backend.
const IDLE: Duration = Duration::from_secs(30);

/// FNV-1a, 64 bits: the body checksum the echo reports (as 16 hex digits).
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The checksum of `data` as the echo reports it.
pub fn fnv_hex(data: &[u8]) -> String {
    let mut f = Fnv::default();
    f.update(data);
    f.hex()
}

/// `len` bytes of pattern `seed`.
pub fn pattern_vec(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill_pattern(seed, 0, &mut v);
    v
}

/// One request as the backend read it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// Connection number, 1-based in accept order.
    pub conn: usize,
    /// Request number on its connection, 1-based.
    pub seq: usize,
    pub method: String,
    pub target: String,
    pub version: String,
    /// Every field line, in order, names as sent.
    pub headers: Vec<(String, String)>,
    pub chunked: bool,
    pub body_len: u64,
    pub body_sum: String,
    /// The first 64 KiB of the body.
    pub body_prefix: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    /// Whether the backend sent `100 Continue`.
    pub sent_continue: bool,
}

impl SeenRequest {
    /// The first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every field named `name`, in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    /// The echo's JSON for this request.
    pub fn to_json(&self, backend: &str) -> serde_json::Value {
        serde_json::json!({
            "backend": backend,
            "conn": self.conn,
            "seq": self.seq,
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "headers": self.headers.iter().map(|(n, v)| vec![n.clone(), v.clone()]).collect::<Vec<_>>(),
            "chunked": self.chunked,
            "body_len": self.body_len,
            "body_sum": self.body_sum,
            "trailers": self.trailers.iter().map(|(n, v)| vec![n.clone(), v.clone()]).collect::<Vec<_>>(),
            "sent_continue": self.sent_continue,
        })
    }
}

struct Shared {
    name: String,
    stop: AtomicBool,
    accepted: AtomicUsize,
    active: AtomicUsize,
    bytes: AtomicU64,
    requests: Mutex<Vec<SeenRequest>>,
    errors: Mutex<Vec<String>>,
}

/// The test backend (see the module docs). Stopped on drop.
pub struct HttpBackend {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl HttpBackend {
    pub fn start(name: &str) -> HttpBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind backend");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            name: name.to_string(),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
        });
        let sh = Arc::clone(&shared);
        let accept_thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if sh.stop.load(SeqCst) {
                    break;
                }
                let Ok(stream) = conn else { continue };
                let n = sh.accepted.fetch_add(1, SeqCst) + 1;
                sh.active.fetch_add(1, SeqCst);
                let sh = Arc::clone(&sh);
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
                    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
                    let _ = stream.set_nodelay(true);
                    let mut conn = BackendConn {
                        stream,
                        buf: Vec::new(),
                        shared: Arc::clone(&sh),
                        conn: n,
                    };
                    if let Err(e) = conn.serve() {
                        sh.errors.lock().unwrap().push(format!("conn {n}: {e}"));
                    }
                    sh.active.fetch_sub(1, SeqCst);
                });
            }
        });
        HttpBackend {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(SeqCst)
    }

    /// Connections still open.
    pub fn active(&self) -> usize {
        self.shared.active.load(SeqCst)
    }

    /// Bytes received on all connections.
    pub fn bytes_received(&self) -> u64 {
        self.shared.bytes.load(SeqCst)
    }

    /// Every request read so far, in the order they were complete.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The last request read; panics with `context` if there is none.
    pub fn last(&self, context: &str) -> SeenRequest {
        self.requests()
            .pop()
            .unwrap_or_else(|| panic!("the backend saw no request: {context}"))
    }

    /// Protocol errors the backend met (what it could not parse, and why).
    pub fn errors(&self) -> Vec<String> {
        self.shared.errors.lock().unwrap().clone()
    }

    /// A one-line summary for assertion messages.
    pub fn summary(&self) -> String {
        let reqs: Vec<String> = self
            .requests()
            .iter()
            .map(|r| format!("{} {} (conn {})", r.method, r.target, r.conn))
            .collect();
        format!(
            "backend {}: {} connections, {} bytes received, requests {:?}, errors {:?}",
            self.name(),
            self.accepted(),
            self.bytes_received(),
            reqs,
            self.errors()
        )
    }

    /// Stops accepting; open connections end at their next read.
    pub fn stop(&mut self) {
        if let Some(t) = self.accept_thread.take() {
            self.shared.stop.store(true, SeqCst);
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = t.join();
        }
    }
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.stop();
    }
}

struct BackendConn {
    stream: TcpStream,
    buf: Vec<u8>,
    shared: Arc<Shared>,
    conn: usize,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn tokens(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }
}

fn parse_fields(lines: &[&str]) -> io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for line in lines {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("field line without colon: {line:?}")))?;
        if n.is_empty() || n.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(bad(format!("bad field name: {line:?}")));
        }
        out.push((n.to_string(), v.trim_matches([' ', '\t']).to_string()));
    }
    Ok(out)
}

impl BackendConn {
    /// Reads more bytes; `Ok(false)` on EOF, stop, or idle timeout.
    fn fill(&mut self) -> io::Result<bool> {
        let deadline = Instant::now() + IDLE;
        let mut tmp = [0u8; 65_536];
        loop {
            if self.shared.stop.load(SeqCst) || Instant::now() >= deadline {
                return Ok(false);
            }
            match self.stream.read(&mut tmp) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.shared.bytes.fetch_add(n as u64, SeqCst);
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads a CRLF-terminated line (without the CRLF); `None` at EOF.
    fn line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(Some(line));
            }
            if self.buf.len() > 1 << 20 {
                return Err(bad("line longer than 1 MiB"));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    fn head(&mut self) -> io::Result<Option<Head>> {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > 1 << 20 {
                return Err(bad("head longer than 1 MiB"));
            }
            if !self.fill()? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(bad(format!(
                    "EOF inside a head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                )));
            }
        };
        let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines: Vec<&str> = text.split("\r\n").collect();
        let start = lines.remove(0);
        let parts: Vec<&str> = start.split(' ').collect();
        if parts.len() != 3 || !parts[2].starts_with("HTTP/1.") {
            return Err(bad(format!("bad request line: {start:?}")));
        }
        Ok(Some(Head {
            method: parts[0].to_string(),
            target: parts[1].to_string(),
            version: parts[2].to_string(),
            headers: parse_fields(&lines)?,
        }))
    }

    /// Reads a body of `len` bytes.
    fn body_len(&mut self, mut len: u64, sum: &mut Fnv, prefix: &mut Vec<u8>) -> io::Result<u64> {
        let total = len;
        while len > 0 {
            if self.buf.is_empty() && !self.fill()? {
                return Err(bad(format!("EOF with {len} of {total} body bytes left")));
            }
            let take = (self.buf.len() as u64).min(len) as usize;
            sum.update(&self.buf[..take]);
            keep_prefix(prefix, &self.buf[..take]);
            self.buf.drain(..take);
            len -= take as u64;
        }
        Ok(total)
    }

    /// Reads a chunked body; returns its length and trailers.
    fn body_chunked(
        &mut self,
        sum: &mut Fnv,
        prefix: &mut Vec<u8>,
    ) -> io::Result<(u64, Vec<(String, String)>)> {
        let mut total = 0u64;
        loop {
            let line = self.line()?.ok_or_else(|| bad("EOF in chunk size"))?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| bad(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                let mut trailers = Vec::new();
                loop {
                    let l = self.line()?.ok_or_else(|| bad("EOF in trailers"))?;
                    if l.is_empty() {
                        break;
                    }
                    trailers.extend(parse_fields(&[l.as_str()])?);
                }
                return Ok((total, trailers));
            }
            self.body_len(size, sum, prefix)?;
            total += size;
            let crlf = self.line()?.ok_or_else(|| bad("EOF after chunk data"))?;
            if !crlf.is_empty() {
                return Err(bad("chunk data not followed by CRLF"));
            }
        }
    }

    fn serve(&mut self) -> io::Result<()> {
        let mut seq = 0;
        loop {
            let Some(head) = self.head()? else {
                return Ok(());
            };
            seq += 1;
            let te = head.tokens("transfer-encoding");
            let chunked = te.last().is_some_and(|t| t == "chunked");
            let cl = head.get("content-length");
            if chunked && cl.is_some() {
                return Err(bad("content-length with transfer-encoding"));
            }
            if !te.is_empty() && !chunked {
                return Err(bad(format!("transfer-encoding {te:?}")));
            }
            let length = match cl {
                Some(v) => Some(
                    v.parse::<u64>()
                        .map_err(|_| bad(format!("bad content-length {v:?}")))?,
                ),
                None => None,
            };
            let has_body = chunked || length.is_some_and(|n| n > 0);
            let path = head.target.split('?').next().unwrap_or("").to_string();
            let expect = head
                .get("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
            let mut sent_continue = false;
            if expect && has_body {
                self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
                sent_continue = true;
            }
            let mut sum = Fnv::default();
            let mut prefix = Vec::new();
            let (body_len, trailers) = if chunked {
                self.body_chunked(&mut sum, &mut prefix)?
            } else {
                (
                    self.body_len(length.unwrap_or(0), &mut sum, &mut prefix)?,
                    Vec::new(),
                )
            };
            let seen = SeenRequest {
                conn: self.conn,
                seq,
                method: head.method.clone(),
                target: head.target.clone(),
                version: head.version.clone(),
                headers: head.headers.clone(),
                chunked,
                body_len,
                body_sum: sum.hex(),
                body_prefix: prefix,
                trailers,
                sent_continue,
            };
            self.shared.requests.lock().unwrap().push(seen.clone());
            let conn_tokens = head.tokens("connection");
            let keep = if head.version == "HTTP/1.1" {
                !conn_tokens.iter().any(|t| t == "close")
            } else {
                conn_tokens.iter().any(|t| t == "keep-alive")
            };
            let head_only = head.method == "HEAD";
            let go_on = self.answer(&path, &seen, keep, head_only)?;
            if !go_on || !keep {
                let _ = self.stream.shutdown(Shutdown::Write);
                // Drain until the peer closes, so our close is not a reset.
                let _ = self
                    .stream
                    .set_read_timeout(Some(Duration::from_millis(200)));
                let mut sink = [0u8; 4096];
                while matches!(self.stream.read(&mut sink), Ok(n) if n > 0) {}
                return Ok(());
            }
        }
    }

    fn write_response(
        &mut self,
        status: u16,
        extra: &[(&str, String)],
        body: &[u8],
        keep: bool,
        head_only: bool,
    ) -> io::Result<()> {
        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        out.push_str(&format!("x-backend: {}\r\n", self.shared.name));
        for (n, v) in extra {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        let bodiless = status < 200 || status == 204 || status == 304;
        if !bodiless {
            out.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        if !keep {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only && !bodiless {
            bytes.extend_from_slice(body);
        }
        self.stream.write_all(&bytes)
    }

    /// Answers one request; `Ok(false)` when the connection must end after it.
    fn answer(
        &mut self,
        path: &str,
        seen: &SeenRequest,
        keep: bool,
        head_only: bool,
    ) -> io::Result<bool> {
        // The first segment that names an endpoint picks it (`/v1/headers` is `/headers`).
        let all: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let at = all.iter().position(|s| ENDPOINTS.contains(s)).unwrap_or(0);
        let segs = &all[at..];
        let num = |i: usize| segs.get(i).and_then(|s| s.parse::<u64>().ok());
        let echo = || {
            let mut v = seen.to_json(&self.shared.name);
            v["echo"] = true.into();
            serde_json::to_vec_pretty(&v).unwrap()
        };
        let json = ("content-type", "application/json".to_string());
        match (segs[0], num(1)) {
            ("status", Some(code)) => {
                let body = format!("status {code}\n");
                self.write_response(code as u16, &[], body.as_bytes(), keep, head_only)?;
            }
            ("delay", Some(ms)) => {
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until {
                    if self.shared.stop.load(SeqCst) {
                        return Ok(false);
                    }
                    thread::sleep(Duration::from_millis(10));
                }
                let body = echo();
                self.write_response(200, &[json], &body, keep, head_only)?;
            }
            ("bytes", Some(n)) => {
                let body = pattern_vec(DOWNLOAD_SEED, n as usize);
                self.write_response(200, &[], &body, keep, head_only)?;
            }
            ("big", Some(mib)) => {
                let len = mib * 1024 * 1024;
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nx-backend: {}\r\ncontent-length: {len}\r\n{}\r\n",
                    self.shared.name,
                    if keep { "" } else { "connection: close\r\n" }
                )
                .into_bytes();
                self.stream.write_all(&out)?;
                if !head_only {
                    out = vec![0u8; 256 * 1024];
                    let mut sent = 0u64;
                    while sent < len {
                        let n = (len - sent).min(out.len() as u64) as usize;
                        fill_pattern(DOWNLOAD_SEED, sent, &mut out[..n]);
                        self.stream.write_all(&out[..n])?;
                        sent += n as u64;
                    }
                }
            }
            ("chunked", Some(n)) => {
                let mut head = format!(
                    "HTTP/1.1 200 OK\r\nx-backend: {}\r\ntransfer-encoding: chunked\r\n{}\r\n",
                    self.shared.name,
                    if keep { "" } else { "connection: close\r\n" }
                )
                .into_bytes();
                if head_only {
                    return self.stream.write_all(&head).map(|_| true);
                }
                let data = pattern_vec(DOWNLOAD_SEED, n as usize);
                let mut at = 0usize;
                let mut size = 1usize;
                while at < data.len() {
                    let k = size.min(data.len() - at);
                    head.extend_from_slice(format!("{k:x}\r\n").as_bytes());
                    head.extend_from_slice(&data[at..at + k]);
                    head.extend_from_slice(b"\r\n");
                    at += k;
                    size = (size * 7 + 3) % 50_000 + 1;
                    if head.len() > 64 * 1024 {
                        self.stream.write_all(&head)?;
                        head.clear();
                    }
                }
                head.extend_from_slice(b"0\r\n\r\n");
                self.stream.write_all(&head)?;
            }
            ("trailers", _) => {
                let body = b"hello trailers\n";
                let out = format!(
                    "HTTP/1.1 200 OK\r\nx-backend: {}\r\ntransfer-encoding: chunked\r\n\
                     trailer: x-checksum, x-trailer-a\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\
                     x-checksum: {}\r\nx-trailer-a: yes\r\n\r\n",
                    self.shared.name,
                    if keep { "" } else { "connection: close\r\n" },
                    body.len(),
                    String::from_utf8_lossy(body),
                    fnv_hex(body)
                );
                self.stream.write_all(out.as_bytes())?;
            }
            ("close", Some(n)) => {
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nx-backend: {}\r\nconnection: close\r\n\r\n",
                    self.shared.name
                )
                .into_bytes();
                if !head_only {
                    out.extend_from_slice(&pattern_vec(DOWNLOAD_SEED, n as usize));
                }
                self.stream.write_all(&out)?;
                return Ok(false);
            }
            ("headers", _) => {
                let body = echo();
                let extra = [
                    json,
                    ("server", "test-backend/1.0".to_string()),
                    ("connection", "x-backend-hop".to_string()),
                    ("x-backend-hop", "secret".to_string()),
                    ("keep-alive", "timeout=5".to_string()),
                    ("proxy-connection", "keep-alive".to_string()),
                    ("x-remove-me", "1".to_string()),
                    ("x-kept", "1".to_string()),
                ];
                self.write_response(200, &extra, &body, keep, head_only)?;
            }
            ("close-early", _) => return Ok(false),
            ("too-early", _) if seen.has("early-data") => {
                self.write_response(425, &[], b"too early\n", keep, head_only)?;
            }
            ("garbage", _) => {
                self.stream.write_all(b"HTTP/1.1 2x0 Nope\r\n\r\n")?;
                return Ok(false);
            }
            _ => {
                let body = echo();
                self.write_response(200, &[json], &body, keep, head_only)?;
            }
        }
        Ok(true)
    }
}

const ENDPOINTS: [&str; 11] = [
    "status",
    "delay",
    "bytes",
    "big",
    "chunked",
    "trailers",
    "close",
    "headers",
    "close-early",
    "garbage",
    "too-early",
];

fn keep_prefix(prefix: &mut Vec<u8>, data: &[u8]) {
    let room = (64 * 1024usize).saturating_sub(prefix.len());
    prefix.extend_from_slice(&data[..room.min(data.len())]);
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        418 => "I'm a teapot",
        425 => "Too Early",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
