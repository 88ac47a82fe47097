//! Shared helpers for the end-to-end tests: they start the real `fulcrum` binary against
//! backend servers that run in threads of the test process, all on loopback.
//!
//! Everything here is bounded in time: sockets carry read/write timeouts, every wait polls
//! against a deadline, and a broken binary fails a test with fulcrum's stderr in the message
//! instead of hanging. Each test owns its ports, its temp dir and its process, so tests run in
//! parallel.

#![allow(dead_code)]

pub mod h2raw;
pub mod http_backend;
pub mod raw;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Read/write timeout of every test socket: long enough for a slow debug build, short enough
/// that a broken binary fails the test rather than hanging CI.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// How long `Fulcrum::start` waits for the admin port to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Ports, temp dirs, polling

/// A port that was free a moment ago, and that no other call in this process has returned.
///
/// Ports come from below the kernel's ephemeral range (`ip_local_port_range`), so a later
/// `bind(:0)` in a test backend or the source port of an outgoing connection can never take
/// a port handed out here; a bare `bind(:0)`-and-drop could return the same port twice, and a
/// test whose "dead" backend got its own listener's port proxied to itself. Each test process
/// starts at its own offset so parallel test binaries rarely probe the same ports.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let (lo, hi) = (10_000, ephemeral_low().clamp(10_001, 65_535));
    let span = hi - lo;
    let start = (std::process::id() as usize).wrapping_mul(7_919) % span;
    for _ in 0..span {
        let port = (lo + (start + NEXT.fetch_add(1, SeqCst)) % span) as u16;
        let tcp = TcpListener::bind(("127.0.0.1", port)).is_ok();
        if tcp && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {lo}..{hi}");
}

/// The low end of the kernel's ephemeral port range (32768 when it cannot be read).
fn ephemeral_low() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// `127.0.0.1:<free port>`.
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A directory under the system temp dir, unique to one test, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "fulcrum-e2e-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Config text

/// The common head of a test config: admin on `admin`, `workers` threads, info logs.
pub fn config_head(admin: u16, workers: usize) -> String {
    config_head_with(admin, workers, "")
}

/// [`config_head`] with more `[runtime]` lines (`relay = "copy"`, `shutdown_timeout = "1s"`).
/// A `shutdown_timeout` in `runtime_extra` replaces the default 5 s.
pub fn config_head_with(admin: u16, workers: usize, runtime_extra: &str) -> String {
    let timeout = if runtime_extra.contains("shutdown_timeout") {
        String::new()
    } else {
        "shutdown_timeout = \"5s\"\n".to_string()
    };
    // FULCRUM_E2E_LOG=debug turns up fulcrum's logs (they end every failure message).
    let level = std::env::var("FULCRUM_E2E_LOG").unwrap_or_else(|_| "info".to_string());
    format!(
        "[admin]\nlisten = \"127.0.0.1:{admin}\"\n\n\
         [runtime]\nworkers = {workers}\n{timeout}{runtime_extra}\n\n\
         [log]\nlevel = \"{level}\"\n\n"
    )
}

/// A `[[listener]]` table; `extra` is appended verbatim (one `key = value` per line).
pub fn listener_toml(name: &str, bind: &str, cluster: &str, extra: &str) -> String {
    format!(
        "[[listener]]\nname = \"{name}\"\nbind = \"{bind}\"\nprotocol = \"tcp\"\n\
         cluster = \"{cluster}\"\n{extra}\n"
    )
}

/// A `[[cluster]]` table over `backends` (each already TOML: see [`backend`], [`weighted`]).
pub fn cluster_toml(name: &str, balance: &str, backends: &[String], extra: &str) -> String {
    format!(
        "[[cluster]]\nname = \"{name}\"\nbalance = \"{balance}\"\n{extra}\nbackends = [{}]\n\n",
        backends.join(", ")
    )
}

/// A backend entry without weight.
pub fn backend(addr: SocketAddr) -> String {
    format!("\"{addr}\"")
}

