"""Peers: the programs the benchmark runs next to Fulcrum.

Backends (nginx, iperf3 server), the comparison proxy (haproxy) and Fulcrum
itself, each started from a config generated into the run's temp dir, pinned
with taskset, in the foreground, listening on 127.0.0.1 only.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from . import procs

# binary -> Debian package
PACKAGES = {
    "haproxy": "haproxy",
    "nginx": "nginx-light",
    "iperf3": "iperf3",
    "wrk": "wrk",
    "h2load": "nghttp2-client",
    "nghttp": "nghttp2-client",
    "strace": "strace",
    "taskset": "util-linux",
    "openssl": "openssl",
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def ensure_installed(binaries: list[str], allow_install: bool) -> None:
    missing = [b for b in binaries if shutil.which(b) is None]
    if not missing:
        return
    pkgs = sorted({PACKAGES[b] for b in missing})
    if not allow_install:
        raise SystemExit(f"missing {', '.join(missing)}; install with: apt-get install -y {' '.join(pkgs)}")
    log(f"installing {' '.join(pkgs)} (missing: {', '.join(missing)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *pkgs], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    still = [b for b in binaries if shutil.which(b) is None]
    if still:
        raise SystemExit(f"still missing after install: {', '.join(still)}")


def _first_line(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"? ({e})"
    text = (r.stdout or "") + (r.stderr or "")
    return text.strip().splitlines()[0] if text.strip() else "?"


def version(binary: str) -> str:
    if shutil.which(binary) is None:
        return "not installed"
    if binary == "haproxy":
        m = re.search(r"version (\S+)", _first_line(["haproxy", "-v"]))
    elif binary == "nginx":
        m = re.search(r"nginx/(\S+)", _first_line(["nginx", "-v"]))
    elif binary == "iperf3":
        m = re.search(r"iperf (\S+)", _first_line(["iperf3", "-v"]))
    elif binary == "wrk":
        m = re.search(r"wrk (\S+)", _first_line(["wrk", "-v"]))
    elif binary in ("h2load", "nghttp"):
        m = re.search(r"nghttp2/(\S+)", _first_line([binary, "--version"]))
    elif binary == "strace":
        m = re.search(r"version (\S+)", _first_line(["strace", "-V"]))
    elif binary == "openssl":
        m = re.search(r"OpenSSL (\S+)", _first_line(["openssl", "version"]))
    else:
        m = None
    return m.group(1) if m else _first_line([binary, "--version"])


def machine() -> dict:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": model,
        "hostname": platform.node(),
    }


def git_commit(repo: str) -> str:
    """Read-only: HEAD plus a '+dirty' mark if tracked files differ."""
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    if not head:
        return "?"
    return head + ("+dirty" if dirty else "")


def fulcrum_version(binary: str | None) -> str:
    if not binary:
        return ""
    line = _first_line([binary, "--version"])
    return line if not line.startswith("?") else ""


@dataclass
class FulcrumBuild:
    binary: str | None
    reason: str = ""  # why unavailable
    commit: str = "?"


def build_fulcrum(repo: str, binary: str | None, do_build: bool, log_dir: str) -> FulcrumBuild:
    commit = git_commit(repo)
    if binary:
        if os.access(binary, os.X_OK):
            return FulcrumBuild(binary, commit=commit)
        return FulcrumBuild(None, f"{binary} is not executable", commit)
    path = os.path.join(repo, "target", "release", "fulcrum")
    if do_build:
        if shutil.which("cargo") is None:
            return FulcrumBuild(None, "cargo not found", commit)
        log("building Fulcrum: cargo build --release --locked -p fulcrum")
        env = dict(os.environ)
        env.pop("CARGO_TARGET_DIR", None)
        logf = os.path.join(log_dir, "cargo-build.log")
        with open(logf, "wb") as f:
            r = subprocess.run(["cargo", "build", "--release", "--locked", "-p", "fulcrum"], cwd=repo, env=env,
                               stdout=f, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            with open(logf, errors="replace") as f:
                errs = [l.strip() for l in f if l.startswith("error")]
            first = errs[0] if errs else f"exit {r.returncode}"
            return FulcrumBuild(None, f"build failed: {first}", commit)
    if not os.access(path, os.X_OK):
        return FulcrumBuild(None, f"no binary at {path}", commit)
    return FulcrumBuild(path, commit=commit)


# ---------------------------------------------------------------- backends

@dataclass
class Ctx:
    """What a suite needs from the harness."""
    tmp: str
    proxy_cpu: int
    load_cpu: int
    backend_cpu: int
    fulcrum: FulcrumBuild
    versions: dict = field(default_factory=dict)
    # --before-bin: another Fulcrum binary, run as target `before` wherever `fulcrum` runs.
    before: "FulcrumBuild | None" = None
    # Set by the scenario's backend starter, read by targets: e.g. the backend's h2c port.
    backend_extra: dict = field(default_factory=dict)


def write(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return path


def nginx_process(ctx: Ctx, name: str, listen: str, body: str, server_extra: str = "") -> procs.Proc:
    """nginx serving `body` on `listen` (the rest of a `listen` directive, e.g.
    "127.0.0.1:PORT backlog=4096", one per line); one worker, no access log, long keep-alive;
    pinned on the backend CPU. `server_extra`: more lines for the server block."""
    d = os.path.join(ctx.tmp, name)
    os.makedirs(d, exist_ok=True)
    body_escaped = body.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    listens = "".join(f"\n        listen {l};" for l in listen.splitlines())
    extra = "".join(f"\n        {l}" for l in server_extra.splitlines())
    conf = write(os.path.join(d, "nginx.conf"), f"""
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 8192;
}}
http {{
    access_log off;
    default_type text/plain;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path {d}/body;
    server {{{listens}{extra}
        location / {{
            return 200 "{body_escaped}";
        }}
    }}
}}
""")
    return procs.start(name, ["nginx", "-p", d, "-c", conf, "-e", f"{d}/error.log"], ctx.backend_cpu, ctx.tmp)


def start_nginx(ctx: Ctx, name: str = "nginx", body: str = "hello\n", h2c: bool = False) -> tuple[int, procs.Proc]:
    """nginx serving a small fixed body ([`nginx_process`]).

    With h2c=True it also listens on a second port for cleartext HTTP/2 (prior knowledge),
    recorded as ctx.backend_extra["h2c_port"] (the "direct" target of h2c scenarios)."""
    port = procs.free_port()
    h2_port = procs.free_port() if h2c else None
    listen = f"127.0.0.1:{port} backlog=4096" + (f"\n127.0.0.1:{h2_port} http2 backlog=4096" if h2c else "")
    p = nginx_process(ctx, name, listen, body)
    procs.wait_listening(port, p)
    procs.http_probe(port)
    ctx.backend_extra = {"body": body}
    if h2c:
        procs.wait_listening(h2_port, p)
        procs.h2c_probe(h2_port, body)
        ctx.backend_extra["h2c_port"] = h2_port
    return port, p


def start_nginx_h2c(ctx: Ctx) -> tuple[int, procs.Proc]:
    return start_nginx(ctx, h2c=True)


def start_iperf3_server(ctx: Ctx, name: str = "iperf3-server") -> tuple[int, procs.Proc]:
    port = procs.free_port()
    p = procs.start(name, ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port)], ctx.backend_cpu, ctx.tmp)
    procs.wait_listening(port, p)
    return port, p


# ---------------------------------------------------------------- targets

class Target:
    """Something the load generator talks to: the backend itself or a proxy in front of it."""
    name = "?"
    is_proxy = True

    def available(self, ctx: Ctx) -> str:
        """'' if it can run, else why not."""
        return ""

    def start(self, ctx: Ctx, backend_port: int, mode: str) -> tuple[int, procs.Proc | None]:
        raise NotImplementedError

    def own_backends(self) -> list[procs.Proc]:
        """Backend processes this target started for itself: their CPU counts as the backend's."""
        return []


