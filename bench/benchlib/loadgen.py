"""Load generators: each run is bounded in time, pinned, and returns parsed numbers."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import time

from . import procs

# wrk's done() hook prints one JSON line, so no parsing of wrk's human output.
WRK_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_p50_us":%d,"lat_p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk(tmp: str, port: int, cpu: int, duration: float, connections: int = 64, threads: int = 1,
        headers: list[str] | None = None, path: str = "/", scheme: str = "http") -> dict:
    script = os.path.join(tmp, "wrk-report.lua")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(WRK_LUA)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s",
            "-s", script]
    for h in headers or []:
        argv += ["-H", h]
    argv.append(f"{scheme}://127.0.0.1:{port}{path}")
    r = procs.run(argv, cpu, timeout=duration + 30)
    for line in (r.stdout or "").splitlines():
        if line.startswith("BENCHJSON "):
            d = json.loads(line[len("BENCHJSON "):])
            d["seconds"] = d["duration_us"] / 1e6
            d["errors"] = sum(d[k] for k in d if k.startswith("err_"))
            d["responses"] = d["requests"]
            return d
    raise RuntimeError(f"wrk failed (exit {r.returncode}): {(r.stderr or r.stdout or '').strip()[-300:]}")


def iperf3(port: int, cpu: int, duration: float, parallel: int = 1) -> dict:
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(max(1, round(duration))), "-P", str(parallel),
            "-J", "--connect-timeout", "3000"]
    r = procs.run(argv, cpu, timeout=duration + 30)
    try:
        d = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"iperf3 failed (exit {r.returncode}): {(r.stderr or r.stdout or '').strip()[-300:]}")
    if "error" in d:
        raise RuntimeError(f"iperf3: {d['error']}")
    end = d["end"]
    recv = end["sum_received"]
    return {
        "bytes": int(recv["bytes"]),
        "seconds": float(recv["seconds"]),
        "bits_per_second": float(recv["bits_per_second"]),
        "retransmits": int(end.get("sum_sent", {}).get("retransmits", 0)),
    }


def http_errors(d: dict) -> str:
    """'' if a wrk/h2load result has no failed request and no non-2xx/3xx status, else what went wrong.

    For HTTP suites any such error makes the sample an error (the target misbehaved)."""
    parts = []
    for k, what in (("err_status", "non-2xx/3xx responses"), ("err_connect", "connect errors"),
                    ("err_read", "read errors"), ("err_write", "write errors"), ("err_timeout", "timeouts"),
                    ("err_failed", "failed requests"), ("err_errored", "errored requests")):
        if d.get(k):
            parts.append(f"{d[k]} {what}")
    if not parts:
        return ""
    return f"{', '.join(parts)} (in {d.get('responses', '?')} responses)"


def _percentile(sorted_vals: list[int], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return float(sorted_vals[k])


def h2load(tmp: str, port: int, cpu: int, duration: float | None = None, requests: int | None = None,
           connections: int = 6, streams: int = 10, h1: bool = False, log_latency: bool = True,
           timeout: float | None = None) -> dict:
    """h2load -t1 against http://127.0.0.1:PORT/: h2c with prior knowledge (or HTTP/1.1 with --h1),
    `streams` concurrent requests per connection (-m), for `duration` seconds (-D) or exactly
    `requests` requests (-n). Latency percentiles come from --log-file (one line per request:
    start µs, status, µs to the end of the response): h2load itself prints only min/max/mean/sd."""
    logf = os.path.join(tmp, f"h2load-{port}.log")
    if os.path.exists(logf):
        os.unlink(logf)
    argv = ["h2load", "-t1", f"-c{connections}", f"-m{streams}"]
    if duration is not None:
        argv += ["-D", str(max(1, round(duration)))]
        bound = duration
    else:
        argv += ["-n", str(requests)]
        bound = 60.0
    if h1:
        argv.append("--h1")
    if log_latency:
        argv.append(f"--log-file={logf}")
    argv.append(f"http://127.0.0.1:{port}/")
    r = procs.run(argv, cpu, timeout=timeout or bound + 30)
    out = r.stdout or ""
    m_fin = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    m_req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                      r"(\d+) errored, (\d+) timeout", out)
    m_st = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not (m_fin and m_req and m_st):
        raise RuntimeError(f"h2load failed (exit {r.returncode}): {procs.one_line((r.stderr or '') + out[-300:])}")
    secs = float(m_fin.group(1)) / (1000.0 if m_fin.group(2) == "ms" else 1.0)
    _, _, done, ok, failed, errored, tmo = (int(x) for x in m_req.groups())
    s2, s3, s4, s5 = (int(x) for x in m_st.groups())
    d = {
        "requests": s2 + s3, "responses": done, "seconds": secs, "done": done, "succeeded": ok,
        "err_failed": failed, "err_errored": errored, "err_timeout": tmo, "err_status": s4 + s5,
    }
    d["errors"] = failed + errored + tmo + s4 + s5
    if log_latency and os.path.exists(logf):
        lat = []
        with open(logf) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
        os.unlink(logf)
        lat.sort()
        d["lat_samples"] = len(lat)
        d["lat_p50_us"] = _percentile(lat, 50)
        d["lat_p99_us"] = _percentile(lat, 99)
    m_app = re.search(r"Application protocol: (\S+)", out)
    d["protocol"] = m_app.group(1) if m_app else "?"
    return d


def http1_idle_connections(port: int, n: int, batch: int = 64, body: bytes | None = None,
                           timeout: float = 10.0, tls: "ssl.SSLContext | None" = None) -> list[socket.socket]:
    """Open n keep-alive HTTP/1.1 connections (over TLS with `tls`), `batch` at a time, each doing
    one GET to the end of its response (status 200, and `body` if given), and return them open
    and idle. The caller closes them. Raises (after closing them) on any failure."""
    socks: list[socket.socket] = []
    req = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: fulcrum-bench\r\n\r\n"
    try:
        while len(socks) < n:
            wave = []
            for _ in range(min(batch, n - len(socks))):
                s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if tls is not None:
                    try:
                        s = tls.wrap_socket(s)
                    except Exception:
                        s.close()
                        raise
                socks.append(s)
                wave.append(s)
                s.sendall(req)
            for s in wave:
                _read_response(s, body)
        return socks
    except Exception:
        for s in socks:
            s.close()
        raise


def _read_response(s: socket.socket, body: bytes | None) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before a response head")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected status line {lines[0][:60]!r}")
    length = None
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
        if k.strip().lower() == b"connection" and v.strip().lower() == b"close":
            raise RuntimeError("the target closes the connection after one request (Connection: close)")
    if length is None:
        raise RuntimeError("response without Content-Length")
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed in the middle of a response body")
        rest += chunk
    if body is not None and rest[:length] != body:
        raise RuntimeError(f"unexpected body {rest[:40]!r}")


# Memory per idle connection: RSS growth of the proxy while n connections sit idle.
IDLE_BATCH = 64     # connections opened and used this many at a time
IDLE_SETTLE = 1.0   # seconds between the last response and reading RSS


def idle_memory_measure(conns: int, tls: "ssl.SSLContext | None" = None):
    """A scenario `measure`: the proxy's VmRSS (its process tree) before and after opening
    `conns` keep-alive connections that each did one GET and stay idle; checks they are all
    still ESTABLISHED at the proxy. Derive with `idle_memory_derive`."""
    from . import mem

    def measure(ctx, target, port, proxy, backend_port, seconds):
        pid = proxy.pid
        time.sleep(0.3)
        before = mem.tree_rss_kib(pid)
        t0 = time.monotonic()
        body = ctx.backend_extra.get("body", "hello\n").encode()
        socks = http1_idle_connections(port, conns, batch=IDLE_BATCH, body=body, tls=tls)
        try:
            opened_s = time.monotonic() - t0
            time.sleep(IDLE_SETTLE)
            if not proxy.alive():
                raise RuntimeError(f"{target} exited with code {proxy.popen.returncode}")
            after = mem.tree_rss_kib(pid)
            inodes = procs.socket_inodes(mem.descendants(pid))
            clients = procs.tcp_established(local_port=port, inodes=inodes)
            backends = procs.tcp_established(remote_port=backend_port, inodes=inodes)
        finally:
            for s in socks:
                s.close()
        if clients < conns:
            raise RuntimeError(f"only {clients} of {conns} client connections still open after {IDLE_SETTLE:g} s")
        return {"rss_before_kib": before, "rss_after_kib": after, "conns": conns, "client_conns_open": clients,
                "backend_conns_open": backends, "open_seconds": opened_s}
    return measure


def idle_memory_derive(raw, proxy_ns, wall):
    return {
        "bytes_per_conn": (raw["rss_after_kib"] - raw["rss_before_kib"]) * 1024 / raw["conns"],
        "rss_before_mib": raw["rss_before_kib"] / 1024,
        "rss_after_mib": raw["rss_after_kib"] / 1024,
        "backend_conns": raw["backend_conns_open"],
    }