/// A backend entry with a weight.
pub fn weighted(addr: SocketAddr, weight: u32) -> String {
    format!("{{ address = \"{addr}\", weight = {weight} }}")
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client for the admin API

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// `GET path` with `Connection: close`; handles `Content-Length`, chunked and read-to-EOF bodies.
pub fn http_get(addr: SocketAddr, path: &str) -> io::Result<HttpResponse> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let split = find(&raw, b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status_line = lines.next().ok_or_else(|| bad("empty response"))?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(HttpResponse {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = find(data, b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus text

/// One series of a metrics page: name, labels (sorted), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Series {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `name{a="b",c="d"}` (labels optional) into name and sorted labels.
pub fn parse_key(key: &str) -> (String, Vec<(String, String)>) {
    let key = key.trim();
    let Some(open) = key.find('{') else {
        return (key.to_string(), Vec::new());
    };
    let name = key[..open].to_string();
    let inner = key[open + 1..].trim_end_matches('}');
    let mut labels = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(',') | Some(' ')) {
            chars.next();
        }
        let mut k = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            k.push(c);
            chars.next();
        }
        if k.is_empty() {
            break;
        }
        chars.next(); // '='
        chars.next(); // '"'
        let mut v = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(e) = chars.next() {
                        v.push(if e == 'n' { '\n' } else { e });
                    }
                }
                '"' => break,
                c => v.push(c),
            }
        }
        labels.push((k.trim().to_string(), v));
    }
    labels.sort();
    (name, labels)
}

/// Every sample line of a Prometheus text page.
pub fn parse_metrics(text: &str) -> Vec<Series> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = match line.find('{') {
            Some(open) if open < line.find(' ').unwrap_or(usize::MAX) => {
                let Some(close) = line[open..].find('}') else {
                    continue;
                };
                line.split_at(open + close + 1)
            }
            _ => match line.split_once(' ') {
                Some(parts) => parts,
                None => continue,
            },
        };
        let Some(value) = rest.split_whitespace().next().and_then(parse_value) else {
            continue;
        };
        let (name, labels) = parse_key(key);
        out.push(Series {
            name,
            labels,
            value,
        });
    }
    out
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        v => v.parse().ok(),
    }
}

// ---------------------------------------------------------------------------------------------
// The binary

/// How to launch the binary beyond `run -c FILE`.
#[derive(Debug, Default, Clone)]
pub struct Launch {
    /// Soft and hard RLIMIT_NOFILE for the process (through `prlimit`, which execs it, so the
    /// child's pid is fulcrum's).
    pub nofile: Option<u64>,
    /// A CPU list for `taskset -c` (the affinity mask fulcrum starts with).
    pub cpus: Option<String>,
}

/// A running `fulcrum run -c FILE`, its config file and its captured stderr. Killed on drop.
pub struct Fulcrum {
    child: Child,
    pub admin: SocketAddr,
    dir: TempDir,
    config_path: PathBuf,
    stderr_path: PathBuf,
    exited: Option<ExitStatus>,
}

/// Path of the binary under test: `$FULCRUM_BIN` if set (to test another build, a release
/// binary for example), else the one Cargo built for these tests.
pub fn fulcrum_bin() -> String {
    std::env::var("FULCRUM_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_fulcrum").to_string())
}

/// Finds `listen = "..."` in the `[admin]` table of a config text.
fn admin_addr(config: &str) -> SocketAddr {
    let mut in_admin = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_admin = line == "[admin]";
            continue;
        }
        if in_admin && line.starts_with("listen") {
            let value = line
                .split('"')
                .nth(1)
                .expect("admin listen is a quoted string");
            return value.parse().expect("admin listen is an address");
        }
    }
    panic!("test config has no [admin] listen:\n{config}");
}

impl Fulcrum {
    /// Starts fulcrum on `config` and waits until its admin port answers `/healthz`.
    pub fn start(config: &str) -> Fulcrum {
        Fulcrum::start_with(config, Launch::default())
    }

