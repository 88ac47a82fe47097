"""tcp: L4 proxying, Fulcrum vs haproxy (mode tcp, splice) vs direct.

(a) bulk throughput with iperf3, proxy CPU per GB
(b) new connections per second (HTTP with Connection: close, wrk), proxy CPU per connection
(c) requests per second on keep-alive connections (wrk -c64), proxy CPU per request
"""

from benchlib import loadgen, peers
from benchlib.model import Check, Metric, Scenario, Suite

WRK_CONNS = 64


def _bulk_load(ctx, port, seconds):
    return loadgen.iperf3(port, ctx.load_cpu, seconds)


def _bulk_derive(raw, proxy_ns, wall):
    gb = raw["bytes"] / 1e9
    return {
        "gbps": raw["bits_per_second"] / 1e9,
        "proxy_ms_per_gb": None if proxy_ns is None else proxy_ns / 1e6 / gb,
    }


def _short_load(ctx, port, seconds):
    return loadgen.wrk(ctx.tmp, port, ctx.load_cpu, seconds, connections=WRK_CONNS, headers=["Connection: close"])


def _short_derive(raw, proxy_ns, wall):
    n = raw["requests"]
    return {
        "conns_per_s": n / raw["seconds"],
        "proxy_us_per_conn": None if proxy_ns is None else proxy_ns / 1e3 / n,
    }


def _keepalive_load(ctx, port, seconds):
    return loadgen.wrk(ctx.tmp, port, ctx.load_cpu, seconds, connections=WRK_CONNS)


def _keepalive_derive(raw, proxy_ns, wall):
    n = raw["requests"]
    return {
        "req_per_s": n / raw["seconds"],
        "proxy_us_per_req": None if proxy_ns is None else proxy_ns / 1e3 / n,
    }


SUITE = Suite(
    name="tcp",
    title="L4 (TCP) proxying",
    binaries=["iperf3", "wrk", "nginx", "haproxy", "taskset"],
    scenarios=[
        Scenario(
            key="a", title="bulk throughput (iperf3)", mode="bulk",
            backend=peers.start_iperf3_server, load=_bulk_load, derive=_bulk_derive,
            metrics=[
                Metric("gbps", "throughput", "Gbit/s", "higher"),
                Metric("proxy_ms_per_gb", "proxy CPU", "ms/GB", "lower", proxy_only=True),
            ],
            targets=peers.TCP_TARGETS,
            describe="One iperf3 TCP stream (client → target → `iperf3 -s`), default 128 KiB writes; "
                     "throughput is iperf3's receiver-side rate; proxy CPU is per 10⁹ bytes received.",
        ),
        Scenario(
            key="b", title="new connections (wrk, Connection: close)", mode="short",
            backend=peers.start_nginx, load=_short_load, derive=_short_derive,
            metrics=[
                Metric("conns_per_s", "rate", "conn/s", "higher"),
                Metric("proxy_us_per_conn", "proxy CPU", "µs/conn", "lower", proxy_only=True),
            ],
            targets=peers.TCP_TARGETS,
            describe=f"`wrk -t1 -c{WRK_CONNS} -H 'Connection: close'` against nginx returning a 6-byte body: "
                     "every request is a new TCP connection (through a proxy: two). "
                     "Proxy CPU is per completed request = per client connection.",
        ),
        Scenario(
            key="c", title="requests on long connections (wrk keep-alive)", mode="keepalive",
            backend=peers.start_nginx, load=_keepalive_load, derive=_keepalive_derive,
            metrics=[
                Metric("req_per_s", "rate", "req/s", "higher"),
                Metric("proxy_us_per_req", "proxy CPU", "µs/req", "lower", proxy_only=True),
            ],
            targets=peers.TCP_TARGETS,
            describe=f"`wrk -t1 -c{WRK_CONNS}` (keep-alive) against nginx returning a 6-byte body; "
                     "the proxy relays small reads/writes on 64 long-lived connections.",
        ),
    ],
    checks=[
        Check("a", "gbps", "haproxy", ">=", 1.0),
        Check("a", "gbps", "direct", ">=", 0.8),
        Check("b", "proxy_us_per_conn", "haproxy", "<=", 0.8),
    ],
    notes=[
        "CPU busy % is per CPU (CPU0/CPU1) from /proc/stat over the window; "
        "'other load' is host CPU not used by the proxy, backend or load generator, in % of one core.",
        "Proxy CPU = Σ first field of /proc/PID/task/*/schedstat over the proxy and its descendants, "
        "sampled right before and after the load generator runs.",
    ],
)