class Before(Target):
    """A scenario's `fulcrum` target run from the --before-bin binary (in its own directory):
    a data-path change's before and after, alternating in one run."""
    name = "before"

    def __init__(self, fulcrum: Target):
        self.fulcrum = fulcrum

    def _ctx(self, ctx: Ctx) -> Ctx:
        tmp = os.path.join(ctx.tmp, "before")
        os.makedirs(tmp, exist_ok=True)
        return dataclasses.replace(ctx, fulcrum=ctx.before, tmp=tmp)

    def available(self, ctx):
        return self.fulcrum.available(self._ctx(ctx))

    def start(self, ctx, backend_port, mode):
        return self.fulcrum.start(self._ctx(ctx), backend_port, mode)

    def own_backends(self):
        return self.fulcrum.own_backends()


class Direct(Target):
    name = "direct"
    is_proxy = False

    def start(self, ctx, backend_port, mode):
        return backend_port, None


class HaproxyTcp(Target):
    """haproxy 2.6, mode tcp, one thread, splice in both directions when it pays."""
    name = "haproxy"

    def start(self, ctx, backend_port, mode):
        port = procs.free_port()
        d = os.path.join(ctx.tmp, f"haproxy-{mode}")
        os.makedirs(d, exist_ok=True)
        cfg = write(os.path.join(d, "haproxy.cfg"), f"""
global
    nbthread 1
    maxconn 5000

defaults
    mode tcp
    option splice-auto
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    maxconn 5000

frontend bench
    bind 127.0.0.1:{port}
    default_backend b

backend b
    server s1 127.0.0.1:{backend_port}
""")
        r = subprocess.run(["haproxy", "-c", "-q", "-f", cfg], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"haproxy config check failed: {r.stderr.strip() or r.stdout.strip()}")
        p = procs.start(f"haproxy-{mode}", ["haproxy", "-db", "-f", cfg], ctx.proxy_cpu, ctx.tmp)
        procs.wait_listening(port, p)
        return port, p