    pub fn start_with(config: &str, launch: Launch) -> Fulcrum {
        let admin = admin_addr(config);
        let dir = TempDir::new("fulcrum");
        let config_path = dir.path().join("fulcrum.toml");
        let stderr_path = dir.path().join("stderr.log");
        std::fs::write(&config_path, config).expect("write config");
        let stderr = File::create(&stderr_path).expect("create stderr log");
        let stdout = File::create(dir.path().join("stdout.log")).expect("create stdout log");
        // prlimit and taskset both exec what follows, so the child's pid is fulcrum's.
        let mut argv: Vec<String> = Vec::new();
        if let Some(n) = launch.nofile {
            argv.extend(["prlimit".into(), format!("--nofile={n}:{n}"), "--".into()]);
        }
        if let Some(cpus) = &launch.cpus {
            argv.extend(["taskset".into(), "-c".into(), cpus.clone()]);
        }
        argv.push(fulcrum_bin());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.arg("run")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let child = cmd.spawn().expect("spawn fulcrum");
        let mut f = Fulcrum {
            child,
            admin,
            dir,
            config_path,
            stderr_path,
            exited: None,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = f.child.try_wait() {
                f.exited = Some(status);
                panic!("fulcrum exited during start with {status}{}", f.diag());
            }
            if matches!(http_get(admin, "/healthz"), Ok(r) if r.status == 200) {
                return f;
            }
            if Instant::now() >= deadline {
                panic!(
                    "fulcrum's admin {admin} did not answer /healthz within {START_TIMEOUT:?}{}",
                    f.diag()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Everything fulcrum wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Fulcrum's stderr, formatted to end an assertion message.
    pub fn diag(&self) -> String {
        format!(
            "\n--- fulcrum stderr ---\n{}--- end of stderr ---",
            self.stderr_text()
        )
    }

    /// Polls stderr until it contains `needle`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.stderr_text().contains(needle))
    }

    pub fn get(&self, path: &str) -> io::Result<HttpResponse> {
        http_get(self.admin, path)
    }

    /// `/config` as JSON.
    pub fn config_json(&self) -> serde_json::Value {
        let r = self
            .get("/config")
            .unwrap_or_else(|e| panic!("GET /config: {e}{}", self.diag()));
        assert_eq!(r.status, 200, "GET /config: {}{}", r.body, self.diag());
        serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("/config is not JSON ({e}): {}{}", r.body, self.diag()))
    }

    /// The config generation from `/config`.
    pub fn generation(&self) -> u64 {
        let v = self.config_json();
        v["generation"]
            .as_u64()
            .unwrap_or_else(|| panic!("/config has no numeric generation: {v}{}", self.diag()))
    }

    /// The `/metrics` page.
    pub fn metrics(&self) -> String {
        let r = self
            .get("/metrics")
            .unwrap_or_else(|e| panic!("GET /metrics: {e}{}", self.diag()));
        assert_eq!(r.status, 200, "GET /metrics: {}{}", r.body, self.diag());
        r.body
    }

    /// The value of one series, `name` or `name{label="v",...}` (label order does not matter).
    pub fn metric(&self, key: &str) -> Option<f64> {
        let (name, labels) = parse_key(key);
        parse_metrics(&self.metrics())
            .into_iter()
            .find(|s| s.name == name && s.labels == labels)
            .map(|s| s.value)
    }

    /// All series of one metric name.
    pub fn series(&self, name: &str) -> Vec<Series> {
        parse_metrics(&self.metrics())
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// Polls `metric(key)` until `pred` holds; returns the last value read (None if absent).
    pub fn wait_metric(
        &self,
        key: &str,
        timeout: Duration,
        mut pred: impl FnMut(f64) -> bool,
    ) -> Option<f64> {
        let mut last = None;
        wait_until(timeout, || {
            last = self.metric(key);
            last.is_some_and(&mut pred)
        });
        last
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config_path, text).expect("rewrite config");
    }

    /// Sends a signal by name ("HUP", "TERM", "INT") with kill(1).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill -{sig} {} failed{}",
            self.pid(),
            self.diag()
        );
    }

