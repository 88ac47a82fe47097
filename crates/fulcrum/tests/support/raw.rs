//! Client-side helpers for the HTTP tests: a raw HTTP/1.1 client that reads responses byte by
//! byte off a socket (status, fields in order, Content-Length, chunked with trailers, or
//! close-delimited bodies) and tells whether the server closed the connection; a `curl`
//! runner; HTTP config text; fulcrum's access log (its stdout) and memory.

use super::{Fulcrum, IO_TIMEOUT};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Config text

/// A config with one HTTP listener `web` on `listen`. `listener` is the rest of its table:
/// keys first (`cluster = "c"`, `via = false`), then its sub-tables (`[listener.timeouts]`,
/// `[[listener.route]]`). `clusters` is the `[[cluster]]` tables (see [`http_cluster`]).
pub fn http_config(admin: u16, listen: SocketAddr, listener: &str, clusters: &str) -> String {
    super::config_head(admin, 2)
        + &format!(
            "[[listener]]\nname = \"web\"\nbind = \"{listen}\"\nprotocol = \"http\"\n{listener}\n\n{clusters}"
        )
}

/// A `[[cluster]]` table; `extra` holds more keys and then sub-tables (`[cluster.pool]`).
pub fn http_cluster(name: &str, backends: &[SocketAddr], extra: &str) -> String {
    let list: Vec<String> = backends.iter().map(|b| format!("\"{b}\"")).collect();
    format!(
        "[[cluster]]\nname = \"{name}\"\nbackends = [{}]\n{extra}\n\n",
        list.join(", ")
    )
}

/// Starts fulcrum with one HTTP listener in front of one cluster `c` over `backends`.
/// Returns fulcrum and the listener address.
pub fn start_http(
    listener: &str,
    backends: &[SocketAddr],
    cluster_extra: &str,
) -> (Fulcrum, SocketAddr) {
    let admin = super::free_port();
    let listen = super::free_addr();
    let cfg = http_config(
        admin,
        listen,
        listener,
        &http_cluster("c", backends, cluster_extra),
    );
    (Fulcrum::start(&cfg), listen)
}

// ---------------------------------------------------------------------------------------------
// Fulcrum's stdout (the access log) and memory

/// Everything fulcrum wrote to stdout so far (the access log).
pub fn stdout_text(f: &Fulcrum) -> String {
    let dir: PathBuf = f
        .config_path()
        .parent()
        .expect("config has a dir")
        .to_path_buf();
    std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default()
}

/// Access log lines (stdout), polling until at least `n` are there (5 s at most).
pub fn access_lines(f: &Fulcrum, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    super::wait_until(Duration::from_secs(5), || {
        lines = stdout_text(f).lines().map(str::to_owned).collect();
        lines.len() >= n
    });
    lines
}

/// Resident memory of a process in KiB (VmRSS from /proc).
pub fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client

/// A response as read off the wire.
#[derive(Debug, Clone, Default)]
pub struct RawResponse {
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// Every field line in order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub chunked: bool,
    pub trailers: Vec<(String, String)>,
}

impl RawResponse {
    /// The first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (the test backend's echo).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): status {} body {:?}",
                self.status,
                self.text()
            )
        })
    }

    /// Whether the response says it closes the connection.
    pub fn says_close(&self) -> bool {
        self.headers_named("connection")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("close"))
    }

    /// A short description for assertion messages.
    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        format!(
            "{} {} {} {:?} body({} bytes) {:?}",
            self.version,
            self.status,
            self.reason,
            self.headers,
            self.body.len(),
            body
        )
    }
}