def start_fulcrum(ctx: Ctx, mode: str, protocol: str, backend_port: int,
                  listener_extra: str = "") -> tuple[int, procs.Proc]:
    """Fulcrum from a generated config: one worker (the harness pins the process with taskset,
    so pin_workers = false), warnings only, no connection log, one listener `bench` of
    `protocol` (plus the `listener_extra` lines) in front of one backend. Returns its port."""
    port = procs.free_port()
    d = os.path.join(ctx.tmp, f"fulcrum-{mode}")
    os.makedirs(d, exist_ok=True)
    cfg = write(os.path.join(d, "fulcrum.toml"), f"""
[runtime]
workers = 1
pin_workers = false

[log]
level = "warn"
connections = false

[[listener]]
name = "bench"
bind = "127.0.0.1:{port}"
protocol = "{protocol}"
cluster = "b"
{listener_extra}

[[cluster]]
name = "b"
backends = ["127.0.0.1:{backend_port}"]
""")
    p = procs.start(f"fulcrum-{mode}", [ctx.fulcrum.binary, "run", "-c", cfg], ctx.proxy_cpu, ctx.tmp)
    procs.wait_listening(port, p)
    return port, p


class FulcrumTcp(Target):
    """Fulcrum, one worker, protocol tcp; pinned with taskset (pin_workers = false)."""
    name = "fulcrum"

    def available(self, ctx):
        return ctx.fulcrum.reason if ctx.fulcrum.binary is None else ""

    def start(self, ctx, backend_port, mode):
        return start_fulcrum(ctx, mode, "tcp", backend_port)


TCP_TARGETS = [Direct(), HaproxyTcp(), FulcrumTcp()]


class Relay(HaproxyTcp):
    """A reference, not a peer: haproxy in mode tcp in front of the same backend, relaying the
    same bytes with no HTTP work. Its CPU per request is the floor for the same system calls."""
    name = "relay"

    def start(self, ctx, backend_port, mode):
        port, p = super().start(ctx, backend_port, f"{mode}-relay")
        _probe(ctx, port, "h1", p)
        return port, p


# ---------------------------------------------------------------- HTTP targets
#
# Each HTTP target is started for one scenario with `proto` "h1" (HTTP/1.1 keep-alive from the
# client) or "h2c" (cleartext HTTP/2 with prior knowledge from the client); all speak
# HTTP/1.1 with keep-alive to the backend. Every one of them is checked with one request
# (status 200 and the backend's body) right after it starts.

def _probe(ctx: Ctx, port: int, proto: str, proc: procs.Proc | None = None) -> None:
    """One request through the target; on failure stop `proc` and raise."""
    body = ctx.backend_extra.get("body", "hello\n")
    try:
        if proto == "h2c":
            procs.h2c_probe(port, body)
        else:
            procs.http_probe(port, body=body)
    except Exception:
        if proc is not None:
            proc.stop()
        raise


class DirectHttp(Target):
    """No proxy: the client talks to the nginx backend (h2c: the backend's second, `http2` port)."""
    name = "direct"
    is_proxy = False

    def __init__(self, proto: str = "h1"):
        self.proto = proto

    def available(self, ctx):
        if self.proto == "h2c" and "h2c_port" not in ctx.backend_extra:
            return "the backend has no h2c port"
        return ""

    def start(self, ctx, backend_port, mode):
        port = ctx.backend_extra["h2c_port"] if self.proto == "h2c" else backend_port
        _probe(ctx, port, self.proto)
        return port, None