    pub fn sighup(&self) {
        self.signal("HUP");
    }

    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Rewrites the config, sends SIGHUP and waits (10 s at most) for the generation to move.
    /// Returns whether it did.
    pub fn reload(&self, text: &str) -> bool {
        let before = self.generation();
        self.write_config(text);
        self.sighup();
        wait_until(Duration::from_secs(10), || self.generation() != before)
    }

    /// [`Fulcrum::reload`] that must be applied; returns the new generation.
    pub fn reload_ok(&self, text: &str) -> u64 {
        let before = self.generation();
        assert!(
            self.reload(text),
            "reload was not applied (generation stays {before}){}",
            self.diag()
        );
        self.generation()
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.exited {
            return Some(s);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.exited = Some(s);
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.exited.is_none() && matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Fulcrum {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `fulcrum ARGS...` to completion (10 s at most) and returns (status, stdout, stderr).
pub fn fulcrum_cmd(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = Command::new(fulcrum_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fulcrum");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait fulcrum") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`fulcrum {}` did not finish within 10 s", args.join(" "));
        }
        thread::sleep(Duration::from_millis(5));
    };
    (status, out_t.join().unwrap(), err_t.join().unwrap())
}

// ---------------------------------------------------------------------------------------------
// /proc

/// utime + stime of a process, in clock ticks.
pub fn proc_cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // The command name (field 2) may contain spaces; fields after its ')' are space separated.
    let rest = &stat[stat.rfind(')').expect("stat has (comm)") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields[11].parse().unwrap();
    let stime: u64 = fields[12].parse().unwrap();
    utime + stime
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 if that fails).
pub fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Open file descriptors of a process.
pub fn proc_fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Client side

/// Connects with a 2 s connect timeout and sets [`IO_TIMEOUT`] on the stream.
pub fn try_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    try_connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// Whether a connect to `addr` is refused right now.
pub fn refused(addr: SocketAddr) -> bool {
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused
    )
}

/// Reads one `\n`-terminated line, byte by byte (so nothing after it is consumed).
pub fn read_line(s: &mut TcpStream) -> io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b)? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("EOF after {:?}", String::from_utf8_lossy(&out)),
                ));
            }
            _ if b[0] == b'\n' => return Ok(String::from_utf8_lossy(&out).into_owned()),
            _ => out.push(b[0]),
        }
    }
}

/// Connects, reads the whole reply of a [`TestServer::name`] backend, returns the name.
pub fn ask_name(addr: SocketAddr) -> io::Result<String> {
    let mut s = try_connect(addr)?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    if reply.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "empty reply"));
    }
    Ok(reply.trim().to_string())
}

/// Writes `msg` and reads exactly as many bytes back, which must equal it.
pub fn echo_roundtrip(s: &mut TcpStream, msg: &[u8]) -> io::Result<()> {
    s.write_all(msg)?;
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back)?;
    if back != msg {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "echo mismatch: sent {:?}, got {:?}",
                String::from_utf8_lossy(msg),
                String::from_utf8_lossy(&back)
            ),
        ));
    }
    Ok(())
}

/// Whether a read sees nothing for `wait` (the peer is connected but silent).
pub fn silent_for(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 1];
    let silent = matches!(
        s.read(&mut b),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
    );
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    silent
}

// ---------------------------------------------------------------------------------------------
// Deterministic byte patterns for byte-exact relay tests

/// Byte `i` of the stream with `seed`: a multiplicative hash, so a lost, duplicated or
/// reordered chunk shows up at its first byte.
pub fn pattern_byte(seed: u64, i: u64) -> u8 {
    ((i ^ seed.rotate_left(29))
        .wrapping_add(seed)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        >> 56) as u8
}

