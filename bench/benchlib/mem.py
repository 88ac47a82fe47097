"""Memory of a process tree: VmRSS from /proc/PID/status, summed over the process and its
descendants (nginx's master + worker; Fulcrum and haproxy are one process)."""

from __future__ import annotations

from .cpu import descendants


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(pid: int) -> int:
    return sum(rss_kib(p) for p in descendants(pid))