def start_haproxy_http(ctx: Ctx, d: str, mode: str, bind: str, backend_port: int,
                       global_extra: str = "", scheme: str = "http") -> procs.Proc:
    """haproxy 2.6 in mode http, one thread, keep-alive both sides, `http-reuse always`, one
    frontend (`bind` is its bind line) in front of the backend, adding the fields every proxy
    here adds (X-Forwarded-For, X-Forwarded-Proto `scheme`, X-Forwarded-Host): the config
    every HTTP suite compares against. Checked with `haproxy -c` first."""
    cfg = write(os.path.join(d, "haproxy.cfg"), f"""
global
    nbthread 1
    maxconn 8000
{global_extra}
defaults
    mode http
    option http-keep-alive
    option forwardfor
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 60s
    maxconn 8000

frontend bench
{bind}
    http-request set-header X-Forwarded-Proto {scheme}
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    default_backend b

backend b
    server s1 127.0.0.1:{backend_port}
""")
    r = subprocess.run(["haproxy", "-c", "-q", "-f", cfg], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"haproxy config check failed: {r.stderr.strip() or r.stdout.strip()}")
    return procs.start(f"haproxy-{mode}", ["haproxy", "-db", "-f", cfg], ctx.proxy_cpu, ctx.tmp)


class HaproxyHttp(Target):
    """haproxy 2.6, mode http, one thread, X-Forwarded-For/-Proto/-Host, `http-reuse always`."""
    name = "haproxy"

    def __init__(self, proto: str = "h1"):
        self.proto = proto

    def start(self, ctx, backend_port, mode):
        port = procs.free_port()
        d = os.path.join(ctx.tmp, f"haproxy-{mode}")
        os.makedirs(d, exist_ok=True)
        h2 = " proto h2" if self.proto == "h2c" else ""
        frontend = f"    bind 127.0.0.1:{port}{h2}"
        p = start_haproxy_http(ctx, d, mode, frontend, backend_port)
        procs.wait_listening(port, p)
        _probe(ctx, port, self.proto, p)
        return port, p


class NginxProxy(Target):
    """nginx 1.22 as a reverse proxy: one worker, upstream keepalive, HTTP/1.1 to the backend,
    X-Forwarded-For, -Proto and -Host added."""
    name = "nginx"

    def __init__(self, proto: str = "h1"):
        self.proto = proto

    def start(self, ctx, backend_port, mode):
        port = procs.free_port()
        d = os.path.join(ctx.tmp, f"nginx-proxy-{mode}")
        os.makedirs(d, exist_ok=True)
        h2 = " http2" if self.proto == "h2c" else ""
        conf = write(os.path.join(d, "nginx.conf"), f"""
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 8192;
}}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    upstream b {{
        server 127.0.0.1:{backend_port};
        keepalive 64;
        keepalive_requests 100000000;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port}{h2} backlog=4096;
        location / {{
            proxy_pass http://b;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
        }}
    }}
}}
""")
        p = procs.start(f"nginx-proxy-{mode}", ["nginx", "-p", d, "-c", conf, "-e", f"{d}/error.log"],
                        ctx.proxy_cpu, ctx.tmp)
        procs.wait_listening(port, p)
        _probe(ctx, port, self.proto, p)
        return port, p


class FulcrumHttp(Target):
    """Fulcrum, one worker, protocol http (HTTP/1.1 and h2c on the same port, by the preface),
    X-Forwarded-For/-Proto/-Host added (no Via, no x-request-id: `SAME_FIELDS`), defaults
    otherwise: a pool of up to 64 idle backend connections; no access log; pinned with taskset
    (pin_workers = false)."""
    name = "fulcrum"

    def __init__(self, proto: str = "h1"):
        self.proto = proto

    def available(self, ctx):
        return ctx.fulcrum.reason if ctx.fulcrum.binary is None else ""

    def start(self, ctx, backend_port, mode):
        port, p = start_fulcrum(ctx, mode, "http", backend_port, SAME_FIELDS)
        _probe(ctx, port, self.proto, p)
        return port, p


# Fulcrum's listener lines in the HTTP suites: no access log, and the same added fields as the
# peers' (X-Forwarded-For, -Proto, -Host; Fulcrum's default Via and x-request-id off), so every
# proxy does the same work per request.
SAME_FIELDS = 'access_log = "off"\nvia = false\nrequest_id = false'


def http_targets(proto: str, direct: bool = True) -> list[Target]:
    t = [HaproxyHttp(proto), NginxProxy(proto), FulcrumHttp(proto)]
    return ([DirectHttp(proto)] if direct else []) + t
