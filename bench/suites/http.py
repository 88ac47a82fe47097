"""http: L7 proxying, Fulcrum vs haproxy (mode http) vs nginx (proxy) vs direct.

(a) HTTP/1.1 keep-alive, wrk -c64: rate, p50/p99 latency, proxy CPU per request
(b) h2c, h2load -c6 -m10: the same
(c) memory per idle keep-alive HTTP/1.1 connection (2000 of them)
(d) system calls per HTTP/1.1 request (strace -c), (e) the same for h2c

Every proxy speaks HTTP/1.1 with keep-alive to the same nginx backend (6-byte body).
"""


from benchlib import loadgen, peers, procs, strace
from benchlib.model import Check, Metric, Scenario, Suite

WRK_CONNS = 64          # (a)
H2_CONNS = 6            # (b), (e): 6 connections × 10 streams = 60 requests in flight, under the
H2_STREAMS = 10         #   64 idle backend connections that Fulcrum's and nginx's pools keep
IDLE_CONNS = 2000       # (c)
STRACE_REQUESTS = 10000  # (d), (e)
STRACE_H1_CONNS = 8     # (d)


def _checked(d: dict, what: str) -> dict:
    err = loadgen.http_errors(d)
    if err:
        raise RuntimeError(f"{what}: {err}")
    return d


# ------------------------------------------------------------ (a), (b) rate, latency, CPU

def _h1_load(ctx, port, seconds):
    return _checked(loadgen.wrk(ctx.tmp, port, ctx.load_cpu, seconds, connections=WRK_CONNS), "wrk")


def _h2_load(ctx, port, seconds):
    d = loadgen.h2load(ctx.tmp, port, ctx.load_cpu, duration=seconds, connections=H2_CONNS, streams=H2_STREAMS)
    if d["protocol"] != "h2c":
        raise RuntimeError(f"h2load negotiated {d['protocol']}, not h2c")
    return _checked(d, "h2load")


def _rate_derive(raw, proxy_ns, wall):
    n = raw["requests"]
    return {
        "req_per_s": n / raw["seconds"],
        "lat_p50_us": raw["lat_p50_us"],
        "lat_p99_us": raw["lat_p99_us"],
        "proxy_us_per_req": None if proxy_ns is None else proxy_ns / 1e3 / n,
    }


def _rate_metrics():
    return [
        Metric("req_per_s", "rate", "req/s", "higher"),
        Metric("lat_p50_us", "latency p50", "µs", "lower"),
        Metric("lat_p99_us", "latency p99", "µs", "lower"),
        Metric("proxy_us_per_req", "proxy CPU", "µs/req", "lower", proxy_only=True),
    ]


# ------------------------------------------------------------ (c) memory per idle connection

def _probe_h1(ctx, port, seconds):
    procs.http_probe(port, body=ctx.backend_extra.get("body"))
    return {}


# ------------------------------------------------------------ (d), (e) system calls per request

def _syscalls_measure(h1: bool):
    def measure(ctx, target, port, proxy, backend_port, seconds):
        def load():
            if h1:
                d = loadgen.h2load(ctx.tmp, port, ctx.load_cpu, requests=STRACE_REQUESTS, connections=STRACE_H1_CONNS,
                                   streams=1, h1=True, log_latency=False, timeout=120)
            else:
                d = loadgen.h2load(ctx.tmp, port, ctx.load_cpu, requests=STRACE_REQUESTS, connections=H2_CONNS,
                                   streams=H2_STREAMS, log_latency=False, timeout=120)
            return _checked(d, "h2load")
        d, counts = strace.count_during(f"{target}-{'h1' if h1 else 'h2c'}", proxy.pid, ctx.proxy_cpu, ctx.tmp, load)
        n = d["requests"]
        total = sum(c["calls"] for c in counts.values())
        top = sorted(counts.items(), key=lambda kv: -kv[1]["calls"])
        d["syscalls"] = counts
        d["syscalls_total"] = total
        d["note"] = "per request: " + ", ".join(f"{k} {v['calls'] / n:.2f}" for k, v in top[:6] if v["calls"] / n >= 0.01)
        return d
    return measure


