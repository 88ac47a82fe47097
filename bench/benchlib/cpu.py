"""CPU time accounting.

A process's CPU time is the sum, over its threads, of the first field of
/proc/PID/task/TID/schedstat: nanoseconds the thread ran on a CPU (user and
kernel, including softirq work done in its context: on loopback that is most
of the TCP receive path). We include the process's descendants, so a proxy
that forks workers (Fulcrum's supervisor + worker, nginx's master + worker) is
counted whole.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _ppid_map() -> dict[int, int]:
    m = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                s = f.read()
        except OSError:
            continue
        # comm may contain spaces and parentheses: split after the last ')'.
        rest = s[s.rfind(")") + 2:].split()
        m[int(name)] = int(rest[1])
    return m


def descendants(pid: int) -> list[int]:
    """pid and all its live descendants."""
    children: dict[int, list[int]] = {}
    for p, pp in _ppid_map().items():
        children.setdefault(pp, []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def task_cpu_ns(pid: int) -> int:
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 of proc(5) first)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2:].split()


def stat_cpu_ns(pid: int) -> int:
    """utime+stime+cutime+cstime of /proc/PID/stat: whole process including threads that
    have exited and reaped children, but only at clock-tick resolution (10 ms)."""
    rest = _stat_fields(pid)
    if rest is None:
        return 0
    # fields 14-17 of proc(5) are rest[11:15]
    return sum(int(x) for x in rest[11:15]) * 1_000_000_000 // CLK_TCK


def stat_kernel_ns(pid: int) -> int:
    """stime+cstime of /proc/PID/stat: the part of stat_cpu_ns spent in the kernel
    (system calls, and the TCP work they do inline), at clock-tick resolution."""
    rest = _stat_fields(pid)
    if rest is None:
        return 0
    return (int(rest[12]) + int(rest[14])) * 1_000_000_000 // CLK_TCK


@dataclass
class TreeCpu:
    schedstat_ns: int   # precise, live threads only
    stat_ns: int        # tick resolution, includes exited threads and reaped children
    kernel_ns: int = 0  # the kernel's part of stat_ns


def tree_cpu(pid: int | None) -> TreeCpu:
    if pid is None:
        return TreeCpu(0, 0)
    pids = descendants(pid)
    return TreeCpu(sum(task_cpu_ns(p) for p in pids), sum(stat_cpu_ns(p) for p in pids),
                   sum(stat_kernel_ns(p) for p in pids))


def kernel_share(a: TreeCpu, b: TreeCpu) -> float | None:
    """Percent of the CPU used between two samples that was kernel time (tick resolution)."""
    stat = b.stat_ns - a.stat_ns
    if stat <= 0:
        return None
    return 100.0 * (b.kernel_ns - a.kernel_ns) / stat


def cpu_delta(a: TreeCpu, b: TreeCpu) -> tuple[int, str]:
    """CPU used between two samples, and which source it came from.

    schedstat is the precise source, but a thread that exits during the window takes its
    time with it (a thread-per-connection program would look almost free). When the
    tick-based whole-process count shows clearly more, that one is used instead.
    """
    sched = b.schedstat_ns - a.schedstat_ns
    stat = b.stat_ns - a.stat_ns
    if stat - sched > max(30_000_000, 0.05 * sched):
        return stat, "stat"
    return sched, "schedstat"


def tree_cpu_ns(pid: int | None) -> int:
    return tree_cpu(pid).schedstat_ns


def children_rusage_ns() -> int:
    """CPU time of reaped children (the load generator, once it has exited)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((r.ru_utime + r.ru_stime) * 1e9)


@dataclass
class HostStat:
    busy_ns: dict[int, int]  # per CPU: user+nice+system+irq+softirq (not idle/iowait/steal)


def host_stat() -> HostStat:
    busy = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            parts = line.split()
            cpu = int(parts[0][3:])
            user, nice, system, idle, iowait, irq, softirq = (int(x) for x in parts[1:8])
            busy[cpu] = (user + nice + system + irq + softirq) * 1_000_000_000 // CLK_TCK
    return HostStat(busy)


def host_delta(a: HostStat, b: HostStat) -> dict[int, int]:
    return {c: b.busy_ns[c] - a.busy_ns.get(c, 0) for c in b.busy_ns}
