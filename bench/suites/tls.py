"""tls: TLS termination, Fulcrum (rustls) vs haproxy 2.6 (OpenSSL), both HTTPS → HTTP/1.1 to nginx.

(a) full TLS 1.3 handshakes, ECDSA P-256 certificate: rate, proxy CPU per handshake
(b) the same with an RSA 2048 certificate
(c) resumed TLS 1.3 handshakes (session tickets), ECDSA P-256: rate, proxy CPU per handshake
(d) HTTPS/1.1 keep-alive requests (wrk -c64 over https), ECDSA P-256: rate, latency, CPU per request
(e) memory per idle HTTPS/1.1 keep-alive connection (1000 of them)

Certificates and keys are generated with `openssl` into the run's temp dir at run time.
There is no "direct" target: the backend nginx speaks plain HTTP only.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys

from benchlib import loadgen, peers, procs
from benchlib.model import Check, Metric, Scenario, Suite

HS_CONNS = 16     # (a)-(c): client threads, each one connection at a time
WRK_CONNS = 64    # (d)
IDLE_CONNS = 1000  # (e): each a full handshake by a Python client

# The handshake client: a separate process (so its CPU is the load generator's, pinned to the
# load CPU, and counted as ours, not as other load). Threads, each looping: connect, TLS 1.3
# handshake (ALPN http/1.1, no certificate verification), one `GET /` with `Connection: close`,
# read the response to the end of its Content-Length, check status 200 and the body, close.
# mode "new": no session is ever offered (every handshake is full);
# mode "resume": each thread offers the newest session (ticket) it received, so every handshake
# after its first is a resumption (PSK with (EC)DHE, OpenSSL's default for TLS 1.3).
CLIENT = r'''
import json, socket, ssl, sys, threading, time
port, seconds, conns, mode, body = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5].encode()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.set_alpn_protocols(["http/1.1"])
req = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: fulcrum-bench\r\nConnection: close\r\n\r\n"
lock = threading.Lock()
tot = {"handshakes": 0, "resumed": 0, "errors": 0, "first_error": "", "version": "", "cipher": "", "alpn": ""}

def one(session):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, session=session)
    try:
        s.sendall(req)
        data = b""
        while b"\r\n\r\n" not in data:
            c = s.recv(65536)
            if not c:
                raise RuntimeError("closed before a response head")
            data += c
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 200"):
            raise RuntimeError("status line %r" % lines[0][:60])
        n = None
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip())
        if n is None:
            raise RuntimeError("no Content-Length")
        while len(rest) < n:
            c = s.recv(65536)
            if not c:
                raise RuntimeError("closed in the body")
            rest += c
        if rest[:n] != body:
            raise RuntimeError("body %r" % rest[:40])
        return s.session, s.session_reused, (s.version(), s.cipher()[0], s.selected_alpn_protocol())
    finally:
        s.close()

def worker(deadline):
    session = None
    hs = res = err = 0
    info = None
    first = ""
    while time.monotonic() < deadline:
        try:
            sess, reused, info = one(session if mode == "resume" else None)
            hs += 1
            res += 1 if reused else 0
            if mode == "resume":
                session = sess
        except Exception as e:
            err += 1
            first = first or repr(e)[:200]
            session = None
    with lock:
        tot["handshakes"] += hs
        tot["resumed"] += res
        tot["errors"] += err
        tot["first_error"] = tot["first_error"] or first
        if info:
            tot["version"], tot["cipher"], tot["alpn"] = info[0], info[1], info[2] or ""

t0 = time.monotonic()
ts = [threading.Thread(target=worker, args=(t0 + seconds,)) for _ in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join()
tot["seconds"] = time.monotonic() - t0
print("BENCHJSON " + json.dumps(tot))
'''


# ------------------------------------------------------------ certificates

def _certs(ctx, kind: str) -> tuple[str, str, str]:
    """(cert, key, cert+key) PEM paths for `kind` "ecdsa" (P-256) or "rsa" (2048), made once per run
    in the temp dir (self-signed, CN=localhost, 2 days)."""
    d = os.path.join(ctx.tmp, "certs")
    os.makedirs(d, exist_ok=True)
    cert, key, both = (os.path.join(d, f"{kind}.{x}") for x in ("crt", "key", "pem"))
    if not os.path.exists(both):
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ecdsa" else ["-newkey", "rsa:2048"]
        r = subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"openssl req failed: {procs.one_line(r.stderr)}")
        os.chmod(key, 0o600)
        with open(both, "w") as f:
            f.write(open(cert).read() + open(key).read())
        os.chmod(both, 0o600)
    return cert, key, both


def _probe(ctx, port: int, proc: procs.Proc | None) -> None:
    """One HTTPS request (TLS 1.3, ALPN http/1.1): status 200 and the backend's body."""
    body = ctx.backend_extra.get("body", "hello\n").encode()
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.minimum_version = ssl.TLSVersion.TLSv1_3
    c.set_alpn_protocols(["http/1.1"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, c.wrap_socket(raw) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: fulcrum-bench\r\n\r\n")
            loadgen._read_response(s, body)
    except Exception as e:
        if proc is not None:
            proc.stop()
        raise RuntimeError(f"HTTPS probe failed: {e}")


# ------------------------------------------------------------ targets

class HaproxyTls(peers.Target):
    """haproxy 2.6, one thread, `bind ... ssl crt` (OpenSSL), TLS 1.3 only, mode http, `http-reuse always`."""
    name = "haproxy"

    def __init__(self, kind: str = "ecdsa"):
        self.kind = kind

    def start(self, ctx, backend_port, mode):
        _, _, both = _certs(ctx, self.kind)
        port = procs.free_port()
        d = os.path.join(ctx.tmp, f"haproxy-{mode}")
        os.makedirs(d, exist_ok=True)
        bind = f"    bind 127.0.0.1:{port} ssl crt {both} alpn h2,http/1.1 ssl-min-ver TLSv1.3"
        p = peers.start_haproxy_http(ctx, d, mode, bind, backend_port,
                                     global_extra="    ssl-default-bind-options ssl-min-ver TLSv1.3\n",
                                     scheme="https")
        procs.wait_listening(port, p)
        _probe(ctx, port, p)
        return port, p


class FulcrumTls(peers.Target):
    """Fulcrum, one worker, protocol https (rustls), TLS 1.3 only, defaults otherwise (session
    tickets on, ALPN h2 + http/1.1); no access log; pinned with taskset (pin_workers = false)."""
    name = "fulcrum"

    def __init__(self, kind: str = "ecdsa"):
        self.kind = kind

    def available(self, ctx):
        return ctx.fulcrum.reason if ctx.fulcrum.binary is None else ""

    def start(self, ctx, backend_port, mode):
        cert, key, _ = _certs(ctx, self.kind)
        tls = f'tls = {{ certificates = [{{ cert = "{cert}", key = "{key}" }}], min_version = "1.3" }}'
        port, p = peers.start_fulcrum(ctx, mode, "https", backend_port, f"{peers.SAME_FIELDS}\n{tls}")
        _probe(ctx, port, p)
        return port, p


def _start_nginx_tls(ctx, kind: str) -> tuple[int, procs.Proc]:
    """nginx terminating TLS 1.3 itself (one worker, on the backend's CPU), answering as the
    plain backend does: the backend of the `relay` reference."""
    cert, key, _ = _certs(ctx, kind)
    port = procs.free_port()
    tls = f"ssl_certificate {cert};\nssl_certificate_key {key};\nssl_protocols TLSv1.3;"
    body = ctx.backend_extra.get("body", "hello\n")
    p = peers.nginx_process(ctx, "nginx-tls", f"127.0.0.1:{port} ssl backlog=4096", body, tls)
    procs.wait_listening(port, p)
    return port, p


class TlsRelay(peers.Target):
    """A reference, not a peer: haproxy in mode tcp passing the client's TLS bytes to an nginx
    that terminates TLS itself (on the backend's CPU). Per request the proxy makes the same
    system calls as a TLS-terminating proxy, with no HTTP and no TLS work: the floor."""
    name = "relay"

    def __init__(self, kind: str = "ecdsa"):
        self.kind = kind
        self.backend: tuple[int, procs.Proc] | None = None

    def start(self, ctx, backend_port, mode):
        if self.backend is None or not self.backend[1].alive():
            self.backend = _start_nginx_tls(ctx, self.kind)
        port, p = peers.HaproxyTcp().start(ctx, self.backend[0], f"{mode}-relay")
        _probe(ctx, port, p)
        return port, p

    def own_backends(self):
        return [self.backend[1]] if self.backend else []


def _targets(kind: str) -> list[peers.Target]:
    return [HaproxyTls(kind), FulcrumTls(kind)]


# ------------------------------------------------------------ (e) memory per idle connection

def _idle_client() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _https_probe(ctx, port, seconds):
    loadgen.http1_idle_connections(port, 1, tls=_idle_client())[0].close()
    return {}


# ------------------------------------------------------------ (a)-(c) handshakes

def _handshake_load(mode: str):
    def load(ctx, port, seconds):
        script = os.path.join(ctx.tmp, "tls-client.py")
        if not os.path.exists(script):
            with open(script, "w") as f:
                f.write(CLIENT)
        body = ctx.backend_extra.get("body", "hello\n")
        r = procs.run([sys.executable, script, str(port), str(seconds), str(HS_CONNS), mode, body], ctx.load_cpu,
                      timeout=seconds + 30)
        for line in (r.stdout or "").splitlines():
            if line.startswith("BENCHJSON "):
                d = json.loads(line[len("BENCHJSON "):])
                break
        else:
            raise RuntimeError(f"TLS client failed (exit {r.returncode}): {procs.one_line((r.stderr or '')[-300:])}")
        if d["errors"]:
            raise RuntimeError(f"{d['errors']} failed connections of {d['handshakes'] + d['errors']}: {d['first_error']}")
        if not d["handshakes"]:
            raise RuntimeError("no handshake completed")
        if d["version"] != "TLSv1.3":
            raise RuntimeError(f"negotiated {d['version']}, not TLSv1.3")
        if mode == "new" and d["resumed"]:
            raise RuntimeError(f"{d['resumed']} handshakes were resumed in a no-resumption run")
        if mode == "resume" and d["resumed"] < 0.95 * d["handshakes"] - HS_CONNS:
            raise RuntimeError(f"only {d['resumed']} of {d['handshakes']} handshakes were resumed")
        d["note"] = f"{d['version']} {d['cipher']}, ALPN {d['alpn'] or 'none'}"
        return d
    return load


def _handshake_derive(raw, proxy_ns, wall):
    n = raw["handshakes"]
    out = {
        "hs_per_s": n / raw["seconds"],
        "proxy_us_per_hs": None if proxy_ns is None else proxy_ns / 1e3 / n,
    }
    out["resumed_pct"] = 100.0 * raw["resumed"] / n
    return out


def _handshake_metrics():
    return [
        Metric("hs_per_s", "rate", "handshakes/s", "higher"),
        Metric("proxy_us_per_hs", "proxy CPU", "µs/handshake", "lower", proxy_only=True),
        Metric("resumed_pct", "resumed", "% of handshakes", "info"),
    ]


# ------------------------------------------------------------ (d) HTTPS keep-alive requests

def _https_load(ctx, port, seconds):
    d = loadgen.wrk(ctx.tmp, port, ctx.load_cpu, seconds, connections=WRK_CONNS, scheme="https")
    err = loadgen.http_errors(d)
    if err:
        raise RuntimeError(f"wrk: {err}")
    return d


def _https_derive(raw, proxy_ns, wall):
    n = raw["requests"]
    return {
        "req_per_s": n / raw["seconds"],
        "lat_p50_us": raw["lat_p50_us"],
        "lat_p99_us": raw["lat_p99_us"],
        "proxy_us_per_req": None if proxy_ns is None else proxy_ns / 1e3 / n,
    }


_HS_DESCRIBE = (f"A Python (`ssl`, OpenSSL) client, {HS_CONNS} threads on the load CPU, each looping: connect, "
                "TLS 1.3 handshake (ALPN http/1.1, X25519 key share, no certificate verification), one "
                "`GET /` with `Connection: close`, read the response (status 200, nginx's 6-byte body), "
                "close. Proxy CPU is per completed connection = per handshake, and includes relaying that "
                "one request to the backend over a kept-alive HTTP/1.1 connection. ")

SUITE = Suite(
    name="tls",
    title="TLS termination (HTTPS → HTTP/1.1)",
    binaries=["wrk", "nginx", "haproxy", "openssl", "taskset"],
    baselines=["haproxy"],
    seconds=4.0,
    scenarios=[
        Scenario(
            key="a", title="full TLS 1.3 handshakes, ECDSA P-256", mode="hs-ecdsa",
            backend=peers.start_nginx, load=_handshake_load("new"), derive=_handshake_derive,
            metrics=_handshake_metrics(), targets=_targets("ecdsa"),
            describe=_HS_DESCRIBE + "No session is ever offered, so every handshake is full "
                     "(ECDHE + an ECDSA P-256 signature by the proxy); the 'resumed' row checks that.",
        ),
        Scenario(
            key="b", title="full TLS 1.3 handshakes, RSA 2048", mode="hs-rsa",
            backend=peers.start_nginx, load=_handshake_load("new"), derive=_handshake_derive,
            metrics=_handshake_metrics(), targets=_targets("rsa"),
            describe=_HS_DESCRIBE + "As (a) with an RSA 2048 certificate (an RSA-PSS signature per handshake).",
        ),
        Scenario(
            key="c", title="resumed TLS 1.3 handshakes (session tickets), ECDSA P-256", mode="hs-resume",
            backend=peers.start_nginx, load=_handshake_load("resume"), derive=_handshake_derive,
            metrics=_handshake_metrics(), targets=_targets("ecdsa"),
            describe=_HS_DESCRIBE + "Each thread offers the newest session ticket it received (TLS 1.3 "
                     "PSK with ECDHE, no certificate signature), so every handshake after a thread's first "
                     "is resumed; the 'resumed' row is the share the client saw resumed (a run with under "
                     "95 % is an error). Both proxies use their defaults: stateless tickets.",
        ),
        Scenario(
            key="d", title=f"HTTPS/1.1 keep-alive (wrk -c{WRK_CONNS})", mode="https",
            backend=peers.start_nginx, load=_https_load, derive=_https_derive,
            metrics=[
                Metric("req_per_s", "rate", "req/s", "higher"),
                Metric("lat_p50_us", "latency p50", "µs", "lower"),
                Metric("lat_p99_us", "latency p99", "µs", "lower"),
                Metric("proxy_us_per_req", "proxy CPU", "µs/req", "lower", proxy_only=True),
            ],
            targets=_targets("ecdsa") + [TlsRelay("ecdsa")],
            describe=f"`wrk -t1 -c{WRK_CONNS}` keep-alive GET / over https (wrk's OpenSSL, TLS 1.3, no ALPN → "
                     "HTTP/1.1), ECDSA P-256 certificate; 64 handshakes at the start of each run, then only "
                     "requests. Latency: wrk's p50/p99. Proxy CPU is per completed request. `relay` is "
                     "haproxy in mode tcp passing the TLS bytes to an nginx that terminates TLS (the floor).",
        ),
        Scenario(
            key="e", title=f"memory per idle HTTPS/1.1 connection ({IDLE_CONNS} connections)", mode="https-idle",
            backend=peers.start_nginx, load=_https_probe, derive=loadgen.idle_memory_derive,
            measure=loadgen.idle_memory_measure(IDLE_CONNS, tls=_idle_client()), fresh_per_round=True,
            metrics=[
                Metric("bytes_per_conn", "memory", "bytes/conn", "lower"),
                Metric("rss_before_mib", "RSS before", "MiB", "info"),
                Metric("rss_after_mib", "RSS with the idle conns", "MiB", "info"),
            ],
            targets=_targets("ecdsa"),
            describe=f"Each round starts the proxy afresh, reads its VmRSS, opens {IDLE_CONNS} connections "
                     f"{loadgen.IDLE_BATCH} at a time, each with a full TLS 1.3 handshake (Python `ssl`, ALPN "
                     "http/1.1) and one GET to the end of its response, then staying open and idle; waits "
                     f"{loadgen.IDLE_SETTLE:g} s, reads VmRSS again and checks all connections are still "
                     "ESTABLISHED at the proxy. Memory = RSS growth / connections (kernel socket memory is "
                     "not in RSS). No goal: the issue sets none; it shows what an idle TLS client costs.",
        ),
    ],
    checks=[
        Check("a", "proxy_us_per_hs", "haproxy", "<=", 0.77),
        Check("b", "proxy_us_per_hs", "haproxy", "<=", 0.77),
        Check("d", "proxy_us_per_req", "haproxy", "<=", 0.8, floor="relay"),
    ],
    notes=[
        "Both proxies terminate TLS 1.3 only (haproxy: `ssl-min-ver TLSv1.3`; Fulcrum: `min_version = \"1.3\"`), "
        "offer ALPN h2 and http/1.1 (the clients ask for http/1.1 or nothing), keep session tickets at their "
        "defaults, and speak HTTP/1.1 keep-alive to the same nginx backend (6-byte body). haproxy: `mode http`, "
        "`http-reuse always`, `nbthread 1`, OpenSSL from Debian; Fulcrum: rustls with AWS-LC, `workers = 1`. "
        "Both add the same fields, X-Forwarded-For, -Proto and -Host (haproxy: `option forwardfor` and two "
        "`http-request set-header`; Fulcrum: `via = false`, `request_id = false`, defaults otherwise). "
        "No access log anywhere.",
        "Cipher suites are each proxy's default (in each round's note): haproxy's server order gives "
        "TLS_AES_256_GCM_SHA384, Fulcrum's gives TLS_AES_128_GCM_SHA256 (bench/README.md).",
        "Certificates: self-signed, generated at run time with `openssl req -x509` (ECDSA P-256, RSA 2048) into "
        "the run's temp dir; nothing is kept unless --keep-tmp. No 'direct' target: the backend has no TLS.",
        "The handshake client is Python and costs far more CPU per handshake than either proxy, so in (a)-(c) "
        "CPU 0 (client + nginx) is the bottleneck and the rate mostly measures the client; compare the proxy "
        "CPU per handshake.",
        "CPU busy % is per CPU (CPU0/CPU1) from /proc/stat over the window; "
        "'other load' is host CPU not used by the proxy, backend or load generator, in % of one core.",
        "Proxy CPU = Σ first field of /proc/PID/task/*/schedstat over the proxy and its descendants, "
        "sampled right before and after the load generator runs.",
    ],
)