pub fn fill_pattern(seed: u64, offset: u64, buf: &mut [u8]) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(seed, offset + k as u64);
    }
}

/// Writes `len` bytes of pattern `seed` in uneven chunks, then shuts down the write side.
pub fn send_pattern(s: &mut TcpStream, seed: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 61_441];
    let mut sent = 0u64;
    let mut chunk = 1usize;
    while sent < len {
        // Vary chunk sizes: 1 byte, then growing, up to the buffer size.
        let n = chunk.min(buf.len()).min((len - sent) as usize);
        fill_pattern(seed, sent, &mut buf[..n]);
        s.write_all(&buf[..n])?;
        sent += n as u64;
        chunk = (chunk * 3 + 7) % buf.len() + 1;
    }
    s.shutdown(Shutdown::Write)
}

/// Reads to EOF, checking every byte against pattern `seed`; returns the byte count or a
/// description of the first mismatch.
pub fn recv_pattern(s: &mut TcpStream, seed: u64) -> Result<u64, String> {
    let mut buf = vec![0u8; 65_536];
    let mut expect = vec![0u8; 65_536];
    let mut got = 0u64;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read error after {got} bytes: {e}")),
        };
        fill_pattern(seed, got, &mut expect[..n]);
        if buf[..n] != expect[..n] {
            let k = (0..n).find(|&k| buf[k] != expect[k]).unwrap();
            return Err(format!(
                "byte {} differs: got {:#04x}, expected {:#04x}",
                got + k as u64,
                buf[k],
                expect[k]
            ));
        }
        got += n as u64;
    }
}

/// Full duplex on one stream: sends `send_len` bytes of `send_seed` (then half-closes) while
/// receiving and checking pattern `recv_seed` to EOF. Returns the bytes received.
pub fn duplex(s: &TcpStream, send_seed: u64, send_len: u64, recv_seed: u64) -> Result<u64, String> {
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let writer = thread::spawn(move || send_pattern(&mut w, send_seed, send_len));
    let mut r = s.try_clone().map_err(|e| e.to_string())?;
    let received = recv_pattern(&mut r, recv_seed);
    let sent = writer.join().map_err(|_| "writer panicked".to_string())?;
    sent.map_err(|e| format!("write error: {e}"))?;
    received
}

// ---------------------------------------------------------------------------------------------
// Backend servers (threads of the test process)

/// What a connection handler sees of its server.
pub struct ConnCtx {
    shared: Arc<Shared>,
    /// The server's name.
    pub name: String,
}

impl ConnCtx {
    /// Whether the test asked handlers to close (release or stop).
    pub fn released(&self) -> bool {
        self.shared.release.load(SeqCst) || self.shared.stop.load(SeqCst)
    }

    /// Records a line the test can read with [`TestServer::log`].
    pub fn record(&self, line: impl Into<String>) {
        self.shared.log.lock().unwrap().push(line.into());
    }