/// An echo body's `headers` as (name, value) pairs.
pub fn echo_headers(echo: &serde_json::Value) -> Vec<(String, String)> {
    echo["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap_or("").to_string(),
                        p[1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first value of `name` (case-insensitive) among an echo's headers.
pub fn echo_header(echo: &serde_json::Value, name: &str) -> Option<String> {
    echo_headers(echo)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// How a connection ended, as seen by [`RawClient::wait_closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// EOF with nothing more.
    Eof,
    /// A reset (ECONNRESET): closed too, less gracefully.
    Reset,
    /// More bytes arrived instead.
    Bytes(String),
    /// Still open at the deadline.
    Open,
}

/// A client connection reading raw responses.
pub struct RawClient {
    pub stream: TcpStream,
    /// Bytes read and not used yet.
    pub buf: Vec<u8>,
    pub eof: bool,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        RawClient::new(super::connect(addr))
    }

    pub fn new(stream: TcpStream) -> RawClient {
        let _ = stream.set_nodelay(true);
        RawClient {
            stream,
            buf: Vec::new(),
            eof: false,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads more, until `deadline`; `Ok(false)` at EOF.
    fn fill(&mut self, deadline: Instant) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let mut tmp = [0u8; 65_536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no response bytes in time",
                ));
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut tmp) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn line(&mut self, deadline: Instant) -> io::Result<String> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if !self.fill(deadline)? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("EOF in a line: {:?}", String::from_utf8_lossy(&self.buf)),
                ));
            }
        }
    }

    /// Reads the next response (1xx included) to a request with `method`.
    pub fn read_response_to(&mut self, method: &str) -> io::Result<RawResponse> {
        self.read_response_within(method, IO_TIMEOUT)
    }

    /// Reads the next response (1xx included) to a GET.
    pub fn read_response(&mut self) -> io::Result<RawResponse> {
        self.read_response_to("GET")
    }

    /// Reads responses until a final (non-1xx) one; returns the interim statuses and it.
    pub fn read_final(&mut self, method: &str) -> io::Result<(Vec<u16>, RawResponse)> {
        let mut interim = Vec::new();
        loop {
            let r = self.read_response_to(method)?;
            if r.status >= 200 || r.status == 101 {
                return Ok((interim, r));
            }
            interim.push(r.status);
        }
    }

    pub fn read_response_within(
        &mut self,
        method: &str,
        timeout: Duration,
    ) -> io::Result<RawResponse> {
        let deadline = Instant::now() + timeout;
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if !self.fill(deadline)? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    if self.buf.is_empty() {
                        "EOF before any response byte".to_string()
                    } else {
                        format!(
                            "EOF inside a response head: {:?}",
                            String::from_utf8_lossy(&self.buf)
                        )
                    },
                ));
            }
        };
        let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        for l in lines {
            let (n, v) = l
                .split_once(':')
                .ok_or_else(|| invalid(format!("bad field line {l:?}")))?;
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut r = RawResponse {
            version,
            status,
            reason,
            headers,
            ..RawResponse::default()
        };
        let bodiless = method == "HEAD" || status < 200 || status == 204 || status == 304;
        if bodiless {
            return Ok(r);
        }
        let te = r
            .headers_named("transfer-encoding")
            .join(",")
            .to_ascii_lowercase();
        if te.trim().ends_with("chunked") {
            r.chunked = true;
            loop {
                let line = self.line(deadline)?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
                if size == 0 {
                    loop {
                        let t = self.line(deadline)?;
                        if t.is_empty() {
                            break;
                        }
                        if let Some((n, v)) = t.split_once(':') {
                            r.trailers.push((n.to_string(), v.trim().to_string()));
                        }
                    }
                    return Ok(r);
                }
                while self.buf.len() < size + 2 {
                    if !self.fill(deadline)? {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "EOF in chunk data",
                        ));
                    }
                }
                r.body.extend_from_slice(&self.buf[..size]);
                if &self.buf[size..size + 2] != b"\r\n" {
                    return Err(invalid("chunk data not followed by CRLF".into()));
                }
                self.buf.drain(..size + 2);
            }
        } else if let Some(cl) = r.header("content-length") {
            let n: usize = cl
                .parse()
                .map_err(|_| invalid(format!("bad content-length {cl:?}")))?;
            while self.buf.len() < n {
                if !self.fill(deadline)? {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("EOF after {} of {n} body bytes", self.buf.len()),
                    ));
                }
            }
            r.body = self.buf.drain(..n).collect();
        } else {
            while self.fill(deadline)? {}
            r.body = std::mem::take(&mut self.buf);
        }
        Ok(r)
    }

    /// Waits up to `timeout` for the server to close: EOF (or reset) with no more bytes.
    pub fn wait_closed(&mut self, timeout: Duration) -> Closed {
        if !self.buf.is_empty() {
            return Closed::Bytes(String::from_utf8_lossy(&self.buf).into_owned());
        }
        if self.eof {
            return Closed::Eof;
        }
        let deadline = Instant::now() + timeout;
        match self.fill(deadline) {
            Ok(false) => Closed::Eof,
            Ok(true) => Closed::Bytes(String::from_utf8_lossy(&self.buf).into_owned()),
            Err(e)
                if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock =>
            {
                Closed::Open
            }
            Err(_) => Closed::Reset,
        }
    }

    /// Whether the server closed within `timeout` (EOF or reset, nothing more read).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        matches!(self.wait_closed(timeout), Closed::Eof | Closed::Reset)
    }

    /// Whether the connection is still open and silent for `wait`.
    pub fn open_for(&mut self, wait: Duration) -> bool {
        self.wait_closed(wait) == Closed::Open
    }
}

/// Sends `bytes` on a new connection and reads one response; also reports how the connection
/// ended within 3 s after it.
pub fn one_shot(addr: SocketAddr, bytes: &[u8]) -> (io::Result<RawResponse>, Closed) {
    let mut c = RawClient::connect(addr);
    if let Err(e) = c.send(bytes) {
        return (Err(e), Closed::Reset);
    }
    let r = c.read_response();
    let closed = if r.is_ok() {
        c.wait_closed(Duration::from_secs(3))
    } else {
        Closed::Eof
    };
    (r, closed)
}