def _syscalls_derive(raw, proxy_ns, wall):
    n = raw["requests"]
    c = raw["syscalls"]

    def per(*names):
        return sum(c.get(x, {}).get("calls", 0) for x in names) / n

    return {
        "syscalls_per_req": raw["syscalls_total"] / n,
        "reads_per_req": per("read", "recvfrom", "recvmsg", "readv", "recvmmsg"),
        "writes_per_req": per("write", "sendto", "sendmsg", "writev", "sendmmsg"),
        "polls_per_req": per("epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "io_uring_enter"),
    }


def _syscall_metrics():
    return [
        Metric("syscalls_per_req", "system calls", "per req", "lower"),
        Metric("reads_per_req", "reads (read/recv*)", "per req", "info"),
        Metric("writes_per_req", "writes (write/send*)", "per req", "info"),
        Metric("polls_per_req", "epoll_wait", "per req", "info"),
    ]


def _h1_warm(ctx, port, seconds):
    return _checked(loadgen.wrk(ctx.tmp, port, ctx.load_cpu, seconds, connections=STRACE_H1_CONNS), "wrk")


def _h2_warm(ctx, port, seconds):
    return _checked(loadgen.h2load(ctx.tmp, port, ctx.load_cpu, duration=seconds, connections=H2_CONNS,
                                   streams=H2_STREAMS, log_latency=False), "h2load")


PEERS_NOTE = ("Per request, every proxy parses the request, keeps the client connection open, takes an idle "
              "keep-alive connection to the backend (HTTP/1.1) and relays the response, and adds the same "
              "fields: X-Forwarded-For, -Proto and -Host (haproxy: `option forwardfor` and two "
              "`http-request set-header`, `http-reuse always`; nginx: `proxy_set_header`, and it replaces "
              "Host and removes Connection, `keepalive 64` upstream; Fulcrum: its default `forwarded`, with "
              "`via = false` and `request_id = false`). No access log anywhere.")


SUITE = Suite(
    name="http",
    title="L7 (HTTP/1.1 and h2c) proxying",
    binaries=["wrk", "h2load", "nghttp", "strace", "nginx", "haproxy", "taskset"],
    baselines=["haproxy", "nginx", "direct"],
    seconds=4.0,   # 4 targets: 3 rounds × 4 s keeps a full run under ~5 minutes even when most runs are repeated
    scenarios=[
        Scenario(
            key="a", title="HTTP/1.1 keep-alive (wrk -c64)", mode="h1",
            backend=peers.start_nginx, load=_h1_load, derive=_rate_derive, metrics=_rate_metrics(),
            targets=peers.http_targets("h1") + [peers.Relay()],
            describe=f"`wrk -t1 -c{WRK_CONNS}` keep-alive GET / for the round's duration; nginx returns a 6-byte "
                     "body. Latency: wrk's p50/p99 (per request, send to last byte). Proxy CPU is per completed "
                     "request. Any non-2xx response or socket error makes the round an error. `relay` is "
                     "haproxy in mode tcp: the same bytes passed on with no HTTP work (the floor).",
        ),
        Scenario(
            key="b", title=f"h2c (h2load -c{H2_CONNS} -m{H2_STREAMS})", mode="h2c",
            backend=peers.start_nginx_h2c, load=_h2_load, derive=_rate_derive, metrics=_rate_metrics(),
            targets=peers.http_targets("h2c"),
            describe=f"`h2load -t1 -c{H2_CONNS} -m{H2_STREAMS} -D SECONDS` over cleartext HTTP/2 with prior "
                     f"knowledge ({H2_CONNS * H2_STREAMS} requests in flight); every proxy speaks HTTP/1.1 "
                     "keep-alive to the backend; direct is h2load to the backend nginx's `http2` port. h2load "
                     "prints no percentiles: p50/p99 are computed from its `--log-file` (one line per request, "
                     "time from sending the request to the end of the response).",
        ),
        Scenario(
            key="c", title=f"memory per idle HTTP/1.1 connection ({IDLE_CONNS} connections)", mode="idle",
            backend=peers.start_nginx, load=_probe_h1, derive=loadgen.idle_memory_derive,
            measure=loadgen.idle_memory_measure(IDLE_CONNS),
            fresh_per_round=True,
            metrics=[
                Metric("bytes_per_conn", "memory", "bytes/conn", "lower"),
                Metric("rss_before_mib", "RSS before", "MiB", "info"),
                Metric("rss_after_mib", "RSS with the idle conns", "MiB", "info"),
                Metric("backend_conns", "backend connections kept", "count", "info", integer=True),
            ],
            targets=peers.http_targets("h1", direct=False),
            describe=f"Each round starts the proxy afresh (one probe request), reads its VmRSS (summed over "
                     f"its processes), opens {IDLE_CONNS} HTTP/1.1 connections {loadgen.IDLE_BATCH} at a time, each "
                     f"doing one GET to the end of its response and then staying open and idle, waits "
                     f"{loadgen.IDLE_SETTLE:g} s, reads VmRSS again, and checks all {IDLE_CONNS} connections are still "
                     "ESTABLISHED at the proxy. Memory = RSS growth / connections. Kernel socket memory is "
                     "not in RSS and not counted. 'backend connections kept' = the proxy's ESTABLISHED "
                     "connections to the backend at that moment.",
        ),
        Scenario(
            key="d", title=f"system calls per HTTP/1.1 request (strace -c, {STRACE_REQUESTS} requests)",
            mode="strace-h1", backend=peers.start_nginx, load=_h1_warm, derive=_syscalls_derive,
            measure=_syscalls_measure(h1=True), max_rounds=1, metrics=_syscall_metrics(),
            targets=peers.http_targets("h1", direct=False),
            describe=f"`strace -c -f -p PID` on every process of the proxy while `h2load --h1 -c{STRACE_H1_CONNS} "
                     f"-m1 -n{STRACE_REQUESTS}` sends exactly {STRACE_REQUESTS} keep-alive requests (no "
                     "pipelining); calls of all kinds over requests. strace slows the proxy several-fold, "
                     "which changes how many events each epoll_wait returns: a count, not a rate. One round.",
        ),
        Scenario(
            key="e", title=f"system calls per h2c request (strace -c, {STRACE_REQUESTS} requests)",
            mode="strace-h2c", backend=peers.start_nginx, load=_h2_warm, derive=_syscalls_derive,
            measure=_syscalls_measure(h1=False), max_rounds=1, metrics=_syscall_metrics(),
            targets=peers.http_targets("h2c", direct=False),
            describe=f"As (d), with `h2load -c{H2_CONNS} -m{H2_STREAMS} -n{STRACE_REQUESTS}` over h2c; the proxies "
                     "still speak HTTP/1.1 to the backend, so reads/writes include the backend side.",
        ),
    ],
    checks=[
        Check("a", "proxy_us_per_req", "haproxy", "<=", 0.75, floor="relay"),
        Check("a", "lat_p99_us", "haproxy", "<=", 1.0),
        Check("a", "req_per_s", "haproxy", ">=", 1.0),
        Check("b", "proxy_us_per_req", "haproxy", "<=", 0.75),
        Check("b", "lat_p99_us", "haproxy", "<=", 1.0),
        Check("b", "req_per_s", "haproxy", ">=", 1.0),
        Check("c", "bytes_per_conn", "haproxy", "<=", 1.0),
    ],
    notes=[
        PEERS_NOTE,
        "CPU busy % is per CPU (CPU0/CPU1) from /proc/stat over the window; "
        "'other load' is host CPU not used by the proxy, backend or load generator, in % of one core.",
        "Proxy CPU = Σ first field of /proc/PID/task/*/schedstat over the proxy and its descendants, "
        "sampled right before and after the load generator runs.",
    ],
)