    /// Reads into `buf`, waking every 50 ms to honour [`ConnCtx::released`]; `Ok(0)` on EOF,
    /// on release, and after 20 s without a byte.
    pub fn read(&self, s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.released() || Instant::now() >= deadline {
                return Ok(0);
            }
            match s.read(buf) {
                Ok(n) => return Ok(n),
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
}

struct Shared {
    stop: AtomicBool,
    release: AtomicBool,
    accepted: AtomicUsize,
    active: AtomicUsize,
    log: Mutex<Vec<String>>,
}

type Handler = Arc<dyn Fn(&mut TcpStream, &ConnCtx) + Send + Sync>;

/// A backend: a listener on 127.0.0.1:0 whose accept thread runs `handler` in a thread per
/// connection. Counts accepted and open connections. Stopped (and its handlers released) on
/// drop.
pub struct TestServer {
    addr: SocketAddr,
    name: String,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server running `handler` for every connection.
    pub fn custom(
        name: &str,
        handler: impl Fn(&mut TcpStream, &ConnCtx) + Send + Sync + 'static,
    ) -> TestServer {
        TestServer::on(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            name,
            Arc::new(handler),
        )
    }

    fn on(bind: SocketAddr, name: &str, handler: Handler) -> TestServer {
        let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            release: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        });
        let sh = Arc::clone(&shared);
        let server_name = name.to_string();
        let accept_thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if sh.stop.load(SeqCst) {
                    break;
                }
                let Ok(mut stream) = conn else { continue };
                sh.accepted.fetch_add(1, SeqCst);
                sh.active.fetch_add(1, SeqCst);
                let ctx = ConnCtx {
                    shared: Arc::clone(&sh),
                    name: server_name.clone(),
                };
                let handler = Arc::clone(&handler);
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
                    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
                    handler(&mut stream, &ctx);
                    drop(stream);
                    ctx.shared.active.fetch_sub(1, SeqCst);
                });
            }
        });
        TestServer {
            addr,
            name: name.to_string(),
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// Echoes every byte; on EOF from the client it half-closes its side too.
    pub fn echo(name: &str) -> TestServer {
        TestServer::custom(name, |s, ctx| {
            let mut buf = [0u8; 65_536];
            loop {
                match ctx.read(s, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = s.shutdown(Shutdown::Write);
        })
    }

    /// Sends `NAME\n` to every connection and half-closes, then waits for the client's EOF.
    pub fn name(name: &str) -> TestServer {
        TestServer::name_on(SocketAddr::from(([127, 0, 0, 1], 0)), name)
    }

    /// A [`TestServer::name`] bound to a given address (for example `[::1]:0`).
    pub fn name_on(bind: SocketAddr, name: &str) -> TestServer {
        TestServer::on(
            bind,
            name,
            Arc::new(|s: &mut TcpStream, ctx: &ConnCtx| {
                let _ = s.write_all(format!("{}\n", ctx.name).as_bytes());
                let _ = s.shutdown(Shutdown::Write);
                let mut buf = [0u8; 1024];
                while let Ok(n) = ctx.read(s, &mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            }),
        )
    }

    /// Sends `NAME\n`, then echoes and holds the connection open until the client closes or
    /// the test calls [`TestServer::release`].
    pub fn hold(name: &str) -> TestServer {
        TestServer::custom(name, |s, ctx| {
            if s.write_all(format!("{}\n", ctx.name).as_bytes()).is_err() {
                return;
            }
            let mut buf = [0u8; 65_536];
            loop {
                match ctx.read(s, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        })
    }

    /// Full duplex source and sink: sends `send_len` bytes of pattern `send_seed` (then
    /// half-closes) while checking the incoming stream against pattern `recv_seed`. Records
    /// `recv ok N` / `recv error ...` and `sent N` / `send error ...` in its log.
    pub fn pattern(name: &str, send_seed: u64, send_len: u64, recv_seed: u64) -> TestServer {
        TestServer::custom(name, move |s, ctx| {
            let _ = s.set_read_timeout(Some(IO_TIMEOUT));
            match duplex(s, send_seed, send_len, recv_seed) {
                Ok(n) => ctx.record(format!("recv ok {n}")),
                Err(e) => ctx.record(format!("error {e}")),
            }
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn server_name(&self) -> &str {
        &self.name
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(SeqCst)
    }

    /// Connections whose handler is still running.
    pub fn active(&self) -> usize {
        self.shared.active.load(SeqCst)
    }

    /// Lines recorded by handlers.
    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Tells every handler to finish (they close their connections within ~50 ms).
    pub fn release(&self) {
        self.shared.release.store(true, SeqCst);
    }

    /// Stops accepting (the port is closed) and releases handlers.
    pub fn stop(&mut self) {
        if let Some(t) = self.accept_thread.take() {
            self.shared.stop.store(true, SeqCst);
            // Wake the blocking accept.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