/// `GET path` with `Host: host` on a new connection (`Connection: close`).
pub fn get(addr: SocketAddr, host: &str, path: &str, extra: &str) -> RawResponse {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
    let mut c = RawClient::connect(addr);
    c.send(req.as_bytes())
        .unwrap_or_else(|e| panic!("send GET {path}: {e}"));
    c.read_response()
        .unwrap_or_else(|e| panic!("GET {path} (host {host}): no response: {e}"))
}

// ---------------------------------------------------------------------------------------------
// External commands

/// What a command did.
#[derive(Debug)]
pub struct Output {
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub timed_out: bool,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status == Some(0) && !self.timed_out
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {:?}{}; stdout {:?}; stderr {:?}",
            self.status,
            if self.timed_out {
                " (timed out, killed)"
            } else {
                ""
            },
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(2000)]),
            &self.stderr[..self.stderr.len().min(4000)]
        )
    }
}

/// Runs `program args...` with `stdin` fed in, killed after `timeout`.
pub fn run_cmd(program: &str, args: &[String], stdin: &[u8], timeout: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e} (scripts/test installs it)"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break s.code();
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().ok().and_then(|s| s.code());
        }
        thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
        timed_out,
    }
}

/// `curl -sS --max-time 15 ARGS...`.
pub fn curl(args: &[&str]) -> Output {
    let mut argv: Vec<String> = vec!["-sS".into(), "--max-time".into(), "15".into()];
    argv.extend(args.iter().map(|s| s.to_string()));
    run_cmd("curl", &argv, b"", Duration::from_secs(20))
}

/// Whether a program can be run (`which`).
pub fn have(program: &str) -> bool {
    Command::new("which")
        .arg(program)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Debian's python3 (the one with python3-websockets and python3-grpcio).
pub const PYTHON: &str = "/usr/bin/python3";

/// Path of a fixture file under tests/fixtures/.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A long-running helper process (a Python server), killed on drop. It prints its port on
/// its first stdout line.
pub struct Helper {
    child: std::process::Child,
    pub port: u16,
    stderr_path: PathBuf,
    _dir: super::TempDir,
}

impl Helper {
    /// Starts `program args...`, waits (10 s at most) for the first stdout line: the port.
    pub fn start(program: &str, args: &[String]) -> Helper {
        let dir = super::TempDir::new("helper");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e} (scripts/test installs it)"));
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while let Ok(1) = out.read(&mut b) {
                if b[0] == b'\n' {
                    let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
                    line.clear();
                } else {
                    line.push(b[0]);
                }
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(10));
        let port = first.as_deref().ok().and_then(|l| l.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{program} {args:?} did not print its port: {first:?}; stderr: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        };
        Helper {
            child,
            port,
            stderr_path,
            _dir: dir,
        }
    }

    /// Starts `program args...` that listens on 127.0.0.1:`port` (which `args` name); waits
    /// (10 s at most) until the port accepts connections.
    pub fn on_port(program: &str, args: &[String], port: u16) -> Helper {
        let dir = super::TempDir::new("helper");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let stdout = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e} (scripts/test installs it)"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let up = super::wait_until(Duration::from_secs(10), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
        if !up {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{program} {args:?} did not listen on {addr}: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        Helper {
            child,
            port,
            stderr_path,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One transfer by curl: status, response head(s) as text, body.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    /// Every response head curl received (interim ones too), as text.
    pub head: String,
    pub body: Vec<u8>,
    pub out: Output,
}

impl Fetched {
    /// The first value of field `name` in the last response head.
    pub fn header(&self, name: &str) -> Option<String> {
        let last = self
            .head
            .split("\r\n\r\n")
            .filter(|h| !h.trim().is_empty())
            .last()
            .unwrap_or("");
        last.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "curl's body is not JSON ({e}): status {} head {:?} body {:?}; {}",
                self.status,
                self.head,
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)]),
                self.out.describe()
            )
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "status {} head {:?} body {} bytes {:?}; curl {}",
            self.status,
            self.head,
            self.body.len(),
            String::from_utf8_lossy(&self.body[..self.body.len().min(300)]),
            self.out.describe()
        )
    }
}

/// Runs curl on one URL (`args` hold the URL and options), capturing head and body.
pub fn curl_fetch(args: &[&str]) -> Fetched {
    let dir = super::TempDir::new("curl");
    let head_path = dir.path().join("head");
    let body_path = dir.path().join("body");
    let mut all: Vec<&str> = vec![
        "-D",
        head_path.to_str().unwrap(),
        "-o",
        body_path.to_str().unwrap(),
        "-w",
        "%{http_code}",
    ];
    all.extend_from_slice(args);
    let out = curl(&all);
    let status = out.stdout_text().trim().parse().unwrap_or(0);
    Fetched {
        status,
        head: std::fs::read_to_string(&head_path).unwrap_or_default(),
        body: std::fs::read(&body_path).unwrap_or_default(),
        out,
    }
}
