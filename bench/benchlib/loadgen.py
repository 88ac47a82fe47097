"""Load generators: each run is bounded in time, pinned, and returns parsed numbers."""

from __future__ import annotations

import json
import os

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
        headers: list[str] | None = None, path: str = "/") -> dict:
    script = os.path.join(tmp, "wrk-report.lua")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(WRK_LUA)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s",
            "-s", script]
    for h in headers or []:
        argv += ["-H", h]
    argv.append(f"http://127.0.0.1:{port}{path}")
    r = procs.run(argv, cpu, timeout=duration + 30)
    for line in (r.stdout or "").splitlines():
        if line.startswith("BENCHJSON "):
            d = json.loads(line[len("BENCHJSON "):])
            d["seconds"] = d["duration_us"] / 1e6
            d["errors"] = sum(d[k] for k in d if k.startswith("err_"))
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
